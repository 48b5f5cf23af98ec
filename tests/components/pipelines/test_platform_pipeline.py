"""The reference pipeline as the platform installs it: the WorkflowTemplate (and the CronWorkflow when
retraining is scheduled) rendered with the stack's image, bucket and MLflow, through the policy pack and
``mlops verify``'s CRD layer (the full Argo schemas), with the GPU variant on a stack with a GPU pool."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from compute_support import plain, render_platform
from policytest import Checker
from verify_kit import project_helm, shared_charts

from mlops_platform.mlops.graph import Graph, Resource
from mlops_platform.mlops.verify.runner import verify

TEMPLATE = "kubernetes:argoproj.io/v1alpha1:WorkflowTemplate"
CRON = "kubernetes:argoproj.io/v1alpha1:CronWorkflow"
SCHEDULE = "0 3 * * 1"


@pytest.fixture(scope="module")
def scheduled_gpu() -> Graph:
    graph, _ = render_platform(
        "prod", pipelinesRetrainSchedule=SCHEDULE, gpuPoolEnabled="true", pipelinesTrainOnGpu="true"
    )
    return graph


def one(graph: Graph, type_: str) -> Resource:
    (found,) = graph.of_type(type_)
    return found


def templates(resource: Resource) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in plain(resource, "spec")["templates"]}


def test_the_shipped_stacks_install_the_template_without_a_schedule(stacks: dict[str, Graph]) -> None:
    for env, graph in stacks.items():
        template = one(graph, TEMPLATE)
        assert plain(template, "metadata")["namespace"] == "pipelines", env
        assert not graph.of_type(CRON), env
        spec = plain(template, "spec")
        assert spec["serviceAccountName"] == "pipeline-runner"
        (container,) = {t["container"]["image"] for t in spec["templates"] if "container" in t}
        assert container.startswith("123456789012.dkr.ecr.eu-west-1.amazonaws.com/")
        assert container.endswith("/training:0.1.0")
        env_vars = {e["name"]: e for e in templates(template)["train"]["container"]["env"]}
        assert env_vars["MLFLOW_TRACKING_URI"]["value"] == "http://mlflow.mlflow.svc.cluster.local:5000"
        assert env_vars["MLFLOW_TRACKING_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "pipelines-mlflow"
        assert template.dependencies, "after the chart's CRDs"


def test_a_schedule_adds_a_cron_workflow_of_the_template(scheduled_gpu: Graph) -> None:
    cron = plain(one(scheduled_gpu, CRON), "spec")
    assert cron["schedules"] == [SCHEDULE] and "schedule" not in cron
    assert cron["workflowSpec"]["workflowTemplateRef"] == {"name": "reference-training"}
    assert cron["concurrencyPolicy"] == "Forbid"


def test_a_gpu_train_step_lands_on_the_gpu_pool(scheduled_gpu: Graph) -> None:
    train = templates(one(scheduled_gpu, TEMPLATE))["train"]
    assert train["container"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in train[
        "tolerations"
    ]
    assert train["nodeSelector"]["nvidia.com/gpu.present"] == "true"


def test_the_variant_passes_the_pack_and_the_full_argo_schemas(
    checker: Checker, scheduled_gpu: Graph
) -> None:
    result = checker.run(scheduled_gpu, "prod")
    assert result.violations == [], [(v.policy, v.name, v.message) for v in result.violations]
    verified = verify(
        scheduled_gpu,
        "prod",
        charts_dir=str(shared_charts()),
        helm=project_helm(),
        layers=("mlops_platform.mlops.verify.kube_schema", "mlops_platform.mlops.verify.crd"),
    )
    assert verified.findings == [], [(f.check, f.name, f.message) for f in verified.findings]


def test_the_schemas_catch_a_misspelt_field_of_the_installed_template(scheduled_gpu: Graph) -> None:
    broken = copy.deepcopy(scheduled_gpu)
    template = one(broken, TEMPLATE)
    spec = plain(template, "spec")
    train = next(t for t in spec["templates"] if t["name"] == "train")
    train["contianer"] = train.pop("container")
    template.inputs["spec"] = spec
    verified = verify(
        broken,
        "prod",
        charts_dir=str(shared_charts()),
        helm=project_helm(),
        layers=("mlops_platform.mlops.verify.crd",),
    )
    assert any("contianer" in f.message for f in verified.findings), verified.findings
