"""The names of MLflow's Kubernetes objects in its namespace, one definition shared by the component, its
builders and the tests."""

from __future__ import annotations

__all__ = [
    "AUTH_SECRET",
    "DB_ROLE",
    "DB_SECRET",
    "MIGRATE_SA",
    "SECRETS_SA",
    "SECRET_STORE",
    "SERVER_SA",
    "SERVICE_NAME",
]

#: The Deployment, Service and PodDisruptionBudget (and the database tenant's name).
SERVICE_NAME = "mlflow"
#: The server's service account (IRSA: the artifact prefix).
SERVER_SA = "mlflow"
#: The SecretStore's service account (IRSA: the database tenant secret only).
SECRETS_SA = "mlflow-secrets"
#: The synced database Secret (the libpq service file).
DB_SECRET = "mlflow-db"
#: The generated basic-auth Secret (ini file, admin password, Flask secret key).
AUTH_SECRET = "mlflow-auth"
SECRET_STORE = "aws-secrets-manager"
#: The schema migration Job's service account (no AWS role, no API token).
MIGRATE_SA = "mlflow-migrate"
#: The database tenant's role (the database is ``db_name``).
DB_ROLE = "mlflow"
