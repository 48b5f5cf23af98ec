"""The platform's Prometheus alerting rules: one group per concern (MLflow, platform workloads and storage,
GPU nodes), each a pure function of the thresholds. :func:`platform_rules` assembles the groups the
arguments call for; :class:`~mlops_platform.components.monitoring.monitoring.Monitoring` ships them as one PrometheusRule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlops_platform.components.monitoring.args import AlertThresholds, MonitoringArgs
from mlops_platform.components.monitoring.charts import DCGM_EXPORTER_RELEASE, GPU_NODE_LABEL
from mlops_platform.components.monitoring.observability import alert_rule, check_k8s_name

__all__ = ["gpu_rules", "mlflow_rules", "platform_rules", "workload_rules"]


def mlflow_rules(t: AlertThresholds) -> dict[str, Any]:
    """MLflow down (or unscrapeable), answering with server errors, or slow."""
    sel = 'job="mlflow"'
    return {
        "name": "mlflow",
        "rules": [
            alert_rule(
                "MlflowDown",
                f"absent(up{{{sel}}} == 1)",
                duration="5m",
                severity="critical",
                summary="MLflow tracking server is down or cannot be scraped",
                description="No MLflow replica has answered Prometheus' scrape of /metrics for 5 minutes "
                "(pods down, or the scrape credentials are missing or wrong).",
            ),
            alert_rule(
                "MlflowHighErrorRate",
                f'100 * sum(rate(mlflow_http_request_total{{{sel},status=~"5.."}}[5m])) '
                f"/ sum(rate(mlflow_http_request_total{{{sel}}}[5m])) > {t.mlflow_error_percent}",
                duration="10m",
                severity="critical",
                summary="MLflow is answering with server errors",
                description=f"More than {t.mlflow_error_percent} % of MLflow requests failed with 5xx "
                'over the last 10 minutes (value: {{ $value | printf "%.1f" }} %).',
            ),
            alert_rule(
                "MlflowHighLatency",
                "histogram_quantile(0.95, sum by (le) "
                f"(rate(mlflow_http_request_duration_seconds_bucket{{{sel}}}[5m]))) "
                f"> {t.mlflow_p95_latency_ms / 1000:g}",
                duration="15m",
                severity="warning",
                summary="MLflow is slow",
                description=f"MLflow's 95th-percentile latency has been above {t.mlflow_p95_latency_ms} ms "
                "for 15 minutes (value: {{ $value | humanizeDuration }}).",
            ),
        ],
    }


def workload_rules(t: AlertThresholds, namespaces: Sequence[str]) -> dict[str, Any]:
    """Crash-looping pods of the platform's ``namespaces`` (critical), and filling persistent volumes."""
    # Kubernetes names hold only [a-z0-9-]: no regex metacharacters, and no escapes (PromQL strings
    # reject unknown escape sequences such as "\-").
    ns_re = "|".join(check_k8s_name(n, "namespace") for n in dict.fromkeys(namespaces))
    return {
        "name": "platform-workloads",
        "rules": [
            alert_rule(
                "PlatformPodCrashLooping",
                f"max by (namespace, pod, container) (max_over_time(kube_pod_container_status_waiting_reason"
                f'{{job="kube-state-metrics",reason="CrashLoopBackOff",namespace=~"{ns_re}"}}[5m])) >= 1 '
                f"or max by (namespace, pod, container) (increase(kube_pod_container_status_restarts_total"
                f'{{job="kube-state-metrics",namespace=~"{ns_re}"}}[30m])) > 5',
                duration="10m",
                severity="critical",
                summary="A platform pod is crash-looping",
                description="{{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.container }}) is in "
                "CrashLoopBackOff or restarted more than 5 times in 30 minutes.",
            ),
            alert_rule(
                "PersistentVolumeFilling",
                '100 * kubelet_volume_stats_available_bytes{job="kubelet"} '
                '/ kubelet_volume_stats_capacity_bytes{job="kubelet"} '
                f"< {t.volume_free_percent} "
                'and kubelet_volume_stats_used_bytes{job="kubelet"} > 0',
                duration="15m",
                severity="warning",
                summary="A persistent volume is filling up",
                description="{{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} has "
                '{{ $value | printf "%.1f" }} % free '
                f"(threshold {t.volume_free_percent} %).",
            ),
        ],
    }


def gpu_rules(t: AlertThresholds) -> dict[str, Any]:
    """Idle GPU nodes, and GPU nodes the DCGM exporter reports nothing from."""
    dcgm = f'job="{DCGM_EXPORTER_RELEASE}"'
    return {
        "name": "gpu-nodes",
        "rules": [
            # Per node; no series (no GPU node, group scaled to zero) is no alert.
            alert_rule(
                "GpuNodeIdle",
                f"avg by (node) (avg_over_time(DCGM_FI_DEV_GPU_UTIL{{{dcgm}}}[30m])) < {t.gpu_idle_percent}",
                duration="1h",
                severity="warning",
                summary="A GPU node is idle",
                description='GPUs on {{ $labels.node }} averaged {{ $value | printf "%.0f" }} % '
                f"utilisation (below {t.gpu_idle_percent} %) for over an hour: scale the GPU group down "
                "or schedule work on it.",
            ),
            # Only nodes that advertise GPUs count: no GPU group, or a group scaled to zero, has
            # no such node; a new node's exporter gets 30 minutes to start.
            alert_rule(
                "GpuMetricsMissing",
                "max by (node) "
                '(kube_node_status_capacity{job="kube-state-metrics",resource="nvidia_com_gpu"}) > 0 '
                f"unless on (node) max by (node) (DCGM_FI_DEV_GPU_UTIL{{{dcgm}}})",
                duration="30m",
                severity="warning",
                summary="A GPU node reports no DCGM metrics",
                description="{{ $labels.node }} advertises GPUs but Prometheus receives no DCGM_FI_DEV_GPU_UTIL "
                "from it: the DCGM exporter is not running there (is the node labelled "
                f"{GPU_NODE_LABEL[0]}={GPU_NODE_LABEL[1]}?) or cannot be scraped, so GPU alerts are blind.",
            ),
        ],
    }


def platform_rules(args: MonitoringArgs, mlflow_namespace: str | None) -> list[dict[str, Any]]:
    """The platform's alerting rule groups (MLflow, workloads, storage and, with GPUs, GPU nodes)."""
    groups: list[dict[str, Any]] = []
    if args.mlflow is not None:
        groups.append(mlflow_rules(args.thresholds))
    namespaces = [
        args.namespace,
        *([mlflow_namespace] if mlflow_namespace else []),
        *args.platform_namespaces,
    ]
    groups.append(workload_rules(args.thresholds, namespaces))
    if args.gpu_enabled:
        groups.append(gpu_rules(args.thresholds))
    return groups
