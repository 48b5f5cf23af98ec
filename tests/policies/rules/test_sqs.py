"""SQS rules (policies/rules/sqs.py): each rule quiet on a compliant interruption queue and its policy (the
shapes the platform renders, issue 14's SPEC) and caught once its setting is broken, through the real
analyzer protocol; then precision cases."""

from __future__ import annotations

import json
from typing import Any

import pytest
from policybaseline import ACCOUNT, KEY_ARN, baseline, doc
from policycases import CASE_FIELDS, Case, case_ids, case_rules, rule_names, statement_policy
from policytest import (
    Checker,
    Mutation,
    Selector,
    assert_mutation_caught,
    aws_provider,
    drop_input,
    resource,
    select,
)

from mlops_platform.components.aws_context import AwsContext
from mlops_platform.components.keys import key_policy
from mlops_platform.mlops.graph import Graph, Resource
from mlops_platform.policies.rules import sqs
from mlops_platform.policies.rules.catalogue import CATALOGUE

QUEUE_ARN = f"arn:aws:sqs:eu-west-1:{ACCOUNT}:mlops-prod-eks-karpenter"
RULE_ARNS = [
    f"arn:aws:events:eu-west-1:{ACCOUNT}:rule/mlops-prod-eks-karpenter-{kind}"
    for kind in ("spot-interruption", "rebalance", "instance-state", "health", "capacity-reservation")
]
QUEUE = select(sqs.QUEUE)
QUEUE_POLICY = select(sqs.QUEUE_POLICY)

EVENTS_SEND = {
    "Sid": "EventBridgeSends",
    "Effect": "Allow",
    "Principal": {"Service": "events.amazonaws.com"},
    "Action": "sqs:SendMessage",
    "Resource": QUEUE_ARN,
    "Condition": {"ArnEquals": {"aws:SourceArn": RULE_ARNS}},
}
DENY_INSECURE = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "sqs:*",
    "Resource": QUEUE_ARN,
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def sqs_objects() -> list[Resource]:
    queue = resource(
        sqs.QUEUE,
        "karpenter-interruption-queue",
        {"name": "mlops-prod-eks-karpenter", "kmsMasterKeyId": KEY_ARN, "messageRetentionSeconds": 300},
    )
    policy = resource(
        sqs.QUEUE_POLICY,
        "karpenter-interruption-queue-policy",
        {"queueUrl": "https://sqs.eu-west-1.amazonaws.com/x", "policy": doc(EVENTS_SEND, DENY_INSECURE)},
        deps={"queueUrl": [queue]},
    )
    return [queue, policy]


def sqs_baseline(env: str = "prod") -> Graph:
    graph = baseline(env)
    graph.resources.extend(sqs_objects())
    return graph


def events_statement(**condition: Any) -> Mutation:
    stmt = {k: v for k, v in EVENTS_SEND.items() if k != "Condition"}
    if condition:
        stmt["Condition"] = condition
    return statement_policy(stmt, DENY_INSECURE)


def sse_sqs(inputs: dict[str, Any]) -> None:
    inputs.pop("kmsMasterKeyId", None)
    inputs["sqsManagedSseEnabled"] = True


CASES: list[Case] = [
    ("sqs-encrypted", QUEUE, drop_input("kmsMasterKeyId"), {}),
    ("sqs-kms-encryption", QUEUE, sse_sqs, {}),
    (
        "sqs-no-public-policy",
        QUEUE_POLICY,
        statement_policy({"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*"}),
        {},
    ),
    ("sqs-service-principal-source", QUEUE_POLICY, events_statement(), {}),
]


def test_every_rule_has_a_case() -> None:
    assert case_rules(CASES) == rule_names(sqs)


def test_the_compliant_queue_passes_every_rule_of_the_pack(checker: Checker) -> None:
    result = checker.run([aws_provider("prod"), *sqs_objects()], "prod")
    assert result.violations == [], [(v.policy, v.name, v.message) for v in result.violations]


@pytest.mark.parametrize(CASE_FIELDS, CASES, ids=case_ids(CASES))
def test_rule_catches_its_violation(
    checker: Checker, rule: str, selector: Selector, mutation: Mutation | None, options: dict[str, Any]
) -> None:
    result = assert_mutation_caught(checker, sqs_baseline("prod"), selector, mutation, rule, env="prod")
    assert CATALOGUE[rule].level("prod") == "mandatory"
    assert all(v.enforcement == "mandatory" for v in result.by_policy(rule))


# ---- precision -----------------------------------------------------------------------------------


def _queue(inputs: dict[str, Any]) -> Resource:
    return resource(sqs.QUEUE, "queue", {"name": "q", **inputs})


def _messages(checker: Checker, rule: str, res: Resource, env: str = "prod") -> list[tuple[str, str]]:
    return [(v.enforcement, v.message) for v in checker.run([aws_provider(env), res], env).by_policy(rule)]


def test_sse_sqs_alone_is_encrypted_but_not_with_a_customer_key(checker: Checker) -> None:
    queue = _queue({"sqsManagedSseEnabled": True})
    assert _messages(checker, "sqs-encrypted", queue) == []
    assert _messages(checker, "sqs-kms-encryption", queue)
    assert [level for level, _ in _messages(checker, "sqs-kms-encryption", queue, "dev")] == ["advisory"]
    assert [level for level, _ in _messages(checker, "sqs-kms-encryption", queue, "staging")] == ["mandatory"]
    assert CATALOGUE["sqs-kms-encryption"].severity == "medium"
    assert CATALOGUE["sqs-encrypted"].severity == "high"


def test_the_key_remediation_names_the_condition_eventbridge_can_be_pinned_by() -> None:
    """EventBridge's deliveries carry no aws:SourceArn/aws:SourceAccount; the cluster key pins it by the
    queue's encryption context, and the remediation says so."""
    remediation = CATALOGUE["sqs-kms-encryption"].remediation
    assert "kms:EncryptionContext:aws:sqs:arn" in remediation
    assert "events.amazonaws.com" in remediation
    ctx = AwsContext(account_id=ACCOUNT, region="eu-west-1")
    (stmt,) = [
        s
        for s in key_policy("cluster", ctx, cluster_role="c", interruption_queue="mlops-prod-eks-karpenter")[
            "Statement"
        ]
        if s.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    assert stmt["Condition"] == {"StringEquals": {"kms:EncryptionContext:aws:sqs:arn": QUEUE_ARN}}


@pytest.mark.parametrize(
    "inputs",
    [{}, {"sqsManagedSseEnabled": False}, {"sqsManagedSseEnabled": "false"}, {"kmsMasterKeyId": ""}],
    ids=["nothing", "SSE-SQS off", "SSE-SQS 'false'", "empty key"],
)
def test_unencrypted_queue(checker: Checker, inputs: dict[str, Any]) -> None:
    queue = _queue(inputs)
    assert _messages(checker, "sqs-encrypted", queue)
    assert _messages(checker, "sqs-kms-encryption", queue)


def test_aws_managed_key_is_no_customer_key(checker: Checker) -> None:
    queue = _queue({"kmsMasterKeyId": "alias/aws/sqs"})
    assert _messages(checker, "sqs-encrypted", queue) == []
    assert _messages(checker, "sqs-kms-encryption", queue)


def test_customer_key_alias_passes(checker: Checker) -> None:
    queue = _queue({"kmsMasterKeyId": "alias/mlops-prod-data"})
    assert _messages(checker, "sqs-kms-encryption", queue) == []


def test_queue_policy_on_the_queue_itself_is_judged(checker: Checker) -> None:
    public = {
        "Sid": "Anyone",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "sqs:*",
        "Resource": "*",
    }
    queue = _queue({"kmsMasterKeyId": KEY_ARN, "policy": doc(public)})
    assert _messages(checker, "sqs-no-public-policy", queue)
    unpinned = {k: v for k, v in EVENTS_SEND.items() if k != "Condition"}
    queue = _queue({"kmsMasterKeyId": KEY_ARN, "policy": json.loads(doc(unpinned))})  # an object, not JSON
    assert _messages(checker, "sqs-service-principal-source", queue)


def test_public_statement_pinned_to_the_account_passes(checker: Checker) -> None:
    pinned = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "sqs:SendMessage",
        "Resource": QUEUE_ARN,
        "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
    }
    policy = resource(sqs.QUEUE_POLICY, "p", {"queueUrl": "q", "policy": doc(pinned)})
    assert _messages(checker, "sqs-no-public-policy", policy) == []


SOURCE_PINNED = {
    "SourceArn of the rules": {"ArnEquals": {"aws:SourceArn": RULE_ARNS}},
    "SourceArn of the account's rules": {
        "ArnLike": {"aws:SourceArn": f"arn:aws:events:eu-west-1:{ACCOUNT}:rule/*"}
    },
    "SourceAccount": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
}
SOURCE_NOT_PINNED = {
    "no condition": None,
    "SourceArn of any account": {"ArnLike": {"aws:SourceArn": "arn:aws:events:eu-west-1:*:rule/*"}},
    "SourceAccount '*'": {"StringLike": {"aws:SourceAccount": "*"}},
    "negated SourceAccount": {"StringNotEquals": {"aws:SourceAccount": ACCOUNT}},
    "IfExists SourceArn": {"ArnEqualsIfExists": {"aws:SourceArn": RULE_ARNS}},
    "SourceVpce (not the resource the service acts for)": {"StringEquals": {"aws:SourceVpce": "vpce-0abc"}},
    "PrincipalOrgID (not the resource the service acts for)": {
        "StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}
    },
}


def _service_policy(condition: dict[str, Any] | None) -> Resource:
    stmt = {k: v for k, v in EVENTS_SEND.items() if k != "Condition"}
    if condition is not None:
        stmt["Condition"] = condition
    return resource(sqs.QUEUE_POLICY, "p", {"queueUrl": "q", "policy": doc(stmt, DENY_INSECURE)})


@pytest.mark.parametrize("condition", list(SOURCE_PINNED.values()), ids=list(SOURCE_PINNED))
def test_service_principal_pinned_to_this_account(checker: Checker, condition: dict[str, Any]) -> None:
    assert _messages(checker, "sqs-service-principal-source", _service_policy(condition)) == []


@pytest.mark.parametrize("condition", list(SOURCE_NOT_PINNED.values()), ids=list(SOURCE_NOT_PINNED))
def test_service_principal_not_pinned(checker: Checker, condition: dict[str, Any] | None) -> None:
    assert _messages(checker, "sqs-service-principal-source", _service_policy(condition))


def test_deny_statements_need_no_source(checker: Checker) -> None:
    deny = {
        "Effect": "Deny",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:*",
        "Resource": "*",
    }
    policy = resource(sqs.QUEUE_POLICY, "p", {"queueUrl": "q", "policy": doc(deny)})
    assert _messages(checker, "sqs-service-principal-source", policy) == []
    assert _messages(checker, "sqs-no-public-policy", policy) == []
