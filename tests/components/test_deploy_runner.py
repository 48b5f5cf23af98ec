"""DeployRunner on its own: the CodeBuild project, its security group, log group and deploy role."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_platform.components.aws_context import AwsContext
from mlops_platform.components.cluster.cluster import KubernetesCluster, KubernetesClusterArgs
from mlops_platform.components.cluster.node_groups import NodeGroupSpec
from mlops_platform.components.deploy_runner import (
    BUILDSPEC_PATH,
    DEPLOY_ROLE_PATH,
    DeployRunner,
    DeployRunnerArgs,
    backend_url,
    deploy_policy,
    source_key,
)
from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.graph import Graph, reveal
from mlops_platform.policies.rules.iam import is_wildcard_resource

CTX = AwsContext(account_id="123456789012", region="eu-west-1")
LOGS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/logs"
DATA_KEY = "arn:aws:kms:eu-west-1:123456789012:key/data"


def args(**overrides: Any) -> DeployRunnerArgs:
    values: dict[str, Any] = {
        "environment": "prod",
        "prefix": "mlops-prod",
        "vpc_id": "vpc-1",
        "subnet_ids": ["subnet-a", "subnet-b"],
        "state_bucket": "123456789012-eu-west-1-pulumi-state",
        "stack_name": "organization/mlops-platform/prod",
        "logs_key_arn": LOGS_KEY,
        "artifacts_key_arn": DATA_KEY,
        "aws_context": CTX,
        "log_retention_days": 365,
        "timeout_minutes": 150,
    }
    values.update(overrides)
    return DeployRunnerArgs(**values)


def render(**overrides: Any) -> Graph:
    return run_callable(lambda: DeployRunner("runner", args(**overrides)), config={"aws:region": "eu-west-1"})


@pytest.fixture(scope="module")
def graph() -> Graph:
    return render()


def test_project_runs_in_the_given_private_subnets_unprivileged(graph: Graph) -> None:
    project = reveal(graph.one("aws:codebuild/project:Project").inputs)
    sg = graph.one("aws:ec2/securityGroup:SecurityGroup")
    assert project["name"] == "mlops-prod-deploy"
    assert project["vpcConfig"] == {
        "vpcId": "vpc-1",
        "subnets": ["subnet-a", "subnet-b"],
        "securityGroupIds": [sg.outputs["id"]],
    }
    env = project["environment"]
    assert env["privilegedMode"] is False
    assert env["image"] == "aws/codebuild/amazonlinux-x86_64-standard:5.0"
    assert env["imagePullCredentialsType"] == "CODEBUILD"
    assert project["buildTimeout"] == 150 and project["queuedTimeout"] == 60
    assert project["concurrentBuildLimit"] == 1
    assert project["encryptionKey"] == DATA_KEY
    assert project["artifacts"] == {"type": "NO_ARTIFACTS"}
    assert project["source"] == {
        "type": "S3",
        "location": f"123456789012-eu-west-1-pulumi-state/{source_key('prod')}",
        "buildspec": BUILDSPEC_PATH,
    }
    variables = {v["name"]: v["value"] for v in env["environmentVariables"]}
    assert variables == {
        "PULUMI_BACKEND_URL": backend_url("123456789012-eu-west-1-pulumi-state", "eu-west-1"),
        "PULUMI_STACK": "organization/mlops-platform/prod",
        "POLICY_PACK_CONFIG": "policies/config/prod.json",
    }
    assert (
        variables["PULUMI_BACKEND_URL"]
        == "s3://123456789012-eu-west-1-pulumi-state?region=eu-west-1&awssdk=v2"
    )


def test_logs_go_to_an_encrypted_group_with_retention(graph: Graph) -> None:
    group = graph.one("aws:cloudwatch/logGroup:LogGroup")
    inputs = reveal(group.inputs)
    assert inputs == {
        "name": "/aws/codebuild/mlops-prod-deploy",
        "retentionInDays": 365,
        "kmsKeyId": LOGS_KEY,
    }
    logs = reveal(graph.one("aws:codebuild/project:Project").inputs)["logsConfig"]
    assert logs["cloudwatchLogs"] == {"status": "ENABLED", "groupName": "/aws/codebuild/mlops-prod-deploy"}
    assert logs["s3Logs"] == {"status": "DISABLED"}


def test_security_group_has_no_ingress_and_https_egress_only(graph: Graph) -> None:
    assert not graph.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    (egress,) = graph.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    rule = reveal(egress.inputs)
    assert (rule["ipProtocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 443, 443)


def test_role_is_trusted_by_this_project_only(graph: Graph) -> None:
    role = reveal(graph.one("aws:iam/role:Role").inputs)
    assert role["name"] == "mlops-prod-deploy" and role["path"] == DEPLOY_ROLE_PATH
    (stmt,) = json.loads(role["assumeRolePolicy"])["Statement"]
    assert stmt["Principal"] == {"Service": "codebuild.amazonaws.com"}
    assert stmt["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnEquals": {"aws:SourceArn": "arn:aws:codebuild:eu-west-1:123456789012:project/mlops-prod-deploy"},
    }


def policy() -> dict[str, dict[str, Any]]:
    doc = deploy_policy(
        CTX, prefix="mlops-prod", environment="prod", project_name="mlops-prod-deploy", state_bucket="state"
    )
    return {s["Sid"]: s for s in doc["Statement"]}


def test_deploy_policy_is_scoped_to_the_platform() -> None:
    stmts = policy()
    for stmt in stmts.values():
        actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
        assert "*" not in actions and "iam:*" not in actions, stmt["Sid"]
        resources = stmt["Resource"] if isinstance(stmt["Resource"], list) else [stmt["Resource"]]
        if all(is_wildcard_resource(r) for r in resources):
            # Unscoped resources only for actions that have none, and then only in the stack's region or
            # with the environment's tag on the request.
            cond = json.dumps(stmt.get("Condition", {}))
            scoped = ("aws:RequestedRegion", "aws:ResourceTag/environment", "kms:ResourceAliases")
            assert any(c in cond for c in scoped), stmt["Sid"]
    assert stmts["PlatformBuckets"]["Resource"] == "arn:aws:s3:::mlops-prod-*"
    data = (
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:GetObjectVersion",
        "s3:DeleteObjectVersion",
    )
    assert not set(data) & set(stmts["PlatformBuckets"]["Action"]), "configuration, not data"
    assert not any(
        a.endswith(("Object*", "*")) and "Bucket" not in a for a in stmts["PlatformBuckets"]["Action"]
    )
    assert "s3:PutBucketAcl" not in stmts["PlatformBuckets"]["Action"]
    aliases = stmts["PlatformKeyAliases"]["Resource"]
    assert aliases[0] == "arn:aws:kms:eu-west-1:123456789012:alias/mlops-prod-*"
    assert stmts["PlatformRoles"]["Resource"] == "arn:aws:iam::123456789012:role/mlops-prod-*"
    assert stmts["StateObjects"]["Resource"] == "arn:aws:s3:::state/.pulumi/*"
    assert stmts["BuildSource"]["Resource"] == "arn:aws:s3:::state/deploy-sources/prod/*"
    assert stmts["ManageEnvironmentKeys"]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/environment": "prod"}
    }
    assert stmts["SecretsAndStateKey"]["Condition"] == {
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": ["alias/pulumi-secrets"]}
    }
    # iam:AttachRolePolicy only of named AWS managed policies (no AdministratorAccess), never unconditioned.
    attach = stmts["AttachPlatformPolicies"]
    arns = attach["Condition"]["ArnEquals"]["iam:PolicyARN"]
    assert all(a.startswith("arn:aws:iam::aws:policy/") for a in arns)
    assert not any(a.endswith(("/AdministratorAccess", "/PowerUserAccess", "/IAMFullAccess")) for a in arns)
    assert not any(
        "iam:AttachRolePolicy" in s["Action"] for sid, s in stmts.items() if sid != "AttachPlatformPolicies"
    )


def test_runner_role_cannot_change_itself() -> None:
    # The role's ARN carries its path (role/mlops-deploy/mlops-prod-deploy): role/mlops-prod-* does not match.
    import fnmatch

    own = f"arn:aws:iam::123456789012:role{DEPLOY_ROLE_PATH}mlops-prod-deploy"
    for stmt in policy().values():
        resources = stmt["Resource"] if isinstance(stmt["Resource"], list) else [stmt["Resource"]]
        if any(a.startswith("iam:") for a in stmt["Action"]):
            assert not any(fnmatch.fnmatchcase(own, r) for r in resources), stmt["Sid"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"subnet_ids": []}, "private subnets"), ({"timeout_minutes": 600}, "timeout_minutes")],
)
def test_bad_arguments_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception, match=message):
        render(**overrides)


def test_cluster_deployer_entry_takes_an_output_role_arn() -> None:
    # The platform passes the runner role's ARN (an Output): the entry is "deployer" and depends on the role.
    def program() -> None:
        runner = DeployRunner("runner", args())
        KubernetesCluster(
            "c1",
            KubernetesClusterArgs(
                vpc_id="vpc-1",
                private_subnet_ids=["subnet-a", "subnet-b"],
                secrets_key_arn=DATA_KEY,
                logs_key_arn=LOGS_KEY,
                volume_key_arn=DATA_KEY,
                region="eu-west-1",
                system_nodes=NodeGroupSpec(["m6i.large"], 2, 3, 2),
                workload_nodes=NodeGroupSpec(["m6i.xlarge"], 0, 4, 1),
                admin_principal_arns=["arn:aws:iam::123456789012:role/admins"],
                deployer_principal_arn=runner.role_arn,
            ),
        )

    g = run_callable(program, config={"aws:region": "eu-west-1"})
    role = g.one("aws:iam/role:Role", "runner-role")
    entries = {e.name: e for e in g.of_type("aws:eks/accessEntry:AccessEntry")}
    assert set(entries) == {"c1-admin-0", "c1-deployer"}
    assert entries["c1-deployer"].property_dependencies["principalArn"] == [role.urn]
    assert reveal(entries["c1-deployer"].inputs)["principalArn"] == role.outputs["arn"]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("deployRunnerImage", "aws/codebuild/amazonlinux-x86_64-standard:latest", "not :latest"),
        ("deployRunnerImage", "aws/codebuild/amazonlinux-x86_64-standard", "must be an image reference"),
        ("deployRunnerTimeoutMinutes", "600", "must be at most 480, got 600"),
        ("deployRunnerComputeType", "BUILD_GENERAL1_2XLARGE", "must be one of"),
        ("deployStateBucket", "Not_A_Bucket", "an S3 bucket name"),
    ],
)
def test_bad_deploy_keys_name_the_key(key: str, value: str, message: str) -> None:
    from mlops_platform.components.platform.config import ConfigError, build

    values = {
        "mlops-platform:environment": "prod",
        "mlops-platform:owner": "ml-platform",
        "mlops-platform:costCenter": "cc-1",
        "mlops-platform:dataClassification": "internal",
        f"mlops-platform:{key}": value,
    }
    with pytest.raises(ConfigError) as err:
        build(values, region="eu-west-1", source="stacks/Pulumi.prod.yaml")
    (line,) = [line for line in err.value.lines() if key in line]
    assert line.startswith(f"stacks/Pulumi.prod.yaml: mlops-platform:{key}: ") and message in line


def test_deploy_defaults_and_state_bucket_override() -> None:
    from mlops_platform.components.platform.compute import state_bucket_name
    from mlops_platform.components.platform.config import build

    values = {
        "mlops-platform:environment": "dev",
        "mlops-platform:owner": "ml-platform",
        "mlops-platform:costCenter": "cc-1",
        "mlops-platform:dataClassification": "internal",
    }
    cfg = build(values, region="eu-west-1", source="s")
    assert state_bucket_name(cfg, "123456789012") == "123456789012-eu-west-1-pulumi-state"
    assert cfg.deploy.runner_image == "aws/codebuild/amazonlinux-x86_64-standard:5.0"
    custom = build(
        {**values, "mlops-platform:deployStateBucket": "acme-pulumi-state"}, region="eu-west-1", source="s"
    )
    assert state_bucket_name(custom, "123456789012") == "acme-pulumi-state"


def test_default_state_bucket_is_the_one_bootstrap_creates() -> None:
    from mlops_platform.components.platform.compute import state_bucket_name
    from mlops_platform.components.platform.config import build
    from mlops_platform.mlops.bootstrap import default_bucket_name

    values = {
        "mlops-platform:environment": "staging",
        "mlops-platform:owner": "ml-platform",
        "mlops-platform:costCenter": "cc-1",
        "mlops-platform:dataClassification": "internal",
    }
    cfg = build(values, region="eu-central-1", source="s")
    assert state_bucket_name(cfg, "210987654321") == default_bucket_name("210987654321", "eu-central-1")


def test_inline_policy_fits_iams_size_limit(graph: Graph) -> None:
    # IAM counts a role's inline policies together, without whitespace: at most 10,240 characters.
    role = reveal(graph.one("aws:iam/role:Role").inputs)
    total = sum(len("".join(p["policy"].split())) for p in role["inlinePolicies"])
    assert total <= 10240, total
    # Long prefixes and bucket names make it longer; leave room for them.
    assert total <= 8000, total


def test_deploy_policy_statements_in_order_and_each_named() -> None:
    doc = deploy_policy(
        CTX, prefix="mlops-prod", environment="prod", project_name="mlops-prod-deploy", state_bucket="state"
    )
    assert [s["Sid"] for s in doc["Statement"]] == [
        "RegionalPlatformServices",
        "EksPlatformCluster",
        "EksCreateAndCatalogue",
        "PlatformBuckets",
        "StateBucket",
        "StateObjects",
        "BuildSource",
        "SecretsAndStateKey",
        "CreateEnvironmentKeys",
        "ManageEnvironmentKeys",
        "PlatformKeyAliases",
        "ListKeys",
        "RdsManagedMasterSecret",
        "PlatformSecrets",
        "PlatformRoles",
        "PlatformInstanceProfiles",
        "AttachPlatformPolicies",
        "ClusterOidcProvider",
        "ServiceLinkedRoles",
        "PlatformQueues",
        "PlatformEventRules",
        "ThisProject",
    ]
    statements = {s["Sid"]: s for s in doc["Statement"]}
    assert statements["CreateEnvironmentKeys"]["Condition"] == {
        "StringEquals": {"aws:RequestTag/environment": "prod", "aws:RequestedRegion": "eu-west-1"}
    }
    assert statements["BuildSource"]["Resource"] == "arn:aws:s3:::state/deploy-sources/prod/*"
    assert statements["PlatformRoles"]["Resource"] == statements["AttachPlatformPolicies"]["Resource"]
    assert statements["PlatformRoles"]["Resource"] == "arn:aws:iam::123456789012:role/mlops-prod-*"
    assert "iam:AttachRolePolicy" not in statements["PlatformRoles"]["Action"]
    assert statements["PlatformInstanceProfiles"]["Resource"] == (
        "arn:aws:iam::123456789012:instance-profile/mlops-prod-*"
    )
    assert statements["PlatformQueues"]["Resource"] == "arn:aws:sqs:eu-west-1:123456789012:mlops-prod-*"
    assert (
        statements["PlatformEventRules"]["Resource"]
        == "arn:aws:events:eu-west-1:123456789012:rule/mlops-prod-*"
    )
    assert statements["ClusterOidcProvider"]["Resource"] == (
        "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/*"
    )
    for sid in ("RegionalPlatformServices", "EksCreateAndCatalogue", "ListKeys"):
        assert statements[sid]["Condition"] == {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}


# The IAM service of each Pulumi AWS module whose name differs from it.
_IAM_SERVICE = {
    "vpc": "ec2",
    "cloudwatch/eventRule": "events",
    "cloudwatch/eventTarget": "events",
    "cloudwatch/logGroup": "logs",
}


def test_the_deploy_role_may_manage_every_aws_service_prod_creates(stacks: dict[str, Graph]) -> None:
    """Every AWS resource type of the rendered prod stack belongs to a service the deploy policy grants
    actions of (a new kind of resource, such as Karpenter's queue, needs its grant before it can deploy)."""
    doc = deploy_policy(
        CTX, prefix="mlops-prod", environment="prod", project_name="mlops-prod-deploy", state_bucket="state"
    )
    granted = {
        a.split(":", 1)[0]
        for s in doc["Statement"]
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    needed = set()
    for r in stacks["prod"].resources:
        if not r.type.startswith("aws:") or r.type.startswith("aws:index/"):
            continue
        module = r.type.split(":")[1]
        needed.add(_IAM_SERVICE.get(module, _IAM_SERVICE.get(module.split("/")[0], module.split("/")[0])))
    assert needed - granted == set()
    assert {"sqs", "events", "iam", "eks"} <= needed
