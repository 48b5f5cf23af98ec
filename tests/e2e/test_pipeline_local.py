"""End to end: the reference pipeline's rendered WorkflowTemplate, run step by step as processes against the
local platform (MLflow with basic-auth, PostgreSQL with TLS, S3 on moto), as ``mlops pipeline run --local``.

One platform for the module; the three workflows run at the same time (each is a chain of processes, so the
file stays within its time budget on a loaded 2-core machine):

* ``ok``: the template as rendered, with a digest image reference: every step succeeds;
* ``too_high``: thresholds nobody meets: the workflow fails at evaluate and registers nothing;
* ``mutated``: the rendered template's train command names another module: the local run fails at train,
  which shows it runs the manifest's commands and nothing of its own.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlops_platform.components.pipelines.reference import workflow_template
from mlops_platform.components.pipelines.steps import CANDIDATE_ALIAS, LINEAGE_TAGS
from mlops_platform.mlops.local.pipeline import (
    PIPELINE_USER,
    LocalCluster,
    WorkflowRun,
    local_pipeline_cluster,
    local_spec,
    report_failure,
    run_workflow,
)
from mlops_platform.mlops.local.platform import LocalPlatform

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

DIGEST = "sha256:" + hashlib.sha256(b"reference-pipeline image").hexdigest()
IMAGE = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/reference-pipeline@{DIGEST}"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Runs:
    platform: LocalPlatform
    manifests: dict[str, dict[str, Any]]
    runs: dict[str, WorkflowRun]
    seconds: float


def _manifest(platform: LocalPlatform, **overrides: Any) -> dict[str, Any]:
    return workflow_template(local_spec(platform.url, platform.s3.bucket, platform.s3.region, **overrides))


def _mutated(manifest: dict[str, Any]) -> dict[str, Any]:
    """The rendered template with the train step's module renamed in its container command."""
    manifest = copy.deepcopy(manifest)
    (train,) = [t for t in manifest["spec"]["templates"] if t["name"] == "train"]
    command = train["container"]["command"]
    command[command.index("reference_pipeline")] = "reference_pipeline_renamed"
    return manifest


@pytest.fixture(scope="module")
def runs() -> Iterator[Runs]:
    started = time.monotonic()
    with local_pipeline_cluster() as (platform, cluster):
        print(f"\nplatform up in {time.monotonic() - started:.1f}s")
        manifests = {"ok": _manifest(platform, image=IMAGE), "too_high": _manifest(platform)}
        manifests["mutated"] = _mutated(manifests["too_high"])
        parameters = {
            "ok": {"git-commit": COMMIT, "data-classification": "confidential"},
            "too_high": {"min-accuracy": "0.999", "min-f1": "0.999"},
            "mutated": {},
        }
        begun = time.monotonic()
        with ThreadPoolExecutor(max_workers=3) as pool:
            futures = {
                key: pool.submit(run_workflow, manifests[key], cluster, parameters=parameters[key])
                for key in manifests
            }
            done = {key: future.result() for key, future in futures.items()}
        print(f"workflows done in {time.monotonic() - begun:.1f}s")
        for key, run in done.items():
            print(key, [(t.name, t.returncode, round(t.seconds, 1)) for t in run.tasks], flush=True)
        yield Runs(platform, manifests, done, time.monotonic() - started)
    assert not platform.root.exists(), "the local platform's directory was not removed"


def _admin_client(platform: LocalPlatform, monkeypatch: pytest.MonkeyPatch):
    from mlflow import MlflowClient

    monkeypatch.setenv(
        "MLFLOW_TRACKING_URI", platform.url
    )  # the registry too: nothing falls back to a local store
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", platform.mlflow.admin_username)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", platform.mlflow.admin_password)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    return MlflowClient(platform.url)


def _describe(run: WorkflowRun) -> str:
    return "\n".join(f"--- {t.name} ({t.returncode}) ---\n{t.log_tail()}" for t in run.tasks)


# ---- the run that succeeds ---------------------------------------------------------------------------


def test_every_step_ran_the_rendered_command_in_dag_order(runs: Runs) -> None:
    run = runs.runs["ok"]
    assert run.ok, _describe(run)
    assert [t.name for t in run.tasks] == ["prepare-data", "train", "evaluate", "register"]
    templates = {
        t["name"]: t["container"] for t in runs.manifests["ok"]["spec"]["templates"] if "container" in t
    }
    for task in run.tasks:
        rendered = [*templates[task.template]["command"], *templates[task.template]["args"]]
        assert len(task.argv) == len(rendered)
        for ran, written in zip(task.argv, rendered, strict=True):
            assert ran == written or "{{" in written or written.startswith("/tmp/"), (ran, written)
        assert "{{" not in " ".join(task.argv)
        assert task.env["PIPELINE_IMAGE"] == IMAGE
    train = run.tasks[1]
    assert train.argv[train.argv.index("--git-commit") + 1] == COMMIT
    assert train.argv[train.argv.index("--workflow-uid") + 1] == run.uid
    # The pipeline's own MLflow user, from the Secret the template names; never the admin.
    assert train.env["MLFLOW_TRACKING_USERNAME"] == PIPELINE_USER
    assert "MLFLOW_TRACKING_USERNAME" not in run.tasks[0].env, "prepare gets no MLflow credentials"


def test_the_data_is_under_the_pipeline_prefix(runs: Runs) -> None:
    run = runs.runs["ok"]
    assert run.ok, _describe(run)
    s3 = runs.platform.s3.client()
    prefix = f"pipelines/{run.name}/"
    listed = s3.list_objects_v2(Bucket=runs.platform.s3.bucket, Prefix=prefix)["Contents"]
    keys = sorted(o["Key"] for o in listed)
    assert keys == [f"{prefix}data/{name}.csv" for name in ("dataset", "test", "train")]
    prepared = run.outputs("prepare-data")
    assert prepared["dataset-uri"] == f"s3://{runs.platform.s3.bucket}/{prefix}data/dataset.csv"
    body = s3.get_object(Bucket=runs.platform.s3.bucket, Key=f"{prefix}data/dataset.csv")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == prepared["dataset-sha256"]
    head = s3.head_object(Bucket=runs.platform.s3.bucket, Key=f"{prefix}data/train.csv")
    assert head["ServerSideEncryption"] == "aws:kms"


def test_the_run_has_params_metrics_and_the_model(runs: Runs, monkeypatch: pytest.MonkeyPatch) -> None:
    run = runs.runs["ok"]
    assert run.ok, _describe(run)
    client = _admin_client(runs.platform, monkeypatch)
    mlflow_run = client.get_run(run.outputs("train")["run-id"])
    assert mlflow_run.info.user_id == PIPELINE_USER
    params = mlflow_run.data.params
    assert params["C"] == "1.0" and params["max_iter"] == "500"
    assert params["dataset_sha256"] == run.outputs("prepare-data")["dataset-sha256"]
    metrics = mlflow_run.data.metrics
    assert {"train_accuracy", "train_f1", "test_accuracy", "test_f1"} <= set(metrics)
    assert metrics["test_accuracy"] == pytest.approx(float(run.outputs("evaluate")["accuracy"]))
    assert mlflow_run.data.tags["evaluation"] == "passed"
    model = client.get_logged_model(run.outputs("train")["model-uri"].removeprefix("models:/"))
    assert model.source_run_id == mlflow_run.info.run_id


def test_the_version_has_lineage_and_the_candidate_alias(
    runs: Runs, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from mlflow.artifacts import download_artifacts

    run = runs.runs["ok"]
    assert run.ok, _describe(run)
    client = _admin_client(runs.platform, monkeypatch)
    name = local_spec(runs.platform.url, runs.platform.s3.bucket, runs.platform.s3.region).candidates_model
    version = client.get_model_version_by_alias(name, CANDIDATE_ALIAS)
    assert version.version == run.outputs("register")["model-version"]
    tags = version.tags
    prepared = run.outputs("prepare-data")
    assert {k: v for k, v in tags.items() if k.startswith("lineage.")} == {
        "lineage.git_commit": COMMIT,
        "lineage.dataset_uri": prepared["dataset-uri"],
        "lineage.dataset_sha256": prepared["dataset-sha256"],
        "lineage.workflow_name": run.name,
        "lineage.workflow_uid": run.uid,
        "lineage.data_classification": "confidential",
        "lineage.model_digest": tags["lineage.model_digest"],
        "lineage.image": IMAGE,
        "lineage.image_digest": DIGEST,
    }
    assert set(LINEAGE_TAGS) <= set(tags)
    # The model digest is the one of the files MLflow serves back for the version (without the file naming
    # the download that MLflow's client adds).
    root = Path(download_artifacts(artifact_uri=f"models:/{name}/{version.version}", dst_path=str(tmp_path)))
    lines = sorted(
        f"{p.relative_to(root).as_posix()} {hashlib.sha256(p.read_bytes()).hexdigest()}\n"
        for p in root.rglob("*")
        if p.is_file() and p.name != "registered_model_meta"
    )
    assert tags["lineage.model_digest"] == "sha256:" + hashlib.sha256("".join(lines).encode()).hexdigest()


def _permission(platform: LocalPlatform, resource_type: str, resource_id: str) -> str:
    """The pipeline user's effective permission on a resource, as the server's authorization resolves it."""
    query = urllib.parse.urlencode(
        {"username": PIPELINE_USER, "resource_type": resource_type, "resource_id": resource_id}
    )
    request = urllib.request.Request(f"{platform.url}/api/3.0/mlflow/users/permissions/get?{query}")
    token = f"{platform.mlflow.admin_username}:{platform.mlflow.admin_password}"
    request.add_header("Authorization", "Basic " + base64.b64encode(token.encode()).decode())
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["permission"]


def test_the_pipeline_user_owns_its_experiment_and_candidates_model(
    runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = runs.runs["ok"]
    assert run.ok, _describe(run)
    client = _admin_client(runs.platform, monkeypatch)
    experiment_id = client.get_run(run.outputs("train")["run-id"]).info.experiment_id
    spec = local_spec(runs.platform.url, runs.platform.s3.bucket, runs.platform.s3.region)
    experiment = _permission(runs.platform, "experiment", experiment_id)
    model = _permission(runs.platform, "registered_model", spec.candidates_model)
    assert (experiment, model) == ("MANAGE", "MANAGE")


# ---- the run that fails evaluation -------------------------------------------------------------------


def test_thresholds_not_met_fail_the_workflow_at_evaluate(
    runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = runs.runs["too_high"]
    assert run.failed is not None and run.failed.name == "evaluate", _describe(run)
    assert [t.name for t in run.tasks] == ["prepare-data", "train", "evaluate"], "register must not run"
    assert "threshold not met" in run.failed.log_tail() and "min-accuracy 0.999" in run.failed.log_tail()
    client = _admin_client(runs.platform, monkeypatch)
    run_id = run.outputs("train")["run-id"]
    assert client.search_model_versions(f"run_id = '{run_id}'") == []
    assert client.get_run(run_id).data.tags["evaluation"] == "failed"
    err = io.StringIO()
    report_failure(run, err)
    assert err.getvalue().startswith(f"workflow {run.name} failed at step evaluate (exit 1)")


# ---- the step contract is the manifest's -------------------------------------------------------------


def test_a_changed_command_in_the_manifest_fails_the_local_run(runs: Runs) -> None:
    run = runs.runs["mutated"]
    assert run.failed is not None and run.failed.name == "train", _describe(run)
    assert run.failed.argv[:3] == ["python", "-m", "reference_pipeline_renamed"]
    assert "No module named reference_pipeline_renamed" in run.failed.log_tail()
    assert [t.name for t in run.tasks] == ["prepare-data", "train"]


def test_a_manifest_expression_the_run_cannot_resolve_is_an_error(runs: Runs, tmp_path: Path) -> None:
    from mlops_platform.mlops.local.pipeline import PipelineRunError

    manifest = copy.deepcopy(runs.manifests["too_high"])
    prepare = manifest["spec"]["templates"][0]
    prepare["container"]["args"].append("{{inputs.parameters.not-declared}}")
    cluster = LocalCluster(secrets=None, s3_endpoint="", root=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(PipelineRunError, match=r"cannot resolve \{\{inputs.parameters.not-declared\}\}"):
        run_workflow(manifest, cluster)


# ---- the pipeline's MLflow user ----------------------------------------------------------------------


def test_ensure_user_sets_the_password_of_an_existing_user(runs: Runs) -> None:
    from mlops_platform.components.mlflow.users import MlflowUserError, ensure_user, user_exists

    platform = runs.platform
    admin = (platform.mlflow.admin_username, platform.mlflow.admin_password)
    assert user_exists(platform.url, admin, PIPELINE_USER)
    assert ensure_user(platform.url, *admin, PIPELINE_USER, "a-new-password-0123") == "updated"
    assert ensure_user(platform.url, *admin, "another-workload", "another-password-0123") == "created"
    assert user_exists(platform.url, admin, "another-workload")
    request = urllib.request.Request(f"{platform.url}/api/2.0/mlflow/experiments/search?max_results=1")
    token = base64.b64encode(b"another-workload:another-password-0123").decode()
    request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    with pytest.raises(MlflowUserError, match="401"):
        ensure_user(platform.url, admin[0], "not-the-admin-password", "third-workload", "third-password-0123")


def test_sync_leaves_a_working_credential_alone_and_repairs_a_changed_one(runs: Runs) -> None:
    from mlops_platform.components.mlflow.users import password_works, sync

    platform = runs.platform
    admin = (platform.mlflow.admin_username, platform.mlflow.admin_password)
    assert sync(platform.url, admin, "sync-workload", "sync-password-0123") == "created"
    assert sync(platform.url, admin, "sync-workload", "sync-password-0123") == "unchanged"
    # The workload's Secret was regenerated (a rotation): the next sync sets the new password.
    assert sync(platform.url, admin, "sync-workload", "rotated-password-0123") == "updated"
    assert password_works(platform.url, "sync-workload", "rotated-password-0123")
    # The old password stops working; the MLflow workers that did not handle the update may accept it until
    # their credential cache expires (the server's auth_cache_ttl_seconds, 30 s).
    deadline = time.monotonic() + 40
    while password_works(platform.url, "sync-workload", "sync-password-0123"):
        assert time.monotonic() < deadline, "the old password still works after the auth cache's TTL"
        time.sleep(1)


def test_the_in_cluster_sync_reads_the_workload_secret_through_the_api(runs: Runs, tmp_path: Path) -> None:
    """users.py as the sync Job runs it (python -P, the ConfigMap's copy), the API server stood in for by a
    local HTTPS server that answers for the one Secret, MLflow the local platform's."""
    import os
    import ssl
    import subprocess
    import sys
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from mlops_platform.components.mlflow.users import password_works
    from mlops_platform.components.mlflow.workload_user import USERS_SOURCE, sync_env
    from mlops_platform.mlops.local.tls import LocalCA

    secret = {"username": "in-cluster-workload", "password": "in-cluster-password-0123"}
    body = json.dumps(
        {"data": {k: base64.b64encode(v.encode()).decode() for k, v in secret.items()}}
    ).encode()
    seen: list[str] = []

    class Api(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(f"{self.path} {self.headers['Authorization']}")
            ok = self.path == "/api/v1/namespaces/pipelines/secrets/pipelines-mlflow"
            self.send_response(200 if ok else 404)
            self.end_headers()
            self.wfile.write(body if ok else b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    ca = LocalCA.create(tmp_path / "ca")
    ca.issue_server_certificate(tmp_path, ("localhost", "127.0.0.1"), None, None)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "server.crt", tmp_path / "server.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    (tmp_path / "token").write_text("sync-token\n")
    platform = runs.platform
    env = {
        "PATH": os.environ["PATH"],
        **sync_env(secret_namespace="pipelines", secret_name="pipelines-mlflow"),
        "MLFLOW_TRACKING_URI": platform.url,
        "MLFLOW_ADMIN_USERNAME": platform.mlflow.admin_username,
        "MLFLOW_ADMIN_PASSWORD": platform.mlflow.admin_password,
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(server.server_address[1]),
        "USER_TOKEN_FILE": str(tmp_path / "token"),
        "USER_CA_FILE": str(ca.ca_file),
    }
    try:
        script = tmp_path / "mlflow_users.py"
        script.write_text(USERS_SOURCE.read_text())
        done = subprocess.run(
            [sys.executable, "-P", str(script)], env=env, capture_output=True, text=True, timeout=120
        )
        again = subprocess.run(
            [sys.executable, "-P", str(script)], env=env, capture_output=True, text=True, timeout=120
        )
        wrong = subprocess.run(
            [sys.executable, "-P", str(script)],
            env={**env, "USER_SECRET_NAME": "another-secret"},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "mlflow user in-cluster-workload: created"
    assert again.stdout.strip() == "mlflow user in-cluster-workload: unchanged"
    assert wrong.returncode == 1 and "secret pipelines/another-secret: HTTP 404" in wrong.stderr
    assert seen[0] == "/api/v1/namespaces/pipelines/secrets/pipelines-mlflow Bearer sync-token"
    assert password_works(platform.url, secret["username"], secret["password"])
