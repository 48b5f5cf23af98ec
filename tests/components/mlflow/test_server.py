"""The MLflow server definition: command, arguments, environment, the auth ini, and the image's pins."""

from __future__ import annotations

import configparser
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from mlops_platform.components.mlflow import server as ms
from mlops_platform.components.mlflow.server import ServerSpecError, render_auth_config, server_spec

ROOT = Path(__file__).resolve().parents[3]
DOCKER = ROOT / ms.IMAGE_BUILD_CONTEXT
KMS = "arn:aws:kms:eu-west-1:123456789012:key/0b5c2e9a-1111-2222-3333-444455556666"


def _spec(**overrides):
    args = {
        "db_host": "mlops-prod-db.abcdefghijkl.eu-west-1.rds.amazonaws.com",
        "db_port": 5432,
        "db_name": "mlflow",
        "artifact_bucket": "mlops-prod-artifacts-123456789012",
        "db_secret_name": "mlflow-db",
        "auth_secret_name": "mlflow-auth",
        "image": f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlflow:{ms.IMAGE_TAG}",
        "region": "eu-west-1",
    }
    args.update(overrides)
    return server_spec(**args)


def test_server_spec_command_and_arguments() -> None:
    spec = _spec()
    assert spec.command == ["mlflow"]
    assert spec.args == [
        "server",
        "--host",
        "0.0.0.0",
        "--port",
        "5000",
        "--workers",
        "2",
        "--backend-store-uri",
        "postgresql+psycopg2://mlops-prod-db.abcdefghijkl.eu-west-1.rds.amazonaws.com:5432/mlflow?sslmode=verify-full",
        "--serve-artifacts",
        "--artifacts-destination",
        "s3://mlops-prod-artifacts-123456789012/mlflow",
        "--expose-prometheus",
        "/tmp/mlflow-metrics",
        "--app-name",
        "basic-auth",
    ]
    assert (spec.port, spec.metrics_path, spec.health_path) == (5000, "/metrics", "/health")
    assert spec.image.endswith(":" + ms.IMAGE_TAG)


def test_server_spec_environment_has_no_secret_and_no_s3_endpoint() -> None:
    spec = _spec()
    assert spec.env == {
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "PGSSLROOTCERT": "/opt/mlflow/share/rds-ca/global-bundle.pem",
        "MLFLOW_AUTH_CONFIG_PATH": "/etc/mlflow/auth/basic_auth.ini",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "PYTHONUNBUFFERED": "1",
    }
    assert spec.secret_env == {
        "PGUSER": ("mlflow-db", "username"),
        "PGPASSWORD": ("mlflow-db", "password"),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": ("mlflow-auth", "flask-secret-key"),
    }
    assert f"{ms.AUTH_CONFIG_MOUNT}/{ms.AUTH_CONFIG_KEY}" == ms.AUTH_CONFIG_PATH


def test_backend_store_uri_names_the_driver_verifies_the_server_and_has_no_credentials() -> None:
    uri = _spec().args[_spec().args.index("--backend-store-uri") + 1]
    assert uri.startswith(
        "postgresql+psycopg2://"
    )  # a bare postgresql:// selects psycopg 3 under SQLAlchemy 2
    # verify-full: the certificate must chain to the image's RDS CA bundle and name the host (require checks
    # neither, so anyone on the path could impersonate the database and collect the password).
    assert uri.endswith("?sslmode=verify-full")
    assert _spec().env["PGSSLROOTCERT"] == ms.RDS_CA_BUNDLE_PATH
    assert "@" not in uri


def test_options_workers_prefix_hosts_and_kms() -> None:
    spec = _spec(
        workers=4,
        artifact_prefix="team-a/mlflow",
        allowed_hosts=ms.service_hosts(service="mlflow", namespace="mlflow"),
        artifact_kms_key_arn=KMS,
    )
    assert spec.args[spec.args.index("--workers") + 1] == "4"
    assert "s3://mlops-prod-artifacts-123456789012/team-a/mlflow" in spec.args
    hosts = spec.args[spec.args.index("--allowed-hosts") + 1].split(",")
    assert hosts[:4] == ["mlflow", "mlflow:*", "mlflow.mlflow", "mlflow.mlflow:*"]
    assert "mlflow.mlflow.svc.cluster.local:*" in hosts
    assert {"localhost", "10.*", "172.16.*", "172.31.*", "192.168.*"} <= set(
        hosts
    )  # probes, Prometheus by pod IP
    assert "172.32.*" not in hosts and "*" not in hosts
    assert (
        spec.env["MLFLOW_S3_UPLOAD_EXTRA_ARGS"]
        == f'{{"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "{KMS}"}}'
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"db_host": "db.example.com/evil"}, "db_host"),
        ({"db_host": "user:pw@db"}, "db_host"),
        ({"db_port": 0}, "db_port"),
        ({"db_name": "mlflow;drop"}, "db_name"),
        ({"artifact_bucket": "Not_A_Bucket"}, "artifact_bucket"),
        ({"artifact_prefix": "/mlflow"}, "artifact_prefix"),
        ({"artifact_prefix": "mlflow/"}, "artifact_prefix"),
        ({"image": "mlflow:latest"}, "pinned"),
        ({"image": " "}, "pinned"),
        ({"region": "europe"}, "region"),
        ({"workers": 0}, "workers"),
        ({"db_secret_name": "Mlflow_DB"}, "Secret name"),
        ({"allowed_hosts": ["*"]}, "disable"),
        ({"allowed_hosts": ["a b"]}, "not allowed"),
        ({"artifact_kms_key_arn": "alias/aws/s3"}, "KMS key ARN"),
    ],
)
def test_server_spec_rejects_bad_input(overrides: dict, message: str) -> None:
    with pytest.raises(ServerSpecError, match=message):
        _spec(**overrides)


def _parse(ini: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser()  # as MLflow reads it (BasicInterpolation)
    parser.read_string(ini)
    return parser["mlflow"]


def test_auth_config_renders_what_mlflow_reads() -> None:
    uri = ms.backend_store_uri(host="db.internal", port=5432, db_name="mlflow")
    password = "p%ss w0rd; #with=[specials]"
    section = _parse(render_auth_config(admin_username="admin", admin_password=password, database_uri=uri))
    assert section["admin_password"] == password
    assert section["admin_username"] == "admin"
    assert section["database_uri"] == uri
    assert section["default_permission"] == "NO_PERMISSIONS"
    assert section["authorization_function"] == "mlflow.server.auth:authenticate_request_basic_auth"
    assert section.getboolean("grant_default_workspace_access") is False
    assert section.getint("auth_cache_ttl_seconds") == 30


def test_auth_config_read_by_mlflow_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mlflow.server.auth.config")
    from mlflow.server.auth.config import read_auth_config

    uri = ms.backend_store_uri(host="db.internal", port=5432, db_name="mlflow")
    path = tmp_path / ms.AUTH_CONFIG_KEY
    path.write_text(
        render_auth_config(
            admin_username="admin",
            admin_password="100%-generated-secret",
            database_uri=uri,
            default_permission="READ",
        )
    )
    monkeypatch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(path))
    monkeypatch.delenv("MLFLOW_AUTH_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("MLFLOW_AUTH_ADMIN_USERNAME", raising=False)
    config = read_auth_config()
    assert (config.admin_username, config.admin_password) == ("admin", "100%-generated-secret")
    assert (config.database_uri, config.default_permission) == (uri, "READ")
    assert config.auth_cache_ttl_seconds == 30


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"admin_password": "short"}, "12 characters"),
        ({"admin_password": "two\nlines-password"}, "one line"),
        ({"admin_password": " padded-password "}, "whitespace"),
        ({"admin_username": "ad min"}, "admin_username"),
        ({"default_permission": "ALL"}, "default_permission"),
        ({"database_uri": "postgresql://db:5432/mlflow"}, "psycopg2"),
        ({"database_uri": "postgresql+psycopg2://u:p@db:5432/mlflow"}, "credential-free"),
        ({"auth_cache_ttl_seconds": 3600}, "auth_cache_ttl_seconds"),
    ],
)
def test_auth_config_rejects_bad_input(overrides: dict, message: str) -> None:
    args: dict[str, Any] = {
        "admin_username": "admin",
        "admin_password": "a-long-enough-password",
        "database_uri": ms.backend_store_uri(host="db", port=5432, db_name="mlflow"),
    }
    args.update(overrides)
    with pytest.raises(ServerSpecError, match=message):
        render_auth_config(**args)


# ------------------------------------------------------------------------------------------- the image


def _normalize(requirement_name: str) -> str:
    """PEP 503 name, without extras."""
    return re.sub(r"[-_.]+", "-", re.sub(r"\[.*\]", "", requirement_name)).lower()


def _requirements(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[_normalize(name)] = version
    return pins


def _e2e_extra() -> list[str]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        tomllib = pytest.importorskip("tomli")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["e2e"]


def _extra_pins() -> dict[str, str]:
    return _requirements_from_lines(_e2e_extra())


def _requirements_from_lines(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        assert "==" in line, f"e2e extra: {line!r} is not an exact pin"
        name, version = line.split("==")
        pins[_normalize(name)] = version
    return pins


def test_image_requirements_are_the_e2e_extra() -> None:
    image = (DOCKER / "requirements.txt").read_text()
    extra = _e2e_extra()
    image_lines = sorted(line for line in image.splitlines() if line and not line.startswith("#"))
    assert image_lines == sorted(extra)  # the same requirement strings, extras included
    assert _requirements(DOCKER / "requirements.txt")["mlflow"] == ms.MLFLOW_VERSION
    assert {"mlflow", "psycopg2-binary", "boto3", "prometheus-flask-exporter"} <= set(_extra_pins())


def test_image_lock_agrees_with_the_tested_environment() -> None:
    """Every package the image installs has the version the repository's constraints (the e2e venv) pin."""
    image_lock = _requirements(DOCKER / "constraints.txt")
    repo = _requirements(ROOT / "constraints.txt")
    assert set(_extra_pins()) <= set(image_lock)
    mismatched = {name: (v, repo.get(name)) for name, v in image_lock.items() if repo.get(name) != v}
    assert mismatched == {}
    for name, version in _extra_pins().items():
        assert repo[name] == version


def _closure(requirements: list[str]) -> dict[str, str]:
    """Installed name -> version of ``requirements`` and everything they need (markers evaluated, extras
    followed), read from the metadata of the e2e virtualenv."""
    from importlib import metadata

    from packaging.requirements import Requirement

    versions: dict[str, str] = {}
    visited: set[tuple[str, str]] = set()  # (distribution, extra or "")
    todo = [(Requirement(line), "") for line in requirements]
    while todo:
        req, active_extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": active_extra}):
            continue
        dist = metadata.distribution(req.name)
        versions[_normalize(req.name)] = dist.version
        for extra in ["", *sorted(req.extras)]:
            if (_normalize(req.name), extra) in visited:
                continue
            visited.add((_normalize(req.name), extra))
            todo += [(Requirement(r), extra) for r in dist.requires or []]
    return versions


def test_image_lock_is_complete_and_exact() -> None:
    """The image's lock holds exactly the requirements' dependency closure, at the tested versions."""
    requirements = [
        line
        for line in (DOCKER / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert _closure(requirements) == _requirements(DOCKER / "constraints.txt")


def test_dockerfile_is_pinned_non_root_and_tagged() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.M)
    assert base is not None
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base.group(1))
    assert re.search(rf"^ARG MLFLOW_UID={ms.IMAGE_UID}$", dockerfile, re.M)
    assert re.search(r"^USER \$\{MLFLOW_UID\}:\$\{MLFLOW_UID\}$", dockerfile, re.M)
    assert f'org.opencontainers.image.version="{ms.IMAGE_TAG}"' in dockerfile
    assert "-c /build/constraints.txt -r /build/requirements.txt" in dockerfile
    assert "--only-binary=:all:" in dockerfile
    assert re.search(r'^ENTRYPOINT \["mlflow"\]$', dockerfile, re.M)
    assert f"EXPOSE {ms.PORT}" in dockerfile
    assert ms.IMAGE_TAG.startswith(ms.MLFLOW_VERSION + "-platform.")


def test_dockerfile_bakes_in_the_rds_ca_bundle_checked_by_fetch_rds_ca() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert f"ARG RDS_CA_BUNDLE_URL={ms.RDS_CA_BUNDLE_URL}\n" in dockerfile
    assert ms.RDS_CA_BUNDLE_URL.startswith("https://truststore.pki.rds.amazonaws.com/")
    # The download is checked by fetch_rds_ca.py and written where PGSSLROOTCERT points.
    run = dockerfile.replace("\\\n", "")
    assert "COPY requirements.txt constraints.txt fetch_rds_ca.py /build/" in dockerfile
    assert f'python /build/fetch_rds_ca.py "${{RDS_CA_BUNDLE_URL}}" {ms.RDS_CA_BUNDLE_PATH}' in run
    assert "COPY --from=build /opt/mlflow /opt/mlflow" in dockerfile


def test_migration_spec_runs_mlflow_db_upgrade_with_the_server_credentials() -> None:
    spec = _spec(db_credentials="service-file")
    uri = spec.args[spec.args.index("--backend-store-uri") + 1]
    migration = ms.migration_spec(spec)
    assert [name for name, _ in migration.steps] == ["db-upgrade", "auth-upgrade"]
    assert migration.steps[0][1] == ["mlflow", "db", "upgrade", uri]
    assert migration.steps[1][1][:2] == ["python", "-c"] and migration.steps[1][1][-1] == uri
    assert migration.gate[-2:] == [uri, "wait"] and migration.check[-2:] == [uri, "once"]
    assert migration.env == {
        "PGSERVICEFILE": ms.DB_SERVICE_FILE_PATH,
        "PGSERVICE": ms.DB_SERVICE_NAME,
        "PGSSLROOTCERT": ms.RDS_CA_BUNDLE_PATH,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "PYTHONUNBUFFERED": "1",
    }
    with pytest.raises(ServerSpecError, match="service file"):
        ms.migration_spec(_spec(db_credentials="env"))


def test_service_file_credentials_replace_the_password_env() -> None:
    spec = _spec(db_credentials="service-file")
    assert "PGUSER" not in spec.secret_env and "PGPASSWORD" not in spec.secret_env
    assert spec.secret_env == {"MLFLOW_FLASK_SERVER_SECRET_KEY": ("mlflow-auth", "flask-secret-key")}
    assert spec.env["PGSERVICEFILE"] == "/etc/mlflow/db/pg_service.conf" == ms.DB_SERVICE_FILE_PATH
    assert spec.env["PGSERVICE"] == ms.DB_SERVICE_NAME
    assert spec.args == _spec().args  # the URI stays credential-free and the same
    with pytest.raises(ServerSpecError, match="db_credentials"):
        _spec(db_credentials="url")


def test_pg_service_file() -> None:
    assert ms.render_pg_service(user="mlflow", password="a@b:c/d?e#f%g&h i") == (
        "[mlflow]\nuser=mlflow\npassword=a@b:c/d?e#f%g&h i\n"
    )
    template = ms.render_pg_service(user="{{ .username }}", password="{{ .password }}")
    assert template == "[mlflow]\nuser={{ .username }}\npassword={{ .password }}\n"
    for bad in ("", "two\nlines", " padded"):
        with pytest.raises(ServerSpecError, match="password"):
            ms.render_pg_service(user="mlflow", password=bad)


def test_backend_store_uri_of_reads_every_form_the_server_accepts() -> None:
    spec = _spec()
    uri = "postgresql+psycopg2://mlops-prod-db.abcdefghijkl.eu-west-1.rds.amazonaws.com:5432/mlflow?sslmode=verify-full"
    assert ms.backend_store_uri_of(spec) == uri
    joined = ms.MlflowServerSpec(
        image=spec.image,
        command=spec.command,
        args=["server", f"--backend-store-uri={uri}"],
        env={},
        secret_env={},
    )
    assert ms.backend_store_uri_of(joined) == uri
    by_env = ms.MlflowServerSpec(
        image=spec.image,
        command=spec.command,
        args=["server"],
        env={"MLFLOW_BACKEND_STORE_URI": uri},
        secret_env={},
    )
    assert ms.backend_store_uri_of(by_env) == uri
    with pytest.raises(ServerSpecError, match="names no backend store URI"):
        ms.backend_store_uri_of(
            ms.MlflowServerSpec(
                image=spec.image, command=spec.command, args=["server"], env={}, secret_env={}
            )
        )


@pytest.mark.parametrize("region", ["us-gov-west-1", "cn-north-1", "ap-southeast-3"])
def test_region_is_any_partitions_region_code(region: str) -> None:
    assert _spec(region=region).env["AWS_REGION"] == region


@pytest.mark.parametrize("region", ["EU-west-1", "eu-west", "eu_west_1"])
def test_region_that_is_no_region_code_is_refused(region: str) -> None:
    with pytest.raises(ServerSpecError, match=f"region {region!r} is not an AWS region"):
        _spec(region=region)
