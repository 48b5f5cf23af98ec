"""S3 rules (policies/rules/s3.py): each rule quiet on the baseline and caught once its setting is broken,
through the real analyzer protocol."""

from __future__ import annotations

from typing import Any

import pytest
from policycases import (
    BUCKET,
    CASE_FIELDS,
    Case,
    assert_case_caught,
    case_ids,
    case_rules,
    rule_names,
    statement_policy,
)
from policytest import Checker, Mutation, Selector, select, set_input

from mlops_platform.policies.rules import s3

CASES: list[Case] = [
    (
        "s3-public-access-block-all",
        select("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "artifacts-pab"),
        set_input("restrictPublicBuckets", False),
        {},
    ),
    (
        "s3-bucket-public-access-block",
        select("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "artifacts-pab"),
        None,
        {"remove": True},
    ),
    ("s3-no-public-acl", BUCKET, set_input("acl", "public-read"), {}),
    (
        "s3-no-public-policy",
        select("aws:s3/bucketPolicy:BucketPolicy", "artifacts-policy"),
        statement_policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}),
        {},
    ),
    ("s3-no-force-destroy-prod", BUCKET, set_input("forceDestroy", True), {}),
    (
        "s3-bucket-ownership-enforced",
        select("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "artifacts-ownership"),
        set_input("rule.objectOwnership", "ObjectWriter"),
        {},
    ),
    (
        "s3-bucket-tls-only",
        select("aws:s3/bucketPolicy:BucketPolicy", "artifacts-policy"),
        None,
        {"remove": True},
    ),
    (
        "s3-bucket-encryption-kms",
        select(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "artifacts-sse",
        ),
        set_input("rules.0.applyServerSideEncryptionByDefault", {"sseAlgorithm": "AES256"}),
        {},
    ),
    (
        "s3-bucket-versioning",
        select("aws:s3/bucketVersioning:BucketVersioning", "artifacts-versioning"),
        set_input("versioningConfiguration.status", "Suspended"),
        {},
    ),
    (
        "s3-bucket-lifecycle",
        select("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "artifacts-lifecycle"),
        set_input("rules.1.status", "Disabled"),
        {},
    ),
    ("s3-bucket-access-logging", select("aws:s3/bucketLogging:BucketLogging"), None, {"remove": True}),
]


def test_every_rule_has_a_case() -> None:
    assert case_rules(CASES) == rule_names(s3)


@pytest.mark.parametrize(CASE_FIELDS, CASES, ids=case_ids(CASES))
def test_rule_catches_its_violation(
    checker: Checker, rule: str, selector: Selector, mutation: Mutation | None, options: dict[str, Any]
) -> None:
    assert_case_caught(checker, rule, selector, mutation, options)
