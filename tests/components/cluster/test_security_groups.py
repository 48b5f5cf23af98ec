"""mlops_platform.components.cluster.security_groups: the control plane's port table; and the private-range check
the cluster's API CIDRs go through (mlops_platform.components.validation, shared with monitoring's)."""

from __future__ import annotations

import pytest

from mlops_platform.components.cluster.security_groups import CONTROL_PLANE_TO_NODE_PORTS
from mlops_platform.components.validation import is_private_ipv4_cidr


@pytest.mark.parametrize(
    "cidr", ["10.0.0.0/8", "172.16.0.0/12", "192.168.50.0/24", "100.64.0.0/10", "100.100.0.0/16"]
)
def test_private_ranges(cidr: str) -> None:
    assert is_private_ipv4_cidr(cidr)


@pytest.mark.parametrize(
    "cidr",
    ["0.0.0.0/0", "8.8.8.0/24", "10.0.0.1/8", "not-a-cidr", "fd00::/8", "100.0.0.0/8"],
)
def test_public_host_bits_ipv6_and_garbage_are_refused(cidr: str) -> None:
    assert not is_private_ipv4_cidr(cidr)


def test_control_plane_reaches_nodes_on_443_kubelet_and_ephemeral_ports_only() -> None:
    assert [(label, low, high) for label, low, high, _ in CONTROL_PLANE_TO_NODE_PORTS] == [
        ("443", 443, 443),
        ("kubelet", 10250, 10250),
        ("ephemeral", 1025, 65535),
    ]
    assert all(why.startswith("API server to ") for *_, why in CONTROL_PLANE_TO_NODE_PORTS)
