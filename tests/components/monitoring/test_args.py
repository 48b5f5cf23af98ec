"""components.monitoring.args: what Monitoring refuses before it declares anything."""

from __future__ import annotations

import pytest
from monitoring_support import base_args, render

from components.cluster.cluster import NodeGroupSpec, gpu_node_group
from components.monitoring.charts import GPU_NODE_LABEL


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
