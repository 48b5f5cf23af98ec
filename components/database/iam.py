"""The IAM identity policies of a database tenant: the tenant job's role (the master secret and the tenant secret)
and the tenant namespace's External Secrets role (the tenant secret only), each key through Secrets Manager only."""

from __future__ import annotations

import json
from collections.abc import Sequence

__all__ = ["job_policy", "read_policy"]


def job_policy(
    *, master_secret_arn: str, master_key_arn: str, tenant_secret_arn: str, tenant_key_arn: str, region: str
) -> str:
    """The tenant job's role: read the master secret, read and write the tenant secret, each key through Secrets
    Manager only."""
    via = {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}
    statements = [
        {
            "Sid": "ReadMasterSecret",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": master_secret_arn,
        },
        {
            "Sid": "WriteTenantSecret",
            "Effect": "Allow",
            "Action": [
                "secretsmanager:GetSecretValue",
                "secretsmanager:DescribeSecret",
                "secretsmanager:PutSecretValue",
            ],
            "Resource": tenant_secret_arn,
        },
    ]
    if master_key_arn == tenant_key_arn:
        statements.append(
            {
                "Sid": "SecretKeys",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": tenant_key_arn,
                "Condition": via,
            }
        )
    else:
        statements += [
            {
                "Sid": "MasterSecretKey",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": master_key_arn,
                "Condition": via,
            },
            {
                "Sid": "TenantSecretKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": tenant_key_arn,
                "Condition": via,
            },
        ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def read_policy(secret_arns: Sequence[str], key_arn: str, region: str) -> str:
    """Read exactly these Secrets Manager secrets (External Secrets' role), decrypting through Secrets Manager."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadTenantSecrets",
                    "Effect": "Allow",
                    "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    "Resource": list(secret_arns) if len(secret_arns) > 1 else secret_arns[0],
                },
                {
                    "Sid": "DecryptTenantSecrets",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": key_arn,
                    "Condition": {
                        "StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}
                    },
                },
            ],
        }
    )
