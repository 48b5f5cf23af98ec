"""Secrets Manager secrets: encrypted with a customer-managed KMS key."""

from __future__ import annotations

from collections.abc import Iterator

from mlops_platform.policies.rules._common import Ctx, Res
from mlops_platform.policies.rules._registry import resource_rule

SECRET = "aws:secretsmanager/secret:Secret"


@resource_rule(
    "secretsmanager-cmk",
    SECRET,
    description="Secrets Manager secrets are encrypted with a customer-managed KMS key.",
    severity="medium",
    remediation="Set kms_key_id to the data key.",
    checkov=("CKV_AWS_149",),
)
def secret_cmk(res: Res, ctx: Ctx) -> Iterator[str]:
    if not res.get("kmsKeyId"):
        yield "the secret is encrypted with the AWS-managed key; set kmsKeyId to a customer-managed key"
