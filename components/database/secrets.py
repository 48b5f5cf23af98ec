"""The ExternalSecret spec of a database tenant's credentials in the tenant's namespace: the tenant secret's
``username`` and ``password``, and a libpq service file rendered from them (libpq re-reads the file at every
connection: a rotation needs no restart)."""

from __future__ import annotations

from typing import Any

import pulumi

__all__ = ["SECRET_KEYS", "credentials_spec"]

#: Keys of the synced Kubernetes Secret (those of the tenant secret's JSON, plus the service file).
SECRET_KEYS = ("username", "password")


def credentials_spec(
    *,
    secret_arn: pulumi.Input[str],
    secret_store: str,
    k8s_secret_name: str,
    service_file_key: str,
    service_file_template: str,
    refresh_interval: str,
) -> dict[str, Any]:
    """Sync :data:`SECRET_KEYS` of the Secrets Manager secret ``secret_arn`` through the SecretStore
    ``secret_store`` into ``k8s_secret_name``, with ``service_file_template`` rendered at ``service_file_key``
    (an empty key: the two keys only)."""
    target: dict[str, Any] = {"name": k8s_secret_name, "creationPolicy": "Owner", "deletionPolicy": "Retain"}
    if service_file_key:
        target["template"] = {
            "engineVersion": "v2",
            "mergePolicy": "Merge",
            "data": {service_file_key: service_file_template},
        }
    return {
        "refreshInterval": refresh_interval,
        "secretStoreRef": {"name": secret_store, "kind": "SecretStore"},
        "target": target,
        "data": [
            {"secretKey": key, "remoteRef": {"key": secret_arn, "property": key}} for key in SECRET_KEYS
        ],
    }
