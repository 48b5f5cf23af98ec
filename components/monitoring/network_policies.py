"""NetworkPolicies of the monitoring namespaces: default deny of all ingress and egress, then the narrow
allows each component of the stack needs (:func:`network_policies`).

``kubectl port-forward`` reaches a pod over its loopback interface (the kubelet enters the pod's network
namespace), so it is not subject to NetworkPolicy: users reach Grafana, Prometheus and Alertmanager that way,
authenticated by EKS (IAM) and authorised by RBAC (``pods/portforward``). Kubelet probes from the pod's own
node are always admitted.
"""

from __future__ import annotations

import pulumi_kubernetes as k8s

from mlops_platform.components.kubernetes import cidrs, dns_egress, pods, ports, selector
from mlops_platform.components.monitoring.args import MonitoringArgs
from mlops_platform.components.monitoring.charts import DCGM_EXPORTER_PORT, RELEASE_NAME

__all__ = [
    "ALERTMANAGER_POD_LABELS",
    "GRAFANA_POD_LABELS",
    "HEARTBEAT_POLICY",
    "KUBE_STATE_METRICS_NAME",
    "OPERATOR_NAME_LABEL",
    "OPERATOR_POD_LABELS",
    "PROMETHEUS_POD_LABELS",
    "NamespacedPolicy",
    "network_policies",
]

V1 = k8s.networking.v1
NamespacedPolicy = tuple[str, str, k8s.networking.v1.NetworkPolicySpecArgs]
"""``(namespace, name, spec)`` of one NetworkPolicy."""

PROMETHEUS_POD_LABELS = {
    "app.kubernetes.io/name": "prometheus",
    "operator.prometheus.io/name": f"{RELEASE_NAME}-prometheus",
}
ALERTMANAGER_POD_LABELS = {
    "app.kubernetes.io/name": "alertmanager",
    "alertmanager": f"{RELEASE_NAME}-alertmanager",
}
GRAFANA_POD_LABELS = {"app.kubernetes.io/name": "grafana"}
OPERATOR_POD_LABELS = {"app": f"{RELEASE_NAME}-operator"}
# The operator and its admission-webhook certificate Jobs (pre-install/upgrade hooks) share this label.
OPERATOR_NAME_LABEL = ("app.kubernetes.io/name", "kube-prometheus-stack-prometheus-operator")
KUBE_STATE_METRICS_NAME = "kube-state-metrics"
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
ALERTMANAGER_CLUSTER_PORT = 9094
OPERATOR_WEBHOOK_PORT = 10250
NODE_EXPORTER_PORT = 9100
KUBELET_PORT = 10250
API_SERVER_PORT = 443


HEARTBEAT_POLICY = "alertmanager-heartbeat"
"""The NetworkPolicy opening Alertmanager's HTTPS egress to the internet, created only with a heartbeat."""

_PROMETHEUS = pods(PROMETHEUS_POD_LABELS)
_GRAFANA = pods(GRAFANA_POD_LABELS)
_ALERTMANAGER = pods(ALERTMANAGER_POD_LABELS)


def _deny_all() -> V1.NetworkPolicySpecArgs:
    return V1.NetworkPolicySpecArgs(pod_selector=selector(), policy_types=["Ingress", "Egress"])


def _api_server(args: MonitoringArgs) -> V1.NetworkPolicyEgressRuleArgs:
    """HTTPS to the cluster CIDRs: the API server's ENIs, and the VPC's interface endpoints of the AWS APIs
    (the platform creates sns, monitoring and sts in every profile), so nothing reaches the internet."""
    return V1.NetworkPolicyEgressRuleArgs(to=cidrs(args.cluster_cidrs), ports=ports(API_SERVER_PORT))


def _prometheus(args: MonitoringArgs) -> V1.NetworkPolicySpecArgs:
    return V1.NetworkPolicySpecArgs(
        pod_selector=selector(PROMETHEUS_POD_LABELS),
        policy_types=["Ingress", "Egress"],
        ingress=[V1.NetworkPolicyIngressRuleArgs(from_=[_GRAFANA], ports=ports(PROMETHEUS_PORT))],
        egress=[
            # Scrape targets are pods in any namespace (ServiceMonitors and PodMonitors anywhere),
            # Alertmanager included.
            V1.NetworkPolicyEgressRuleArgs(to=[V1.NetworkPolicyPeerArgs(namespace_selector=selector())]),
            # Node-level targets (kubelet and cAdvisor, node-exporter on the host network) and the
            # API server (service discovery, and its own metrics).
            V1.NetworkPolicyEgressRuleArgs(
                to=cidrs(args.cluster_cidrs),
                ports=ports(API_SERVER_PORT, KUBELET_PORT, NODE_EXPORTER_PORT),
            ),
        ],
    )


def _alertmanager(aws_apis: V1.NetworkPolicyEgressRuleArgs) -> V1.NetworkPolicySpecArgs:
    return V1.NetworkPolicySpecArgs(
        pod_selector=selector(ALERTMANAGER_POD_LABELS),
        policy_types=["Ingress", "Egress"],
        ingress=[
            V1.NetworkPolicyIngressRuleArgs(from_=[_PROMETHEUS, _GRAFANA], ports=ports(ALERTMANAGER_PORT)),
            V1.NetworkPolicyIngressRuleArgs(
                from_=[_ALERTMANAGER], ports=ports(ALERTMANAGER_CLUSTER_PORT, udp=True)
            ),
        ],
        egress=[
            V1.NetworkPolicyEgressRuleArgs(
                to=[_ALERTMANAGER], ports=ports(ALERTMANAGER_CLUSTER_PORT, udp=True)
            ),
            aws_apis,  # SNS and STS (IRSA) through the VPC's interface endpoints
        ],
    )


def _grafana(aws_apis: V1.NetworkPolicyEgressRuleArgs) -> V1.NetworkPolicySpecArgs:
    return V1.NetworkPolicySpecArgs(
        pod_selector=selector(GRAFANA_POD_LABELS),
        policy_types=["Egress"],
        egress=[
            V1.NetworkPolicyEgressRuleArgs(to=[_PROMETHEUS], ports=ports(PROMETHEUS_PORT)),
            V1.NetworkPolicyEgressRuleArgs(to=[_ALERTMANAGER], ports=ports(ALERTMANAGER_PORT)),
            aws_apis,  # CloudWatch and STS (endpoints), the API server for the dashboard sidecars
        ],
    )


def _operator_webhook(args: MonitoringArgs) -> V1.NetworkPolicySpecArgs:
    return V1.NetworkPolicySpecArgs(
        pod_selector=selector(OPERATOR_POD_LABELS),
        policy_types=["Ingress"],
        # The API server calls the PrometheusRule admission webhook from the control plane's ENIs.
        ingress=[
            V1.NetworkPolicyIngressRuleArgs(
                from_=cidrs(args.cluster_cidrs), ports=ports(OPERATOR_WEBHOOK_PORT)
            )
        ],
    )


def _api_server_watchers(api_server: V1.NetworkPolicyEgressRuleArgs) -> V1.NetworkPolicySpecArgs:
    return V1.NetworkPolicySpecArgs(
        # The operator, its webhook-certificate Jobs and kube-state-metrics watch the API server.
        pod_selector=k8s.meta.v1.LabelSelectorArgs(
            match_expressions=[
                k8s.meta.v1.LabelSelectorRequirementArgs(
                    key="app.kubernetes.io/name",
                    operator="In",
                    values=[OPERATOR_NAME_LABEL[1], KUBE_STATE_METRICS_NAME],
                )
            ]
        ),
        policy_types=["Egress"],
        egress=[api_server],
    )


def _stack_policies(args: MonitoringArgs) -> list[NamespacedPolicy]:
    """The monitoring namespace: deny all, DNS for every pod, Prometheus' scrapes, then one policy per
    component."""
    ns = args.namespace
    api_server = _api_server(args)
    return [
        (ns, "default-deny", _deny_all()),
        (
            ns,
            "allow-dns",
            V1.NetworkPolicySpecArgs(pod_selector=selector(), policy_types=["Egress"], egress=[dns_egress()]),
        ),
        # Prometheus scrapes every component of the stack (metrics and config-reloader ports).
        (
            ns,
            "allow-scrape-from-prometheus",
            V1.NetworkPolicySpecArgs(
                pod_selector=selector(),
                policy_types=["Ingress"],
                ingress=[V1.NetworkPolicyIngressRuleArgs(from_=[_PROMETHEUS])],
            ),
        ),
        (ns, "prometheus", _prometheus(args)),
        (ns, "alertmanager", _alertmanager(api_server)),
        (ns, "grafana", _grafana(api_server)),
        (ns, "prometheus-operator", _operator_webhook(args)),
        (ns, "allow-api-server", _api_server_watchers(api_server)),
    ]


def _node_exporter_policies(args: MonitoringArgs) -> list[NamespacedPolicy]:
    """node-exporter's (and the DCGM exporter's) namespace: deny all but Prometheus' scrapes."""
    node_ns = args.node_exporter_namespace
    return [
        (node_ns, "default-deny", _deny_all()),
        (
            node_ns,
            "allow-scrape-from-prometheus",
            V1.NetworkPolicySpecArgs(
                pod_selector=selector(),
                policy_types=["Ingress"],
                ingress=[
                    V1.NetworkPolicyIngressRuleArgs(
                        from_=[pods(PROMETHEUS_POD_LABELS, args.namespace)],
                        ports=ports(NODE_EXPORTER_PORT, DCGM_EXPORTER_PORT),
                    )
                ],
            ),
        ),
    ]


def _heartbeat_policy(args: MonitoringArgs) -> NamespacedPolicy:
    # The dead-man's-switch webhook lives outside AWS: the one open egress of the namespace, in a policy of
    # its own so a stack's policy config can allow-list exactly it (allowedOpenEgress:
    # "<namespace>/alertmanager-heartbeat").
    return (
        args.namespace,
        HEARTBEAT_POLICY,
        V1.NetworkPolicySpecArgs(
            pod_selector=selector(ALERTMANAGER_POD_LABELS),
            policy_types=["Egress"],
            egress=[
                V1.NetworkPolicyEgressRuleArgs(
                    to=[V1.NetworkPolicyPeerArgs(ip_block=V1.IPBlockArgs(cidr="0.0.0.0/0"))],
                    ports=ports(443),
                )
            ],
        ),
    )


def network_policies(args: MonitoringArgs) -> list[NamespacedPolicy]:
    """``(namespace, name, spec)`` of the NetworkPolicies of the monitoring namespaces: default deny of
    all ingress and egress, then the narrow allows each component needs (see the module docstring)."""
    policies = [*_stack_policies(args), *_node_exporter_policies(args)]
    if args.heartbeat_url_secret:
        policies.append(_heartbeat_policy(args))
    return policies
