"""KServe's runtime objects under the pack's pod rules (policies/rules/_kserve.py), the registries and chart
repositories serving needs on the allow-lists, and nothing more: the platform's runtime and storage container pass
every rule; each hardening setting removed from one of them is caught on the object itself."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from policytest import Checker, k8s_provider, resource

from mlops_platform.components.serving import names
from mlops_platform.components.serving.runtime import RuntimeSpec, serving_runtime, storage_container
from mlops_platform.policies.rules import _kserve
from mlops_platform.policies.rules._common import Res

SPEC = RuntimeSpec(
    image=f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops-prod/{names.IMAGE_REPOSITORY}:{names.IMAGE_TAG}",
    tracking_uri="http://mlflow.mlflow.svc.cluster.local:5000",
    artifacts_destination="s3://bucket/mlflow",
    aws_region="eu-west-1",
)


def runtime(mutate: Any = None, *, kind: str = "ClusterServingRuntime") -> Any:
    manifest = copy.deepcopy(serving_runtime(SPEC))
    manifest["kind"] = kind
    if kind == "ServingRuntime":
        manifest["metadata"]["namespace"] = "team-models"
    if mutate is not None:
        mutate(manifest["spec"]["containers"][0])
    return resource(f"kubernetes:serving.kserve.io/v1alpha1:{kind}", "runtime", manifest)


def storage(mutate: Any = None) -> Any:
    manifest = copy.deepcopy(storage_container(SPEC))
    if mutate is not None:
        mutate(manifest["spec"]["container"])
    return resource(_kserve.CLUSTER_STORAGE_CONTAINER, "storage", manifest)


def policies_hit(checker: Checker, res: Any) -> set[str]:
    return {v.policy for v in checker.run([k8s_provider(), res], "prod").violations}


@pytest.mark.parametrize("make", [runtime, storage], ids=["runtime", "storage-container"])
def test_the_platforms_objects_pass_every_rule(checker: Checker, make: Any) -> None:
    assert checker.run([k8s_provider(), make()], "prod").violations == []


def test_a_namespaced_serving_runtime_is_judged_too(checker: Checker) -> None:
    assert checker.run([k8s_provider(), runtime(kind="ServingRuntime")], "prod").violations == []

    def privileged(c: dict[str, Any]) -> None:
        c["securityContext"]["privileged"] = True

    assert "k8s-no-privileged" in policies_hit(checker, runtime(privileged, kind="ServingRuntime"))


def _drop(key: str) -> Any:
    def mutate(c: dict[str, Any]) -> None:
        c.pop(key)

    return mutate


def _set(key: str, value: Any) -> Any:
    def mutate(c: dict[str, Any]) -> None:
        c[key] = value

    return mutate


CASES = [
    ("securityContext", _drop("securityContext"), {"k8s-run-as-non-root", "k8s-read-only-root-fs"}),
    ("resources", _drop("resources"), {"k8s-resources"}),
    ("image from Docker Hub", _set("image", "docker.io/seldonio/mlserver:1.5.0"), {"k8s-allowed-registries"}),
    ("unpinned image", _set("image", f"{SPEC.image.rsplit(':', 1)[0]}:latest"), {"k8s-image-pinned"}),
]


@pytest.mark.parametrize(("what", "mutate", "rules"), CASES, ids=[c[0] for c in CASES])
def test_a_runtime_without_the_setting_fails(
    checker: Checker, what: str, mutate: Any, rules: set[str]
) -> None:
    assert rules <= policies_hit(checker, runtime(mutate)), what


@pytest.mark.parametrize(("what", "mutate", "rules"), CASES, ids=[c[0] for c in CASES])
def test_a_storage_container_without_the_setting_fails(
    checker: Checker, what: str, mutate: Any, rules: set[str]
) -> None:
    assert rules <= policies_hit(checker, storage(mutate)), what


def test_a_runtime_without_probes_fails_but_the_storage_container_needs_none(checker: Checker) -> None:
    def no_probes(c: dict[str, Any]) -> None:
        c.pop("readinessProbe", None)
        c.pop("livenessProbe", None)

    assert "k8s-probes" in policies_hit(checker, runtime(no_probes))
    assert "k8s-probes" not in policies_hit(checker, storage(no_probes))


def test_pseudo_pods_are_the_runtime_spec_and_the_init_container() -> None:
    manifest = serving_runtime(SPEC)
    ((where, pod),) = _kserve.pods(Res(_kserve.CLUSTER_SERVING_RUNTIME, "r", "u", manifest))
    assert where == "" and pod["containers"] == manifest["spec"]["containers"]
    assert "supportedModelFormats" not in pod
    sc = storage_container(SPEC)
    ((where, pod),) = _kserve.pods(Res(_kserve.CLUSTER_STORAGE_CONTAINER, "s", "u", sc))
    assert where == "spec.container" and pod == {"initContainers": [sc["spec"]["container"]]}


def _deployment(image: str) -> Any:
    return resource(
        "kubernetes:apps/v1:Deployment",
        "controller",
        {
            "metadata": {"name": "c", "namespace": "kserve"},
            "spec": {"template": {"spec": {"containers": [{"name": "m", "image": image}]}}},
        },
    )


def test_kserves_docker_hub_images_are_allowed_and_other_docker_hub_images_are_not(checker: Checker) -> None:
    def registry(image: str) -> list[str]:
        result = checker.run([k8s_provider(), _deployment(image)], "prod")
        return [v.message for v in result.by_policy("k8s-allowed-registries")]

    assert registry("kserve/kserve-controller:v0.20.0") == []
    assert registry("docker.io/kserve/agent:v0.20.0") == []
    assert registry("quay.io/jetstack/cert-manager-controller:v1.21.1") == []
    assert registry("seldonio/mlserver:1.5.0")
    assert registry("docker.io/kserveevil/controller:1.0.0")


def _release(chart: str) -> Any:
    return resource(
        "kubernetes:helm.sh/v3:Release",
        "kserve",
        {"chart": chart, "version": "v0.20.0", "namespace": "kserve", "values": {}},
    )


def test_kserves_oci_charts_are_allowed_and_a_neighbour_on_ghcr_is_not(checker: Checker) -> None:
    def repository(chart: str) -> list[str]:
        return [
            v.message
            for v in checker.run([k8s_provider(), _release(chart)], "prod").by_policy(
                "helm-repository-allowed"
            )
        ]

    assert repository("oci://ghcr.io/kserve/charts/kserve-crd") == []
    assert repository("oci://ghcr.io/kserve/charts/kserve-resources") == []
    assert repository("oci://ghcr.io/kserve/chartsevil/kserve-crd")
    assert repository("oci://ghcr.io/other/charts/kserve-crd")
