"""The database tenant, locally: the secrets RDS and Pulumi create, and the tenant Job's own command.

The tenant job (:mod:`mlops_platform.components.database.tenant`) creates the MLflow role, hands it the database and writes
its generated password to the tenant secret; reading that secret back stands in for what External Secrets
syncs into the namespace.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlops_platform.components.database.tenant import JOB_SCRIPT_SOURCE, job_command, job_env
from mlops_platform.components.mlflow.server import RDS_CA_BUNDLE_PATH
from mlops_platform.mlops.local.postgres import PostgresServer
from mlops_platform.mlops.local.processes import LocalPlatformError, StepRun, run_step, venv_path
from mlops_platform.mlops.local.s3 import FAKE_AWS_ACCESS_KEY_ID, FAKE_AWS_SECRET_ACCESS_KEY, S3Server

MASTER_SECRET_NAME = "rds!db-local"
TENANT_SECRET_NAME = "mlops-local/database/mlflow"


def create_database_secrets(pg: PostgresServer, s3: S3Server) -> None:
    """What RDS and Pulumi create in Secrets Manager (moto): the master secret with the master user's
    credentials, and the tenant's secret without a value (the tenant job writes it)."""
    client = s3.client("secretsmanager")
    client.create_secret(
        Name=MASTER_SECRET_NAME,
        KmsKeyId=s3.kms_key_arn,
        SecretString=json.dumps({"username": pg.master_user, "password": pg.master_password}),
    )
    client.create_secret(Name=TENANT_SECRET_NAME, KmsKeyId=s3.kms_key_arn)


def tenant_job_env(pg: PostgresServer, s3: S3Server) -> dict[str, str]:
    """The tenant Job's environment as the component renders it, for the local database and secrets."""
    return job_env(
        host=pg.host,
        port=pg.port,
        database=pg.db_name,
        role=pg.user,
        master_secret_id=MASTER_SECRET_NAME,
        tenant_secret_id=TENANT_SECRET_NAME,
        region=s3.region,
        ca_bundle_path=RDS_CA_BUNDLE_PATH,
    )


def local_job_env(root: Path, *, s3: S3Server, ca_file: Path) -> dict[str, str]:
    """What differs locally from the rendered environment: replaced, the CA bundle's path (``ca_file``) and
    ``HOME`` (a local directory, made here); added, moto's Secrets Manager endpoint and fake keys (workload
    identity) and ``PATH``."""
    home = root / "tenant-home"
    home.mkdir(mode=0o700, exist_ok=True)
    return {
        "PGSSLROOTCERT": str(ca_file),
        "HOME": str(home),
        "PATH": venv_path(),
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": s3.endpoint,
        "AWS_ACCESS_KEY_ID": FAKE_AWS_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": FAKE_AWS_SECRET_ACCESS_KEY,
    }


def run_job(mode: str, env: dict[str, str]) -> StepRun:
    """Run the tenant Job's (``ensure``) or CronJob's (``rotate``) command, :func:`job_command` with this
    repository's copy of the program, in ``env`` (from :func:`local_job_env`, whose ``HOME`` it runs in)."""
    command = job_command(mode, script_path=str(JOB_SCRIPT_SOURCE))
    return run_step(f"tenant-{mode}", command, env=env, cwd=Path(env["HOME"]))


def run_tenant_job(root: Path, *, pg: PostgresServer, s3: S3Server, mode: str) -> StepRun:
    """The tenant job against the local database: :func:`tenant_job_env` with :func:`local_job_env`."""
    env = {**tenant_job_env(pg, s3), **local_job_env(root, s3=s3, ca_file=pg.ca_file)}
    return run_job(mode, env)


def read_tenant_secret(s3: S3Server) -> dict[str, Any]:
    """The tenant secret's current value: what External Secrets syncs into the namespace."""
    value = s3.client("secretsmanager").get_secret_value(SecretId=TENANT_SECRET_NAME)
    return json.loads(value["SecretString"])


def ensure_tenant(root: Path, *, pg: PostgresServer, s3: S3Server, mode: str = "ensure") -> StepRun:
    """Run the tenant job; then what External Secrets does: the role's credentials from the tenant secret."""
    run = run_tenant_job(root, pg=pg, s3=s3, mode=mode)
    if run.returncode != 0:
        raise LocalPlatformError(f"the database tenant job ({mode}) failed ({run.returncode}):\n{run.output}")
    value = read_tenant_secret(s3)
    pg.user, pg.password = value["username"], value["password"]
    return run
