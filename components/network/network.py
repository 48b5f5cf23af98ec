"""Network: a VPC across availability zones with public, private and database subnets."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext, lookup
from components.iam import service_trust_policy
from components.network.endpoints import (
    ENDPOINT_SERVICE_PURPOSES,
    ENDPOINTS_WITHOUT_POLICY,
    INTERFACE_ENDPOINT_SERVICES,
    endpoint_policy,
)


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
        flow_logs: VPC flow logs (traffic type ALL) to a CloudWatch log group. On by default.
        flow_logs_kms_key_arn: ARN of the KMS key that encrypts the flow-log group (its key policy must admit
            the CloudWatch Logs service principal, as :class:`components.keys.Keys`' logs key does).
            Required while ``flow_logs`` is on: the component never creates an unencrypted log group.
        flow_logs_retention_days: Retention of the flow-log group, one of CloudWatch's periods.
        flow_logs_aggregation_seconds: Flow-log aggregation interval, 60 or 600 seconds.
        flow_logs_protect: CloudWatch deletion protection on the flow-log group (forensics survive a destroy).
        s3_gateway_endpoint: A gateway endpoint for S3 on the private and database route tables (free; keeps
            artifact and image-layer traffic off the NAT gateways).
        interface_endpoints: Interface endpoints for :attr:`interface_endpoint_services` in the private
            subnets, private DNS on, behind a security group that admits HTTPS from the VPC only, each with
            :func:`endpoint_policy` (but those in :data:`ENDPOINTS_WITHOUT_POLICY`).
        interface_endpoint_services: Service suffixes (``com.amazonaws.<region>.<suffix>``) to create
            interface endpoints for, from :data:`ENDPOINT_SERVICE_PURPOSES`. The S3 interface endpoint gets
            private DNS for all resolvers (``private_dns_only_for_inbound_resolver_endpoint=False``), so the
            SDKs' default S3 host names resolve to its addresses in the VPC instead of to the gateway
            endpoint's public ranges.
        aws_context: Account, region and partition; looked up through the provider when omitted.
    """

    cidr: str
    availability_zones: list[str]
    nat_gateways: Literal["single", "per-zone"] = "per-zone"
    cluster_name: str | None = None
    flow_logs: bool = True
    flow_logs_kms_key_arn: pulumi.Input[str] | None = None
    flow_logs_retention_days: int = 365
    flow_logs_aggregation_seconds: Literal[60, 600] = 600
    flow_logs_protect: bool = False
    s3_gateway_endpoint: bool = True
    interface_endpoints: bool = True
    interface_endpoint_services: Sequence[str] = INTERFACE_ENDPOINT_SERVICES
    aws_context: AwsContext | None = None


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

    Hardening: the VPC's default security group has no rules, so nothing can rely on it; private and
    database subnets never map public IPs; every flow (ALL traffic) is logged to a KMS-encrypted log group;
    S3 (gateway) and, where enabled, the interface endpoints of
    :data:`components.network.endpoints.ENDPOINT_SERVICE_PURPOSES` keep AWS API traffic inside the VPC.

    Security-group rules are separate ``aws.vpc.SecurityGroupIngressRule``/``EgressRule`` resources (the
    provider's recommended form; one rule per resource, each visible to the policy pack), never inline
    ``ingress``/``egress`` blocks on ``aws.ec2.SecurityGroup``.

    Outputs: ``vpc_id``, ``vpc_cidr``, ``public_subnet_ids``, ``private_subnet_ids``,
    ``database_subnet_ids``, ``private_subnet_cidrs``/``database_subnet_cidrs`` (plain lists),
    ``nat_gateway_ids``, ``private_route_table_ids``, ``database_route_table_id``,
    ``endpoint_security_group_id`` (None without interface endpoints), ``flow_log_group_name``/``_arn``
    (None without flow logs).
    """

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:network:Network", name, None, opts)
        if len(args.availability_zones) < 2:
            raise ValueError("Network needs at least two availability zones")
        unknown = sorted(set(args.interface_endpoint_services) - set(ENDPOINT_SERVICE_PURPOSES))
        if unknown:
            raise ValueError(
                f"interface endpoint services {unknown} are not offered; choose from {sorted(ENDPOINT_SERVICE_PURPOSES)}"
            )
        if args.flow_logs and args.flow_logs_kms_key_arn is None:
            raise ValueError(
                "flow logs need a KMS key: pass flow_logs_kms_key_arn (e.g. Keys.logs_key_arn) "
                "or opt out with flow_logs=False"
            )
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

        self.private_route_tables: list[aws.ec2.RouteTable] = []
        for i in range(len(zones)):
            nat = self.nat_gateways[i if args.nat_gateways == "per-zone" else 0]
            rt = aws.ec2.RouteTable(
                f"{name}-private-{i}",
                vpc_id=self.vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
                tags={"Name": f"{name}-private-{i}"},
                opts=child,
            )
            self.private_route_tables.append(rt)
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

        # The default security group keeps no rules: anything launched without an explicit group is isolated.
        self.default_security_group = aws.ec2.DefaultSecurityGroup(
            f"{name}-default",
            vpc_id=self.vpc.id,
            ingress=[],
            egress=[],
            tags={"Name": f"{name}-default-deny-all"},
            opts=child,
        )

        needs_context = args.s3_gateway_endpoint or args.interface_endpoints or args.flow_logs
        ctx = (args.aws_context or lookup(self)) if needs_context else None

        self.s3_endpoint: aws.ec2.VpcEndpoint | None = None
        if args.s3_gateway_endpoint and ctx is not None:
            self.s3_endpoint = aws.ec2.VpcEndpoint(
                f"{name}-s3",
                vpc_id=self.vpc.id,
                vpc_endpoint_type="Gateway",
                service_name=f"com.amazonaws.{ctx.region}.s3",
                route_table_ids=[*(rt.id for rt in self.private_route_tables), self.database_route_table.id],
                tags={"Name": f"{name}-s3"},
                opts=child,
            )

        self.endpoint_security_group: aws.ec2.SecurityGroup | None = None
        self.interface_endpoints: dict[str, aws.ec2.VpcEndpoint] = {}
        if args.interface_endpoints and args.interface_endpoint_services and ctx is not None:
            sg = aws.ec2.SecurityGroup(
                f"{name}-endpoints",
                description="Interface VPC endpoints: HTTPS from inside the VPC only",
                vpc_id=self.vpc.id,
                tags={"Name": f"{name}-endpoints"},
                opts=child,
            )
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-endpoints-https",
                security_group_id=sg.id,
                description="HTTPS from the VPC",
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                cidr_ipv4=self.vpc.cidr_block,
                opts=child,
            )
            # No egress rule: endpoint network interfaces only answer connections (security groups are
            # stateful), so the group needs none.
            self.endpoint_security_group = sg
            for service in args.interface_endpoint_services:
                slug = service.replace(".", "-")
                self.interface_endpoints[service] = aws.ec2.VpcEndpoint(
                    # "-s3" is the gateway endpoint's name; the S3 interface endpoint is "-s3-interface".
                    f"{name}-{slug}" if service != "s3" else f"{name}-s3-interface",
                    vpc_id=self.vpc.id,
                    vpc_endpoint_type="Interface",
                    service_name=f"com.amazonaws.{ctx.region}.{service}",
                    private_dns_enabled=True,
                    # S3 supports both endpoint types: with a gateway endpoint in the VPC, AWS defaults private
                    # DNS to inbound-resolver queries only, and in-VPC clients would keep resolving S3's public
                    # addresses (routed to the gateway, outside any NetworkPolicy ipBlock we can write).
                    dns_options=aws.ec2.VpcEndpointDnsOptionsArgs(
                        dns_record_ip_type="ipv4", private_dns_only_for_inbound_resolver_endpoint=False
                    )
                    if service == "s3"
                    else None,
                    policy=None
                    if service in ENDPOINTS_WITHOUT_POLICY
                    else endpoint_policy(
                        ctx.account_id, service=service, region=ctx.region, partition=ctx.partition
                    ),
                    subnet_ids=[s.id for s in self.private_subnets],
                    security_group_ids=[sg.id],
                    tags={"Name": f"{name}-{slug}"},
                    opts=child,
                )

        self.flow_log_group: aws.cloudwatch.LogGroup | None = None
        self.flow_log: aws.ec2.FlowLog | None = None
        if args.flow_logs and ctx is not None:
            self.flow_log_group = aws.cloudwatch.LogGroup(
                f"{name}-flow-logs",
                name=f"/aws/vpc/flow-logs/{name}",
                kms_key_id=args.flow_logs_kms_key_arn,
                retention_in_days=args.flow_logs_retention_days,
                deletion_protection_enabled=args.flow_logs_protect,
                tags={"Name": f"{name}-flow-logs"},
                opts=child,
            )
            role = aws.iam.Role(
                f"{name}-flow-logs",
                description=f"VPC flow logs of {name} to its CloudWatch log group",
                assume_role_policy=json.dumps(
                    service_trust_policy(
                        "vpc-flow-logs.amazonaws.com",
                        source_account=ctx.account_id,
                        source_arn_pattern=ctx.arn("ec2", "vpc-flow-log/*"),
                    )
                ),
                tags={"Name": f"{name}-flow-logs"},
                opts=child,
            )
            flow_policy = aws.iam.RolePolicy(
                f"{name}-flow-logs",
                role=role.id,
                policy=self.flow_log_group.arn.apply(
                    lambda arn: json.dumps(
                        {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Sid": "WriteToTheFlowLogGroupOnly",
                                    "Effect": "Allow",
                                    "Action": [
                                        "logs:CreateLogStream",
                                        "logs:PutLogEvents",
                                        "logs:DescribeLogStreams",
                                    ],
                                    "Resource": [arn, f"{arn}:*"],
                                },
                                {
                                    # DescribeLogGroups takes no resource ARN: scoped to the group it was
                                    # never granted. It lists group names only.
                                    "Sid": "FindTheFlowLogGroup",
                                    "Effect": "Allow",
                                    "Action": "logs:DescribeLogGroups",
                                    "Resource": "*",
                                },
                            ],
                        }
                    )
                ),
                opts=child,
            )
            self.flow_log = aws.ec2.FlowLog(
                f"{name}-flow-logs",
                vpc_id=self.vpc.id,
                traffic_type="ALL",
                log_destination_type="cloud-watch-logs",
                log_destination=self.flow_log_group.arn,
                iam_role_arn=role.arn,
                max_aggregation_interval=args.flow_logs_aggregation_seconds,
                tags={"Name": f"{name}-flow-logs"},
                # Deliveries start at once: the role must already be allowed to write.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[flow_policy]),
            )

        self.vpc_id = self.vpc.id
        self.vpc_cidr = self.vpc.cidr_block
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in self.public_subnets])
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in self.private_subnets])
        self.database_subnet_ids = pulumi.Output.all(*[s.id for s in self.database_subnets])
        # Plain values, known before anything is created: what a NetworkPolicy or a security group needs.
        self.private_subnet_cidrs: list[str] = list(layout["private"])
        self.database_subnet_cidrs: list[str] = list(layout["database"])
        self.nat_gateway_ids = pulumi.Output.all(*[n.id for n in self.nat_gateways])
        self.private_route_table_ids = pulumi.Output.all(*[rt.id for rt in self.private_route_tables])
        self.database_route_table_id = self.database_route_table.id
        self.endpoint_security_group_id = (
            self.endpoint_security_group.id if self.endpoint_security_group is not None else None
        )
        self.flow_log_group_name = self.flow_log_group.name if self.flow_log_group is not None else None
        self.flow_log_group_arn = self.flow_log_group.arn if self.flow_log_group is not None else None
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "vpc_cidr": self.vpc_cidr,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "database_subnet_ids": self.database_subnet_ids,
                "nat_gateway_ids": self.nat_gateway_ids,
                "private_route_table_ids": self.private_route_table_ids,
                "database_route_table_id": self.database_route_table_id,
                "endpoint_security_group_id": self.endpoint_security_group_id,
                "flow_log_group_name": self.flow_log_group_name,
                "flow_log_group_arn": self.flow_log_group_arn,
            }
        )
