"""The External Secrets specs of MLflow's namespace: the SecretStore, and the basic-auth Secret generated in the
cluster.

The SecretStore reads Secrets Manager with the namespace's secrets service account (IRSA; the database tenant
secret only). The basic-auth admin password and the Flask secret key come from ESO's Password generators, and the
ExternalSecret renders the server's own ini file (:func:`mlops_platform.components.mlflow.server.render_auth_config`) with the
generated password; it is generated once (MLflow reads the admin password only when it creates the admin user).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from typing import Any

from mlops_platform.components.mlflow.server import (
    AUTH_ADMIN_USERNAME,
    AUTH_FLASK_SECRET_KEY,
    MlflowServerSpec,
    backend_store_uri_of,
    render_auth_config,
)

__all__ = [
    "AUTH_GENERATORS",
    "auth_external_secret_spec",
    "auth_generator_name",
    "auth_password_spec",
    "secret_store_spec",
]

#: The basic-auth secrets generated in the cluster: key in the Secret's template -> password length.
AUTH_GENERATORS: tuple[tuple[str, int], ...] = (("admin_password", 32), ("flask_secret_key", 64))


def secret_store_spec(*, region: str, service_account: str) -> dict[str, Any]:
    """A SecretStore on Secrets Manager in ``region``, authenticated as ``service_account`` (IRSA)."""
    return {
        "provider": {
            "aws": {
                "service": "SecretsManager",
                "region": region,
                "auth": {"jwt": {"serviceAccountRef": {"name": service_account}}},
            }
        }
    }


def auth_generator_name(key: str) -> str:
    """The Password generator of ``key`` (``admin_password`` -> ``mlflow-admin-password``)."""
    return f"mlflow-{key.replace('_', '-')}"


def auth_password_spec(length: int) -> dict[str, Any]:
    """A Password generator's spec: ``length`` letters and digits (a quarter digits), no symbols."""
    # Letters and digits only: the value lands in an INI file and HTTP basic auth.
    return {
        "length": length,
        "digits": length // 4,
        "symbols": 0,
        "noUpper": False,
        "allowRepeat": True,
    }


def auth_external_secret_spec(
    spec: MlflowServerSpec,
    auth_path: str,
    *,
    secret_name: str,
    generators_api: str,
    generator_keys: Iterable[str],
    default_permission: str,
) -> dict[str, Any]:
    """The ExternalSecret of the basic-auth Secret ``secret_name``: the ini file at ``auth_path``'s basename,
    the admin's user name and password and the Flask secret key, from the generators of ``generator_keys``."""
    return {
        # Generated once: MLflow reads the admin password only when it first creates the admin user,
        # so regenerating it (ESO's default refresh policy re-runs the generators whenever this spec
        # or its labels change) would leave a Secret that no longer matches the database.
        "refreshPolicy": "CreatedOnce",
        "refreshInterval": "0s",
        "target": {
            "name": secret_name,
            "creationPolicy": "Owner",
            "deletionPolicy": "Retain",
            "template": {
                "engineVersion": "v2",
                "data": {
                    # The server's own ini renderer; ESO fills in the generated password.
                    posixpath.basename(auth_path): render_auth_config(
                        admin_username=AUTH_ADMIN_USERNAME,
                        admin_password="{{ .admin_password }}",
                        database_uri=backend_store_uri_of(spec),
                        default_permission=default_permission,
                    ),
                    "admin-username": AUTH_ADMIN_USERNAME,
                    "admin-password": "{{ .admin_password }}",
                    AUTH_FLASK_SECRET_KEY: "{{ .flask_secret_key }}",
                },
            },
        },
        "dataFrom": [
            {
                "sourceRef": {
                    "generatorRef": {
                        "apiVersion": generators_api,
                        "kind": "Password",
                        "name": auth_generator_name(key),
                    }
                },
                "rewrite": [{"regexp": {"source": "^password$", "target": key}}],
            }
            for key in generator_keys
        ],
    }
