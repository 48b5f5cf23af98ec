"""Network: a VPC across availability zones with public, private and database subnets.

The component wraps, the modules beside it build: :mod:`~mlops_platform.components.network.subnets` (the per-zone layout
and the subnets), :mod:`~mlops_platform.components.network.flow_logs` (the flow-log group, role and flow log) and
:mod:`~mlops_platform.components.network.endpoints` (the interface-endpoint catalogue and policies).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from mlops_platform.components.aws_context import AwsContext, lookup
from mlops_platform.components.network.endpoints import (
    ENDPOINT_SERVICE_PURPOSES,
    ENDPOINTS_WITHOUT_POLICY,
    INTERFACE_ENDPOINT_SERVICES,
    endpoint_policy,
)
from mlops_platform.components.network.flow_logs import flow_logs
from mlops_platform.components.network.subnets import plan_subnets, zone_subnets


@dataclass(frozen=True)
class NetworkArgs:
    """Arguments of :class:`Network`.

    Attributes:
        cidr: The VPC's IPv4 block (/16 to /20). Private subnets get an eighth of it each, public and
            database subnets a sixty-fourth.
        availability_zones: The zones to span, in order; at least two, at most four.
        nat_gateways: ``"single"`` (one NAT gateway in the first zone) or ``"per-zone"`` (one per zone, so a
            zone outage does not cut the others off).
        cluster_name: When set, subnets carry the EKS load-balancer discovery tags for that cluster, and the
            private subnets ``karpenter.sh/discovery=<cluster_name>`` (where Karpenter launches nodes).
        flow_logs: VPC flow logs (traffic type ALL) to a CloudWatch log group. On by default.
        flow_logs_kms_key_arn: ARN of the KMS key that encrypts the flow-log group (its key policy must admit
            the CloudWatch Logs service principal, as :class:`mlops_platform.components.keys.Keys`' logs key does).
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


def _check(args: NetworkArgs) -> None:
    """Refuse fewer than two zones, an endpoint service not offered, and flow logs without a key."""
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


class Network(pulumi.ComponentResource):
    """A VPC with public subnets (load balancers, NAT), private subnets (nodes, pods) and isolated
    database subnets (no route to the internet), one of each per availability zone.

    Hardening: the VPC's default security group has no rules, so nothing can rely on it; private and
    database subnets never map public IPs; every flow (ALL traffic) is logged to a KMS-encrypted log group;
    S3 (gateway) and, where enabled, the interface endpoints of
    :data:`mlops_platform.components.network.endpoints.ENDPOINT_SERVICE_PURPOSES` keep AWS API traffic inside the VPC.

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
        _check(args)
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
        subnets = zone_subnets(
            name, vpc_id=self.vpc.id, zones=zones, layout=layout, cluster_name=args.cluster_name, opts=child
        )
        self.public_subnets: list[aws.ec2.Subnet] = subnets["public"]
        self.private_subnets: list[aws.ec2.Subnet] = subnets["private"]
        self.database_subnets: list[aws.ec2.Subnet] = subnets["database"]

        # Routing: public subnets through the internet gateway, private ones through a NAT gateway (one per
        # zone or one in all), database subnets nowhere out of the VPC.
        self._public_routes(name, igw)
        per_zone = args.nat_gateways == "per-zone"
        self.nat_gateways = self._nat_gateways(name, len(zones) if per_zone else 1, igw)
        self.private_route_tables = self._private_routes(name, per_zone)
        self.database_route_table = self._database_routes(name)

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
            self.s3_endpoint = self._s3_gateway_endpoint(name, ctx)
        self.endpoint_security_group: aws.ec2.SecurityGroup | None = None
        self.interface_endpoints: dict[str, aws.ec2.VpcEndpoint] = {}
        if args.interface_endpoints and args.interface_endpoint_services and ctx is not None:
            self.endpoint_security_group = self._endpoint_security_group(name)
            self.interface_endpoints = self._interface_endpoints(
                name, args.interface_endpoint_services, ctx, self.endpoint_security_group
            )
        self.flow_log_group: aws.cloudwatch.LogGroup | None = None
        self.flow_log: aws.ec2.FlowLog | None = None
        if args.flow_logs and ctx is not None:
            self.flow_log_group, self.flow_log = flow_logs(
                name,
                vpc_id=self.vpc.id,
                ctx=ctx,
                kms_key_arn=args.flow_logs_kms_key_arn,
                retention_days=args.flow_logs_retention_days,
                aggregation_seconds=args.flow_logs_aggregation_seconds,
                protect=args.flow_logs_protect,
                parent=self,
            )
        self._outputs(layout)

    # ---- routing ------------------------------------------------------------------------------------

    def _public_routes(self, name: str, igw: aws.ec2.InternetGateway) -> None:
        """One route table for the public subnets, its default route through the internet gateway."""
        child = pulumi.ResourceOptions(parent=self)
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

    def _nat_gateways(self, name: str, count: int, igw: aws.ec2.InternetGateway) -> list[aws.ec2.NatGateway]:
        """``count`` NAT gateways, each with its Elastic IP, in the first ``count`` public subnets."""
        gateways: list[aws.ec2.NatGateway] = []
        for i in range(count):
            eip = aws.ec2.Eip(
                f"{name}-nat-{i}",
                domain="vpc",
                tags={"Name": f"{name}-nat-{i}"},
                opts=pulumi.ResourceOptions(parent=self),
            )
            gateways.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    allocation_id=eip.id,
                    subnet_id=self.public_subnets[i].id,
                    tags={"Name": f"{name}-nat-{i}"},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )
        return gateways

    def _private_routes(self, name: str, per_zone: bool) -> list[aws.ec2.RouteTable]:
        """A route table per private subnet, its default route through the zone's NAT gateway (or the one)."""
        child = pulumi.ResourceOptions(parent=self)
        tables: list[aws.ec2.RouteTable] = []
        for i, subnet in enumerate(self.private_subnets):
            nat = self.nat_gateways[i if per_zone else 0]
            rt = aws.ec2.RouteTable(
                f"{name}-private-{i}",
                vpc_id=self.vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
                tags={"Name": f"{name}-private-{i}"},
                opts=child,
            )
            tables.append(rt)
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{i}", subnet_id=subnet.id, route_table_id=rt.id, opts=child
            )
        return tables

    def _database_routes(self, name: str) -> aws.ec2.RouteTable:
        """One route table for the database subnets, with no route out of the VPC at all."""
        child = pulumi.ResourceOptions(parent=self)
        table = aws.ec2.RouteTable(
            f"{name}-database", vpc_id=self.vpc.id, tags={"Name": f"{name}-database"}, opts=child
        )
        for i, subnet in enumerate(self.database_subnets):
            aws.ec2.RouteTableAssociation(
                f"{name}-database-{i}", subnet_id=subnet.id, route_table_id=table.id, opts=child
            )
        return table

    # ---- VPC endpoints ------------------------------------------------------------------------------

    def _s3_gateway_endpoint(self, name: str, ctx: AwsContext) -> aws.ec2.VpcEndpoint:
        """The (free) S3 gateway endpoint on the private and database route tables."""
        return aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=self.vpc.id,
            vpc_endpoint_type="Gateway",
            service_name=f"com.amazonaws.{ctx.region}.s3",
            route_table_ids=[*(rt.id for rt in self.private_route_tables), self.database_route_table.id],
            tags={"Name": f"{name}-s3"},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _endpoint_security_group(self, name: str) -> aws.ec2.SecurityGroup:
        """The interface endpoints' group: HTTPS from the VPC in, and no egress rule (endpoint network
        interfaces only answer connections, and security groups are stateful)."""
        child = pulumi.ResourceOptions(parent=self)
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
        return sg

    def _interface_endpoints(
        self, name: str, services: Sequence[str], ctx: AwsContext, security_group: aws.ec2.SecurityGroup
    ) -> dict[str, aws.ec2.VpcEndpoint]:
        """An interface endpoint per service in the private subnets, private DNS on, behind the endpoint
        ``security_group``, each with :func:`endpoint_policy` but those in :data:`ENDPOINTS_WITHOUT_POLICY`."""
        endpoints: dict[str, aws.ec2.VpcEndpoint] = {}
        for service in services:
            slug = service.replace(".", "-")
            endpoints[service] = aws.ec2.VpcEndpoint(
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
                security_group_ids=[security_group.id],
                tags={"Name": f"{name}-{slug}"},
                opts=pulumi.ResourceOptions(parent=self),
            )
        return endpoints

    # ---- outputs ------------------------------------------------------------------------------------

    def _outputs(self, layout: dict[str, list[str]]) -> None:
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
