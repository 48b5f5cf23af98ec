"""mlops_platform.components.mlflow.iam: the server's artifact policy reaches one prefix of one bucket, and its key through S3."""

from __future__ import annotations

import json

from mlops_platform.components.mlflow.iam import artifact_policy

BUCKET_ARN = "arn:aws:s3:::mlops-dev-artifacts"
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-4333-8444-555555555555"


def test_objects_listing_and_key_are_each_narrowed() -> None:
    doc = json.loads(artifact_policy(BUCKET_ARN, "mlflow", KEY_ARN, "eu-west-1"))
    assert doc["Version"] == "2012-10-17"
    objects, listing, key = doc["Statement"]
    assert objects == {
        "Sid": "ArtifactObjects",
        "Effect": "Allow",
        "Action": [
            "s3:GetObject",
            "s3:PutObject",
            "s3:DeleteObject",
            "s3:AbortMultipartUpload",
            "s3:ListMultipartUploadParts",
        ],
        "Resource": "arn:aws:s3:::mlops-dev-artifacts/mlflow/*",
    }
    assert listing == {
        "Sid": "ArtifactListing",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": BUCKET_ARN,
        "Condition": {"StringLike": {"s3:prefix": ["mlflow", "mlflow/*"]}},
    }
    assert key == {
        "Sid": "ArtifactKey",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": KEY_ARN,
        "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
    }


def test_no_statement_grants_deletion_of_the_bucket_or_its_policy() -> None:
    doc = json.loads(artifact_policy(BUCKET_ARN, "team/a", KEY_ARN, "us-gov-west-1"))
    actions = [
        a for s in doc["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert not [a for a in actions if a.startswith("s3:DeleteBucket") or a.startswith("s3:PutBucket")]
    assert doc["Statement"][0]["Resource"].endswith("/team/a/*")
    assert (
        doc["Statement"][2]["Condition"]["StringEquals"]["kms:ViaService"] == "s3.us-gov-west-1.amazonaws.com"
    )
