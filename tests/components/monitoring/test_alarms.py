"""mlops_platform.components.monitoring.alarms: the CloudWatch alarm specs and the alarms the component declares from them."""

from __future__ import annotations

import pytest
from monitoring_support import ALARM, base_args, inputs, platform_config, render

from mlops_platform.components.monitoring.alarms import (
    cloudwatch_alarms,
    eks_alarms,
    event_rule_alarms,
    nat_alarms,
    rds_alarms,
)
from mlops_platform.components.monitoring.args import AlertThresholds
from mlops_platform.components.platform.monitoring import alert_thresholds
from mlops_platform.mlops.graph import Graph


def test_alarm_thresholds_come_from_the_profile() -> None:
    config = platform_config("prod")
    t = alert_thresholds(config.monitoring)
    graph = render(base_args(thresholds=t))
    alarms = {a.name: inputs(a) for a in graph.of_type(ALARM)}
    rds = alarms["mon-rds-cpu-high"]
    assert (rds["namespace"], rds["metricName"], rds["threshold"]) == ("AWS/RDS", "CPUUtilization", 80)
    assert rds["dimensions"] == {"DBInstanceIdentifier": "mlops-test-db"}
    assert alarms["mon-rds-free-storage-low"]["threshold"] == 10 * 1024**3
    assert alarms["mon-rds-freeable-memory-low"]["threshold"] == 1024 * 1024**2
    assert alarms["mon-rds-connections-high"]["threshold"] == config.monitoring.rds_max_connections
    assert alarms["mon-rds-read-latency-high"]["threshold"] == pytest.approx(0.02)
    assert alarms["mon-rds-write-latency-high"]["threshold"] == pytest.approx(0.02)
    port = alarms["mon-nat-0-port-allocation-errors"]
    assert (port["metricName"], port["dimensions"], port["threshold"]) == (
        "ErrorPortAllocation",
        {"NatGatewayId": "nat-0aaaaaaaaaaaaaaaa"},
        0,
    )
    dropped = alarms["mon-nat-1-packets-dropped"]
    queries = {q["id"]: q for q in dropped["metricQueries"]}
    assert queries["dropped"]["metric"]["metricName"] == "PacketsDropCount"
    assert queries["dropped"]["metric"]["dimensions"] == {"NatGatewayId": "nat-0bbbbbbbbbbbbbbbb"}
    assert dropped["threshold"] == config.monitoring.nat_packet_drop_basis_points
    eks = alarms["mon-eks-apiserver-5xx"]
    eks_queries = {q["id"]: q for q in eks["metricQueries"]}
    assert eks_queries["errors"]["metric"]["metricName"] == "apiserver_request_total_5XX"
    assert eks_queries["errors"]["metric"]["namespace"] == "AWS/EKS"
    assert eks_queries["errors"]["metric"]["dimensions"] == {"ClusterName": "mlops-test-eks"}
    assert [q["id"] for q in eks["metricQueries"] if q.get("returnData")] == ["error_pct"]
    etcd = alarms["mon-eks-etcd-storage-high"]
    assert etcd["metricName"] == "apiserver_storage_size_bytes"
    assert etcd["threshold"] == 6144 * 1024**2


# ---- the specs (pure) ------------------------------------------------------------------------------------


def test_every_alarm_in_order() -> None:
    assert [s.suffix for s in cloudwatch_alarms(base_args())] == [
        "rds-cpu-high",
        "rds-free-storage-low",
        "rds-freeable-memory-low",
        "rds-connections-high",
        "rds-read-latency-high",
        "rds-write-latency-high",
        "nat-0-port-allocation-errors",
        "nat-0-packets-dropped",
        "nat-1-port-allocation-errors",
        "nat-1-packets-dropped",
        "eks-apiserver-5xx",
        "eks-etcd-storage-high",
        "events-0-failed-invocations",
        "events-1-failed-invocations",
    ]


def test_rds_thresholds_in_the_metrics_units() -> None:
    t = AlertThresholds(rds_free_storage_gib=20, rds_freeable_memory_mib=512, rds_read_latency_ms=50)
    specs = {s.suffix: s for s in rds_alarms("db-1", t)}
    assert specs["rds-free-storage-low"].inputs["threshold"] == 20 * 1024**3
    assert specs["rds-freeable-memory-low"].inputs["threshold"] == 512 * 1024**2
    assert specs["rds-read-latency-high"].inputs["threshold"] == 0.05
    assert specs["rds-read-latency-high"].description == "Database read latency above 50 ms."
    for spec in specs.values():
        assert spec.inputs["dimensions"] == {"DBInstanceIdentifier": "db-1"}
        assert (
            spec.inputs["period"],
            spec.inputs["evaluation_periods"],
            spec.inputs["datapoints_to_alarm"],
        ) == (
            300,
            3,
            3,
        )
        assert "treat_missing_data" not in spec.inputs  # the component's default: missing


def test_nat_and_eks_specs() -> None:
    errors, dropped = nat_alarms(1, "nat-1", AlertThresholds(nat_packet_drop_basis_points=5))
    assert errors.suffix == "nat-1-port-allocation-errors" and errors.inputs["threshold"] == 0
    assert dropped.description == "NAT gateway dropped more than 0.05 % of packets."
    assert dropped.inputs["threshold"] == 5
    assert [q.id for q in dropped.inputs["metric_queries"]] == ["drop_bp", "dropped", "src", "dst"]
    apiserver, etcd = eks_alarms("eks-1", AlertThresholds(eks_etcd_storage_mib=4096))
    assert apiserver.inputs["treat_missing_data"] == "notBreaching"
    assert etcd.inputs["threshold"] == 4096 * 1024**2
    assert etcd.inputs["dimensions"] == {"ClusterName": "eks-1"}


def test_the_component_treats_missing_data_as_missing_unless_the_spec_says(graph: Graph) -> None:
    alarms = {a.name: inputs(a) for a in graph.of_type(ALARM)}
    assert alarms["mon-rds-cpu-high"]["treatMissingData"] == "missing"
    assert alarms["mon-eks-etcd-storage-high"]["treatMissingData"] == "missing"
    assert alarms["mon-nat-0-packets-dropped"]["treatMissingData"] == "notBreaching"
    assert alarms["mon-rds-cpu-high"]["name"] == "mon-rds-cpu-high"


def test_event_rule_alarms_one_per_rule_in_order() -> None:
    specs = event_rule_alarms(["c-karpenter-spot-interruption", "c-karpenter-rebalance"])
    assert [s.suffix for s in specs] == ["events-0-failed-invocations", "events-1-failed-invocations"]
    assert [s.inputs["dimensions"] for s in specs] == [
        {"RuleName": "c-karpenter-spot-interruption"},
        {"RuleName": "c-karpenter-rebalance"},
    ]
    assert {
        (s.inputs["namespace"], s.inputs["metric_name"], s.inputs["treat_missing_data"]) for s in specs
    } == {("AWS/Events", "FailedInvocations", "notBreaching")}
    assert event_rule_alarms([]) == []
