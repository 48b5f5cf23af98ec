"""mlops_platform.components.monitoring.network_policies: who may reach whom, evaluated with Kubernetes' NetworkPolicy
semantics on the rendered policies."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from monitoring_support import NETWORK_POLICY, base_args, inputs, release, render

from mlops_platform.components.monitoring.network_policies import (
    ALERTMANAGER_POD_LABELS,
    OPERATOR_NAME_LABEL,
    PROMETHEUS_POD_LABELS,
)
from mlops_platform.mlops.graph import Graph


def _policies(graph: Graph) -> list[dict[str, Any]]:
    return [inputs(r) for r in graph.of_type(NETWORK_POLICY)]


def _selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in ((selector or {}).get("matchLabels") or {}).items()) and all(
        labels.get(e["key"]) in e["values"] for e in (selector or {}).get("matchExpressions") or []
    )


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: dict[str, str]
    ip: str = "10.10.1.10"


def _peer_admits(peer: dict[str, Any], pod: Pod | None, ip: str, own_namespace: str) -> bool:
    if "ipBlock" in peer:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(peer["ipBlock"]["cidr"])
    if pod is None:
        return False
    if "namespaceSelector" in peer:
        ns_ok = _selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": pod.namespace})
    else:
        ns_ok = pod.namespace == own_namespace
    return ns_ok and ("podSelector" not in peer or _selects(peer["podSelector"], pod.labels))


def _port_ok(rule: dict[str, Any], port: int, protocol: str) -> bool:
    ports = rule.get("ports")
    return not ports or any(p["port"] == port and p.get("protocol", "TCP") == protocol for p in ports)


def _side_allows(
    policies: list[dict[str, Any]],
    subject: Pod,
    direction: str,
    other: Pod | None,
    ip: str,
    port: int,
    protocol: str,
) -> bool:
    """Kubernetes semantics: isolated if any policy of that direction selects the pod; then some rule must allow."""
    kind, key, peers = ("Ingress", "ingress", "from") if direction == "in" else ("Egress", "egress", "to")
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == subject.namespace
        and _selects(p["spec"].get("podSelector"), subject.labels)
        and kind in p["spec"]["policyTypes"]
    ]
    if not selecting:
        return True
    return any(
        _port_ok(rule, port, protocol)
        and (
            not rule.get(peers)
            or any(_peer_admits(peer, other, ip, subject.namespace) for peer in rule[peers])
        )
        for p in selecting
        for rule in p["spec"].get(key) or []
    )


def connects(graph: Graph, src: Pod | str, dst: Pod | str, port: int, protocol: str = "TCP") -> bool:
    """Whether ``src`` may open a connection to ``dst`` (a pod, or an IP outside the pod network)."""
    policies = _policies(graph)
    src_pod = src if isinstance(src, Pod) else None
    dst_pod = dst if isinstance(dst, Pod) else None
    src_ip = src.ip if isinstance(src, Pod) else src
    dst_ip = dst.ip if isinstance(dst, Pod) else dst
    egress_ok = src_pod is None or _side_allows(policies, src_pod, "out", dst_pod, dst_ip, port, protocol)
    ingress_ok = dst_pod is None or _side_allows(policies, dst_pod, "in", src_pod, src_ip, port, protocol)
    return egress_ok and ingress_ok


PROMETHEUS = Pod("monitoring", dict(PROMETHEUS_POD_LABELS))


ALERTMANAGER = Pod("monitoring", dict(ALERTMANAGER_POD_LABELS))


GRAFANA = Pod(
    "monitoring", {"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": "kube-prometheus-stack"}
)


OPERATOR = Pod(
    "monitoring", {"app": "kube-prometheus-stack-operator", "app.kubernetes.io/name": OPERATOR_NAME_LABEL[1]}
)


WEBHOOK_JOB = Pod(
    "monitoring",
    {"app.kubernetes.io/name": OPERATOR_NAME_LABEL[1], "app": "kube-prometheus-stack-admission-create"},
)


KSM = Pod("monitoring", {"app.kubernetes.io/name": "kube-state-metrics"})


DCGM = Pod("monitoring-node-exporter", {"app.kubernetes.io/name": "dcgm-exporter"})


KUBE_DNS = Pod("kube-system", {"k8s-app": "kube-dns"})


TEAM_POD = Pod("fraud-scoring", {"app": "model"})


MLFLOW_POD = Pod("mlflow", {"app.kubernetes.io/name": "mlflow"})


API_SERVER_ENI = "10.10.2.15"  # in the VPC (cluster CIDRs)


DATABASE = "10.10.200.5"


SNS = "52.94.0.10"  # a public AWS address


ENDPOINT_ENI = "10.10.3.40"  # an interface endpoint (sns, monitoring, sts) in the private subnets


def test_monitoring_namespaces_deny_everything_by_default(netgraph: Graph) -> None:
    defaults = [p for p in _policies(netgraph) if p["metadata"]["name"] == "default-deny"]
    assert {p["metadata"]["namespace"] for p in defaults} == {"monitoring", "monitoring-node-exporter"}
    for p in defaults:
        assert p["spec"]["podSelector"] == {}
        assert sorted(p["spec"]["policyTypes"]) == ["Egress", "Ingress"]
        assert not p["spec"].get("ingress") and not p["spec"].get("egress")
    # Nothing in the monitoring namespaces accepts every source or reaches every port everywhere.
    for p in _policies(netgraph):
        for rule in p["spec"].get("ingress") or []:
            assert rule.get("from"), p["metadata"]["name"]
        for rule in p["spec"].get("egress") or []:
            assert rule.get("to") or rule.get("ports"), p["metadata"]["name"]
    # The policies exist before any pod of the chart starts.
    policy_urns = {r.urn for r in netgraph.of_type(NETWORK_POLICY)}
    assert policy_urns <= set(release(netgraph).dependencies)


def test_prometheus_and_alertmanager_are_reachable_only_from_who_needs_them(netgraph: Graph) -> None:
    assert connects(netgraph, GRAFANA, PROMETHEUS, 9090)
    assert not connects(netgraph, TEAM_POD, PROMETHEUS, 9090)
    assert not connects(netgraph, KSM, PROMETHEUS, 9090)
    assert connects(netgraph, PROMETHEUS, ALERTMANAGER, 9093)
    assert connects(netgraph, GRAFANA, ALERTMANAGER, 9093)
    assert not connects(netgraph, TEAM_POD, ALERTMANAGER, 9093)
    assert not connects(netgraph, MLFLOW_POD, ALERTMANAGER, 9093)
    assert connects(netgraph, ALERTMANAGER, ALERTMANAGER, 9094, "UDP")  # cluster gossip
    assert not connects(netgraph, TEAM_POD, GRAFANA, 3000)  # users come through kubectl port-forward


def test_prometheus_scrapes_targets_everywhere(netgraph: Graph) -> None:
    for target, port in (
        (MLFLOW_POD, 5000),
        (TEAM_POD, 8080),
        (KSM, 8080),
        (GRAFANA, 3000),
        (ALERTMANAGER, 8080),
        (DCGM, 9400),
        (OPERATOR, 10250),
    ):
        assert connects(netgraph, PROMETHEUS, target, port), (target, port)
    for port in (443, 10250, 9100):  # API server, kubelet, node-exporter on the host network
        assert connects(netgraph, PROMETHEUS, API_SERVER_ENI, port)
    assert not connects(netgraph, PROMETHEUS, DATABASE, 5432)
    assert not connects(netgraph, PROMETHEUS, SNS, 443)
    assert not connects(netgraph, TEAM_POD, DCGM, 9400)


def test_components_reach_the_api_server_dns_and_aws_only(netgraph: Graph) -> None:
    for pod in (PROMETHEUS, ALERTMANAGER, GRAFANA, OPERATOR, KSM, WEBHOOK_JOB):
        assert connects(netgraph, pod, KUBE_DNS, 53, "UDP"), pod
    for pod in (OPERATOR, KSM, WEBHOOK_JOB, GRAFANA):
        assert connects(netgraph, pod, API_SERVER_ENI, 443), pod
        assert connects(netgraph, pod, "172.20.0.1", 443), pod  # the kubernetes Service's ClusterIP
    for pod in (OPERATOR, KSM, WEBHOOK_JOB, PROMETHEUS, ALERTMANAGER, GRAFANA):
        assert not connects(netgraph, pod, SNS, 443), pod  # nothing reaches the internet
    # SNS, CloudWatch and STS answer on the VPC's interface endpoints.
    assert connects(netgraph, ALERTMANAGER, ENDPOINT_ENI, 443)
    assert connects(netgraph, GRAFANA, ENDPOINT_ENI, 443)
    assert not connects(netgraph, ALERTMANAGER, DATABASE, 5432)
    assert not connects(netgraph, GRAFANA, DATABASE, 5432)
    assert not connects(netgraph, KSM, TEAM_POD, 8080)
    # The control plane calls the operator's admission webhook from its ENIs in the VPC.
    assert connects(netgraph, API_SERVER_ENI, OPERATOR, 10250)
    assert not connects(netgraph, SNS, OPERATOR, 10250)
    # With the VPC CNI, pods draw their addresses from the VPC, so the webhook's ipBlock admits them too
    # (documented; the webhook serves TLS and only reviews PrometheusRules); no other port is open.
    assert connects(netgraph, TEAM_POD, OPERATOR, 10250)
    assert not connects(netgraph, TEAM_POD, OPERATOR, 8080)


def test_a_heartbeat_opens_alertmanagers_https_egress_alone_in_its_own_policy() -> None:
    graph = render(
        base_args(cluster_cidrs=["10.10.0.0/16", "172.20.0.0/16"], heartbeat_url_secret="heartbeat")
    )
    assert connects(graph, ALERTMANAGER, SNS, 443)  # the dead-man's-switch lives outside AWS
    assert not connects(graph, GRAFANA, SNS, 443)
    assert not connects(graph, ALERTMANAGER, SNS, 80)
    heartbeat = [
        p
        for p in graph.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if p.inputs["metadata"]["name"] == "alertmanager-heartbeat"
    ]
    assert len(heartbeat) == 1
    assert heartbeat[0].inputs["spec"]["egress"][0]["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0"}}]


def test_without_a_heartbeat_no_policy_opens_the_internet(netgraph: Graph) -> None:
    names = [
        p.inputs["metadata"]["name"]
        for p in netgraph.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    ]
    assert "alertmanager-heartbeat" not in names
