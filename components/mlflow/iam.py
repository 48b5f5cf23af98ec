"""The MLflow server's IAM identity policy: its artifacts under one prefix of the bucket, and nothing else."""

from __future__ import annotations

import json

__all__ = ["artifact_policy"]


def artifact_policy(bucket_arn: str, prefix: str, data_key_arn: str, region: str) -> str:
    """Read/write on ``<bucket>/<prefix>/*`` only, listing only under that prefix, and the bucket key
    only through S3."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ArtifactObjects",
                    "Effect": "Allow",
                    "Action": [
                        "s3:GetObject",
                        "s3:PutObject",
                        "s3:DeleteObject",
                        "s3:AbortMultipartUpload",
                        "s3:ListMultipartUploadParts",
                    ],
                    "Resource": f"{bucket_arn}/{prefix}/*",
                },
                {
                    "Sid": "ArtifactListing",
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": bucket_arn,
                    "Condition": {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}},
                },
                {
                    "Sid": "ArtifactKey",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": data_key_arn,
                    "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
                },
            ],
        }
    )
