"""components/database/tenant_job.py set_password: the secret and the role never disagree, even when COMMIT fails.

Secrets Manager is moto's (in process); the PostgreSQL side is a connection whose COMMIT fails, which a real
server cannot be made to do on demand (the end-to-end tests run the job against a real PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlops_platform.components.database import tenant_job as job

SECRET = "mlops-dev-mlflow/database/mlflow"


class _Cursor:
    def __init__(self, conn: _Conn) -> None:
        self.conn = conn

    def __enter__(self) -> _Cursor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def execute(self, statement: Any, *args: Any) -> None:
        self.conn.statements.append(statement)


class _Conn:
    """A psycopg2 connection whose COMMIT fails as a dropped connection does (the ALTER ROLE never lands)."""

    def __init__(self, commit_fails: bool) -> None:
        self.commit_fails = commit_fails
        self.statements: list[Any] = []
        self.autocommit = True
        self.rolled_back = False
        self.committed = False

    def cursor(self) -> _Cursor:
        return _Cursor(self)

    def commit(self) -> None:
        if self.commit_fails:
            raise ConnectionError("server closed the connection unexpectedly")
        self.committed = True

    def rollback(self) -> None:
        self.rolled_back = True


@pytest.fixture
def secrets() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="eu-west-1")
        client.create_secret(Name=SECRET)
        yield client


def _value(client: Any) -> dict[str, Any]:
    return json.loads(client.get_secret_value(SecretId=SECRET)["SecretString"])


BASE = {"username": "mlflow", "host": "db", "port": 5432, "dbname": "mlflow"}


def test_a_committed_rotation_leaves_the_new_password_in_the_secret(secrets: Any) -> None:
    previous = {**BASE, "password": "old"}
    secrets.put_secret_value(SecretId=SECRET, SecretString=json.dumps(previous))
    conn = _Conn(commit_fails=False)
    job.set_password(conn, secrets, role="mlflow", secret_id=SECRET, value=BASE, previous=previous)
    assert conn.committed and conn.autocommit
    stored = _value(secrets)
    assert stored["password"] not in ("", "old") and {k: stored[k] for k in BASE} == BASE


def test_a_failed_commit_puts_the_previous_password_back(secrets: Any) -> None:
    previous = {**BASE, "password": "old"}
    secrets.put_secret_value(SecretId=SECRET, SecretString=json.dumps(previous))
    conn = _Conn(commit_fails=True)
    with pytest.raises(ConnectionError):
        job.set_password(conn, secrets, role="mlflow", secret_id=SECRET, value=BASE, previous=previous)
    assert conn.rolled_back and conn.autocommit
    # The role still has "old" (the ALTER ROLE was never committed): so does the secret.
    assert _value(secrets) == previous
