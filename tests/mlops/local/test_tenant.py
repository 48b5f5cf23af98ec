"""mlops_platform.mlops.local.tenant without a database: what the tenant job's local environment replaces and adds."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from mlops_platform.components.mlflow.server import RDS_CA_BUNDLE_PATH
from mlops_platform.mlops.local.s3 import FAKE_AWS_ACCESS_KEY_ID, S3Server
from mlops_platform.mlops.local.tenant import local_job_env


def test_local_job_env_replaces_the_ca_bundle_and_home_and_adds_moto(tmp_path: Path) -> None:
    s3 = S3Server(
        endpoint="http://127.0.0.1:1", region="eu-west-1", bucket="b", kms_key_arn="", server=cast(Any, None)
    )
    env = local_job_env(tmp_path, s3=s3, ca_file=tmp_path / "ca.pem")
    assert env["PGSSLROOTCERT"] == str(tmp_path / "ca.pem") != RDS_CA_BUNDLE_PATH
    assert Path(env["HOME"]).is_dir() and Path(env["HOME"]).parent == tmp_path
    assert env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] == s3.endpoint
    assert env["AWS_ACCESS_KEY_ID"] == FAKE_AWS_ACCESS_KEY_ID
    assert set(env) == {
        "PGSSLROOTCERT",
        "HOME",
        "PATH",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    }
