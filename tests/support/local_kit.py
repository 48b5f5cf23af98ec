"""What the end-to-end tests do to the local platform (mlops_platform.mlops.local) beyond what ``mlops local`` does.

Rotate the database password as the tenant's CronJob does, drop the server's sessions as a failover would,
run the tenant job with a changed environment, and start the MLflow pod's metrics exporter next to the server.
"""

from __future__ import annotations

import hashlib
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mlops_platform.components.mlflow.metrics import (
    CREDENTIALS_MOUNT,
    METRICS_PORT,
    PASSWORD_SHA256_KEY,
    USERNAME_KEY,
    exporter_spec,
)
from mlops_platform.components.mlflow.server import DB_SERVICE_FILE_PATH, render_pg_service
from mlops_platform.mlops.local.mlflow import MlflowServer
from mlops_platform.mlops.local.platform import LocalPlatform
from mlops_platform.mlops.local.postgres import PostgresServer
from mlops_platform.mlops.local.processes import (
    LOOPBACK,
    LocalPlatformError,
    Process,
    StepRun,
    free_port,
    replace_option,
    venv_path,
)
from mlops_platform.mlops.local.s3 import S3Server
from mlops_platform.mlops.local.tenant import ensure_tenant, local_job_env, run_job, tenant_job_env

# --------------------------------------------------------------------------------------------- the database


def rotate_db_password(platform: LocalPlatform) -> StepRun:
    """What the tenant's rotation CronJob does (its command, mode ``rotate``): a new password for the role,
    in Secrets Manager; then what External Secrets and the kubelet do: the Secret's mounted service file gets
    the new value (environment variables of a running process cannot)."""
    run = ensure_tenant(platform.root, pg=platform.pg, s3=platform.s3, mode="rotate")
    platform.tenant_runs.append(run)
    service_file = platform.mlflow.materialized.files.get(DB_SERVICE_FILE_PATH)
    if service_file is not None:
        service_file.write_text(render_pg_service(user=platform.pg.user, password=platform.pg.password))
    return run


def drop_server_connections(platform: LocalPlatform) -> int:
    """Terminate the server's database sessions (as a failover or restart of the database would)."""
    pg = platform.pg
    admin = pg.connect(user=pg.superuser, password=pg.superuser_password, dbname="postgres")
    try:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = %s", (pg.user,)
            )
            row = cur.fetchone()
    finally:
        admin.close()
    return int(row[0]) if row else 0


def run_tenant_job(
    root: Path,
    *,
    pg: PostgresServer,
    s3: S3Server,
    mode: str,
    env_overrides: Mapping[str, str] | None = None,
    ca_file: Path | None = None,
) -> StepRun:
    """:func:`mlops_platform.mlops.local.tenant.run_tenant_job` with ``env_overrides`` on the rendered environment (another
    tenant, another TLS mode) and the CA bundle ``ca_file`` instead of the database's CA."""
    env = {
        **tenant_job_env(pg, s3),
        **(env_overrides or {}),
        **local_job_env(root, s3=s3, ca_file=ca_file or pg.ca_file),
    }
    return run_job(mode, env)


# --------------------------------------------------------------------------------------------- metrics exporter


@dataclass
class MetricsExporter:
    """The MLflow pod's metrics exporter (mlops_platform.components.mlflow.metrics), next to the local server."""

    url: str
    credentials_dir: Path
    argv: list[str]
    process: Process

    def set_credential(self, username: str, password: str) -> None:
        """What ESO and the kubelet do on rotation: the mounted user name and password hash change."""
        write_metrics_credential(self.credentials_dir, username, password)

    def stop(self) -> None:
        self.process.stop(signal.SIGTERM)


def write_metrics_credential(directory: Path, username: str, password: str) -> None:
    """The two keys of the scrape-credential Secret the exporter mounts (user name, password SHA-256)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for key, value in (
        (USERNAME_KEY, username),
        (PASSWORD_SHA256_KEY, hashlib.sha256(password.encode()).hexdigest()),
    ):
        (directory / key).write_text(value)
        (directory / key).chmod(0o600)


def _exporter_args(args: list[str], *, port: int, mlflow: MlflowServer, credentials: Path) -> list[str]:
    """The pod's arguments with the bind address and port, and the two mounted directories (the shared
    emptyDir, the Secret), replaced."""
    args = list(args)
    replace_option(args, "--bind", "0.0.0.0", LOOPBACK)
    replace_option(args, "--port", str(METRICS_PORT), str(port))
    multiproc_dir = args[args.index("--multiproc-dir") + 1]
    replace_option(args, "--multiproc-dir", multiproc_dir, str(mlflow.materialized.prometheus_dir))
    replace_option(args, "--credentials-dir", CREDENTIALS_MOUNT, str(credentials))
    return args


def _wait_until_healthy(exporter: MetricsExporter, health_path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(exporter.url + health_path, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if not exporter.process.alive() or time.monotonic() > deadline:
            exporter.stop()
            raise LocalPlatformError(f"metrics exporter did not start:\n{exporter.process.log_tail()}")
        time.sleep(0.2)


def start_metrics_exporter(
    root: Path, *, mlflow: MlflowServer, username: str, password: str, timeout: float = 30.0
) -> MetricsExporter:
    """Start :func:`mlops_platform.components.mlflow.metrics.exporter_spec` against ``mlflow``'s metric files; replaced, as for
    the server: the bind address and port, the two mounted directories (the shared emptyDir, the Secret)."""
    spec = exporter_spec(image=mlflow.spec.image)
    port = free_port()
    credentials = root / "mounts" / "metrics-auth"
    args = _exporter_args(list(spec.args), port=port, mlflow=mlflow, credentials=credentials)
    write_metrics_credential(credentials, username, password)
    env = {"PATH": venv_path(), "HOME": str(root / "home"), "LANG": "C.UTF-8", **spec.env}
    argv = [*spec.command, *args]
    process = Process.start("metrics", argv, env=env, cwd=root, log_path=root / "metrics.log")
    exporter = MetricsExporter(
        url=f"http://{LOOPBACK}:{port}", credentials_dir=credentials, argv=argv, process=process
    )
    _wait_until_healthy(exporter, spec.health_path, timeout)
    return exporter
