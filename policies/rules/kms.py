"""KMS keys: rotation, a deletion waiting period, and key policies that admit only pinned callers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mlops_platform.policies.rules._common import (
    Ctx,
    Res,
    as_list,
    has_pinning_condition,
    pins_arn,
    principals,
    public_allow_statements,
    sid,
    statements,
    truthy,
)
from mlops_platform.policies.rules._meta import NON_NEGATIVE_INT, Prop, cis_aws
from mlops_platform.policies.rules._registry import resource_rule

KEY = "aws:kms/key:Key"


@resource_rule(
    "kms-key-rotation",
    KEY,
    description="Symmetric KMS keys rotate automatically.",
    severity="medium",
    remediation="Set enable_key_rotation=True.",
    framework=cis_aws("3.6"),
    checkov=("CKV_AWS_7",),
    prowler=("kms_cmk_rotation_enabled",),
)
def rotation(res: Res, ctx: Ctx) -> Iterator[str]:
    symmetric = str(res.get("customerMasterKeySpec") or res.get("keySpec") or "SYMMETRIC_DEFAULT")
    if symmetric == "SYMMETRIC_DEFAULT" and not truthy(res.get("enableKeyRotation")):
        yield "automatic key rotation is off"


@resource_rule(
    "kms-deletion-window",
    KEY,
    description="KMS keys wait at least 7 days before deletion (14 in prod).",
    severity="medium",
    remediation="Raise deletion_window_in_days (kmsDeletionWindowDays).",
    props={"minimumDays": Prop(NON_NEGATIVE_INT, 7), "minimumDaysProd": Prop(NON_NEGATIVE_INT, 14)},
)
def deletion_window(res: Res, ctx: Ctx) -> Iterator[str]:
    minimum = int(ctx.get("minimumDaysProd") if ctx.prod else ctx.get("minimumDays"))
    days = res.get("deletionWindowInDays")
    days = 30 if days is None else int(days)  # AWS's default waiting period is 30 days
    if days < minimum:
        yield f"deletionWindowInDays is {days}; {ctx.environment} needs at least {minimum}"


@resource_rule(
    "kms-no-public-principal",
    KEY,
    description=(
        "Key policies do not allow principal '*' without caller-pinning conditions (kms:ViaService alone does "
        "not pin the caller)."
    ),
    severity="critical",
    remediation="Name the account root, roles or service principals in the key policy.",
    checkov=("CKV_AWS_33",),
    prowler=("kms_key_not_publicly_accessible",),
)
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


@resource_rule(
    "kms-service-principal-source",
    KEY,
    description=(
        "Key policy statements that let an AWS service principal use the key are pinned to this account's "
        "resources (aws:SourceAccount / aws:SourceArn, or an encryption-context ARN): no confused deputy."
    ),
    severity="high",
    remediation=(
        "Add Condition StringEquals aws:SourceAccount and ArnLike aws:SourceArn (e.g. the account's "
        "CloudWatch alarms) to the service principal's statement."
    ),
)
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
