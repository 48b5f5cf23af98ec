"""The reference pipeline's WorkflowTemplate and CronWorkflow as rendered from the Hera definition."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from mlops_platform.components.cluster.karpenter import GPU_POOL_LABELS, GPU_POOL_TAINT
from mlops_platform.components.pipelines.reference import (
    IMAGE_UID,
    PipelineSpecError,
    ReferencePipelineSpec,
    Thresholds,
    cron_workflow,
    workflow_template,
)
from mlops_platform.components.pipelines.steps import OUTPUTS_DIR, STEPS

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/reference-pipeline@sha256:" + "a" * 64


def _spec(**overrides: Any) -> ReferencePipelineSpec:
    values: dict[str, Any] = {
        "namespace": "pipelines",
        "image": IMAGE,
        "service_account": "pipeline-runner",
        "mlflow_tracking_uri": "http://mlflow.mlflow.svc.cluster.local:5000",
        "mlflow_credentials_secret": "pipelines-mlflow",
        "artifact_bucket": "acme-artifacts-eu-west-1",
        "region": "eu-west-1",
    }
    values.update(overrides)
    return ReferencePipelineSpec(**values)


def _templates(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in manifest["spec"]["templates"]}


def _containers(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: t for name, t in _templates(manifest).items() if "container" in t}


def test_the_manifest_is_a_workflow_template_with_a_dag_in_order() -> None:
    manifest = workflow_template(_spec())
    assert manifest["apiVersion"] == "argoproj.io/v1alpha1" and manifest["kind"] == "WorkflowTemplate"
    assert manifest["metadata"]["name"] == "reference-training"
    assert manifest["metadata"]["namespace"] == "pipelines"
    dag = _templates(manifest)[manifest["spec"]["entrypoint"]]["dag"]["tasks"]
    assert [t["name"] for t in dag] == ["prepare-data", "train", "evaluate", "register"]
    assert [t.get("depends") for t in dag] == [None, "prepare-data", "train", "evaluate"]
    assert {t["template"] for t in dag} == set(_containers(manifest))


def test_steps_exchange_uris_through_output_parameters_read_from_files() -> None:
    manifest = workflow_template(_spec())
    containers = _containers(manifest)
    prepare = containers["prepare-data"]
    assert {p["name"]: p["valueFrom"]["path"] for p in prepare["outputs"]["parameters"]} == {
        name: f"{OUTPUTS_DIR}/{name}" for name in ("dataset-uri", "dataset-sha256", "train-uri", "test-uri")
    }
    dag = {t["name"]: t for t in _templates(manifest)["training"]["dag"]["tasks"]}
    train_args = {p["name"]: p["value"] for p in dag["train"]["arguments"]["parameters"]}
    assert train_args["train-uri"] == "{{tasks.prepare-data.outputs.parameters.train-uri}}"
    register_args = {p["name"]: p["value"] for p in dag["register"]["arguments"]["parameters"]}
    assert register_args["model-uri"] == "{{tasks.train.outputs.parameters.model-uri}}"
    assert register_args["git-commit"] == "{{workflow.parameters.git-commit}}"
    prepare_args = {p["name"]: p["value"] for p in dag["prepare-data"]["arguments"]["parameters"]}
    assert prepare_args["data-uri"] == "s3://acme-artifacts-eu-west-1/pipelines/{{workflow.name}}/data"


def test_every_step_runs_the_step_module_with_its_inputs() -> None:
    containers = _containers(workflow_template(_spec()))
    for step in STEPS:
        (template,) = [t for t in containers.values() if t["container"]["args"][0] == step.name]
        container = template["container"]
        assert container["command"] == ["python", "-m", "reference_pipeline"]
        assert container["image"] == IMAGE
        assert [p["name"] for p in template["inputs"]["parameters"]] == list(step.inputs)
        for name in step.inputs:
            i = container["args"].index(f"--{name}")
            assert container["args"][i + 1] == "{{inputs.parameters." + name + "}}"
        assert container["args"][-2:] == ["--outputs-dir", OUTPUTS_DIR]


def test_parameters_thresholds_commit_dataset_and_classification() -> None:
    manifest = workflow_template(_spec(thresholds=Thresholds(min_accuracy=0.95, min_f1=0.93)))
    parameters = {p["name"]: p for p in manifest["spec"]["arguments"]["parameters"]}
    assert {"git-commit", "dataset", "data-classification", "min-accuracy", "min-f1"} <= set(parameters)
    assert parameters["min-accuracy"]["value"] == "0.95" and parameters["min-f1"]["value"] == "0.93"
    assert parameters["data-classification"]["enum"] == ["public", "internal", "confidential", "restricted"]
    assert parameters["dataset"]["enum"] == ["breast_cancer", "wine"]


def test_every_pod_is_restricted_on_its_own() -> None:
    manifest = workflow_template(_spec())
    spec = manifest["spec"]
    assert spec["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": IMAGE_UID,
        "runAsGroup": IMAGE_UID,
        "fsGroup": IMAGE_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    for name, template in _containers(manifest).items():
        container = template["container"]
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True, name
        assert context["allowPrivilegeEscalation"] is False and context["capabilities"] == {"drop": ["ALL"]}
        assert context["runAsNonRoot"] is True and context["runAsUser"] == IMAGE_UID
        assert set(container["resources"]["requests"]) >= {"cpu", "memory"}
        assert set(container["resources"]["limits"]) >= {"cpu", "memory"}
        assert container["volumeMounts"] == [{"name": "scratch", "mountPath": "/tmp"}]
        assert template["volumes"][0]["emptyDir"]["sizeLimit"] == "2Gi"
        for output in template["outputs"]["parameters"]:
            assert output["valueFrom"]["path"].startswith("/tmp/"), "outputs are written to the emptyDir"


def test_the_workflow_is_bounded_and_the_token_is_the_executors_only() -> None:
    spec = workflow_template(_spec(executor_service_account="workflow-executor"))["spec"]
    assert spec["activeDeadlineSeconds"] == 3600
    assert spec["ttlStrategy"] == {"secondsAfterSuccess": 86400, "secondsAfterFailure": 604800}
    assert spec["podGC"] == {"strategy": "OnWorkflowSuccess"}
    assert spec["serviceAccountName"] == "pipeline-runner"
    assert spec["automountServiceAccountToken"] is False
    assert spec["executor"] == {"serviceAccountName": "workflow-executor"}
    assert workflow_template(_spec())["spec"]["executor"] == {"serviceAccountName": "pipeline-runner"}


def test_mlflow_credentials_come_from_the_secret_and_only_to_mlflow_steps() -> None:
    containers = _containers(workflow_template(_spec()))
    for name, template in containers.items():
        env = {e["name"]: e for e in template["container"]["env"]}
        assert env["AWS_REGION"]["value"] == "eu-west-1"
        assert env["PIPELINE_IMAGE"]["value"] == IMAGE
        if name == "prepare-data":
            assert not any(k.startswith("MLFLOW_TRACKING") for k in env)
            continue
        assert env["MLFLOW_TRACKING_USERNAME"]["valueFrom"] == {
            "secretKeyRef": {"name": "pipelines-mlflow", "key": "username"}
        }
        assert env["MLFLOW_TRACKING_PASSWORD"]["valueFrom"] == {
            "secretKeyRef": {"name": "pipelines-mlflow", "key": "password"}
        }
        assert env["MLFLOW_TRACKING_URI"]["value"] == "http://mlflow.mlflow.svc.cluster.local:5000"


def test_no_aws_key_and_no_s3_endpoint_anywhere() -> None:
    for manifest in (workflow_template(_spec(gpu=True)), cron_workflow(_spec(), ["0 3 * * 1"])):
        text = json.dumps(manifest)
        assert not re.search(r"AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}", text)
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            assert name not in text
        assert "MLFLOW_S3_ENDPOINT_URL" not in text


def test_the_gpu_variant_puts_only_train_on_the_gpu_pool() -> None:
    containers = _containers(workflow_template(_spec(gpu=True)))
    train = containers["train"]
    resources = train["container"]["resources"]
    assert resources["requests"]["nvidia.com/gpu"] == "1" and resources["limits"]["nvidia.com/gpu"] == "1"
    assert train["tolerations"] == [
        {
            "key": GPU_POOL_TAINT["key"],
            "operator": "Equal",
            "value": GPU_POOL_TAINT["value"],
            "effect": GPU_POOL_TAINT["effect"],
        }
    ]
    assert (
        train["tolerations"][0]["key"] == "nvidia.com/gpu"
        and train["tolerations"][0]["effect"] == "NoSchedule"
    )
    assert train["nodeSelector"] == GPU_POOL_LABELS
    for name, template in containers.items():
        if name != "train":
            assert "tolerations" not in template and "nodeSelector" not in template
            assert "nvidia.com/gpu" not in template["container"]["resources"]["limits"]
    cpu = _containers(workflow_template(_spec()))["train"]
    assert "tolerations" not in cpu and "nvidia.com/gpu" not in cpu["container"]["resources"]["limits"]


def test_the_cron_workflow_references_the_template_with_argo_4_schedules() -> None:
    manifest = cron_workflow(
        _spec(), ["0 3 * * 1", "0 3 * * 4"], timezone="Europe/Berlin", parameters={"git-commit": "abc"}
    )
    assert manifest["apiVersion"] == "argoproj.io/v1alpha1" and manifest["kind"] == "CronWorkflow"
    spec = manifest["spec"]
    assert spec["schedules"] == ["0 3 * * 1", "0 3 * * 4"] and "schedule" not in spec
    assert spec["concurrencyPolicy"] == "Forbid" and spec["timezone"] == "Europe/Berlin"
    assert spec["workflowSpec"]["workflowTemplateRef"] == {"name": "reference-training"}
    assert spec["workflowSpec"]["arguments"]["parameters"] == [{"name": "git-commit", "value": "abc"}]
    assert "templates" not in spec["workflowSpec"], "the template is referenced, not copied"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"image": "reference-pipeline:latest"}, "pinned"),
        ({"image": "reference-pipeline"}, "repo@sha256"),
        ({"mlflow_tracking_uri": "http://admin:pw@mlflow:5000"}, "without credentials"),
        ({"artifact_prefix": "/pipelines"}, "relative key prefix"),
        ({"data_classification": "secret"}, "data_classification"),
        ({"thresholds": Thresholds(min_accuracy=1.5)}, "min_accuracy"),
        ({"pod_gc": "Never"}, "pod_gc"),
        ({"namespace": "Pipelines"}, "Kubernetes name"),
        ({"region": "europe"}, "AWS region"),
    ],
)
def test_a_bad_spec_is_refused_naming_the_field(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(PipelineSpecError, match=message):
        workflow_template(_spec(**overrides))


def test_the_prefix_may_end_in_a_slash_or_not() -> None:
    for prefix in ("pipelines", "pipelines/", "team-a/pipelines"):
        dag = _templates(workflow_template(_spec(artifact_prefix=prefix)))["training"]["dag"]["tasks"]
        data_uri = {p["name"]: p["value"] for p in dag[0]["arguments"]["parameters"]}["data-uri"]
        assert data_uri == f"s3://acme-artifacts-eu-west-1/{prefix.rstrip('/')}/{{{{workflow.name}}}}/data"


def test_a_bad_cron_workflow_is_refused() -> None:
    with pytest.raises(PipelineSpecError, match="at least one"):
        cron_workflow(_spec(), [])
    with pytest.raises(PipelineSpecError, match="not a cron expression"):
        cron_workflow(_spec(), ["every monday"])
    with pytest.raises(PipelineSpecError, match="not parameters of the template"):
        cron_workflow(_spec(), ["@daily"], parameters={"learning-rate": "1"})
    with pytest.raises(PipelineSpecError, match="concurrency_policy"):
        cron_workflow(_spec(), ["@daily"], concurrency_policy="Sometimes")
