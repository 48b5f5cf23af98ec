"""Helm rules (policies/rules/helm.py): each rule quiet on the baseline and caught once its setting is broken,
through the real analyzer protocol."""

from __future__ import annotations

from typing import Any

import pytest
from policycases import CASE_FIELDS, HELM, Case, assert_case_caught, case_ids, case_rules, rule_names
from policytest import Checker, Mutation, Selector, set_input

from mlops_platform.policies.rules import helm

CASES: list[Case] = [
    ("helm-chart-version-pinned", HELM, set_input("version", "^77.0.0"), {}),
    ("helm-repository-allowed", HELM, set_input("repositoryOpts.repo", "https://charts.example.com"), {}),
]


def test_every_rule_has_a_case() -> None:
    assert case_rules(CASES) == rule_names(helm)


@pytest.mark.parametrize(CASE_FIELDS, CASES, ids=case_ids(CASES))
def test_rule_catches_its_violation(
    checker: Checker, rule: str, selector: Selector, mutation: Mutation | None, options: dict[str, Any]
) -> None:
    assert_case_caught(checker, rule, selector, mutation, options)
