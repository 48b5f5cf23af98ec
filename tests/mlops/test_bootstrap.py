"""`mlops bootstrap` against moto's AWS: create, idempotent re-run, misconfiguration reported, output."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from mlops_platform.mlops.bootstrap import DELETE_SID, TLS_SID, BootstrapError, Bootstrapper
from mlops_platform.mlops.cli import main

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's account
BUCKET = f"{ACCOUNT}-{REGION}-pulumi-state"


@pytest.fixture(autouse=True)
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


def _boot(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    code = main(["bootstrap", "--region", REGION, *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_first_run_creates_a_hardened_bucket_and_a_rotating_key(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _boot(capsys)
    assert code == 0, err
    assert f"state bucket {BUCKET}: created" in out
    assert "KMS key alias/pulumi-secrets: created" in out

    kms = boto3.client("kms", region_name=REGION)
    key = kms.describe_key(KeyId="alias/pulumi-secrets")["KeyMetadata"]
    assert key["KeyManager"] == "CUSTOMER" and key["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True

    s3 = boto3.client("s3", region_name=REGION)
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": key["Arn"],
    }
    assert rule["BucketKeyEnabled"] is True
    pab = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(
        pab[k] for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    )
    ownership = s3.get_bucket_ownership_controls(Bucket=BUCKET)["OwnershipControls"]["Rules"][0]
    assert ownership["ObjectOwnership"] == "BucketOwnerEnforced"
    policy = {s["Sid"]: s for s in json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]}
    assert policy[TLS_SID]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert policy[TLS_SID]["Effect"] == "Deny" and policy[TLS_SID]["Action"] == "s3:*"
    assert policy[DELETE_SID] == {
        "Sid": DELETE_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:DeleteBucket",
        "Resource": f"arn:aws:s3:::{BUCKET}",
    }
    # Nothing denies policy edits: the deletion guard stays removable by an administrator.
    assert not any("PutBucketPolicy" in json.dumps(s) for s in policy.values())
    rules = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert rules[0]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 90
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]}
    assert tags["managed-by"] == "mlops-bootstrap"


def test_second_run_changes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert _boot(capsys)[0] == 0
    kms = boto3.client("kms", region_name=REGION)
    keys_before = kms.list_keys()["Keys"]
    policy_before = boto3.client("s3", region_name=REGION).get_bucket_policy(Bucket=BUCKET)["Policy"]

    code, out, err = _boot(capsys)
    assert code == 0, err
    assert f"state bucket {BUCKET}: unchanged" in out
    assert "KMS key alias/pulumi-secrets: unchanged" in out
    assert kms.list_keys()["Keys"] == keys_before
    assert boto3.client("s3", region_name=REGION).get_bucket_policy(Bucket=BUCKET)["Policy"] == policy_before


def test_prints_login_and_stack_init_lines(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _boot(capsys, "--environments", "dev,prod")
    assert code == 0
    lines = [line.strip() for line in out.splitlines()]
    assert f'pulumi login "s3://{BUCKET}?region={REGION}&awssdk=v2"' in lines
    provider = f'--secrets-provider "awskms://alias/pulumi-secrets?region={REGION}"'
    assert f"pulumi stack init organization/mlops-platform/dev {provider}" in lines
    assert f"pulumi stack init organization/mlops-platform/prod {provider}" in lines
    assert not any("staging" in line for line in lines)


def test_dry_run_creates_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _boot(capsys, "--dry-run", "--bucket", "acme-state")
    assert code == 0
    assert "state bucket acme-state: would create" in out
    assert "KMS key alias/pulumi-secrets: would create" in out
    assert "dry run, nothing changed" in out
    assert boto3.client("s3", region_name=REGION).list_buckets()["Buckets"] == []
    kms = boto3.client("kms", region_name=REGION)
    assert kms.list_keys()["Keys"] == []
    assert all(a["AliasName"] != "alias/pulumi-secrets" for a in kms.list_aliases()["Aliases"])


def test_misconfigured_bucket_is_reported_and_left_alone(capsys: pytest.CaptureFixture[str]) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="legacy-state", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_encryption(
        Bucket="legacy-state",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )

    code, out, err = _boot(capsys, "--bucket", "legacy-state")
    assert code == 1
    assert "state bucket legacy-state: misconfigured" in err
    for problem in (
        "versioning is off; expected Enabled",
        "default encryption is AES256; expected aws:kms",
        "public access block settings off: BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets",
        "the bucket policy does not deny requests without TLS",
        "the bucket policy does not deny s3:DeleteBucket",
        "no enabled lifecycle rule expires noncurrent versions",
    ):
        assert problem in err
    assert "nothing was changed" in err
    assert "pulumi login" not in out + err
    # Never silently changed.
    assert s3.get_bucket_versioning(Bucket="legacy-state").get("Status") is None
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_bucket_policy(Bucket="legacy-state")


def test_bucket_encrypted_with_another_key_and_key_without_rotation_are_reported(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _boot(capsys)[0] == 0
    kms = boto3.client("kms", region_name=REGION)
    key_id = kms.describe_key(KeyId="alias/pulumi-secrets")["KeyMetadata"]["KeyId"]
    kms.disable_key_rotation(KeyId=key_id)
    other = kms.create_key()["KeyMetadata"]["Arn"]
    boto3.client("s3", region_name=REGION).put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": other}}
            ]
        },
    )
    code, _, err = _boot(capsys)
    assert code == 1
    assert "automatic key rotation is off" in err
    assert f"default encryption uses KMS key {other}" in err
    assert "S3 Bucket Key is off" in err
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False


def test_bucket_in_another_region_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="far-away")
    code, _, err = _boot(capsys, "--bucket", "far-away")
    assert code == 1
    assert "the bucket is in us-east-1, not eu-west-1" in err


def test_missing_region_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert main(["bootstrap"]) == 2
    assert "no region" in capsys.readouterr().err


def test_alias_must_be_an_alias() -> None:
    with pytest.raises(BootstrapError, match="must start with alias/"):
        Bootstrapper(boto3.Session(), region=REGION, key_alias="pulumi-secrets")


def test_noncurrent_days_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _boot(capsys, "--noncurrent-days", "0")
    assert code == 2
    assert "--noncurrent-days must be between 1 and 36500" in err


@pytest.mark.parametrize(
    ("role_name", "service"),
    [
        ("AWSServiceRoleForAutoScaling", "autoscaling.amazonaws.com"),
        ("AWSServiceRoleForEC2Spot", "spot.amazonaws.com"),
    ],
)
def test_creates_each_service_linked_role_once(
    capsys: pytest.CaptureFixture[str], role_name: str, service: str
) -> None:
    """The cluster key's policy names AWSServiceRoleForAutoScaling (KMS refuses a policy naming a missing
    role); Karpenter's Spot launches need AWSServiceRoleForEC2Spot, which its controller may not create."""
    iam = boto3.client("iam", region_name=REGION)
    code, out, err = _boot(capsys, "--dry-run")
    assert code == 0, err
    assert f"service-linked role {role_name}: would create" in out
    assert not iam.list_roles(PathPrefix=f"/aws-service-role/{service}/")["Roles"]

    code, out, err = _boot(capsys)
    assert code == 0, err
    assert f"service-linked role {role_name}: created" in out
    (role,) = iam.list_roles(PathPrefix=f"/aws-service-role/{service}/")["Roles"]
    assert role["Path"] == f"/aws-service-role/{service}/"

    code, out, err = _boot(capsys)
    assert code == 0, err
    assert f"service-linked role {role_name}: unchanged" in out
