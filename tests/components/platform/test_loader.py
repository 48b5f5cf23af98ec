"""Loading a stack's config (components/platform/loader.py): parsing as Pulumi passes values, every problem
named with its key at once, the EKS support calendar on an injected date, and the placeholders a real
update of staging or prod refuses."""

from __future__ import annotations

import datetime as dt
import json
import string
from typing import Any

import pytest
from config_support import BASE, SOURCE, make, problems
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_platform.components.cluster import versions
from mlops_platform.components.platform.loader import (
    KEYS,
    ConfigError,
    build,
    key_specs,
    placeholder_problems,
    review,
    support_problems,
)
from mlops_platform.components.platform.settings import PlatformConfig

ADMINS = "mlops-platform:clusterAdminPrincipalArns"


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
    ],
)
def test_values_that_do_not_parse_as_their_type_name_key_and_allowed(
    key: str, value: str, expect: str
) -> None:
    found = problems({key: value})
    assert any(k == key and expect in m for k, m in found), found


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
    assert info.value.lines() == [f"{SOURCE}: mlops-platform:networkZoneCount: must be an integer, got 'x'"]


def test_other_namespaces_are_left_alone() -> None:
    assert make({"aws:profile": "ops", "kubernetes:context": "x"})


def test_every_key_is_declared_once_with_a_description() -> None:
    assert len(KEYS) == len(key_specs())
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
        assert err.lines() and all(line.startswith(f"{SOURCE}: ") for line in err.lines())


# --- the EKS support calendar, with the date injected ---------------------------------------------------

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
    refused, warned = support_problems(config, _end("1.34") - dt.timedelta(days=1))
    assert refused == [] and [k for k, _ in warned] == [VERSION]
    assert "in 1 days" in warned[0][1]


def test_dev_past_the_end_is_a_warning_and_the_window_is_sixty_days() -> None:
    config = make({VERSION: "1.34"})
    refused, warned = support_problems(config, _end("1.34") + dt.timedelta(days=30))
    assert refused == [] and "left EKS standard support" in warned[0][1]
    assert support_problems(config, _end("1.34") - dt.timedelta(days=60))[1]
    assert support_problems(config, _end("1.34") - dt.timedelta(days=61)) == ([], [])


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
    lines = placeholder_problems(strict("prod", **extra))
    assert len(lines) == 1 and lines[0].startswith(f"mlops-platform:{key}: ") and expect in lines[0]
    assert "set " in lines[0]


def test_real_addresses_are_no_placeholders() -> None:
    config = strict(
        "prod",
        monitoringAlertEmails='["oncall@examples.com", "sre@mycorp.com"]',
        monitoringAlertHttpsEndpoints='["https://events.pagerduty.com/x"]',
    )
    assert placeholder_problems(config) == []


def test_prod_without_any_alert_subscription_is_a_placeholder() -> None:
    (line,) = placeholder_problems(strict("prod"))
    assert "prod alerts reach nobody" in line


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_a_real_update_of_staging_or_prod_refuses_placeholders(env: str) -> None:
    config = strict(env, monitoringAlertEmails='["oncall@example.com"]', clusterAdminPrincipalArns="[]")
    today = dt.date(2026, 12, 1)
    with pytest.raises(ConfigError) as info:
        review(config, source="stacks/Pulumi.x.yaml", today=today, real_update=True)
    keys = [k for k, _ in info.value.problems]
    assert keys == ["mlops-platform:monitoringAlertEmails", ADMINS]
    assert all(line.startswith("stacks/Pulumi.x.yaml: mlops-platform:") for line in info.value.lines())
    # A preview or an offline render prints the same lines as warnings.
    warned = review(config, source="stacks/Pulumi.x.yaml", today=today, real_update=False)
    assert warned == info.value.lines()


def test_dev_only_warns_even_on_a_real_update() -> None:
    config = make({"mlops-platform:monitoringAlertEmails": '["me@example.com"]'})
    lines = review(config, source="s", today=dt.date(2026, 12, 1), real_update=True)
    assert len(lines) == 2 and any("example.com" in line for line in lines)


def test_a_real_update_refuses_an_out_of_support_version_in_prod_and_only_warns_in_a_preview() -> None:
    config = strict("prod", monitoringAlertEmails='["oncall@corp.com"]', clusterKubernetesVersion="1.34")
    day = _end("1.34") + dt.timedelta(days=1)
    with pytest.raises(ConfigError, match="left EKS standard support"):
        review(config, source="s", today=day, real_update=True)
    (line,) = review(config, source="s", today=day, real_update=False)
    assert "left EKS standard support" in line


def test_an_iam_name_with_an_at_sign_is_no_e_mail_placeholder() -> None:
    config = strict(
        "prod",
        monitoringAlertEmails='["oncall@corp.com"]',
        clusterAdminPrincipalArns='["arn:aws:iam::210987654321:role/ops@example.com"]',
    )
    assert placeholder_problems(config) == []
