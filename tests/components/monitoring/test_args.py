"""mlops_platform.components.monitoring.args: what Monitoring refuses before it declares anything."""

from __future__ import annotations

import pytest
from monitoring_support import base_args, render

from mlops_platform.components.cluster.node_groups import NodeGroupSpec, gpu_node_group
from mlops_platform.components.monitoring.args import (
    AlertThresholds,
    KarpenterThresholds,
    check_cluster_cidr,
    validate,
    validate_subscriptions,
)
from mlops_platform.components.monitoring.charts import GPU_NODE_LABEL


def test_unpinned_chart_or_plain_http_repository_is_rejected() -> None:
    with pytest.raises(ValueError, match="pinned"):
        render(base_args(chart_version="91.x"))
    with pytest.raises(ValueError, match="https"):
        render(base_args(chart_repository="http://prometheus-community.github.io/helm-charts"))


@pytest.mark.parametrize(
    "endpoint",
    ["http://alerts.example.com/hook", "ftp://x.example.com", "https://", "https://u:p@x.example.com/"],
)
def test_plain_http_or_malformed_endpoints_are_rejected(endpoint: str) -> None:
    with pytest.raises(ValueError, match=r"https|credentials"):
        render(base_args(alert_https_endpoints=[endpoint]))


def test_cluster_cidrs_must_be_private_cidr_blocks() -> None:
    for bad in (["0.0.0.0/0"], ["10.10.0.1/16"], ["not-a-cidr"], []):
        with pytest.raises(ValueError, match=r"CIDR|cidr"):
            render(base_args(cluster_cidrs=bad))


def test_gpu_nodes_carry_the_label_the_exporter_selects() -> None:
    """The managed GPU group sets the exporter's node label (a Karpenter GPU pool sets the same one)."""
    spec = gpu_node_group(NodeGroupSpec(instance_types=["g5.xlarge"], min_size=0, max_size=2, desired_size=0))
    key, value = GPU_NODE_LABEL
    assert spec.labels[key] == value
    assert dict(base_args().gpu_node_selector) == {key: value}
    (taint,) = [t for t in spec.taints if t[0] == "nvidia.com/gpu"]
    assert taint in base_args().gpu_tolerations


# ---- the checks themselves (pure) ------------------------------------------------------------------------


def test_subscriptions_name_the_bad_value_and_what_is_wrong() -> None:
    validate_subscriptions(["oncall@example.com"], ["https://alerts.example.com/hook"])  # accepted
    with pytest.raises(ValueError) as err:
        validate_subscriptions(["oncall at example.com"], [])
    assert str(err.value) == "alert e-mail 'oncall at example.com' is not an e-mail address"
    with pytest.raises(ValueError) as err:
        validate_subscriptions([], ["http://alerts.example.com/hook"])
    assert str(err.value) == (
        "alert endpoint 'http://alerts.example.com/hook' is not an https:// URL (plain HTTP is not allowed)"
    )
    with pytest.raises(ValueError) as err:
        validate_subscriptions([], ["https://u:p@alerts.example.com/"])
    assert str(err.value) == (
        "alert endpoint 'https://u:p@alerts.example.com/' must not embed credentials (they would sit in state)"
    )
    with pytest.raises(ValueError, match="alert subscriptions must be unique"):
        validate_subscriptions(["a@example.com", "a@example.com"], [])


def test_region_is_checked_by_the_shared_validator() -> None:
    validate(base_args(region="us-gov-west-1"))
    with pytest.raises(ValueError) as err:
        validate(base_args(region="europe-west"))
    assert str(err.value) == "region 'europe-west' is not an AWS region code such as eu-west-1"


def test_cluster_cidrs_are_private_ipv4_blocks_written_exactly() -> None:
    for good in ("10.0.0.0/8", "172.20.0.0/16", "192.168.0.0/16", "100.64.0.0/10", "100.100.0.0/16"):
        assert check_cluster_cidr(good) == good
    with pytest.raises(ValueError) as err:
        check_cluster_cidr("10.10.0.1/16")  # host bits set
    assert str(err.value) == "cluster CIDR '10.10.0.1/16' is not a CIDR block"
    for public in ("8.8.8.0/24", "0.0.0.0/0", "fd00::/8"):
        with pytest.raises(ValueError) as err:
            check_cluster_cidr(public)
        assert str(err.value) == f"cluster CIDR {public!r} is not a private range"


def test_sizes_names_and_thresholds_are_bounded() -> None:
    with pytest.raises(ValueError) as err:
        validate(base_args(prometheus_replicas=4))
    assert str(err.value) == "prometheus_replicas must be between 1 and 3, got 4"
    with pytest.raises(ValueError) as err:
        validate(base_args(thresholds=AlertThresholds(rds_cpu_percent=0)))
    assert str(err.value) == "threshold rds_cpu_percent must be positive"
    with pytest.raises(ValueError) as err:
        validate(base_args(karpenter_thresholds=KarpenterThresholds(nodepool_limit_percent=101)))
    assert str(err.value) == "Karpenter threshold nodepool_limit_percent must be at most 100"
    with pytest.raises(ValueError) as err:
        validate(base_args(karpenter_thresholds=KarpenterThresholds(launch_failures=0)))
    assert str(err.value) == "Karpenter threshold launch_failures must be positive"
    with pytest.raises(ValueError, match="node-exporter needs its own"):
        validate(base_args(node_exporter_namespace="monitoring"))
    with pytest.raises(ValueError, match="platform namespace 'Kube_System' is not a valid Kubernetes name"):
        validate(base_args(platform_namespaces=["Kube_System"]))
    with pytest.raises(ValueError, match="effect must be one of"):
        validate(base_args(gpu_tolerations=[("nvidia.com/gpu", "true", "NoSchedule")]))
