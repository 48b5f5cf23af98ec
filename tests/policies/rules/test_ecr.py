"""ECR rules (policies/rules/ecr.py): each rule quiet on the baseline and caught once its setting is broken,
through the real analyzer protocol."""

from __future__ import annotations

from typing import Any

import pytest
from policycases import (
    CASE_FIELDS,
    REPO,
    Case,
    assert_case_caught,
    case_ids,
    case_rules,
    rule_names,
    statement_policy,
)
from policytest import Checker, Mutation, Selector, select, set_input

from mlops_platform.policies.rules import ecr

CASES: list[Case] = [
    ("ecr-immutable-tags", REPO, set_input("imageTagMutability", "MUTABLE"), {}),
    ("ecr-scan-on-push", REPO, set_input("imageScanningConfiguration.scanOnPush", False), {}),
    ("ecr-kms-encryption", REPO, set_input("encryptionConfigurations", [{"encryptionType": "AES256"}]), {}),
    ("ecr-no-force-delete-prod", REPO, set_input("forceDelete", True), {}),
    (
        "ecr-no-public-policy",
        select("aws:ecr/repositoryPolicy:RepositoryPolicy"),
        statement_policy({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "ecr:BatchGetImage"}),
        {},
    ),
    ("ecr-lifecycle-policy", select("aws:ecr/lifecyclePolicy:LifecyclePolicy"), None, {"remove": True}),
]


def test_every_rule_has_a_case() -> None:
    assert case_rules(CASES) == rule_names(ecr)


@pytest.mark.parametrize(CASE_FIELDS, CASES, ids=case_ids(CASES))
def test_rule_catches_its_violation(
    checker: Checker, rule: str, selector: Selector, mutation: Mutation | None, options: dict[str, Any]
) -> None:
    assert_case_caught(checker, rule, selector, mutation, options)
