"""The pipelines' IAM identity policies: the artifact store under the pipelines' prefix, and nothing else.

The workflow service account (every step, and Argo's executor in the step's pod, which uploads the step's
artifacts and logs) reads and writes under the prefix; the Argo server only reads there (it shows artifacts
and archived logs in the UI). The bucket's key only through S3. :func:`artifact_policy` is MLflow's: the same
document, one home.
"""

from __future__ import annotations

import json

from mlops_platform.components.mlflow.iam import artifact_policy

__all__ = ["artifact_policy", "artifact_read_policy"]


def artifact_read_policy(bucket_arn: str, prefix: str, data_key_arn: str, region: str) -> str:
    """Read-only on ``<bucket>/<prefix>/*``, listing only under that prefix, decrypting only through S3."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadPipelineArtifacts",
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": f"{bucket_arn}/{prefix}/*",
                },
                {
                    "Sid": "ListPipelineArtifacts",
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": bucket_arn,
                    "Condition": {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}},
                },
                {
                    "Sid": "DecryptPipelineArtifacts",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": data_key_arn,
                    "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
                },
            ],
        }
    )
