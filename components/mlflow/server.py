"""The MLflow tracking server, defined once.

Everything that decides how the platform's MLflow server runs lives here: the image it runs (the
Dockerfile and pinned requirements under ``docker/mlflow/``, tagged :data:`IMAGE_TAG` in the registry
repository :data:`IMAGE_REPOSITORY`), the command, its arguments and its environment. Two consumers use
it, and nothing else may restate any of it:

* the ModelRegistry component, which turns :func:`server_spec` into the container of its Kubernetes
  Deployment (``secret_env`` becomes ``valueFrom.secretKeyRef``; the auth Secret is mounted at
  :data:`AUTH_CONFIG_MOUNT`);
* the end-to-end test and ``mlops local`` (``mlops/local/``), which start the very same command
  against a real PostgreSQL with TLS and an S3 server, substituting only hosts, ports and credentials.

Design decisions (see docs/mlflow.md for the long form):

* **No credential in any URI, and the server verified.** The backend-store URI is
  ``postgresql+psycopg2://HOST:PORT/DB?sslmode=verify-full``; libpq checks the server's certificate against
  ``PGSSLROOTCERT`` (:data:`RDS_CA_BUNDLE_PATH`, AWS's RDS CA bundle baked into the image, checked at build) and its
  name against HOST
  (the driver named explicitly: with SQLAlchemy 2 a bare ``postgresql://`` selects psycopg 3, which the image
  does not have). The user name and password reach libpq as ``PGUSER``/``PGPASSWORD`` from the Secret synced
  from the RDS-managed secret, so they are not in Pulumi state, not in the pod spec, and a password with
  URL-special characters (``@ : / ? # %``) cannot break the URI.
  ``db_credentials="service-file"`` gives libpq a service file mounted from that Secret instead, which it
  reads at every new connection: environment variables are fixed when the process starts, so with them a
  reconnect after RDS rotates the managed password (every 7 days by default) fails until the pod restarts
  (tests/e2e/test_mlflow_rotation.py shows both).
* **Artifacts through the server's proxy** (``--serve-artifacts --artifacts-destination s3://BUCKET/PREFIX``):
  clients never hold S3 credentials; the server uses its workload identity. ``MLFLOW_S3_ENDPOINT_URL`` is never
  set (it must stay unset for real S3 with workload identity).
* **Authentication** by MLflow's basic-auth app (``--app-name basic-auth``). Its ini file (see
  :func:`render_auth_config`) and the Flask secret key come from a Secret generated in the cluster, never from
  Pulumi. The auth tables live in the same PostgreSQL database as the tracking tables (their own
  ``alembic_version_auth`` migration table; no SQLite on a read-only root filesystem), reached with the same
  ``PGUSER``/``PGPASSWORD``.
* **Metrics** with ``--expose-prometheus`` on :data:`PROMETHEUS_DIR` (inside the writable ``/tmp`` emptyDir).
  ``/metrics`` sits behind basic-auth like every other route but ``/health``: the scraper needs credentials.
* **No background job runner** (``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``): MLflow 3 otherwise starts a huey
  consumer per replica that runs periodic tasks on every replica at once and executes GenAI scorer jobs the
  platform does not offer; and **no telemetry** (``MLFLOW_DISABLE_TELEMETRY=true``): the namespace has no egress.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlops_platform.components.validation import AWS_REGION

#: MLflow version the image and the end-to-end test run. Keep in step with docker/mlflow/requirements.txt
#: and the ``e2e`` extra in pyproject.toml (tests/components/mlflow/test_server.py checks all three agree).
MLFLOW_VERSION = "3.17.2"
#: ECR repository the platform's MLflow image is pushed to (must be listed in the registry's repositories).
IMAGE_REPOSITORY = "mlflow"
#: Image tag: the MLflow version plus the platform's own build number of that version (bump on any change
#: of the Dockerfile or requirements; ECR tags are immutable).
IMAGE_TAG = f"{MLFLOW_VERSION}-platform.2"
#: Docker build context of the image, relative to the repository root.
IMAGE_BUILD_CONTEXT = "docker/mlflow"
#: Numeric user and group the image runs as (the Deployment's runAsUser/runAsGroup/fsGroup).
IMAGE_UID = 10001

#: AWS's global RDS certificate bundle (every region's root CAs), fetched over verified HTTPS when the image is
#: built (the Dockerfile's ``RDS_CA_BUNDLE_URL`` build argument: a test keeps the two equal); the build fails
#: unless every certificate in it is an Amazon RDS certificate authority (docker/mlflow/fetch_rds_ca.py).
RDS_CA_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
#: Where the image holds that bundle; libpq reads it through ``PGSSLROOTCERT``.
RDS_CA_BUNDLE_PATH = "/opt/mlflow/share/rds-ca/global-bundle.pem"
#: libpq's TLS mode: the server's certificate must chain to the bundle and name the host connected to.
DB_SSLMODE = "verify-full"

PORT = 5000
METRICS_PATH = "/metrics"
HEALTH_PATH = "/health"
#: Writable directory for prometheus_client's multiprocess files (under the ``/tmp`` emptyDir).
PROMETHEUS_DIR = "/tmp/mlflow-metrics"

#: Keys of the database Secret synced from the RDS-managed master-user secret.
DB_USERNAME_KEY = "username"
DB_PASSWORD_KEY = "password"
#: ``db_credentials="service-file"``: the database Secret also holds a libpq service file (key
#: DB_SERVICE_FILE_KEY, rendered by :func:`render_pg_service`, e.g. by an External Secrets template from the
#: two keys above), mounted at DB_SERVICE_MOUNT. libpq reads it at every new connection, so a rotated RDS
#: password is picked up without restarting the pod (environment variables are fixed at start).
DB_SERVICE_NAME = "mlflow"
PLATFORM_DB_CREDENTIALS = "service-file"
"""How the platform's ModelRegistry (and so ``mlops local`` and the end-to-end test) hands the database
credentials to the server: the libpq service file, which survives RDS's password rotation."""
DB_SERVICE_FILE_KEY = "pg_service.conf"
DB_SERVICE_MOUNT = "/etc/mlflow/db"
DB_SERVICE_FILE_PATH = f"{DB_SERVICE_MOUNT}/{DB_SERVICE_FILE_KEY}"
DB_CREDENTIALS = ("env", "service-file")

#: The auth Secret (generated in the cluster) holds two keys: the basic-auth ini file, mounted as a file at
#: ``AUTH_CONFIG_MOUNT/AUTH_CONFIG_KEY``, and the Flask secret key (CSRF), passed as an env var. Mount only
#: AUTH_CONFIG_KEY (``items``) so the Flask key does not also land on disk.
AUTH_CONFIG_KEY = "basic_auth.ini"
AUTH_FLASK_SECRET_KEY = "flask-secret-key"
AUTH_CONFIG_MOUNT = "/etc/mlflow/auth"
AUTH_CONFIG_PATH = f"{AUTH_CONFIG_MOUNT}/{AUTH_CONFIG_KEY}"
#: Username of the bootstrap admin the generated ini names.
AUTH_ADMIN_USERNAME = "admin"

#: Permissions a user gets on resources they did not create (MLflow's names).
AUTH_PERMISSIONS = ("NO_PERMISSIONS", "READ", "USE", "EDIT", "MANAGE")
#: MLflow refuses admin passwords shorter than this.
AUTH_MIN_PASSWORD_LENGTH = 12

#: MLflow's own default allowed Host headers (localhost and private addresses). Kept whenever hosts are
#: added, so kubelet probes and Prometheus, which address the pod by IP, are still accepted.
DEFAULT_ALLOWED_HOSTS = (
    "localhost",
    "localhost:*",
    "127.0.0.1",
    "127.0.0.1:*",
    "10.*",
    "192.168.*",
    *(f"172.{i}.*" for i in range(16, 32)),
)

_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$")
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_ALLOWED_HOST = re.compile(r"^[A-Za-z0-9*.:\[\]-]+$")


@dataclass(frozen=True)
class MlflowServerSpec:
    """What a container running the MLflow server needs; build it with :func:`server_spec`.

    Attributes:
        image: The pinned image reference (``<image>`` as given; the registry URL plus ``:IMAGE_TAG``).
        command: The container command (``["mlflow"]``, found on the image's PATH).
        args: The container arguments (``server ...``).
        env: Plain environment variables; never a secret.
        secret_env: Environment variables read from Kubernetes Secrets: name -> (secret name, key).
        port: The container port the server listens on.
        metrics_path: The Prometheus metrics path (behind basic-auth).
        health_path: The unauthenticated health path for liveness and readiness probes.
    """

    image: str
    command: list[str]
    args: list[str]
    env: dict[str, str]
    secret_env: dict[str, tuple[str, str]]
    port: int = PORT
    metrics_path: str = METRICS_PATH
    health_path: str = HEALTH_PATH


def backend_store_uri(*, host: str, port: int, db_name: str) -> str:
    """The SQLAlchemy URI of the backend store: driver named, TLS with the server verified (``verify-full``; the
    CA bundle is ``PGSSLROOTCERT``), no credentials in it."""
    _check(_HOST.match(host) is not None, f"db_host {host!r} is not a host name or IPv4 address")
    _check(1 <= port <= 65535, f"db_port {port} is not a TCP port")
    _check(_DB_NAME.match(db_name) is not None, f"db_name {db_name!r} is not a PostgreSQL database name")
    return f"postgresql+psycopg2://{host}:{port}/{db_name}?sslmode={DB_SSLMODE}"


def artifacts_destination(*, bucket: str, prefix: str = "mlflow") -> str:
    """``s3://<bucket>/<prefix>``: where the artifact proxy stores artifacts."""
    _check(
        _BUCKET.match(bucket) is not None and ".." not in bucket,
        f"artifact_bucket {bucket!r} is not a bucket name",
    )
    _check(_PREFIX.match(prefix) is not None, f"artifact_prefix {prefix!r} must be a relative key prefix")
    return f"s3://{bucket}/{prefix}"


def allowed_hosts_value(hosts: Sequence[str]) -> str:
    """The ``--allowed-hosts`` value: each host with and without a port, plus MLflow's defaults."""
    patterns: list[str] = []
    for host in hosts:
        _check(_ALLOWED_HOST.match(host) is not None, f"allowed host {host!r} has characters not allowed")
        _check(host != "*", "allowed host '*' would disable Host-header validation")
        patterns.append(host)
        if ":" not in host:
            patterns.append(f"{host}:*")
    return ",".join(dict.fromkeys([*patterns, *DEFAULT_ALLOWED_HOSTS]))


def service_hosts(*, service: str, namespace: str, cluster_domain: str = "cluster.local") -> list[str]:
    """The names a Kubernetes Service is reached by, for ``allowed_hosts``."""
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.{cluster_domain}",
    ]


def server_spec(
    *,
    db_host: str,
    db_port: int,
    db_name: str,
    artifact_bucket: str,
    artifact_prefix: str = "mlflow",
    db_secret_name: str,
    auth_secret_name: str,
    image: str,
    region: str,
    workers: int = 2,
    allowed_hosts: Sequence[str] = (),
    artifact_kms_key_arn: str | None = None,
    db_credentials: str = "env",
    ca_bundle_path: str = RDS_CA_BUNDLE_PATH,
) -> MlflowServerSpec:
    """The MLflow server's container: command, arguments and environment.

    Args:
        db_host, db_port, db_name: The MetadataDatabase endpoint and database (TLS is required).
        artifact_bucket, artifact_prefix: Artifacts go to ``s3://<bucket>/<prefix>``.
        db_secret_name: Kubernetes Secret with keys :data:`DB_USERNAME_KEY` and :data:`DB_PASSWORD_KEY`.
        auth_secret_name: Kubernetes Secret with keys :data:`AUTH_CONFIG_KEY` (the ini of
            :func:`render_auth_config`, mounted at :data:`AUTH_CONFIG_MOUNT`) and :data:`AUTH_FLASK_SECRET_KEY`.
        image: The pinned image reference.
        region: The AWS region of the bucket (and of the STS endpoint workload identity uses).
        workers: uvicorn worker processes per replica.
        allowed_hosts: Extra Host headers to accept (e.g. :func:`service_hosts`); MLflow by default accepts only
            localhost and private IP addresses, so clients using the Service's DNS name need this.
        artifact_kms_key_arn: When set, uploads name SSE-KMS with this key explicitly, so a bucket policy that
            denies uploads without an encryption header does not refuse them.
        db_credentials: How libpq gets the database user and password. ``"env"``: ``PGUSER``/``PGPASSWORD``
            from the Secret's keys, read once when the process starts, so after RDS rotates the managed password
            (every 7 days by default) every new connection fails until the pod restarts. ``"service-file"``:
            ``PGSERVICEFILE``/``PGSERVICE`` name the libpq service file mounted from the Secret
            (:data:`DB_SERVICE_FILE_KEY` at :data:`DB_SERVICE_MOUNT`), which libpq reads at every connection, so
            the rotated password is used as soon as the Secret is refreshed.
        ca_bundle_path: The CA bundle libpq verifies the server with (``PGSSLROOTCERT``); the image's RDS bundle.
    """
    _check(bool(image.strip()) and not image.endswith(":latest"), "image must be a pinned reference")
    _check(AWS_REGION.match(region) is not None, f"region {region!r} is not an AWS region")
    _check(1 <= workers <= 32, f"workers {workers} must be between 1 and 32")
    for name in (db_secret_name, auth_secret_name):
        _check(_SECRET_NAME.match(name) is not None, f"{name!r} is not a Kubernetes Secret name")

    args = [
        "server",
        "--host",
        "0.0.0.0",
        "--port",
        str(PORT),
        "--workers",
        str(workers),
        "--backend-store-uri",
        backend_store_uri(host=db_host, port=db_port, db_name=db_name),
        "--serve-artifacts",
        "--artifacts-destination",
        artifacts_destination(bucket=artifact_bucket, prefix=artifact_prefix),
        "--expose-prometheus",
        PROMETHEUS_DIR,
        "--app-name",
        "basic-auth",
    ]
    if allowed_hosts:
        args += ["--allowed-hosts", allowed_hosts_value(allowed_hosts)]

    env = {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "PGSSLROOTCERT": ca_bundle_path,
        "MLFLOW_AUTH_CONFIG_PATH": AUTH_CONFIG_PATH,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "PYTHONUNBUFFERED": "1",
    }
    if artifact_kms_key_arn is not None:
        _check(
            re.match(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$", artifact_kms_key_arn)
            is not None,
            f"artifact_kms_key_arn {artifact_kms_key_arn!r} is not a KMS key ARN",
        )
        env["MLFLOW_S3_UPLOAD_EXTRA_ARGS"] = (
            '{"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "' + artifact_kms_key_arn + '"}'
        )

    _check(ca_bundle_path.startswith("/"), f"ca_bundle_path {ca_bundle_path!r} must be an absolute path")
    _check(db_credentials in DB_CREDENTIALS, f"db_credentials must be one of {DB_CREDENTIALS}")
    secret_env = {"MLFLOW_FLASK_SERVER_SECRET_KEY": (auth_secret_name, AUTH_FLASK_SECRET_KEY)}
    if db_credentials == "env":
        secret_env = {
            "PGUSER": (db_secret_name, DB_USERNAME_KEY),
            "PGPASSWORD": (db_secret_name, DB_PASSWORD_KEY),
            **secret_env,
        }
    else:
        env["PGSERVICEFILE"] = DB_SERVICE_FILE_PATH
        env["PGSERVICE"] = DB_SERVICE_NAME
    return MlflowServerSpec(image=image, command=["mlflow"], args=args, env=env, secret_env=secret_env)


#: The auth app's migrations (``alembic_version_auth``), which ``mlflow db upgrade`` does not run. MLflow's
#: basic-auth app would otherwise run them in every replica at start.
_AUTH_UPGRADE = (
    "import sys\n"
    "from mlflow.store.db.utils import create_sqlalchemy_engine_with_retry\n"
    "from mlflow.server.auth.db.utils import migrate_if_needed\n"
    "migrate_if_needed(create_sqlalchemy_engine_with_retry(sys.argv[1]), 'head')\n"
    "print('auth schema at head', flush=True)\n"
)

#: Exit 0 once both migration tables are at the heads of the image's migrations; with ``wait`` poll until then.
_SCHEMA_GATE = (
    "import sys, time\n"
    "from alembic.migration import MigrationContext\n"
    "from alembic.script import ScriptDirectory\n"
    "from sqlalchemy import create_engine\n"
    "from sqlalchemy.pool import NullPool\n"
    "from mlflow.server.auth.db.utils import _get_alembic_config as auth_config\n"
    "from mlflow.store.db.utils import _get_alembic_config as tracking_config\n"
    "uri, wait = sys.argv[1], sys.argv[2] == 'wait'\n"
    "heads = {'alembic_version': ScriptDirectory.from_config(tracking_config(uri)).get_current_head(),\n"
    "         'alembic_version_auth': ScriptDirectory.from_config(auth_config(uri)).get_current_head()}\n"
    "engine = create_engine(uri, poolclass=NullPool)\n"
    "while True:\n"
    "    try:\n"
    "        with engine.connect() as conn:\n"
    "            current = {t: MigrationContext.configure(conn, opts={'version_table': t})\n"
    "                       .get_current_revision() for t in heads}\n"
    "    except Exception as err:\n"
    "        current = {'error': type(err).__name__}\n"
    "    if current == heads:\n"
    "        print('schema at head', heads, flush=True)\n"
    "        sys.exit(0)\n"
    "    print('schema not at head: ', current, '!=', heads, flush=True)\n"
    "    if not wait:\n"
    "        sys.exit(1)\n"
    "    time.sleep(5)\n"
)

#: Plain variables of the server spec that the migration job and the schema gate also need (libpq's).
_MIGRATION_ENV = (
    "PGSERVICEFILE",
    "PGSERVICE",
    "PGSSLROOTCERT",
    "MLFLOW_DISABLE_TELEMETRY",
    "PYTHONUNBUFFERED",
)


@dataclass(frozen=True)
class MigrationSpec:
    """The schema migration job and the gate in front of the server; build it with :func:`migration_spec`.

    Attributes:
        steps: ``(container name, argv)`` run in order by the migration Job (init containers, then the last one):
            ``mlflow db upgrade <uri>`` (creates the tracking tables of an empty database, or upgrades them), then
            the basic-auth app's migrations.
        gate: argv of the server pods' init container: waits until both migration tables are at the image's
            heads, so no replica starts on an empty or old schema (and none of them migrates it).
        check: the gate's argv without waiting (exit 1 when not at head).
        env: plain variables (libpq's service file and CA bundle) the Job's and the gate's containers get.
    """

    steps: list[tuple[str, list[str]]]
    gate: list[str]
    check: list[str]
    env: dict[str, str]


def migration_spec(spec: MlflowServerSpec) -> MigrationSpec:
    """The migration job of the server ``spec`` (same image, same database URI and credentials)."""
    uri = backend_store_uri_of(spec)
    env = {k: spec.env[k] for k in _MIGRATION_ENV if k in spec.env}
    _check(
        "PGSERVICEFILE" in env,
        "the migration job reads the credentials from the service file (db_credentials='service-file')",
    )
    return MigrationSpec(
        steps=[
            ("db-upgrade", ["mlflow", "db", "upgrade", uri]),
            ("auth-upgrade", ["python", "-c", _AUTH_UPGRADE, uri]),
        ],
        gate=["python", "-c", _SCHEMA_GATE, uri, "wait"],
        check=["python", "-c", _SCHEMA_GATE, uri, "once"],
        env=env,
    )


def backend_store_uri_of(spec: MlflowServerSpec) -> str:
    """The backend-store URI a server spec runs with (its ``--backend-store-uri`` argument, or the
    ``MLFLOW_BACKEND_STORE_URI`` variable); the migration job and the basic-auth app use the same database."""
    args = list(spec.args)
    if "--backend-store-uri" in args and args.index("--backend-store-uri") + 1 < len(args):
        return args[args.index("--backend-store-uri") + 1]
    for arg in args:
        if arg.startswith("--backend-store-uri="):
            return arg.split("=", 1)[1]
    if "MLFLOW_BACKEND_STORE_URI" in spec.env:
        return spec.env["MLFLOW_BACKEND_STORE_URI"]
    raise ServerSpecError("the MLflow server spec names no backend store URI")


def render_pg_service(*, user: str, password: str, service: str = DB_SERVICE_NAME) -> str:
    """The libpq service file of ``db_credentials="service-file"`` (``[service]``, ``user=``, ``password=``).

    libpq takes each value verbatim up to the end of its line: any character but a line break is fine
    (``@ : / ? # % &`` included); leading and trailing whitespace is not kept, so it is refused. Template
    placeholders (``{{ .username }}``, ``{{ .password }}``) may stand for the values.
    """
    _check(
        re.fullmatch(r"[A-Za-z0-9_.-]{1,63}", service) is not None,
        f"service {service!r} is not a service name",
    )
    for name, value in (("user", user), ("password", password)):
        _check(bool(value) and not re.search(r"[\r\n]", value), f"{name} must be one non-empty line")
        _check(value == value.strip(), f"{name} must not start or end with whitespace")
    return f"[{service}]\nuser={user}\npassword={password}\n"


def render_auth_config(
    *,
    admin_username: str,
    admin_password: str,
    database_uri: str,
    default_permission: str = "NO_PERMISSIONS",
    auth_cache_ttl_seconds: int = 30,
) -> str:
    """The basic-auth ini file MLflow reads from ``MLFLOW_AUTH_CONFIG_PATH``.

    ``database_uri`` is the backend-store URI (:func:`backend_store_uri`): the auth tables share the tracking
    database and its credential-free URI; libpq takes the user and password from ``PGUSER``/``PGPASSWORD``.
    The admin user is created with ``admin_password`` the first time the server starts against an empty user
    store; later changes of the password here are ignored (rotate it through MLflow's API).

    ``auth_cache_ttl_seconds``: each worker caches a successful credential check this long. Without the
    cache every request pays a deliberately slow password hash (scrypt) - measured here: 0.3-2.4 s per
    authenticated request on a loaded 2-core machine, 15-35 ms with it - which a training job logging metrics
    step by step turns into a CPU-bound server. The price: a changed password or a deleted user is still
    accepted by a worker that cached it for up to this long. 0 turns the cache off.

    MLflow reads the file with ``configparser``'s interpolation, so ``%`` is written as ``%%``. A template
    placeholder (e.g. an External Secrets ``{{ .password }}``) may stand for the password; it must then
    escape ``%`` the same way, or the generator must not produce it.
    """
    _check(
        bool(re.match(r"^[A-Za-z0-9_.@-]{1,255}$", admin_username)),
        "admin_username has characters not allowed",
    )
    _check(len(admin_password) >= AUTH_MIN_PASSWORD_LENGTH, "admin_password must be at least 12 characters")
    _check(not re.search(r"[\r\n]", admin_password), "admin_password must be one line")
    _check(admin_password == admin_password.strip(), "admin_password must not start or end with whitespace")
    _check(default_permission in AUTH_PERMISSIONS, f"default_permission must be one of {AUTH_PERMISSIONS}")
    _check(0 <= auth_cache_ttl_seconds <= 300, "auth_cache_ttl_seconds must be between 0 and 300")
    _check(
        database_uri.startswith("postgresql+psycopg2://") and "@" not in database_uri.split("?")[0],
        "database_uri must be a credential-free postgresql+psycopg2:// URI",
    )
    values: Mapping[str, str] = {
        "default_permission": default_permission,
        "database_uri": database_uri,
        "admin_username": admin_username,
        "admin_password": admin_password,
        "authorization_function": "mlflow.server.auth:authenticate_request_basic_auth",
        "grant_default_workspace_access": "false",
        "auth_cache_ttl_seconds": str(auth_cache_ttl_seconds),
    }
    lines = ["[mlflow]", *(f"{key} = {value.replace('%', '%%')}" for key, value in values.items())]
    return "\n".join(lines) + "\n"


class ServerSpecError(ValueError):
    """An argument of :func:`server_spec` or :func:`render_auth_config` is not usable."""


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ServerSpecError(message)
