"""The platform's ClusterServingRuntime and ClusterStorageContainer (components/serving/runtime.py), against the
pinned kserve-crd v0.20.0 CRDs rendered by the real helm: they pass, a misspelt or mistyped field fails, and the
minimal CRDs (kserve-crd-minimal, which the platform does not install) would have let the same mistakes through."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from verify_kit import graph_of, project_helm, shared_charts

from mlops_platform.components.serving import names
from mlops_platform.components.serving.kserve_values import KSERVE_REPOSITORY, KSERVE_VERSION
from mlops_platform.components.serving.runtime import RuntimeSpec, serving_runtime, storage_container
from mlops_platform.mlops.graph import Resource, SourcePosition
from mlops_platform.mlops.verify import crd
from mlops_platform.mlops.verify import helm as helm_layer
from mlops_platform.mlops.verify.model import Finding, VerifyContext

RUNTIME_TYPE = "kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime"
STORAGE_TYPE = "kubernetes:serving.kserve.io/v1alpha1:ClusterStorageContainer"
SPEC = RuntimeSpec(
    image=f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/{names.IMAGE_REPOSITORY}:{names.IMAGE_TAG}",
    tracking_uri="http://mlflow.mlflow.svc.cluster.local:5000",
    artifacts_destination="s3://mlops-prod-artifacts-123456789012-eu-west-1/mlflow",
    aws_region="eu-west-1",
)


def _resource(type_: str, obj: dict[str, Any], line: int) -> Resource:
    name = obj["metadata"]["name"]
    return Resource(
        urn=f"urn:pulumi:prod::mlops-platform::{type_}::{name}",
        type=type_,
        name=name,
        custom=True,
        inputs=copy.deepcopy(obj),
        source=SourcePosition("components/serving/kserve.py", line),
    )


def _release(chart: str) -> Resource:
    return Resource(
        urn=f"urn:pulumi:prod::mlops-platform::kubernetes:helm.sh/v3:Release::{chart}",
        type="kubernetes:helm.sh/v3:Release",
        name=chart,
        custom=True,
        inputs={
            "chart": f"{KSERVE_REPOSITORY}/{chart}",
            "version": KSERVE_VERSION,
            "name": chart,
            "namespace": "kserve",
            "values": {},
        },
        source=SourcePosition("components/serving/kserve.py", 10),
    )


Plan = Callable[..., tuple[VerifyContext, Resource, Resource]]


@pytest.fixture(scope="module")
def plan() -> Plan:
    """``plan(mutate_runtime, mutate_storage, chart=...)``: the CRD chart rendered by the helm layer and the two
    custom resources, each changed by its ``mutate``."""
    rendered: dict[str, Any] = {}

    def make(
        mutate_runtime: Callable[[dict[str, Any]], Any] | None = None,
        mutate_storage: Callable[[dict[str, Any]], Any] | None = None,
        chart: str = "kserve-crd",
    ) -> tuple[VerifyContext, Resource, Resource]:
        runtime = _resource(RUNTIME_TYPE, serving_runtime(SPEC), 20)
        storage = _resource(STORAGE_TYPE, storage_container(SPEC), 30)
        for mutate, target in ((mutate_runtime, runtime), (mutate_storage, storage)):
            if mutate is not None:
                mutate(target.inputs)
        graph = graph_of(_release(chart), runtime, storage, kube="1.34", stack="prod")
        ctx = VerifyContext(graph=graph, stack="prod", kube_version="1.34")
        if chart not in rendered:
            assert helm_layer.render(ctx, project_helm(), helm_layer.LocalCharts(shared_charts())) == []
            rendered[chart] = ctx.releases
        ctx.releases = rendered[chart]
        return ctx, runtime, storage

    return make


def _found(findings: list[Finding], resource: Resource) -> list[str]:
    return [f.message for f in findings if f.urn == resource.urn]


def test_the_runtime_and_the_storage_container_pass_the_full_crds(plan: Plan) -> None:
    ctx, _, _ = plan()
    crds = {m.obj["metadata"]["name"] for m in ctx.chart_manifests() if m.kind == "CustomResourceDefinition"}
    assert {
        "clusterservingruntimes.serving.kserve.io",
        "clusterstoragecontainers.serving.kserve.io",
        "inferenceservices.serving.kserve.io",
    } <= crds
    assert crd.check(ctx) == []


def _misspelt_container_field(inputs: dict[str, Any]) -> None:
    inputs["spec"]["containers"][0]["securityContex"] = inputs["spec"]["containers"][0].pop("securityContext")


def _quantity_as_text(inputs: dict[str, Any]) -> None:
    inputs["spec"]["container"]["resources"]["limits"]["memory"] = "a lot"


def test_a_misspelt_runtime_field_fails(plan: Plan) -> None:
    ctx, runtime, _ = plan(_misspelt_container_field)
    messages = _found(crd.check(ctx), runtime)
    assert any("'securityContex' was unexpected" in m for m in messages), messages


def test_a_malformed_storage_container_quantity_fails(plan: Plan) -> None:
    ctx, _, storage = plan(mutate_storage=_quantity_as_text)
    messages = _found(crd.check(ctx), storage)
    assert any("a lot" in m for m in messages), messages


def test_the_minimal_crds_would_let_both_mistakes_through(plan: Plan) -> None:
    """Why the platform installs kserve-crd, not kserve-crd-minimal: the minimal schemas preserve unknown
    fields at every level, so neither the API server nor verify would see these mistakes."""
    ctx, _, _ = plan(_misspelt_container_field, _quantity_as_text, chart="kserve-crd-minimal")
    assert crd.check(ctx) == []
