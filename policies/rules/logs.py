"""CloudWatch log groups: a bounded retention and a customer-managed KMS key."""

from __future__ import annotations

from collections.abc import Iterator

from mlops_platform.policies.rules._common import Ctx, Res
from mlops_platform.policies.rules._meta import NON_NEGATIVE_INT, RELAXED_DEV, Prop
from mlops_platform.policies.rules._registry import resource_rule

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


@resource_rule(
    "logs-retention",
    LOG_GROUP,
    description="CloudWatch log groups have a retention period (at least the environment's minimum).",
    severity="low",
    remediation="Set retention_in_days (logsRetentionDays).",
    enforcement=RELAXED_DEV,
    checkov=("CKV_AWS_66", "CKV_AWS_338"),
    prowler=("cloudwatch_log_group_retention_policy_specific_days_enabled",),
    props={"minimumDays": Prop(NON_NEGATIVE_INT, per_env={"dev": 1, "staging": 30, "prod": 365})},
)
def log_retention(res: Res, ctx: Ctx) -> Iterator[str]:
    days = res.get("retentionInDays")
    minimum = int(ctx.get("minimumDays"))
    if not days:
        yield "retentionInDays is not set, so logs are kept (and billed) forever"
    elif int(days) < minimum:
        yield f"retentionInDays is {int(days)}; at least {minimum} required in {ctx.environment}"


@resource_rule(
    "logs-kms-encryption",
    LOG_GROUP,
    description="CloudWatch log groups are encrypted with a customer-managed KMS key.",
    severity="medium",
    remediation="Set kms_key_id to the logs key (its key policy must allow the CloudWatch Logs service).",
    checkov=("CKV_AWS_158",),
    prowler=("cloudwatch_log_group_kms_encryption_enabled",),
)
def log_kms(res: Res, ctx: Ctx) -> Iterator[str]:
    if not res.get("kmsKeyId"):
        yield "the log group is not encrypted with a customer-managed KMS key"
