"""Building blocks shared by the monitoring components: Prometheus Operator objects (ServiceMonitor,
PrometheusRule), alerting-rule dictionaries, and Grafana dashboards built in Python.

Dashboards are plain dictionaries in Grafana's dashboard JSON model (schemaVersion 39), built by
:class:`Dashboard` and checked by :func:`validate_dashboard` before they are shipped, so a typo in a
panel shows up when the program runs, not as an empty panel in Grafana. They reach Grafana through
the dashboard sidecar of kube-prometheus-stack, which loads every ConfigMap labelled
:data:`DASHBOARD_LABEL` (in any namespace) into the folder named by its :data:`FOLDER_ANNOTATION`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

MONITORING_API = "monitoring.coreos.com/v1"
"""The Prometheus Operator API group/version of ServiceMonitor and PrometheusRule."""

DASHBOARD_LABEL = ("grafana_dashboard", "1")
"""The label (key, value) Grafana's dashboard sidecar watches for."""

FOLDER_ANNOTATION = "grafana_folder"
"""The annotation naming the Grafana folder a dashboard ConfigMap lands in."""

PROMETHEUS_DATASOURCE: dict[str, str] = {"type": "prometheus", "uid": "prometheus"}
"""The Prometheus data source kube-prometheus-stack provisions (its uid is pinned in the Helm values)."""

CLOUDWATCH_DATASOURCE: dict[str, str] = {"type": "cloudwatch", "uid": "cloudwatch"}
"""The CloudWatch data source the Monitoring component provisions (workload-identity credentials)."""

SEVERITIES = ("critical", "warning", "info")
_DURATION = re.compile(r"^\d+(ms|s|m|h|d)$")
_RESOURCE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def check_k8s_name(value: str, what: str) -> str:
    """Raise a clear error unless ``value`` is a valid Kubernetes (DNS-1123 label) name."""
    if not _RESOURCE_NAME.match(value) or len(value) > 63:
        raise ValueError(f"{what} {value!r} is not a valid Kubernetes name (lowercase letters, digits, '-')")
    return value


# --------------------------------------------------------------------------------------------------
# Alerting rules
# --------------------------------------------------------------------------------------------------


def alert_rule(
    alert: str,
    expr: str,
    *,
    duration: str,
    severity: str,
    summary: str,
    description: str,
    labels: Mapping[str, str] | None = None,
    runbook_url: str | None = None,
) -> dict[str, Any]:
    """One Prometheus alerting rule, validated (name, severity, ``for`` duration)."""
    if not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", alert):
        raise ValueError(f"alert name {alert!r} must be an identifier (letters, digits, _)")
    if severity not in SEVERITIES:
        raise ValueError(f"severity {severity!r} must be one of {list(SEVERITIES)}")
    if not _DURATION.match(duration):
        raise ValueError(f"duration {duration!r} must look like 5m, 1h or 30s")
    annotations = {"summary": summary, "description": description}
    if runbook_url:
        annotations["runbook_url"] = runbook_url
    return {
        "alert": alert,
        "expr": expr.strip(),
        "for": duration,
        "labels": {"severity": severity, **(labels or {})},
        "annotations": annotations,
    }


def prometheus_rule(
    resource_name: str,
    *,
    name: str,
    namespace: pulumi.Input[str],
    groups: Sequence[Mapping[str, Any]] | pulumi.Output[list[dict[str, Any]]],
    labels: Mapping[str, str] | None = None,
    opts: pulumi.ResourceOptions,
) -> k8s.apiextensions.CustomResource:
    """A PrometheusRule; kube-prometheus-stack (as configured here) loads rules from every namespace.
    ``groups`` may be an Output when a rule depends on a value known only at deployment."""

    def spec(value: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        if not value or any(not g.get("rules") for g in value):
            raise ValueError(f"PrometheusRule {name}: every group needs at least one rule")
        return {"groups": [dict(g) for g in value]}

    return k8s.apiextensions.CustomResource(
        resource_name,
        api_version=MONITORING_API,
        kind="PrometheusRule",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=dict(labels or {})),
        spec=groups.apply(spec) if isinstance(groups, pulumi.Output) else spec(groups),
        opts=opts,
    )


def service_monitor(
    resource_name: str,
    *,
    name: str,
    namespace: pulumi.Input[str],
    selector: Mapping[str, str],
    port: str,
    path: str,
    job: str,
    extra_labels: Mapping[str, str] | None = None,
    basic_auth_secret: tuple[str, str, str] | None = None,
    interval: str = "30s",
    scrape_timeout: str = "10s",
    labels: Mapping[str, str] | None = None,
    opts: pulumi.ResourceOptions,
) -> k8s.apiextensions.CustomResource:
    """A ServiceMonitor scraping the Services matching ``selector`` in its own namespace.

    Every scraped series gets ``job=<job>`` (and ``extra_labels``) through relabelling, so rules and
    dashboards do not depend on the Service's name. ``basic_auth_secret`` is ``(secret name,
    username key, password key)`` of a Secret in the same namespace; the operator reads it, the
    credentials never pass through Pulumi.
    """
    if not selector:
        raise ValueError(f"ServiceMonitor {name}: an empty selector would scrape every Service")
    if not path.startswith("/"):
        raise ValueError(f"ServiceMonitor {name}: metrics path {path!r} must start with '/'")
    for value in (interval, scrape_timeout):
        if not _DURATION.match(value):
            raise ValueError(f"ServiceMonitor {name}: {value!r} is not a duration such as 30s")
    relabelings = [{"action": "replace", "targetLabel": "job", "replacement": job}]
    relabelings += [
        {"action": "replace", "targetLabel": key, "replacement": value}
        for key, value in sorted((extra_labels or {}).items())
    ]
    endpoint: dict[str, Any] = {
        "port": port,
        "path": path,
        "scheme": "http",
        "interval": interval,
        "scrapeTimeout": scrape_timeout,
        "honorLabels": False,
        "relabelings": relabelings,
    }
    if basic_auth_secret is not None:
        secret, user_key, password_key = basic_auth_secret
        endpoint["basicAuth"] = {
            "username": {"name": secret, "key": user_key},
            "password": {"name": secret, "key": password_key},
        }
    return k8s.apiextensions.CustomResource(
        resource_name,
        api_version=MONITORING_API,
        kind="ServiceMonitor",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=dict(labels or {})),
        spec={
            "selector": {"matchLabels": dict(selector)},
            "endpoints": [endpoint],
        },
        opts=opts,
    )


# --------------------------------------------------------------------------------------------------
# Grafana dashboards
# --------------------------------------------------------------------------------------------------

_PANEL_TYPES = {"timeseries", "stat", "gauge", "row"}
_UNITS = {"short", "percent", "percentunit", "s", "ms", "bytes", "decbytes", "reqps", "none"}


def prom_target(expr: str, legend: str = "", ref_id: str = "A") -> dict[str, Any]:
    """A Prometheus query of a panel."""
    return {
        "refId": ref_id,
        "datasource": dict(PROMETHEUS_DATASOURCE),
        "expr": expr.strip(),
        "legendFormat": legend,
        "range": True,
    }


def cloudwatch_target(
    namespace: str,
    metric: str,
    dimensions: Mapping[str, str],
    statistic: str,
    ref_id: str = "A",
    label: str = "",
) -> dict[str, Any]:
    """A CloudWatch metric query of a panel (the data source's default region)."""
    return {
        "refId": ref_id,
        "datasource": dict(CLOUDWATCH_DATASOURCE),
        "queryMode": "Metrics",
        "metricQueryType": 0,
        "metricEditorMode": 0,
        "namespace": namespace,
        "metricName": metric,
        "dimensions": {k: v for k, v in dimensions.items()},
        "statistic": statistic,
        "region": "default",
        "period": "",
        "matchExact": True,
        "id": "",
        "expression": "",
        "label": label,
    }


class Dashboard:
    """Builds one Grafana dashboard; panels flow left to right on the 24-column grid."""

    def __init__(self, uid: str, title: str, *, tags: Sequence[str] = (), refresh: str = "1m") -> None:
        if not re.match(r"^[A-Za-z0-9_-]{1,40}$", uid):
            raise ValueError(f"dashboard uid {uid!r} must be 1-40 letters, digits, '-' or '_'")
        self.uid = uid
        self.title = title
        self.tags = list(tags)
        self.refresh = refresh
        self.panels: list[dict[str, Any]] = []
        self._x = 0
        self._y = 0
        self._row_height = 0

    def _place(self, width: int, height: int) -> dict[str, int]:
        if self._x + width > 24:
            self._x = 0
            self._y += self._row_height
            self._row_height = 0
        pos = {"x": self._x, "y": self._y, "w": width, "h": height}
        self._x += width
        self._row_height = max(self._row_height, height)
        return pos

    def row(self, title: str) -> Dashboard:
        if self._x:
            self._y += self._row_height
        self._x, self._row_height = 0, 0
        self.panels.append(
            {
                "id": len(self.panels) + 1,
                "type": "row",
                "title": title,
                "collapsed": False,
                "panels": [],
                "gridPos": {"x": 0, "y": self._y, "w": 24, "h": 1},
            }
        )
        self._y += 1
        return self

    def panel(
        self,
        kind: str,
        title: str,
        targets: Sequence[Mapping[str, Any]],
        *,
        unit: str = "short",
        width: int = 12,
        height: int = 8,
        description: str = "",
        thresholds: Sequence[tuple[float | None, str]] = ((None, "green"),),
        max_value: float | None = None,
    ) -> Dashboard:
        """Add a ``timeseries``, ``stat`` or ``gauge`` panel; ``thresholds`` are (value, colour) steps."""
        datasource = dict(targets[0]["datasource"]) if targets else dict(PROMETHEUS_DATASOURCE)
        defaults: dict[str, Any] = {
            "unit": unit,
            "thresholds": {
                "mode": "absolute",
                "steps": [{"value": value, "color": colour} for value, colour in thresholds],
            },
        }
        if max_value is not None:
            defaults["max"] = max_value
        self.panels.append(
            {
                "id": len(self.panels) + 1,
                "type": kind,
                "title": title,
                "description": description,
                "datasource": datasource,
                "gridPos": self._place(width, height),
                "targets": [dict(t) for t in targets],
                "fieldConfig": {"defaults": defaults, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}}
                if kind == "timeseries"
                else {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
            }
        )
        return self

    def build(self) -> dict[str, Any]:
        """The dashboard JSON model; raises ``ValueError`` if it is not valid."""
        model = {
            "uid": self.uid,
            "title": self.title,
            "tags": self.tags,
            "timezone": "utc",
            "editable": False,
            "graphTooltip": 1,
            "schemaVersion": 39,
            "version": 1,
            "refresh": self.refresh,
            "time": {"from": "now-6h", "to": "now"},
            "timepicker": {},
            "templating": {"list": []},
            "annotations": {"list": []},
            "links": [],
            "panels": self.panels,
        }
        problems = validate_dashboard(model)
        if problems:
            raise ValueError(f"dashboard {self.uid}: " + "; ".join(problems))
        return model


def http_service_panels(
    d: Dashboard,
    *,
    requests_metric: str,
    duration_metric: str,
    selector: str,
    error_ratio_threshold: float,
    latency_threshold_seconds: float,
) -> None:
    """The three panels of an HTTP service: request rate by status, 5xx ratio, p50/p95/p99 latency.

    ``requests_metric`` is a counter with a ``status`` label, ``duration_metric`` a histogram (without
    ``_bucket``); ``selector`` the label matchers both are filtered by (``job="mlflow"``)."""
    total = f"sum(rate({requests_metric}{{{selector}}}[5m]))"
    d.panel(
        "timeseries",
        "Request rate by status",
        [prom_target(f"sum by (status) (rate({requests_metric}{{{selector}}}[5m]))", "{{status}}")],
        unit="reqps",
        width=8,
    )
    d.panel(
        "timeseries",
        "Server error ratio",
        [
            prom_target(
                f'sum(rate({requests_metric}{{{selector},status=~"5.."}}[5m])) / {total}',
                "5xx ratio",
            ),
        ],
        unit="percentunit",
        width=8,
        thresholds=[(None, "green"), (error_ratio_threshold, "red")],
    )
    d.panel(
        "timeseries",
        "Latency",
        [
            prom_target(
                f"histogram_quantile({q}, sum by (le) (rate({duration_metric}_bucket{{{selector}}}[5m])))",
                f"p{int(q * 100)}",
                ref,
            )
            for q, ref in ((0.5, "A"), (0.95, "B"), (0.99, "C"))
        ],
        unit="s",
        width=8,
        thresholds=[(None, "green"), (latency_threshold_seconds, "red")],
    )


def validate_dashboard(model: Mapping[str, Any]) -> list[str]:
    """Structural checks of a dashboard JSON model; returns the problems found (empty when valid)."""
    problems: list[str] = []
    for key in ("uid", "title", "schemaVersion", "panels"):
        if key not in model:
            problems.append(f"missing {key!r}")
    if problems:
        return problems
    if not isinstance(model["schemaVersion"], int) or model["schemaVersion"] < 36:
        problems.append("schemaVersion must be an integer >= 36")
    seen_ids: set[int] = set()
    known_uids = {PROMETHEUS_DATASOURCE["uid"], CLOUDWATCH_DATASOURCE["uid"]}
    for panel in model["panels"]:
        pid = panel.get("id")
        where = f"panel {pid} ({panel.get('title', '?')})"
        if not isinstance(pid, int) or pid in seen_ids:
            problems.append(f"{where}: id must be a unique integer")
        seen_ids.add(pid if isinstance(pid, int) else -1)
        if panel.get("type") not in _PANEL_TYPES:
            problems.append(f"{where}: unknown panel type {panel.get('type')!r}")
        pos = panel.get("gridPos") or {}
        if not all(isinstance(pos.get(k), int) for k in ("x", "y", "w", "h")):
            problems.append(f"{where}: gridPos needs integer x, y, w, h")
        elif pos["x"] < 0 or pos["w"] < 1 or pos["x"] + pos["w"] > 24:
            problems.append(f"{where}: gridPos is outside the 24-column grid")
        if panel.get("type") == "row":
            continue
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
        if unit not in _UNITS:
            problems.append(f"{where}: unit {unit!r} is not one this module uses")
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"{where}: no queries")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs) or not all(refs):
            problems.append(f"{where}: refIds must be present and unique")
        for target in targets:
            uid = (target.get("datasource") or {}).get("uid")
            if uid not in known_uids:
                problems.append(f"{where}: unknown data source uid {uid!r}")
            if uid == PROMETHEUS_DATASOURCE["uid"] and not str(target.get("expr", "")).strip():
                problems.append(f"{where}: empty PromQL expression")
            if uid == CLOUDWATCH_DATASOURCE["uid"] and not (
                target.get("namespace") and target.get("metricName")
            ):
                problems.append(f"{where}: CloudWatch query needs namespace and metricName")
    return problems


def dashboard_config_map(
    resource_name: str,
    *,
    name: str,
    namespace: pulumi.Input[str],
    folder: str,
    dashboard: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.ConfigMap:
    """A ConfigMap holding one dashboard (JSON text), labelled for Grafana's dashboard sidecar."""
    return k8s.core.v1.ConfigMap(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=name,
            namespace=namespace,
            labels={DASHBOARD_LABEL[0]: DASHBOARD_LABEL[1]},
            annotations={FOLDER_ANNOTATION: folder},
        ),
        data={f"{name}.json": dashboard},
        opts=opts,
    )


def to_json(model: Mapping[str, Any]) -> str:
    """Serialise a dashboard deterministically (stable diffs in Pulumi previews)."""
    return json.dumps(model, indent=1, sort_keys=True)
