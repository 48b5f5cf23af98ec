"""KServe as plain values: the pinned charts, their values and the controller namespace's NetworkPolicies.
Nothing here creates a resource (:mod:`.kserve` does).

* **Two charts, one version** (:data:`KSERVE_VERSION`): ``kserve-crd`` (the full CRDs: the minimal ones,
  ``kserve-crd-minimal``, are ``x-kubernetes-preserve-unknown-fields`` at every level and validate nothing, so
  neither the API server nor ``mlops verify`` could catch a misspelt field of an InferenceService or of our
  ClusterServingRuntime) and ``kserve-resources`` (the controller, its webhooks, the
  ``inferenceservice-config`` ConfigMap, the webhook certificate). The ``kserve-runtime-configs`` chart is not
  installed: its ClusterServingRuntimes pin images from Docker Hub (docker.io/seldonio/mlserver:1.5.0 among
  them) we neither allow nor want; the platform installs its own runtime (:mod:`.runtime`).
* **Standard mode** (``deploy.defaultDeploymentMode: Standard``, KServe 0.20's name for the raw deployment
  mode): an InferenceService becomes a Deployment, a Service and an HPA. No Knative, no Istio.
* **No ingress objects**: ``disableIngressCreation`` (the controller creates no Ingress, no Istio
  VirtualService, no Gateway API route), so every endpoint is cluster-local. The status URL names the
  predictor's Service (``<name>-predictor.<namespace>.svc.cluster.local``); exposing one outside the cluster
  is ModelDeployment's explicit choice.
* **Injected containers**: the storage initializer is KServe's init container built from the ConfigMap's
  ``storageInitializer`` section (image, requests and limits, and no securityContext at all), then merged with
  the ClusterStorageContainer whose URI prefix matches (pkg/webhook/admission/pod/
  storage_initializer_injector.go, v0.20.0): ours (:func:`~mlops_platform.components.serving.runtime
  .storage_container`) brings the restricted securityContext and its own requests and limits. The chart's
  ``default`` ClusterStorageContainer (s3://, gs://, hf://... in docker.io/kserve/storage-initializer) is not
  installed (``storagecontainer.enabled: false``, with ``createSharedResources: false`` since the chart's
  ``default`` turns a false back into true): a URI no ClusterStorageContainer of ours serves falls back to the
  ConfigMap's image without a securityContext, and Pod Security ``restricted`` in the model's namespace
  refuses that pod. The agent (logger and batcher) copies the predictor container's securityContext
  (agent_injector.go), so it is as restricted as our runtime; its requests and limits are the ConfigMap's.
* **Service account tokens off** in predictor pods (``security.autoMountServiceAccountToken: false``): a
  model server never talks to the Kubernetes API. IRSA is unaffected (the EKS pod identity webhook mounts
  its own projected token).
* **The controller** restricted and bounded on the system group; the chart has no replicas value, so it runs
  one replica (leader election is on). Its webhook (:data:`WEBHOOK_PORT`) is called by the API server from
  the control plane's ENIs: the cluster's security groups open the control plane to the nodes on 1025-65535
  (:data:`~mlops_platform.components.cluster.security_groups.CONTROL_PLANE_TO_NODE_PORTS`) and
  :func:`kserve_network_policies` admits it in the namespace. Its certificate comes from cert-manager (the
  chart's self-signed Issuer and Certificate, the CA injected into the webhook configurations).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi_kubernetes as k8s

from mlops_platform.components.kubernetes import (
    CHART_CONTAINER_SECURITY,
    CHART_POD_SECURITY,
    bounded_resources,
    cidrs,
    controller_baseline_policies,
    ports,
    selector,
)

__all__ = [
    "CONTROLLER_POD_LABELS",
    "CRD_CHART",
    "DEPLOYMENT_MODE",
    "KSERVE_REPOSITORY",
    "KSERVE_VERSION",
    "METRICS_PORT",
    "RESOURCES_CHART",
    "WEBHOOK_PORT",
    "KServeValuesSpec",
    "crd_values",
    "ingress_config",
    "kserve_network_policies",
    "kserve_values",
]

KSERVE_VERSION = "v0.20.0"
"""The KServe release: both charts' version and the controller's image tag."""
CRD_CHART = "kserve-crd"
RESOURCES_CHART = "kserve-resources"
KSERVE_REPOSITORY = "oci://ghcr.io/kserve/charts"
"""Where KServe publishes its charts (``helm install kserve-crd oci://ghcr.io/kserve/charts/kserve-crd``)."""
DEPLOYMENT_MODE = "Standard"
WEBHOOK_PORT = 9443
"""The controller's webhook server port (container port ``webhook-server``)."""
METRICS_PORT = 8443
"""The controller's metrics, behind kube-rbac-proxy (HTTPS, a bearer token authorised by RBAC)."""
CONTROLLER_POD_LABELS = {"control-plane": "kserve-controller-manager"}
#: The namespace label KServe's own pod-mutating webhook skips (its namespaceSelector: the label absent).
CONTROL_PLANE_LABEL = ("control-plane", "kserve-controller-manager")


@dataclass(frozen=True)
class KServeValuesSpec:
    """What :func:`kserve_values` needs.

    Attributes:
        node_selector: Node labels the controller runs on (the system group).
        default_cpu: CPU request and limit of a predictor that sets none (KServe's ``inferenceService``
            defaults; ModelDeployment always sets its own).
        default_memory: Memory request and limit of such a predictor.
    """

    node_selector: Mapping[str, str] = field(default_factory=dict)
    default_cpu: str = "1"
    default_memory: str = "2Gi"


def crd_values() -> dict[str, Any]:
    """The ``kserve-crd`` chart's values: its defaults (it has none to set)."""
    return {}


def ingress_config() -> dict[str, Any]:
    """The ``ingress`` section KServe reads from the ``inferenceservice-config`` ConfigMap (what the chart's
    ``controller.gateway`` values render to): no ingress objects, the status URL the predictor's Service."""
    return {
        "domain": "cluster.local",
        # <isvc>-predictor is the Service KServe creates in Standard mode: the URL resolves in the cluster.
        "domainTemplate": "{{ .Name }}-predictor.{{ .Namespace }}.svc.{{ .IngressDomain }}",
        "urlScheme": "http",
        "disableIngressCreation": True,
        "disableIstioVirtualHost": True,
        "ingressGateway": {"enableGatewayApi": False, "createGateway": False},
    }


def _controller(spec: KServeValuesSpec) -> dict[str, Any]:
    return {
        "deploymentMode": DEPLOYMENT_MODE,
        "nodeSelector": dict(spec.node_selector),
        "securityContext": CHART_POD_SECURITY,
        "containerSecurityContext": CHART_CONTAINER_SECURITY,
        "resources": bounded_resources("100m", "256Mi", "1", "1Gi"),
        "imagePullPolicy": "IfNotPresent",
        "rbacProxy": {
            "resources": bounded_resources("10m", "32Mi", "100m", "128Mi"),
            "securityContext": CHART_CONTAINER_SECURITY,
        },
        "gateway": ingress_config(),
        "knativeAddressableResolver": {"enabled": False},
    }


def kserve_values(spec: KServeValuesSpec) -> dict[str, Any]:
    """The ``kserve-resources`` chart's values (chart :data:`KSERVE_VERSION`)."""
    return {
        "kserve": {
            "version": KSERVE_VERSION,
            # Each shared object named: the chart's `default` would turn storagecontainer.enabled=false back on.
            "createSharedResources": False,
            "certManager": {"enabled": True},
            "inferenceServiceConfig": {"enabled": True},
            "storagecontainer": {"enabled": False},
            "controller": _controller(spec),
            "security": {"autoMountServiceAccountToken": False},
            "localmodel": {"enabled": False},
            "metricsaggregator": {"enableMetricAggregation": "false", "enablePrometheusScraping": "false"},
            "inferenceservice": {
                "resources": {
                    "requests": {"cpu": spec.default_cpu, "memory": spec.default_memory},
                    "limits": {"cpu": spec.default_cpu, "memory": spec.default_memory},
                }
            },
        }
    }


def config_sections(rendered: Mapping[str, str]) -> dict[str, Any]:
    """The JSON sections of a rendered ``inferenceservice-config`` ConfigMap's ``data``, parsed (``_example``
    and other non-JSON keys skipped): what the controller reads."""
    out: dict[str, Any] = {}
    for key, text in rendered.items():
        try:
            out[key] = json.loads(text)
        except (TypeError, ValueError):
            continue
    return out


def kserve_network_policies(
    cluster_cidrs: Sequence[str],
) -> list[tuple[str, k8s.networking.v1.NetworkPolicySpecArgs]]:
    """``(name, spec)`` of KServe's namespace's NetworkPolicies: default-deny, DNS and the API server
    (:func:`~mlops_platform.components.kubernetes.controller_baseline_policies`), and the webhook's port from the
    control plane's ENIs (``cluster_cidrs``). The controller calls nothing but the API server (it never calls a
    model); nothing scrapes it (its alerts read kube-state-metrics, :mod:`.rules`), so no metrics ingress."""
    V1 = k8s.networking.v1
    return [
        *controller_baseline_policies(cluster_cidrs),
        (
            "webhook-from-api-server",
            V1.NetworkPolicySpecArgs(
                pod_selector=selector(CONTROLLER_POD_LABELS),
                policy_types=["Ingress"],
                ingress=[
                    V1.NetworkPolicyIngressRuleArgs(from_=cidrs(cluster_cidrs), ports=ports(WEBHOOK_PORT))
                ],
            ),
        ),
    ]
