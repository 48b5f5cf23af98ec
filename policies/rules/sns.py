"""SNS topics and subscriptions: a customer-managed key, no public topic policy, no plain-HTTP delivery."""

from __future__ import annotations

from collections.abc import Iterator

from mlops_platform.policies.rules._common import Ctx, Res, public_allow_statements, sid
from mlops_platform.policies.rules._registry import resource_rule

TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"


@resource_rule(
    "sns-kms-encryption",
    TOPIC,
    description="SNS topics are encrypted with a customer-managed KMS key.",
    severity="medium",
    remediation="Set kms_master_key_id to a customer key whose policy lets CloudWatch use it.",
    checkov=("CKV_AWS_26",),
    prowler=("sns_topics_kms_encryption_at_rest_enabled",),
)
def sns_kms(res: Res, ctx: Ctx) -> Iterator[str]:
    key = res.get("kmsMasterKeyId")
    if not key:
        yield "the topic is not encrypted"
    elif str(key) in ("alias/aws/sns",):
        yield "the topic uses the AWS-managed key alias/aws/sns; CloudWatch alarms cannot publish to it"


@resource_rule(
    "sns-no-public-policy",
    TOPIC,
    TOPIC_POLICY,
    description="SNS topic policies do not allow principal '*' without caller-pinning conditions.",
    severity="critical",
    remediation="Grant publish to service principals with aws:SourceArn/aws:SourceAccount conditions.",
    checkov=("CKV_AWS_169",),
    prowler=("sns_topics_not_publicly_accessible",),
)
def sns_public(res: Res, ctx: Ctx) -> Iterator[str]:
    for stmt in public_allow_statements(res.get("policy")):
        yield f"topic policy {sid(stmt)} allows principal '*' without a condition that pins the caller"


@resource_rule(
    "sns-no-http-subscription",
    SUBSCRIPTION,
    description="SNS subscriptions never deliver over plain HTTP.",
    severity="high",
    remediation="Subscribe https:// endpoints (or e-mail) only.",
)
def sns_https(res: Res, ctx: Ctx) -> Iterator[str]:
    if str(res.get("protocol") or "").lower() == "http":
        yield "the subscription delivers alerts over plain HTTP; use https"
