"""The one definition of the MLflow tracking server: image, command, arguments and environment.

STAND-IN written on the ``compute`` branch against the interface agreed with the ``mlflow`` branch
(issue 8), so that ModelRegistry renders before the two branches merge. On merge, TAKE THE ``mlflow``
BRANCH'S VERSION of this file; ModelRegistry only relies on :class:`MlflowServerSpec` and
:func:`server_spec` as declared here.
"""

from __future__ import annotations

from dataclasses import dataclass

AUTH_CONFIG_PATH = "/etc/mlflow/auth/basic_auth.ini"


@dataclass(frozen=True)
class MlflowServerSpec:
    """How to run the server.

    Attributes:
        image: Pinned image reference.
        command: Container command.
        args: Container arguments.
        env: Plain environment variables (no secrets).
        secret_env: Environment variable -> (Kubernetes Secret name, key).
        port: The HTTP port.
        metrics_path: Prometheus metrics path (``--expose-prometheus``).
        health_path: Liveness and readiness path.
    """

    image: str
    command: list[str]
    args: list[str]
    env: dict[str, str]
    secret_env: dict[str, tuple[str, str]]
    port: int
    metrics_path: str
    health_path: str


def server_spec(
    *,
    db_host: str,
    db_port: int,
    db_name: str,
    artifact_bucket: str,
    artifact_prefix: str = "mlflow",
    db_secret_name: str,
    auth_secret_name: str,
    image: str,
    region: str,
    workers: int = 2,
) -> MlflowServerSpec:
    """The server for a PostgreSQL backend store (TLS required, credentials from PGUSER/PGPASSWORD) and an
    S3 artifact store proxied by the server, behind MLflow's basic-auth app."""
    backend = f"postgresql+psycopg2://{db_host}:{db_port}/{db_name}?sslmode=require"
    port = 5000
    return MlflowServerSpec(
        image=image,
        command=["mlflow"],
        args=[
            "server",
            "--host",
            "0.0.0.0",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--backend-store-uri",
            backend,
            "--serve-artifacts",
            "--artifacts-destination",
            f"s3://{artifact_bucket}/{artifact_prefix}",
            "--expose-prometheus",
            "/tmp/prometheus",
            "--app-name",
            "basic-auth",
        ],
        env={
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "MLFLOW_AUTH_CONFIG_PATH": AUTH_CONFIG_PATH,
            "HOME": "/tmp",
        },
        secret_env={
            "PGUSER": (db_secret_name, "username"),
            "PGPASSWORD": (db_secret_name, "password"),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": (auth_secret_name, "flask-secret-key"),
        },
        port=port,
        metrics_path="/metrics",
        health_path="/health",
    )
