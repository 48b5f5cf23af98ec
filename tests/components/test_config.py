"""PlatformConfig: profiles, parsing as Pulumi passes values, and clear errors for bad input."""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.governance import GOVERNANCE_TAG_KEYS
from components.platform import config as cfg
from components.platform.config import KEYS, ConfigError, PlatformConfig, build

BASE = {
    "mlops-platform:environment": "dev",
    "mlops-platform:owner": "ml-platform",
    "mlops-platform:costCenter": "cc-1",
    "mlops-platform:dataClassification": "internal",
}


def make(extra: dict[str, Any] | None = None, *, drop: str | None = None, region: str | None = "eu-west-1"):
    values: dict[str, Any] = {**BASE, **(extra or {})}
    if drop:
        values.pop(drop)
    return build(values, region=region, source="stacks/Pulumi.test.yaml")


def problems(extra: dict[str, Any] | None = None, **kw: Any) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        make(extra, **kw)
    assert info.value.problems, "a ConfigError always names at least one problem"
    return info.value.problems


@pytest.mark.parametrize("env", cfg.ENVIRONMENTS)
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
    assert config.network.vpc_cidr == cfg.PROFILES["dev"]["network"]["vpc_cidr"]


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
    "key",
    [
        "mlops-platform:owner",
        "mlops-platform:costCenter",
        "mlops-platform:dataClassification",
        "mlops-platform:environment",
    ],
)
def test_missing_required_key_is_named(key: str) -> None:
    found = problems(drop=key)
    assert any(k == key and "required" in m for k, m in found)


def test_missing_region_is_named() -> None:
    assert ("aws:region", "is required, e.g. eu-west-1") in problems(region=None)


def test_unknown_key_is_an_error_with_a_hint() -> None:
    found = problems({"mlops-platform:networkZoneCnt": "2"})
    assert found[0][0] == "mlops-platform:networkZoneCnt"
    assert "unknown key" in found[0][1] and "networkZoneCount" in found[0][1]


@pytest.mark.parametrize(
    ("key", "value", "expect"),
    [
        ("mlops-platform:networkZoneCount", "three", "must be an integer"),
        ("mlops-platform:networkZoneCount", "2.5", "must be an integer"),
        ("mlops-platform:networkInterfaceEndpoints", "yes", "must be true or false"),
        ("mlops-platform:clusterAdminPrincipalArns", "arn:aws:iam::1:role/x", "must be a list"),
        ("mlops-platform:networkZoneCount", "9", "less than or equal to 4"),
        ("mlops-platform:dataClassification", "secret", "must be one of"),
        ("mlops-platform:networkNatGateways", "two", "must be one of"),
        ("mlops-platform:logsRetentionDays", "42", "retention periods"),
        ("mlops-platform:databaseMonitoringIntervalSeconds", "7", "must be one of"),
    ],
)
def test_wrong_types_and_ranges_name_key_and_allowed(key: str, value: str, expect: str) -> None:
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
    assert any("clusterPublicAccessCidrs must be empty in prod" in m for _, m in prod)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("mlops-platform:artifactsForceDestroy", "true"),
        ("mlops-platform:databaseDeletionProtection", "false"),
        ("mlops-platform:databaseMultiAz", "false"),
        ("mlops-platform:databaseBackupRetentionDays", "7"),
        ("mlops-platform:protectionStatefulResources", "false"),
        ("mlops-platform:kmsDeletionWindowDays", "7"),
        ("mlops-platform:mlflowReplicas", "1"),
    ],
)
def test_prod_refuses_to_be_configured_below_the_floor(key: str, value: str) -> None:
    found = problems({"mlops-platform:environment": "prod", key: value})
    assert any(key.split(":")[1] in m for _, m in found), found
    # The same value is fine in dev.
    assert make({key: value})


def test_node_group_sizes_are_consistent() -> None:
    found = problems({"mlops-platform:systemNodesMinSize": "5"})
    assert any("minSize <= desiredSize <= maxSize" in m for _, m in found)


def test_all_problems_are_reported_at_once() -> None:
    found = problems(
        {
            "mlops-platform:networkZoneCount": "x",
            "mlops-platform:bogus": "1",
            "mlops-platform:networkVpcCidr": "nope",
        }
    )
    keys = {k for k, _ in found}
    assert {
        "mlops-platform:networkZoneCount",
        "mlops-platform:bogus",
        "mlops-platform:networkVpcCidr",
    } <= keys


def test_error_lines_name_the_file() -> None:
    with pytest.raises(ConfigError) as info:
        make({"mlops-platform:networkZoneCount": "x"})
    assert info.value.lines() == [
        "stacks/Pulumi.test.yaml: mlops-platform:networkZoneCount: must be an integer, got 'x'"
    ]


def test_other_namespaces_are_left_alone() -> None:
    assert make({"aws:profile": "ops", "kubernetes:context": "x"})


def test_every_key_is_declared_once_with_a_description() -> None:
    assert len(KEYS) == len(cfg.key_specs())
    for spec in KEYS.values():
        assert spec.description, spec.key
        assert spec.kind in ("string", "integer", "boolean", "array")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(
    key=st.sampled_from(sorted(KEYS)) | st.text(alphabet=string.ascii_letters, min_size=1, max_size=12),
    value=json_values | st.text(),
)
def test_malformed_values_never_crash(key: str, value: Any) -> None:
    """Whatever a stack file holds, build() either returns a config or raises ConfigError."""
    raw = value if isinstance(value, str) else json.dumps(value)
    try:
        make({f"mlops-platform:{key}": raw})
    except ConfigError as err:
        assert all(isinstance(k, str) and isinstance(m, str) and m for k, m in err.problems)


@settings(max_examples=200, deadline=None)
@given(values=st.dictionaries(st.sampled_from(sorted(KEYS)), st.text(max_size=20), max_size=6))
def test_many_malformed_values_never_crash(values: dict[str, str]) -> None:
    try:
        make({f"mlops-platform:{k}": v for k, v in values.items()})
    except ConfigError as err:
        assert err.lines() and all(line.startswith("stacks/Pulumi.test.yaml: ") for line in err.lines())


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
    assert line.startswith(f"stacks/Pulumi.test.yaml: {ADMINS}: ")
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


# --- the EKS support calendar, with the date injected ---------------------------------------------------

import datetime as dt  # noqa: E402

from components.cluster import versions  # noqa: E402

VERSION = "mlops-platform:clusterKubernetesVersion"


def _end(version: str) -> dt.date:
    return versions.SUPPORT_CALENDAR[version].end_of_standard


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_staging_and_prod_refuse_a_version_past_its_end_of_standard_support(env: str) -> None:
    values = {**BASE, "mlops-platform:environment": env, VERSION: "1.34"}
    with pytest.raises(ConfigError) as info:
        build(values, region="eu-west-1", source="stacks/Pulumi.x.yaml", today=_end("1.34"))
    ((key, message),) = info.value.problems
    assert key == VERSION
    assert "left EKS standard support on 2026-12-02" in message and "move to 1.36" in message
    # The day before, it is only a warning.
    config = build(values, region="eu-west-1", source="s", today=_end("1.34") - dt.timedelta(days=1))
    refused, warned = cfg.support_problems(config, _end("1.34") - dt.timedelta(days=1))
    assert refused == [] and [k for k, _ in warned] == [VERSION]
    assert "in 1 days" in warned[0][1]


def test_dev_past_the_end_is_a_warning_and_the_window_is_sixty_days() -> None:
    config = make({VERSION: "1.34"})
    refused, warned = cfg.support_problems(config, _end("1.34") + dt.timedelta(days=30))
    assert refused == [] and "left EKS standard support" in warned[0][1]
    assert cfg.support_problems(config, _end("1.34") - dt.timedelta(days=60))[1]
    assert cfg.support_problems(config, _end("1.34") - dt.timedelta(days=61)) == ([], [])


def test_without_a_date_build_does_not_judge_support() -> None:
    values = {**BASE, "mlops-platform:environment": "prod", VERSION: "1.33"}
    assert build(values, region="eu-west-1", source="s").cluster.kubernetes_version == "1.33"


def test_every_pinned_version_has_a_calendar_row_and_the_default_is_the_newest_in_standard_support() -> None:
    assert set(versions.ADDON_VERSIONS) <= set(versions.SUPPORT_CALENDAR)
    for window in versions.SUPPORT_CALENDAR.values():
        assert window.release < window.end_of_standard < window.end_of_extended and window.source
    assert versions.newest_standard_version(dt.date(2026, 12, 1)) == versions.DEFAULT_KUBERNETES_VERSION
    assert versions.DEFAULT_KUBERNETES_VERSION == versions.KARPENTER_MAX_KUBERNETES == "1.36"
    assert versions.support_status("1.36", dt.date(2026, 12, 1))[0] == "ok"


# --- placeholders: refused by a real update of staging/prod, warnings otherwise ------------------------

REAL_ADMIN = "arn:aws:iam::210987654321:role/PlatformAdmin"


def strict(env: str, **extra: str) -> PlatformConfig:
    values = {**BASE, "mlops-platform:environment": env, ADMINS: json.dumps([REAL_ADMIN])}
    values.update({f"mlops-platform:{k}": v for k, v in extra.items()})
    return build(values, region="eu-west-1", source="s")


@pytest.mark.parametrize(
    ("key", "value", "expect"),
    [
        ("monitoringAlertEmails", '["oncall@example.com"]', "reserved domain (example.com)"),
        ("monitoringAlertEmails", '["oncall@alerts.example.org"]', "reserved domain"),
        ("monitoringAlertEmails", '["oncall@corp.test"]', "reserved domain (corp.test)"),
        ("monitoringAlertHttpsEndpoints", '["https://hooks.example.net/x"]', "placeholder URL"),
        ("monitoringAlertHttpsEndpoints", '["https://pager.invalid/"]', "reserved domain"),
        ("monitoringAlertHttpsEndpoints", '["https://ops.example/"]', "reserved domain"),
        ("clusterAdminPrincipalArns", '["arn:aws:iam::123456789012:role/Admin"]', "documentation account"),
        ("clusterAdminPrincipalArns", "[]", "no human can reach the cluster"),
    ],
)
def test_placeholders_are_named_with_key_and_what_to_set(key: str, value: str, expect: str) -> None:
    extra = {key: value}
    if key != "monitoringAlertEmails":
        extra["monitoringAlertEmails"] = '["oncall@corp.com"]'
    lines = cfg.placeholder_problems(strict("prod", **extra))
    assert len(lines) == 1 and lines[0].startswith(f"mlops-platform:{key}: ") and expect in lines[0]
    assert "set " in lines[0]


def test_real_addresses_are_no_placeholders() -> None:
    config = strict(
        "prod",
        monitoringAlertEmails='["oncall@examples.com", "sre@mycorp.com"]',
        monitoringAlertHttpsEndpoints='["https://events.pagerduty.com/x"]',
    )
    assert cfg.placeholder_problems(config) == []


def test_prod_without_any_alert_subscription_is_a_placeholder() -> None:
    (line,) = cfg.placeholder_problems(strict("prod"))
    assert "prod alerts reach nobody" in line


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_a_real_update_of_staging_or_prod_refuses_placeholders(env: str) -> None:
    config = strict(env, monitoringAlertEmails='["oncall@example.com"]', clusterAdminPrincipalArns="[]")
    today = dt.date(2026, 12, 1)
    with pytest.raises(ConfigError) as info:
        cfg.review(config, source="stacks/Pulumi.x.yaml", today=today, real_update=True)
    keys = [k for k, _ in info.value.problems]
    assert keys == ["mlops-platform:monitoringAlertEmails", ADMINS]
    assert all(line.startswith("stacks/Pulumi.x.yaml: mlops-platform:") for line in info.value.lines())
    # A preview or an offline render prints the same lines as warnings.
    warned = cfg.review(config, source="stacks/Pulumi.x.yaml", today=today, real_update=False)
    assert warned == info.value.lines()


def test_dev_only_warns_even_on_a_real_update() -> None:
    config = make({"mlops-platform:monitoringAlertEmails": '["me@example.com"]'})
    lines = cfg.review(config, source="s", today=dt.date(2026, 12, 1), real_update=True)
    assert len(lines) == 2 and any("example.com" in line for line in lines)


def test_a_real_update_refuses_an_out_of_support_version_in_prod_and_only_warns_in_a_preview() -> None:
    config = strict("prod", monitoringAlertEmails='["oncall@corp.com"]', clusterKubernetesVersion="1.34")
    day = _end("1.34") + dt.timedelta(days=1)
    with pytest.raises(ConfigError, match="left EKS standard support"):
        cfg.review(config, source="s", today=day, real_update=True)
    (line,) = cfg.review(config, source="s", today=day, real_update=False)
    assert "left EKS standard support" in line


def test_an_iam_name_with_an_at_sign_is_no_e_mail_placeholder() -> None:
    config = strict(
        "prod",
        monitoringAlertEmails='["oncall@corp.com"]',
        clusterAdminPrincipalArns='["arn:aws:iam::210987654321:role/ops@example.com"]',
    )
    assert cfg.placeholder_problems(config) == []


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
            {"mlops-platform:networkInterfaceEndpointServices": json.dumps(["s3", "sts", "ec2"])},
            "not offered",
        ),
        ({"mlops-platform:networkInterfaceEndpointServices": json.dumps(["s3", "sts", "s3"])}, "twice"),
        ({"mlops-platform:networkInterfaceEndpoints": "false"}, "must be true"),
    ],
)
def test_interface_endpoints_must_serve_mlflows_closed_egress(values: dict[str, str], expect: str) -> None:
    found = problems(values)
    assert any("networkInterfaceEndpoint" in k and expect in m for k, m in found), found


def test_endpoint_sets_per_profile() -> None:
    dev, staging, prod = (
        cfg.PROFILES[env]["network"]["interface_endpoint_services"] for env in cfg.ENVIRONMENTS
    )
    # What the closed egress of MLflow, the monitoring namespace and the tenant jobs needs; ECR and logs go
    # through dev's NAT.
    assert dev == ["s3", "sts", "sns", "monitoring", "secretsmanager"]
    assert (
        staging == prod == ["s3", "sts", "sns", "monitoring", "secretsmanager", "ecr.api", "ecr.dkr", "logs"]
    )
    chosen = ["s3", "sts", "sns", "monitoring", "secretsmanager", "logs"]
    assert (
        make(
            {"mlops-platform:networkInterfaceEndpointServices": json.dumps(chosen)}
        ).network.interface_endpoint_services
        == chosen
    )
