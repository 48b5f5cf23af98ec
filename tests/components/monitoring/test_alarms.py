"""components.monitoring.alarms: the CloudWatch alarm specs and the alarms the component declares from them."""

from __future__ import annotations

import pytest
from monitoring_support import ALARM, base_args, inputs, platform_config, render

from components.platform.monitoring import alert_thresholds


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
