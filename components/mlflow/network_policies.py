"""The NetworkPolicy specs of MLflow's namespace: default-deny, then narrow allows.

Ingress reaches the server's pods from client namespaces (a label) on the API port, and from Prometheus in the
monitoring namespace on the metrics exporter's port only. Egress is DNS, PostgreSQL to the database subnets and
HTTPS to the VPC CIDR (S3 and STS through their interface endpoints: an ipBlock cannot name the S3 prefix list a
gateway endpoint routes to). The schema migration's pods reach DNS and the database only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from mlops_platform.components.kubernetes import cidr_egress, dns_egress, pods, ports, selector
from mlops_platform.components.mlflow.metrics import METRICS_PORT
from mlops_platform.components.mlflow.server import PORT

__all__ = [
    "MIGRATION_SELECTOR",
    "PROMETHEUS_POD_LABELS",
    "default_deny_spec",
    "migration_egress_spec",
    "server_egress_spec",
    "server_ingress_spec",
]

#: The labels of Prometheus' pods (kube-prometheus-stack) in the monitoring namespace.
PROMETHEUS_POD_LABELS = {"app.kubernetes.io/name": "prometheus"}
#: The schema migration's pods (not the server's selector: its policies must not pick them up).
MIGRATION_SELECTOR = {"app.kubernetes.io/component": "schema-migration"}


def default_deny_spec() -> k8s.networking.v1.NetworkPolicySpecArgs:
    """Every pod of the namespace, no ingress and no egress unless another policy allows it."""
    return k8s.networking.v1.NetworkPolicySpecArgs(
        pod_selector=selector(), policy_types=["Ingress", "Egress"]
    )


def server_ingress_spec(
    server_selector: Mapping[str, str], *, monitoring_namespace: str, client_namespace_label: tuple[str, str]
) -> k8s.networking.v1.NetworkPolicySpecArgs:
    """The server's pods admit Prometheus on the exporter's port and client namespaces on the API port."""
    client_key, client_value = client_namespace_label
    return k8s.networking.v1.NetworkPolicySpecArgs(
        pod_selector=selector(server_selector),
        policy_types=["Ingress"],
        ingress=[
            # Prometheus reaches the metrics exporter only, never MLflow's API.
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[pods(PROMETHEUS_POD_LABELS, monitoring_namespace)], ports=ports(METRICS_PORT)
            ),
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[
                    k8s.networking.v1.NetworkPolicyPeerArgs(
                        namespace_selector=selector({client_key: client_value})
                    )
                ],
                ports=ports(PORT),
            ),
        ],
    )


def server_egress_spec(
    server_selector: Mapping[str, str],
    *,
    database_cidrs: Sequence[str],
    db_port: pulumi.Input[int],
    vpc_cidr: str,
) -> k8s.networking.v1.NetworkPolicySpecArgs:
    """The server's pods reach DNS, PostgreSQL in the database subnets and HTTPS in the VPC."""
    return k8s.networking.v1.NetworkPolicySpecArgs(
        pod_selector=selector(server_selector),
        policy_types=["Egress"],
        egress=[
            dns_egress(),
            cidr_egress(database_cidrs, db_port),
            # S3 and STS (IRSA token exchange) through their interface endpoints in the VPC; nothing
            # outside the VPC (an ipBlock cannot name the S3 prefix list the gateway endpoint uses).
            cidr_egress([vpc_cidr], 443),
        ],
    )


def migration_egress_spec(
    *, database_cidrs: Sequence[str], db_port: pulumi.Input[int]
) -> k8s.networking.v1.NetworkPolicySpecArgs:
    """The schema migration's pods reach DNS and PostgreSQL in the database subnets, nothing else."""
    return k8s.networking.v1.NetworkPolicySpecArgs(
        pod_selector=selector(MIGRATION_SELECTOR),
        policy_types=["Egress"],
        egress=[dns_egress(), cidr_egress(database_cidrs, db_port)],
    )
