"""ModelMonitoring as a model team uses it from its own serving stack: scrape config, alert rules with
the team's thresholds, and a valid Grafana dashboard - all in the model's namespace."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import promql_parser
import pulumi
import pulumi_kubernetes as k8s
import pytest

from mlops_platform.components.monitoring.model_monitoring import ModelMonitoring, ModelMonitoringArgs
from mlops_platform.components.monitoring.observability import validate_dashboard
from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.graph import Graph, reveal

REPO = Path(__file__).resolve().parents[3]


def render(args: ModelMonitoringArgs) -> Graph:
    def program() -> None:
        # What a serving stack does: its own namespace and Service, then monitoring for the model.
        provider = k8s.Provider("k8s", kubeconfig="{}")
        opts = pulumi.ResourceOptions(provider=provider)
        ns = k8s.core.v1.Namespace(
            "fraud", metadata=k8s.meta.v1.ObjectMetaArgs(name="fraud-scoring"), opts=opts
        )
        k8s.core.v1.Service(
            "fraud-detector",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="fraud-detector", namespace=ns.metadata.name, labels={"app": "fraud-detector"}
            ),
            spec=k8s.core.v1.ServiceSpecArgs(
                selector={"app": "fraud-detector"},
                ports=[k8s.core.v1.ServicePortArgs(name="http", port=8080)],
            ),
            opts=opts,
        )
        mm = ModelMonitoring(
            "fraud-detector",
            dataclasses.replace(args, namespace=ns.metadata.name),
            opts=pulumi.ResourceOptions(providers={"kubernetes": provider}),
        )
        pulumi.export("dashboardUid", mm.dashboard_uid)

    return run_callable(program, root=REPO)


def _base() -> dict[str, Any]:
    return {
        "model_name": "fraud-detector",
        "namespace": "fraud-scoring",
        "selector": {"app": "fraud-detector"},
    }


@pytest.fixture(scope="module")
def graph() -> Graph:
    return render(
        ModelMonitoringArgs(
            model_name="fraud-detector",
            namespace="fraud-scoring",
            selector={"app": "fraud-detector"},
            latency_p95_seconds=0.25,
            error_rate_percent=2,
            drift_score_threshold=0.3,
            team="risk-ml",
        )
    )


def inputs(graph: Graph, typ: str) -> dict[str, Any]:
    return reveal(graph.one(typ).inputs)


def rules(graph: Graph) -> dict[str, dict[str, Any]]:
    spec = inputs(graph, "kubernetes:monitoring.coreos.com/v1:PrometheusRule")["spec"]
    return {rule["alert"]: rule for group in spec["groups"] for rule in group["rules"]}


def test_service_monitor_scrapes_the_models_service(graph: Graph) -> None:
    sm = inputs(graph, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
    assert sm["metadata"] == {
        "name": "model-fraud-detector",
        "namespace": "fraud-scoring",
        "labels": {"app.kubernetes.io/part-of": "mlops-models", "mlops.model": "fraud-detector"},
    }
    assert sm["spec"]["selector"] == {"matchLabels": {"app": "fraud-detector"}}
    (endpoint,) = sm["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"], endpoint["interval"]) == ("http", "/metrics", "30s")
    relabel = {r["targetLabel"]: r["replacement"] for r in endpoint["relabelings"]}
    assert relabel == {"job": "model-fraud-detector", "model": "fraud-detector"}


def test_rules_render_the_teams_thresholds(graph: Graph) -> None:
    r = rules(graph)
    assert set(r) == {
        "ModelDown",
        "ModelHighErrorRate",
        "ModelHighLatency",
        "ModelDriftHigh",
        "ModelDriftScoreMissing",
    }
    sel = 'namespace="fraud-scoring",model="fraud-detector"'
    assert r["ModelHighLatency"]["expr"] == (
        f"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{{sel}}}[5m]))) > 0.25"
    )
    assert r["ModelHighErrorRate"]["expr"].endswith("> 2")
    assert f'http_requests_total{{{sel},status=~"5.."}}' in r["ModelHighErrorRate"]["expr"]
    assert r["ModelDriftHigh"]["expr"] == f"max(model_drift_score{{{sel}}}) > 0.3"
    for name, rule in r.items():
        promql_parser.parse(rule["expr"])
        assert rule["labels"]["model"] == "fraud-detector", name
        assert rule["labels"]["team"] == "risk-ml", name
    assert r["ModelHighErrorRate"]["labels"]["severity"] == "critical"
    assert r["ModelDriftHigh"]["labels"]["severity"] == "warning"


def test_dashboard_is_valid_and_in_the_models_folder(graph: Graph) -> None:
    cm = inputs(graph, "kubernetes:core/v1:ConfigMap")
    assert cm["metadata"]["namespace"] == "fraud-scoring"
    assert cm["metadata"]["labels"] == {"grafana_dashboard": "1"}
    assert cm["metadata"]["annotations"] == {"grafana_folder": "Models"}
    dashboard = json.loads(cm["data"]["model-fraud-detector-dashboard.json"])
    assert validate_dashboard(dashboard) == []
    assert dashboard["uid"] == graph.outputs["dashboardUid"] == "model-fraud-detector"
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for expr in exprs:
        promql_parser.parse(expr)
    assert any("model_drift_score" in e for e in exprs)
    drift = next(p for p in dashboard["panels"] if p["title"] == "Drift score")
    assert drift["fieldConfig"]["defaults"]["thresholds"]["steps"][-1] == {"value": 0.3, "color": "red"}


def test_all_children_parented_in_the_models_namespace(graph: Graph) -> None:
    component = graph.one("mlops:monitoring:ModelMonitoring")
    children = graph.children(component.urn)
    assert {c.type for c in children} == {
        "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
        "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
        "kubernetes:core/v1:ConfigMap",
    }
    for child in children:
        assert reveal(child.inputs)["metadata"]["namespace"] == "fraud-scoring"
        assert child.name.startswith("fraud-detector-")


def test_defaults() -> None:
    graph = render(ModelMonitoringArgs(**_base()))
    r = rules(graph)
    assert r["ModelHighLatency"]["expr"].endswith("> 0.5")
    assert r["ModelHighErrorRate"]["expr"].endswith("> 1")
    assert r["ModelDriftHigh"]["expr"].endswith("> 0.2")
    assert "team" not in r["ModelDown"]["labels"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"selector": {}}, "selector"),
        ({"model_name": "Fraud_Detector"}, "model name"),
        ({"drift_score_threshold": 1.5}, "drift"),
        ({"error_rate_percent": 0}, "error_rate"),
        ({"latency_p95_seconds": -1}, "latency"),
        ({"metrics_path": "metrics"}, "path"),
    ],
)
def test_bad_arguments_are_rejected(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render(ModelMonitoringArgs(**{**_base(), **overrides}))
