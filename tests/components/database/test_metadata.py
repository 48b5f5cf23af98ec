"""MetadataDatabase under the recording monitor: network isolation, encryption, managed secret, logging."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest

from mlops_platform.components.aws_context import AwsContext
from mlops_platform.components.database.metadata import (
    MetadataDatabase,
    MetadataDatabaseArgs,
    db_parameters,
    engine_major,
    parameter_group_family,
)
from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.graph import Graph, Resource

REPO = Path(__file__).resolve().parents[3]
CTX = AwsContext(account_id="210987654321", region="eu-west-1")
KEY = "arn:aws:kms:eu-west-1:210987654321:key/11111111-2222-4333-8444-555555555555"
NODES_SG = "sg-0123456789abcdef0"
CI_SG = "sg-0fedcba9876543210"


def render(**overrides: Any) -> Graph:
    args: dict[str, Any] = {
        "vpc_id": "vpc-0a1b2c3d4e5f60718",
        "subnet_ids": ["subnet-aaa", "subnet-bbb", "subnet-ccc"],
        "kms_key_arn": KEY,
        "allowed_security_group_ids": [NODES_SG, CI_SG],
        "identifier": "acme-metadata",
        "aws_context": CTX,
    }
    args.update(overrides)

    def program() -> None:
        db = MetadataDatabase("db", MetadataDatabaseArgs(**args))
        pulumi.export("endpoint", db.endpoint)
        pulumi.export("address", db.address)
        pulumi.export("port", db.port)
        pulumi.export("name", db.database_name)
        pulumi.export("secretArn", db.master_secret_arn)
        pulumi.export("sg", db.security_group_id)
        pulumi.export("resourceId", db.resource_id)

    return run_callable(program, root=REPO)


@pytest.fixture(scope="module")
def graph() -> Graph:
    return render()


def instance(graph: Graph) -> dict[str, Any]:
    return graph.one("aws:rds/instance:Instance", "db-instance").inputs


def test_children_parented(graph: Graph) -> None:
    component = graph.one("mlops:database:MetadataDatabase", "db")
    for r in graph.resources:
        if r is not component:
            assert r.parent == component.urn, r.name


def test_postgres_private_encrypted_gp3(graph: Graph) -> None:
    db = instance(graph)
    assert db["engine"] == "postgres"
    assert db["identifier"] == "acme-metadata"
    assert db["publiclyAccessible"] is False
    assert db["storageEncrypted"] is True
    assert db["kmsKeyId"] == KEY
    assert db["storageType"] == "gp3"
    assert (db["allocatedStorage"], db["maxAllocatedStorage"]) == (20, 100)
    assert db["port"] == 5432
    assert db["iamDatabaseAuthenticationEnabled"] is True
    assert db["copyTagsToSnapshot"] is True
    assert db["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    assert db["caCertIdentifier"] == "rds-ca-rsa2048-g1"
    assert db["allowMajorVersionUpgrade"] is False


def test_master_password_is_managed_by_rds_with_the_data_key(graph: Graph) -> None:
    db = instance(graph)
    assert db["manageMasterUserPassword"] is True
    assert db["masterUserSecretKmsKeyId"] == KEY
    assert "password" not in db and "passwordWo" not in db
    assert graph.outputs["secretArn"].startswith("arn:aws:secretsmanager:eu-west-1:")


def test_safe_defaults_when_used_alone(graph: Graph) -> None:
    db = instance(graph)
    assert db["multiAz"] is True
    assert db["deletionProtection"] is True
    assert db["skipFinalSnapshot"] is False
    assert db["finalSnapshotIdentifier"] == "acme-metadata-final"
    assert db["deleteAutomatedBackups"] is False
    assert db["backupRetentionPeriod"] == 14
    assert db["performanceInsightsEnabled"] is True
    assert db["performanceInsightsKmsKeyId"] == KEY
    assert db["performanceInsightsRetentionPeriod"] == 7
    resource = graph.one("aws:rds/instance:Instance", "db-instance")
    assert resource.protect and resource.retain_on_delete


def test_engine_version_follows_minor_upgrades(graph: Graph) -> None:
    db = instance(graph)
    assert db["autoMinorVersionUpgrade"] is True
    assert db["engineVersion"] == "17"
    pinned = instance(render(engine_version="16.9", auto_minor_version_upgrade=False))
    assert (pinned["engineVersion"], pinned["autoMinorVersionUpgrade"]) == ("16.9", False)


def test_version_helpers() -> None:
    assert engine_major("17.6") == "17"
    assert parameter_group_family("16.10") == "postgres16"
    with pytest.raises(ValueError):
        engine_major("9.6")


def test_security_group_admits_only_the_given_groups_on_5432(graph: Graph) -> None:
    sg = graph.one("aws:ec2/securityGroup:SecurityGroup", "db-sg")
    assert sg.inputs["vpcId"] == "vpc-0a1b2c3d4e5f60718"
    assert "ingress" not in sg.inputs and "egress" not in sg.inputs
    assert instance(graph)["vpcSecurityGroupIds"] == [sg.outputs["id"]]
    rules = graph.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert sorted(r.inputs["referencedSecurityGroupId"] for r in rules) == sorted([NODES_SG, CI_SG])
    for r in rules:
        assert r.inputs["securityGroupId"] == sg.outputs["id"]
        assert (r.inputs["ipProtocol"], r.inputs["fromPort"], r.inputs["toPort"]) == ("tcp", 5432, 5432)
        assert not {"cidrIpv4", "cidrIpv6", "prefixListId"} & r.inputs.keys()
    assert not graph.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")


def test_no_ingress_at_all_without_allowed_groups() -> None:
    graph = render(allowed_security_group_ids=[])
    assert not graph.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")


def test_subnet_group_over_the_given_subnets(graph: Graph) -> None:
    group = graph.one("aws:rds/subnetGroup:SubnetGroup", "db-subnets")
    assert group.inputs["subnetIds"] == ["subnet-aaa", "subnet-bbb", "subnet-ccc"]
    assert instance(graph)["dbSubnetGroupName"] == group.outputs["name"]


def test_parameter_group_forces_tls_and_logs(graph: Graph) -> None:
    pg = graph.one("aws:rds/parameterGroup:ParameterGroup", "db-params")
    assert pg.inputs["family"] == "postgres17"
    params = {p["name"]: p for p in pg.inputs["parameters"]}
    assert params["rds.force_ssl"]["value"] == "1"
    assert params["log_min_duration_statement"]["value"] == "1000"
    assert params["log_connections"]["value"] == "1"
    assert params["log_disconnections"]["value"] == "1"
    assert all(p["applyMethod"] == "immediate" for p in params.values())
    assert instance(graph)["parameterGroupName"] == pg.outputs["name"]


def test_db_parameters_force_tls_and_log_slow_statements_connections_and_lock_waits() -> None:
    assert db_parameters(250) == {
        "rds.force_ssl": "1",
        "log_min_duration_statement": "250",
        "log_connections": "1",
        "log_disconnections": "1",
        "log_lock_waits": "1",
    }


def test_enhanced_monitoring_role(graph: Graph) -> None:
    role = graph.one("aws:iam/role:Role", "db-monitoring")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "210987654321"}}
    attachment: Resource = graph.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "db-monitoring")
    assert attachment.inputs["policyArn"] == (
        "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
    )
    assert attachment.inputs["role"] == role.outputs["name"]
    assert attachment.urn in graph.one("aws:rds/instance:Instance", "db-instance").dependencies
    db = instance(graph)
    assert db["monitoringInterval"] == 60
    assert db["monitoringRoleArn"] == role.outputs["arn"]


def test_dev_style_settings() -> None:
    graph = render(
        multi_az=False,
        deletion_protection=False,
        performance_insights=False,
        monitoring_interval_seconds=0,
        backup_retention_days=7,
        protect=False,
    )
    db = instance(graph)
    assert (db["multiAz"], db["deletionProtection"], db["performanceInsightsEnabled"]) == (
        False,
        False,
        False,
    )
    assert "performanceInsightsKmsKeyId" not in db
    assert db["monitoringInterval"] == 0 and "monitoringRoleArn" not in db
    assert not graph.of_type("aws:iam/role:Role")
    # A final snapshot is still taken.
    assert db["skipFinalSnapshot"] is False
    resource = graph.one("aws:rds/instance:Instance", "db-instance")
    assert not resource.protect and not resource.retain_on_delete


def test_outputs(graph: Graph) -> None:
    out = graph.outputs
    assert out["port"] == 5432
    assert out["endpoint"] == f"{out['address']}:5432"
    assert out["name"] == "mlflow"
    assert out["sg"] == graph.one("aws:ec2/securityGroup:SecurityGroup", "db-sg").outputs["id"]
    assert out["resourceId"].startswith("db-")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("monitoring_interval_seconds", 45, "monitoring_interval_seconds"),
        ("max_allocated_storage_gib", 10, "max_allocated_storage_gib"),
        ("backup_retention_days", 0, "backup_retention_days"),
        ("engine_version", "latest", "PostgreSQL version"),
    ],
)
def test_invalid_args(field: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render(**{field: value})


def test_log_groups_exist_before_the_instance_with_retention_and_key() -> None:
    logs_key = "arn:aws:kms:eu-west-1:210987654321:key/99999999-8888-4777-8666-555555555555"
    graph = render(log_retention_days=90, log_kms_key_arn=logs_key)
    groups = {g.inputs["name"]: g for g in graph.of_type("aws:cloudwatch/logGroup:LogGroup")}
    assert sorted(groups) == [
        "/aws/rds/instance/acme-metadata/postgresql",
        "/aws/rds/instance/acme-metadata/upgrade",
    ]
    deps = graph.one("aws:rds/instance:Instance", "db-instance").dependencies
    for group in groups.values():
        assert group.inputs["retentionInDays"] == 90
        assert group.inputs["kmsKeyId"] == logs_key
        assert group.urn in deps


def test_log_groups_can_be_left_to_rds() -> None:
    graph = render(log_groups=False)
    assert not graph.of_type("aws:cloudwatch/logGroup:LogGroup")
