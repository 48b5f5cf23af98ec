"""Stack-level rules (policies/rules/stack.py): each rule quiet on the baseline and caught once its setting is broken,
through the real analyzer protocol; then precision cases: what must not fire, and the other ways to break it."""

from __future__ import annotations

from typing import Any

import pytest
from policycases import (
    CASE_FIELDS,
    DB,
    DEPLOYMENT,
    HELM,
    Case,
    assert_case_caught,
    case_ids,
    case_rules,
    rule_names,
)
from policytest import Checker, Mutation, Selector, resource, select

from mlops_platform.policies.rules import stack

CASES: list[Case] = [
    ("stack-stateful-protected", DB, None, {"protect": False}),
    (
        "platform-model-registry",
        select("mlops:mlflow:ModelRegistry"),
        None,
        {"remove_also": DEPLOYMENT},
    ),
    ("platform-monitoring", select("mlops:monitoring:Monitoring"), None, {"remove_also": HELM}),
]


def test_every_rule_has_a_case() -> None:
    assert case_rules(CASES) == rule_names(stack)


@pytest.mark.parametrize(CASE_FIELDS, CASES, ids=case_ids(CASES))
def test_rule_catches_its_violation(
    checker: Checker, rule: str, selector: Selector, mutation: Mutation | None, options: dict[str, Any]
) -> None:
    assert_case_caught(checker, rule, selector, mutation, options)


@pytest.mark.parametrize("token", ["mlops:registry:ModelRegistry", "mlops:mlflow:ModelRegistry"])
def test_model_registry_component_tokens(checker: Checker, token: str) -> None:
    platform = resource("mlops:platform:MlopsPlatform", "mlops")
    registry = resource(token, "r")
    monitoring = resource("mlops:monitoring:Monitoring", "m")
    result = checker.run([platform, registry, monitoring], "prod")
    assert not result.by_policy("platform-model-registry") and not result.by_policy("platform-monitoring")
    result = checker.run([platform], "prod")
    assert result.by_policy("platform-model-registry") and result.by_policy("platform-monitoring")
    # A consumer stack without the platform is not asked for either.
    assert not checker.run([registry], "prod").violations
