"""The two-phase first deploy, proven on the rendered dev, staging and prod graphs.

Phase 1 (`pulumi up --target` of `mlops plan ENV --layer aws --format urns`, from outside the VPC) must be
closed under dependencies, or the engine refuses it ("untargeted create"); it must contain the in-VPC deploy
runner; the runner must sit in the private subnets without a public address and reach the API server; the
cluster's deployer access entry must name the runner's role, not whoever runs the program.
"""

from __future__ import annotations

import functools
import ipaddress
import json
from pathlib import Path

import pytest

from mlops_platform.mlops.engine import render
from mlops_platform.mlops.graph import Graph, Resource, reveal
from mlops_platform.mlops.layers import (
    KUBERNETES_PROVIDER,
    cluster_layer_urns,
    implicitly_targeted,
    is_kubernetes,
    layer,
    targets,
)

REPO = Path(__file__).resolve().parents[2]
STACKS = ["dev", "staging", "prod"]
PROJECT = "codebuild"


@functools.cache
def graph(stack: str) -> Graph:
    return render(stack, REPO)


def edges(res: Resource) -> set[str]:
    out = set(res.dependencies) | {d for deps in res.property_dependencies.values() for d in deps}
    out |= {u for u in (res.parent, res.provider) if u}
    return out


def one(g: Graph, type_: str, name_part: str) -> Resource:
    found = [r for r in g.of_type(type_) if name_part in r.name]
    assert len(found) == 1, (type_, name_part, [r.name for r in found])
    return found[0]


@pytest.mark.parametrize("stack", STACKS)
def test_aws_layer_is_closed_under_dependencies(stack: str) -> None:
    g = graph(stack)
    by_urn = g.by_urn()
    aws = {r.urn for r in layer(g, "aws")}
    for res in layer(g, "aws"):
        assert not is_kubernetes(res), res.urn
        for dep in edges(res):
            if dep in by_urn:
                assert dep in aws, f"{res.urn} depends on {dep}, which phase 1 would not create"


@pytest.mark.parametrize("stack", STACKS)
def test_implicitly_targeted_kubernetes_provider_depends_on_the_aws_layer_only(stack: str) -> None:
    # The engine targets providers whatever --target says: its dependencies must all be phase-1 creates.
    g = graph(stack)
    aws = {r.urn for r in layer(g, "aws")}
    provider = g.one(KUBERNETES_PROVIDER)
    assert implicitly_targeted(provider)
    deps = {d for d in edges(provider) if d in g.by_urn()}
    assert deps and deps <= aws


@pytest.mark.parametrize("stack", STACKS)
def test_layers_partition_the_graph_and_phase_two_has_every_kubernetes_object(stack: str) -> None:
    g = graph(stack)
    aws, cluster = layer(g, "aws"), layer(g, "cluster")
    assert len(aws) + len(cluster) == len(g.resources)
    assert {r.urn for r in g.resources if is_kubernetes(r)} <= cluster_layer_urns(g)
    # The whole data layer and the cluster itself come up in phase 1.
    aws_types = {r.type for r in aws}
    for needed in (
        "aws:ec2/vpc:Vpc",
        "aws:eks/cluster:Cluster",
        "aws:rds/instance:Instance",
        "aws:kms/key:Key",
        "aws:codebuild/project:Project",
        "aws:eks/accessEntry:AccessEntry",
        "aws:ecr/repository:Repository",
    ):
        assert needed in aws_types, needed


@pytest.mark.parametrize("stack", STACKS)
def test_target_list_is_engine_urns_without_providers(stack: str) -> None:
    g = graph(stack)
    urns = targets(g)
    assert urns and len(urns) == len(set(urns))
    assert all("pulumi:pulumi:Stack" not in u for u in urns)
    assert all(u.startswith(f"urn:pulumi:{stack}::mlops-platform::") for u in urns)
    assert not any("pulumi:providers:" in u.split("::")[2] for u in urns)
    assert g.one("aws:eks/cluster:Cluster").urn in urns


def test_target_urns_carry_the_parents_full_qualified_type() -> None:
    """The engine's URN of a grandchild names every ancestor's type but the root stack's
    (pkg/resource/deploy: generateURN uses parent.QualifiedType()); so does the offline engine's."""
    g = graph("dev")
    table = next(r for r in g.resources if r.type == "aws:ec2/routeTable:RouteTable")
    assert "::mlops:platform:MlopsPlatform$mlops:network:Network$aws:ec2/routeTable:RouteTable::" in table.urn
    assert table.urn in targets(g)


@pytest.mark.parametrize("stack", STACKS)
def test_runner_is_private_in_the_private_subnets(stack: str) -> None:
    g = graph(stack)
    project = reveal(g.one("aws:codebuild/project:Project").inputs)
    vpc = project["vpcConfig"]
    private = {
        reveal(s.inputs)["cidrBlock"]: s for s in g.of_type("aws:ec2/subnet:Subnet") if "private" in s.name
    }
    assert private, "no private subnets rendered"
    private_ids = {s.outputs.get("id") or s.id for s in private.values()}
    assert set(vpc["subnets"]) <= private_ids
    assert len(vpc["subnets"]) == len(private)
    # None of them maps public IPs (CodeBuild gives a build no public address; egress is through NAT).
    for subnet in private.values():
        assert not reveal(subnet.inputs).get("mapPublicIpOnLaunch")
    vpc_cidr = reveal(g.one("aws:ec2/vpc:Vpc").inputs)["cidrBlock"]
    for cidr in private:
        assert ipaddress.IPv4Network(cidr).subnet_of(ipaddress.IPv4Network(vpc_cidr))
    env = project["environment"]
    assert env["privilegedMode"] is False
    assert project["buildTimeout"] <= 480
    assert project["encryptionKey"].startswith("arn:aws:kms:")
    assert project["source"]["type"] == "S3"
    assert project["source"]["location"].endswith(f"deploy-sources/{stack}/source.zip")
    names = {v["name"]: v for v in env["environmentVariables"]}
    assert names["PULUMI_STACK"]["value"] == f"organization/mlops-platform/{stack}"
    assert names["PULUMI_BACKEND_URL"]["value"].startswith("s3://")
    assert all(v["type"] == "PLAINTEXT" for v in names.values())
    assert not any(w in n for n in names for w in ("PASSWORD", "TOKEN", "SECRET", "PASSPHRASE"))


@pytest.mark.parametrize("stack", STACKS)
def test_runner_security_group_reaches_the_api_server(stack: str) -> None:
    g = graph(stack)
    runner_sg = one(g, "aws:ec2/securityGroup:SecurityGroup", "deploy-runner")
    cp_sg = one(g, "aws:ec2/securityGroup:SecurityGroup", "eks-control-plane")
    cluster = reveal(g.one("aws:eks/cluster:Cluster").inputs)
    assert cp_sg.outputs.get("id") in cluster["vpcConfig"]["securityGroupIds"]
    assert cluster["vpcConfig"]["endpointPrivateAccess"] is True
    ingress = [
        r
        for r in g.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if reveal(r.inputs).get("referencedSecurityGroupId") == runner_sg.outputs.get("id")
    ]
    assert len(ingress) == 1
    rule = reveal(ingress[0].inputs)
    assert rule["securityGroupId"] == cp_sg.outputs.get("id")
    assert (rule["ipProtocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 443, 443)
    egress = [
        reveal(r.inputs)
        for r in g.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        if reveal(r.inputs).get("securityGroupId") == runner_sg.outputs.get("id")
    ]
    assert egress and all((e["fromPort"], e["toPort"]) == (443, 443) for e in egress)
    # No ingress at all into the runner.
    assert not [
        r
        for r in g.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if reveal(r.inputs).get("securityGroupId") == runner_sg.outputs.get("id")
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_deployer_access_entry_names_the_runner_role(stack: str) -> None:
    g = graph(stack)
    role = one(g, "aws:iam/role:Role", "deploy-role")
    entry = g.one("aws:eks/accessEntry:AccessEntry", "mlops-" + stack + "-eks-deployer")
    assert reveal(entry.inputs)["principalArn"] == role.outputs.get("arn")
    assert entry.property_dependencies.get("principalArn") == [role.urn]
    assoc = g.one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation", entry.name)
    assert reveal(assoc.inputs)["policyArn"].endswith("cluster-access-policy/AmazonEKSClusterAdminPolicy")
    # The caller's identity plays no part: no entry names the offline engine's caller.
    principals = {reveal(e.inputs)["principalArn"] for e in g.of_type("aws:eks/accessEntry:AccessEntry")}
    assert "arn:aws:iam::123456789012:role/offline" not in principals


@pytest.mark.parametrize("stack", STACKS)
def test_runner_can_manage_every_platform_role_and_attachment(stack: str) -> None:
    g = graph(stack)
    runner_role = one(g, "aws:iam/role:Role", "deploy-role")
    inputs = reveal(runner_role.inputs)
    assert inputs["path"] == "/mlops-deploy/"
    doc = json.loads(inputs["inlinePolicies"][0]["policy"])
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    allowed_attach = set(by_sid["AttachPlatformPolicies"]["Condition"]["ArnEquals"]["iam:PolicyARN"])
    for att in g.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        assert reveal(att.inputs)["policyArn"] in allowed_attach, att.name
    # Every other role is named <prefix>-..., so role/<prefix>-* covers it; the runner's own role is not.
    for role in g.of_type("aws:iam/role:Role"):
        if role is runner_role:
            continue
        assert role.name.startswith(f"mlops-{stack}-"), role.name
        assert not reveal(role.inputs).get("path"), role.name
    trust = json.loads(inputs["assumeRolePolicy"])
    (stmt,) = trust["Statement"]
    assert stmt["Principal"] == {"Service": "codebuild.amazonaws.com"}
    assert stmt["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(f":project/mlops-{stack}-deploy")
    # Every secret the program creates (the database tenants') is covered by the runner's secrets grant,
    # which never includes reading a value.
    secrets = by_sid["PlatformSecrets"]
    assert secrets["Resource"].endswith(f":secret:mlops-{stack}-*")
    assert not any("GetSecretValue" in a or a.endswith(":*") for a in secrets["Action"])
    tenant_secrets = g.of_type("aws:secretsmanager/secret:Secret")
    assert tenant_secrets
    for secret in tenant_secrets:
        assert str(reveal(secret.inputs)["name"]).startswith(f"mlops-{stack}-"), secret.name
    # Every bucket the platform creates is covered by the runner's bucket grant.
    for bucket in g.of_type("aws:s3/bucket:Bucket"):
        assert str(reveal(bucket.inputs).get("bucket", "")).startswith(f"mlops-{stack}-"), bucket.name
