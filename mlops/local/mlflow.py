"""The MLflow server, locally, with the command, arguments and environment the platform's Deployment runs
(:func:`mlops_platform.components.mlflow.server.server_spec`), after the migration Job's commands."""

from __future__ import annotations

import secrets
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlops_platform.components.mlflow.server import (
    AUTH_ADMIN_USERNAME,
    AUTH_CONFIG_KEY,
    AUTH_CONFIG_PATH,
    AUTH_FLASK_SECRET_KEY,
    DB_PASSWORD_KEY,
    DB_SERVICE_FILE_KEY,
    DB_SERVICE_FILE_PATH,
    DB_USERNAME_KEY,
    HEALTH_PATH,
    IMAGE_REPOSITORY,
    IMAGE_TAG,
    PLATFORM_DB_CREDENTIALS,
    RDS_CA_BUNDLE_PATH,
    MlflowServerSpec,
    backend_store_uri,
    migration_spec,
    render_auth_config,
    render_pg_service,
    server_spec,
    service_hosts,
)
from mlops_platform.mlops.local.materialize import LocalSecrets, Materialized, materialize
from mlops_platform.mlops.local.postgres import PostgresServer
from mlops_platform.mlops.local.processes import (
    LOOPBACK,
    LocalPlatformError,
    Process,
    StepRun,
    free_port,
    random_password,
    run_step,
    venv_path,
)
from mlops_platform.mlops.local.s3 import S3Server

DB_SECRET_NAME = "mlflow-db"
AUTH_SECRET_NAME = "mlflow-auth"
#: Files the Deployment mounts from Secrets: container path -> (Secret, key).
FILE_MOUNTS = {
    AUTH_CONFIG_PATH: (AUTH_SECRET_NAME, AUTH_CONFIG_KEY),
    DB_SERVICE_FILE_PATH: (DB_SECRET_NAME, DB_SERVICE_FILE_KEY),
}


@dataclass
class MlflowServer:
    url: str
    admin_username: str
    admin_password: str
    spec: MlflowServerSpec
    materialized: Materialized
    process: Process
    migration: list[StepRun] = field(default_factory=list)

    def stop(self) -> None:
        self.process.stop(signal.SIGTERM)


def local_spec(
    *, pg: PostgresServer, s3: S3Server, workers: int = 2, db_credentials: str = PLATFORM_DB_CREDENTIALS
) -> MlflowServerSpec:
    """The spec as the platform renders it, for the local database and bucket."""
    return server_spec(
        db_host=pg.host,
        db_port=pg.port,
        db_name=pg.db_name,
        artifact_bucket=s3.bucket,
        db_secret_name=DB_SECRET_NAME,
        auth_secret_name=AUTH_SECRET_NAME,
        image=f"{IMAGE_REPOSITORY}:{IMAGE_TAG}",
        region=s3.region,
        workers=workers,
        allowed_hosts=service_hosts(service="mlflow", namespace="mlflow"),
        artifact_kms_key_arn=s3.kms_key_arn,
        db_credentials=db_credentials,
    )


def _localize(env: Mapping[str, str], files: Mapping[str, Path]) -> dict[str, str]:
    """``env`` with every value that is a container path of ``files`` replaced by its local file."""
    return {k: str(files[v]) if v in files else v for k, v in env.items()}


def run_migration(spec: MlflowServerSpec, run: Materialized, *, cwd: Path) -> list[StepRun]:
    """What the migration Job and the server's init container run, in their order, against the local database:
    the schema check (expected to fail on an empty or old schema), the Job's steps, the check again."""
    migration = migration_spec(spec)
    env = {**{k: run.env[k] for k in ("PATH", "HOME", "TMPDIR", "LANG") if k in run.env}}
    env.update(_localize(migration.env, run.files))
    steps = [run_step("check-before", migration.check, env=env, cwd=cwd)]
    for name, argv in migration.steps:
        step = run_step(name, argv, env=env, cwd=cwd)
        steps.append(step)
        if step.returncode != 0:
            raise LocalPlatformError(
                f"migration step {name} failed ({step.returncode}):\n{step.output[-3000:]}"
            )
    steps.append(run_step("check-after", migration.check, env=env, cwd=cwd))
    if steps[-1].returncode != 0:
        raise LocalPlatformError(
            f"the schema is not at head after the migration:\n{steps[-1].output[-3000:]}"
        )
    return steps


def _local_secrets(pg: PostgresServer, admin_password: str) -> LocalSecrets:
    """The two Secrets the Deployment reads: the database user (and its service file), the auth ini and key."""
    return LocalSecrets(
        {
            DB_SECRET_NAME: {
                DB_USERNAME_KEY: pg.user,
                DB_PASSWORD_KEY: pg.password,
                DB_SERVICE_FILE_KEY: render_pg_service(user=pg.user, password=pg.password),
            },
            AUTH_SECRET_NAME: {
                AUTH_CONFIG_KEY: render_auth_config(
                    admin_username=AUTH_ADMIN_USERNAME,
                    admin_password=admin_password,
                    database_uri=backend_store_uri(host=pg.host, port=pg.port, db_name=pg.db_name),
                ),
                AUTH_FLASK_SECRET_KEY: secrets.token_hex(32),
            },
        }
    )


def _image_env(root: Path) -> dict[str, str]:
    """What the image provides: PATH with the server's virtualenv first, HOME and TMPDIR (an emptyDir)."""
    home = root / "home"
    home.mkdir(mode=0o700)
    (root / "tmp").mkdir(mode=0o700, exist_ok=True)
    return {"PATH": venv_path(), "HOME": str(home), "TMPDIR": str(root / "tmp"), "LANG": "C.UTF-8"}


def start_mlflow(
    root: Path,
    *,
    pg: PostgresServer,
    s3: S3Server,
    spec: MlflowServerSpec,
    port: int | None = None,
    timeout: float = 150.0,
) -> MlflowServer:
    """Start the MLflow server from ``spec`` against ``pg`` and ``s3``; wait until /health answers.

    With the platform's service-file credentials the migration Job's commands run first
    (:func:`run_migration`), so the server starts on a schema at head, as the Deployment's init container
    makes it wait for; the ``env`` mode, kept only to show its rotation limitation, lets the server create its
    schema itself."""
    admin_password = random_password()
    port = port or free_port()
    run = materialize(
        spec,
        secrets_=_local_secrets(pg, admin_password),
        port=port,
        volumes_root=root,
        s3_endpoint=s3.endpoint,
        base_env=_image_env(root),
        file_mounts=FILE_MOUNTS,
        image_files={RDS_CA_BUNDLE_PATH: pg.ca_file},
    )
    migration = run_migration(spec, run, cwd=root / "tmp") if "PGSERVICEFILE" in spec.env else []
    process = Process.start("mlflow", run.argv, env=run.env, cwd=root / "tmp", log_path=root / "mlflow.log")
    server = MlflowServer(
        url=f"http://{LOOPBACK}:{port}",
        admin_username=AUTH_ADMIN_USERNAME,
        admin_password=admin_password,
        spec=spec,
        materialized=run,
        process=process,
        migration=migration,
    )
    try:
        _wait_for_health(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_for_health(server: MlflowServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    url = server.url + HEALTH_PATH
    while time.monotonic() < deadline:
        if not server.process.alive():
            raise LocalPlatformError(
                f"mlflow server exited ({server.process.popen.returncode}) before {HEALTH_PATH} answered:\n"
                f"{server.process.log_tail()}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise LocalPlatformError(
        f"mlflow server: {url} did not answer within {timeout:.0f}s:\n{server.process.log_tail()}"
    )
