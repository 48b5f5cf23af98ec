"""mlops_platform.components.database.iam: the tenant job reads the master secret and writes its own; External Secrets only reads."""

from __future__ import annotations

import json

import pytest

from mlops_platform.components.database.iam import job_policy, read_policy

REGION = "eu-west-1"
MASTER = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0123-abcdef"
TENANT = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:t-AbCdEf"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-4333-8444-555555555555"
OTHER_KEY = KEY.replace("11111111", "99999999")
VIA = {"StringEquals": {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}}


def _job(master_key: str, tenant_key: str) -> dict[str, dict]:
    doc = json.loads(
        job_policy(
            master_secret_arn=MASTER,
            master_key_arn=master_key,
            tenant_secret_arn=TENANT,
            tenant_key_arn=tenant_key,
            region=REGION,
        )
    )
    assert doc["Version"] == "2012-10-17"
    return {s["Sid"]: s for s in doc["Statement"]}


def test_the_job_reads_the_master_secret_and_writes_only_the_tenant_secret() -> None:
    by_sid = _job(KEY, KEY)
    assert by_sid["ReadMasterSecret"] == {
        "Sid": "ReadMasterSecret",
        "Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
        "Resource": MASTER,
    }
    assert by_sid["WriteTenantSecret"]["Action"] == [
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "secretsmanager:PutSecretValue",
    ]
    assert by_sid["WriteTenantSecret"]["Resource"] == TENANT


def test_one_key_for_both_secrets_is_one_statement_through_secrets_manager() -> None:
    by_sid = _job(KEY, KEY)
    assert set(by_sid) == {"ReadMasterSecret", "WriteTenantSecret", "SecretKeys"}
    assert by_sid["SecretKeys"] == {
        "Sid": "SecretKeys",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": KEY,
        "Condition": VIA,
    }


def test_two_keys_grant_each_only_what_its_secret_needs() -> None:
    by_sid = _job(OTHER_KEY, KEY)
    assert set(by_sid) == {"ReadMasterSecret", "WriteTenantSecret", "MasterSecretKey", "TenantSecretKey"}
    assert by_sid["MasterSecretKey"] == {
        "Sid": "MasterSecretKey",
        "Effect": "Allow",
        "Action": "kms:Decrypt",  # read only: the job never writes the master secret
        "Resource": OTHER_KEY,
        "Condition": VIA,
    }
    assert by_sid["TenantSecretKey"]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert by_sid["TenantSecretKey"]["Resource"] == KEY
    assert by_sid["TenantSecretKey"]["Condition"] == VIA


@pytest.mark.parametrize(("arns", "resource"), [([TENANT], TENANT), (["arn:a", "arn:b"], ["arn:a", "arn:b"])])
def test_external_secrets_reads_exactly_the_tenant_secrets(arns: list[str], resource: object) -> None:
    read, decrypt = json.loads(read_policy(arns, KEY, REGION))["Statement"]
    assert read == {
        "Sid": "ReadTenantSecrets",
        "Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
        "Resource": resource,
    }
    assert decrypt == {
        "Sid": "DecryptTenantSecrets",
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": KEY,
        "Condition": VIA,
    }
