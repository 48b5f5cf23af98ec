"""The environment profiles (components/platform/profiles.py): each validates on its own, they differ where
the environments should, and a stack sets only what differs."""

from __future__ import annotations

import json

import pytest
from config_support import make

from mlops_platform.components.governance import ENVIRONMENTS
from mlops_platform.components.platform.profiles import PROFILES, profile
from mlops_platform.components.platform.settings import SECTIONS, PlatformConfig


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_profile_validates_on_its_own(env: str) -> None:
    config = make({"mlops-platform:environment": env})
    assert isinstance(config, PlatformConfig)
    assert config.environment == env


def test_profiles_differ_where_the_environments_should() -> None:
    dev = make()
    prod = make({"mlops-platform:environment": "prod"})
    assert dev.network.nat_gateways == "single" and prod.network.nat_gateways == "per-zone"
    assert not dev.protection.stateful_resources and prod.protection.stateful_resources
    assert prod.database.multi_az and prod.database.deletion_protection
    assert prod.database.backup_retention_days >= 14 > dev.database.backup_retention_days
    assert prod.kms.deletion_window_days >= 14
    assert prod.logs.retention_days > dev.logs.retention_days
    assert prod.mlflow.replicas >= 2


def test_stack_values_override_the_profile_and_are_parsed_like_pulumi_passes_them() -> None:
    config = make(
        {
            "mlops-platform:networkZoneCount": "3",
            "mlops-platform:networkInterfaceEndpoints": "true",
            "mlops-platform:clusterAdminPrincipalArns": json.dumps(["arn:aws:iam::123456789012:role/Admin"]),
        }
    )
    assert config.network.zone_count == 3
    assert config.network.interface_endpoints is True
    assert config.cluster.admin_principal_arns == ["arn:aws:iam::123456789012:role/Admin"]
    # Everything else still comes from the dev profile.
    assert config.network.vpc_cidr == PROFILES["dev"]["network"]["vpc_cidr"]


def test_endpoint_sets_per_profile() -> None:
    dev, staging, prod = (PROFILES[env]["network"]["interface_endpoint_services"] for env in ENVIRONMENTS)
    # What the closed egress of MLflow, the monitoring namespace, the tenant jobs and Karpenter needs; ECR and
    # logs go through dev's NAT.
    assert dev == ["s3", "sts", "sns", "monitoring", "secretsmanager", "ec2", "ssm", "sqs", "eks"]
    assert (
        staging
        == prod
        == [
            "s3",
            "sts",
            "sns",
            "monitoring",
            "secretsmanager",
            "ecr.api",
            "ecr.dkr",
            "logs",
            "ec2",
            "ssm",
            "sqs",
            "eks",
        ]
    )
    chosen = ["s3", "sts", "sns", "monitoring", "secretsmanager", "logs", "ec2", "ssm", "sqs", "eks"]
    assert (
        make(
            {"mlops-platform:networkInterfaceEndpointServices": json.dumps(chosen)}
        ).network.interface_endpoint_services
        == chosen
    )
    # Without Karpenter its four endpoints may go.
    without = ["s3", "sts", "sns", "monitoring", "secretsmanager"]
    assert (
        make(
            {
                "mlops-platform:networkInterfaceEndpointServices": json.dumps(without),
                "mlops-platform:karpenterEnabled": "false",
                "mlops-platform:gpuPoolEnabled": "false",
            }
        ).network.interface_endpoint_services
        == without
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_a_profile_sets_every_field_of_every_section(env: str) -> None:
    defaults = profile(env)
    for section, model in SECTIONS.items():
        if section == "governance":
            assert defaults[section] == {}, "governance has no defaults: every stack sets its own"
            continue
        assert set(defaults[section]) == set(model.model_fields), (env, section)
