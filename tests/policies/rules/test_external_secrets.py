"""External Secrets rules (policies/rules/external_secrets.py): each rule quiet on the baseline and caught once its setting is broken,
through the real analyzer protocol."""

from __future__ import annotations

from typing import Any

import pytest
from policycases import CASE_FIELDS, Case, assert_case_caught, case_ids, case_rules, rule_names
from policytest import Checker, Mutation, Selector, select, set_input

from mlops_platform.policies.rules import external_secrets

CASES: list[Case] = [
    (
        "secrets-no-rds-master-sync",
        select("kubernetes:external-secrets.io/v1:ExternalSecret"),
        set_input(
            "spec.data.0.remoteRef.key",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0123abcd-AbCdEf",
        ),
        {},
    ),
]


def test_every_rule_has_a_case() -> None:
    assert case_rules(CASES) == rule_names(external_secrets)


@pytest.mark.parametrize(CASE_FIELDS, CASES, ids=case_ids(CASES))
def test_rule_catches_its_violation(
    checker: Checker, rule: str, selector: Selector, mutation: Mutation | None, options: dict[str, Any]
) -> None:
    assert_case_caught(checker, rule, selector, mutation, options)
