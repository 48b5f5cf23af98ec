""".ci/deploy/run-in-vpc.sh (deploy phase 2 from the workflow) against moto's server on loopback, through the
real AWS CLI: it uploads exactly the commit as a versioned, KMS-encrypted object, starts the environment's
deploy runner on that object version with the commit, waits for the result, and refuses to start while the
MLflow image is missing."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from mlops_platform.components.deploy_runner import source_key
from mlops_platform.components.mlflow.server import IMAGE_TAG

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / ".ci" / "deploy" / "run-in-vpc.sh"
BUCKET = "123456789012-eu-west-1-pulumi-state"

pytestmark = pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    server = Path(sys.executable).with_name("moto_server")
    log = (tmp_path_factory.mktemp("moto") / "server.log").open("w")
    proc = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def env_for(endpoint: str, tmp: Path) -> dict[str, str]:
    return {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PYTHONPATH": str(REPO),
        "HOME": str(tmp),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "PULUMI_BACKEND_URL": f"s3://{BUCKET}?region=eu-west-1&awssdk=v2",
    }


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def setup_account(endpoint: str, env_name: str, *, image: bool) -> None:
    s3 = client(endpoint, "s3")
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        # As `mlops bootstrap` creates it: SSE-KMS with the secrets key by default.
        key = client(endpoint, "kms").create_key(Description="pulumi secrets")["KeyMetadata"]["Arn"]
        s3.put_bucket_encryption(
            Bucket=BUCKET,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": key,
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
    ecr = client(endpoint, "ecr")
    ecr.create_repository(repositoryName=f"mlops-{env_name}/mlflow")
    if image:
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
        ecr.put_image(
            repositoryName=f"mlops-{env_name}/mlflow", imageManifest=json.dumps(manifest), imageTag=IMAGE_TAG
        )
    client(endpoint, "codebuild").create_project(
        name=f"mlops-{env_name}-deploy",
        source={"type": "S3", "location": f"{BUCKET}/{source_key(env_name)}"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "LINUX_CONTAINER", "image": "img:1", "computeType": "BUILD_GENERAL1_SMALL"},
        serviceRole="arn:aws:iam::123456789012:role/mlops-deploy/runner",
    )


def commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_uploads_the_commit_and_runs_the_build_on_that_version(endpoint: str, tmp_path: Path) -> None:
    setup_account(endpoint, "dev", image=True)
    sha = commit()
    result = subprocess.run(
        ["bash", str(SCRIPT), "dev", sha],
        env=env_for(endpoint, tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCEEDED" in result.stdout

    s3 = client(endpoint, "s3")
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=source_key("dev"))["Versions"]
    assert len(versions) == 1
    obj = s3.get_object(Bucket=BUCKET, Key=source_key("dev"))
    # The bucket's own key (the upload names none: `--server-side-encryption aws:kms` alone would pick the
    # AWS-managed aws/s3 key instead of the bucket's customer-managed one).
    assert obj["ServerSideEncryption"] == "aws:kms"
    bucket_key = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0][
        "ApplyServerSideEncryptionByDefault"
    ]["KMSMasterKeyID"]
    assert obj["SSEKMSKeyId"] == bucket_key
    with zipfile.ZipFile(io.BytesIO(obj["Body"].read())) as archive:
        names = set(archive.namelist())
    tracked = set(
        subprocess.run(
            ["git", "ls-tree", "-r", "--name-only", sha], cwd=REPO, capture_output=True, text=True
        ).stdout.split()
    )
    files = {n for n in names if not n.endswith("/")}
    assert files == tracked, "the build input is exactly the commit's tracked files"
    assert ".ci/deploy/buildspec.yml" in files and not any(n.startswith(".git/") for n in files)

    codebuild = client(endpoint, "codebuild")
    (build_id,) = codebuild.list_builds_for_project(projectName="mlops-dev-deploy")["ids"]
    build = codebuild.batch_get_builds(ids=[build_id])["builds"][0]
    assert build["sourceVersion"] == versions[0]["VersionId"]
    assert f"started {build_id}" in result.stdout


def test_refuses_to_start_before_the_mlflow_image_exists(endpoint: str, tmp_path: Path) -> None:
    setup_account(endpoint, "staging", image=False)
    result = subprocess.run(
        ["bash", str(SCRIPT), "staging", commit()],
        env=env_for(endpoint, tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert f"mlops-staging/mlflow:{IMAGE_TAG} is not in ECR yet" in result.stderr
    assert (
        client(endpoint, "codebuild").list_builds_for_project(projectName="mlops-staging-deploy")["ids"] == []
    )
    s3 = client(endpoint, "s3")
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=source_key("staging"))


def test_upload_names_no_encryption_that_would_override_the_buckets_key() -> None:
    """S3 encrypts an upload that says `--server-side-encryption aws:kms` without a key id with the AWS-managed
    aws/s3 key, not the bucket's default customer-managed key (moto does not model that, hence this check)."""
    script = SCRIPT.read_text(encoding="utf-8").replace("\\\n", " ")
    (upload,) = [line for line in script.splitlines() if "s3api put-object" in line]
    assert "--server-side-encryption" not in upload or "--ssekms-key-id" in upload, upload
