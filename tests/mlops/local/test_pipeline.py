"""mlops_platform.mlops.local.pipeline without a platform: DAG order, expressions, parameters, mounts, and a
tiny rendered-manifest run with plain processes (no MLflow, no S3)."""

from __future__ import annotations

import copy
import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mlops_platform.components.pipelines.reference import ReferencePipelineSpec, workflow_template
from mlops_platform.mlops.cli import main
from mlops_platform.mlops.local.materialize import LocalSecrets
from mlops_platform.mlops.local.pipeline import (
    LocalCluster,
    Mounts,
    PipelineRunError,
    dag_order,
    parse_parameters,
    report_failure,
    resolve,
    run_workflow,
    workflow_parameters,
)


def _manifest() -> dict[str, Any]:
    return workflow_template(
        ReferencePipelineSpec(
            namespace="pipelines",
            image="reference-pipeline:0.1.0",
            service_account="pipeline-runner",
            mlflow_tracking_uri="http://127.0.0.1:5000",
            mlflow_credentials_secret="pipelines-mlflow",
            artifact_bucket="local-bucket",
            region="eu-west-1",
        )
    )


def test_dag_order_follows_depends_not_the_listing() -> None:
    manifest = _manifest()
    dag = next(t for t in manifest["spec"]["templates"] if "dag" in t)
    dag["dag"]["tasks"].reverse()
    assert [t["name"] for t in dag_order(manifest)] == ["prepare-data", "train", "evaluate", "register"]


def test_a_cycle_or_an_unknown_dependency_is_refused() -> None:
    manifest = _manifest()
    tasks = next(t for t in manifest["spec"]["templates"] if "dag" in t)["dag"]["tasks"]
    tasks[0]["depends"] = "register"
    with pytest.raises(PipelineRunError, match="cycle"):
        dag_order(manifest)
    tasks[0]["depends"] = "nowhere"
    with pytest.raises(PipelineRunError, match="unknown tasks"):
        dag_order(manifest)


def test_expressions_resolve_or_fail() -> None:
    scope = {"workflow.name": "wf-1", "inputs.parameters.x": "7"}
    assert resolve("s3://b/{{workflow.name}}/{{ inputs.parameters.x }}", scope, "here") == "s3://b/wf-1/7"
    with pytest.raises(PipelineRunError, match=r"here: cannot resolve \{\{workflow.namespace\}\}"):
        resolve("{{workflow.namespace}}", scope, "here")


def test_parameters_take_overrides_and_refuse_unknown_names_and_values() -> None:
    manifest = _manifest()
    values = workflow_parameters(manifest, {"min-accuracy": "0.99"})
    assert values["min-accuracy"] == "0.99" and values["dataset"] == "breast_cancer"
    with pytest.raises(PipelineRunError, match="not parameters of the template"):
        workflow_parameters(manifest, {"learning-rate": "1"})
    with pytest.raises(PipelineRunError, match="is not one of"):
        workflow_parameters(manifest, {"data-classification": "top-secret"})
    assert parse_parameters(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(PipelineRunError, match="name=value"):
        parse_parameters(["novalue"])


def test_mounts_map_container_paths_and_nothing_else(tmp_path: Path) -> None:
    mounts = Mounts({"/tmp": tmp_path / "scratch"})
    assert mounts.local("/tmp") == str(tmp_path / "scratch")
    assert mounts.local("/tmp/outputs/run-id") == str(tmp_path / "scratch" / "outputs" / "run-id")
    assert mounts.local("/tmpfoo") == "/tmpfoo" and mounts.local("s3://b/tmp/x") == "s3://b/tmp/x"


def _toy_manifest() -> dict[str, Any]:
    """The rendered template with each step's command replaced by a tiny Python program that writes its outputs:
    the runner does what the manifest says, whatever it says."""
    manifest = copy.deepcopy(_manifest())
    program = (
        "import os, sys; args = sys.argv[1:]; out = args[args.index('--outputs-dir') + 1]; "
        "os.makedirs(out, exist_ok=True); step = args[0]; "
        "[open(os.path.join(out, n), 'w').write(step + ':' + n + '\\n') for n in os.environ['OUTS'].split(',')]; "
        "sys.exit(3 if step == os.environ.get('FAIL_AT') else 0)"
    )
    for template in manifest["spec"]["templates"]:
        if "container" in template:
            container = template["container"]
            # "python" as the image's PATH finds it (locally: this virtualenv's); never a host path, which a
            # checkout under /tmp would put under the task's /tmp mount.
            container["command"] = ["python", "-c", program]
            outs = ",".join(p["name"] for p in template["outputs"]["parameters"])
            container["env"].append({"name": "OUTS", "value": outs})
    return manifest


def _cluster(tmp_path: Path) -> LocalCluster:
    secrets = LocalSecrets({"pipelines-mlflow": {"username": "pipelines", "password": "p" * 16}})
    return LocalCluster(secrets=secrets, s3_endpoint="http://127.0.0.1:1", root=tmp_path)


def test_a_rendered_manifest_runs_in_order_and_passes_outputs_on(tmp_path: Path) -> None:
    run = run_workflow(_toy_manifest(), _cluster(tmp_path))
    assert run.ok and [t.name for t in run.tasks] == ["prepare-data", "train", "evaluate", "register"]
    assert run.outputs("prepare-data")["train-uri"] == "prepare:train-uri"  # one trailing newline removed
    train = run.tasks[1]
    assert train.argv[train.argv.index("--train-uri") + 1] == "prepare:train-uri"
    assert train.argv[train.argv.index("--workflow-name") + 1] == run.name
    assert train.argv[-1] == str(tmp_path / run.name / "train" / "scratch" / "outputs")
    assert train.env["MLFLOW_TRACKING_PASSWORD"] == "p" * 16
    assert train.env["HOME"] == str(tmp_path / run.name / "train" / "scratch")
    assert train.env["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:1"


def test_a_failing_step_stops_the_workflow_and_is_reported(tmp_path: Path) -> None:
    manifest = _toy_manifest()
    for template in manifest["spec"]["templates"]:
        if "container" in template:
            template["container"]["env"].append({"name": "FAIL_AT", "value": "evaluate"})
    run = run_workflow(manifest, _cluster(tmp_path))
    assert run.failed is not None and run.failed.name == "evaluate" and run.failed.returncode == 3
    assert [t.name for t in run.tasks] == ["prepare-data", "train", "evaluate"]
    err = io.StringIO()
    report_failure(run, err)
    assert err.getvalue().startswith(f"workflow {run.name} failed at step evaluate (exit 3); log tail:")


def test_a_missing_output_file_fails_the_task(tmp_path: Path) -> None:
    manifest = _toy_manifest()
    prepare = manifest["spec"]["templates"][0]
    prepare["container"]["env"] = [e for e in prepare["container"]["env"] if e["name"] != "OUTS"]
    prepare["container"]["env"].append({"name": "OUTS", "value": "dataset-uri"})
    run = run_workflow(manifest, _cluster(tmp_path))
    assert run.failed is not None and run.failed.name == "prepare-data"
    assert "output parameter dataset-sha256: /tmp/outputs/dataset-sha256 was not written" in run.failed.error


def test_the_template_must_not_set_the_moto_variables(tmp_path: Path) -> None:
    manifest = _toy_manifest()
    manifest["spec"]["templates"][0]["container"]["env"].append(
        {"name": "AWS_ACCESS_KEY_ID", "value": "AKIA"}
    )
    with pytest.raises(PipelineRunError, match="AWS_ACCESS_KEY_ID; with IRSA it must stay unset"):
        run_workflow(manifest, _cluster(tmp_path))


def test_missing_step_sources_are_named(tmp_path: Path) -> None:
    cluster = replace(_cluster(tmp_path), step_sources=tmp_path / "nowhere")
    with pytest.raises(PipelineRunError, match="nowhere are not here: run from a clone"):
        run_workflow(_toy_manifest(), cluster)


def test_the_cli_runs_only_locally(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pipeline", "run"]) == 2
    assert "only --local runs here" in capsys.readouterr().err
    assert main(["pipeline", "run", "--local", "-p", "novalue"]) == 2
    assert "give name=value" in capsys.readouterr().err
