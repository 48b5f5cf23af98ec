"""mlops_platform.components.database.secrets: the tenant's credentials synced into its namespace, with a libpq service file."""

from __future__ import annotations

from mlops_platform.components.database.secrets import SECRET_KEYS, credentials_spec

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mlops/database/mlflow-AbCdEf"


def test_the_tenant_secrets_keys_and_the_service_file_are_synced_and_kept() -> None:
    spec = credentials_spec(
        secret_arn=ARN,
        secret_store="aws-secrets-manager",
        k8s_secret_name="mlflow-db",
        service_file_key="pg_service.conf",
        service_file_template="[mlflow]\nuser={{ .username }}\npassword={{ .password }}\n",
        refresh_interval="1m",
    )
    assert SECRET_KEYS == ("username", "password")
    assert spec == {
        "refreshInterval": "1m",
        "secretStoreRef": {"name": "aws-secrets-manager", "kind": "SecretStore"},
        "target": {
            "name": "mlflow-db",
            "creationPolicy": "Owner",
            "deletionPolicy": "Retain",
            "template": {
                "engineVersion": "v2",
                "mergePolicy": "Merge",
                "data": {"pg_service.conf": "[mlflow]\nuser={{ .username }}\npassword={{ .password }}\n"},
            },
        },
        "data": [
            {"secretKey": "username", "remoteRef": {"key": ARN, "property": "username"}},
            {"secretKey": "password", "remoteRef": {"key": ARN, "property": "password"}},
        ],
    }
