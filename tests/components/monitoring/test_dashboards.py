"""mlops_platform.components.monitoring.dashboards: the platform dashboard and Grafana's CloudWatch policy."""

from __future__ import annotations

import json

import promql_parser
from monitoring_support import base_args, rendered_dashboard

from mlops_platform.components.monitoring.dashboards import (
    GRAFANA_CLOUDWATCH_ACTIONS,
    grafana_cloudwatch_policy,
    platform_dashboard,
)
from mlops_platform.components.monitoring.observability import validate_dashboard
from mlops_platform.mlops.graph import Graph


def test_platform_dashboard_is_valid_grafana_json(graph: Graph) -> None:
    dashboard = rendered_dashboard(graph)
    assert validate_dashboard(dashboard) == []
    titles = {p["title"] for p in dashboard["panels"]}
    assert {
        "Request rate by status",
        "Server error ratio",
        "Latency",
        "CPU utilisation by node",
        "GPU utilisation",
        "NodePool usage of its limits",
        "Database connections",
        "Free storage",
    } <= titles
    cloudwatch = [
        t for p in dashboard["panels"] for t in p.get("targets", []) if t["datasource"]["uid"] == "cloudwatch"
    ]
    assert {t["metricName"] for t in cloudwatch} >= {"DatabaseConnections", "FreeStorageSpace"}
    assert all(t["dimensions"] == {"DBInstanceIdentifier": "mlops-test-db"} for t in cloudwatch)
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            if target["datasource"]["uid"] == "prometheus":
                promql_parser.parse(target["expr"])


# ---- the pure builders -----------------------------------------------------------------------------------


def _rows(dashboard: dict[str, object]) -> list[str]:
    panels = dashboard["panels"]
    assert isinstance(panels, list)
    return [p["title"] for p in panels if p["type"] == "row"]


def test_rows_follow_the_arguments() -> None:
    full = platform_dashboard(base_args(), "mlops-test-db")
    assert _rows(full) == ["MLflow tracking server", "Nodes", "GPUs", "Karpenter", "Database (CloudWatch)"]
    assert validate_dashboard(full) == []
    bare = platform_dashboard(base_args(mlflow=None, gpu_enabled=False, karpenter_enabled=False), None)
    assert _rows(bare) == ["Nodes"]
    assert [p["title"] for p in bare["panels"]] == [
        "Nodes",
        "CPU utilisation by node",
        "Memory utilisation by node",
    ]
    assert validate_dashboard(bare) == []


def test_database_connections_turn_red_at_the_alarm_threshold() -> None:
    dashboard = platform_dashboard(base_args(), "mlops-test-db")
    (panel,) = [p for p in dashboard["panels"] if p["title"] == "Database connections"]
    assert panel["fieldConfig"]["defaults"]["thresholds"]["steps"] == [
        {"value": None, "color": "green"},
        {"value": 1000, "color": "red"},
    ]


def test_grafana_reads_cloudwatch_metrics_and_nothing_else() -> None:
    (statement,) = json.loads(grafana_cloudwatch_policy())["Statement"]
    assert statement == {
        "Sid": "ReadMetrics",
        "Effect": "Allow",
        "Action": GRAFANA_CLOUDWATCH_ACTIONS,
        "Resource": "*",
    }
    assert not [a for a in GRAFANA_CLOUDWATCH_ACTIONS if a.startswith("logs:")]  # no log contents
    assert all(a.split(":")[1].startswith(("Describe", "List", "Get")) for a in GRAFANA_CLOUDWATCH_ACTIONS)


def test_karpenter_row_reads_its_pools_launches_and_queue() -> None:
    dashboard = platform_dashboard(base_args(), None)
    (usage,) = [p for p in dashboard["panels"] if p["title"] == "NodePool usage of its limits"]
    assert usage["fieldConfig"]["defaults"]["thresholds"]["steps"][-1] == {"value": 90, "color": "red"}
    (usage_target,) = usage["targets"]
    assert (
        "karpenter_nodepools_usage" in usage_target["expr"]
        and "karpenter_nodepools_limit" in usage_target["expr"]
    )
    exprs = [
        t["expr"] for p in dashboard["panels"] for t in p.get("targets", []) if "karpenter_" in t["expr"]
    ]
    assert len(exprs) == 4
    for expr in exprs:
        promql_parser.parse(expr)
        assert 'job="karpenter"' in expr
    assert not [
        p
        for p in platform_dashboard(base_args(karpenter_enabled=False), None)["panels"]
        if "karpenter" in json.dumps(p)
    ]
