"""cert-manager as plain values: the pinned chart, its values and its namespace's NetworkPolicies. Nothing here
creates a resource (:mod:`.kserve` does).

cert-manager is here because KServe needs it: the KServe chart asks it for the controller's webhook
certificate (a self-signed ``Issuer`` and a ``Certificate`` in KServe's namespace) and its CA injector writes
the CA into KServe's webhook configurations. Nothing else of the platform issues certificates with it today.

* **CRDs from the chart** (``crds.enabled``), kept when the release is deleted (``crds.keep``): deleting
  them would delete every Certificate in the cluster.
* **Every pod restricted and bounded**: the controller, the webhook, the CA injector and the post-install
  ``startupapicheck`` Job (it waits until the webhook answers, so the KServe release after it does not race
  a webhook that is not up yet): non-root, read-only root file system, every capability dropped,
  RuntimeDefault seccomp, requests and limits; on the system node group.
* **High availability where the profile asks for it**: ``replicas`` > 1 gives the controller, the webhook
  and the CA injector that many replicas (leader election for the controller and the CA injector) and a
  PodDisruptionBudget of ``minAvailable: 1`` each.
* **Leader election in its own namespace** (the chart's default is ``kube-system``): its Role stays in
  cert-manager's namespace.
* **Its webhook reachable from the control plane**: the API server calls the webhook pod on
  :data:`WEBHOOK_PORT` from its endpoint ENIs. The cluster's security groups already open the control plane
  to the nodes on 10250 (the kubelet's rule, :data:`~mlops_platform.components.cluster.security_groups
  .CONTROL_PLANE_TO_NODE_PORTS`); :func:`cert_manager_network_policies` admits it in the namespace.
"""

from __future__ import annotations

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
from mlops_platform.components.serving import names

__all__ = [
    "CAINJECTOR_POD_LABELS",
    "CERT_MANAGER_CHART",
    "CERT_MANAGER_CHART_VERSION",
    "CERT_MANAGER_REPOSITORY",
    "CONTROLLER_POD_LABELS",
    "RELEASE_NAME",
    "WEBHOOK_POD_LABELS",
    "WEBHOOK_PORT",
    "CertManagerValuesSpec",
    "cert_manager_network_policies",
    "cert_manager_values",
]

CERT_MANAGER_CHART = "cert-manager"
CERT_MANAGER_CHART_VERSION = "v1.21.1"
CERT_MANAGER_REPOSITORY = "https://charts.jetstack.io"
RELEASE_NAME = "cert-manager"
#: The webhook's container port (the chart's ``webhook.securePort``): the API server calls it there.
WEBHOOK_PORT = 10250
#: The chart's ``app.kubernetes.io/name`` labels of each component's pods.
CONTROLLER_POD_LABELS = {
    "app.kubernetes.io/name": "cert-manager",
    "app.kubernetes.io/component": "controller",
}
WEBHOOK_POD_LABELS = {"app.kubernetes.io/name": "webhook", "app.kubernetes.io/component": "webhook"}
CAINJECTOR_POD_LABELS = {"app.kubernetes.io/name": "cainjector", "app.kubernetes.io/component": "cainjector"}


@dataclass(frozen=True)
class CertManagerValuesSpec:
    """What :func:`cert_manager_values` needs.

    Attributes:
        namespace: Where the release lives (leader election leases too).
        node_selector: Node labels every pod runs on (the system group), beside ``kubernetes.io/os: linux``.
        replicas: Replicas of the controller, the webhook and the CA injector (a PDB each above one).
    """

    namespace: str = names.CERT_MANAGER_NAMESPACE
    node_selector: Mapping[str, str] = field(default_factory=dict)
    replicas: int = 1


def _component(spec: CertManagerValuesSpec, resources: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The values every long-running component shares: replicas, PDB, security, resources, placement."""
    return {
        "replicaCount": spec.replicas,
        "podDisruptionBudget": (
            {"enabled": True, "minAvailable": 1} if spec.replicas > 1 else {"enabled": False}
        ),
        "securityContext": CHART_POD_SECURITY,
        "containerSecurityContext": CHART_CONTAINER_SECURITY,
        "resources": resources,
        "nodeSelector": {"kubernetes.io/os": "linux", **spec.node_selector},
    }


def cert_manager_values(spec: CertManagerValuesSpec) -> dict[str, Any]:
    """The cert-manager chart's values (chart :data:`CERT_MANAGER_CHART_VERSION`)."""
    return {
        "crds": {"enabled": True, "keep": True},
        "global": {"leaderElection": {"namespace": spec.namespace}},
        **_component(spec, bounded_resources("50m", "128Mi", "500m", "512Mi")),
        # The chart's own NetworkPolicies are off: ours (cert_manager_network_policies) close the namespace.
        "webhook": {
            **_component(spec, bounded_resources("20m", "64Mi", "200m", "256Mi")),
            "securePort": WEBHOOK_PORT,
            "hostNetwork": False,
            "networkPolicy": {"enabled": False},
        },
        "cainjector": {
            "enabled": True,
            **_component(spec, bounded_resources("20m", "128Mi", "200m", "512Mi")),
            "networkPolicy": {"enabled": False},
        },
        "startupapicheck": {
            "enabled": True,
            "securityContext": CHART_POD_SECURITY,
            "containerSecurityContext": CHART_CONTAINER_SECURITY,
            "resources": bounded_resources("10m", "32Mi", "100m", "128Mi"),
            "nodeSelector": {"kubernetes.io/os": "linux", **spec.node_selector},
        },
        # Metrics stay on (port 9402, the controller's Service); the chart's ServiceMonitor is off.
        "prometheus": {"enabled": True, "servicemonitor": {"enabled": False}},
        "enableServiceLinks": False,
    }


def cert_manager_network_policies(
    cluster_cidrs: Sequence[str],
) -> list[tuple[str, k8s.networking.v1.NetworkPolicySpecArgs]]:
    """``(name, spec)`` of cert-manager's namespace's NetworkPolicies: default-deny, DNS and the API server for
    every pod (:func:`~mlops_platform.components.kubernetes.controller_baseline_policies`: the controller, the
    CA injector, the webhook and the start-up check only talk to the API server), and the webhook's port from
    the control plane's ENIs (``cluster_cidrs``). No ACME issuer is configured, so no egress to the internet."""
    V1 = k8s.networking.v1
    return [
        *controller_baseline_policies(cluster_cidrs),
        (
            "webhook-from-api-server",
            V1.NetworkPolicySpecArgs(
                pod_selector=selector(WEBHOOK_POD_LABELS),
                policy_types=["Ingress"],
                ingress=[
                    V1.NetworkPolicyIngressRuleArgs(from_=cidrs(cluster_cidrs), ports=ports(WEBHOOK_PORT))
                ],
            ),
        ),
    ]
