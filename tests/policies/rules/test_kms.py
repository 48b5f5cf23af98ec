"""KMS rules (policies/rules/kms.py): each rule quiet on the baseline and caught once its setting is broken,
through the real analyzer protocol."""

from __future__ import annotations

from typing import Any

import pytest
from policybaseline import ACCOUNT, doc
from policycases import (
    CASE_FIELDS,
    KEY,
    Case,
    assert_case_caught,
    case_ids,
    case_rules,
    rule_names,
    statement_policy,
)
from policytest import Checker, Mutation, Selector, aws_provider, resource, set_input

from mlops_platform.policies.rules import kms

CASES: list[Case] = [
    ("kms-key-rotation", KEY, set_input("enableKeyRotation", False), {}),
    ("kms-deletion-window", KEY, set_input("deletionWindowInDays", 7), {}),
    (
        "kms-no-public-principal",
        KEY,
        statement_policy(
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*"}
        ),
        {},
    ),
    (
        "kms-service-principal-source",
        KEY,
        statement_policy(
            {
                "Sid": "Alarms",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
            }
        ),
        {},
    ),
]


def test_every_rule_has_a_case() -> None:
    assert case_rules(CASES) == rule_names(kms)


@pytest.mark.parametrize(CASE_FIELDS, CASES, ids=case_ids(CASES))
def test_rule_catches_its_violation(
    checker: Checker, rule: str, selector: Selector, mutation: Mutation | None, options: dict[str, Any]
) -> None:
    assert_case_caught(checker, rule, selector, mutation, options)


# ---- service principals in key policies: pinned to this account's resources ---------------------------


def _service_hits(checker: Checker, condition: dict[str, Any] | None) -> list[str]:
    stmt: dict[str, Any] = {
        "Sid": "Use",
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "*",
    }
    if condition is not None:
        stmt["Condition"] = condition
    res = resource("aws:kms/key:Key", "under-test", {"policy": doc(stmt)})
    result = checker.run([aws_provider("prod"), res], "prod")
    return [v.message for v in result.by_policy("kms-service-principal-source")]


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        {"ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:*"}},
        {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:*"},
        },
        {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:*"}},
    ],
    ids=["SourceAccount", "SourceArn", "both", "logs encryption context"],
)
def test_service_principal_pinned_to_the_account_is_compliant(checker: Checker, condition: dict) -> None:
    assert _service_hits(checker, condition) == []


@pytest.mark.parametrize(
    "condition",
    [
        None,
        {"StringEquals": {"kms:ViaService": "sns.eu-west-1.amazonaws.com"}},
        {"ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:eu-west-1:*:alarm:*"}},
        {"StringLike": {"aws:SourceAccount": "*"}},
        {"StringNotEquals": {"aws:SourceAccount": ACCOUNT}},
        {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-west-1:*:log-group:*"}},
    ],
    ids=[
        "none",
        "ViaService only",
        "SourceArn any account",
        "SourceAccount *",
        "negated",
        "context any account",
    ],
)
def test_service_principal_without_a_source_condition_is_caught(
    checker: Checker, condition: dict | None
) -> None:
    (message,) = _service_hits(checker, condition)
    assert "cloudwatch.amazonaws.com" in message and "aws:SourceAccount" in message
