"""The data layer inside each shipped stack: what every stack has, and how the environments differ."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_platform.components.platform.config import profile
from mlops_platform.mlops.engine import render
from mlops_platform.mlops.graph import Graph, Resource

REPO = Path(__file__).resolve().parents[2]
STACKS = ("dev", "staging", "prod")
_graphs: dict[str, Graph] = {}


def rendered(stack: str) -> Graph:
    """The shipped stack rendered offline by its own program (stacks/__main__.py), once per module."""
    if stack not in _graphs:
        _graphs[stack] = render(stack, REPO)
    return _graphs[stack]


EXPORTS = (
    "vpcId",
    "privateSubnetIds",
    "databaseSubnetIds",
    "kmsDataKeyArn",
    "kmsLogsKeyArn",
    "kmsClusterKeyArn",
    "artifactBucketName",
    "artifactBucketArn",
    "databaseEndpoint",
    "databasePort",
    "databaseName",
    "databaseSecretArn",
    "databaseSecurityGroupId",
)
STATEFUL = ("aws:kms/key:Key", "aws:s3/bucket:Bucket", "aws:rds/instance:Instance")


def db(graph: Graph) -> dict:
    return graph.one("aws:rds/instance:Instance").inputs


def stateful(graph: Graph) -> list[Resource]:
    return [r for r in graph.resources if r.type in STATEFUL]


@pytest.mark.parametrize("stack", STACKS)
def test_exports(stack: str) -> None:
    graph = rendered(stack)
    for name in EXPORTS:
        assert graph.outputs.get(name) not in (None, "", []), name
    assert graph.outputs["databasePort"] == 5432
    assert graph.outputs["artifactBucketArn"] == f"arn:aws:s3:::{graph.outputs['artifactBucketName']}"
    keys = {k.outputs["arn"]: k.name for k in graph.of_type("aws:kms/key:Key")}
    assert keys[graph.outputs["kmsDataKeyArn"]].endswith("-data")
    assert keys[graph.outputs["kmsLogsKeyArn"]].endswith("-logs")
    assert keys[graph.outputs["kmsClusterKeyArn"]].endswith("-cluster")


@pytest.mark.parametrize("stack", STACKS)
def test_components_and_provider(stack: str) -> None:
    graph = rendered(stack)
    platform = graph.one("mlops:platform:MlopsPlatform")
    provider = graph.one("pulumi:providers:aws")
    for token in (
        "mlops:keys:Keys",
        "mlops:network:Network",
        "mlops:artifact_store:ArtifactStore",
        "mlops:database:MetadataDatabase",
    ):
        assert graph.one(token).parent == platform.urn
    for r in graph.resources:
        if r.type.startswith("aws:"):
            assert r.provider == provider.urn, r.name


@pytest.mark.parametrize("stack", STACKS)
def test_data_key_encrypts_buckets_database_and_secret(stack: str) -> None:
    graph = rendered(stack)
    data_key = graph.outputs["kmsDataKeyArn"]
    d = db(graph)
    assert d["kmsKeyId"] == d["masterUserSecretKmsKeyId"] == data_key
    sse = [
        r
        for r in graph.of_type(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
        )
    ]
    algorithms = sorted(
        r.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] for r in sse
    )
    assert algorithms == ["AES256", "aws:kms"]  # the access-log bucket is SSE-S3 (S3's requirement)
    kms = next(
        r
        for r in sse
        if r.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    )
    assert kms.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == data_key
    groups = graph.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert len(groups) == 5  # flow logs, RDS postgresql and upgrade logs, EKS control plane, deploy runner
    for group in groups:
        assert group.inputs["kmsKeyId"] == graph.outputs["kmsLogsKeyArn"]


@pytest.mark.parametrize("stack", STACKS)
def test_database_is_unreachable_until_the_cluster_is_wired(stack: str) -> None:
    graph = rendered(stack)
    db_sg = graph.outputs["databaseSecurityGroupId"]
    rules = [
        r
        for r in graph.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == db_sg
    ]
    assert all("cidrIpv4" not in r.inputs for r in rules)
    subnet_group = graph.one("aws:rds/subnetGroup:SubnetGroup")
    assert subnet_group.inputs["subnetIds"] == graph.outputs["databaseSubnetIds"]


@pytest.mark.parametrize("stack", STACKS)
def test_settings_follow_the_profile(stack: str) -> None:
    graph = rendered(stack)
    p = profile(stack)
    d = db(graph)
    assert d["multiAz"] is p["database"]["multi_az"]
    assert d["deletionProtection"] is p["database"]["deletion_protection"]
    assert d["performanceInsightsEnabled"] is p["database"]["performance_insights"]
    assert d["monitoringInterval"] == p["database"]["monitoring_interval_seconds"]
    assert d["backupRetentionPeriod"] == p["database"]["backup_retention_days"]
    assert d["instanceClass"] == p["database"]["instance_class"]
    assert d["skipFinalSnapshot"] is False
    assert graph.one("aws:rds/parameterGroup:ParameterGroup").inputs["family"] == "postgres17"
    zones = p["network"]["zone_count"]
    nats = len(graph.of_type("aws:ec2/natGateway:NatGateway"))
    assert nats == (zones if p["network"]["nat_gateways"] == "per-zone" else 1)
    interface = [
        e
        for e in graph.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if e.inputs["vpcEndpointType"] == "Interface"
    ]
    # com.amazonaws.<region>.<service>: the profile's set, and only it (each is billed per zone-hour).
    assert sorted(e.inputs["serviceName"].split(".", 3)[-1] for e in interface) == sorted(
        p["network"]["interface_endpoint_services"] if p["network"]["interface_endpoints"] else []
    )
    for group in graph.of_type("aws:cloudwatch/logGroup:LogGroup"):
        assert group.inputs["retentionInDays"] == p["logs"]["retention_days"]
    for key in graph.of_type("aws:kms/key:Key"):
        assert key.inputs["deletionWindowInDays"] == p["kms"]["deletion_window_days"]
        assert key.inputs["enableKeyRotation"] is True
    protect = p["protection"]["stateful_resources"]
    assert len(stateful(graph)) == 6  # three keys, two buckets, one database
    for r in stateful(graph):
        assert (r.protect, r.retain_on_delete) == (protect, protect), r.name
    for bucket in graph.of_type("aws:s3/bucket:Bucket"):
        assert bucket.inputs["forceDestroy"] is p["artifacts"]["force_destroy"]


def test_dev_and_prod_differ_where_the_profiles_say() -> None:
    dev, prod = rendered("dev"), rendered("prod")
    assert len(dev.of_type("aws:ec2/natGateway:NatGateway")) == 1
    assert len(prod.of_type("aws:ec2/natGateway:NatGateway")) == 3
    assert (db(dev)["multiAz"], db(prod)["multiAz"]) == (False, True)
    assert (db(dev)["deletionProtection"], db(prod)["deletionProtection"]) == (False, True)
    assert "performanceInsightsKmsKeyId" not in db(dev)
    assert db(prod)["performanceInsightsKmsKeyId"] == prod.outputs["kmsDataKeyArn"]
    assert not any(r.protect for r in stateful(dev))
    assert all(r.protect and r.retain_on_delete for r in stateful(prod))
    retention = [
        g.one("aws:cloudwatch/logGroup:LogGroup", f"mlops-{g.stack}-flow-logs").inputs["retentionInDays"]
        for g in (dev, prod)
    ]
    assert retention == [30, 365]
    tiering = []
    for g in (dev, prod):
        artifact = g.one("aws:s3/bucket:Bucket", "mlops-" + g.stack + "-artifacts-bucket")
        lifecycle = next(
            r
            for r in g.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
            if r.inputs["bucket"] == artifact.outputs["id"]
        )
        tiering.append("intelligent-tiering" in {rule["id"] for rule in lifecycle.inputs["rules"]})
    assert tiering == [False, True]


def test_prod_shows_every_data_layer_resource() -> None:
    counts = rendered("prod").counts()
    expected = {
        "aws:ec2/vpcEndpoint:VpcEndpoint": 5,
        "aws:ec2/flowLog:FlowLog": 1,
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": 1,
        "aws:kms/key:Key": 3,
        "aws:kms/alias:Alias": 3,
        "aws:s3/bucket:Bucket": 2,
        "aws:s3/bucketVersioning:BucketVersioning": 2,
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 2,
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls": 2,
        "aws:s3/bucketPolicy:BucketPolicy": 2,
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": 2,
        "aws:s3/bucketLogging:BucketLogging": 1,
        "aws:rds/instance:Instance": 1,
        "aws:rds/subnetGroup:SubnetGroup": 1,
        "aws:rds/parameterGroup:ParameterGroup": 1,
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment": 1,
    }
    for type_, n in expected.items():
        assert counts[type_] >= n, type_


@pytest.mark.parametrize("stack", STACKS)
def test_key_policies_name_the_stack_account_and_region(stack: str) -> None:
    graph = rendered(stack)
    for key in graph.of_type("aws:kms/key:Key"):
        policy = json.loads(key.inputs["policy"])
        assert policy["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    logs_key = next(k for k in graph.of_type("aws:kms/key:Key") if k.name.endswith("-logs"))
    principals = [s["Principal"] for s in json.loads(logs_key.inputs["policy"])["Statement"]]
    assert {"Service": "logs.eu-west-1.amazonaws.com"} in principals
