"""mlops_platform.components.mlflow.secrets: the SecretStore and the basic-auth Secret generated in the cluster, never in Pulumi."""

from __future__ import annotations

import configparser

import pytest

from mlops_platform.components.mlflow.secrets import (
    AUTH_GENERATORS,
    auth_external_secret_spec,
    auth_generator_name,
    auth_password_spec,
    secret_store_spec,
)
from mlops_platform.components.mlflow.server import AUTH_CONFIG_PATH, ServerSpecError, server_spec

GENERATORS_API = "generators.external-secrets.io/v1alpha1"


def _server(**overrides: object):
    args: dict[str, object] = {
        "db_host": "db.internal",
        "db_port": 5432,
        "db_name": "mlflow",
        "artifact_bucket": "mlops-dev-artifacts",
        "db_secret_name": "mlflow-db",
        "auth_secret_name": "mlflow-auth",
        "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlflow:3.17.2-platform.2",
        "region": "eu-west-1",
        "db_credentials": "service-file",
    }
    args.update(overrides)
    return server_spec(**args)  # type: ignore[arg-type]


def _auth(**overrides: object) -> dict:
    args: dict[str, object] = {
        "secret_name": "mlflow-auth",
        "generators_api": GENERATORS_API,
        "generator_keys": [key for key, _ in AUTH_GENERATORS],
        "default_permission": "NO_PERMISSIONS",
    }
    args.update(overrides)
    return auth_external_secret_spec(_server(), AUTH_CONFIG_PATH, **args)  # type: ignore[arg-type]


def test_secret_store_reads_secrets_manager_as_the_namespaced_service_account() -> None:
    assert secret_store_spec(region="eu-central-1", service_account="mlflow-secrets") == {
        "provider": {
            "aws": {
                "service": "SecretsManager",
                "region": "eu-central-1",
                "auth": {"jwt": {"serviceAccountRef": {"name": "mlflow-secrets"}}},
            }
        }
    }


def test_generated_passwords_are_letters_and_digits_of_their_length() -> None:
    assert dict(AUTH_GENERATORS) == {"admin_password": 32, "flask_secret_key": 64}
    assert auth_password_spec(32) == {
        "length": 32,
        "digits": 8,
        "symbols": 0,
        "noUpper": False,
        "allowRepeat": True,
    }
    assert auth_password_spec(64)["digits"] == 16
    assert auth_generator_name("flask_secret_key") == "mlflow-flask-secret-key"


def test_auth_secret_is_generated_once_and_kept_when_the_resource_goes() -> None:
    spec = _auth()
    assert (spec["refreshPolicy"], spec["refreshInterval"]) == ("CreatedOnce", "0s")
    assert {k: spec["target"][k] for k in ("name", "creationPolicy", "deletionPolicy")} == {
        "name": "mlflow-auth",
        "creationPolicy": "Owner",
        "deletionPolicy": "Retain",
    }
    assert spec["dataFrom"] == [
        {
            "sourceRef": {
                "generatorRef": {"apiVersion": GENERATORS_API, "kind": "Password", "name": f"mlflow-{name}"}
            },
            "rewrite": [{"regexp": {"source": "^password$", "target": key}}],
        }
        for key, name in (("admin_password", "admin-password"), ("flask_secret_key", "flask-secret-key"))
    ]


def test_auth_ini_points_at_the_servers_database_with_the_generated_password() -> None:
    data = _auth(default_permission="READ")["target"]["template"]["data"]
    assert set(data) == {"basic_auth.ini", "admin-username", "admin-password", "flask-secret-key"}
    assert (data["admin-username"], data["admin-password"]) == ("admin", "{{ .admin_password }}")
    assert data["flask-secret-key"] == "{{ .flask_secret_key }}"
    ini = configparser.ConfigParser()
    ini.read_string(data["basic_auth.ini"])
    section = ini["mlflow"]
    assert section["database_uri"] == "postgresql+psycopg2://db.internal:5432/mlflow?sslmode=verify-full"
    assert section["admin_password"] == "{{ .admin_password }}"
    assert section["default_permission"] == "READ"


def test_auth_ini_is_keyed_by_the_config_paths_basename() -> None:
    spec = auth_external_secret_spec(
        _server(),
        "/etc/other/auth.ini",
        secret_name="x-auth",
        generators_api=GENERATORS_API,
        generator_keys=["admin_password"],
        default_permission="NO_PERMISSIONS",
    )
    assert "auth.ini" in spec["target"]["template"]["data"]
    assert spec["target"]["name"] == "x-auth" and len(spec["dataFrom"]) == 1


def test_an_unknown_default_permission_is_refused() -> None:
    with pytest.raises(ServerSpecError, match="default_permission"):
        _auth(default_permission="ADMIN")
