"""SNS rules (policies/rules/sns.py): each rule quiet on the baseline and caught once its setting is broken,
through the real analyzer protocol."""

from __future__ import annotations

from typing import Any

import pytest
from policycases import (
    CASE_FIELDS,
    TOPIC,
    Case,
    assert_case_caught,
    case_ids,
    case_rules,
    rule_names,
    statement_policy,
)
from policytest import Checker, Mutation, Selector, drop_input, select, set_input

from mlops_platform.policies.rules import sns

CASES: list[Case] = [
    ("sns-kms-encryption", TOPIC, drop_input("kmsMasterKeyId"), {}),
    (
        "sns-no-public-policy",
        select("aws:sns/topicPolicy:TopicPolicy"),
        statement_policy({"Effect": "Allow", "Principal": "*", "Action": "sns:Publish", "Resource": "*"}),
        {},
    ),
    (
        "sns-no-http-subscription",
        select("aws:sns/topicSubscription:TopicSubscription"),
        set_input("protocol", "http"),
        {},
    ),
]


def test_every_rule_has_a_case() -> None:
    assert case_rules(CASES) == rule_names(sns)


@pytest.mark.parametrize(CASE_FIELDS, CASES, ids=case_ids(CASES))
def test_rule_catches_its_violation(
    checker: Checker, rule: str, selector: Selector, mutation: Mutation | None, options: dict[str, Any]
) -> None:
    assert_case_caught(checker, rule, selector, mutation, options)
