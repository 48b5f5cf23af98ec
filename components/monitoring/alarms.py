"""CloudWatch alarms of the managed services the platform cannot watch from inside the cluster: the database
(RDS), the NAT gateways, the EKS control plane and the EventBridge rules (Karpenter's interruption events).

Each ``*_alarms`` function is pure: it returns :class:`AlarmSpec` values (a name suffix, a description and the
``aws.cloudwatch.MetricAlarm`` inputs); :class:`~mlops_platform.components.monitoring.monitoring.Monitoring` turns every spec
into an alarm that notifies the alert topic on ALARM and on OK.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from mlops_platform.components.monitoring.args import AlertThresholds, MonitoringArgs

__all__ = ["AlarmSpec", "cloudwatch_alarms", "eks_alarms", "event_rule_alarms", "nat_alarms", "rds_alarms"]


@dataclass(frozen=True)
class AlarmSpec:
    """One CloudWatch alarm before it is declared.

    Attributes:
        suffix: Appended to the component's name: the alarm's resource name and its CloudWatch name.
        description: The alarm's description (what is wrong, what to do).
        inputs: The remaining ``aws.cloudwatch.MetricAlarm`` inputs (metric or metric queries, statistic,
            threshold, periods); ``treat_missing_data`` is ``missing`` unless given.
    """

    suffix: str
    description: str
    inputs: dict[str, Any] = field(default_factory=dict)


_RDS: list[tuple[str, str, str, str]] = [
    # (suffix, metric, statistic, comparison)
    ("rds-cpu-high", "CPUUtilization", "Average", "GreaterThanThreshold"),
    ("rds-free-storage-low", "FreeStorageSpace", "Minimum", "LessThanThreshold"),
    ("rds-freeable-memory-low", "FreeableMemory", "Average", "LessThanThreshold"),
    ("rds-connections-high", "DatabaseConnections", "Maximum", "GreaterThanThreshold"),
    ("rds-read-latency-high", "ReadLatency", "Average", "GreaterThanThreshold"),
    ("rds-write-latency-high", "WriteLatency", "Average", "GreaterThanThreshold"),
]


def _rds_thresholds(t: AlertThresholds) -> dict[str, tuple[float, str]]:
    """Threshold (in the metric's unit: percent, bytes, count, seconds) and description of each RDS alarm."""
    return {
        "rds-cpu-high": (t.rds_cpu_percent, f"Database CPU above {t.rds_cpu_percent} % for 15 minutes."),
        "rds-free-storage-low": (
            t.rds_free_storage_gib * 1024**3,
            f"Database free storage below {t.rds_free_storage_gib} GiB (storage autoscaling may be at its "
            "ceiling).",
        ),
        "rds-freeable-memory-low": (
            t.rds_freeable_memory_mib * 1024**2,
            f"Database freeable memory below {t.rds_freeable_memory_mib} MiB for 15 minutes.",
        ),
        "rds-connections-high": (
            t.rds_max_connections,
            f"More than {t.rds_max_connections} database connections for 15 minutes.",
        ),
        "rds-read-latency-high": (
            t.rds_read_latency_ms / 1000,
            f"Database read latency above {t.rds_read_latency_ms} ms.",
        ),
        "rds-write-latency-high": (
            t.rds_write_latency_ms / 1000,
            f"Database write latency above {t.rds_write_latency_ms} ms.",
        ),
    }


def rds_alarms(database_identifier: pulumi.Input[str], t: AlertThresholds) -> list[AlarmSpec]:
    """CPU, free storage, freeable memory, connections and read/write latency of the database: three
    5-minute periods in a row past the threshold."""
    dimensions = {"DBInstanceIdentifier": database_identifier}
    thresholds = _rds_thresholds(t)
    specs: list[AlarmSpec] = []
    for suffix, metric, statistic, comparison in _RDS:
        threshold, description = thresholds[suffix]
        specs.append(
            AlarmSpec(
                suffix,
                description,
                {
                    "namespace": "AWS/RDS",
                    "metric_name": metric,
                    "dimensions": dimensions,
                    "statistic": statistic,
                    "comparison_operator": comparison,
                    "threshold": threshold,
                    "period": 300,
                    "evaluation_periods": 3,
                    "datapoints_to_alarm": 3,
                },
            )
        )
    return specs


def _sum_per_minute(
    namespace: str, metric: str, dimensions: dict[str, Any]
) -> aws.cloudwatch.MetricAlarmMetricQueryMetricArgs:
    return aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
        namespace=namespace, metric_name=metric, dimensions=dimensions, stat="Sum", period=60
    )


def nat_alarms(index: int, nat_gateway_id: pulumi.Input[str], t: AlertThresholds) -> list[AlarmSpec]:
    """AWS's recommended NAT gateway alarms: any port allocation error for 15 minutes; more than
    ``nat_packet_drop_basis_points`` of packets dropped for 5 minutes."""
    dims = {"NatGatewayId": nat_gateway_id}

    def metric(name: str) -> aws.cloudwatch.MetricAlarmMetricQueryMetricArgs:
        return _sum_per_minute("AWS/NATGateway", name, dims)

    port_errors = AlarmSpec(
        f"nat-{index}-port-allocation-errors",
        "NAT gateway could not allocate source ports (too many concurrent connections to one destination).",
        {
            "namespace": "AWS/NATGateway",
            "metric_name": "ErrorPortAllocation",
            "dimensions": dims,
            "statistic": "Sum",
            "comparison_operator": "GreaterThanThreshold",
            "threshold": 0,
            "period": 60,
            "evaluation_periods": 15,
            "datapoints_to_alarm": 15,
            "treat_missing_data": "notBreaching",
        },
    )
    packets_dropped = AlarmSpec(
        f"nat-{index}-packets-dropped",
        f"NAT gateway dropped more than {t.nat_packet_drop_basis_points / 100:g} % of packets.",
        {
            "comparison_operator": "GreaterThanThreshold",
            "threshold": t.nat_packet_drop_basis_points,
            "evaluation_periods": 5,
            "datapoints_to_alarm": 5,
            "treat_missing_data": "notBreaching",
            "metric_queries": [
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="drop_bp",
                    label="Dropped packets (basis points)",
                    return_data=True,
                    expression="IF((src + dst) > 0, 10000 * dropped / (src + dst), 0)",
                ),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(id="dropped", metric=metric("PacketsDropCount")),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(id="src", metric=metric("PacketsInFromSource")),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="dst", metric=metric("PacketsInFromDestination")
                ),
            ],
        },
    )
    return [port_errors, packets_dropped]


def eks_alarms(cluster_name: pulumi.Input[str], t: AlertThresholds) -> list[AlarmSpec]:
    """The control plane in trouble: API server 5xx responses, and the etcd database near its 8 GiB limit.

    EKS vends control-plane metrics to CloudWatch (``AWS/EKS``, Kubernetes 1.28+, free)."""
    cluster = {"ClusterName": cluster_name}
    apiserver_5xx = AlarmSpec(
        "eks-apiserver-5xx",
        f"More than {t.eks_apiserver_5xx_percent} % of Kubernetes API requests failed with 5xx for 5 minutes.",
        {
            "comparison_operator": "GreaterThanThreshold",
            "threshold": t.eks_apiserver_5xx_percent,
            "evaluation_periods": 5,
            "datapoints_to_alarm": 5,
            "treat_missing_data": "notBreaching",
            "metric_queries": [
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="error_pct",
                    label="API server 5xx (%)",
                    return_data=True,
                    expression="IF(total > 0, 100 * errors / total, 0)",
                ),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="errors", metric=_sum_per_minute("AWS/EKS", "apiserver_request_total_5XX", cluster)
                ),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="total", metric=_sum_per_minute("AWS/EKS", "apiserver_request_total", cluster)
                ),
            ],
        },
    )
    etcd_storage = AlarmSpec(
        "eks-etcd-storage-high",
        f"The cluster's etcd database exceeds {t.eks_etcd_storage_mib} MiB; at 8 GiB EKS stops accepting "
        "writes. Delete unused objects (old ReplicaSets, Events, large ConfigMaps).",
        {
            "namespace": "AWS/EKS",
            "metric_name": "apiserver_storage_size_bytes",
            "dimensions": cluster,
            "statistic": "Maximum",
            "comparison_operator": "GreaterThanThreshold",
            "threshold": t.eks_etcd_storage_mib * 1024**2,
            "period": 300,
            "evaluation_periods": 1,
            "datapoints_to_alarm": 1,
        },
    )
    return [apiserver_5xx, etcd_storage]


def event_rule_alarms(rule_names: Sequence[str]) -> list[AlarmSpec]:
    """One alarm per EventBridge rule: any invocation of its target that failed (``FailedInvocations``, after
    EventBridge's retries) within 5 minutes. For Karpenter's rules a failed invocation is an interruption
    warning or health event the queue never got: the node goes without its pods being moved first. No
    failures reported is no data, which is not breaching."""
    return [
        AlarmSpec(
            f"events-{i}-failed-invocations",
            f"EventBridge rule {rule} failed to deliver events to its target (for Karpenter's interruption "
            "queue: a key or queue policy that refuses EventBridge, or a deleted queue); Karpenter does not "
            "see these interruptions.",
            {
                "namespace": "AWS/Events",
                "metric_name": "FailedInvocations",
                "dimensions": {"RuleName": rule},
                "statistic": "Sum",
                "comparison_operator": "GreaterThanThreshold",
                "threshold": 0,
                "period": 300,
                "evaluation_periods": 1,
                "datapoints_to_alarm": 1,
                "treat_missing_data": "notBreaching",
            },
        )
        for i, rule in enumerate(rule_names)
    ]


def cloudwatch_alarms(args: MonitoringArgs) -> list[AlarmSpec]:
    """Every alarm of ``args``, in order: the database's (if any), each NAT gateway's, the control plane's,
    each EventBridge rule's."""
    t = args.thresholds
    specs: list[AlarmSpec] = []
    if args.database_identifier is not None:
        specs.extend(rds_alarms(args.database_identifier, t))
    for i, nat in enumerate(args.nat_gateway_ids):
        specs.extend(nat_alarms(i, nat, t))
    specs.extend(eks_alarms(args.cluster_name, t))
    specs.extend(event_rule_alarms(args.event_rule_names))
    return specs
