"""The platform dashboard (:func:`platform_dashboard`, one section builder per row) and what Grafana may read
from CloudWatch to draw it (:func:`grafana_cloudwatch_policy`).

Dashboards are built with :class:`~mlops_platform.components.monitoring.observability.Dashboard` (Grafana's JSON model) and
reach Grafana as a labelled ConfigMap (:func:`~mlops_platform.components.monitoring.observability.dashboard_config_map`).
"""

from __future__ import annotations

import json
from typing import Any

from mlops_platform.components.monitoring.args import AlertThresholds, KarpenterThresholds, MonitoringArgs
from mlops_platform.components.monitoring.charts import KARPENTER_JOB
from mlops_platform.components.monitoring.observability import (
    Dashboard,
    cloudwatch_target,
    http_service_panels,
    prom_target,
)

__all__ = ["GRAFANA_CLOUDWATCH_ACTIONS", "grafana_cloudwatch_policy", "platform_dashboard"]

# Read-only CloudWatch access for Grafana's CloudWatch data source (metrics only: Logs Insights
# would let dashboard users read log contents, so it is left out on purpose).
GRAFANA_CLOUDWATCH_ACTIONS = [
    "cloudwatch:DescribeAlarmsForMetric",
    "cloudwatch:DescribeAlarmHistory",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:ListMetrics",
    "cloudwatch:GetMetricData",
    "cloudwatch:GetInsightRuleReport",
    "ec2:DescribeTags",
    "ec2:DescribeInstances",
    "ec2:DescribeRegions",
    "tag:GetResources",
]


def grafana_cloudwatch_policy() -> str:
    """The inline policy of Grafana's role: the read-only actions of :data:`GRAFANA_CLOUDWATCH_ACTIONS`."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadMetrics",
                    "Effect": "Allow",
                    "Action": GRAFANA_CLOUDWATCH_ACTIONS,
                    # These read-only actions support no resource-level permissions.
                    "Resource": "*",
                }
            ],
        }
    )


def _mlflow_section(d: Dashboard, t: AlertThresholds) -> None:
    d.row("MLflow tracking server")
    http_service_panels(
        d,
        requests_metric="mlflow_http_request_total",
        duration_metric="mlflow_http_request_duration_seconds",
        selector='job="mlflow"',
        error_ratio_threshold=t.mlflow_error_percent / 100,
        latency_threshold_seconds=t.mlflow_p95_latency_ms / 1000,
    )


def _node_section(d: Dashboard) -> None:
    d.row("Nodes")
    d.panel(
        "timeseries",
        "CPU utilisation by node",
        [
            prom_target(
                '1 - avg by (instance) (rate(node_cpu_seconds_total{job="node-exporter",mode="idle"}[5m]))',
                "{{instance}}",
            ),
        ],
        unit="percentunit",
        max_value=1,
    )
    d.panel(
        "timeseries",
        "Memory utilisation by node",
        [
            prom_target(
                '1 - node_memory_MemAvailable_bytes{job="node-exporter"} '
                '/ node_memory_MemTotal_bytes{job="node-exporter"}',
                "{{instance}}",
            ),
        ],
        unit="percentunit",
        max_value=1,
    )


def _gpu_section(d: Dashboard) -> None:
    d.row("GPUs")
    d.panel(
        "timeseries",
        "GPU utilisation",
        [
            prom_target("avg by (node, gpu) (DCGM_FI_DEV_GPU_UTIL)", "{{node}} GPU {{gpu}}"),
        ],
        unit="percent",
        max_value=100,
    )
    d.panel(
        "timeseries",
        "GPU memory used",
        [
            prom_target("sum by (node) (DCGM_FI_DEV_FB_USED) * 1024 * 1024", "{{node}}"),
        ],
        unit="bytes",
    )


def _karpenter_section(d: Dashboard, t: KarpenterThresholds) -> None:
    # Metric names: see the Karpenter comment in rules.py (Karpenter's v1.14 metrics reference).
    sel = f'job="{KARPENTER_JOB}"'
    d.row("Karpenter")
    d.panel(
        "timeseries",
        "NodePool usage of its limits",
        [
            prom_target(
                f"100 * max by (nodepool, resource_type) (karpenter_nodepools_usage{{{sel}}}) "
                f"/ max by (nodepool, resource_type) (karpenter_nodepools_limit{{{sel}}})",
                "{{nodepool}} {{resource_type}}",
            ),
        ],
        unit="percent",
        max_value=100,
        thresholds=[(None, "green"), (t.nodepool_limit_percent, "red")],
    )
    d.panel(
        "timeseries",
        "Nodes launched, launch failures and interruption messages (per hour)",
        [
            prom_target(
                f"sum by (nodepool) (increase(karpenter_nodes_created_total{{{sel}}}[1h]))",
                "launched {{nodepool}}",
            ),
            prom_target(
                "sum by (capacity_type, reason) "
                f"(increase(karpenter_cloudprovider_instance_launch_failures_total{{{sel}}}[1h]))",
                "failed {{capacity_type}} {{reason}}",
                ref_id="B",
            ),
            prom_target(
                f"sum by (message_type) (increase(karpenter_interruption_received_messages_total{{{sel}}}[1h]))",
                "interruption {{message_type}}",
                ref_id="C",
            ),
        ],
    )


def _database_section(d: Dashboard, t: AlertThresholds, database_identifier: str) -> None:
    dims = {"DBInstanceIdentifier": database_identifier}
    d.row("Database (CloudWatch)")
    d.panel(
        "timeseries",
        "Database connections",
        [
            cloudwatch_target("AWS/RDS", "DatabaseConnections", dims, "Maximum", label="connections"),
        ],
        width=8,
        thresholds=[(None, "green"), (t.rds_max_connections, "red")],
    )
    d.panel(
        "timeseries",
        "Free storage",
        [
            cloudwatch_target("AWS/RDS", "FreeStorageSpace", dims, "Minimum", label="free"),
        ],
        unit="bytes",
        width=8,
    )
    d.panel(
        "timeseries",
        "CPU utilisation",
        [
            cloudwatch_target("AWS/RDS", "CPUUtilization", dims, "Average", label="cpu"),
        ],
        unit="percent",
        width=8,
        max_value=100,
    )


def platform_dashboard(args: MonitoringArgs, database_identifier: str | None) -> dict[str, Any]:
    """The platform dashboard: MLflow traffic, errors and latency; nodes (and GPUs, and Karpenter's pools
    and launches); the database."""
    d = Dashboard("mlops-platform", "MLOps platform", tags=["mlops", "platform"])
    if args.mlflow is not None:
        _mlflow_section(d, args.thresholds)
    _node_section(d)
    if args.gpu_enabled:
        _gpu_section(d)
    if args.karpenter_enabled:
        _karpenter_section(d, args.karpenter_thresholds)
    if database_identifier is not None:
        _database_section(d, args.thresholds, database_identifier)
    return d.build()
