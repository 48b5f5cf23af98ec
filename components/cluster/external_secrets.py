"""The External Secrets Operator, a cluster add-on: a pinned Helm release in its own closed namespace.

The operator holds no AWS credentials of its own: every SecretStore names a service account in its own
namespace whose IRSA role the controller assumes for that store, so a workload's secrets are read with that
workload's role only (MLflow's, the database tenants'). Namespaced stores only, nothing written back to AWS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from mlops_platform.components.kubernetes import (
    RESTRICTED_NAMESPACE_LABELS,
    bounded_resources,
    cidr_egress,
    cidrs,
    controller_baseline_policies,
    ports,
)
from mlops_platform.components.kubernetes import selector as label_selector

__all__ = [
    "ESO_CHART",
    "ESO_CHART_VERSION",
    "ESO_GENERATORS_API",
    "ESO_REPOSITORY",
    "ESO_SECRETS_API",
    "ExternalSecretsOperator",
    "install_external_secrets",
    "operator_network_policies",
    "operator_values",
]

ESO_CHART = "external-secrets"
ESO_CHART_VERSION = "2.9.0"
ESO_REPOSITORY = "https://charts.external-secrets.io"
ESO_SECRETS_API = "external-secrets.io/v1"
ESO_GENERATORS_API = "generators.external-secrets.io/v1alpha1"
ESO_WEBHOOK_PORT = 10250
"""The ESO webhook's container port (the chart's ``webhook.port``); the API server calls it there."""
ESO_WEBHOOK_POD_LABELS = {"app.kubernetes.io/name": "external-secrets-webhook"}
ESO_CONTROLLER_POD_LABELS = {"app.kubernetes.io/name": "external-secrets"}
_OPERATOR_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def operator_values() -> dict[str, object]:
    """External Secrets Operator chart values: namespaced stores only, nothing written back to AWS, and
    each of its three Deployments (controller, webhook, cert-controller) restricted, bounded and probed
    (the chart leaves resources empty and the liveness probes, and the controller's readiness, off)."""
    probed = {"livenessProbe": {"enabled": True}}
    return {
        "installCRDs": True,
        # The controller holds no AWS credentials of its own: each SecretStore names a service account in
        # its own namespace whose IRSA role the controller assumes for that store.
        "serviceAccount": {"create": True, "annotations": {}},
        "processClusterStore": False,
        "processClusterExternalSecret": False,
        # Nothing here writes back to AWS.
        "processPushSecret": False,
        "processClusterPushSecret": False,
        "securityContext": _OPERATOR_SECURITY,
        "resources": bounded_resources("50m", "128Mi", "500m", "512Mi"),
        # Both start the controller's health server (--live-addr, port 8082): /healthz and /readyz.
        "livenessProbe": {"enabled": True},
        "readinessProbe": {"enabled": True},
        "webhook": {
            "securityContext": _OPERATOR_SECURITY,
            "resources": bounded_resources("20m", "64Mi", "200m", "256Mi"),
            **probed,
        },
        "certController": {
            "securityContext": _OPERATOR_SECURITY,
            "resources": bounded_resources("20m", "64Mi", "200m", "256Mi"),
            **probed,
        },
    }


def operator_network_policies(
    vpc_cidr: str, cluster_cidrs: Sequence[str]
) -> list[tuple[str, k8s.networking.v1.NetworkPolicySpecArgs]]:
    """``(name, spec)`` of the operator namespace's NetworkPolicies: default deny of all ingress and
    egress, then DNS; the API server for the three managers (controller, webhook, cert-controller), at its
    endpoint ENIs and the ``kubernetes`` Service (``cluster_cidrs``); the controller's HTTPS to the VPC
    (Secrets Manager and STS answer on the interface endpoints every profile creates; never the internet);
    the webhook's port from the control plane. Nothing scrapes the operator (the chart's ServiceMonitor
    is off), so no metrics ingress. Kubelet probes from the pod's own node are always admitted."""
    V1 = k8s.networking.v1
    return [
        *controller_baseline_policies(cluster_cidrs),
        (
            "controller-aws-apis",
            V1.NetworkPolicySpecArgs(
                pod_selector=label_selector(ESO_CONTROLLER_POD_LABELS),
                policy_types=["Egress"],
                egress=[cidr_egress([vpc_cidr], 443)],
            ),
        ),
        (
            "webhook-from-api-server",
            V1.NetworkPolicySpecArgs(
                pod_selector=label_selector(ESO_WEBHOOK_POD_LABELS),
                policy_types=["Ingress"],
                ingress=[
                    V1.NetworkPolicyIngressRuleArgs(from_=cidrs(cluster_cidrs), ports=ports(ESO_WEBHOOK_PORT))
                ],
            ),
        ),
    ]


@dataclass(frozen=True)
class ExternalSecretsOperator:
    """What :func:`install_external_secrets` created: the namespace and the release to wait for."""

    namespace: k8s.core.v1.Namespace
    release: k8s.helm.v3.Release


def install_external_secrets(
    name: str,
    *,
    vpc_cidr: str,
    cluster_cidrs: Sequence[str] = (),
    namespace: str = "external-secrets",
    chart_version: str = ESO_CHART_VERSION,
    opts: pulumi.ResourceOptions,
    aliases: Sequence[pulumi.Alias] = (),
) -> ExternalSecretsOperator:
    """The operator's namespace (Pod Security ``restricted``), its release and the namespace's
    NetworkPolicies (:func:`operator_network_policies`), as children of ``opts.parent`` (the cluster).

    ``cluster_cidrs``: the API server's endpoint ENIs and the Service range (the ``kubernetes`` Service),
    the destinations of the operator's API egress and the sources of the calls to its webhook; empty: the VPC.
    ``aliases``: where these resources were before, by the namespace's and release's name and parent
    (each NetworkPolicy's alias adds its own suffix)."""

    def named(suffix: str) -> pulumi.ResourceOptions:
        renamed = [pulumi.Alias(name=f"{a.name}{suffix}", parent=a.parent) for a in aliases]
        return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=renamed or None))

    ns = k8s.core.v1.Namespace(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=namespace, labels=dict(RESTRICTED_NAMESPACE_LABELS)),
        opts=named(""),
    )
    release = k8s.helm.v3.Release(
        name,
        name="external-secrets",
        chart=ESO_CHART,
        version=chart_version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=ESO_REPOSITORY),
        namespace=ns.metadata.name,
        create_namespace=False,
        atomic=True,
        cleanup_on_fail=True,
        values=operator_values(),
        opts=named(""),
    )
    for policy_name, spec in operator_network_policies(vpc_cidr, cluster_cidrs or (vpc_cidr,)):
        k8s.networking.v1.NetworkPolicy(
            f"{name}-{policy_name}",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=policy_name, namespace=namespace),
            spec=spec,
            opts=pulumi.ResourceOptions.merge(
                named(f"-{policy_name}"), pulumi.ResourceOptions(depends_on=[ns])
            ),
        )
    return ExternalSecretsOperator(namespace=ns, release=release)
