"""ArtifactStore under the recording monitor: hardening of both buckets, policies, lifecycle, logging."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest

from mlops_platform.components.artifact_store import (
    ACCESS_LOG_ENCRYPTION,
    ArtifactStore,
    ArtifactStoreArgs,
    access_policy,
    artifact_bucket_policy,
    log_bucket_policy,
)
from mlops_platform.components.aws_context import AwsContext
from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.graph import Graph, Resource

REPO = Path(__file__).resolve().parents[2]
CTX = AwsContext(account_id="210987654321", region="eu-west-1")
KEY = "arn:aws:kms:eu-west-1:210987654321:key/11111111-2222-4333-8444-555555555555"
BUCKET = "acme-ml-artifacts"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"


def render(**overrides: Any) -> Graph:
    args: dict[str, Any] = {"bucket_name": BUCKET, "kms_key_arn": KEY, "aws_context": CTX}
    args.update(overrides)

    def program() -> None:
        store = ArtifactStore("art", ArtifactStoreArgs(**args))
        pulumi.export("bucketName", store.bucket_name)
        pulumi.export("bucketArn", store.bucket_arn)
        pulumi.export("readOnly", store.read_only_policy)
        pulumi.export("readWrite", store.read_write_policy)
        pulumi.export("mlflowReadWrite", store.policy_document("mlflow", write=True))
        pulumi.export("datasetsRead", store.policy_document("/datasets/", write=False))

    return run_callable(program, root=REPO)


@pytest.fixture(scope="module")
def graph() -> Graph:
    return render(noncurrent_version_days=365, intelligent_tiering_days=90, access_log_retention_days=400)


def config_of(graph: Graph, type_: str, bucket_resource: Resource) -> Resource:
    found = [r for r in graph.of_type(type_) if r.inputs.get("bucket") == bucket_resource.outputs["id"]]
    assert len(found) == 1, f"{type_} for {bucket_resource.name}: {len(found)}"
    return found[0]


def buckets(graph: Graph) -> tuple[Resource, Resource]:
    return graph.one("aws:s3/bucket:Bucket", "art-bucket"), graph.one("aws:s3/bucket:Bucket", "art-logs")


def test_buckets_named_protected_and_never_force_destroyed_by_default(graph: Graph) -> None:
    bucket, logs = buckets(graph)
    assert bucket.inputs["bucket"] == BUCKET
    assert logs.inputs["bucket"] == f"{BUCKET}-logs"
    component = graph.one("mlops:artifact_store:ArtifactStore", "art")
    for b in (bucket, logs):
        assert b.inputs["forceDestroy"] is False
        assert b.protect and b.retain_on_delete
        assert b.parent == component.urn
    assert bucket.inputs["objectLockEnabled"] is False
    assert graph.outputs["bucketName"] == BUCKET
    assert graph.outputs["bucketArn"] == BUCKET_ARN


def test_both_buckets_versioned_private_and_acls_disabled(graph: Graph) -> None:
    for b in buckets(graph):
        versioning = config_of(graph, "aws:s3/bucketVersioning:BucketVersioning", b)
        assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
        pab = config_of(graph, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", b).inputs
        assert all(
            pab[k] is True
            for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        )
        ownership = config_of(graph, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", b)
        assert ownership.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"


def test_artifact_bucket_uses_the_customer_key_with_a_bucket_key(graph: Graph) -> None:
    bucket, _ = buckets(graph)
    sse = config_of(
        graph,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        bucket,
    )
    (rule,) = sse.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY}
    assert rule["bucketKeyEnabled"] is True


def test_log_bucket_uses_sse_s3_as_server_access_logging_requires(graph: Graph) -> None:
    _, logs = buckets(graph)
    sse = config_of(
        graph, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", logs
    )
    (rule,) = sse.inputs["rules"]
    assert ACCESS_LOG_ENCRYPTION == "AES256"
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    assert logs.inputs["tags"]["purpose"] == "s3-access-logs"


def test_artifact_bucket_policy_denies_plain_http_and_foreign_encryption(graph: Graph) -> None:
    bucket, _ = buckets(graph)
    policy = json.loads(config_of(graph, "aws:s3/bucketPolicy:BucketPolicy", bucket).inputs["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    tls = statements["DenyInsecureTransport"]
    assert tls["Effect"] == "Deny"
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert tls["Resource"] == [BUCKET_ARN, f"{BUCKET_ARN}/*"]
    # Each deny fires only when the header it checks is present: an upload relying on the bucket's default
    # encryption (no header, as MLflow's boto3 uploads do) must not be denied.
    assert statements["DenyUploadsNotUsingKms"]["Condition"] == {
        "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
        "Null": {"s3:x-amz-server-side-encryption": "false"},
    }
    assert statements["DenyUploadsWithAnotherKey"]["Condition"] == {
        "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": KEY},
        "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"},
    }
    for statement in policy["Statement"]:
        # "...IfExists" in a Deny matches requests that lack the key, i.e. plain default-encrypted uploads.
        assert not any(op.endswith("IfExists") for op in statement.get("Condition", {})), statement["Sid"]
    assert statements["DenyKmsUploadsWithoutKeyId"]["Condition"] == {
        "StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
        "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "true"},
    }
    assert statements["DenyCustomerProvidedKeys"]["Condition"] == {
        "Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}
    }
    assert all(s["Effect"] == "Deny" for s in policy["Statement"])


def test_log_bucket_admits_log_delivery_for_the_artifact_bucket_only(graph: Graph) -> None:
    _, logs = buckets(graph)
    policy = json.loads(config_of(graph, "aws:s3/bucketPolicy:BucketPolicy", logs).inputs["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    delivery = statements["AllowS3ServerAccessLogDelivery"]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Action"] == "s3:PutObject"
    assert delivery["Resource"] == f"arn:aws:s3:::{BUCKET}-logs/{BUCKET}/*"
    assert delivery["Condition"] == {
        "ArnLike": {"aws:SourceArn": BUCKET_ARN},
        "StringEquals": {"aws:SourceAccount": "210987654321"},
    }


def test_server_access_logging_to_the_log_bucket(graph: Graph) -> None:
    bucket, logs = buckets(graph)
    logging = graph.one("aws:s3/bucketLogging:BucketLogging")
    assert logging.inputs["bucket"] == bucket.outputs["id"]
    assert logging.inputs["targetBucket"] == logs.outputs["id"]
    assert logging.inputs["targetPrefix"] == f"{BUCKET}/"
    assert logging.inputs["targetObjectKeyFormat"]["partitionedPrefix"]["partitionDateSource"] == "EventTime"
    log_policy = config_of(graph, "aws:s3/bucketPolicy:BucketPolicy", logs)
    assert log_policy.urn in logging.dependencies
    # The log bucket does not log itself.
    assert len(graph.of_type("aws:s3/bucketLogging:BucketLogging")) == 1


def test_lifecycle_rules(graph: Graph) -> None:
    bucket, logs = buckets(graph)
    rules = {
        r["id"]: r
        for r in config_of(
            graph, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", bucket
        ).inputs["rules"]
    }
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {"noncurrentDays": 365}
    assert rules["expire-noncurrent-versions"]["expiration"] == {"expiredObjectDeleteMarker": True}
    assert rules["abort-incomplete-multipart-uploads"]["abortIncompleteMultipartUpload"] == {
        "daysAfterInitiation": 7
    }
    assert rules["intelligent-tiering"]["transitions"] == [
        {"days": 90, "storageClass": "INTELLIGENT_TIERING"}
    ]
    assert all(r["status"] == "Enabled" for r in rules.values())
    log_rules = {
        r["id"]: r
        for r in config_of(
            graph, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", logs
        ).inputs["rules"]
    }
    assert log_rules["expire-access-logs"]["expiration"] == {"days": 400}
    assert "abort-incomplete-multipart-uploads" in log_rules


def test_no_tiering_rule_or_object_lock_by_default() -> None:
    graph = render()
    bucket, _ = buckets(graph)
    lifecycle = config_of(graph, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", bucket)
    assert "intelligent-tiering" not in {r["id"] for r in lifecycle.inputs["rules"]}
    assert not graph.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")


def test_object_lock_when_asked() -> None:
    graph = render(object_lock=True, object_lock_days=90)
    bucket, logs = buckets(graph)
    assert bucket.inputs["objectLockEnabled"] is True
    assert logs.inputs["objectLockEnabled"] is False
    lock = graph.one("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert lock.inputs["bucket"] == bucket.outputs["id"]
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "GOVERNANCE", "days": 90}


def test_dev_style_relaxation_is_explicit() -> None:
    graph = render(force_destroy=True, protect=False)
    for b in buckets(graph):
        assert b.inputs["forceDestroy"] is True
        assert not b.protect and not b.retain_on_delete


def test_read_only_policy(graph: Graph) -> None:
    policy = json.loads(graph.outputs["readOnly"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert "WriteObjects" not in statements
    assert statements["ReadObjects"]["Resource"] == f"{BUCKET_ARN}/*"
    assert "Condition" not in statements["ListPrefix"]
    kms = statements["UseDataKeyThroughS3"]
    assert kms["Action"] == ["kms:Decrypt"]
    assert kms["Resource"] == KEY
    assert kms["Condition"]["StringEquals"] == {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    actions = json.dumps(policy)
    assert "s3:PutObject" not in actions and "s3:DeleteObject" not in actions


def test_read_write_policy_scoped_to_a_prefix(graph: Graph) -> None:
    policy = json.loads(graph.outputs["mlflowReadWrite"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["ListPrefix"]["Condition"] == {"StringLike": {"s3:prefix": ["mlflow/", "mlflow/*"]}}
    assert statements["ReadObjects"]["Resource"] == f"{BUCKET_ARN}/mlflow/*"
    assert statements["WriteObjects"]["Resource"] == f"{BUCKET_ARN}/mlflow/*"
    assert "s3:PutObject" in statements["WriteObjects"]["Action"]
    assert "s3:DeleteObjectVersion" not in json.dumps(policy)  # versions survive a compromised writer
    kms = statements["UseDataKeyThroughS3"]
    assert kms["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert kms["Condition"]["StringLike"] == {
        "kms:EncryptionContext:aws:s3:arn": [BUCKET_ARN, f"{BUCKET_ARN}/mlflow/*"]
    }
    assert "*" not in json.dumps(
        [
            s["Resource"]
            for s in policy["Statement"]
            if s["Sid"] != "ReadObjects" and s["Sid"] != "WriteObjects"
        ]
    )


def test_prefix_is_normalised(graph: Graph) -> None:
    policy = json.loads(graph.outputs["datasetsRead"])
    reads = next(s for s in policy["Statement"] if s["Sid"] == "ReadObjects")
    assert reads["Resource"] == f"{BUCKET_ARN}/datasets/*"


def test_access_policy_is_plain_data() -> None:
    doc = access_policy(BUCKET_ARN, KEY, "a/b", write=True, s3_service="s3.us-east-1.amazonaws.com")
    assert doc["Version"] == "2012-10-17"
    assert any(s["Sid"] == "ListMultipartUploads" for s in doc["Statement"])


@pytest.mark.parametrize("name", ["ab", "x" * 64])
def test_bucket_name_length(name: str) -> None:
    with pytest.raises(ValueError, match="3 to 63"):
        render(bucket_name=name, log_bucket_name="valid-logs")


def test_artifact_bucket_policy_is_tls_then_the_four_encryption_denies() -> None:
    doc = artifact_bucket_policy(BUCKET_ARN, KEY)
    assert [s["Sid"] for s in doc["Statement"]] == [
        "DenyInsecureTransport",
        "DenyUploadsNotUsingKms",
        "DenyUploadsWithAnotherKey",
        "DenyKmsUploadsWithoutKeyId",
        "DenyCustomerProvidedKeys",
    ]
    tls, *uploads = doc["Statement"]
    assert tls["Resource"] == [BUCKET_ARN, f"{BUCKET_ARN}/*"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert all(s["Effect"] == "Deny" and s["Action"] == "s3:PutObject" for s in uploads)
    assert uploads[1]["Condition"]["StringNotEquals"] == {
        "s3:x-amz-server-side-encryption-aws-kms-key-id": KEY
    }


def test_log_bucket_policy_admits_log_delivery_under_the_prefix_for_one_source() -> None:
    logs = f"{BUCKET_ARN}-logs"
    tls, delivery = log_bucket_policy(logs, BUCKET_ARN, f"{BUCKET}/", "210987654321")["Statement"]
    assert tls["Sid"] == "DenyInsecureTransport"
    assert delivery == {
        "Sid": "AllowS3ServerAccessLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{logs}/{BUCKET}/*",
        "Condition": {
            "ArnLike": {"aws:SourceArn": BUCKET_ARN},
            "StringEquals": {"aws:SourceAccount": "210987654321"},
        },
    }
