"""A server spec turned into a local command line and environment, replacing only what a pod gets from its
cluster: the bind address and port, volumes, files mounted from Secrets, files the image ships, the secret
environment; and adding, for moto, :data:`MOTO_ONLY_ENV`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlops_platform.components.mlflow.server import AUTH_CONFIG_PATH, PROMETHEUS_DIR, MlflowServerSpec
from mlops_platform.mlops.local.processes import LOOPBACK, LocalPlatformError, replace_option
from mlops_platform.mlops.local.s3 import FAKE_AWS_ACCESS_KEY_ID, FAKE_AWS_SECRET_ACCESS_KEY

#: The variables :func:`materialize` adds for moto; they are never part of the server spec.
MOTO_ONLY_ENV = ("MLFLOW_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


@dataclass
class LocalSecrets:
    """Local stand-ins of the Kubernetes Secrets the spec's ``secret_env`` and auth mount name."""

    data: dict[str, dict[str, str]] = field(default_factory=dict)

    def get(self, name: str, key: str) -> str:
        try:
            return self.data[name][key]
        except KeyError:
            raise LocalPlatformError(
                f"the spec reads secret {name!r} key {key!r}, which the local stand-ins lack"
            ) from None


@dataclass(frozen=True)
class Materialized:
    """A server spec turned into a local command line and environment."""

    argv: list[str]
    env: dict[str, str]
    port: int
    files: dict[str, Path]
    prometheus_dir: Path


def _local_args(spec: MlflowServerSpec, port: int, prometheus_dir: Path) -> list[str]:
    args = list(spec.args)
    replace_option(args, "--host", "0.0.0.0", LOOPBACK)
    replace_option(args, "--port", str(spec.port), str(port))
    replace_option(args, "--expose-prometheus", PROMETHEUS_DIR, str(prometheus_dir))
    return args


def _local_files(
    spec: MlflowServerSpec,
    env: dict[str, str],
    *,
    secrets_: LocalSecrets,
    volumes_root: Path,
    file_mounts: Mapping[str, tuple[str, str]],
    image_files: Mapping[str, Path],
) -> dict[str, Path]:
    """Point every variable naming a mounted or shipped file at a local one (in ``env``); container path ->
    local file."""
    files: dict[str, Path] = {}
    for variable, value in spec.env.items():
        if value in file_mounts:  # a file mounted from a Secret: a local copy instead
            name, key = file_mounts[value]
            directory = volumes_root / "mounts" / name
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            local = directory / key
            local.write_text(secrets_.get(name, key))
            local.chmod(0o600)
            env[variable] = str(local)
            files[value] = local
        elif value in image_files:  # a file the image ships: its local stand-in
            env[variable] = str(image_files[value])
            files[value] = image_files[value]
    return files


def _add_moto_env(spec: MlflowServerSpec, env: dict[str, str], s3_endpoint: str) -> None:
    for variable in MOTO_ONLY_ENV:
        if variable in spec.env:
            raise LocalPlatformError(f"the server spec sets {variable}; it must stay unset for real S3")
    env["MLFLOW_S3_ENDPOINT_URL"] = s3_endpoint
    env["AWS_ACCESS_KEY_ID"] = FAKE_AWS_ACCESS_KEY_ID
    env["AWS_SECRET_ACCESS_KEY"] = FAKE_AWS_SECRET_ACCESS_KEY


def materialize(
    spec: MlflowServerSpec,
    *,
    secrets_: LocalSecrets,
    port: int,
    volumes_root: Path,
    s3_endpoint: str,
    base_env: Mapping[str, str],
    file_mounts: Mapping[str, tuple[str, str]],
    image_files: Mapping[str, Path] | None = None,
) -> Materialized:
    """The spec's command, args and env, with only what the pod gets from its cluster replaced locally.

    Replaced: the bind address (``--host``) and port (``--port``), the Prometheus emptyDir path, paths of
    files mounted from Secrets (``file_mounts``: container path -> (Secret, key); the env var pointing at one
    points at a local copy instead), paths of files the image ships (``image_files``: container path -> local
    file, e.g. the RDS CA bundle -> the CA made for the run), ``secret_env`` (resolved from ``secrets_``); added:
    :data:`MOTO_ONLY_ENV`. Everything else is passed through as it is.
    """
    prometheus_dir = volumes_root / "tmp" / Path(PROMETHEUS_DIR).name
    args = _local_args(spec, port, prometheus_dir)
    env = dict(base_env)
    env.update(spec.env)
    if env.get("MLFLOW_AUTH_CONFIG_PATH") != AUTH_CONFIG_PATH:
        raise LocalPlatformError(f"the spec's MLFLOW_AUTH_CONFIG_PATH is not {AUTH_CONFIG_PATH}")
    files = _local_files(
        spec,
        env,
        secrets_=secrets_,
        volumes_root=volumes_root,
        file_mounts=file_mounts,
        image_files=image_files or {},
    )
    for variable, (name, key) in spec.secret_env.items():
        env[variable] = secrets_.get(name, key)
    _add_moto_env(spec, env, s3_endpoint)
    return Materialized(
        argv=[*spec.command, *args],
        env=env,
        port=port,
        files=files,
        prometheus_dir=prometheus_dir,
    )
