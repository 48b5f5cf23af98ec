"""KMS keys, CloudWatch log groups, SNS topics and Secrets Manager secrets."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.rules._common import (
    Ctx,
    Res,
    as_list,
    has_pinning_condition,
    pins_arn,
    principals,
    public_allow_statements,
    resource_rule,
    sid,
    statements,
    truthy,
)

KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SECRET = "aws:secretsmanager/secret:Secret"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"


@resource_rule("kms-key-rotation", KEY)
def rotation(res: Res, ctx: Ctx) -> Iterator[str]:
    symmetric = str(res.get("customerMasterKeySpec") or res.get("keySpec") or "SYMMETRIC_DEFAULT")
    if symmetric == "SYMMETRIC_DEFAULT" and not truthy(res.get("enableKeyRotation")):
        yield "automatic key rotation is off"


@resource_rule("kms-deletion-window", KEY)
def deletion_window(res: Res, ctx: Ctx) -> Iterator[str]:
    minimum = int(ctx.get("minimumDaysProd", 14) if ctx.prod else ctx.get("minimumDays", 7))
    days = res.get("deletionWindowInDays")
    days = 30 if days is None else int(days)  # AWS's default waiting period is 30 days
    if days < minimum:
        yield f"deletionWindowInDays is {days}; {ctx.environment} needs at least {minimum}"


@resource_rule("kms-no-public-principal", KEY)
def no_public_principal(res: Res, ctx: Ctx) -> Iterator[str]:
    for stmt in public_allow_statements(res.get("policy")):
        yield f"key policy {sid(stmt)} allows principal '*' without kms:CallerAccount/aws:SourceArn-style conditions"


def _pinned_by_encryption_context(stmt: Mapping[str, Any]) -> bool:
    """A ``kms:EncryptionContext:<k>`` condition naming ARNs of a literal account (CloudWatch Logs' form,
    ``kms:EncryptionContext:aws:logs:arn`` = ``arn:aws:logs:<region>:<account>:log-group:*``)."""
    cond = stmt.get("Condition")
    if not isinstance(cond, Mapping):
        return False
    for op, body in cond.items():
        if str(op).lower() not in ("arnlike", "arnequals", "stringequals", "stringlike") or not isinstance(
            body, Mapping
        ):
            continue
        for k, val in body.items():
            values = as_list(val)
            if (
                str(k).lower().startswith("kms:encryptioncontext:")
                and values
                and all(pins_arn(v) for v in values)
            ):
                return True
    return False


@resource_rule("kms-service-principal-source", KEY)
def service_principal_source(res: Res, ctx: Ctx) -> Iterator[str]:
    for stmt in statements(res.get("policy")):
        services = principals(stmt).get("Service", [])
        if stmt.get("Effect") != "Allow" or not services:
            continue
        if has_pinning_condition(stmt) or _pinned_by_encryption_context(stmt):
            continue
        yield (
            f"key policy {sid(stmt)} lets {', '.join(services)} use the key for any account's resources; "
            "add aws:SourceAccount/aws:SourceArn (or an encryption-context ARN of this account)"
        )


@resource_rule("logs-retention", LOG_GROUP)
def log_retention(res: Res, ctx: Ctx) -> Iterator[str]:
    days = res.get("retentionInDays")
    minimum = int(ctx.get("minimumDays", 1))
    if not days:
        yield "retentionInDays is not set, so logs are kept (and billed) forever"
    elif int(days) < minimum:
        yield f"retentionInDays is {days}; at least {minimum} required in {ctx.environment}"


@resource_rule("logs-kms-encryption", LOG_GROUP)
def log_kms(res: Res, ctx: Ctx) -> Iterator[str]:
    if not res.get("kmsKeyId"):
        yield "the log group is not encrypted with a customer-managed KMS key"


@resource_rule("sns-kms-encryption", TOPIC)
def sns_kms(res: Res, ctx: Ctx) -> Iterator[str]:
    key = res.get("kmsMasterKeyId")
    if not key:
        yield "the topic is not encrypted"
    elif str(key) in ("alias/aws/sns",):
        yield "the topic uses the AWS-managed key alias/aws/sns; CloudWatch alarms cannot publish to it"


@resource_rule("sns-no-public-policy", TOPIC, TOPIC_POLICY)
def sns_public(res: Res, ctx: Ctx) -> Iterator[str]:
    for stmt in public_allow_statements(res.get("policy")):
        yield f"topic policy {sid(stmt)} allows principal '*' without a condition that pins the caller"


@resource_rule("sns-no-http-subscription", SUBSCRIPTION)
def sns_https(res: Res, ctx: Ctx) -> Iterator[str]:
    if str(res.get("protocol") or "").lower() == "http":
        yield "the subscription delivers alerts over plain HTTP; use https"


@resource_rule("secretsmanager-cmk", SECRET)
def secret_cmk(res: Res, ctx: Ctx) -> Iterator[str]:
    if not res.get("kmsKeyId"):
        yield "the secret is encrypted with the AWS-managed key; set kmsKeyId to a customer-managed key"


EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"


def _remote_keys(spec: dict) -> list[str]:
    keys = [
        str((d.get("remoteRef") or {}).get("key")) for d in (spec.get("data") or []) if isinstance(d, dict)
    ]
    keys += [
        str((d.get("extract") or d.get("find") or {}).get("key"))
        for d in (spec.get("dataFrom") or [])
        if isinstance(d, dict) and (d.get("extract") or d.get("find"))
    ]
    return keys


@resource_rule("secrets-no-rds-master-sync", EXTERNAL_SECRET)
def no_rds_master_sync(res: Res, ctx: Ctx) -> Iterator[str]:
    spec = res.get("spec") or {}
    for key in _remote_keys(spec if isinstance(spec, dict) else {}):
        # RDS names the master secrets it manages rds!db-<id> (rds!cluster-<id> for Aurora).
        name = key.split(":secret:", 1)[-1]
        if name.startswith("rds!"):
            yield (
                f"the ExternalSecret syncs the RDS-managed master secret {name!r} into the cluster; give the "
                "application a database tenant (its own role and secret) instead"
            )


RULES = [
    no_rds_master_sync,
    rotation,
    deletion_window,
    no_public_principal,
    service_principal_source,
    log_retention,
    log_kms,
    sns_kms,
    sns_public,
    sns_https,
    secret_cmk,
]
