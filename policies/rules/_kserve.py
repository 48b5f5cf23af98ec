"""KServe's runtime objects as the pods they shape: what the pack's pod rules judge in a ServingRuntime.

A ``ServingRuntime`` or ``ClusterServingRuntime`` holds no pod of its own: KServe merges its ``spec`` (a
ServingRuntimePodSpec: ``containers``, ``volumes``, ``nodeSelector``, ``tolerations``, ``affinity``,
``hostIPC``...) into the predictor pod of every InferenceService that selects it, and a
``ClusterStorageContainer``'s ``spec.container`` into the storage initializer its pod webhook injects as an init
container. :func:`pods` turns each into a pseudo pod spec, so the Kubernetes rules
(:mod:`mlops_platform.policies.rules.kubernetes`) judge the runtime's containers where they are written: a
runtime that drops its securityContext, its limits or its pinned image is caught on the runtime, not only on
each model that uses it.

What this cannot see: the InferenceService's own overrides of the runtime's container (judged on the
InferenceService), and the pod-level securityContext (a ServingRuntimePodSpec has none; each container carries
its own, as ours do).
"""

from __future__ import annotations

from typing import Any

from mlops_platform.policies.rules._common import Res

GROUP = "serving.kserve.io"
SERVING_RUNTIME = f"kubernetes:{GROUP}/v1alpha1:ServingRuntime"
CLUSTER_SERVING_RUNTIME = f"kubernetes:{GROUP}/v1alpha1:ClusterServingRuntime"
CLUSTER_STORAGE_CONTAINER = f"kubernetes:{GROUP}/v1alpha1:ClusterStorageContainer"
RUNTIMES = (SERVING_RUNTIME, CLUSTER_SERVING_RUNTIME)
"""The kinds whose containers become the predictor's (long-running)."""
KINDS = (*RUNTIMES, CLUSTER_STORAGE_CONTAINER)

_NOT_POD = (
    "supportedModelFormats",
    "protocolVersions",
    "multiModel",
    "disabled",
    "builtInAdapter",
    "workerSpec",
)


def is_kserve(res: Res) -> bool:
    return res.type in KINDS


def pods(res: Res) -> list[tuple[str, dict[str, Any]]]:
    """``(where, pseudo pod spec)``: the runtime's spec as the predictor pod it shapes (``spec``), or the storage
    container as the init container it becomes (``spec.container``)."""
    spec = res.get("spec")
    if not isinstance(spec, dict):
        return [("", {})]
    if res.type == CLUSTER_STORAGE_CONTAINER:
        container = spec.get("container")
        return [("spec.container", {"initContainers": [container] if isinstance(container, dict) else []})]
    return [("", {k: v for k, v in spec.items() if k not in _NOT_POD})]
