"""ModelMonitoring: what a model team adds next to one deployed model, from its own serving stack.

It creates, in the model's namespace, a ServiceMonitor for the model's Service, PrometheusRules for
latency, errors, availability and drift, and a Grafana dashboard (a ConfigMap the platform's Grafana
sidecar loads into the "Models" folder). The platform's Prometheus picks up ServiceMonitors and rules
from every namespace and Alertmanager sends the alerts to the platform's SNS topic.

The metrics contract - what the serving app must export on its metrics endpoint:

``http_requests_total`` (counter)
    Requests served, with a ``status`` label holding the HTTP status code (``"200"``, ``"503"``).
``http_request_duration_seconds`` (histogram: ``_bucket``, ``_sum``, ``_count``)
    Request latency in seconds; buckets should bracket the latency threshold.
``model_drift_score`` (gauge)
    The app's current drift score for the model, 0 (no drift) to 1, e.g. a population-stability or
    distance measure over a recent window of inputs.

The app does not label series with the model: the ServiceMonitor adds ``model="<model_name>"`` and
``job="model-<model_name>"`` to everything it scrapes, so alerts and panels select
``{namespace="<namespace>", model="<model_name>"}``. (A ``model`` label exported by the app itself
would be renamed ``exported_model``.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from mlops_platform.components.monitoring.observability import (
    Dashboard,
    alert_rule,
    check_k8s_name,
    dashboard_config_map,
    http_service_panels,
    prom_target,
    prometheus_rule,
    service_monitor,
    to_json,
)

MODEL_DASHBOARD_FOLDER = "Models"


@dataclass(frozen=True)
class ModelMonitoringArgs:
    """Arguments of :class:`ModelMonitoring`. The Kubernetes provider comes from the caller's opts.

    Attributes:
        model_name: The model's name (a Kubernetes name); becomes the ``model`` label of its series.
        namespace: Namespace of the model's serving Service (must exist).
        selector: Labels selecting the model's Service (non-empty).
        port: Name of the Service port serving metrics.
        metrics_path: Path of the metrics endpoint.
        latency_p95_seconds: Alert when the 95th-percentile request latency exceeds this (10 minutes).
        error_rate_percent: Alert when this percentage of requests fail with 5xx (10 minutes).
        drift_score_threshold: Alert when ``model_drift_score`` stays above this (30 minutes).
        scrape_interval: How often Prometheus scrapes the model.
        team: Optional ``team`` label on the alerts (for routing with an AlertmanagerConfig).
        runbook_url: Optional runbook linked from every alert.
    """

    model_name: str
    namespace: pulumi.Input[str]
    selector: Mapping[str, str] = field(default_factory=dict)
    port: str = "http"
    metrics_path: str = "/metrics"
    latency_p95_seconds: float = 0.5
    error_rate_percent: float = 1.0
    drift_score_threshold: float = 0.2
    scrape_interval: str = "30s"
    team: str | None = None
    runbook_url: str | None = None


def _validate(args: ModelMonitoringArgs) -> None:
    check_k8s_name(args.model_name, "model name")
    if not args.selector:
        raise ValueError("ModelMonitoring needs the labels of the model's Service (selector)")
    if not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", args.port) or len(args.port) > 15:
        raise ValueError(f"port {args.port!r} must be a Service port name")
    if args.latency_p95_seconds <= 0:
        raise ValueError("latency_p95_seconds must be positive")
    if not 0 < args.error_rate_percent <= 100:
        raise ValueError("error_rate_percent must be in (0, 100]")
    if not 0 < args.drift_score_threshold <= 1:
        raise ValueError("drift_score_threshold must be in (0, 1] (model_drift_score is 0 to 1)")


def model_rules(args: ModelMonitoringArgs, namespace: str) -> list[dict[str, Any]]:
    """The model's alerting rules (one group)."""
    sel = f'namespace="{namespace}",model="{args.model_name}"'
    labels = {"model": args.model_name, **({"team": args.team} if args.team else {})}
    common: dict[str, Any] = {"labels": labels, "runbook_url": args.runbook_url}
    name = args.model_name
    return [
        {
            "name": f"model-{name}",
            "rules": [
                alert_rule(
                    "ModelDown",
                    f"absent(up{{{sel}}} == 1)",
                    duration="5m",
                    severity="critical",
                    summary=f"Model {name} is down or cannot be scraped",
                    description=f"No replica of {name} in {namespace} has answered a metrics scrape for 5 minutes.",
                    **common,
                ),
                alert_rule(
                    "ModelHighErrorRate",
                    f'100 * sum(rate(http_requests_total{{{sel},status=~"5.."}}[5m])) '
                    f"/ sum(rate(http_requests_total{{{sel}}}[5m])) > {args.error_rate_percent:g}",
                    duration="10m",
                    severity="critical",
                    summary=f"Model {name} is failing requests",
                    description=f"More than {args.error_rate_percent:g} % of requests to {name} failed with 5xx "
                    'for 10 minutes (value: {{ $value | printf "%.2f" }} %).',
                    **common,
                ),
                alert_rule(
                    "ModelHighLatency",
                    "histogram_quantile(0.95, sum by (le) "
                    f"(rate(http_request_duration_seconds_bucket{{{sel}}}[5m]))) > {args.latency_p95_seconds:g}",
                    duration="10m",
                    severity="warning",
                    summary=f"Model {name} is slow",
                    description=f"The 95th-percentile latency of {name} has exceeded {args.latency_p95_seconds:g} s "
                    "for 10 minutes (value: {{ $value | humanizeDuration }}).",
                    **common,
                ),
                alert_rule(
                    "ModelDriftHigh",
                    f"max(model_drift_score{{{sel}}}) > {args.drift_score_threshold:g}",
                    duration="30m",
                    severity="warning",
                    summary=f"Model {name} is drifting",
                    description=f"model_drift_score of {name} has been above {args.drift_score_threshold:g} "
                    'for 30 minutes (value: {{ $value | printf "%.3f" }}): check the input distribution '
                    "and consider retraining.",
                    **common,
                ),
                alert_rule(
                    "ModelDriftScoreMissing",
                    f"absent(model_drift_score{{{sel}}}) and on() (sum(up{{{sel}}}) > 0)",
                    duration="1h",
                    severity="warning",
                    summary=f"Model {name} exports no drift score",
                    description=f"{name} is up but does not export model_drift_score, so drift goes unnoticed "
                    "(see the metrics contract in docs/monitoring.md).",
                    **common,
                ),
            ],
        }
    ]


def model_dashboard(args: ModelMonitoringArgs, namespace: str) -> dict[str, Any]:
    """The model's dashboard: traffic, errors, latency, drift and availability."""
    sel = f'namespace="{namespace}",model="{args.model_name}"'
    uid = f"model-{args.model_name}"[:40]
    d = Dashboard(uid, f"Model: {args.model_name} ({namespace})", tags=["mlops", "model", args.model_name])
    d.row("Traffic")
    http_service_panels(
        d,
        requests_metric="http_requests_total",
        duration_metric="http_request_duration_seconds",
        selector=sel,
        error_ratio_threshold=args.error_rate_percent / 100,
        latency_threshold_seconds=args.latency_p95_seconds,
    )
    d.row("Model health")
    d.panel(
        "timeseries",
        "Drift score",
        [
            prom_target(f"max(model_drift_score{{{sel}}})", "drift"),
        ],
        unit="none",
        width=16,
        max_value=1,
        thresholds=[(None, "green"), (args.drift_score_threshold, "red")],
    )
    d.panel(
        "stat",
        "Replicas up",
        [
            prom_target(f"sum(up{{{sel}}})", "up"),
        ],
        unit="short",
        width=8,
        thresholds=[(None, "red"), (1, "green")],
    )
    return d.build()


class ModelMonitoring(pulumi.ComponentResource):
    """Monitoring for one deployed model: ServiceMonitor, alerting rules and a Grafana dashboard.

    Outputs: ``service_monitor_name``, ``rule_name``, ``dashboard_name``, ``dashboard_uid``.
    """

    def __init__(
        self, name: str, args: ModelMonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:monitoring:ModelMonitoring", name, None, opts)
        _validate(args)
        child = pulumi.ResourceOptions(parent=self)
        namespace = pulumi.Output.from_input(args.namespace)
        model = args.model_name

        self.service_monitor = service_monitor(
            f"{name}-service-monitor",
            name=f"model-{model}",
            namespace=namespace,
            selector=args.selector,
            port=args.port,
            path=args.metrics_path,
            job=f"model-{model}",
            extra_labels={"model": model},
            interval=args.scrape_interval,
            labels={"app.kubernetes.io/part-of": "mlops-models", "mlops.model": model},
            opts=child,
        )
        self.rules = prometheus_rule(
            f"{name}-rules",
            name=f"model-{model}",
            namespace=namespace,
            groups=namespace.apply(lambda ns: model_rules(args, ns)),
            labels={"app.kubernetes.io/part-of": "mlops-models", "mlops.model": model},
            opts=child,
        )
        self.dashboard = dashboard_config_map(
            f"{name}-dashboard",
            name=f"model-{model}-dashboard",
            namespace=namespace,
            folder=MODEL_DASHBOARD_FOLDER,
            dashboard=namespace.apply(lambda ns: to_json(model_dashboard(args, ns))),
            opts=child,
        )
        self.service_monitor_name = pulumi.Output.from_input(f"model-{model}")
        self.rule_name = pulumi.Output.from_input(f"model-{model}")
        self.dashboard_name = pulumi.Output.from_input(f"model-{model}-dashboard")
        self.dashboard_uid = pulumi.Output.from_input(f"model-{model}"[:40])
        self.register_outputs(
            {
                "service_monitor_name": self.service_monitor_name,
                "rule_name": self.rule_name,
                "dashboard_name": self.dashboard_name,
                "dashboard_uid": self.dashboard_uid,
            }
        )
