"""The database tenant job: one PostgreSQL database, its own login role, its password in Secrets Manager.

This file is the whole program of the tenant's one-off Kubernetes Job (``ensure``) and of its rotation
CronJob (``rotate``). :class:`components.database_tenant.DatabaseTenant` ships this very file in a ConfigMap
and runs ``python <file> MODE`` in the MLflow image (which has psycopg2 and boto3); the end-to-end test runs the
same file with the same command against a real PostgreSQL with TLS and Secrets Manager on moto. It imports
nothing from the repository (only the standard library, psycopg2 and boto3), so it runs as it is in the pod.

Inputs, all from the environment (none is a secret):

* ``PGHOST``, ``PGPORT``, ``PGSSLMODE`` (``verify-full``), ``PGSSLROOTCERT`` (the CA bundle): libpq's own;
* ``TENANT_DATABASE``, ``TENANT_ROLE``: the database and its role;
* ``TENANT_MASTER_SECRET_ID``: the RDS-managed master secret (JSON ``username``/``password``), read with the
  job's workload identity; it is never written anywhere;
* ``TENANT_SECRET_ID``: the tenant's secret, written as JSON ``username``, ``password``, ``host``, ``port``,
  ``dbname``;
* ``TENANT_MAINTENANCE_DATABASE``: the database the master user connects to (``postgres``).

What it does, idempotently:

1. the role: created ``LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS``; an existing role
   is set ``LOGIN NOCREATEDB NOCREATEROLE`` and refused if it has SUPERUSER, REPLICATION or BYPASSRLS;
2. the database: created with the role as owner, or handed over to it (with the tables, views and sequences
   of its ``public`` schema: the upgrade path of a database that the master user created and filled);
   ``CONNECT`` (and every other privilege) on it revoked from ``PUBLIC``;
3. the password: ``ensure`` keeps the secret's current password when it still logs the role in, and sets a new
   one otherwise; ``rotate`` always sets a new one. The password is generated here, in the pod, sent to the
   server only as a SCRAM-SHA-256 verifier (never in clear, so never in a statement log), and
   ``ALTER ROLE ... PASSWORD`` is committed only after Secrets Manager accepted the new value: a failure on
   either side leaves the old pair working.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import sys
from typing import Any

MODES = ("ensure", "rotate")
SCRAM_ITERATIONS = 4096
PASSWORD_BYTES = 32
#: Attributes a tenant role must never have (``pg_roles`` columns).
FORBIDDEN_ATTRIBUTES = ("rolsuper", "rolreplication", "rolbypassrls", "rolcreatedb", "rolcreaterole")


class TenantError(RuntimeError):
    """The tenant cannot be brought to its required state; the message says why."""


def scram_sha256_verifier(
    password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS
) -> str:
    """The ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` string PostgreSQL stores (RFC 5802/7677).

    PostgreSQL accepts it in ``ALTER ROLE ... PASSWORD`` as it is, so the clear password never reaches the server.
    """
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def new_password() -> str:
    """43 URL-safe characters (256 bits): safe in a libpq service file, a URI and an INI file alike."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if not value:
        raise TenantError(f"environment variable {name} is not set")
    return value


def _secrets_manager() -> Any:
    import boto3

    return boto3.client("secretsmanager")


def _read_json_secret(client: Any, secret_id: str) -> dict[str, Any] | None:
    try:
        value = client.get_secret_value(SecretId=secret_id)
    except client.exceptions.ResourceNotFoundException:
        return None  # the secret exists without a value yet (first run), or not at all
    return json.loads(value["SecretString"])


def _connect(*, user: str, password: str, dbname: str) -> Any:
    import psycopg2

    # Host, port, sslmode and sslrootcert come from PGHOST/PGPORT/PGSSLMODE/PGSSLROOTCERT.
    return psycopg2.connect(user=user, password=password, dbname=dbname, connect_timeout=10)


def _logs_in(*, user: str, password: str, dbname: str) -> bool:
    import psycopg2

    try:
        _connect(user=user, password=password, dbname=dbname).close()
    except psycopg2.OperationalError:
        return False
    return True


def ensure_role(cur: Any, role: str) -> None:
    from psycopg2 import sql

    cur.execute("SELECT " + ", ".join(FORBIDDEN_ATTRIBUTES) + " FROM pg_roles WHERE rolname = %s", (role,))
    row = cur.fetchone()
    if row is None:
        cur.execute(
            sql.SQL(
                "CREATE ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
            ).format(sql.Identifier(role))
        )
        return
    held = dict(zip(FORBIDDEN_ATTRIBUTES, row, strict=True))
    for attribute in ("rolsuper", "rolreplication", "rolbypassrls"):
        if held[attribute]:
            # Only a superuser may remove these, and the RDS master user is not one.
            raise TenantError(f"role {role!r} has {attribute[3:].upper()}; remove it by hand, then rerun")
    cur.execute(sql.SQL("ALTER ROLE {} WITH LOGIN NOCREATEDB NOCREATEROLE").format(sql.Identifier(role)))


def ensure_database(cur: Any, database: str, role: str) -> None:
    from psycopg2 import sql

    # CREATE DATABASE ... OWNER and ALTER DATABASE ... OWNER TO need membership in the new owner (PostgreSQL 16+:
    # the right to SET ROLE to it); the master user created the role, so it may grant itself that.
    cur.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))
    cur.execute(
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
        (database,),
    )
    row = cur.fetchone()
    if row is None:
        cur.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(role))
        )
    elif row[0] != role:
        cur.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(database), sql.Identifier(role))
        )
    cur.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)))


def hand_over_objects(cur: Any, role: str) -> list[str]:
    """Tables, views and sequences of ``public`` owned by another role become the tenant's (an upgrade from a
    database the master user created and filled); returns their names."""
    from psycopg2 import sql

    cur.execute(
        "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')"
        " AND pg_get_userbyid(c.relowner) <> %s"
        # A sequence owned by a column follows its table.
        " AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid"
        " AND d.deptype IN ('a', 'i')))"
        " ORDER BY c.relkind, c.relname",
        (role,),
    )
    keyword = {
        "r": "TABLE",
        "p": "TABLE",
        "v": "VIEW",
        "m": "MATERIALIZED VIEW",
        "S": "SEQUENCE",
        "f": "FOREIGN TABLE",
    }
    moved = []
    for relname, relkind in cur.fetchall():
        cur.execute(
            sql.SQL("ALTER {} public.{} OWNER TO {}").format(
                sql.SQL(keyword[relkind]), sql.Identifier(relname), sql.Identifier(role)
            )
        )
        moved.append(relname)
    return moved


def set_password(
    conn: Any,
    client: Any,
    *,
    role: str,
    secret_id: str,
    value: dict[str, Any],
    previous: dict[str, Any] | None = None,
) -> None:
    """A new password for ``role``: the verifier in an open transaction, Secrets Manager, then COMMIT.

    If the COMMIT fails after the secret was written (the connection dropped), the secret is put back to
    ``previous`` (the value the role still has), so the two never disagree; without a previous value (the
    first run) the Job's retry logs in with nothing that works and sets a password again."""
    from psycopg2 import sql

    password = new_password()
    conn.autocommit = False
    pushed = False
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(scram_sha256_verifier(password))
                )
            )
        client.put_secret_value(SecretId=secret_id, SecretString=json.dumps({**value, "password": password}))
        pushed = True
        conn.commit()
    except BaseException:
        try:
            conn.rollback()
        finally:
            if pushed and previous is not None:
                client.put_secret_value(SecretId=secret_id, SecretString=json.dumps(previous))
        raise
    finally:
        conn.autocommit = True


def run(mode: str) -> dict[str, Any]:
    """Bring the tenant to its state; returns what was done (no secret in it)."""
    if mode not in MODES:
        raise TenantError(f"mode {mode!r} is not one of {MODES}")
    database = _env("TENANT_DATABASE")
    role = _env("TENANT_ROLE")
    secret_id = _env("TENANT_SECRET_ID")
    maintenance = _env("TENANT_MAINTENANCE_DATABASE", "postgres")
    if _env("PGSSLMODE") != "verify-full":
        raise TenantError(
            "PGSSLMODE must be verify-full: the master password must not go to an unverified server"
        )
    client = _secrets_manager()
    master = _read_json_secret(client, _env("TENANT_MASTER_SECRET_ID"))
    if not master or not master.get("username") or not master.get("password"):
        raise TenantError("the master secret has no username and password")
    conn = _connect(user=master["username"], password=master["password"], dbname=maintenance)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            ensure_role(cur, role)
            ensure_database(cur, database, role)
        tenant_conn = _connect(user=master["username"], password=master["password"], dbname=database)
        tenant_conn.autocommit = True
        try:
            with tenant_conn.cursor() as cur:
                moved = hand_over_objects(cur, role)
        finally:
            tenant_conn.close()

        value = {
            "username": role,
            "host": _env("PGHOST"),
            "port": int(_env("PGPORT", "5432")),
            "dbname": database,
        }
        current = _read_json_secret(client, secret_id)
        keep = (
            mode == "ensure"
            and current is not None
            and current.get("username") == role
            and bool(current.get("password"))
            and _logs_in(user=role, password=current["password"], dbname=database)
        )
        if not keep:
            set_password(conn, client, role=role, secret_id=secret_id, value=value, previous=current)
    finally:
        conn.close()
    return {
        "mode": mode,
        "role": role,
        "database": database,
        "password_changed": not keep,
        "handed_over": moved,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} {{{'|'.join(MODES)}}}", file=sys.stderr)
        return 2
    try:
        result = run(argv[1])
    except TenantError as err:
        print(f"database tenant: {err}", file=sys.stderr)
        return 1
    print(json.dumps(result, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
