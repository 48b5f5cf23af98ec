"""The subnet layout of :class:`~mlops_platform.components.network.network.Network`: how the VPC block is carved per zone,
the EKS load-balancer discovery tags, and the builder of one zone's public, private and database subnets."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

__all__ = ["TIERS", "ZoneSubnets", "lb_tags", "plan_subnets", "zone_subnets"]

TIERS = ("public", "private", "database")
"""The subnet tiers, one subnet of each per availability zone."""

ZoneSubnets = dict[str, list[aws.ec2.Subnet]]
"""Subnets by tier (:data:`TIERS`), in zone order."""


def plan_subnets(cidr: str, zones: int) -> dict[str, list[str]]:
    """Carve the VPC block into per-zone subnets: private /+3, public and database /+6."""
    vpc = ipaddress.ip_network(cidr)
    if not 1 <= zones <= 4:
        raise ValueError("a network spans one to four availability zones")
    eighths = list(vpc.subnets(new_prefix=vpc.prefixlen + 3))
    public = list(eighths[4].subnets(new_prefix=vpc.prefixlen + 6))
    database = list(eighths[5].subnets(new_prefix=vpc.prefixlen + 6))
    return {
        "private": [str(eighths[i]) for i in range(zones)],
        "public": [str(public[i]) for i in range(zones)],
        "database": [str(database[i]) for i in range(zones)],
    }


def lb_tags(role: str, cluster_name: str | None) -> dict[str, str]:
    """The tags that let the AWS load balancer controller find a subnet for ``role`` (``elb`` for internet
    facing, ``internal-elb``), shared with ``cluster_name`` when given."""
    tags = {f"kubernetes.io/role/{role}": "1"}
    if cluster_name:
        tags[f"kubernetes.io/cluster/{cluster_name}"] = "shared"
    return tags


def zone_subnets(
    name: str,
    *,
    vpc_id: pulumi.Input[str],
    zones: Sequence[str],
    layout: Mapping[str, Sequence[str]],
    cluster_name: str | None,
    opts: pulumi.ResourceOptions,
) -> ZoneSubnets:
    """A public, a private and a database subnet per zone (``<name>-<tier>-<i>``), at the CIDRs of
    ``layout`` (:func:`plan_subnets`); none maps public IPs on launch."""
    subnets: ZoneSubnets = {tier: [] for tier in TIERS}
    for i, zone in enumerate(zones):
        subnets["public"].append(
            aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=vpc_id,
                cidr_block=layout["public"][i],
                availability_zone=zone,
                # Public subnets hold only load balancers and NAT gateways, which get their own
                # addresses; nothing launched here receives a public IP implicitly.
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-public-{i}", "tier": "public", **lb_tags("elb", cluster_name)},
                opts=opts,
            )
        )
        subnets["private"].append(
            aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=vpc_id,
                cidr_block=layout["private"][i],
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={
                    "Name": f"{name}-private-{i}",
                    "tier": "private",
                    **lb_tags("internal-elb", cluster_name),
                    # Karpenter's node classes launch into the subnets carrying this tag: the private ones.
                    **({"karpenter.sh/discovery": cluster_name} if cluster_name else {}),
                },
                opts=opts,
            )
        )
        subnets["database"].append(
            aws.ec2.Subnet(
                f"{name}-database-{i}",
                vpc_id=vpc_id,
                cidr_block=layout["database"][i],
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-database-{i}", "tier": "database"},
                opts=opts,
            )
        )
    return subnets
