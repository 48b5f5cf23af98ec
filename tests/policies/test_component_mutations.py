"""Mutation tests of the components' hardening settings on the rendered prod stack.

Each entry flips one setting a component applies (in a copy of the rendered stack) and names the rule
that must catch it. An entry whose resource type is not in the stack yet (its component has not landed)
is skipped; once the whole platform is in the stack (registry and monitoring components included),
every entry must apply, so renamed resources fail loudly instead of being skipped.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from policytest import Checker, Mutation, assert_mutation_caught, drop_input, select_like, set_input

from mlops_platform.mlops.graph import Graph

PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET = "aws:s3/bucket:Bucket"
KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
DB = "aws:rds/instance:Instance"
PG = "aws:rds/parameterGroup:ParameterGroup"
CLUSTER = "aws:eks/cluster:Cluster"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
REPO = "aws:ecr/repository:Repository"
REPO_LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
REPO_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
ROLE = "aws:iam/role:Role"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
RELEASE = "kubernetes:helm.sh/v3:Release"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ADDON = "aws:eks/addon:Addon"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
INSTANCE_FAMILY = "karpenter.k8s.aws/instance-family"
C0 = "spec.template.spec.containers.0"


def widen_web_identity(inputs: dict[str, Any]) -> None:
    """Turn the IRSA trust's exact service-account subject into a namespace-wide wildcard."""
    doc = json.loads(inputs["assumeRolePolicy"])
    for stmt in doc["Statement"]:
        equals = stmt.get("Condition", {}).get("StringEquals", {})
        for key in [k for k in equals if k.endswith(":sub")]:
            stmt["Condition"].setdefault("StringLike", {})[key] = equals.pop(key).rsplit(":", 1)[0] + ":*"
    inputs["assumeRolePolicy"] = json.dumps(doc)


def unpinned_service_statements(inputs: dict[str, Any]) -> None:
    doc = json.loads(inputs["policy"])
    for stmt in doc["Statement"]:
        if "Service" in stmt.get("Principal", {}):
            stmt.pop("Condition", None)
    inputs["policy"] = json.dumps(doc)


def public_statement(inputs: dict[str, Any]) -> None:
    doc = json.loads(inputs["policy"]) if isinstance(inputs.get("policy"), str) else {"Statement": []}
    doc.setdefault("Statement", []).append(
        {"Sid": "Everyone", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}
    )
    inputs["policy"] = json.dumps(doc)


def drop_limit(key: str) -> Mutation:
    """Drop one of a NodePool's ``spec.limits`` (keys such as nvidia.com/gpu hold dots)."""

    def mutate(inputs: dict[str, Any]) -> None:
        inputs["spec"].get("limits", {}).pop(key, None)

    return mutate


def add_instance_family(family: str) -> Mutation:
    """Add ``family`` to every NodePool's instance-family In requirement."""

    def mutate(inputs: dict[str, Any]) -> None:
        for req in inputs["spec"]["template"]["spec"]["requirements"]:
            if req["key"] == INSTANCE_FAMILY and req["operator"] == "In" and family not in req["values"]:
                req["values"] = [*req["values"], family]

    return mutate


# (setting, resource type, name fragments, mutation, rule, options); options: remove=True drops the resources,
# protect=False clears protect, optional=True for resources only some configurations create (e.g. alert
# subscriptions exist only when the stack lists e-mail or HTTPS endpoints).
CASES: list[tuple[str, str, tuple[str, ...], Mutation | None, str, dict[str, Any]]] = [
    # ArtifactStore
    (
        "bucket public access block flags",
        PAB,
        ("artifacts-bucket",),
        set_input("restrictPublicBuckets", False),
        "s3-public-access-block-all",
        {},
    ),
    (
        "bucket has a public access block",
        PAB,
        ("artifacts-bucket",),
        None,
        "s3-bucket-public-access-block",
        {"remove": True},
    ),
    (
        "bucket SSE-KMS",
        SSE,
        ("artifacts-bucket",),
        set_input("rules.0.applyServerSideEncryptionByDefault", {"sseAlgorithm": "AES256"}),
        "s3-bucket-encryption-kms",
        {},
    ),
    (
        "bucket versioning",
        VERSIONING,
        ("artifacts-bucket",),
        set_input("versioningConfiguration.status", "Suspended"),
        "s3-bucket-versioning",
        {},
    ),
    (
        "log bucket versioning",
        VERSIONING,
        ("artifacts-logs",),
        set_input("versioningConfiguration.status", "Suspended"),
        "s3-bucket-versioning",
        {},
    ),
    ("bucket lifecycle", LIFECYCLE, ("artifacts-bucket",), None, "s3-bucket-lifecycle", {"remove": True}),
    (
        "bucket access logging",
        LOGGING,
        ("artifacts-bucket",),
        None,
        "s3-bucket-access-logging",
        {"remove": True},
    ),
    (
        "bucket ownership enforced",
        OWNERSHIP,
        ("artifacts-bucket",),
        set_input("rule.objectOwnership", "ObjectWriter"),
        "s3-bucket-ownership-enforced",
        {},
    ),
    (
        "bucket TLS-only policy",
        BUCKET_POLICY,
        ("artifacts-bucket",),
        None,
        "s3-bucket-tls-only",
        {"remove": True},
    ),
    (
        "log bucket TLS-only policy",
        BUCKET_POLICY,
        ("artifacts-logs",),
        None,
        "s3-bucket-tls-only",
        {"remove": True},
    ),
    (
        "bucket policy not public",
        BUCKET_POLICY,
        ("artifacts-bucket",),
        public_statement,
        "s3-no-public-policy",
        {},
    ),
    (
        "bucket not force-destroyed",
        BUCKET,
        ("artifacts-bucket",),
        set_input("forceDestroy", True),
        "s3-no-force-destroy-prod",
        {},
    ),
    ("bucket protected", BUCKET, ("artifacts-bucket",), None, "stack-stateful-protected", {"protect": False}),
    # Keys and logs
    ("key rotation", KEY, (), set_input("enableKeyRotation", False), "kms-key-rotation", {}),
    ("key deletion window", KEY, (), set_input("deletionWindowInDays", 7), "kms-deletion-window", {}),
    ("key policy without '*'", KEY, (), public_statement, "kms-no-public-principal", {}),
    (
        "CloudWatch alarms' data-key statement pinned to the account",
        KEY,
        ("mlops-prod-data",),
        unpinned_service_statements,
        "kms-service-principal-source",
        {},
    ),
    ("keys protected", KEY, (), None, "stack-stateful-protected", {"protect": False}),
    ("log group retention", LOG_GROUP, (), drop_input("retentionInDays"), "logs-retention", {}),
    ("log group KMS", LOG_GROUP, (), drop_input("kmsKeyId"), "logs-kms-encryption", {}),
    # Network
    ("VPC flow logs", FLOW_LOG, (), None, "net-vpc-flow-logs", {"remove": True}),
    ("flow logs capture ALL", FLOW_LOG, (), set_input("trafficType", "REJECT"), "net-vpc-flow-logs", {}),
    (
        "default security group closed",
        DEFAULT_SG,
        (),
        set_input("ingress", [{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}]),
        "net-default-sg-closed",
        {},
    ),
    (
        "database port not open to the internet",
        INGRESS,
        ("database",),
        set_input("cidrIpv4", "0.0.0.0/0"),
        "net-no-open-ingress",
        {},
    ),
    # MetadataDatabase
    ("database private", DB, (), set_input("publiclyAccessible", True), "rds-not-public", {}),
    ("database customer key", DB, (), drop_input("kmsKeyId"), "rds-encrypted-cmk", {}),
    ("database backups 14 days", DB, (), set_input("backupRetentionPeriod", 7), "rds-backup-retention", {}),
    (
        "database deletion protection",
        DB,
        (),
        set_input("deletionProtection", False),
        "rds-deletion-protection",
        {},
    ),
    ("database final snapshot", DB, (), set_input("skipFinalSnapshot", True), "rds-final-snapshot", {}),
    ("database multi-AZ", DB, (), set_input("multiAz", False), "rds-multi-az", {}),
    (
        "database managed password",
        DB,
        (),
        set_input("password", "literal"),
        "rds-managed-master-password",
        {},
    ),
    ("database IAM auth", DB, (), set_input("iamDatabaseAuthenticationEnabled", False), "rds-iam-auth", {}),
    ("database log exports", DB, (), set_input("enabledCloudwatchLogsExports", []), "rds-log-exports", {}),
    (
        "database minor upgrades",
        DB,
        (),
        set_input("autoMinorVersionUpgrade", False),
        "rds-auto-minor-upgrade",
        {},
    ),
    ("database approved version", DB, (), set_input("engineVersion", "13.20"), "rds-approved-engine", {}),
    ("database protected", DB, (), None, "stack-stateful-protected", {"protect": False}),
    (
        "Performance Insights with the data key",
        DB,
        (),
        drop_input("performanceInsightsKmsKeyId"),
        "rds-performance-insights-kms",
        {},
    ),
    (
        "database TLS only",
        PG,
        (),
        set_input("parameters", [{"name": "rds.force_ssl", "value": "0"}]),
        "rds-force-ssl",
        {},
    ),
    # KubernetesCluster
    (
        "cluster endpoint private",
        CLUSTER,
        (),
        set_input("vpcConfig.endpointPublicAccess", True),
        "eks-private-endpoint",
        {},
    ),
    ("cluster secrets encryption", CLUSTER, (), drop_input("encryptionConfig"), "eks-secrets-encryption", {}),
    (
        "cluster control-plane logs",
        CLUSTER,
        (),
        set_input("enabledClusterLogTypes", ["api"]),
        "eks-control-plane-logging",
        {},
    ),
    (
        "cluster access entries",
        CLUSTER,
        (),
        set_input("accessConfig.authenticationMode", "CONFIG_MAP"),
        "eks-access-entries",
        {},
    ),
    (
        "cluster creator is no implicit admin",
        CLUSTER,
        (),
        set_input("accessConfig.bootstrapClusterCreatorAdminPermissions", True),
        "eks-access-entries",
        {},
    ),
    ("add-ons pinned", ADDON, (), drop_input("addonVersion"), "eks-addon-version-pinned", {}),
    ("cluster supported version", CLUSTER, (), set_input("version", "1.27"), "eks-supported-version", {}),
    (
        "launch template IMDSv2",
        LT,
        (),
        set_input("metadataOptions.httpTokens", "optional"),
        "ec2-launch-template-imdsv2",
        {},
    ),
    (
        "launch template hop limit 1",
        LT,
        (),
        set_input("metadataOptions.httpPutResponseHopLimit", 2),
        "ec2-launch-template-imdsv2",
        {},
    ),
    (
        "launch template encrypted volumes",
        LT,
        (),
        set_input("blockDeviceMappings.0.ebs.encrypted", False),
        "ec2-launch-template-encrypted-volumes",
        {},
    ),
    (
        "node groups without SSH",
        NODE_GROUP,
        (),
        set_input("remoteAccess", {"ec2SshKey": "ops"}),
        "eks-nodegroup-no-ssh",
        {},
    ),
    (
        "node groups on launch templates",
        NODE_GROUP,
        (),
        drop_input("launchTemplate"),
        "eks-nodegroup-launch-template",
        {},
    ),
    (
        "node groups approved types",
        NODE_GROUP,
        (),
        set_input("instanceTypes", ["x1e.32xlarge"]),
        "eks-approved-instance-types",
        {},
    ),
    # The fixed GPU group exists only in a stack that keeps it (gpuNodesEnabled); prod's GPUs are the pool's.
    (
        "GPU nodes tainted",
        NODE_GROUP,
        ("gpu",),
        set_input("taints", []),
        "eks-gpu-nodes-tainted",
        {"optional": True},
    ),
    (
        "workload identity scoped to one service account",
        ROLE,
        ("mlflow-server",),
        widen_web_identity,
        "iam-irsa-trust-scoped",
        {},
    ),
    # ContainerRegistry
    (
        "repository immutable tags",
        REPO,
        (),
        set_input("imageTagMutability", "MUTABLE"),
        "ecr-immutable-tags",
        {},
    ),
    (
        "repository scan on push",
        REPO,
        (),
        set_input("imageScanningConfiguration.scanOnPush", False),
        "ecr-scan-on-push",
        {},
    ),
    (
        "repository KMS",
        REPO,
        (),
        set_input("encryptionConfigurations", [{"encryptionType": "AES256"}]),
        "ecr-kms-encryption",
        {},
    ),
    ("repository lifecycle", REPO_LIFECYCLE, (), None, "ecr-lifecycle-policy", {"remove": True}),
    ("repository policy not public", REPO_POLICY, (), public_statement, "ecr-no-public-policy", {}),
    ("repositories protected", REPO, (), None, "stack-stateful-protected", {"protect": False}),
    (
        "repositories not force-deleted",
        REPO,
        (),
        set_input("forceDelete", True),
        "ecr-no-force-delete-prod",
        {},
    ),
    # ModelRegistry (MLflow)
    (
        "MLflow not privileged",
        DEPLOYMENT,
        ("mlflow",),
        set_input(f"{C0}.securityContext.privileged", True),
        "k8s-no-privileged",
        {},
    ),
    (
        "MLflow no privilege escalation",
        DEPLOYMENT,
        ("mlflow",),
        set_input(f"{C0}.securityContext.allowPrivilegeEscalation", True),
        "k8s-no-privilege-escalation",
        {},
    ),
    (
        "MLflow non-root",
        DEPLOYMENT,
        ("mlflow",),
        set_input(f"{C0}.securityContext.runAsUser", 0),
        "k8s-run-as-non-root",
        {},
    ),
    (
        "MLflow read-only root filesystem",
        DEPLOYMENT,
        ("mlflow",),
        set_input(f"{C0}.securityContext.readOnlyRootFilesystem", False),
        "k8s-read-only-root-fs",
        {},
    ),
    (
        "MLflow drops ALL capabilities",
        DEPLOYMENT,
        ("mlflow",),
        set_input(f"{C0}.securityContext.capabilities", {}),
        "k8s-drop-all-capabilities",
        {},
    ),
    ("MLflow probes", DEPLOYMENT, ("mlflow",), drop_input(f"{C0}.livenessProbe"), "k8s-probes", {}),
    (
        "MLflow verifies the database certificate (verify-full)",
        DEPLOYMENT,
        ("mlflow",),
        lambda inputs: inputs["spec"]["template"]["spec"]["containers"][0].__setitem__(
            "args",
            [
                a.replace("sslmode=verify-full", "sslmode=require")
                for a in inputs["spec"]["template"]["spec"]["containers"][0]["args"]
            ],
        ),
        "k8s-postgres-tls-verified",
        {},
    ),
    (
        "the schema migration verifies the database certificate (its CA bundle)",
        JOB,
        ("db-upgrade",),
        set_input("spec.template.spec.initContainers.0.env", []),
        "k8s-postgres-tls-verified",
        {},
    ),
    (
        "the database tenant job verifies the database certificate",
        JOB,
        ("db-tenant-ensure",),
        set_input("spec.template.spec.containers.0.env.2", {"name": "PGSSLMODE", "value": "require"}),
        "k8s-postgres-tls-verified",
        {},
    ),
    (
        "MLflow's credentials are its tenant's, not the RDS master secret",
        EXTERNAL_SECRET,
        ("db-tenant-credentials",),
        set_input(
            "spec.data.0.remoteRef.key",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0a1b2c-AbCdEf",
        ),
        "secrets-no-rds-master-sync",
        {},
    ),
    (
        "MLflow memory limit",
        DEPLOYMENT,
        ("mlflow",),
        drop_input(f"{C0}.resources.limits"),
        "k8s-resources",
        {},
    ),
    (
        "MLflow pinned image",
        DEPLOYMENT,
        ("mlflow",),
        set_input(f"{C0}.image", "ghcr.io/mlflow/mlflow:latest"),
        "k8s-image-pinned",
        {},
    ),
    (
        "MLflow own namespace",
        DEPLOYMENT,
        ("mlflow",),
        set_input("metadata.namespace", "default"),
        "k8s-no-default-namespace",
        {},
    ),
    # Helm releases (External Secrets, kube-prometheus-stack)
    ("Helm chart pinned", RELEASE, (), set_input("version", ">=1.0.0"), "helm-chart-version-pinned", {}),
    (
        "Helm repository allow-listed",
        RELEASE,
        (),
        set_input("repositoryOpts.repo", "http://charts.example.com"),
        "helm-repository-allowed",
        {},
    ),
    # Monitoring
    (
        "alert subscriptions over HTTPS",
        SUBSCRIPTION,
        (),
        set_input("protocol", "http"),
        "sns-no-http-subscription",
        {"optional": True},
    ),
    (
        "MLflow namespace default deny",
        NETWORK_POLICY,
        ("default-deny",),
        set_input("spec.podSelector", {"matchLabels": {"app": "none"}}),
        "k8s-namespace-default-deny",
        {},
    ),
    (
        "MLflow namespace denies egress by default",
        NETWORK_POLICY,
        ("default-deny",),
        set_input("spec.policyTypes", ["Ingress"]),
        "k8s-namespace-egress-restricted",
        {},
    ),
    (
        "MLflow HTTPS egress only to the VPC",
        NETWORK_POLICY,
        ("allow-egress",),
        set_input("spec.egress.2.to", [{"ipBlock": {"cidr": "0.0.0.0/0"}}]),
        "k8s-namespace-egress-restricted",
        {},
    ),
    (
        "MLflow HTTPS egress names its destination",
        NETWORK_POLICY,
        ("allow-egress",),
        drop_input("spec.egress.2.to"),
        "k8s-namespace-egress-restricted",
        {},
    ),
    (
        "S3 interface endpoint policy",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        ("s3-interface",),
        drop_input("policy"),
        "net-vpc-endpoint-policy",
        {},
    ),
    (
        "Secrets Manager endpoint admits this account's principals only",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        ("secretsmanager",),
        public_statement,
        "net-vpc-endpoint-policy",
        {},
    ),
    (
        "monitoring namespace default deny",
        NETWORK_POLICY,
        ("netpol-default-deny",),
        set_input("spec.policyTypes", ["Ingress"]),
        "k8s-monitoring-default-deny",
        {},
    ),
    (
        "node-exporter and DCGM namespace default deny",
        NETWORK_POLICY,
        ("netpol-node-default-deny",),
        set_input("spec.egress", [{}]),
        "k8s-monitoring-default-deny",
        {},
    ),
    (
        "Grafana Service stays ClusterIP",
        RELEASE,
        ("kube-prometheus-stack",),
        set_input("values.grafana.service.type", "LoadBalancer"),
        "k8s-monitoring-ui-internal",
        {},
    ),
    (
        "Prometheus has no Ingress",
        RELEASE,
        ("kube-prometheus-stack",),
        set_input("values.prometheus.ingress.enabled", True),
        "k8s-monitoring-ui-internal",
        {},
    ),
    ("alert topic KMS", TOPIC, (), drop_input("kmsMasterKeyId"), "sns-kms-encryption", {}),
    ("alert topic policy not public", TOPIC_POLICY, (), public_statement, "sns-no-public-policy", {}),
    # Karpenter (issue 14): node pools, node classes, the interruption queue
    (
        "node pools limit CPU",
        NODE_POOL,
        (),
        drop_limit("cpu"),
        "karpenter-nodepool-limits",
        {},
    ),
    (
        "node pools limit memory",
        NODE_POOL,
        (),
        drop_limit("memory"),
        "karpenter-nodepool-limits",
        {},
    ),
    (
        "GPU pool tainted",
        NODE_POOL,
        ("gpu",),
        set_input("spec.template.spec.taints", []),
        "karpenter-gpu-pool-tainted",
        {},
    ),
    (
        "GPU pool limits GPUs",
        NODE_POOL,
        ("gpu",),
        drop_limit("nvidia.com/gpu"),
        "karpenter-gpu-pool-gpu-limit",
        {},
    ),
    (
        "node pools' instance families allow-listed",
        NODE_POOL,
        (),
        add_instance_family("x2iedn"),
        "karpenter-nodepool-instance-families",
        {},
    ),
    (
        "node classes require IMDSv2",
        NODE_CLASS,
        (),
        set_input("spec.metadataOptions.httpTokens", "optional"),
        "karpenter-ec2nodeclass-imdsv2",
        {},
    ),
    (
        "node classes' hop limit 1",
        NODE_CLASS,
        (),
        set_input("spec.metadataOptions.httpPutResponseHopLimit", 2),
        "karpenter-ec2nodeclass-imdsv2",
        {},
    ),
    (
        "node classes encrypt the root volume",
        NODE_CLASS,
        (),
        set_input("spec.blockDeviceMappings.0.ebs.encrypted", False),
        "karpenter-ec2nodeclass-encrypted-volumes",
        {},
    ),
    (
        "node classes pin the AMI alias",
        NODE_CLASS,
        (),
        set_input("spec.amiSelectorTerms", [{"alias": "al2023@latest"}]),
        "karpenter-ami-pinned",
        {},
    ),
    (
        "interruption queue encrypted",
        QUEUE,
        (),
        drop_input("kmsMasterKeyId"),
        "sqs-encrypted",
        {},
    ),
    (
        "interruption queue with the customer key",
        QUEUE,
        (),
        drop_input("kmsMasterKeyId"),
        "sqs-kms-encryption",
        {},
    ),
    (
        "interruption queue policy not public",
        QUEUE_POLICY,
        (),
        public_statement,
        "sqs-no-public-policy",
        {},
    ),
    (
        "only this account's EventBridge rules send to the interruption queue",
        QUEUE_POLICY,
        (),
        unpinned_service_statements,
        "sqs-service-principal-source",
        {},
    ),
]


def run_case(checker: Checker, graph: Graph, case: tuple, *, expect_quiet_before: bool = True) -> None:
    _setting, type_, fragments, mutation, rule, options = case
    selector = select_like(type_, *fragments)
    if not any(selector(r) for r in graph.resources):
        pytest.skip(f"no {type_} named like {fragments} in the stack yet")
    assert_mutation_caught(
        checker,
        graph,
        selector,
        mutation,
        rule,
        env="prod",
        remove=options.get("remove", False),
        protect=options.get("protect"),
        expect_quiet_before=expect_quiet_before,
    )


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_component_setting_flipped_is_caught(checker: Checker, stacks: dict[str, Graph], case: tuple) -> None:
    run_case(checker, stacks["prod"], case)


def _full_platform(graph: Graph) -> bool:
    kinds = {r.type.rsplit(":", 1)[-1] for r in graph.resources if r.type.startswith("mlops:")}
    return {"MlopsPlatform", "ModelRegistry", "Monitoring", "KubernetesCluster"} <= kinds


def test_every_case_applies_to_the_full_platform(stacks: dict[str, Graph]) -> None:
    graph = stacks["prod"]
    if not _full_platform(graph):
        pytest.skip("the prod stack does not compose the whole platform yet")
    missing = [
        c[0]
        for c in CASES
        if not c[5].get("optional") and not any(select_like(c[1], *c[2])(r) for r in graph.resources)
    ]
    assert missing == [], f"mutation cases whose resources are not in the prod stack (renamed?): {missing}"
