"""What Monitoring installs: the pinned charts, their release names, and the names and ports they run under.

One home for the constants the values, the NetworkPolicies, the rules and the component all share.
"""

from __future__ import annotations

from mlops_platform.components.cluster.node_groups import GPU_NODE_LABEL

__all__ = [
    "ALERTMANAGER_SERVICE_ACCOUNT",
    "DCGM_EXPORTER_CHART",
    "DCGM_EXPORTER_PORT",
    "DCGM_EXPORTER_RELEASE",
    "DCGM_EXPORTER_REPOSITORY",
    "DCGM_EXPORTER_VERSION",
    "GPU_NODE_LABEL",
    "GRAFANA_ADMIN_SECRET",
    "GRAFANA_SERVICE_ACCOUNT",
    "KARPENTER_JOB",
    "KARPENTER_METRICS_PORT",
    "KARPENTER_SERVICE_LABELS",
    "KUBE_PROMETHEUS_STACK_CHART",
    "KUBE_PROMETHEUS_STACK_REPOSITORY",
    "KUBE_PROMETHEUS_STACK_VERSION",
    "PLATFORM_DASHBOARD_FOLDER",
    "RELEASE_NAME",
]

KUBE_PROMETHEUS_STACK_CHART = "kube-prometheus-stack"
KUBE_PROMETHEUS_STACK_VERSION = "88.5.3"
"""Pinned chart version (prometheus-community, tag ``kube-prometheus-stack-88.5.3``, August 2026: Prometheus
Operator v0.93.1, Grafana chart 12.11.1, kube-state-metrics 8.4.0, node-exporter 4.56.1), the newest
version CI renders offline. Moving across a major version needs the chart's CRDs applied first (Helm
never upgrades, nor downgrades, CRDs): see docs/monitoring.md."""
KUBE_PROMETHEUS_STACK_REPOSITORY = "https://prometheus-community.github.io/helm-charts"

DCGM_EXPORTER_CHART = "dcgm-exporter"
DCGM_EXPORTER_VERSION = "4.8.2"
"""NVIDIA's DCGM exporter chart (github.com/NVIDIA/dcgm-exporter, tag ``4.5.3-4.8.2``: DCGM 4.5.3,
exporter 4.8.2, image ``nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless``)."""
DCGM_EXPORTER_REPOSITORY = "https://nvidia.github.io/dcgm-exporter/helm-charts"
DCGM_EXPORTER_RELEASE = "dcgm-exporter"
DCGM_EXPORTER_PORT = 9400

KARPENTER_JOB = "karpenter"
"""The ``job`` label of Karpenter's series, which the Karpenter rules and dashboard row select. Karpenter is not
installed by Monitoring, but scraped by it: with ``karpenter_namespace`` Monitoring creates the ServiceMonitor
``karpenter`` there (the chart's own is off: it would need the CRD before kube-prometheus-stack brings it),
selecting the controller's Service (``app.kubernetes.io/name`` and ``app.kubernetes.io/instance``
``karpenter``, port ``http-metrics``, 8080) and relabelling every series to ``job="karpenter"``."""
KARPENTER_SERVICE_LABELS = {"app.kubernetes.io/name": "karpenter", "app.kubernetes.io/instance": "karpenter"}
"""The labels of the ``karpenter`` chart's Service for a release ``karpenter`` (its selector labels)."""
KARPENTER_METRICS_PORT = "http-metrics"

RELEASE_NAME = "kube-prometheus-stack"
GRAFANA_ADMIN_SECRET = "grafana-admin"
ALERTMANAGER_SERVICE_ACCOUNT = "alertmanager"
GRAFANA_SERVICE_ACCOUNT = "grafana"
PLATFORM_DASHBOARD_FOLDER = "MLOps Platform"
