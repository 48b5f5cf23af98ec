"""mlops_platform.components.network.subnets: the per-zone layout of the VPC block and the discovery tags."""

from __future__ import annotations

import ipaddress

import pytest

from mlops_platform.components.network.subnets import TIERS, lb_tags, plan_subnets


def test_a_16_split_into_private_eighths_and_public_and_database_sixty_fourths() -> None:
    assert plan_subnets("10.30.0.0/16", 3) == {
        "private": ["10.30.0.0/19", "10.30.32.0/19", "10.30.64.0/19"],
        "public": ["10.30.128.0/22", "10.30.132.0/22", "10.30.136.0/22"],
        "database": ["10.30.160.0/22", "10.30.164.0/22", "10.30.168.0/22"],
    }


@pytest.mark.parametrize(("cidr", "zones"), [("10.0.0.0/16", 4), ("172.20.0.0/20", 2), ("192.168.0.0/18", 3)])
def test_subnets_lie_inside_the_vpc_and_never_overlap(cidr: str, zones: int) -> None:
    layout = plan_subnets(cidr, zones)
    vpc = ipaddress.IPv4Network(cidr)
    blocks = [ipaddress.IPv4Network(c) for tier in TIERS for c in layout[tier]]
    assert all(len(layout[tier]) == zones for tier in TIERS)
    assert all(b.subnet_of(vpc) for b in blocks)
    assert not any(a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :])
    assert {ipaddress.ip_network(c).prefixlen for c in layout["private"]} == {vpc.prefixlen + 3}
    assert {ipaddress.ip_network(c).prefixlen for c in layout["database"]} == {vpc.prefixlen + 6}


@pytest.mark.parametrize("zones", [0, 5])
def test_one_to_four_zones(zones: int) -> None:
    with pytest.raises(ValueError, match="one to four availability zones"):
        plan_subnets("10.0.0.0/16", zones)


def test_lb_tags_share_the_subnet_with_the_cluster_only_when_named() -> None:
    assert lb_tags("elb", None) == {"kubernetes.io/role/elb": "1"}
    assert lb_tags("internal-elb", "mlops-prod-eks") == {
        "kubernetes.io/role/internal-elb": "1",
        "kubernetes.io/cluster/mlops-prod-eks": "shared",
    }
