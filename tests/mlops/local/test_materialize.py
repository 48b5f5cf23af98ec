"""mlops_platform.mlops.local.materialize without starting anything: how a server spec becomes a local command line."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mlops_platform.components.mlflow.server import (
    AUTH_CONFIG_KEY,
    AUTH_CONFIG_PATH,
    AUTH_FLASK_SECRET_KEY,
    DB_SERVICE_FILE_KEY,
    DB_SERVICE_FILE_PATH,
    PROMETHEUS_DIR,
    render_pg_service,
    server_spec,
)
from mlops_platform.mlops.local.materialize import MOTO_ONLY_ENV, LocalSecrets, materialize
from mlops_platform.mlops.local.mlflow import FILE_MOUNTS
from mlops_platform.mlops.local.processes import LocalPlatformError

SECRETS = LocalSecrets(
    {
        "mlflow-db": {
            "username": "mlflow",
            "password": "p@ss:w/rd?#%& +",
            DB_SERVICE_FILE_KEY: render_pg_service(user="mlflow", password="p@ss:w/rd?#%& +"),
        },
        "mlflow-auth": {
            AUTH_CONFIG_KEY: "[mlflow]\nadmin_username = admin\n",
            AUTH_FLASK_SECRET_KEY: "f" * 64,
        },
    }
)


def _spec(**overrides):
    args = {
        "db_host": "127.0.0.1",
        "db_port": 54321,
        "db_name": "mlflow",
        "artifact_bucket": "local-artifacts",
        "db_secret_name": "mlflow-db",
        "auth_secret_name": "mlflow-auth",
        "image": "mlflow:3.17.2-platform.1",
        "region": "eu-west-1",
    }
    args.update(overrides)
    return server_spec(**args)


def _materialize(spec, tmp_path: Path, secrets: LocalSecrets = SECRETS):
    return materialize(
        spec,
        secrets_=secrets,
        port=40123,
        volumes_root=tmp_path,
        s3_endpoint="http://127.0.0.1:40124",
        base_env={"PATH": "/venv/bin:/usr/bin", "HOME": str(tmp_path)},
        file_mounts=FILE_MOUNTS,
    )


def test_only_hosts_ports_volumes_and_secrets_change(tmp_path: Path) -> None:
    spec = _spec()
    run = _materialize(spec, tmp_path)
    expected = [*spec.command, *spec.args]
    changed = {expected[i]: run.argv[i] for i in range(len(expected)) if expected[i] != run.argv[i]}
    assert len(run.argv) == len(expected)
    assert changed == {"0.0.0.0": "127.0.0.1", "5000": "40123", PROMETHEUS_DIR: str(run.prometheus_dir)}
    assert run.env["PGUSER"] == "mlflow"
    assert run.env["PGPASSWORD"] == "p@ss:w/rd?#%& +"
    assert run.env["MLFLOW_FLASK_SERVER_SECRET_KEY"] == "f" * 64
    assert run.env["MLFLOW_S3_ENDPOINT_URL"] == "http://127.0.0.1:40124"
    assert run.env["MLFLOW_AUTH_CONFIG_PATH"] == str(run.files[AUTH_CONFIG_PATH])
    assert run.files[AUTH_CONFIG_PATH].read_text() == SECRETS.data["mlflow-auth"][AUTH_CONFIG_KEY]
    assert run.files[AUTH_CONFIG_PATH].stat().st_mode & 0o077 == 0
    for name, value in spec.env.items():
        assert name == "MLFLOW_AUTH_CONFIG_PATH" or run.env[name] == value
    assert set(run.env) - set(spec.env) - set(spec.secret_env) == {
        "PATH",
        "HOME",
        *MOTO_ONLY_ENV,
    }


def test_missing_secret_key_is_an_error(tmp_path: Path) -> None:
    secrets = LocalSecrets({"mlflow-auth": SECRETS.data["mlflow-auth"], "mlflow-db": {"username": "mlflow"}})
    with pytest.raises(LocalPlatformError, match="'mlflow-db' key 'password'"):
        _materialize(_spec(), tmp_path, secrets)


def test_a_spec_that_sets_the_s3_endpoint_is_refused(tmp_path: Path) -> None:
    spec = _spec()
    bad = dataclasses.replace(spec, env={**spec.env, "MLFLOW_S3_ENDPOINT_URL": "http://minio:9000"})
    with pytest.raises(LocalPlatformError, match="must stay unset"):
        _materialize(bad, tmp_path)


def test_a_spec_binding_elsewhere_is_refused(tmp_path: Path) -> None:
    spec = _spec()
    args = list(spec.args)
    args[args.index("--host") + 1] = "127.0.0.1"
    with pytest.raises(LocalPlatformError, match="--host"):
        _materialize(dataclasses.replace(spec, args=args), tmp_path)


def test_service_file_mode_mounts_the_service_file_instead_of_env(tmp_path: Path) -> None:
    spec = _spec(db_credentials="service-file")
    run = _materialize(spec, tmp_path)
    assert "PGUSER" not in run.env and "PGPASSWORD" not in run.env
    assert run.env["PGSERVICE"] == "mlflow"
    local = run.files[DB_SERVICE_FILE_PATH]
    assert run.env["PGSERVICEFILE"] == str(local)
    assert local.read_text() == SECRETS.data["mlflow-db"][DB_SERVICE_FILE_KEY]
