"""Network: a VPC across availability zones with public, private and database subnets."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class NetworkArgs:
    """Arguments of :class:`Network`.

    Attributes:
        cidr: The VPC's IPv4 block (/16 to /20). Private subnets get an eighth of it each, public and
            database subnets a sixty-fourth.
        availability_zones: The zones to span, in order; at least two, at most four.
        nat_gateways: ``"single"`` (one NAT gateway in the first zone) or ``"per-zone"`` (one per zone, so a
            zone outage does not cut the others off).
        cluster_name: When set, subnets carry the EKS load-balancer discovery tags for that cluster.
    """

    cidr: str
    availability_zones: list[str]
    nat_gateways: Literal["single", "per-zone"] = "per-zone"
    cluster_name: str | None = None


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


class Network(pulumi.ComponentResource):
    """A VPC with public subnets (load balancers, NAT), private subnets (nodes, pods) and isolated
    database subnets (no route to the internet), one of each per availability zone.

    Outputs: ``vpc_id``, ``vpc_cidr``, ``public_subnet_ids``, ``private_subnet_ids``,
    ``database_subnet_ids``, ``nat_gateway_ids``.
    """

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:network:Network", name, None, opts)
        if len(args.availability_zones) < 2:
            raise ValueError("Network needs at least two availability zones")
        child = pulumi.ResourceOptions(parent=self)
        zones = args.availability_zones
        layout = plan_subnets(args.cidr, len(zones))

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": f"{name}-vpc"},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=self.vpc.id, tags={"Name": f"{name}-igw"}, opts=child
        )

        def lb_tags(role: str) -> dict[str, str]:
            tags = {f"kubernetes.io/role/{role}": "1"}
            if args.cluster_name:
                tags[f"kubernetes.io/cluster/{args.cluster_name}"] = "shared"
            return tags

        self.public_subnets: list[aws.ec2.Subnet] = []
        self.private_subnets: list[aws.ec2.Subnet] = []
        self.database_subnets: list[aws.ec2.Subnet] = []
        for i, zone in enumerate(zones):
            self.public_subnets.append(
                aws.ec2.Subnet(
                    f"{name}-public-{i}",
                    vpc_id=self.vpc.id,
                    cidr_block=layout["public"][i],
                    availability_zone=zone,
                    # Public subnets hold only load balancers and NAT gateways, which get their own
                    # addresses; nothing launched here receives a public IP implicitly.
                    map_public_ip_on_launch=False,
                    tags={"Name": f"{name}-public-{i}", "tier": "public", **lb_tags("elb")},
                    opts=child,
                )
            )
            self.private_subnets.append(
                aws.ec2.Subnet(
                    f"{name}-private-{i}",
                    vpc_id=self.vpc.id,
                    cidr_block=layout["private"][i],
                    availability_zone=zone,
                    map_public_ip_on_launch=False,
                    tags={"Name": f"{name}-private-{i}", "tier": "private", **lb_tags("internal-elb")},
                    opts=child,
                )
            )
            self.database_subnets.append(
                aws.ec2.Subnet(
                    f"{name}-database-{i}",
                    vpc_id=self.vpc.id,
                    cidr_block=layout["database"][i],
                    availability_zone=zone,
                    map_public_ip_on_launch=False,
                    tags={"Name": f"{name}-database-{i}", "tier": "database"},
                    opts=child,
                )
            )

        public_rt = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=self.vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags={"Name": f"{name}-public"},
            opts=child,
        )
        for i, subnet in enumerate(self.public_subnets):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}", subnet_id=subnet.id, route_table_id=public_rt.id, opts=child
            )

        nat_zones = zones if args.nat_gateways == "per-zone" else zones[:1]
        self.nat_gateways: list[aws.ec2.NatGateway] = []
        for i, _zone in enumerate(nat_zones):
            eip = aws.ec2.Eip(f"{name}-nat-{i}", domain="vpc", tags={"Name": f"{name}-nat-{i}"}, opts=child)
            self.nat_gateways.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    allocation_id=eip.id,
                    subnet_id=self.public_subnets[i].id,
                    tags={"Name": f"{name}-nat-{i}"},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )

        for i in range(len(zones)):
            nat = self.nat_gateways[i if args.nat_gateways == "per-zone" else 0]
            rt = aws.ec2.RouteTable(
                f"{name}-private-{i}",
                vpc_id=self.vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
                tags={"Name": f"{name}-private-{i}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{i}", subnet_id=self.private_subnets[i].id, route_table_id=rt.id, opts=child
            )

        # Database subnets have no route out of the VPC at all.
        self.database_route_table = aws.ec2.RouteTable(
            f"{name}-database", vpc_id=self.vpc.id, tags={"Name": f"{name}-database"}, opts=child
        )
        for i, subnet in enumerate(self.database_subnets):
            aws.ec2.RouteTableAssociation(
                f"{name}-database-{i}",
                subnet_id=subnet.id,
                route_table_id=self.database_route_table.id,
                opts=child,
            )

        self.vpc_id = self.vpc.id
        self.vpc_cidr = self.vpc.cidr_block
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in self.public_subnets])
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in self.private_subnets])
        self.database_subnet_ids = pulumi.Output.all(*[s.id for s in self.database_subnets])
        self.nat_gateway_ids = pulumi.Output.all(*[n.id for n in self.nat_gateways])
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "vpc_cidr": self.vpc_cidr,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "database_subnet_ids": self.database_subnet_ids,
                "nat_gateway_ids": self.nat_gateway_ids,
            }
        )
