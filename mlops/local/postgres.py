"""A throwaway PostgreSQL cluster that stands in for RDS: TLS on, password logins over ``hostssl`` only.

Like RDS, it has a master user that is not a superuser (``CREATEDB CREATEROLE``) owning the instance's
database; the MLflow role is the database tenant job's to create (:mod:`mlops_platform.mlops.local.tenant`).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_platform.mlops.local.processes import (
    LOOPBACK,
    LocalPlatformError,
    Process,
    free_port,
    random_password,
)
from mlops_platform.mlops.local.tls import LocalCA

DB_NAME = "mlflow"
DB_USER = "mlflow"
#: The stand-in of the RDS master user (mlops_platform.components.database.metadata.MetadataDatabaseArgs.master_username).
MASTER_USER = "mlflow_admin"
SUPERUSER = "postgres"
UNPRIVILEGED_USER = "nobody"

_CONFIG = (
    "\n# mlops local / e2e\n"
    "listen_addresses = '{host}'\n"
    "port = {port}\n"
    "unix_socket_directories = ''\n"
    "ssl = on\n"
    "ssl_cert_file = 'server.crt'\n"
    "ssl_key_file = 'server.key'\n"
    "ssl_min_protocol_version = 'TLSv1.2'\n"
    "password_encryption = 'scram-sha-256'\n"
    "max_connections = 60\n"
    "shared_buffers = '32MB'\n"
    # A throwaway cluster: durability off for speed.
    "fsync = off\n"
    "synchronous_commit = off\n"
    "full_page_writes = off\n"
)
_HBA = (
    "# TYPE     DATABASE USER ADDRESS       METHOD\n"
    "hostssl    all      all  {host}/32 scram-sha-256\n"
    "hostnossl  all      all  0.0.0.0/0    reject\n"
)


def find_postgres_bin() -> Path:
    """The directory with ``initdb`` and ``postgres``: $MLOPS_PG_BIN, else the newest /usr/lib/postgresql/*/bin."""
    explicit = os.environ.get("MLOPS_PG_BIN")
    candidates = [Path(explicit)] if explicit else []
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version_key(p.parent.name))
    candidates += list(reversed(versions))
    which = shutil.which("postgres")
    if which:
        candidates.append(Path(which).parent)
    for directory in candidates:
        if (directory / "postgres").is_file() and (directory / "initdb").is_file():
            return directory
    raise LocalPlatformError(
        "PostgreSQL server binaries (initdb, postgres) not found: install them "
        "(Debian: `apt-get install postgresql-15`) or set MLOPS_PG_BIN to their directory"
    )


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in name.split(".") if p.isdigit())


@dataclass
class PostgresServer:
    """A throwaway PostgreSQL cluster: TLS on, password logins over ``hostssl`` only, no Unix socket."""

    host: str
    port: int
    db_name: str
    user: str
    password: str
    superuser: str
    superuser_password: str
    data_dir: Path
    process: Process
    ca_file: Path
    master_user: str
    master_password: str

    def connect(
        self, *, user: str | None = None, password: str | None = None, dbname: str | None = None, **kw: Any
    ):
        import psycopg2

        return psycopg2.connect(
            host=self.host,
            port=self.port,
            dbname=dbname or self.db_name,
            user=user or self.user,
            password=self.password if password is None else password,
            sslmode=kw.pop("sslmode", "verify-full"),
            sslrootcert=kw.pop("sslrootcert", str(self.ca_file)),
            connect_timeout=kw.pop("connect_timeout", 5),
            **kw,
        )

    def stop(self) -> None:
        # SIGINT is PostgreSQL's "fast" shutdown: roll back, close sessions, checkpoint, exit.
        self.process.stop(signal.SIGINT)


def _run_as() -> tuple[int | None, int | None]:
    """initdb and postgres refuse to run as root: use an unprivileged user then."""
    if os.geteuid() != 0:
        return None, None
    try:
        entry = pwd.getpwnam(UNPRIVILEGED_USER)
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        return 65534, 65534


def _server_env(bin_dir: Path) -> dict[str, str]:
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}


def _initdb(bin_dir: Path, base: Path, data: Path, uid: int | None, gid: int | None) -> str:
    """initdb ``data`` with the superuser ``postgres`` (scram-sha-256); return the superuser's password."""
    superuser_password = random_password()
    pwfile = base / "pwfile"
    pwfile.write_text(superuser_password + "\n")
    if uid is not None and gid is not None:
        os.chown(base, uid, gid)
        os.chown(pwfile, uid, gid)
    init = subprocess.run(
        [
            str(bin_dir / "initdb"),
            "--pgdata",
            str(data),
            "--username",
            SUPERUSER,
            "--pwfile",
            str(pwfile),
            "--auth",
            "scram-sha-256",
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            "--no-sync",
            "--no-instructions",
        ],
        env=_server_env(bin_dir),
        cwd=base,
        user=uid,
        group=gid,
        extra_groups=[] if uid is not None else None,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    pwfile.unlink()
    if init.returncode != 0:
        raise LocalPlatformError(f"initdb failed ({init.returncode}):\n{init.stdout}\n{init.stderr}")
    return superuser_password


def _configure(data: Path, port: int) -> None:
    """Listen on loopback only, TLS with the run's certificate, no socket; ``hostssl`` password logins only."""
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(_CONFIG.format(host=LOOPBACK, port=port))
    (data / "pg_hba.conf").write_text(_HBA.format(host=LOOPBACK))


def _create_master(server: PostgresServer, timeout: float) -> None:
    """What RDS creates: the master user (not a superuser) and the instance's database, its own."""
    admin = _wait_for_postgres(server, timeout)
    try:
        admin.autocommit = True
        with admin.cursor() as cur:
            from psycopg2 import sql

            cur.execute(
                sql.SQL("CREATE ROLE {} LOGIN CREATEDB CREATEROLE PASSWORD {}").format(
                    sql.Identifier(MASTER_USER), sql.Literal(server.master_password)
                )
            )
            cur.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(DB_NAME), sql.Identifier(MASTER_USER)
                )
            )
    finally:
        admin.close()


def start_postgres(root: Path, *, timeout: float = 60.0) -> PostgresServer:
    """initdb a cluster under ``root/pg``, start it with TLS (a certificate for 127.0.0.1 and localhost from a CA
    made for the run) on a free loopback port, and create what RDS creates: a master user that is not a
    superuser (``CREATEDB CREATEROLE``, like ``rds_superuser``) and the ``mlflow`` database it owns. The
    MLflow role is the tenant job's to create (:func:`mlops_platform.mlops.local.tenant.run_tenant_job`). Stop it with
    :meth:`PostgresServer.stop`."""
    bin_dir = find_postgres_bin()
    uid, gid = _run_as()
    base = root / "pg"
    base.mkdir(mode=0o700)
    data = base / "data"
    superuser_password = _initdb(bin_dir, base, data, uid, gid)
    port = free_port()
    ca = LocalCA.create(root / "ca")
    ca.issue_server_certificate(data, (LOOPBACK, "localhost"), uid, gid)
    _configure(data, port)
    process = Process.start(
        "postgres",
        [str(bin_dir / "postgres"), "-D", str(data)],
        env=_server_env(bin_dir),
        cwd=base,
        log_path=root / "postgres.log",
        user=uid,
        group=gid,
    )
    server = PostgresServer(
        host=LOOPBACK,
        port=port,
        db_name=DB_NAME,
        user=DB_USER,
        password="",
        superuser=SUPERUSER,
        superuser_password=superuser_password,
        data_dir=data,
        process=process,
        ca_file=ca.ca_file,
        master_user=MASTER_USER,
        master_password=random_password(uri_special=True),
    )
    try:
        _create_master(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_for_postgres(server: PostgresServer, timeout: float):
    import psycopg2

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if not server.process.alive():
            raise LocalPlatformError(
                f"postgres exited ({server.process.popen.returncode}):\n{server.process.log_tail()}"
            )
        try:
            return server.connect(
                user=server.superuser, password=server.superuser_password, dbname="postgres"
            )
        except psycopg2.OperationalError as err:
            last = err
            time.sleep(0.2)
    raise LocalPlatformError(
        f"postgres did not accept connections within {timeout:.0f}s: {last}\n{server.process.log_tail()}"
    )
