"""End to end: the MLflow server as the platform deploys it, against a real PostgreSQL (TLS) and an S3 server.

The trio is started by mlops/local/ - the same code `mlops local` runs - with the command, arguments
and environment of mlops_platform.components.mlflow.server.server_spec(), substituting only hosts, ports, credentials and
volume paths (see mlops_platform.mlops.local.materialize; MLFLOW_S3_ENDPOINT_URL and fake AWS keys are added only
because moto stands in for S3 and workload identity). Then a user does with the MLflow client what users
do, and the database and the bucket are checked directly.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from local_kit import run_tenant_job

from mlops_platform.components.database.tenant import JOB_SCRIPT_SOURCE, job_command
from mlops_platform.components.mlflow.server import (
    DB_SERVICE_FILE_PATH,
    PLATFORM_DB_CREDENTIALS,
    PROMETHEUS_DIR,
    RDS_CA_BUNDLE_PATH,
    migration_spec,
    server_spec,
)
from mlops_platform.mlops.local import LocalPlatform, local_platform
from mlops_platform.mlops.local.materialize import MOTO_ONLY_ENV
from mlops_platform.mlops.local.processes import LOOPBACK, make_root
from mlops_platform.mlops.local.tenant import TENANT_SECRET_NAME, read_tenant_secret, tenant_job_env
from mlops_platform.mlops.local.tls import LocalCA

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

USER, USER_PASSWORD = "alice", "alice-e2e-password-0123"
MODEL = "e2e-model"


@pytest.fixture(scope="module")
def platform() -> Iterator[LocalPlatform]:
    """PostgreSQL + moto S3 + MLflow; afterwards every process is gone and the root directory removed."""
    root = make_root("mlops-e2e-")
    started = time.monotonic()
    processes = []
    try:
        with local_platform(root=root) as trio:
            processes = [trio.pg.process.popen, trio.mlflow.process.popen]
            print(f"\ntrio up in {time.monotonic() - started:.1f}s at {trio.url}")
            yield trio
    finally:
        shutil.rmtree(root, ignore_errors=True)  # in case start-up failed before the stack owned it
    for popen in processes:
        assert popen.poll() is not None, f"process {popen.pid} still running after the fixture stopped it"
        with pytest.raises(ProcessLookupError):
            os.killpg(popen.pid, 0)  # nothing left in its process group either
    assert not root.exists(), f"{root} was not removed"


def _request(
    platform: LocalPlatform,
    path: str,
    *,
    auth: tuple[str, str] | None = None,
    host: str | None = None,
) -> tuple[int, str]:
    request = urllib.request.Request(platform.url + path)
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    if host is not None:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


@dataclass(frozen=True)
class Workflow:
    experiment_id: str
    admin_experiment_id: str
    run_ids: tuple[str, str]
    report: bytes
    downloaded_report: bytes
    downloaded_model: bytes
    champion_version: str
    artifact_location: str


@pytest.fixture(scope="module")
def workflow(platform: LocalPlatform, tmp_path_factory: pytest.TempPathFactory) -> Workflow:
    """The user workflow, run once; pytest re-raises a failure for every test that needs it."""
    try:
        return _user_workflow(platform, tmp_path_factory.mktemp("client"))
    except BaseException as err:
        raise AssertionError(
            f"the user workflow failed: {type(err).__name__}: {err}\n"
            f"--- the server's log (tail) ---\n{platform.mlflow.process.log_tail(30)}"
        ) from err


def _user_workflow(platform: LocalPlatform, work: Path) -> Workflow:
    """What a user does with the MLflow client, through the server (artifacts through its proxy)."""
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts
    from mlflow.server.auth.client import AuthServiceClient

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", platform.url)  # nothing may fall back to a local store
        # Loopback has no transient errors: fail at the first 5xx instead of retrying for minutes.
        mp.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        mp.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
        mp.setenv("MLFLOW_TRACKING_USERNAME", platform.mlflow.admin_username)
        mp.setenv("MLFLOW_TRACKING_PASSWORD", platform.mlflow.admin_password)
        AuthServiceClient(platform.url).create_user(USER, USER_PASSWORD)
        admin_experiment_id = MlflowClient(platform.url).create_experiment("admin-only")

        mp.setenv("MLFLOW_TRACKING_USERNAME", USER)
        mp.setenv("MLFLOW_TRACKING_PASSWORD", USER_PASSWORD)
        client = MlflowClient(platform.url)
        experiment_id = client.create_experiment("e2e-experiment")
        artifact_location = client.get_experiment(experiment_id).artifact_location

        report = json.dumps({"accuracy": 0.93, "note": "through the artifact proxy"}).encode()
        (work / "report.json").write_bytes(report)
        run_ids = []
        for i, accuracy in enumerate((0.91, 0.93)):
            run = client.create_run(experiment_id, run_name=f"train-{i}")
            run_id = run.info.run_id
            client.log_param(run_id, "learning_rate", "0.01")
            client.log_param(run_id, "epochs", str(10 + i))
            for step in range(3):
                client.log_metric(run_id, "accuracy", accuracy - 0.01 * (2 - step), step=step)
            client.log_artifact(run_id, str(work / "report.json"), artifact_path="reports")
            model_dir = work / f"model-{i}"
            model_dir.mkdir()
            (model_dir / "weights.bin").write_bytes(bytes([i]) * 1024)
            client.log_artifacts(run_id, str(model_dir), artifact_path="model")
            client.set_terminated(run_id)
            run_ids.append(run_id)

        client.create_registered_model(MODEL, description="registered end to end")
        for run_id in run_ids:
            source = f"{client.get_run(run_id).info.artifact_uri}/model"
            client.create_model_version(MODEL, source=source, run_id=run_id)
        client.set_registered_model_alias(MODEL, "champion", "2")
        champion = client.get_model_version_by_alias(MODEL, "champion")

        downloaded = Path(client.download_artifacts(run_ids[0], "reports/report.json", str(work / "dl")))
        model_path = Path(
            download_artifacts(
                artifact_uri=f"models:/{MODEL}@champion", dst_path=str(work / "m"), tracking_uri=platform.url
            )
        )
        return Workflow(
            experiment_id=experiment_id,
            admin_experiment_id=admin_experiment_id,
            run_ids=(run_ids[0], run_ids[1]),
            report=report,
            downloaded_report=downloaded.read_bytes(),
            downloaded_model=(model_path / "weights.bin").read_bytes(),
            champion_version=champion.version,
            artifact_location=artifact_location,
        )


def test_server_runs_exactly_the_rendered_spec(platform: LocalPlatform) -> None:
    spec, run = platform.mlflow.spec, platform.mlflow.materialized
    assert spec == server_spec(
        db_host=platform.pg.host,
        db_port=platform.pg.port,
        db_name=platform.pg.db_name,
        artifact_bucket=platform.s3.bucket,
        db_secret_name="mlflow-db",
        auth_secret_name="mlflow-auth",
        image=spec.image,
        region=platform.s3.region,
        allowed_hosts=["mlflow", "mlflow.mlflow", "mlflow.mlflow.svc", "mlflow.mlflow.svc.cluster.local"],
        artifact_kms_key_arn=platform.s3.kms_key_arn,
        db_credentials=PLATFORM_DB_CREDENTIALS,
    )
    expected = [*spec.command, *spec.args]
    differs = {expected[i]: run.argv[i] for i in range(len(expected)) if expected[i] != run.argv[i]}
    assert len(run.argv) == len(expected)
    assert differs == {"0.0.0.0": LOOPBACK, "5000": str(run.port), PROMETHEUS_DIR: str(run.prometheus_dir)}
    # Files mounted from Secrets, and the image's CA bundle: local copies (the CA made for the run) here.
    mounted = {"MLFLOW_AUTH_CONFIG_PATH", "PGSERVICEFILE", "PGSSLROOTCERT"}
    for name, value in spec.env.items():
        if name not in mounted:
            assert run.env[name] == value
    assert set(MOTO_ONLY_ENV) <= set(run.env) and not set(MOTO_ONLY_ENV) & set(spec.env)
    assert spec.env["PGSSLROOTCERT"] == RDS_CA_BUNDLE_PATH and run.env["PGSSLROOTCERT"] == str(
        platform.pg.ca_file
    )
    # The role and its password are the tenant job's: generated in its process, kept in the tenant secret.
    assert read_tenant_secret(platform.s3)["password"] == platform.pg.password
    assert len(platform.pg.password) >= 43 and platform.pg.user == "mlflow" != platform.pg.master_user
    # It reaches libpq only through the service file, as the pod gets it from the synced tenant secret.
    assert "PGPASSWORD" not in run.env and "PGUSER" not in run.env
    service_file = Path(run.env["PGSERVICEFILE"]).read_text()
    assert f"user={platform.pg.user}\npassword={platform.pg.password}\n" in service_file
    assert not any(platform.pg.password in arg for arg in run.argv)
    assert not any(platform.pg.password in value for value in run.env.values())


def test_user_workflow_round_trip(workflow: Workflow) -> None:
    assert workflow.artifact_location == f"mlflow-artifacts:/{workflow.experiment_id}"
    assert workflow.downloaded_report == workflow.report
    assert workflow.champion_version == "2"
    assert workflow.downloaded_model == bytes([1]) * 1024  # the champion is the second run's model


def test_database_has_migrations_and_registry_rows(platform: LocalPlatform, workflow: Workflow) -> None:
    with platform.pg.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT version_num FROM alembic_version")
        assert len(cur.fetchall()) == 1
        cur.execute("SELECT version_num FROM alembic_version_auth")
        assert len(cur.fetchall()) == 1
        cur.execute("SELECT name, description FROM registered_models")
        assert cur.fetchall() == [(MODEL, "registered end to end")]
        cur.execute("SELECT version, run_id FROM model_versions WHERE name = %s ORDER BY version", (MODEL,))
        assert cur.fetchall() == [(1, workflow.run_ids[0]), (2, workflow.run_ids[1])]
        cur.execute("SELECT alias, version FROM registered_model_aliases WHERE name = %s", (MODEL,))
        assert cur.fetchall() == [("champion", 2)]
        cur.execute("SELECT key, value FROM params WHERE run_uuid = %s ORDER BY key", (workflow.run_ids[1],))
        assert cur.fetchall() == [("epochs", "11"), ("learning_rate", "0.01")]
        cur.execute("SELECT username, is_admin FROM users ORDER BY username")
        assert cur.fetchall() == [("admin", True), (USER, False)]
        # Every connection the server holds is TLS-encrypted.
        cur.execute(
            "SELECT count(*), bool_and(s.ssl) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)"
            " WHERE a.usename = %s AND a.pid <> pg_backend_pid()",
            (platform.pg.user,),
        )
        count, all_ssl = cur.fetchone()
        assert count >= 1 and all_ssl is True


def test_database_refuses_connections_without_tls(platform: LocalPlatform) -> None:
    import psycopg2

    with pytest.raises(psycopg2.OperationalError, match="no encryption"):
        platform.pg.connect(sslmode="disable")


def test_bucket_holds_artifacts_under_the_prefix(platform: LocalPlatform, workflow: Workflow) -> None:
    s3 = platform.s3.client()
    keys = [obj["Key"] for obj in s3.list_objects_v2(Bucket=platform.s3.bucket).get("Contents", [])]
    assert keys, f"bucket {platform.s3.bucket} holds no object: the server did not store artifacts in S3"
    assert [key for key in keys if not key.startswith("mlflow/")] == []
    report_key = f"mlflow/{workflow.experiment_id}/{workflow.run_ids[0]}/artifacts/reports/report.json"
    assert report_key in keys
    assert f"mlflow/{workflow.experiment_id}/{workflow.run_ids[1]}/artifacts/model/weights.bin" in keys
    head = s3.head_object(Bucket=platform.s3.bucket, Key=report_key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == platform.s3.kms_key_arn
    body = s3.get_object(Bucket=platform.s3.bucket, Key=report_key)["Body"].read()
    assert body == workflow.report


def test_authentication_is_required(platform: LocalPlatform, workflow: Workflow) -> None:
    path = "/api/2.0/mlflow/experiments/search?max_results=10"
    admin = (platform.mlflow.admin_username, platform.mlflow.admin_password)
    assert _request(platform, path)[0] == 401
    assert _request(platform, path, auth=(USER, "wrong-password-123"))[0] == 401
    status, body = _request(platform, path, auth=(USER, USER_PASSWORD))
    assert status == 200
    assert "e2e-experiment" in body and "admin-only" not in body  # default permission: NO_PERMISSIONS
    get_admins = f"/api/2.0/mlflow/experiments/get?experiment_id={workflow.admin_experiment_id}"
    assert _request(platform, get_admins, auth=(USER, USER_PASSWORD))[0] == 403
    assert _request(platform, get_admins, auth=admin)[0] == 200
    # The UI and the artifact proxy are behind it too; /health is not (probes).
    assert _request(platform, "/")[0] == 401
    assert _request(platform, f"/api/2.0/mlflow-artifacts/artifacts/{workflow.experiment_id}")[0] == 401
    assert _request(platform, "/health") == (200, "OK")


def test_host_header_validation(platform: LocalPlatform) -> None:
    path = "/api/2.0/mlflow/experiments/search?max_results=1"
    auth = (USER, USER_PASSWORD)
    assert _request(platform, path, auth=auth, host="mlflow.mlflow.svc.cluster.local:5000")[0] == 200
    assert _request(platform, path, auth=auth, host="10.1.2.3:5000")[0] == 200  # pod IP: kubelet, Prometheus
    assert _request(platform, path, auth=auth, host="attacker.example:5000")[0] == 403
    assert _request(platform, "/health", host="attacker.example:5000")[0] == 200


def test_prometheus_metrics(platform: LocalPlatform, workflow: Workflow) -> None:
    assert _request(platform, "/metrics")[0] == 401
    status, body = _request(
        platform, "/metrics", auth=(platform.mlflow.admin_username, platform.mlflow.admin_password)
    )
    assert status == 200
    assert "mlflow_http_request_total" in body
    assert any(platform.mlflow.materialized.prometheus_dir.iterdir())


# ---- the database tenant (defect 11) ---------------------------------------------------------------------


def test_tenant_job_ran_the_components_command(platform: LocalPlatform) -> None:
    (run,) = platform.tenant_runs[:1]
    assert run.returncode == 0, run.output
    assert run.argv == job_command("ensure", script_path=str(JOB_SCRIPT_SOURCE))
    rendered = tenant_job_env(platform.pg, platform.s3)
    local = {"PGSSLROOTCERT", "HOME"}  # the CA made for the run; a local home
    assert {k: v for k, v in run.env.items() if k in rendered and k not in local} == {
        k: v for k, v in rendered.items() if k not in local
    }
    assert run.env["PGSSLROOTCERT"] == str(platform.pg.ca_file)
    assert json.loads(run.output.strip().splitlines()[-1])["password_changed"] is True


def test_tenant_role_owns_only_its_database(platform: LocalPlatform) -> None:
    admin = platform.pg.connect(user=platform.pg.superuser, password=platform.pg.superuser_password)
    with admin, admin.cursor() as cur:
        cur.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin"
            " FROM pg_roles WHERE rolname = %s",
            (platform.pg.user,),
        )
        assert cur.fetchone() == (False, False, False, False, False, True)
        cur.execute(
            "SELECT pg_get_userbyid(datdba), datacl::text FROM pg_database WHERE datname = %s",
            (platform.pg.db_name,),
        )
        owner, acl = cur.fetchone()
        # The database RDS created for the master user was handed over; PUBLIC has no CONNECT on it.
        assert owner == platform.pg.user
        assert not [entry for entry in acl.strip("{}").split(",") if entry.startswith("=")]
        cur.execute("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
        assert cur.fetchall() == [(platform.pg.user,)]  # MLflow's tables are the role's
    admin.close()
    import psycopg2

    conn = platform.pg.connect()
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            with pytest.raises(psycopg2.Error, match="permission denied to create database"):
                cur.execute("CREATE DATABASE another")
            with pytest.raises(psycopg2.Error, match="permission denied to create role"):
                cur.execute("CREATE ROLE another")
    finally:
        conn.close()


def test_a_second_tenant_is_isolated_from_the_first(platform: LocalPlatform) -> None:
    """The same job makes the workflow archive's tenant; neither role can connect to the other's database."""
    import psycopg2

    platform.s3.client("secretsmanager").create_secret(Name="mlops-local/database/archive")
    # An existing database the master user created and filled (the upgrade path of a platform that ran MLflow
    # as the master user): the job hands it over with its objects.
    master = {"user": platform.pg.master_user, "password": platform.pg.master_password}
    conn = platform.pg.connect(dbname="postgres", **master)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE archive")
    conn.close()
    with platform.pg.connect(dbname="archive", **master) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE legacy (id serial PRIMARY KEY); CREATE SEQUENCE counter")
    conn.close()
    run = run_tenant_job(
        platform.root,
        pg=platform.pg,
        s3=platform.s3,
        mode="ensure",
        env_overrides={
            "TENANT_DATABASE": "archive",
            "TENANT_ROLE": "archive",
            "TENANT_SECRET_ID": "mlops-local/database/archive",
        },
    )
    assert run.returncode == 0, run.output
    assert json.loads(run.output.strip().splitlines()[-1])["handed_over"] == ["counter", "legacy"]
    archive = json.loads(
        platform.s3.client("secretsmanager").get_secret_value(SecretId="mlops-local/database/archive")[
            "SecretString"
        ]
    )
    assert archive["username"] == "archive" and archive["password"] != platform.pg.password
    conn = platform.pg.connect(user="archive", password=archive["password"], dbname="archive")
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO legacy DEFAULT VALUES RETURNING id")  # its table and its sequence now
        assert cur.fetchone() == (1,)
        cur.execute("SELECT nextval('counter')")
        assert cur.fetchone() == (1,)
    conn.close()
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        platform.pg.connect(dbname="archive")  # mlflow's role
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        platform.pg.connect(user="archive", password=archive["password"])  # into mlflow's database


def test_tenant_job_is_idempotent(platform: LocalPlatform, workflow: Workflow) -> None:
    before = read_tenant_secret(platform.s3)
    run = run_tenant_job(platform.root, pg=platform.pg, s3=platform.s3, mode="ensure")
    assert run.returncode == 0, run.output
    assert json.loads(run.output.strip().splitlines()[-1]) == {
        "database": "mlflow",
        "handed_over": [],
        "mode": "ensure",
        "password_changed": False,
        "role": "mlflow",
    }
    assert read_tenant_secret(platform.s3) == before
    assert (
        _request(platform, "/api/2.0/mlflow/experiments/search?max_results=1", auth=(USER, USER_PASSWORD))[0]
        == 200
    )


# ---- the schema migration (defect 6) ---------------------------------------------------------------------


def test_migration_job_commands_ran_before_the_server(platform: LocalPlatform) -> None:
    migration = migration_spec(platform.mlflow.spec)
    runs = platform.mlflow.migration
    assert [r.name for r in runs] == ["check-before", "db-upgrade", "auth-upgrade", "check-after"]
    # The gate's check refused the empty database, the Job's exact commands ran, the check then passed.
    assert runs[0].argv == migration.check and runs[0].returncode == 1
    assert [(r.name, r.argv) for r in runs[1:3]] == migration.steps
    assert runs[-1].argv == migration.check and runs[-1].returncode == 0
    files = platform.mlflow.materialized.files
    for run in runs:
        assert run.env["PGSERVICEFILE"] == str(files[DB_SERVICE_FILE_PATH])
        assert run.env["PGSSLROOTCERT"] == str(platform.pg.ca_file)
        assert {k: run.env[k] for k in migration.env if k not in ("PGSERVICEFILE", "PGSSLROOTCERT")} == {
            k: v for k, v in migration.env.items() if k not in ("PGSERVICEFILE", "PGSSLROOTCERT")
        }


# ---- TLS verification (defect 13) ------------------------------------------------------------------------


def test_server_certificate_from_another_ca_is_refused(
    platform: LocalPlatform, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import psycopg2

    other = LocalCA.create(tmp_path_factory.mktemp("other-ca"), name="not the database's CA")
    with pytest.raises(psycopg2.OperationalError, match="certificate verify failed"):
        platform.pg.connect(sslrootcert=str(other.ca_file))
    platform.pg.connect().close()  # the right CA: verify-full passes
    # The tenant job does not send the master password to a server it cannot verify, and changes nothing.
    before = read_tenant_secret(platform.s3)
    run = run_tenant_job(platform.root, pg=platform.pg, s3=platform.s3, mode="rotate", ca_file=other.ca_file)
    assert run.returncode != 0 and "certificate verify failed" in run.output
    assert read_tenant_secret(platform.s3) == before
    # Nor with verification turned down.
    run = run_tenant_job(
        platform.root, pg=platform.pg, s3=platform.s3, mode="rotate", env_overrides={"PGSSLMODE": "require"}
    )
    assert run.returncode == 1 and "PGSSLMODE must be verify-full" in run.output
    assert read_tenant_secret(platform.s3) == before
    assert TENANT_SECRET_NAME in run.env["TENANT_SECRET_ID"]
