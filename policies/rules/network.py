"""Network: no internet ingress to administrative/database/all ports, flow logs on every VPC, the
default security group without rules, private subnets without public IPs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from mlops_platform.policies.rules._common import (
    Ctx,
    Res,
    Stack,
    actions,
    as_list,
    public_allow_statements,
    resources_of,
    sid,
    truthy,
)
from mlops_platform.policies.rules._meta import RELAXED_DEV, STR_LIST, Prop, cis_aws
from mlops_platform.policies.rules._registry import resource_rule, stack_rule

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SUBNET = "aws:ec2/subnet:Subnet"
OPEN_V4, OPEN_V6 = "0.0.0.0/0", "::/0"
DEFAULT_PORTS = [22, 3389, 5432, 3306]


def _ports(protocol: Any, from_port: Any, to_port: Any) -> tuple[int, int] | None:
    proto = str(protocol if protocol is not None else "-1").lower()
    if proto in ("-1", "all"):
        return (0, 65535)
    if proto not in ("tcp", "6", "udp", "17"):
        return None
    lo = int(from_port) if from_port is not None else 0
    hi = int(to_port) if to_port is not None else lo
    return (lo, hi)


def _findings(rule: dict[str, Any], open_sources: list[str], ports: list[int]) -> Iterator[str]:
    span = _ports(rule.get("protocol", rule.get("ipProtocol")), rule.get("fromPort"), rule.get("toPort"))
    if span is None or not open_sources:
        return
    lo, hi = span
    if lo <= 0 and hi >= 65535:
        yield f"ingress from {', '.join(open_sources)} to all ports"
        return
    hit = [p for p in ports if lo <= p <= hi]
    if hit:
        yield f"ingress from {', '.join(open_sources)} to port(s) {', '.join(map(str, hit))}"


@resource_rule(
    "net-no-open-ingress",
    SECURITY_GROUP,
    SG_RULE,
    INGRESS_RULE,
    DEFAULT_SG,
    description="No security group admits 0.0.0.0/0 or ::/0 to SSH, RDP, database ports or all ports.",
    severity="critical",
    remediation="Admit these ports only from security groups or private CIDRs.",
    framework=cis_aws("5.2"),
    checkov=("CKV_AWS_24", "CKV_AWS_25", "CKV_AWS_277"),
    prowler=("ec2_securitygroup_allow_ingress_from_internet_to_any_port",),
    props={"restrictedPorts": Prop({"type": "array", "items": {"type": "integer"}}, [22, 3389, 5432, 3306])},
)
def no_open_ingress(res: Res, ctx: Ctx) -> Iterator[str]:
    ports = [int(p) for p in ctx.get("restrictedPorts")]
    rules: list[dict[str, Any]] = []
    if res.type in (SECURITY_GROUP, DEFAULT_SG):
        rules = [r for r in as_list(res.get("ingress")) if isinstance(r, dict)]
    elif res.type == SG_RULE and res.get("type") == "ingress":
        rules = [res.everything()]
    elif res.type == INGRESS_RULE:
        rules = [
            {
                **res.everything(),
                "cidrBlocks": as_list(res.get("cidrIpv4")),
                "ipv6CidrBlocks": as_list(res.get("cidrIpv6")),
            }
        ]
    for rule in rules:
        sources = [
            c
            for c in as_list(rule.get("cidrBlocks")) + as_list(rule.get("ipv6CidrBlocks"))
            if c in (OPEN_V4, OPEN_V6)
        ]
        yield from _findings(rule, sources, ports)


@resource_rule(
    "net-private-subnet-no-public-ip",
    SUBNET,
    description=(
        "Private subnets never map public IPs on launch; public subnets (tier=public) only when "
        "allowPublicSubnets is set."
    ),
    severity="high",
    remediation="Set map_public_ip_on_launch=False.",
    checkov=("CKV_AWS_130",),
    prowler=("vpc_subnet_no_public_ip_by_default",),
    props={"allowPublicSubnets": Prop({"type": "boolean"}, False)},
)
def private_subnet_public_ip(res: Res, ctx: Ctx) -> Iterator[str]:
    if not truthy(res.get("mapPublicIpOnLaunch")):
        return
    tags = res.tags
    public = tags.get("kubernetes.io/role/elb") == "1" or tags.get("tier") == "public"
    if not public:
        yield "a private subnet maps public IPs on launch"
    elif not ctx.get("allowPublicSubnets"):
        yield (
            "a public subnet maps public IPs on launch (load balancers and NAT gateways get their own "
            "addresses; set allowPublicSubnets to permit it)"
        )


@stack_rule(
    "net-vpc-flow-logs",
    description="Every VPC has a flow log capturing ALL traffic.",
    severity="medium",
    remediation="Add aws.ec2.FlowLog(vpc_id=vpc.id, traffic_type='ALL') to an encrypted log group.",
    enforcement=RELAXED_DEV,
    framework=cis_aws("3.7"),
    checkov=("CKV2_AWS_11",),
    prowler=("vpc_flow_logs_enabled",),
)
def flow_logs(stack: Stack, ctx: Ctx) -> Iterator[tuple[str, str]]:
    for vpc in stack.of_type(VPC):
        ids = [v for v in (vpc.get("id"), vpc.get("vpcId")) if isinstance(v, str)]
        logs = stack.referencing(vpc, [FLOW_LOG], "vpcId", ids)
        if not logs:
            yield f"VPC {vpc.name!r} has no flow log", vpc.urn
        elif not any(str(f.get("trafficType")) == "ALL" for f in logs):
            yield f"VPC {vpc.name!r} flow logs do not capture ALL traffic", vpc.urn


@stack_rule(
    "net-default-sg-closed",
    description="Every VPC's default security group is managed and has no rules.",
    severity="medium",
    remediation="Adopt it with aws.ec2.DefaultSecurityGroup(vpc_id=vpc.id) and no ingress/egress.",
    framework=cis_aws("5.4"),
    checkov=("CKV2_AWS_12",),
    prowler=("ec2_securitygroup_default_restrict_traffic",),
)
def default_sg(stack: Stack, ctx: Ctx) -> Iterator[tuple[str, str]]:
    for vpc in stack.of_type(VPC):
        ids = [v for v in (vpc.get("id"),) if isinstance(v, str)]
        managed = stack.referencing(vpc, [DEFAULT_SG], "vpcId", ids)
        if not managed:
            yield (
                (
                    f"VPC {vpc.name!r} leaves its default security group unmanaged (it allows all traffic "
                    "between its members); adopt it with DefaultSecurityGroup and no rules"
                ),
                vpc.urn,
            )
        for sg in managed:
            if as_list(sg.get("ingress")) or as_list(sg.get("egress")):
                yield f"the default security group of VPC {vpc.name!r} has rules", sg.urn


VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


@resource_rule(
    "net-vpc-endpoint-policy",
    VPC_ENDPOINT,
    description=(
        "Interface VPC endpoints carry a policy that admits only pinned principals (e.g. aws:PrincipalAccount), "
        "except the services in endpointsWithoutPolicy."
    ),
    severity="medium",
    remediation=(
        "Give the endpoint a policy whose '*' principal is pinned by aws:PrincipalAccount (or an org/ARN "
        "condition); list a service in endpointsWithoutPolicy only when its callers are unsigned (STS's "
        "AssumeRoleWithWebIdentity)."
    ),
    prowler=("vpc_endpoint_connections_trust_boundaries",),
    props={"endpointsWithoutPolicy": Prop(STR_LIST, ["sts"])},
)
def endpoint_policy(res: Res, ctx: Ctx) -> Iterator[str]:
    """Interface endpoints carry a policy, and none of its statements admits any principal without a pinning
    condition (an account, organisation or ARN): credentials of other accounts cannot use our endpoints."""
    if str(res.get("vpcEndpointType") or "Gateway") != "Interface":
        return
    service = str(res.get("serviceName") or "")
    suffix = service.split(".", 3)[-1] if service.count(".") >= 3 else service
    if suffix in {str(s) for s in ctx.get("endpointsWithoutPolicy")}:
        return
    document = res.get("policy")
    if not document:
        yield f"interface endpoint {service or res.name} has the default full-access policy"
        return
    for stmt in public_allow_statements(document):
        if suffix == "s3" and _ecr_layer_reads_only(stmt):
            continue
        yield f"interface endpoint {service or res.name}: {sid(stmt)} admits any principal unconditioned"


_ECR_LAYER_OBJECTS = re.compile(r"arn:aws[\w-]*:s3:::prod-[a-z0-9-]+-starport-layer-bucket/\*")


def _ecr_layer_reads_only(stmt: dict[str, Any]) -> bool:
    """A statement granting only ``s3:GetObject`` on ECR's AWS-owned layer bucket: image pulls download their
    layers through URLs ECR presigns with its own account's credentials, so an S3 endpoint must admit them."""
    resources = resources_of(stmt)
    return (
        actions(stmt) == ["s3:GetObject"]
        and bool(resources)
        and all(_ECR_LAYER_OBJECTS.fullmatch(r) for r in resources)
        and "NotResource" not in stmt
        and "NotAction" not in stmt
    )
