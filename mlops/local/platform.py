"""The trio, started in the platform's order and stopped in reverse: PostgreSQL, S3 (moto), MLflow."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mlops_platform.components.mlflow.server import PLATFORM_DB_CREDENTIALS
from mlops_platform.mlops.local.mlflow import MlflowServer, local_spec, start_mlflow
from mlops_platform.mlops.local.postgres import PostgresServer, start_postgres
from mlops_platform.mlops.local.processes import StepRun, make_root
from mlops_platform.mlops.local.s3 import S3Server, start_s3
from mlops_platform.mlops.local.tenant import create_database_secrets, ensure_tenant


@dataclass
class LocalPlatform:
    root: Path
    pg: PostgresServer
    s3: S3Server
    mlflow: MlflowServer
    tenant_runs: list[StepRun] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.mlflow.url

    def write_credentials(self) -> Path:
        """``root/credentials.env`` (0600): what a client needs to talk to the local server."""
        path = self.root / "credentials.env"
        path.write_text(
            f"MLFLOW_TRACKING_URI={self.mlflow.url}\n"
            f"MLFLOW_TRACKING_USERNAME={self.mlflow.admin_username}\n"
            f"MLFLOW_TRACKING_PASSWORD={self.mlflow.admin_password}\n"
        )
        path.chmod(0o600)
        return path


@contextlib.contextmanager
def local_platform(
    *,
    port: int | None = None,
    workers: int = 2,
    root: Path | None = None,
    db_credentials: str = PLATFORM_DB_CREDENTIALS,
) -> Iterator[LocalPlatform]:
    """Start PostgreSQL, S3 and MLflow; stop all of them and remove every temporary directory on exit."""
    root = root or make_root()
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        pg = start_postgres(root)
        stack.callback(pg.stop)
        s3 = start_s3()
        stack.callback(s3.stop)
        # The platform's order: the tenant Job (role, database, password), then the migration Job, then the server.
        create_database_secrets(pg, s3)
        tenant = ensure_tenant(root, pg=pg, s3=s3)
        spec = local_spec(pg=pg, s3=s3, workers=workers, db_credentials=db_credentials)
        mlflow = start_mlflow(root, pg=pg, s3=s3, spec=spec, port=port)
        stack.callback(mlflow.stop)
        yield LocalPlatform(root=root, pg=pg, s3=s3, mlflow=mlflow, tenant_runs=[tenant])
