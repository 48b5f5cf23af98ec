"""mlops_platform.components.monitoring.rules: the platform's alerting rules, parsed, and evaluated against samples (which
situations fire)."""

from __future__ import annotations

import json
from typing import Any

import promql_parser
import pytest
from monitoring_support import RULE, base_args, release, render, rendered_dashboard, rules_by_alert
from promql_eval import evaluate

from mlops_platform.components.monitoring.args import AlertThresholds, KarpenterThresholds, MonitoringArgs
from mlops_platform.components.monitoring.rules import (
    gpu_rules,
    karpenter_rules,
    mlflow_rules,
    platform_rules,
    workload_rules,
)
from mlops_platform.mlops.graph import Graph

KARPENTER_ALERTS = {
    "KarpenterDown",
    "KarpenterNodePoolNearLimit",
    "KarpenterCloudProviderErrors",
    "KarpenterNodeLaunchesFailing",
    "KarpenterInterruptionQueueFailing",
    "KarpenterInterruptionMessagesNotHandled",
    "KarpenterInterruptionHandlingSlow",
}


def test_platform_rules_present_and_valid_promql(graph: Graph) -> None:
    rules = rules_by_alert(graph)
    assert set(rules) == {
        "MlflowDown",
        "MlflowHighErrorRate",
        "MlflowHighLatency",
        "PlatformPodCrashLooping",
        "PersistentVolumeFilling",
        "GpuNodeIdle",
        "GpuMetricsMissing",
        *KARPENTER_ALERTS,
    }
    for name, rule in rules.items():
        promql_parser.parse(rule["expr"])  # raises on invalid PromQL
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert rule["annotations"]["summary"], name
    assert "kube_pod_container_status_restarts_total" in rules["PlatformPodCrashLooping"]["expr"]
    assert 'reason="CrashLoopBackOff"' in rules["PlatformPodCrashLooping"]["expr"]
    assert "kubelet_volume_stats_available_bytes" in rules["PersistentVolumeFilling"]["expr"]
    assert "DCGM_FI_DEV_GPU_UTIL" in rules["GpuNodeIdle"]["expr"]
    assert rules["MlflowHighErrorRate"]["expr"].endswith("> 5")
    assert rules["MlflowHighLatency"]["expr"].endswith("> 2")
    rule = graph.one(RULE)
    assert release(graph).urn in rule.dependencies  # the CRDs come with the release


def test_gpu_rules_only_with_a_gpu_group() -> None:
    graph = render(base_args(gpu_enabled=False))
    assert not {"GpuNodeIdle", "GpuMetricsMissing"} & set(rules_by_alert(graph))
    dashboard = rendered_dashboard(graph)
    assert not any("DCGM" in json.dumps(p.get("targets", [])) for p in dashboard["panels"])


def _exprs(args: MonitoringArgs | None = None) -> dict[str, str]:
    groups = platform_rules(args or base_args(), "mlflow")
    return {r["alert"]: r["expr"] for g in groups for r in g["rules"]}


def _capacity(node: str, gpus: int) -> dict[str, Any]:
    return {
        "__name__": "kube_node_status_capacity",
        "job": "kube-state-metrics",
        "node": node,
        "resource": "nvidia_com_gpu",
        "unit": "integer",
        "value": gpus,
    }


def _util(node: str, value: float, gpu: str = "0") -> dict[str, Any]:
    return {
        "__name__": "DCGM_FI_DEV_GPU_UTIL",
        "job": "dcgm-exporter",
        "node": node,
        "gpu": gpu,
        "value": value,
    }


def _fires(expr: str, samples: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [labels for labels, _ in evaluate(expr, samples)]


def test_every_platform_rule_parses() -> None:
    for args in (base_args(), base_args(gpu_enabled=False, karpenter_enabled=False, mlflow=None)):
        for groups in (platform_rules(args, "mlflow"), platform_rules(args, None)):
            for group in groups:
                for rule in group["rules"]:
                    promql_parser.parse(rule["expr"])


def test_gpu_metrics_missing_needs_gpu_nodes_and_names_the_blind_one() -> None:
    expr = _exprs()["GpuMetricsMissing"]
    cpu_node = {**_capacity("cpu-1", 0), "resource": "cpu", "value": 4}
    # No GPU group, or the group scaled to zero: no node advertises GPUs, nothing fires (ever).
    assert _fires(expr, []) == []
    assert _fires(expr, [cpu_node]) == []
    # A GPU node still registering its device plugin advertises 0 GPUs: nothing fires yet.
    assert _fires(expr, [_capacity("gpu-1", 0)]) == []
    # Every GPU node reports: quiet.
    assert _fires(expr, [_capacity("gpu-1", 1), _util("gpu-1", 40)]) == []
    # One of two GPU nodes sends nothing (exporter missing there): that node, and only it.
    assert _fires(expr, [_capacity("gpu-1", 1), _capacity("gpu-2", 4), _util("gpu-1", 40)]) == [
        {"node": "gpu-2"}
    ]
    # The whole exporter is missing.
    assert _fires(expr, [_capacity("gpu-1", 1)]) == [{"node": "gpu-1"}]


def test_gpu_node_idle_per_node_and_silent_without_gpus() -> None:
    expr = _exprs()["GpuNodeIdle"]
    assert _fires(expr, []) == []
    assert _fires(expr, [_util("gpu-1", 80), _util("gpu-1", 60, gpu="1")]) == []
    assert _fires(expr, [_util("gpu-1", 80), _util("gpu-2", 2), _util("gpu-2", 4, gpu="1")]) == [
        {"node": "gpu-2"}
    ]


def test_mlflow_alerts_fire_on_outage_and_errors_not_on_silence() -> None:
    rules = _exprs()
    up = {"__name__": "up", "job": "mlflow", "instance": "a"}
    assert _fires(rules["MlflowDown"], [{**up, "value": 1}]) == []
    assert _fires(rules["MlflowDown"], [{**up, "value": 0}]) == [{}]
    assert _fires(rules["MlflowDown"], []) == [{}]  # no replica scraped at all is an outage

    def requests(status: str, rate: float) -> dict[str, Any]:
        return {"__name__": "mlflow_http_request_total", "job": "mlflow", "status": status, "value": rate}

    errors = rules["MlflowHighErrorRate"]
    assert _fires(errors, []) == []  # no traffic: 0/0, no alert
    assert _fires(errors, [requests("200", 0), requests("500", 0)]) == []
    assert _fires(errors, [requests("200", 99), requests("500", 1)]) == []
    assert _fires(errors, [requests("200", 90), requests("503", 10)]) == [{}]


def test_crash_loop_and_volume_rules_are_scoped_and_quiet_on_fresh_volumes() -> None:
    rules = _exprs()
    waiting = {
        "__name__": "kube_pod_container_status_waiting_reason",
        "job": "kube-state-metrics",
        "reason": "CrashLoopBackOff",
        "pod": "p",
        "container": "c",
        "value": 1,
    }
    crash = rules["PlatformPodCrashLooping"]
    assert _fires(crash, [{**waiting, "namespace": "monitoring"}]) == [
        {"namespace": "monitoring", "pod": "p", "container": "c"}
    ]
    assert _fires(crash, [{**waiting, "namespace": "team-a"}]) == []

    def volume(available: float, used: float) -> list[dict[str, Any]]:
        base = {"job": "kubelet", "namespace": "monitoring", "persistentvolumeclaim": "data"}
        return [
            {**base, "__name__": "kubelet_volume_stats_available_bytes", "value": available},
            {**base, "__name__": "kubelet_volume_stats_capacity_bytes", "value": 100},
            {**base, "__name__": "kubelet_volume_stats_used_bytes", "value": used},
        ]

    filling = rules["PersistentVolumeFilling"]
    assert _fires(filling, volume(50, 50)) == []
    assert len(_fires(filling, volume(5, 95))) == 1


# ---- the group builders (pure) ---------------------------------------------------------------------------


def test_groups_follow_the_arguments() -> None:
    assert [g["name"] for g in platform_rules(base_args(), "mlflow")] == [
        "mlflow",
        "platform-workloads",
        "gpu-nodes",
        "karpenter",
    ]
    bare = base_args(mlflow=None, gpu_enabled=False, karpenter_enabled=False)
    assert [g["name"] for g in platform_rules(bare, None)] == ["platform-workloads"]


def test_thresholds_are_written_into_the_expressions() -> None:
    t = AlertThresholds(
        mlflow_error_percent=3, mlflow_p95_latency_ms=1500, volume_free_percent=20, gpu_idle_percent=7
    )
    mlflow = {r["alert"]: r for r in mlflow_rules(t)["rules"]}
    assert mlflow["MlflowHighErrorRate"]["expr"].endswith("> 3")
    assert mlflow["MlflowHighLatency"]["expr"].endswith("> 1.5")
    assert mlflow["MlflowDown"]["labels"] == {"severity": "critical"}
    (volume,) = [
        r for r in workload_rules(t, ["monitoring"])["rules"] if r["alert"] == "PersistentVolumeFilling"
    ]
    assert "< 20 and" in volume["expr"]
    idle, missing = gpu_rules(t)["rules"]
    assert idle["expr"].endswith("< 7") and idle["for"] == "1h"
    assert 'DCGM_FI_DEV_GPU_UTIL{job="dcgm-exporter"}' in missing["expr"]


def test_crash_loop_scope_lists_each_namespace_once() -> None:
    group = workload_rules(AlertThresholds(), ["monitoring", "mlflow", "monitoring", "kube-system"])
    crash = group["rules"][0]
    assert crash["alert"] == "PlatformPodCrashLooping"
    assert crash["expr"].count('namespace=~"monitoring|mlflow|kube-system"') == 2
    with pytest.raises(ValueError, match="namespace 'Team_A' is not a valid Kubernetes name"):
        workload_rules(AlertThresholds(), ["Team_A"])


# ---- Karpenter -------------------------------------------------------------------------------------------


def _karpenter(name: str, value: float, **labels: str) -> dict[str, Any]:
    return {"__name__": name, "job": "karpenter", **labels, "value": value}


def test_karpenter_rules_only_with_karpenter(graph: Graph) -> None:
    assert set(rules_by_alert(graph)) >= KARPENTER_ALERTS
    assert not KARPENTER_ALERTS & set(rules_by_alert(render(base_args(karpenter_enabled=False))))


def test_karpenter_down_when_no_replica_answers() -> None:
    expr = _exprs()["KarpenterDown"]
    leader = _karpenter("up", 1, instance="10.0.1.5:8080")
    standby = _karpenter("up", 1, instance="10.0.2.7:8080")
    assert _fires(expr, [leader, standby]) == []
    assert _fires(expr, [leader, {**standby, "value": 0}]) == []  # one replica is enough
    assert _fires(expr, [{**leader, "value": 0}, {**standby, "value": 0}]) == [{}]
    assert _fires(expr, []) == [{}]  # no target at all (ServiceMonitor missing, namespace gone)
    assert _fires(expr, [{**leader, "job": "mlflow"}]) == [{}]  # another job's up does not count


def test_nodepool_near_limit_per_pool_and_resource() -> None:
    expr = _exprs()["KarpenterNodePoolNearLimit"]

    def pool(name: str, resource: str, usage: float, limit: float) -> list[dict[str, Any]]:
        labels = {"nodepool": name, "resource_type": resource, "instance": "10.0.1.5:8080"}
        return [
            _karpenter("karpenter_nodepools_usage", usage, **labels),
            _karpenter("karpenter_nodepools_limit", limit, **labels),
        ]

    quiet = [*pool("general", "cpu", 200, 256), *pool("general", "memory", 512 * 2**30, 1024 * 2**30)]
    assert _fires(expr, quiet) == []
    assert _fires(expr, [*pool("general", "cpu", 230, 256)]) == []  # 89.8 %: under 90
    full_gpu = [*quiet, *pool("gpu", "cpu", 48, 192), *pool("gpu", "nvidia.com/gpu", 15, 16)]
    assert _fires(expr, full_gpu) == [{"nodepool": "gpu", "resource_type": "nvidia.com/gpu"}]
    # A resource without a limit has no limit series: no alert, however much is used.
    assert (
        _fires(expr, [_karpenter("karpenter_nodepools_usage", 99, nodepool="general", resource_type="pods")])
        == []
    )
    # Both replicas' series (a leader change) count once.
    twice = [
        *pool("general", "cpu", 250, 256),
        *[{**s, "instance": "10.0.2.7:8080"} for s in pool("general", "cpu", 250, 256)],
    ]
    assert _fires(expr, twice) == [{"nodepool": "general", "resource_type": "cpu"}]


def test_cloud_provider_errors_ignore_the_routine_ones() -> None:
    expr = _exprs()["KarpenterCloudProviderErrors"]

    def errors(error: str, count: float, method: str = "Create") -> dict[str, Any]:
        return _karpenter(
            "karpenter_cloudprovider_errors_total",
            count,
            controller="nodeclaim.lifecycle",
            method=method,
            provider="aws",
            error=error,
        )

    assert _fires(expr, []) == []
    assert _fires(expr, [errors("", 0), errors("NodeClaimNotFoundError", 40, "Get")]) == []
    assert _fires(expr, [errors("InsufficientCapacityError", 12)]) == []  # Karpenter tries the next offering
    assert _fires(expr, [errors("", 3)]) == [
        {"controller": "nodeclaim.lifecycle", "method": "Create", "error": ""}
    ]
    assert _fires(expr, [errors("NodeClassNotReadyError", 1)]) == [
        {"controller": "nodeclaim.lifecycle", "method": "Create", "error": "NodeClassNotReadyError"}
    ]


def test_node_launches_failing_above_the_threshold() -> None:
    expr = _exprs()["KarpenterNodeLaunchesFailing"]

    def failures(count: float, zone: str, reason: str = "VcpuLimitExceeded") -> dict[str, Any]:
        return _karpenter(
            "karpenter_cloudprovider_instance_launch_failures_total",
            count,
            zone=zone,
            zone_id=f"euw1-az{zone[-1]}",
            capacity_type="on-demand",
            reason=reason,
        )

    assert _fires(expr, []) == []
    assert _fires(expr, [failures(4, "eu-west-1a"), failures(5, "eu-west-1b")]) == []  # 9: a few ICEs
    assert _fires(expr, [failures(6, "eu-west-1a"), failures(5, "eu-west-1b")]) == [
        {"capacity_type": "on-demand", "reason": "VcpuLimitExceeded"}
    ]


def test_interruption_queue_failing_reads_the_interruption_controller_only() -> None:
    expr = _exprs()["KarpenterInterruptionQueueFailing"]

    def reconcile_errors(controller: str, count: float) -> dict[str, Any]:
        return _karpenter("controller_runtime_reconcile_errors_total", count, controller=controller)

    assert _fires(expr, []) == []
    assert (
        _fires(expr, [reconcile_errors("interruption", 0), reconcile_errors("nodeclaim.lifecycle", 5)]) == []
    )
    assert _fires(expr, [reconcile_errors("interruption", 2)]) == [{}]


def test_interruption_messages_not_handled() -> None:
    expr = _exprs()["KarpenterInterruptionMessagesNotHandled"]

    def received(count: float, kind: str = "spot_interrupted") -> dict[str, Any]:
        return _karpenter("karpenter_interruption_received_messages_total", count, message_type=kind)

    def deleted(count: float) -> dict[str, Any]:
        return _karpenter("karpenter_interruption_deleted_messages_total", count)

    assert _fires(expr, []) == []  # a quiet queue
    assert _fires(expr, [received(0), deleted(0)]) == []
    assert _fires(expr, [received(2), received(1, "rebalance_recommendation"), deleted(3)]) == []
    assert _fires(expr, [received(3), deleted(4)]) == []  # an unparsable message is deleted uncounted
    assert _fires(expr, [received(3), deleted(1)]) == [{}]
    assert _fires(expr, [received(3)]) == [{}]  # nothing ever deleted: the counter has no series yet


def test_interruption_handling_slow_on_average() -> None:
    expr = _exprs()["KarpenterInterruptionHandlingSlow"]

    def latency(total_seconds: float, messages: float) -> list[dict[str, Any]]:
        name = "karpenter_interruption_message_queue_duration_seconds"
        return [_karpenter(f"{name}_sum", total_seconds), _karpenter(f"{name}_count", messages)]

    assert _fires(expr, []) == []
    assert _fires(expr, latency(0, 0)) == []  # no messages: 0/0
    assert _fires(expr, latency(50, 10)) == []  # 5 s each
    assert _fires(expr, latency(900, 10)) == [{}]  # 90 s each: most of a Spot warning gone


def test_karpenter_thresholds_are_written_into_the_expressions() -> None:
    t = KarpenterThresholds(nodepool_limit_percent=75, launch_failures=3, interruption_latency_seconds=20)
    rules = {r["alert"]: r for r in karpenter_rules(t)["rules"]}
    assert set(rules) == KARPENTER_ALERTS
    assert rules["KarpenterNodePoolNearLimit"]["expr"].endswith("> 75")
    assert rules["KarpenterNodeLaunchesFailing"]["expr"].endswith("> 3")
    assert rules["KarpenterInterruptionHandlingSlow"]["expr"].endswith("> 20")
    for rule in rules.values():
        promql_parser.parse(rule["expr"])
        assert rule["labels"]["severity"] in ("critical", "warning")
        assert 'job="karpenter"' in rule["expr"]
