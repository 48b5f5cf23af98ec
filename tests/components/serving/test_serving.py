"""Serving on the rendered platform: the two namespaces closed with only the webhook and API paths open, the
releases in order (cert-manager, the CRDs, then KServe, then our runtime objects), the runtime from the
platform's ECR with its MLflow, the webhooks' ports inside what the cluster's security groups open, and the config
around it."""

from __future__ import annotations

import json
from typing import Any

import promql_parser
import pytest
from compute_support import plain, render_platform
from config_support import make, problems

from mlops_platform.components.cluster.security_groups import CONTROL_PLANE_TO_NODE_PORTS
from mlops_platform.components.serving import cert_manager, kserve_values, names
from mlops_platform.components.serving.kserve import WEBHOOK_PORTS, Serving, ServingArgs
from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.graph import Graph, Resource

NAMESPACE = "kubernetes:core/v1:Namespace"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
RELEASE = "kubernetes:helm.sh/v3:Release"
RUNTIME = "kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime"
STORAGE = "kubernetes:serving.kserve.io/v1alpha1:ClusterStorageContainer"
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
METRICS_SERVER_PORT = 10251
"""The secure port of the EKS metrics-server add-on (docs.aws.amazon.com/eks/latest/userguide/metrics-server.html)."""


@pytest.fixture(scope="module")
def prod() -> Graph:
    return render_platform("prod")[0]


def named(g: Graph, type_: str, name: str) -> Resource:
    (found,) = [r for r in g.of_type(type_) if r.name == name]
    return found


def metadata(r: Resource) -> dict[str, Any]:
    return plain(r, "metadata")


def policies(g: Graph, namespace: str) -> dict[str, dict[str, Any]]:
    return {
        metadata(r)["name"]: plain(r, "spec")
        for r in g.of_type(POLICY)
        if metadata(r).get("namespace") == namespace
    }


def test_both_namespaces_are_restricted_and_kserve_skips_its_own_pod_mutator(prod: Graph) -> None:
    labels = {metadata(r)["name"]: metadata(r)["labels"] for r in prod.of_type(NAMESPACE)}
    for ns in (names.CERT_MANAGER_NAMESPACE, names.KSERVE_NAMESPACE):
        assert labels[ns]["pod-security.kubernetes.io/enforce"] == "restricted"
    key, value = kserve_values.CONTROL_PLANE_LABEL
    assert labels[names.KSERVE_NAMESPACE][key] == value
    assert key not in labels[names.CERT_MANAGER_NAMESPACE]


@pytest.mark.parametrize(
    ("namespace", "port", "pods"),
    [
        (names.CERT_MANAGER_NAMESPACE, cert_manager.WEBHOOK_PORT, cert_manager.WEBHOOK_POD_LABELS),
        (names.KSERVE_NAMESPACE, kserve_values.WEBHOOK_PORT, kserve_values.CONTROLLER_POD_LABELS),
    ],
)
def test_each_namespace_denies_by_default_and_admits_the_api_server_on_the_webhook_port_only(
    prod: Graph, namespace: str, port: int, pods: dict[str, str]
) -> None:
    specs = policies(prod, namespace)
    assert {"default-deny", "allow-dns", "allow-api-server", "webhook-from-api-server"} <= set(specs)
    assert specs["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    webhook = specs["webhook-from-api-server"]
    assert webhook["podSelector"]["matchLabels"] == pods
    (rule,) = webhook["ingress"]
    assert [p["port"] for p in rule["ports"]] == [port]
    sources = [peer["ipBlock"]["cidr"] for peer in rule["from"]]
    assert sources == ["10.30.0.0/16", "172.20.0.0/16"]  # the VPC (control-plane ENIs) and the Service range
    # Egress: DNS and HTTPS to the API server only; nothing to the internet.
    egress = [rule for s in specs.values() for rule in s.get("egress", [])]
    blocks = {p["ipBlock"]["cidr"] for rule in egress for p in rule.get("to", []) if "ipBlock" in p}
    assert blocks == {"10.30.0.0/16", "172.20.0.0/16"}
    assert {p["port"] for rule in egress for p in rule["ports"]} == {53, 443}


def test_the_control_planes_alerts_read_kube_state_metrics(prod: Graph) -> None:
    (rule,) = [r for r in prod.of_type(PROMETHEUS_RULE) if r.name == "mlops-prod-serving-rules"]
    assert metadata(rule)["namespace"] == names.KSERVE_NAMESPACE
    rules = {r["alert"]: r for g in plain(rule, "spec")["groups"] for r in g["rules"]}
    assert set(rules) == {"KServeControllerUnavailable", "CertManagerUnavailable"}
    for alert in rules.values():
        parsed = promql_parser.parse(alert["expr"])
        assert "kube_deployment_status_replicas_available" in str(parsed)
        assert alert["labels"]["severity"] == "critical" and alert["for"] == "10m"
    assert 'namespace="kserve"' in rules["KServeControllerUnavailable"]["expr"]
    assert "cert-manager-webhook" in rules["CertManagerUnavailable"]["expr"]
    release = next(r for r in prod.of_type(RELEASE) if r.name == "mlops-prod-kube-prometheus-stack")
    assert release.urn in rule.dependencies
    # Nothing scrapes the controllers, so no namespace of serving admits Prometheus.
    for ns in (names.KSERVE_NAMESPACE, names.CERT_MANAGER_NAMESPACE):
        assert not [n for n in policies(prod, ns) if "prometheus" in n]


def _tcp_ranges() -> list[range]:
    return [range(low, high + 1) for _, low, high, _ in CONTROL_PLANE_TO_NODE_PORTS]


def test_the_cluster_security_groups_already_open_every_webhook_and_the_metrics_api() -> None:
    """The API server reaches the webhooks and metrics-server's aggregated API on the nodes: their ports lie in
    the control plane to node rules (no rule of serving's own is needed)."""
    for what, port in {**WEBHOOK_PORTS, "metrics-server": METRICS_SERVER_PORT}.items():
        assert any(port in r for r in _tcp_ranges()), what


def test_the_security_group_rules_exist_in_the_rendered_stack(prod: Graph) -> None:
    rules = [
        (r.inputs["fromPort"], r.inputs["toPort"])
        for r in prod.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.name.startswith("mlops-prod-eks-nodes-from-cp-")
    ]
    for port in (*WEBHOOK_PORTS.values(), METRICS_SERVER_PORT):
        assert any(low <= port <= high for low, high in rules), port


def test_releases_are_pinned_and_ordered(prod: Graph) -> None:
    cm = named(prod, RELEASE, "mlops-prod-serving-cert-manager")
    crds = named(prod, RELEASE, "mlops-prod-serving-kserve-crd")
    controller = named(prod, RELEASE, "mlops-prod-serving-kserve")
    assert (cm.inputs["chart"], cm.inputs["version"]) == ("cert-manager", "v1.21.1")
    assert cm.inputs["repositoryOpts"]["repo"] == "https://charts.jetstack.io"
    assert (crds.inputs["chart"], crds.inputs["version"]) == (
        "oci://ghcr.io/kserve/charts/kserve-crd",
        "v0.20.0",
    )
    assert controller.inputs["chart"] == "oci://ghcr.io/kserve/charts/kserve-resources"
    assert plain(cm, "namespace") == "cert-manager" and plain(controller, "namespace") == "kserve"
    assert {cm.urn, crds.urn} <= set(controller.dependencies)
    for kind in (RUNTIME, STORAGE):
        (obj,) = prod.of_type(kind)
        assert {crds.urn, controller.urn} <= set(obj.dependencies)
    values = plain(controller, "values")["kserve"]
    assert values["controller"]["deploymentMode"] == "Standard"
    assert values["controller"]["nodeSelector"] == {"mlops.platform/node-group": "system"}
    assert values["storagecontainer"] == {"enabled": False} and values["createSharedResources"] is False
    assert plain(cm, "values")["replicaCount"] == 2  # prod's profile


def test_the_runtime_comes_from_the_platforms_ecr_and_reads_the_platforms_mlflow(prod: Graph) -> None:
    (runtime,) = prod.of_type(RUNTIME)
    (storage,) = prod.of_type(STORAGE)
    assert metadata(runtime)["name"] == names.RUNTIME_NAME
    assert metadata(storage)["name"] == names.STORAGE_CONTAINER_NAME
    container = plain(runtime, "spec")["containers"][0]
    assert container["image"].endswith(f"/{names.IMAGE_REPOSITORY}:{names.IMAGE_TAG}")
    assert ".dkr.ecr.eu-west-1.amazonaws.com/" in container["image"]
    assert plain(runtime, "spec")["supportedModelFormats"][0]["name"] == names.MODEL_FORMAT
    fetch = plain(storage, "spec")["container"]
    env = {e["name"]: e.get("value") for e in fetch["env"]}
    assert env[names.TRACKING_URI_ENV] == "http://mlflow.mlflow.svc.cluster.local:5000"
    assert env[names.ARTIFACTS_DESTINATION_ENV] == "s3://mlops-prod-artifacts-123456789012-eu-west-1/mlflow"
    assert fetch["image"] == container["image"]
    repos = [r.inputs["name"] for r in prod.of_type("aws:ecr/repository:Repository")]
    assert any(name.endswith(names.IMAGE_REPOSITORY) for name in repos)


def test_dev_runs_one_replica_without_a_disruption_budget() -> None:
    g, _ = render_platform("dev")
    values = plain(named(g, RELEASE, "mlops-dev-serving-cert-manager"), "values")
    assert values["replicaCount"] == 1 and values["podDisruptionBudget"] == {"enabled": False}


def test_serving_can_be_switched_off() -> None:
    g, _ = render_platform("dev", servingEnabled="false")
    assert not [r for r in g.resources if r.type == "mlops:serving:Serving"]
    assert not g.of_type(RUNTIME)
    assert {"kserve", "cert-manager"}.isdisjoint(metadata(r)["name"] for r in g.of_type(NAMESPACE))


def test_config_needs_the_runtime_repository_while_serving_is_on() -> None:
    repositories = json.dumps(["mlflow", "training"])
    found = problems({"mlops-platform:registryRepositories": repositories})
    assert [(k, names.IMAGE_REPOSITORY in m) for k, m in found] == [
        ("mlops-platform:registryRepositories", True)
    ]
    assert make(
        {"mlops-platform:registryRepositories": repositories, "mlops-platform:servingEnabled": "false"}
    )
    (key, message), *_ = problems({"mlops-platform:servingReplicas": "4"})
    assert key == "mlops-platform:servingReplicas" and "3" in message


def _component(**overrides: Any) -> None:
    def program() -> None:
        Serving(
            "s",
            ServingArgs(
                **{
                    "cluster_cidrs": ["10.0.0.0/16"],
                    "runtime_image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlserver:1",
                    "tracking_uri": "http://mlflow:5000",
                    "artifacts_destination": "s3://b/mlflow",
                    "region": "eu-west-1",
                    **overrides,
                }
            ),
        )

    run_callable(program, project="p", stack="s")


def test_the_component_refuses_no_cluster_cidrs_and_zero_replicas() -> None:
    with pytest.raises(Exception, match="cluster CIDRs"):
        _component(cluster_cidrs=[])
    with pytest.raises(Exception, match="at least 1"):
        _component(replicas=0)


def test_the_component_alone_renders_with_plain_values() -> None:
    def program() -> None:
        Serving(
            "s",
            ServingArgs(
                cluster_cidrs=["10.0.0.0/16"],
                runtime_image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlserver:1",
                tracking_uri="http://mlflow:5000",
                artifacts_destination="s3://b/mlflow",
                region="eu-west-1",
            ),
        )

    g = run_callable(program, project="p", stack="s")
    assert len(g.of_type(RELEASE)) == 3
    # No Prometheus release given: no PrometheusRule (its CRD would not exist).
    assert not g.of_type(PROMETHEUS_RULE)
