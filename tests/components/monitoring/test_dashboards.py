"""components.monitoring.dashboards: the platform dashboard and Grafana's CloudWatch policy."""

from __future__ import annotations

import promql_parser
from monitoring_support import rendered_dashboard

from components.monitoring.observability import validate_dashboard
from mlops.graph import Graph


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
