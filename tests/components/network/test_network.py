"""Network under the recording monitor: subnets, NAT, endpoints, flow logs, the default security group."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlops_platform.components.aws_context import AwsContext
from mlops_platform.components.network.endpoints import INTERFACE_ENDPOINT_SERVICES
from mlops_platform.components.network.network import Network, NetworkArgs
from mlops_platform.components.network.subnets import plan_subnets
from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.graph import Graph

REPO = Path(__file__).resolve().parents[3]
CTX = AwsContext(account_id="210987654321", region="eu-west-1")
KEY = "arn:aws:kms:eu-west-1:210987654321:key/11111111-2222-4333-8444-555555555555"
ZONES3 = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]


def render(**overrides: Any) -> Graph:
    args: dict[str, Any] = {
        "cidr": "10.30.0.0/16",
        "availability_zones": ZONES3,
        "cluster_name": "test-eks",
        "flow_logs_kms_key_arn": KEY,
        "aws_context": CTX,
    }
    args.update(overrides)
    return run_callable(lambda: Network("net", NetworkArgs(**args)), root=REPO)


@pytest.fixture(scope="module")
def graph() -> Graph:
    return render(flow_logs_retention_days=365, flow_logs_protect=True)


def test_every_child_is_parented_to_the_component(graph: Graph) -> None:
    component = graph.one("mlops:network:Network", "net")
    for r in graph.resources:
        if r.type != "mlops:network:Network":
            assert r.parent == component.urn, r.name


def test_subnets_never_map_public_ips_and_carry_discovery_tags(graph: Graph) -> None:
    subnets = graph.of_type("aws:ec2/subnet:Subnet")
    assert len(subnets) == 9
    for s in subnets:
        assert s.inputs["mapPublicIpOnLaunch"] is False
    tags = {s.name: s.inputs["tags"] for s in subnets}
    assert tags["net-public-0"]["kubernetes.io/role/elb"] == "1"
    assert tags["net-private-2"]["kubernetes.io/role/internal-elb"] == "1"
    assert tags["net-private-2"]["kubernetes.io/cluster/test-eks"] == "shared"
    assert not any(k.startswith("kubernetes.io") for k in tags["net-database-0"])
    layout = plan_subnets("10.30.0.0/16", 3)
    assert [
        graph.one("aws:ec2/subnet:Subnet", f"net-database-{i}").inputs["cidrBlock"] for i in range(3)
    ] == (layout["database"])


def test_database_route_table_has_no_route_out(graph: Graph) -> None:
    rt = graph.one("aws:ec2/routeTable:RouteTable", "net-database")
    assert not rt.inputs.get("routes")


def test_per_zone_nat_gateways(graph: Graph) -> None:
    assert len(graph.of_type("aws:ec2/natGateway:NatGateway")) == 3
    nats = {n.outputs["id"] for n in graph.of_type("aws:ec2/natGateway:NatGateway")}
    used = {
        graph.one("aws:ec2/routeTable:RouteTable", f"net-private-{i}").inputs["routes"][0]["natGatewayId"]
        for i in range(3)
    }
    assert used == nats


def test_single_nat_gateway() -> None:
    graph = render(nat_gateways="single", interface_endpoints=False)
    nats = graph.of_type("aws:ec2/natGateway:NatGateway")
    assert len(nats) == 1
    for i in range(3):
        rt = graph.one("aws:ec2/routeTable:RouteTable", f"net-private-{i}")
        assert rt.inputs["routes"][0]["natGatewayId"] == nats[0].outputs["id"]


def test_default_security_group_has_no_rules(graph: Graph) -> None:
    sg = graph.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert sg.inputs["ingress"] == []
    assert sg.inputs["egress"] == []
    assert sg.inputs["vpcId"] == graph.one("aws:ec2/vpc:Vpc").outputs["id"]


def test_s3_gateway_endpoint_on_private_and_database_route_tables(graph: Graph) -> None:
    ep = graph.one("aws:ec2/vpcEndpoint:VpcEndpoint", "net-s3")
    assert ep.inputs["vpcEndpointType"] == "Gateway"
    assert ep.inputs["serviceName"] == "com.amazonaws.eu-west-1.s3"
    expected = [
        graph.one("aws:ec2/routeTable:RouteTable", f"net-private-{i}").outputs["id"] for i in range(3)
    ]
    expected.append(graph.one("aws:ec2/routeTable:RouteTable", "net-database").outputs["id"])
    assert ep.inputs["routeTableIds"] == expected
    public = graph.one("aws:ec2/routeTable:RouteTable", "net-public").outputs["id"]
    assert public not in ep.inputs["routeTableIds"]


def test_interface_endpoints_private_dns_in_private_subnets(graph: Graph) -> None:
    interface = [
        e
        for e in graph.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if e.inputs["vpcEndpointType"] == "Interface"
    ]
    assert sorted(e.inputs["serviceName"] for e in interface) == sorted(
        f"com.amazonaws.eu-west-1.{s}"
        for s in (
            "s3",
            "sts",
            "sns",
            "monitoring",
            "secretsmanager",
            "ecr.api",
            "ecr.dkr",
            "logs",
            "ec2",
            "ssm",
            "sqs",
            "eks",
        )
    )
    assert len(interface) == len(INTERFACE_ENDPOINT_SERVICES)
    private = [graph.one("aws:ec2/subnet:Subnet", f"net-private-{i}").outputs["id"] for i in range(3)]
    sg = graph.one("aws:ec2/securityGroup:SecurityGroup", "net-endpoints")
    for e in interface:
        assert e.inputs["privateDnsEnabled"] is True
        assert e.inputs["subnetIds"] == private
        assert e.inputs["securityGroupIds"] == [sg.outputs["id"]]


def test_endpoint_security_group_admits_https_from_the_vpc_only(graph: Graph) -> None:
    sg = graph.one("aws:ec2/securityGroup:SecurityGroup", "net-endpoints")
    assert "ingress" not in sg.inputs and "egress" not in sg.inputs
    rules = graph.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert len(rules) == 1
    rule = rules[0].inputs
    assert rule["securityGroupId"] == sg.outputs["id"]
    assert (rule["ipProtocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 443, 443)
    assert rule["cidrIpv4"] == "10.30.0.0/16"
    assert not graph.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")


def test_no_interface_endpoints_when_disabled() -> None:
    graph = render(interface_endpoints=False, s3_gateway_endpoint=True)
    endpoints = graph.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    assert [e.inputs["vpcEndpointType"] for e in endpoints] == ["Gateway"]
    assert not graph.of_type("aws:ec2/securityGroup:SecurityGroup")


def test_flow_logs_capture_all_traffic_to_an_encrypted_log_group(graph: Graph) -> None:
    group = graph.one("aws:cloudwatch/logGroup:LogGroup", "net-flow-logs")
    assert group.inputs["kmsKeyId"] == KEY
    assert group.inputs["retentionInDays"] == 365
    assert group.inputs["deletionProtectionEnabled"] is True
    flow = graph.one("aws:ec2/flowLog:FlowLog", "net-flow-logs")
    assert flow.inputs["trafficType"] == "ALL"
    assert flow.inputs["logDestinationType"] == "cloud-watch-logs"
    assert flow.inputs["logDestination"] == group.outputs["arn"]
    assert flow.inputs["vpcId"] == graph.one("aws:ec2/vpc:Vpc").outputs["id"]
    role = graph.one("aws:iam/role:Role", "net-flow-logs")
    assert flow.inputs["iamRoleArn"] == role.outputs["arn"]


def test_flow_log_role_is_scoped_to_its_log_group(graph: Graph) -> None:
    role = graph.one("aws:iam/role:Role", "net-flow-logs")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": "210987654321"}
    assert trust["Condition"]["ArnLike"] == {
        "aws:SourceArn": "arn:aws:ec2:eu-west-1:210987654321:vpc-flow-log/*"
    }
    policy = json.loads(graph.one("aws:iam/rolePolicy:RolePolicy", "net-flow-logs").inputs["policy"])
    arn = graph.one("aws:cloudwatch/logGroup:LogGroup", "net-flow-logs").outputs["arn"]
    statement, describe = policy["Statement"]
    assert statement["Resource"] == [arn, f"{arn}:*"]
    # DescribeLogGroups takes no resource ARN (parliament: RESOURCE_MISMATCH when scoped to the group).
    assert (describe["Action"], describe["Resource"]) == ("logs:DescribeLogGroups", "*")
    assert "logs:CreateLogGroup" not in statement["Action"]
    assert all(a.startswith("logs:") for a in statement["Action"])


def test_flow_logs_need_a_key() -> None:
    with pytest.raises(ValueError, match="flow_logs_kms_key_arn"):
        render(flow_logs_kms_key_arn=None)


def test_flow_logs_can_be_opted_out_explicitly() -> None:
    graph = render(flow_logs=False, flow_logs_kms_key_arn=None)
    assert not graph.of_type("aws:ec2/flowLog:FlowLog")
    assert not graph.of_type("aws:cloudwatch/logGroup:LogGroup")


def test_needs_two_zones() -> None:
    with pytest.raises(ValueError, match="two availability zones"):
        render(availability_zones=["eu-west-1a"])


def test_region_is_looked_up_when_not_given() -> None:
    graph = run_callable(
        lambda: Network(
            "net",
            NetworkArgs(
                cidr="10.40.0.0/16",
                availability_zones=["us-east-2a", "us-east-2b"],
                flow_logs_kms_key_arn=KEY,
            ),
        ),
        root=REPO,
        config={"aws:region": "us-east-2"},
    )
    assert graph.one("aws:ec2/vpcEndpoint:VpcEndpoint", "net-s3").inputs["serviceName"] == (
        "com.amazonaws.us-east-2.s3"
    )
    # Interface endpoints are on by default when used alone.
    assert len(graph.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")) == 1 + len(INTERFACE_ENDPOINT_SERVICES)


def test_flow_log_waits_for_its_role_policy(graph: Graph) -> None:
    """Delivery starts as soon as the flow log exists; the role must already be allowed to write."""
    flow_log = graph.one("aws:ec2/flowLog:FlowLog")
    (policy,) = [p for p in graph.of_type("aws:iam/rolePolicy:RolePolicy") if "flow" in p.name]
    assert policy.urn in flow_log.dependencies


def interface_endpoint(graph: Graph, service: str) -> Any:
    (ep,) = [
        e
        for e in graph.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if e.inputs["vpcEndpointType"] == "Interface"
        and e.inputs["serviceName"] == f"com.amazonaws.eu-west-1.{service}"
    ]
    return ep


def test_s3_interface_endpoint_answers_the_default_s3_names_inside_the_vpc(graph: Graph) -> None:
    # With the gateway endpoint in the same VPC, AWS would otherwise answer in-VPC queries for s3.<region>
    # with S3's public addresses, which MLflow's egress (the VPC CIDR on 443) does not admit.
    ep = interface_endpoint(graph, "s3")
    assert ep.name == "net-s3-interface"
    assert ep.inputs["privateDnsEnabled"] is True
    assert ep.inputs["dnsOptions"] == {
        "dnsRecordIpType": "ipv4",
        "privateDnsOnlyForInboundResolverEndpoint": False,
    }
    # The gateway endpoint stays for the database subnets' route table (and costs nothing).
    assert graph.one("aws:ec2/vpcEndpoint:VpcEndpoint", "net-s3").inputs["vpcEndpointType"] == "Gateway"


def test_interface_endpoints_admit_principals_of_the_account_only_but_sts(graph: Graph) -> None:
    for service in ("s3", "ecr.api", "ecr.dkr", "logs", "secretsmanager"):
        # (The S3 endpoint's second statement, ECR's layer downloads, is tested below.)
        statement = json.loads(interface_endpoint(graph, service).inputs["policy"])["Statement"][0]
        assert statement["Sid"] == "PrincipalsOfThisAccountOnly"
        assert statement["Effect"] == "Allow" and statement["Principal"] == "*"
        assert statement["Condition"] == {"StringEquals": {"aws:PrincipalAccount": "210987654321"}}
    # AssumeRoleWithWebIdentity is unsigned: an account condition would refuse every IRSA exchange.
    assert "policy" not in interface_endpoint(graph, "sts").inputs


def test_endpoint_set_is_chosen_by_the_caller() -> None:
    graph = render(interface_endpoint_services=("s3", "sts"))
    interface = [
        e.inputs["serviceName"]
        for e in graph.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if e.inputs["vpcEndpointType"] == "Interface"
    ]
    # Registration order follows the resolution of outputs, not the argument's order.
    assert sorted(interface) == ["com.amazonaws.eu-west-1.s3", "com.amazonaws.eu-west-1.sts"]


def test_unknown_endpoint_service_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\['ec3'\] are not offered"):
        render(interface_endpoint_services=("s3", "ec3"))


def test_s3_endpoint_admits_ecr_layer_downloads_other_endpoints_do_not() -> None:
    """With private DNS for every resolver all S3 traffic of the VPC goes through the S3 interface endpoint,
    ECR's presigned layer downloads included (signed by ECR's account, not ours): without this grant no node
    could pull an image."""
    graph = render()
    by_service = {
        e.inputs["serviceName"].rsplit(".", 1)[-1]: e
        for e in graph.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if e.inputs["vpcEndpointType"] == "Interface"
    }
    s3 = json.loads(by_service["s3"].inputs["policy"])["Statement"]
    layers = [s for s in s3 if s.get("Sid") == "EcrImageLayers"]
    assert layers == [
        {
            "Sid": "EcrImageLayers",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::prod-eu-west-1-starport-layer-bucket/*",
        }
    ]
    for service, endpoint in by_service.items():
        if service in ("s3", "sts"):
            continue
        statements = json.loads(endpoint.inputs["policy"])["Statement"]
        assert [s["Sid"] for s in statements] == ["PrincipalsOfThisAccountOnly"], service
