"""The configuration schema (components/platform/settings.py): what each section accepts, and what it
refuses with the key, the value and what is allowed."""

from __future__ import annotations

import json

import pytest
from config_support import SOURCE, make, problems

from mlops_platform.components.governance import GOVERNANCE_TAG_KEYS
from mlops_platform.components.platform.loader import ConfigError
from mlops_platform.components.platform.settings import SECTIONS, PlatformConfig, key_for


def test_governance_tags_come_from_config() -> None:
    assert make().governance_tags == {
        "environment": "dev",
        "owner": "ml-platform",
        "cost-center": "cc-1",
        "data-classification": "internal",
        "managed-by": "pulumi",
    }
    assert tuple(make().governance_tags) == GOVERNANCE_TAG_KEYS


@pytest.mark.parametrize(
    ("key", "value", "expect"),
    [
        ("mlops-platform:networkZoneCount", "9", "must be at most 4, got 9"),
        ("mlops-platform:dataClassification", "secret", "must be one of"),
        ("mlops-platform:networkNatGateways", "two", "must be one of"),
        ("mlops-platform:logsRetentionDays", "42", "retention periods"),
        ("mlops-platform:databaseMonitoringIntervalSeconds", "7", "must be one of"),
    ],
)
def test_out_of_range_values_name_key_and_allowed(key: str, value: str, expect: str) -> None:
    found = problems({key: value})
    assert any(k == key and expect in m for k, m in found), found


@pytest.mark.parametrize(
    ("cidr", "expect"),
    [
        ("10.0.0.0/33", "IPv4 CIDR"),
        ("10.0.0.1/16", "IPv4 CIDR"),  # host bits set
        ("not-a-cidr", "IPv4 CIDR"),
        ("8.8.0.0/16", "private"),
        ("10.0.0.0/24", "between /16 and /20"),
        ("fd00::/48", "IPv4"),
    ],
)
def test_invalid_vpc_cidr(cidr: str, expect: str) -> None:
    found = problems({"mlops-platform:networkVpcCidr": cidr})
    assert any(k == "mlops-platform:networkVpcCidr" and expect in m for k, m in found), found


def test_public_endpoint_allow_list_must_be_narrow_and_absent_in_prod() -> None:
    wide = problems({"mlops-platform:clusterPublicAccessCidrs": json.dumps(["0.0.0.0/0"])})
    assert any("too wide" in m for _, m in wide)
    assert make({"mlops-platform:clusterPublicAccessCidrs": json.dumps(["203.0.113.0/24"])})
    prod = problems(
        {
            "mlops-platform:environment": "prod",
            "mlops-platform:clusterPublicAccessCidrs": json.dumps(["203.0.113.0/24"]),
        }
    )
    assert (
        "mlops-platform:clusterPublicAccessCidrs",
        '["203.0.113.0/24"] is below prod\'s floor: must be empty (a private API endpoint only)',
    ) in prod


def test_node_group_sizes_are_consistent() -> None:
    found = problems({"mlops-platform:systemNodesMinSize": "5"})
    assert any("minSize <= desiredSize <= maxSize" in m for _, m in found)


def test_kubernetes_version_needs_pinned_add_ons() -> None:
    found = problems({"mlops-platform:clusterKubernetesVersion": "1.29"})
    assert any(
        k == "mlops-platform:clusterKubernetesVersion" and "no pinned add-on versions" in m for k, m in found
    )


# --- clusterAdminPrincipalArns: what CreateAccessEntry accepts ------------------------------------------

ADMINS = "mlops-platform:clusterAdminPrincipalArns"


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::210987654321:role/Admin",
        "arn:aws:iam::210987654321:user/alice",
        "arn:aws-cn:iam::210987654321:role/Admin",
        "arn:aws-us-gov:iam::210987654321:user/ops/bob",
        "arn:aws-iso-b:iam::210987654321:role/Admin",
        "arn:aws:iam::210987654321:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123abcd",
    ],
)
def test_admin_arns_accept_iam_roles_and_users_in_any_partition_with_paths(arn: str) -> None:
    assert make({ADMINS: json.dumps([arn])}).cluster.admin_principal_arns == [arn]


def test_an_assumed_role_session_arn_is_refused_with_the_role_arn_to_use() -> None:
    session = "arn:aws:sts::210987654321:assumed-role/PlatformAdmin/alice@example.org"
    with pytest.raises(ConfigError) as info:
        make({ADMINS: json.dumps([session])})
    (line,) = info.value.lines()
    assert line.startswith(f"{SOURCE}: {ADMINS}: ")
    assert repr(session) in line and "assumed-role session" in line
    assert "arn:aws:iam::210987654321:role/PlatformAdmin" in line


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::21098765432:role/Admin",  # 11 digits
        "arn:aws:iam::210987654321:group/Admins",
        "arn:aws:iam::210987654321:root",
        "arn:aws:sts::210987654321:federated-user/bob",
        "arn:aws:iam::210987654321:role/",
        "arn:aws:eks::210987654321:role/Admin",
        "role/Admin",
    ],
)
def test_other_principal_arns_are_refused_naming_what_is_allowed(arn: str) -> None:
    with pytest.raises(ConfigError) as info:
        make({ADMINS: json.dumps([arn])})
    (line,) = info.value.lines()
    assert repr(arn) in line and "role/[<path>/]<name>" in line and "user/[<path>/]<name>" in line


@pytest.mark.parametrize(
    ("values", "expect"),
    [
        (
            {
                "mlops-platform:networkInterfaceEndpointServices": json.dumps(
                    ["sts", "sns", "monitoring", "secretsmanager"]
                )
            },
            "missing: ['s3']",
        ),
        (
            {
                "mlops-platform:networkInterfaceEndpointServices": json.dumps(
                    ["s3", "sts", "monitoring", "secretsmanager"]
                )
            },
            "missing: ['sns']",
        ),
        (
            {"mlops-platform:networkInterfaceEndpointServices": json.dumps(["s3", "sts", "ec3"])},
            "not offered",
        ),
        ({"mlops-platform:networkInterfaceEndpointServices": json.dumps(["s3", "sts", "s3"])}, "twice"),
        ({"mlops-platform:networkInterfaceEndpoints": "false"}, "must be true"),
    ],
)
def test_interface_endpoints_must_serve_mlflows_closed_egress(values: dict[str, str], expect: str) -> None:
    found = problems(values)
    assert any("networkInterfaceEndpoint" in k and expect in m for k, m in found), found


@pytest.mark.parametrize("region", ["eu-west-1", "us-gov-west-1", "cn-north-1", "us-isob-east-1"])
def test_region_is_any_aws_region_code(region: str) -> None:
    assert make(region=region).region == region


@pytest.mark.parametrize("region", ["eu-west", "EU-WEST-1", "euwest1", "eu-west-1a"])
def test_a_malformed_region_is_named_with_what_is_allowed(region: str) -> None:
    assert ("aws:region", f"{region!r} is not an AWS region code such as eu-west-1") in problems(
        region=region
    )


def test_alert_subscriptions_are_e_mail_addresses_and_https_urls() -> None:
    config = make(
        {
            "mlops-platform:monitoringAlertEmails": json.dumps(["oncall@corp.com"]),
            "mlops-platform:monitoringAlertHttpsEndpoints": json.dumps(
                ["https://events.pagerduty.com/x?a=1"]
            ),
        }
    )
    assert config.monitoring.alert_emails == ["oncall@corp.com"]
    assert config.monitoring.alert_https_endpoints == ["https://events.pagerduty.com/x?a=1"]


@pytest.mark.parametrize(
    ("key", "value", "expect"),
    [
        ("monitoringAlertEmails", "oncall at corp.com", "'oncall at corp.com' is not an e-mail address"),
        ("monitoringAlertEmails", "oncall@corp", "'oncall@corp' is not an e-mail address"),
        (
            "monitoringAlertHttpsEndpoints",
            "http://hooks.corp.com/x",
            "'http://hooks.corp.com/x' is not an https:// URL (plain HTTP is not allowed)",
        ),
        (
            "monitoringAlertHttpsEndpoints",
            "https://user:pw@hooks.corp.com/x",
            "must not embed credentials",
        ),
    ],
)
def test_alert_subscriptions_name_key_value_and_what_is_allowed(key: str, value: str, expect: str) -> None:
    found = problems({f"mlops-platform:{key}": json.dumps([value])})
    assert any(k == f"mlops-platform:{key}" and expect in m for k, m in found), found


def test_every_section_key_is_derived_from_its_prefix_and_field() -> None:
    assert key_for("database", "instance_class") == "databaseInstanceClass"
    assert key_for("system_nodes", "min_size") == "systemNodesMinSize"
    assert key_for("governance", "cost_center") == "costCenter"
    assert set(SECTIONS) == set(PlatformConfig.model_fields) - {"region"}
