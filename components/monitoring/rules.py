"""The platform's Prometheus alerting rules: one group per concern (MLflow, platform workloads and storage,
GPU nodes, Karpenter), each a pure function of the thresholds. :func:`platform_rules` assembles the groups the
arguments call for; :class:`~mlops_platform.components.monitoring.monitoring.Monitoring` ships them as one PrometheusRule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlops_platform.components.monitoring.args import AlertThresholds, KarpenterThresholds, MonitoringArgs
from mlops_platform.components.monitoring.charts import DCGM_EXPORTER_RELEASE, GPU_NODE_LABEL, KARPENTER_JOB
from mlops_platform.components.monitoring.observability import alert_rule, check_k8s_name

__all__ = ["gpu_rules", "karpenter_rules", "mlflow_rules", "platform_rules", "workload_rules"]


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


# Karpenter's metric names and labels, from its metrics reference for v1.14
# (aws/karpenter-provider-aws, website/content/en/v1.14/reference/metrics.md) and the v1.14.1 sources that
# define them: kubernetes-sigs/karpenter pkg/controllers/metrics/nodepool/controller.go (nodepools_usage and
# nodepools_limit by nodepool and resource_type; cpu in cores, memory in bytes, "nvidia.com/gpu" as is),
# pkg/cloudprovider/metrics/cloudprovider.go (cloudprovider_errors_total by controller, method, provider,
# error: "" for an AWS API error, or NodeClaimNotFoundError, InsufficientCapacityError,
# NodeClassNotReadyError); aws/karpenter-provider-aws pkg/providers/instance/metrics.go
# (cloudprovider_instance_launch_failures_total by zone, zone_id, capacity_type, reason) and
# pkg/controllers/interruption/ (interruption_received_messages_total by message_type, counted once a
# message parses; interruption_deleted_messages_total, counted once it is handled and deleted;
# interruption_message_queue_duration_seconds; the controller is named "interruption" for
# controller-runtime's controller_runtime_reconcile_errors_total, which a failed receive or a failed
# handling increments). Only the elected leader reports the controllers' series: aggregations drop the
# replica's instance label.


def karpenter_rules(t: KarpenterThresholds) -> dict[str, Any]:
    """Karpenter down, a NodePool near its limit, cloud-provider errors, failing launches, and
    interruption messages that are not handled (or handled late)."""
    sel = f'job="{KARPENTER_JOB}"'
    received = f"sum(increase(karpenter_interruption_received_messages_total{{{sel}}}[15m]))"
    deleted = f"sum(increase(karpenter_interruption_deleted_messages_total{{{sel}}}[15m]))"
    return {
        "name": "karpenter",
        "rules": [
            alert_rule(
                "KarpenterDown",
                f"absent(up{{{sel}}} == 1)",
                duration="5m",
                severity="critical",
                summary="Karpenter is down or cannot be scraped",
                description="No Karpenter controller replica has answered Prometheus' scrape for 5 minutes: "
                "no node is launched for pending pods, none is consolidated, and Spot interruption "
                "warnings go unhandled.",
            ),
            alert_rule(
                "KarpenterNodePoolNearLimit",
                "100 * max by (nodepool, resource_type) "
                f"(karpenter_nodepools_usage{{{sel}}}) "
                "/ max by (nodepool, resource_type) "
                f"(karpenter_nodepools_limit{{{sel}}}) > {t.nodepool_limit_percent}",
                duration="15m",
                severity="warning",
                summary="A Karpenter NodePool is close to its limit",
                description="NodePool {{ $labels.nodepool }} uses "
                '{{ $value | printf "%.0f" }} % of its {{ $labels.resource_type }} limit (threshold '
                f"{t.nodepool_limit_percent} %): once it is reached, pods that need a new node "
                "stay pending. Raise the pool's limit in the stack config (docs/operations.md).",
            ),
            # NodeClaimNotFoundError (an instance already gone) and InsufficientCapacityError (Karpenter
            # tries the next offering) are routine; anything else is an AWS API error or a node class
            # that is not ready.
            alert_rule(
                "KarpenterCloudProviderErrors",
                "sum by (controller, method, error) (increase(karpenter_cloudprovider_errors_total"
                f'{{{sel},error!~"NodeClaimNotFoundError|InsufficientCapacityError"}}[15m])) > 0',
                duration="15m",
                severity="warning",
                summary="Karpenter's calls to AWS are failing",
                description="{{ $labels.method }} calls of Karpenter's {{ $labels.controller }} controller "
                'failed (error type "{{ $labels.error }}", empty for an AWS API error) for 15 minutes: '
                "check the controller's logs for the API error (permissions, KMS key, endpoints) or "
                "kubectl describe ec2nodeclass.",
            ),
            alert_rule(
                "KarpenterNodeLaunchesFailing",
                "sum by (capacity_type, reason) "
                f"(increase(karpenter_cloudprovider_instance_launch_failures_total{{{sel}}}[30m])) "
                f"> {t.launch_failures}",
                duration="30m",
                severity="warning",
                summary="Karpenter keeps failing to launch instances",
                description='{{ $value | printf "%.0f" }} {{ $labels.capacity_type }} launches failed with '
                "{{ $labels.reason }} within 30 minutes, for half an hour: a service quota (GPU "
                '"G and VT" vCPUs in a new account), a capacity shortage of every allowed family, or the '
                "subnets running out of addresses.",
            ),
            alert_rule(
                "KarpenterInterruptionQueueFailing",
                "sum(increase(controller_runtime_reconcile_errors_total"
                f'{{{sel},controller="interruption"}}[10m])) > 0',
                duration="10m",
                severity="critical",
                summary="Karpenter cannot read or handle its interruption queue",
                description="Karpenter's interruption controller has failed for 10 minutes (receiving from "
                "the SQS queue, or handling a message): Spot interruption warnings and scheduled events "
                "are not acted on, so nodes vanish without their pods being drained first.",
            ),
            # A message that fails to be handled stays on the queue and is received again; a handled one
            # is deleted. The deleted counter has no series before the first deletion: "unless" keeps the
            # alert when it is absent.
            alert_rule(
                "KarpenterInterruptionMessagesNotHandled",
                f"{received} > 0 unless {deleted} >= {received}",
                duration="15m",
                severity="critical",
                summary="Karpenter receives interruption messages it does not handle",
                description="Karpenter received more interruption messages than it handled and deleted "
                "over the last 15 minutes, for 15 minutes: the nodes they are about are not drained.",
            ),
            alert_rule(
                "KarpenterInterruptionHandlingSlow",
                "sum(rate(karpenter_interruption_message_queue_duration_seconds_sum"
                f"{{{sel}}}[15m])) / sum(rate(karpenter_interruption_message_queue_duration_seconds_count"
                f"{{{sel}}}[15m])) > {t.interruption_latency_seconds}",
                duration="15m",
                severity="warning",
                summary="Karpenter handles interruption messages late",
                description="Interruption messages waited {{ $value | humanizeDuration }} on average before "
                f"Karpenter handled them (threshold {t.interruption_latency_seconds} s): a Spot "
                "warning leaves two minutes to drain a node.",
            ),
        ],
    }


def platform_rules(args: MonitoringArgs, mlflow_namespace: str | None) -> list[dict[str, Any]]:
    """The platform's alerting rule groups (MLflow, workloads, storage and, with GPUs, GPU nodes; with
    Karpenter, its controller, pools and interruption queue)."""
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
    if args.karpenter_enabled:
        groups.append(karpenter_rules(args.karpenter_thresholds))
    return groups
