"""Serving: cert-manager, KServe in Standard mode, and the platform's own serving runtime and storage initializer.

* **cert-manager** (:mod:`.cert_manager`) in :data:`~.names.CERT_MANAGER_NAMESPACE`: Pod Security restricted,
  default-deny with DNS, the API server and the webhook's port from the control plane; the pinned chart with
  its CRDs.
* **KServe** (:mod:`.kserve_values`) in :data:`~.names.KSERVE_NAMESPACE`: the full CRDs (``kserve-crd``), then
  the controller (``kserve-resources``, Standard mode, no ingress objects, no runtimes of its own) once
  cert-manager answers (the chart's webhook Certificate is a cert-manager object); the namespace closed the
  same way, with the controller's webhook port from the control plane.
* **The runtime objects** (:mod:`.runtime`): our ClusterServingRuntime (:data:`~.names.RUNTIME_NAME`, MLServer
  for ``modelFormat: mlflow`` over V2) and ClusterStorageContainer (:data:`~.names.STORAGE_CONTAINER_NAME`,
  ``models:/`` URIs), cluster-scoped custom resources created after the CRDs and the controller (KServe's
  webhook validates ClusterServingRuntimes).

The webhooks need no security-group rule of their own: the cluster's groups open the control plane to the
nodes on 10250 and 1025-65535 (:data:`~mlops_platform.components.cluster.security_groups
.CONTROL_PLANE_TO_NODE_PORTS`), which :data:`WEBHOOK_PORTS` fall in (a test keeps it so).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlops_platform.components.aliases import component_options
from mlops_platform.components.kubernetes import RESTRICTED_NAMESPACE_LABELS
from mlops_platform.components.monitoring.observability import prometheus_rule
from mlops_platform.components.serving import cert_manager, kserve_values, names
from mlops_platform.components.serving.rules import serving_rule_groups
from mlops_platform.components.serving.runtime import RuntimeSpec, serving_runtime, storage_container

__all__ = ["KSERVE_API_VERSION", "WEBHOOK_PORTS", "Serving", "ServingArgs"]

KSERVE_API_VERSION = "serving.kserve.io/v1alpha1"
WEBHOOK_PORTS = {
    "cert-manager-webhook": cert_manager.WEBHOOK_PORT,
    "kserve-webhook": kserve_values.WEBHOOK_PORT,
}
"""The TCP ports the API server calls on pods of the nodes for serving's webhooks."""


@dataclass(frozen=True)
class ServingArgs:
    """Arguments of :class:`Serving` (plain values and outputs; no platform config).

    Attributes:
        cluster_cidrs: The API server's endpoint ENIs and the ``kubernetes`` Service range: the controllers'
            API egress and the sources of the webhook calls.
        runtime_image: The serving runtime image (``<registry>/<names.IMAGE_REPOSITORY>:<names.IMAGE_TAG>``).
        tracking_uri: MLflow's in-cluster URL (the storage initializer resolves aliases there).
        artifacts_destination: MLflow's artifacts destination (``s3://<bucket>/<prefix>``).
        region: The artifact store's region.
        node_selector: Where cert-manager and the KServe controller run (the system group).
        replicas: Replicas of cert-manager's controller, webhook and CA injector (a PDB each above one).
        prometheus: The kube-prometheus-stack release (it brings the PrometheusRule CRD): given, the ``serving``
            alert rules (:mod:`.rules`: the control plane's Deployments without an available replica) are created.
        cert_manager_namespace: cert-manager's namespace.
        kserve_namespace: KServe's namespace.
        cert_manager_chart_version: The cert-manager chart version.
        kserve_chart_version: The KServe charts' version (``kserve-crd`` and ``kserve-resources``).
        runtime_annotations: Extra annotations of the ClusterServingRuntime.
    """

    cluster_cidrs: Sequence[str]
    runtime_image: pulumi.Input[str]
    tracking_uri: pulumi.Input[str]
    artifacts_destination: pulumi.Input[str]
    region: str
    node_selector: Mapping[str, str] = field(default_factory=dict)
    replicas: int = 1
    prometheus: pulumi.Resource | None = None
    cert_manager_namespace: str = names.CERT_MANAGER_NAMESPACE
    kserve_namespace: str = names.KSERVE_NAMESPACE
    cert_manager_chart_version: str = cert_manager.CERT_MANAGER_CHART_VERSION
    kserve_chart_version: str = kserve_values.KSERVE_VERSION
    runtime_annotations: Mapping[str, str] = field(default_factory=dict)


class Serving(pulumi.ComponentResource):
    """cert-manager, KServe (Standard mode) and the platform's ClusterServingRuntime and ClusterStorageContainer.

    Outputs: ``cert_manager_namespace``, ``namespace`` (KServe's), ``runtime_name``, ``storage_container_name``;
    :attr:`crds` and :attr:`controller` are the releases a model's InferenceService waits for, :attr:`runtime` and
    :attr:`storage` the custom resources.
    """

    def __init__(self, name: str, args: ServingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        TOKEN = "mlops:serving:Serving"
        super().__init__(TOKEN, name, None, component_options(TOKEN, opts))
        if not args.cluster_cidrs:
            raise ValueError("Serving needs the cluster CIDRs (API server egress, webhook ingress)")
        if args.replicas < 1:
            raise ValueError(f"replicas must be at least 1, not {args.replicas}")
        self._args = args
        self.cert_manager_ns = self._namespace(
            f"{name}-cert-manager", args.cert_manager_namespace, {}, cert_manager_network_policies(args)
        )
        self.cert_manager = self._cert_manager(name)
        key, value = kserve_values.CONTROL_PLANE_LABEL
        self.kserve_ns = self._namespace(
            f"{name}-kserve", args.kserve_namespace, {key: value}, kserve_network_policies(args)
        )
        self.crds = self._release(
            f"{name}-kserve-crd", kserve_values.CRD_CHART, kserve_values.crd_values(), [self.kserve_ns]
        )
        self.controller = self._release(
            f"{name}-kserve",
            kserve_values.RESOURCES_CHART,
            kserve_values.kserve_values(kserve_values.KServeValuesSpec(node_selector=args.node_selector)),
            [self.kserve_ns, self.crds, self.cert_manager],
        )
        self.runtime, self.storage = self._runtime_objects(name)
        self._alerts(name)
        self._outputs()

    def _namespace(
        self,
        name: str,
        namespace: str,
        labels: Mapping[str, str],
        policies: list[tuple[str, k8s.networking.v1.NetworkPolicySpecArgs]],
    ) -> k8s.core.v1.Namespace:
        """A Pod Security restricted namespace and its NetworkPolicies."""
        ns = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=namespace, labels={**RESTRICTED_NAMESPACE_LABELS, **labels}
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        for policy_name, spec in policies:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy_name}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=policy_name, namespace=namespace),
                spec=spec,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[ns]),
            )
        return ns

    def _cert_manager(self, name: str) -> k8s.helm.v3.Release:
        args = self._args
        values = cert_manager.cert_manager_values(
            cert_manager.CertManagerValuesSpec(
                namespace=args.cert_manager_namespace,
                node_selector=args.node_selector,
                replicas=args.replicas,
            )
        )
        return k8s.helm.v3.Release(
            f"{name}-cert-manager",
            name=cert_manager.RELEASE_NAME,
            chart=cert_manager.CERT_MANAGER_CHART,
            version=args.cert_manager_chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=cert_manager.CERT_MANAGER_REPOSITORY),
            namespace=self.cert_manager_ns.metadata.name,
            create_namespace=False,
            atomic=True,
            cleanup_on_fail=True,
            values=values,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.cert_manager_ns]),
        )

    def _release(
        self, name: str, chart: str, values: dict[str, Any], depends_on: list[pulumi.Resource]
    ) -> k8s.helm.v3.Release:
        """One KServe chart (OCI, ``oci://ghcr.io/kserve/charts/<chart>``) in KServe's namespace."""
        args = self._args
        return k8s.helm.v3.Release(
            name,
            name=chart,
            chart=f"{kserve_values.KSERVE_REPOSITORY}/{chart}",
            version=args.kserve_chart_version,
            namespace=self.kserve_ns.metadata.name,
            create_namespace=False,
            atomic=True,
            cleanup_on_fail=True,
            values=values,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )

    def _runtime_objects(
        self, name: str
    ) -> tuple[k8s.apiextensions.CustomResource, k8s.apiextensions.CustomResource]:
        """The ClusterServingRuntime and the ClusterStorageContainer, rendered with the stack's image and MLflow,
        after the CRDs and the controller (its webhook validates runtimes)."""
        args = self._args

        def spec(values: list[Any]) -> RuntimeSpec:
            return RuntimeSpec(
                image=values[0],
                tracking_uri=values[1],
                artifacts_destination=values[2],
                aws_region=args.region,
                annotations=dict(args.runtime_annotations),
            )

        specs = pulumi.Output.all(args.runtime_image, args.tracking_uri, args.artifacts_destination).apply(
            spec
        )
        after = pulumi.ResourceOptions(parent=self, depends_on=[self.crds, self.controller])
        objects = []
        for kind, manifest, object_name in (
            ("ClusterServingRuntime", specs.apply(serving_runtime), names.RUNTIME_NAME),
            ("ClusterStorageContainer", specs.apply(storage_container), names.STORAGE_CONTAINER_NAME),
        ):
            objects.append(
                k8s.apiextensions.CustomResource(
                    f"{name}-{kind.lower()}",
                    api_version=KSERVE_API_VERSION,
                    kind=kind,
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        name=object_name,
                        labels=manifest.apply(lambda m: dict(m["metadata"].get("labels") or {})),
                        annotations=manifest.apply(lambda m: dict(m["metadata"].get("annotations") or {})),
                    ),
                    spec=manifest.apply(lambda m: m["spec"]),
                    opts=after,
                )
            )
        return objects[0], objects[1]

    def _alerts(self, name: str) -> None:
        """The control plane's alert rules, after kube-prometheus-stack (the PrometheusRule CRD)."""
        args = self._args
        if args.prometheus is None:
            return
        prometheus_rule(
            f"{name}-rules",
            name="serving",
            namespace=args.kserve_namespace,
            groups=serving_rule_groups(args.kserve_namespace, args.cert_manager_namespace),
            labels={"app.kubernetes.io/part-of": "mlops-platform"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.kserve_ns, args.prometheus]),
        )

    def _outputs(self) -> None:
        self.cert_manager_namespace: pulumi.Output[str] = self.cert_manager_ns.metadata.name
        self.namespace: pulumi.Output[str] = self.kserve_ns.metadata.name
        self.runtime_name: str = names.RUNTIME_NAME
        self.storage_container_name: str = names.STORAGE_CONTAINER_NAME
        self.register_outputs(
            {
                "cert_manager_namespace": self.cert_manager_namespace,
                "namespace": self.namespace,
                "runtime_name": self.runtime_name,
                "storage_container_name": self.storage_container_name,
            }
        )


def cert_manager_network_policies(
    args: ServingArgs,
) -> list[tuple[str, k8s.networking.v1.NetworkPolicySpecArgs]]:
    return cert_manager.cert_manager_network_policies(args.cluster_cidrs)


def kserve_network_policies(args: ServingArgs) -> list[tuple[str, k8s.networking.v1.NetworkPolicySpecArgs]]:
    return kserve_values.kserve_network_policies(args.cluster_cidrs)
