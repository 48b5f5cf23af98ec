"""SQS queues (the Karpenter interruption queue): encrypted, with a customer-managed key where it counts,
and queue policies that admit no one at large and AWS services only for this account's resources."""

from __future__ import annotations

from collections.abc import Iterator

from mlops_platform.policies.rules._common import (
    Ctx,
    Res,
    has_source_condition,
    principals,
    public_allow_statements,
    sid,
    statements,
    truthy,
)
from mlops_platform.policies.rules._meta import RELAXED_DEV
from mlops_platform.policies.rules._registry import resource_rule

QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"

AWS_MANAGED_KEY = "alias/aws/sqs"


def _has_key(res: Res) -> bool:
    return bool(str(res.get("kmsMasterKeyId") or "").strip())


@resource_rule(
    "sqs-encrypted",
    QUEUE,
    description=(
        "SQS queues are encrypted at rest: a KMS key (kmsMasterKeyId) or SSE-SQS (sqsManagedSseEnabled). "
        "A queue that sets neither is judged unencrypted rather than by the account's or API's default."
    ),
    severity="high",
    remediation="Set kms_master_key_id to the platform's customer key (or, at least, sqs_managed_sse_enabled=True).",
    checkov=("CKV_AWS_27",),
    prowler=("sqs_queues_server_side_encryption_enabled",),
)
def sqs_encrypted(res: Res, ctx: Ctx) -> Iterator[str]:
    if not _has_key(res) and not truthy(res.get("sqsManagedSseEnabled")):
        yield "the queue is not encrypted at rest (neither kmsMasterKeyId nor sqsManagedSseEnabled)"


@resource_rule(
    "sqs-kms-encryption",
    QUEUE,
    description=(
        "SQS queues are encrypted with a customer-managed KMS key. SSE-SQS alone (or the AWS-managed key "
        "alias/aws/sqs) passes sqs-encrypted but fails here, at the lower severity: its keys belong to AWS, "
        "so no key policy narrows who may decrypt, key use leaves no CloudTrail record and the data cannot "
        "be cut off by disabling the key, which the platform's customer key gives every other store. "
        "Advisory in dev."
    ),
    severity="medium",
    remediation=(
        "Set kms_master_key_id to a customer key whose policy lets the senders' service principal "
        "(events.amazonaws.com for EventBridge) use it for this queue only: Condition StringEquals "
        "kms:EncryptionContext:aws:sqs:arn = the queue's ARN (EventBridge's deliveries carry no "
        "aws:SourceArn/aws:SourceAccount to pin it by)."
    ),
    enforcement=RELAXED_DEV,
    prowler=("sqs_queues_server_side_encryption_enabled",),
)
def sqs_kms(res: Res, ctx: Ctx) -> Iterator[str]:
    key = str(res.get("kmsMasterKeyId") or "").strip()
    if not key:
        managed = truthy(res.get("sqsManagedSseEnabled"))
        yield (
            "the queue relies on SSE-SQS (AWS-owned keys); use a customer-managed KMS key"
            if managed
            else "the queue has no customer-managed KMS key (kmsMasterKeyId)"
        )
    elif key == AWS_MANAGED_KEY:
        yield f"the queue uses the AWS-managed key {AWS_MANAGED_KEY}; its policy cannot admit EventBridge or be narrowed"


@resource_rule(
    "sqs-no-public-policy",
    QUEUE,
    QUEUE_POLICY,
    description="SQS queue policies do not allow principal '*' without caller-pinning conditions.",
    severity="critical",
    remediation=(
        "Grant named roles or service principals instead of '*', or pin the callers with "
        "aws:SourceArn/aws:SourceAccount/aws:PrincipalAccount conditions."
    ),
    checkov=("CKV_AWS_168",),
    prowler=("sqs_queues_not_publicly_accessible",),
)
def sqs_public(res: Res, ctx: Ctx) -> Iterator[str]:
    for stmt in public_allow_statements(res.get("policy")):
        yield f"queue policy {sid(stmt)} allows principal '*' without a condition that pins the caller"


@resource_rule(
    "sqs-service-principal-source",
    QUEUE,
    QUEUE_POLICY,
    description=(
        "Queue policy statements that let an AWS service principal (e.g. events.amazonaws.com) use the "
        "queue carry aws:SourceArn or aws:SourceAccount with literal values: only this account's resources "
        "(its EventBridge rules) may send, no confused deputy."
    ),
    severity="high",
    remediation=(
        "Add Condition ArnEquals aws:SourceArn [the EventBridge rules' ARNs] (or StringEquals "
        "aws:SourceAccount <account>) to the service principal's statement."
    ),
)
def sqs_service_source(res: Res, ctx: Ctx) -> Iterator[str]:
    for stmt in statements(res.get("policy")):
        services = principals(stmt).get("Service", [])
        if stmt.get("Effect") != "Allow" or not services or has_source_condition(stmt):
            continue
        yield (
            f"queue policy {sid(stmt)} lets {', '.join(services)} use the queue for any account's resources; "
            "add aws:SourceArn/aws:SourceAccount"
        )
