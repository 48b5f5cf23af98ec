"""Precision of the caller-pinning conditions of policies/rules/_common.py (principal '*' in key, bucket,
topic, repository and queue policies), driven through the real analyzer protocol. The wildcard-resource rule for
identity policies: test_iam.py; service principals in key policies: test_kms.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from policybaseline import ACCOUNT, baseline, doc
from policytest import Checker, assert_mutation_caught, aws_provider, resource, select, set_input

ORG = "o-a1b2c3d4e5"
BUCKET_ARN = "arn:aws:s3:::mlops-prod-artifacts"

# ---- principal '*' in resource policies ------------------------------------------------------------

PUBLIC_POLICY_RULES = {
    "aws:kms/key:Key": "kms-no-public-principal",
    "aws:s3/bucketPolicy:BucketPolicy": "s3-no-public-policy",
    "aws:sns/topicPolicy:TopicPolicy": "sns-no-public-policy",
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "ecr-no-public-policy",
    "aws:sqs/queuePolicy:QueuePolicy": "sqs-no-public-policy",
    "aws:sqs/queue:Queue": "sqs-no-public-policy",
}


def _public(condition: dict[str, Any] | None, principal: Any = "*") -> dict[str, Any]:
    stmt: dict[str, Any] = {
        "Sid": "Use",
        "Effect": "Allow",
        "Principal": principal,
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "*",
    }
    if condition is not None:
        stmt["Condition"] = condition
    return stmt


def _policy_hits(checker: Checker, type_: str, statement: dict[str, Any]) -> list[str]:
    res = resource(type_, "under-test", {"policy": doc(statement)})
    result = checker.run([aws_provider("prod"), res], "prod")
    return [v.message for v in result.by_policy(PUBLIC_POLICY_RULES[type_])]


NOT_PINNED = {
    "no condition": None,
    "kms:ViaService only": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
    "kms:ViaService list only": {
        "StringEquals": {"kms:ViaService": ["s3.eu-west-1.amazonaws.com", "rds.eu-west-1.amazonaws.com"]}
    },
    "SourceAccount '*'": {"StringLike": {"aws:SourceAccount": "*"}},
    "SourceAccount with a '?' pattern": {"StringLike": {"aws:SourceAccount": "12345678901?"}},
    "SourceAccount list with '*'": {"StringLike": {"aws:SourceAccount": [ACCOUNT, "*"]}},
    "CallerAccount '*' with ViaService": {
        "StringLike": {"kms:CallerAccount": "*", "kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    },
    "CallerAccount pattern": {"StringLike": {"kms:CallerAccount": "1234*"}},
    "PrincipalOrgID '*'": {"StringLike": {"aws:PrincipalOrgID": "*"}},
    "PrincipalOrgID pattern": {"StringLike": {"aws:PrincipalOrgID": "o-*"}},
    "PrincipalOrgPaths '*'": {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "*"}},
    "SourceArn '*'": {"ArnLike": {"aws:SourceArn": "*"}},
    "SourceArn any account": {"ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:eu-west-1:*:alarm:*"}},
    "SourceArn any bucket": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}},
    "PrincipalArn any account": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ci"}},
    "SourceAccount from a policy variable": {
        "StringEquals": {"aws:SourceAccount": "${aws:PrincipalAccount}"}
    },
    "negated operator": {"StringNotEquals": {"aws:SourceAccount": ACCOUNT}},
    "IfExists operator": {"StringEqualsIfExists": {"aws:PrincipalAccount": ACCOUNT}},
    "Null operator": {"Null": {"aws:SourceAccount": "false"}},
    "ResourceOrgID (the resource's org, not the caller's)": {"StringEquals": {"aws:ResourceOrgID": ORG}},
}

PINNED = {
    "CallerAccount with ViaService": {
        "StringEquals": {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    },
    "ViaService plus PrincipalAccount in another operator": {
        "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"},
        "StringEqualsIgnoreCase": {"aws:PrincipalAccount": ACCOUNT},
    },
    "SourceAccount": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
    "SourceAccount list": {"StringEquals": {"aws:SourceAccount": [ACCOUNT, "210987654321"]}},
    "PrincipalOrgID": {"StringEquals": {"aws:PrincipalOrgID": ORG}},
    "PrincipalOrgPaths below the org": {
        "ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": f"{ORG}/r-ab12/ou-ab12-11111111/*"}
    },
    "SourceArn of the account's alarms": {
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:*"}
    },
    "SourceArn of one bucket": {"ArnEquals": {"aws:SourceArn": BUCKET_ARN}},
    "PrincipalArn of the account's roles": {
        "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/*"}
    },
    "SourceVpce": {"StringEquals": {"aws:SourceVpce": "vpce-0123456789abcdef0"}},
}


@pytest.mark.parametrize("type_", sorted(PUBLIC_POLICY_RULES))
@pytest.mark.parametrize("condition", list(NOT_PINNED.values()), ids=list(NOT_PINNED))
def test_public_statement_without_a_real_pin_is_caught(
    checker: Checker, type_: str, condition: dict[str, Any] | None
) -> None:
    assert _policy_hits(checker, type_, _public(condition)), condition


@pytest.mark.parametrize("type_", sorted(PUBLIC_POLICY_RULES))
@pytest.mark.parametrize("condition", list(PINNED.values()), ids=list(PINNED))
def test_public_statement_pinned_to_the_caller_is_fine(
    checker: Checker, type_: str, condition: dict[str, Any]
) -> None:
    assert _policy_hits(checker, type_, _public(condition)) == []
    assert _policy_hits(checker, type_, _public(condition, {"AWS": "*"})) == []


def test_baseline_key_statement_loses_its_account_pin(checker: Checker) -> None:
    # The baseline key's EBS statement (principal '*', kms:CallerAccount + kms:ViaService) is compliant;
    # without kms:CallerAccount only the service is named and any account may use the key through EC2.
    ebs_via_service_only = _public({"StringEquals": {"kms:ViaService": "ec2.eu-west-1.amazonaws.com"}})
    root = {
        "Sid": "Root",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    assert_mutation_caught(
        checker,
        baseline("prod"),
        select("aws:kms/key:Key"),
        set_input("policy", doc(root, ebs_via_service_only)),
        "kms-no-public-principal",
    )


def test_bucket_policy_with_wildcard_source_account_is_caught(checker: Checker) -> None:
    graph = baseline("prod")
    policy = next(r for r in graph.resources if r.name == "artifacts-policy")
    tls = policy.inputs["policy"]
    wildcard = {
        "Sid": "AnyAccount",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"{BUCKET_ARN}/*",
        "Condition": {"StringLike": {"aws:SourceAccount": "*"}},
    }
    statements = [*json.loads(tls)["Statement"], wildcard]
    assert_mutation_caught(
        checker,
        graph,
        select("aws:s3/bucketPolicy:BucketPolicy", "artifacts-policy"),
        set_input("policy", doc(*statements)),
        "s3-no-public-policy",
    )
