"""The platform's MLflow trio on one machine: PostgreSQL with TLS, an S3 server, and the MLflow server.

Used by the end-to-end test (tests/e2e/test_mlflow_e2e.py) and by ``mlops local``: both start exactly
what is here. The MLflow server runs with the command, arguments and environment of
:func:`components.mlflow.server.server_spec`, the very ones the Kubernetes Deployment runs; what a pod
gets from its cluster is stood in for locally and nothing else is changed (:func:`materialize`):

* hosts and ports: ``--host 0.0.0.0 --port 5000`` become loopback and a free port; the database is a local
  PostgreSQL with ``ssl = on``, a server certificate for 127.0.0.1 from a CA made for the run, and a
  ``pg_hba.conf`` that admits password logins over ``hostssl`` only, so the URI's ``sslmode=verify-full`` is
  exercised unchanged (``PGSSLROOTCERT``, the image's RDS CA bundle, points at that CA instead);
* the database tenant: the master user is a ``CREATEDB CREATEROLE`` role (like RDS's, not a superuser) whose
  secret is in Secrets Manager (moto); the tenant job's own command (:func:`run_tenant_job`) creates the MLflow
  role and hands it the database, and writes its generated password to the tenant secret, which stands in for
  what External Secrets syncs; then the migration Job's commands (:func:`run_migration`) run before the server;
* Secrets: ``secret_env`` is resolved from local stand-ins of the two Kubernetes Secrets (the database user
  and password, the basic-auth ini and the Flask key); the database password is random and full of
  URL-special characters on purpose;
* volumes: the auth ini's mount and the Prometheus directory (an emptyDir in the pod) become temporary
  directories;
* workload identity: S3 is a moto server on loopback, reached through ``MLFLOW_S3_ENDPOINT_URL`` and fake
  keys. These three variables exist only here: with real S3 and workload identity they must stay unset.

Every process is started in its own session and stopped by its id (SIGTERM, then SIGKILL of its process
group); every temporary directory is removed, also when start-up fails half way.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from components.database.tenant import JOB_SCRIPT_SOURCE, job_command, job_env
from components.mlflow.server import (
    AUTH_ADMIN_USERNAME,
    AUTH_CONFIG_KEY,
    AUTH_CONFIG_PATH,
    AUTH_FLASK_SECRET_KEY,
    DB_PASSWORD_KEY,
    DB_SERVICE_FILE_KEY,
    DB_SERVICE_FILE_PATH,
    DB_USERNAME_KEY,
    HEALTH_PATH,
    IMAGE_REPOSITORY,
    IMAGE_TAG,
    PLATFORM_DB_CREDENTIALS,
    PORT,
    PROMETHEUS_DIR,
    RDS_CA_BUNDLE_PATH,
    MlflowServerSpec,
    backend_store_uri,
    migration_spec,
    render_auth_config,
    render_pg_service,
    server_spec,
    service_hosts,
)

LOOPBACK = "127.0.0.1"
DB_NAME = "mlflow"
DB_USER = "mlflow"
#: The stand-in of the RDS master user (components.database.metadata.MetadataDatabaseArgs.master_username).
MASTER_USER = "mlflow_admin"
MASTER_SECRET_NAME = "rds!db-local"
TENANT_SECRET_NAME = "mlops-local/database/mlflow"
DB_SECRET_NAME = "mlflow-db"
AUTH_SECRET_NAME = "mlflow-auth"
BUCKET = "mlops-local-artifacts"
REGION = "eu-west-1"
#: Local stand-ins for what the pod gets from workload identity; moto accepts any keys.
FAKE_AWS_ACCESS_KEY_ID = "AKIAMLOPSLOCALFAKE00"
FAKE_AWS_SECRET_ACCESS_KEY = "mlops-local-fake-secret-access-key"
#: The variables :func:`materialize` adds for moto; they are never part of the server spec.
MOTO_ONLY_ENV = ("MLFLOW_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
#: Characters that break a password embedded in a URI; the local database password always has them.
URI_SPECIAL = "@:/?#%&+ "

UNPRIVILEGED_USER = "nobody"


class LocalStackError(RuntimeError):
    """A local server did not start; the message says which and why (with its log's tail)."""


def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def random_password(length: int = 24, *, uri_special: bool = False) -> str:
    alphabet = string.ascii_letters + string.digits
    body = "".join(secrets.choice(alphabet) for _ in range(length))
    return f"{body[:8]}{URI_SPECIAL}{body[8:]}" if uri_special else body


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
    raise LocalStackError(
        "PostgreSQL server binaries (initdb, postgres) not found: install them "
        "(Debian: `apt-get install postgresql-15`) or set MLOPS_PG_BIN to their directory"
    )


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in name.split(".") if p.isdigit())


# --------------------------------------------------------------------------------------------- processes


@dataclass
class _Process:
    """A child process in its own session, with its output in a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    @classmethod
    def start(
        cls,
        name: str,
        argv: list[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path,
        user: int | None = None,
        group: int | None = None,
    ) -> _Process:
        log_file = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        try:
            popen = subprocess.Popen(
                argv,
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user,
                group=group,
                extra_groups=[] if user is not None else None,
            )
        except BaseException:
            log_file.close()
            raise
        return cls(name, popen, log_path, log_file)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def group_alive(self) -> bool:
        """Whether any process of the group this process leads still exists."""
        try:
            os.killpg(self.popen.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def log_tail(self, lines: int = 40) -> str:
        self.log_file.flush()
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        """Ask the process to stop, wait, then kill its whole process group (it leads its own session)."""
        try:
            if self.alive():
                with contextlib.suppress(ProcessLookupError):
                    self.popen.send_signal(sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(timeout=timeout)
            # Its children (uvicorn workers, postgres backends) share the group it leads.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=10)
            # Killed orphans are reaped by init a moment later; return once the group is empty.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.group_alive():
                time.sleep(0.05)
        finally:
            self.log_file.close()


# --------------------------------------------------------------------------------------------- PostgreSQL


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
    process: _Process
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


@dataclass(frozen=True)
class LocalCA:
    """A certificate authority made for one run: what stands in for AWS's RDS CA bundle (``ca_file``)."""

    key: Any
    cert: Any
    ca_file: Path

    @classmethod
    def create(cls, directory: Path, name: str = "mlops local test CA") -> LocalCA:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        directory.mkdir(mode=0o755, parents=True, exist_ok=True)
        ca_file = directory / "ca.pem"
        ca_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        ca_file.chmod(0o644)
        return cls(key=key, cert=cert, ca_file=ca_file)

    def issue_server_certificate(
        self, directory: Path, hosts: tuple[str, ...], uid: int | None, gid: int | None
    ) -> None:
        """server.crt and server.key (0600, owned by the server's user), signed by this CA, naming ``hosts``
        (DNS names and IP addresses): what ``verify-full`` checks the host connected to against."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        key_path, cert_path = directory / "server.key", directory / "server.crt"
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        for path in (key_path, cert_path):
            path.chmod(0o600)
            if uid is not None and gid is not None:
                os.chown(path, uid, gid)


def start_postgres(root: Path, *, timeout: float = 60.0, ca: LocalCA | None = None) -> PostgresServer:
    """initdb a cluster under ``root/pg``, start it with TLS (a certificate for 127.0.0.1 and localhost from a CA
    made for the run, or ``ca``) on a free loopback port, and create what RDS creates: a master user that is not
    a superuser (``CREATEDB CREATEROLE``, like ``rds_superuser``) and the ``mlflow`` database it owns. The
    MLflow role is the tenant job's to create (:func:`run_tenant_job`). Stop it with :meth:`PostgresServer.stop`."""
    bin_dir = find_postgres_bin()
    uid, gid = _run_as()
    base = root / "pg"
    base.mkdir(mode=0o700)
    data = base / "data"
    superuser, superuser_password = "postgres", random_password()
    pwfile = base / "pwfile"
    pwfile.write_text(superuser_password + "\n")
    if uid is not None and gid is not None:
        os.chown(base, uid, gid)
        os.chown(pwfile, uid, gid)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}
    init = subprocess.run(
        [
            str(bin_dir / "initdb"),
            "--pgdata",
            str(data),
            "--username",
            superuser,
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
        env=env,
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
        raise LocalStackError(f"initdb failed ({init.returncode}):\n{init.stdout}\n{init.stderr}")

    port = free_port()
    ca = ca or LocalCA.create(root / "ca")
    ca.issue_server_certificate(data, (LOOPBACK, "localhost"), uid, gid)
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(
            "\n# mlops local / e2e\n"
            f"listen_addresses = '{LOOPBACK}'\n"
            f"port = {port}\n"
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
    (data / "pg_hba.conf").write_text(
        "# TYPE     DATABASE USER ADDRESS       METHOD\n"
        f"hostssl    all      all  {LOOPBACK}/32 scram-sha-256\n"
        "hostnossl  all      all  0.0.0.0/0    reject\n"
    )
    process = _Process.start(
        "postgres",
        [str(bin_dir / "postgres"), "-D", str(data)],
        env=env,
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
        superuser=superuser,
        superuser_password=superuser_password,
        data_dir=data,
        process=process,
        ca_file=ca.ca_file,
        master_user=MASTER_USER,
        master_password=random_password(uri_special=True),
    )
    try:
        admin = _wait_for_postgres(server, timeout)
        try:
            admin.autocommit = True
            with admin.cursor() as cur:
                from psycopg2 import sql

                # What RDS creates: the master user (not a superuser) and the instance's database, its own.
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
            raise LocalStackError(
                f"postgres exited ({server.process.popen.returncode}):\n{server.process.log_tail()}"
            )
        try:
            return server.connect(
                user=server.superuser, password=server.superuser_password, dbname="postgres"
            )
        except psycopg2.OperationalError as err:
            last = err
            time.sleep(0.2)
    raise LocalStackError(
        f"postgres did not accept connections within {timeout:.0f}s: {last}\n{server.process.log_tail()}"
    )


# --------------------------------------------------------------------------------------------- S3 (moto)


@dataclass
class S3Server:
    """A moto server on loopback holding the artifact bucket (and a KMS key for SSE-KMS uploads)."""

    endpoint: str
    region: str
    bucket: str
    kms_key_arn: str
    server: Any

    def client(self, service: str = "s3"):
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=FAKE_AWS_ACCESS_KEY_ID,
            aws_secret_access_key=FAKE_AWS_SECRET_ACCESS_KEY,
        )

    def reset(self) -> None:
        """Forget every bucket, object and key (moto's reset API)."""
        request = urllib.request.Request(self.endpoint + "/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    def stop(self) -> None:
        try:
            self.reset()
        finally:
            self.server.stop()


def start_s3(*, region: str = REGION, bucket: str = BUCKET) -> S3Server:
    from moto.server import ThreadedMotoServer

    # One line per request otherwise (werkzeug's access log).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    s3 = S3Server(
        endpoint=f"http://{LOOPBACK}:{port}", region=region, bucket=bucket, kms_key_arn="", server=server
    )
    try:
        s3.reset()  # moto keeps its state per Python process, not per server: start empty
        key = s3.client("kms").create_key(Description="mlops local artifact key")
        s3.kms_key_arn = key["KeyMetadata"]["Arn"]
        client = s3.client()
        if region == "us-east-1":
            client.create_bucket(Bucket=bucket)
        else:
            client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})  # type: ignore[arg-type]
        client.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": s3.kms_key_arn,
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
    except BaseException:
        server.stop()
        raise
    return s3


# --------------------------------------------------------------------------------------------- the tenant


def create_database_secrets(pg: PostgresServer, s3: S3Server) -> None:
    """What RDS and Pulumi create in Secrets Manager (moto): the master secret with the master user's
    credentials, and the tenant's secret without a value (the tenant job writes it)."""
    client = s3.client("secretsmanager")
    client.create_secret(
        Name=MASTER_SECRET_NAME,
        KmsKeyId=s3.kms_key_arn,
        SecretString=json.dumps({"username": pg.master_user, "password": pg.master_password}),
    )
    client.create_secret(Name=TENANT_SECRET_NAME, KmsKeyId=s3.kms_key_arn)


def tenant_job_env(pg: PostgresServer, s3: S3Server) -> dict[str, str]:
    """The tenant Job's environment as the component renders it, for the local database and secrets."""
    return job_env(
        host=pg.host,
        port=pg.port,
        database=pg.db_name,
        role=pg.user,
        master_secret_id=MASTER_SECRET_NAME,
        tenant_secret_id=TENANT_SECRET_NAME,
        region=s3.region,
        ca_bundle_path=RDS_CA_BUNDLE_PATH,
    )


def run_tenant_job(
    root: Path,
    *,
    pg: PostgresServer,
    s3: S3Server,
    mode: str,
    env_overrides: Mapping[str, str] | None = None,
    ca_file: Path | None = None,
) -> StepRun:
    """Run the tenant Job's (``ensure``) or CronJob's (``rotate``) command, :func:`job_command` with this
    repository's copy of the program, against the local database. Replaced: the CA bundle's path (the CA made
    for the run, or ``ca_file``), ``HOME`` (a local directory); added: moto's Secrets Manager endpoint and fake
    keys (workload identity)."""
    env = tenant_job_env(pg, s3)
    env.update(env_overrides or {})
    env["PGSSLROOTCERT"] = str(ca_file or pg.ca_file)
    home = root / "tenant-home"
    home.mkdir(mode=0o700, exist_ok=True)
    env["HOME"] = str(home)
    env["PATH"] = f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"
    env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = s3.endpoint
    env["AWS_ACCESS_KEY_ID"] = FAKE_AWS_ACCESS_KEY_ID
    env["AWS_SECRET_ACCESS_KEY"] = FAKE_AWS_SECRET_ACCESS_KEY
    return run_step(
        f"tenant-{mode}", job_command(mode, script_path=str(JOB_SCRIPT_SOURCE)), env=env, cwd=home
    )


def read_tenant_secret(s3: S3Server) -> dict[str, Any]:
    """The tenant secret's current value: what External Secrets syncs into the namespace."""
    value = s3.client("secretsmanager").get_secret_value(SecretId=TENANT_SECRET_NAME)
    return json.loads(value["SecretString"])


def ensure_tenant(root: Path, *, pg: PostgresServer, s3: S3Server, mode: str = "ensure") -> StepRun:
    """Run the tenant job; then what External Secrets does: the role's credentials from the tenant secret."""
    run = run_tenant_job(root, pg=pg, s3=s3, mode=mode)
    if run.returncode != 0:
        raise LocalStackError(f"the database tenant job ({mode}) failed ({run.returncode}):\n{run.output}")
    value = read_tenant_secret(s3)
    pg.user, pg.password = value["username"], value["password"]
    return run


# --------------------------------------------------------------------------------------------- MLflow


@dataclass
class LocalSecrets:
    """Local stand-ins of the Kubernetes Secrets the spec's ``secret_env`` and auth mount name."""

    data: dict[str, dict[str, str]] = field(default_factory=dict)

    def get(self, name: str, key: str) -> str:
        try:
            return self.data[name][key]
        except KeyError:
            raise LocalStackError(
                f"the spec reads secret {name!r} key {key!r}, which the local stand-ins lack"
            ) from None


@dataclass(frozen=True)
class Materialized:
    """A server spec turned into a local command line and environment."""

    argv: list[str]
    env: dict[str, str]
    port: int
    files: dict[str, Path]
    prometheus_dir: Path

    @property
    def auth_config_file(self) -> Path:
        return self.files[AUTH_CONFIG_PATH]


def materialize(
    spec: MlflowServerSpec,
    *,
    secrets_: LocalSecrets,
    port: int,
    volumes_root: Path,
    s3_endpoint: str,
    base_env: Mapping[str, str],
    file_mounts: Mapping[str, tuple[str, str]],
    image_files: Mapping[str, Path] | None = None,
) -> Materialized:
    """The spec's command, args and env, with only what the pod gets from its cluster replaced locally.

    Replaced: the bind address (``--host``) and port (``--port``), the Prometheus emptyDir path, paths of
    files mounted from Secrets (``file_mounts``: container path -> (Secret, key); the env var pointing at one
    points at a local copy instead), paths of files the image ships (``image_files``: container path -> local
    file, e.g. the RDS CA bundle -> the CA made for the run), ``secret_env`` (resolved from ``secrets_``); added:
    :data:`MOTO_ONLY_ENV`. Everything else is passed through as it is.
    """
    args = list(spec.args)
    _replace_option(args, "--host", "0.0.0.0", LOOPBACK)
    _replace_option(args, "--port", str(spec.port), str(port))
    prometheus_dir = volumes_root / "tmp" / Path(PROMETHEUS_DIR).name
    _replace_option(args, "--expose-prometheus", PROMETHEUS_DIR, str(prometheus_dir))

    env = dict(base_env)
    env.update(spec.env)
    if env.get("MLFLOW_AUTH_CONFIG_PATH") != AUTH_CONFIG_PATH:
        raise LocalStackError(f"the spec's MLFLOW_AUTH_CONFIG_PATH is not {AUTH_CONFIG_PATH}")
    files: dict[str, Path] = {}
    for variable, value in spec.env.items():
        if value in file_mounts:  # a file mounted from a Secret: a local copy instead
            name, key = file_mounts[value]
            directory = volumes_root / "mounts" / name
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            local = directory / key
            local.write_text(secrets_.get(name, key))
            local.chmod(0o600)
            env[variable] = str(local)
            files[value] = local
        elif value in (image_files or {}):  # a file the image ships: its local stand-in
            env[variable] = str((image_files or {})[value])
            files[value] = (image_files or {})[value]
    for variable, (name, key) in spec.secret_env.items():
        env[variable] = secrets_.get(name, key)
    for variable in MOTO_ONLY_ENV:
        if variable in spec.env:
            raise LocalStackError(f"the server spec sets {variable}; it must stay unset for real S3")
    env["MLFLOW_S3_ENDPOINT_URL"] = s3_endpoint
    env["AWS_ACCESS_KEY_ID"] = FAKE_AWS_ACCESS_KEY_ID
    env["AWS_SECRET_ACCESS_KEY"] = FAKE_AWS_SECRET_ACCESS_KEY
    return Materialized(
        argv=[*spec.command, *args],
        env=env,
        port=port,
        files=files,
        prometheus_dir=prometheus_dir,
    )


def _replace_option(args: list[str], option: str, expected: str, value: str) -> None:
    try:
        index = args.index(option)
    except ValueError:
        raise LocalStackError(f"the server spec has no {option} argument") from None
    if args[index + 1] != expected:
        raise LocalStackError(f"the server spec's {option} is {args[index + 1]!r}, expected {expected!r}")
    args[index + 1] = value


@dataclass(frozen=True)
class StepRun:
    """One command run to completion (a Job's container, locally): its argv, environment and result."""

    name: str
    argv: list[str]
    env: dict[str, str]
    returncode: int
    output: str


def run_step(
    name: str, argv: list[str], *, env: Mapping[str, str], cwd: Path, timeout: float = 300.0
) -> StepRun:
    done = subprocess.run(
        argv, env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    return StepRun(name, list(argv), dict(env), done.returncode, done.stdout + done.stderr)


def _localize(env: Mapping[str, str], files: Mapping[str, Path]) -> dict[str, str]:
    """``env`` with every value that is a container path of ``files`` replaced by its local file."""
    return {k: str(files[v]) if v in files else v for k, v in env.items()}


def run_migration(spec: MlflowServerSpec, run: Materialized, *, cwd: Path) -> list[StepRun]:
    """What the migration Job and the server's init container run, in their order, against the local database:
    the schema check (expected to fail on an empty or old schema), the Job's steps, the check again."""
    migration = migration_spec(spec)
    env = {**{k: run.env[k] for k in ("PATH", "HOME", "TMPDIR", "LANG") if k in run.env}}
    env.update(_localize(migration.env, run.files))
    steps = [run_step("check-before", migration.check, env=env, cwd=cwd)]
    for name, argv in migration.steps:
        step = run_step(name, argv, env=env, cwd=cwd)
        steps.append(step)
        if step.returncode != 0:
            raise LocalStackError(f"migration step {name} failed ({step.returncode}):\n{step.output[-3000:]}")
    steps.append(run_step("check-after", migration.check, env=env, cwd=cwd))
    if steps[-1].returncode != 0:
        raise LocalStackError(f"the schema is not at head after the migration:\n{steps[-1].output[-3000:]}")
    return steps


@dataclass
class MlflowServer:
    url: str
    admin_username: str
    admin_password: str
    spec: MlflowServerSpec
    materialized: Materialized
    process: _Process
    migration: list[StepRun] = field(default_factory=list)

    def stop(self) -> None:
        self.process.stop(signal.SIGTERM)


#: Files the Deployment mounts from Secrets: container path -> (Secret, key).
FILE_MOUNTS = {
    AUTH_CONFIG_PATH: (AUTH_SECRET_NAME, AUTH_CONFIG_KEY),
    DB_SERVICE_FILE_PATH: (DB_SECRET_NAME, DB_SERVICE_FILE_KEY),
}


def local_spec(
    *, pg: PostgresServer, s3: S3Server, workers: int = 2, db_credentials: str = PLATFORM_DB_CREDENTIALS
) -> MlflowServerSpec:
    """The spec as the platform renders it, for the local database and bucket."""
    return server_spec(
        db_host=pg.host,
        db_port=pg.port,
        db_name=pg.db_name,
        artifact_bucket=s3.bucket,
        db_secret_name=DB_SECRET_NAME,
        auth_secret_name=AUTH_SECRET_NAME,
        image=f"{IMAGE_REPOSITORY}:{IMAGE_TAG}",
        region=s3.region,
        workers=workers,
        allowed_hosts=service_hosts(service="mlflow", namespace="mlflow"),
        artifact_kms_key_arn=s3.kms_key_arn,
        db_credentials=db_credentials,
    )


def start_mlflow(
    root: Path,
    *,
    pg: PostgresServer,
    s3: S3Server,
    spec: MlflowServerSpec | None = None,
    port: int | None = None,
    timeout: float = 150.0,
    migrate: bool | None = None,
) -> MlflowServer:
    """Start the MLflow server from the spec against ``pg`` and ``s3``; wait until /health answers.

    With ``migrate`` (the platform's order) the migration Job's commands run first (:func:`run_migration`), so
    the server starts on a schema at head, as the Deployment's init container makes it wait for. By default
    this is so with the platform's service-file credentials (the Job reads them the same way); the ``env``
    mode, kept only to show its rotation limitation, lets the server create its schema itself."""
    spec = spec or local_spec(pg=pg, s3=s3)
    admin_password = random_password()
    secrets_ = LocalSecrets(
        {
            DB_SECRET_NAME: {
                DB_USERNAME_KEY: pg.user,
                DB_PASSWORD_KEY: pg.password,
                DB_SERVICE_FILE_KEY: render_pg_service(user=pg.user, password=pg.password),
            },
            AUTH_SECRET_NAME: {
                AUTH_CONFIG_KEY: render_auth_config(
                    admin_username=AUTH_ADMIN_USERNAME,
                    admin_password=admin_password,
                    database_uri=backend_store_uri(host=pg.host, port=pg.port, db_name=pg.db_name),
                ),
                AUTH_FLASK_SECRET_KEY: secrets.token_hex(32),
            },
        }
    )
    home = root / "home"
    home.mkdir(mode=0o700)
    (root / "tmp").mkdir(mode=0o700, exist_ok=True)
    port = port or free_port()
    venv_bin = str(Path(sys.executable).parent)
    base_env = {
        # What the image provides: PATH with the server's virtualenv first, HOME and TMPDIR (an emptyDir).
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(root / "tmp"),
        "LANG": "C.UTF-8",
    }
    run = materialize(
        spec,
        secrets_=secrets_,
        port=port,
        volumes_root=root,
        s3_endpoint=s3.endpoint,
        base_env=base_env,
        file_mounts=FILE_MOUNTS,
        image_files={RDS_CA_BUNDLE_PATH: pg.ca_file},
    )
    if migrate is None:
        migrate = "PGSERVICEFILE" in spec.env
    migration = run_migration(spec, run, cwd=root / "tmp") if migrate else []
    process = _Process.start("mlflow", run.argv, env=run.env, cwd=root / "tmp", log_path=root / "mlflow.log")
    server = MlflowServer(
        url=f"http://{LOOPBACK}:{port}",
        admin_username=AUTH_ADMIN_USERNAME,
        admin_password=admin_password,
        spec=spec,
        materialized=run,
        process=process,
        migration=migration,
    )
    try:
        _wait_for_health(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_for_health(server: MlflowServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    url = server.url + HEALTH_PATH
    while time.monotonic() < deadline:
        if not server.process.alive():
            raise LocalStackError(
                f"mlflow server exited ({server.process.popen.returncode}) before {HEALTH_PATH} answered:\n"
                f"{server.process.log_tail()}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise LocalStackError(
        f"mlflow server: {url} did not answer within {timeout:.0f}s:\n{server.process.log_tail()}"
    )


# --------------------------------------------------------------------------------------------- the trio


@dataclass
class LocalPlatform:
    root: Path
    pg: PostgresServer
    s3: S3Server
    mlflow: MlflowServer
    tenant_runs: list[StepRun] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.mlflow.url

    def rotate_db_password(self) -> StepRun:
        """What the tenant's rotation CronJob does (its command, mode ``rotate``): a new password for the role,
        in Secrets Manager; then what External Secrets and the kubelet do: the Secret's mounted service file gets
        the new value (environment variables of a running process cannot)."""
        run = ensure_tenant(self.root, pg=self.pg, s3=self.s3, mode="rotate")
        self.tenant_runs.append(run)
        service_file = self.mlflow.materialized.files.get(DB_SERVICE_FILE_PATH)
        if service_file is not None:
            service_file.write_text(render_pg_service(user=self.pg.user, password=self.pg.password))
        return run

    def drop_server_connections(self) -> int:
        """Terminate the server's database sessions (as a failover or restart of the database would)."""
        admin = self.pg.connect(
            user=self.pg.superuser, password=self.pg.superuser_password, dbname="postgres"
        )
        try:
            admin.autocommit = True
            with admin.cursor() as cur:
                cur.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = %s",
                    (self.pg.user,),
                )
                row = cur.fetchone()
        finally:
            admin.close()
        return int(row[0]) if row else 0

    def write_credentials(self) -> Path:
        """``root/credentials.env`` (0600): what a client needs to talk to the local server."""
        path = self.root / "credentials.env"
        path.write_text(
            f"MLFLOW_TRACKING_URI={self.mlflow.url}\n"
            f"MLFLOW_TRACKING_USERNAME={self.mlflow.admin_username}\n"
            f"MLFLOW_TRACKING_PASSWORD={self.mlflow.admin_password}\n"
        )
        path.chmod(0o600)
        return path


def make_root(prefix: str = "mlops-local-") -> Path:
    root = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        # The unprivileged PostgreSQL user must traverse it (not list it).
        root.chmod(0o711)
    return root


@contextlib.contextmanager
def local_platform(
    *,
    port: int | None = None,
    workers: int = 2,
    root: Path | None = None,
    db_credentials: str = PLATFORM_DB_CREDENTIALS,
) -> Iterator[LocalPlatform]:
    """Start PostgreSQL, S3 and MLflow; stop all of them and remove every temporary directory on exit."""
    root = root or make_root()
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        pg = start_postgres(root)
        stack.callback(pg.stop)
        s3 = start_s3()
        stack.callback(s3.stop)
        # The platform's order: the tenant Job (role, database, password), then the migration Job, then the server.
        create_database_secrets(pg, s3)
        tenant = ensure_tenant(root, pg=pg, s3=s3)
        spec = local_spec(pg=pg, s3=s3, workers=workers, db_credentials=db_credentials)
        mlflow = start_mlflow(root, pg=pg, s3=s3, spec=spec, port=port)
        stack.callback(mlflow.stop)
        yield LocalPlatform(root=root, pg=pg, s3=s3, mlflow=mlflow, tenant_runs=[tenant])


# --------------------------------------------------------------------------------------------- metrics exporter


@dataclass
class MetricsExporter:
    """The MLflow pod's metrics exporter (components.mlflow.metrics), next to the local server."""

    url: str
    credentials_dir: Path
    argv: list[str]
    process: _Process

    def set_credential(self, username: str, password: str) -> None:
        """What ESO and the kubelet do on rotation: the mounted user name and password hash change."""
        write_metrics_credential(self.credentials_dir, username, password)

    def stop(self) -> None:
        self.process.stop(signal.SIGTERM)


def write_metrics_credential(directory: Path, username: str, password: str) -> None:
    """The two keys of the scrape-credential Secret the exporter mounts (user name, password SHA-256)."""
    import hashlib

    from components.mlflow.metrics import PASSWORD_SHA256_KEY, USERNAME_KEY

    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for key, value in (
        (USERNAME_KEY, username),
        (PASSWORD_SHA256_KEY, hashlib.sha256(password.encode()).hexdigest()),
    ):
        (directory / key).write_text(value)
        (directory / key).chmod(0o600)


def start_metrics_exporter(
    root: Path, *, mlflow: MlflowServer, username: str, password: str, timeout: float = 30.0
) -> MetricsExporter:
    """Start :func:`components.mlflow.metrics.exporter_spec` against ``mlflow``'s metric files; replaced, as for
    the server: the bind address and port, the two mounted directories (the shared emptyDir, the Secret)."""
    from components.mlflow.metrics import CREDENTIALS_MOUNT, METRICS_PORT, exporter_spec

    spec = exporter_spec(image=mlflow.spec.image)
    args = list(spec.args)
    port = free_port()
    _replace_option(args, "--bind", "0.0.0.0", LOOPBACK)
    _replace_option(args, "--port", str(METRICS_PORT), str(port))
    _replace_option(
        args,
        "--multiproc-dir",
        args[args.index("--multiproc-dir") + 1],
        str(mlflow.materialized.prometheus_dir),
    )
    credentials = root / "mounts" / "metrics-auth"
    _replace_option(args, "--credentials-dir", CREDENTIALS_MOUNT, str(credentials))
    write_metrics_credential(credentials, username, password)
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(root / "home"),
        "LANG": "C.UTF-8",
        **spec.env,
    }
    argv = [*spec.command, *args]
    process = _Process.start("metrics", argv, env=env, cwd=root, log_path=root / "metrics.log")
    exporter = MetricsExporter(
        url=f"http://{LOOPBACK}:{port}", credentials_dir=credentials, argv=argv, process=process
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(exporter.url + spec.health_path, timeout=2) as response:
                if response.status == 200:
                    return exporter
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if not process.alive() or time.monotonic() > deadline:
            exporter.stop()
            raise LocalStackError(f"metrics exporter did not start:\n{process.log_tail()}")
        time.sleep(0.2)


__all__ = [
    "PORT",
    "LocalPlatform",
    "LocalStackError",
    "PostgresServer",
    "S3Server",
    "local_platform",
    "materialize",
    "start_mlflow",
    "start_postgres",
    "start_s3",
]
