"""Tagging rules (policies/rules/tagging.py): each rule quiet on the baseline and caught once its setting is broken,
through the real analyzer protocol."""

from __future__ import annotations

from typing import Any

import pytest
from policycases import (
    CASE_FIELDS,
    PROVIDER,
    Case,
    assert_case_caught,
    case_ids,
    case_rules,
    rule_names,
    tags,
)
from policytest import Checker, Mutation, Selector

from mlops_platform.policies.rules import tagging

CASES: list[Case] = [
    ("aws-governance-tags", PROVIDER, tags(owner=""), {}),
    ("aws-data-classification", PROVIDER, tags(**{"data-classification": "secret"}), {}),
]


def test_every_rule_has_a_case() -> None:
    assert case_rules(CASES) == rule_names(tagging)


@pytest.mark.parametrize(CASE_FIELDS, CASES, ids=case_ids(CASES))
def test_rule_catches_its_violation(
    checker: Checker, rule: str, selector: Selector, mutation: Mutation | None, options: dict[str, Any]
) -> None:
    assert_case_caught(checker, rule, selector, mutation, options)
