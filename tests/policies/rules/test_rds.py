"""RDS rules (policies/rules/rds.py): each rule quiet on the baseline and caught once its setting is broken,
through the real analyzer protocol."""

from __future__ import annotations

from typing import Any

import pytest
from policycases import CASE_FIELDS, DB, Case, assert_case_caught, case_ids, case_rules, rule_names
from policytest import Checker, Mutation, Selector, drop_input, select, set_input

from mlops_platform.policies.rules import rds

CASES: list[Case] = [
    ("rds-not-public", DB, set_input("publiclyAccessible", True), {}),
    ("rds-encrypted-cmk", DB, drop_input("kmsKeyId"), {}),
    ("rds-backup-retention", DB, set_input("backupRetentionPeriod", 7), {}),
    ("rds-deletion-protection", DB, set_input("deletionProtection", False), {}),
    ("rds-final-snapshot", DB, set_input("skipFinalSnapshot", True), {}),
    ("rds-multi-az", DB, set_input("multiAz", False), {}),
    ("rds-managed-master-password", DB, set_input("password", "hunter2-literal"), {}),
    ("rds-performance-insights-kms", DB, drop_input("performanceInsightsKmsKeyId"), {}),
    ("rds-iam-auth", DB, set_input("iamDatabaseAuthenticationEnabled", False), {}),
    ("rds-log-exports", DB, set_input("enabledCloudwatchLogsExports", ["upgrade"]), {}),
    ("rds-auto-minor-upgrade", DB, set_input("autoMinorVersionUpgrade", False), {}),
    ("rds-approved-engine", DB, set_input("engineVersion", "13.20"), {}),
    (
        "rds-force-ssl",
        select("aws:rds/parameterGroup:ParameterGroup"),
        set_input("parameters", [{"name": "rds.force_ssl", "value": "0"}]),
        {},
    ),
]


def test_every_rule_has_a_case() -> None:
    assert case_rules(CASES) == rule_names(rds)


@pytest.mark.parametrize(CASE_FIELDS, CASES, ids=case_ids(CASES))
def test_rule_catches_its_violation(
    checker: Checker, rule: str, selector: Selector, mutation: Mutation | None, options: dict[str, Any]
) -> None:
    assert_case_caught(checker, rule, selector, mutation, options)
