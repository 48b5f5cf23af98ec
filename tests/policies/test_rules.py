"""Every rule: a compliant case (the baseline, and targeted precision cases) and a violating case,
both driven through the real analyzer protocol against the running pack."""

from __future__ import annotations

import json
from typing import Any

import pytest
from policybaseline import ACCOUNT, ISSUER, baseline, container, doc
from policytest import (
    Checker,
    Mutation,
    assert_mutation_caught,
    aws_provider,
    drop_input,
    resource,
    select,
    set_input,
)

from policies.rules.catalogue import CATALOGUE

PROVIDER = select("pulumi:providers:aws")
BUCKET = select("aws:s3/bucket:Bucket", "artifacts")
DB = select("aws:rds/instance:Instance")
CLUSTER = select("aws:eks/cluster:Cluster")
LT = select("aws:ec2/launchTemplate:LaunchTemplate")
SYSTEM_NODES = select("aws:eks/nodeGroup:NodeGroup", "system")
GPU_NODES = select("aws:eks/nodeGroup:NodeGroup", "gpu")
REPO = select("aws:ecr/repository:Repository")
KEY = select("aws:kms/key:Key")
LOG_GROUP = select("aws:cloudwatch/logGroup:LogGroup")
TOPIC = select("aws:sns/topic:Topic")
DEPLOYMENT = select("kubernetes:apps/v1:Deployment")
CRONJOB = select("kubernetes:batch/v1:CronJob")
HELM = select("kubernetes:helm.sh/v3:Release")
IRSA = select("aws:iam/role:Role", "mlflow-irsa")
METRICS = select("aws:iam/policy:Policy")
C0 = "spec.template.spec.containers.0"


def tags(**override: str) -> Mutation:
    base = {
        "environment": "prod",
        "owner": "ml-platform",
        "cost-center": "cc-1",
        "data-classification": "internal",
        "managed-by": "pulumi",
    }
    base.update(override)
    return set_input("defaultTags", json.dumps({"tags": {k: v for k, v in base.items() if v}}))


def statement_policy(*statements: dict[str, Any]) -> Mutation:
    return set_input("policy", doc(*statements))


CODEBUILD = select("aws:codebuild/project:Project", "deploy-project")
DEPLOY_ROLE = select("aws:iam/role:Role", "deploy-role")

# (rule, selector, mutation, options) - options: remove=True drops the selected resources; env; protect.
CASES: list[tuple[str, Any, Mutation | None, dict[str, Any]]] = [
    # CodeBuild (the deploy runner); more cases on the rendered stack in test_codebuild_rules.py
    ("codebuild-in-vpc", CODEBUILD, drop_input("vpcConfig"), {}),
    ("codebuild-no-privileged-mode", CODEBUILD, set_input("environment.privilegedMode", True), {}),
    ("codebuild-kms-encryption", CODEBUILD, drop_input("encryptionKey"), {}),
    ("codebuild-logs-kms", CODEBUILD, set_input("logsConfig.cloudwatchLogs.groupName", "/other"), {}),
    ("codebuild-timeout", CODEBUILD, set_input("buildTimeout", 2000), {}),
    (
        "codebuild-no-plaintext-secrets",
        CODEBUILD,
        set_input("environment.environmentVariables", [{"name": "DB_PASSWORD", "value": "x"}]),
        {},
    ),
    ("codebuild-pinned-image", CODEBUILD, set_input("environment.image", "alpine:latest"), {}),
    (
        "iam-deploy-role-trust",
        DEPLOY_ROLE,
        set_input(
            "assumeRolePolicy",
            doc({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}),
        ),
        {},
    ),
    ("aws-governance-tags", PROVIDER, tags(owner=""), {}),
    ("aws-data-classification", PROVIDER, tags(**{"data-classification": "secret"}), {}),
    # S3
    (
        "s3-public-access-block-all",
        select("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "artifacts-pab"),
        set_input("restrictPublicBuckets", False),
        {},
    ),
    (
        "s3-bucket-public-access-block",
        select("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "artifacts-pab"),
        None,
        {"remove": True},
    ),
    ("s3-no-public-acl", BUCKET, set_input("acl", "public-read"), {}),
    (
        "s3-no-public-policy",
        select("aws:s3/bucketPolicy:BucketPolicy", "artifacts-policy"),
        statement_policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}),
        {},
    ),
    ("s3-no-force-destroy-prod", BUCKET, set_input("forceDestroy", True), {}),
    (
        "s3-bucket-ownership-enforced",
        select("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "artifacts-ownership"),
        set_input("rule.objectOwnership", "ObjectWriter"),
        {},
    ),
    (
        "s3-bucket-tls-only",
        select("aws:s3/bucketPolicy:BucketPolicy", "artifacts-policy"),
        None,
        {"remove": True},
    ),
    (
        "s3-bucket-encryption-kms",
        select(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "artifacts-sse",
        ),
        set_input("rules.0.applyServerSideEncryptionByDefault", {"sseAlgorithm": "AES256"}),
        {},
    ),
    (
        "s3-bucket-versioning",
        select("aws:s3/bucketVersioning:BucketVersioning", "artifacts-versioning"),
        set_input("versioningConfiguration.status", "Suspended"),
        {},
    ),
    (
        "s3-bucket-lifecycle",
        select("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "artifacts-lifecycle"),
        set_input("rules.1.status", "Disabled"),
        {},
    ),
    ("s3-bucket-access-logging", select("aws:s3/bucketLogging:BucketLogging"), None, {"remove": True}),
    # RDS
    ("rds-not-public", DB, set_input("publiclyAccessible", True), {}),
    ("rds-encrypted-cmk", DB, drop_input("kmsKeyId"), {}),
    ("rds-backup-retention", DB, set_input("backupRetentionPeriod", 7), {}),
    ("rds-deletion-protection", DB, set_input("deletionProtection", False), {}),
    ("rds-final-snapshot", DB, set_input("skipFinalSnapshot", True), {}),
    ("rds-multi-az", DB, set_input("multiAz", False), {}),
    ("rds-managed-master-password", DB, set_input("password", "hunter2-literal"), {}),
    ("rds-performance-insights-kms", DB, drop_input("performanceInsightsKmsKeyId"), {}),
    ("rds-iam-auth", DB, set_input("iamDatabaseAuthenticationEnabled", False), {}),
    ("rds-log-exports", DB, set_input("enabledCloudwatchLogsExports", ["upgrade"]), {}),
    ("rds-auto-minor-upgrade", DB, set_input("autoMinorVersionUpgrade", False), {}),
    ("rds-approved-engine", DB, set_input("engineVersion", "13.20"), {}),
    (
        "rds-force-ssl",
        select("aws:rds/parameterGroup:ParameterGroup"),
        set_input("parameters", [{"name": "rds.force_ssl", "value": "0"}]),
        {},
    ),
    # EKS
    ("eks-private-endpoint", CLUSTER, set_input("vpcConfig.endpointPublicAccess", True), {}),
    ("eks-secrets-encryption", CLUSTER, drop_input("encryptionConfig"), {}),
    ("eks-control-plane-logging", CLUSTER, set_input("enabledClusterLogTypes", ["api", "audit"]), {}),
    ("eks-supported-version", CLUSTER, set_input("version", "1.27"), {}),
    ("eks-access-entries", CLUSTER, set_input("accessConfig.authenticationMode", "API_AND_CONFIG_MAP"), {}),
    ("eks-addon-version-pinned", select("aws:eks/addon:Addon"), drop_input("addonVersion"), {}),
    ("eks-nodegroup-no-ssh", SYSTEM_NODES, set_input("remoteAccess", {"ec2SshKey": "ops"}), {}),
    ("eks-nodegroup-launch-template", SYSTEM_NODES, drop_input("launchTemplate"), {}),
    ("ec2-launch-template-imdsv2", LT, set_input("metadataOptions.httpTokens", "optional"), {}),
    (
        "ec2-launch-template-encrypted-volumes",
        LT,
        set_input("blockDeviceMappings.0.ebs.encrypted", "false"),
        {},
    ),
    ("eks-approved-instance-types", SYSTEM_NODES, set_input("instanceTypes", ["x2iedn.32xlarge"]), {}),
    ("eks-gpu-nodes-tainted", GPU_NODES, set_input("taints", []), {}),
    ("eks-nodegroup-private-subnets", SYSTEM_NODES, None, {"public_subnets": True}),
    # ECR
    ("ecr-immutable-tags", REPO, set_input("imageTagMutability", "MUTABLE"), {}),
    ("ecr-scan-on-push", REPO, set_input("imageScanningConfiguration.scanOnPush", False), {}),
    ("ecr-kms-encryption", REPO, set_input("encryptionConfigurations", [{"encryptionType": "AES256"}]), {}),
    ("ecr-no-force-delete-prod", REPO, set_input("forceDelete", True), {}),
    (
        "ecr-no-public-policy",
        select("aws:ecr/repositoryPolicy:RepositoryPolicy"),
        statement_policy({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "ecr:BatchGetImage"}),
        {},
    ),
    ("ecr-lifecycle-policy", select("aws:ecr/lifecyclePolicy:LifecyclePolicy"), None, {"remove": True}),
    # KMS, logs, SNS, secrets
    ("kms-key-rotation", KEY, set_input("enableKeyRotation", False), {}),
    ("kms-deletion-window", KEY, set_input("deletionWindowInDays", 7), {}),
    (
        "kms-no-public-principal",
        KEY,
        statement_policy(
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*"}
        ),
        {},
    ),
    (
        "kms-service-principal-source",
        KEY,
        statement_policy(
            {
                "Sid": "Alarms",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
            }
        ),
        {},
    ),
    ("logs-retention", LOG_GROUP, drop_input("retentionInDays"), {}),
    ("logs-kms-encryption", LOG_GROUP, drop_input("kmsKeyId"), {}),
    ("sns-kms-encryption", TOPIC, drop_input("kmsMasterKeyId"), {}),
    (
        "sns-no-public-policy",
        select("aws:sns/topicPolicy:TopicPolicy"),
        statement_policy({"Effect": "Allow", "Principal": "*", "Action": "sns:Publish", "Resource": "*"}),
        {},
    ),
    (
        "sns-no-http-subscription",
        select("aws:sns/topicSubscription:TopicSubscription"),
        set_input("protocol", "http"),
        {},
    ),
    ("secretsmanager-cmk", select("aws:secretsmanager/secret:Secret"), drop_input("kmsKeyId"), {}),
    # IAM
    (
        "iam-no-wildcard-action",
        METRICS,
        statement_policy({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::x"}),
        {},
    ),
    (
        "iam-no-wildcard-resource-write",
        METRICS,
        statement_policy({"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "*"}),
        {},
    ),
    (
        "iam-no-admin-policy",
        select("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "node-AmazonEKSWorkerNodePolicy"),
        set_input("policyArn", "arn:aws:iam::aws:policy/AdministratorAccess"),
        {},
    ),
    (
        "iam-trust-no-wildcard-principal",
        select("aws:iam/role:Role", "node-role"),
        set_input(
            "assumeRolePolicy",
            doc({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}),
        ),
        {},
    ),
    (
        "iam-irsa-trust-scoped",
        IRSA,
        set_input(
            "assumeRolePolicy",
            doc(
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER}"},
                    "Condition": {"StringLike": {f"{ISSUER}:sub": "system:serviceaccount:mlflow:*"}},
                }
            ),
        ),
        {},
    ),
    # network
    (
        "net-no-open-ingress",
        select("aws:ec2/securityGroup:SecurityGroup", "alb-sg"),
        set_input(
            "ingress.0", {"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}
        ),
        {},
    ),
    ("net-vpc-flow-logs", select("aws:ec2/flowLog:FlowLog"), None, {"remove": True}),
    (
        "net-default-sg-closed",
        select("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"),
        set_input("ingress", [{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}]),
        {},
    ),
    (
        "net-private-subnet-no-public-ip",
        select("aws:ec2/subnet:Subnet", "private-0"),
        set_input("mapPublicIpOnLaunch", True),
        {},
    ),
    # Kubernetes
    ("k8s-no-privileged", DEPLOYMENT, set_input(f"{C0}.securityContext.privileged", True), {}),
    (
        "k8s-no-privilege-escalation",
        DEPLOYMENT,
        drop_input(f"{C0}.securityContext.allowPrivilegeEscalation"),
        {},
    ),
    ("k8s-run-as-non-root", DEPLOYMENT, set_input(f"{C0}.securityContext.runAsUser", 0), {}),
    ("k8s-no-host-namespaces", DEPLOYMENT, set_input("spec.template.spec.hostNetwork", True), {}),
    (
        "k8s-no-host-path",
        DEPLOYMENT,
        set_input(
            "spec.template.spec.volumes.0", {"name": "h", "hostPath": {"path": "/var/run/docker.sock"}}
        ),
        {},
    ),
    ("k8s-no-host-port", DEPLOYMENT, set_input(f"{C0}.ports.0.hostPort", 5000), {}),
    (
        "k8s-resources",
        CRONJOB,
        drop_input("spec.jobTemplate.spec.template.spec.containers.0.resources.limits"),
        {},
    ),
    (
        "k8s-image-pinned",
        DEPLOYMENT,
        set_input(f"{C0}.image", f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/x:latest"),
        {},
    ),
    ("k8s-allowed-registries", DEPLOYMENT, set_input(f"{C0}.image", "evil.example.com/miner:1.0.0"), {}),
    (
        "k8s-read-only-root-fs",
        DEPLOYMENT,
        set_input(f"{C0}.securityContext.readOnlyRootFilesystem", False),
        {},
    ),
    (
        "k8s-drop-all-capabilities",
        DEPLOYMENT,
        set_input(f"{C0}.securityContext.capabilities", {"drop": ["NET_RAW"]}),
        {},
    ),
    ("k8s-probes", DEPLOYMENT, drop_input(f"{C0}.readinessProbe"), {}),
    ("k8s-no-default-namespace", DEPLOYMENT, drop_input("metadata.namespace"), {}),
    (
        "k8s-internal-load-balancer",
        select("kubernetes:core/v1:Service", "serving-lb"),
        set_input("metadata.annotations", {}),
        {},
    ),
    (
        "k8s-namespace-default-deny",
        select("kubernetes:networking.k8s.io/v1:NetworkPolicy"),
        set_input("spec.podSelector", {"matchLabels": {"app": "x"}}),
        {},
    ),
    (
        "k8s-namespace-egress-restricted",
        select("kubernetes:networking.k8s.io/v1:NetworkPolicy"),
        set_input("spec.egress", [{"ports": [{"port": 443, "protocol": "TCP"}]}]),
        {},
    ),
    (
        "net-vpc-endpoint-policy",
        select("aws:ec2/vpcEndpoint:VpcEndpoint", "secretsmanager-endpoint"),
        drop_input("policy"),
        {},
    ),
    (
        "k8s-monitoring-default-deny",
        select("kubernetes:networking.k8s.io/v1:NetworkPolicy", "monitoring-default-deny"),
        set_input("spec.policyTypes", ["Ingress"]),
        {},
    ),
    ("k8s-monitoring-ui-internal", HELM, set_input("values.grafana.ingress.enabled", True), {}),
    (
        "k8s-postgres-tls-verified",
        DEPLOYMENT,
        set_input(
            f"{C0}.args",
            ["server", "--backend-store-uri", "postgresql+psycopg2://db:5432/mlflow?sslmode=require"],
        ),
        {},
    ),
    (
        "secrets-no-rds-master-sync",
        select("kubernetes:external-secrets.io/v1:ExternalSecret"),
        set_input(
            "spec.data.0.remoteRef.key",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0123abcd-AbCdEf",
        ),
        {},
    ),
    # Helm
    ("helm-chart-version-pinned", HELM, set_input("version", "^77.0.0"), {}),
    ("helm-repository-allowed", HELM, set_input("repositoryOpts.repo", "https://charts.example.com"), {}),
    # stack
    ("stack-stateful-protected", DB, None, {"protect": False}),
    (
        "platform-model-registry",
        select("mlops:mlflow:ModelRegistry"),
        None,
        {"remove_also": DEPLOYMENT},
    ),
    ("platform-monitoring", select("mlops:monitoring:Monitoring"), None, {"remove_also": HELM}),
]


def test_every_rule_has_a_case() -> None:
    assert sorted(c[0] for c in CASES) == sorted(CATALOGUE)


def test_baseline_is_compliant_in_every_environment(checker: Checker) -> None:
    for env in ("dev", "staging", "prod"):
        result = checker.run(baseline(env), env)
        assert result.violations == [], [(v.policy, v.name, v.message) for v in result.violations]
        assert result.undetermined == []


@pytest.mark.parametrize(("rule", "selector", "mutation", "options"), CASES, ids=[c[0] for c in CASES])
def test_rule_catches_its_violation(
    checker: Checker, rule: str, selector: Any, mutation: Mutation | None, options: dict[str, Any]
) -> None:
    graph = baseline("prod")
    deps = None
    if options.get("public_subnets"):
        # Point the node group at the public subnet.
        public = next(r for r in graph.resources if r.name == "public-0")
        mutation = set_input("subnetIds", ["public-0-id"])
        deps = {"subnetIds": [public.urn]}
    if "remove_also" in options:
        graph.resources = [r for r in graph.resources if not options["remove_also"](r)]
    result = assert_mutation_caught(
        checker,
        graph,
        selector,
        mutation,
        rule,
        env="prod",
        remove=options.get("remove", False) or "remove_also" in options,
        protect=options.get("protect"),
        property_dependencies=deps,
        expect_quiet_before="remove_also" not in options,
    )
    assert CATALOGUE[rule].level("prod") == "mandatory"
    assert all(v.enforcement == "mandatory" for v in result.by_policy(rule))


# ---- precision: settings the components use must not be flagged -----------------------------------


def _quiet(checker: Checker, *resources: Any, env: str = "prod") -> list[tuple[str, str]]:
    result = checker.run([aws_provider(env), *resources], env)
    return [
        (v.policy, v.message) for v in result.violations if not v.policy.startswith(("s3-bucket", "stack"))
    ]


def test_managed_node_policies_and_kms_root_statement_are_fine(checker: Checker) -> None:
    attachments = [
        resource(
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            p,
            {"role": "r", "policyArn": f"arn:aws:iam::aws:policy/{p}"},
        )
        for p in (
            "AmazonEKSWorkerNodePolicy",
            "AmazonEC2ContainerRegistryPullOnly",
            "AmazonEKS_CNI_Policy",
            "service-role/AmazonEBSCSIDriverPolicy",
        )
    ]
    key = next(r for r in baseline().resources if r.type == "aws:kms/key:Key")
    assert _quiet(checker, *attachments, key) == []


def test_pod_identity_trust_is_not_irsa(checker: Checker) -> None:
    role = resource(
        "aws:iam/role:Role",
        "pod-identity",
        {
            "assumeRolePolicy": doc(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "pods.eks.amazonaws.com"},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                }
            )
        },
    )
    assert _quiet(checker, role) == []


def test_irsa_without_audience_is_caught(checker: Checker) -> None:
    role = resource(
        "aws:iam/role:Role",
        "irsa",
        {
            "assumeRolePolicy": doc(
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER}"},
                    "Condition": {"StringEquals": {f"{ISSUER}:sub": "system:serviceaccount:mlflow:mlflow"}},
                }
            )
        },
    )
    assert [p for p, _ in _quiet(checker, role)] == ["iam-irsa-trust-scoped"]


def test_resource_tag_environment_overrides_config(checker: Checker) -> None:
    # dev config, but the provider's default tags say prod: prod thresholds apply.
    db = next(r for r in baseline().resources if r.type == "aws:rds/instance:Instance")
    db.inputs["backupRetentionPeriod"] = 7
    result = checker.run([aws_provider("prod"), db], "dev")
    assert result.by_policy("rds-backup-retention")
    result = checker.run([aws_provider("dev"), db], "dev")
    assert not result.by_policy("rds-backup-retention")


def test_dev_makes_relaxed_rules_advisory(checker: Checker) -> None:
    dep = resource(
        "kubernetes:apps/v1:Deployment",
        "d",
        {
            "metadata": {"namespace": "apps"},
            "spec": {
                "template": {
                    "spec": {
                        "securityContext": {"runAsNonRoot": True},
                        "containers": [container(probes=False)],
                    }
                }
            },
        },
    )
    result = checker.run([dep], "dev")
    assert [(v.policy, v.enforcement) for v in result.violations] == [("k8s-probes", "advisory")]
    result = checker.run([dep], "prod")
    assert [(v.policy, v.enforcement) for v in result.violations] == [("k8s-probes", "mandatory")]


def test_secret_inputs_reach_the_pack_wrapped_and_are_not_reported(checker: Checker) -> None:
    from mlops.graph import Secret

    db = next(r for r in baseline().resources if r.type == "aws:rds/instance:Instance")
    db.inputs["password"] = Secret("s3cr3t-value")
    result = checker.run([aws_provider("prod"), db], "prod")
    hits = result.by_policy("rds-managed-master-password")
    assert hits and all("s3cr3t-value" not in v.message for v in result.violations)


def test_secret_values_are_scrubbed_from_any_message(checker: Checker) -> None:
    from mlops.graph import Secret

    # A rule that quotes a value (the canned ACL) never reveals it when the value is a secret.
    bucket = resource("aws:s3/bucket:Bucket", "b", {"bucket": "b", "acl": Secret("public-read")})
    result = checker.run([aws_provider("prod"), bucket], "prod")
    messages = [v.message for v in result.by_policy("s3-no-public-acl")]
    assert messages and all("public-read" not in m and "[secret]" in m for m in messages)


def test_public_eks_endpoint_with_allow_list_is_advisory_free_in_dev(checker: Checker) -> None:
    cluster = next(r for r in baseline("dev").resources if r.type == "aws:eks/cluster:Cluster")
    cluster.inputs["vpcConfig"] = {
        "endpointPublicAccess": True,
        "endpointPrivateAccess": True,
        "publicAccessCidrs": ["203.0.113.0/24"],
    }
    assert not checker.run([aws_provider("dev"), cluster], "dev").by_policy("eks-private-endpoint")
    assert checker.run([aws_provider("prod"), cluster], "prod").by_policy("eks-private-endpoint")


def test_unknown_values_make_a_rule_undetermined_not_violated(checker: Checker) -> None:
    # During a preview the engine sends unknowns; a verdict that may depend on one is deferred.
    db = next(r for r in baseline().resources if r.type == "aws:rds/instance:Instance")
    db.inputs["storageEncrypted"] = "@unknown"
    result = checker.run([aws_provider("prod"), db], "prod")
    assert not result.by_policy("rds-encrypted-cmk")
    assert "rds-encrypted-cmk" in {v.policy for v in result.undetermined}
    # Rules that find nothing wrong stay quiet even with unknowns around.
    assert "rds-not-public" not in {v.policy for v in result.undetermined}
    # A violation that does not rest on the unknown value is reported as such, even during a preview.
    db.inputs["publiclyAccessible"] = True
    result = checker.run([aws_provider("prod"), db], "prod")
    assert result.by_policy("rds-not-public")


def test_stack_rule_with_unknown_policy_is_undetermined(checker: Checker) -> None:
    graph = baseline()
    policy = next(r for r in graph.resources if r.name == "artifacts-policy")
    policy.outputs["policy"] = "@unknown"
    policy.inputs["policy"] = "@unknown"
    result = checker.run(graph, "prod")
    assert not result.by_policy("s3-bucket-tls-only")
    assert "s3-bucket-tls-only" in {v.policy for v in result.undetermined}


def test_cpu_limit_can_be_waived_by_config(checker: Checker) -> None:
    c = container()
    del c["resources"]["limits"]["cpu"]
    dep = resource(
        "kubernetes:apps/v1:Deployment",
        "d",
        {
            "metadata": {"namespace": "apps"},
            "spec": {"template": {"spec": {"securityContext": {"runAsNonRoot": True}, "containers": [c]}}},
        },
    )
    assert checker.run([dep], "prod").by_policy("k8s-resources")
    from policytest import config_for, graph_of

    from mlops.analyzer import analyze_with

    config = config_for("prod")
    config["k8s-resources"]["requireCpuLimits"] = False
    assert not analyze_with(checker.stub, graph_of([dep]), config=config).by_policy("k8s-resources")


@pytest.mark.parametrize("token", ["mlops:registry:ModelRegistry", "mlops:mlflow:ModelRegistry"])
def test_model_registry_component_tokens(checker: Checker, token: str) -> None:
    platform = resource("mlops:platform:MlopsPlatform", "mlops")
    registry = resource(token, "r")
    monitoring = resource("mlops:monitoring:Monitoring", "m")
    result = checker.run([platform, registry, monitoring], "prod")
    assert not result.by_policy("platform-model-registry") and not result.by_policy("platform-monitoring")
    result = checker.run([platform], "prod")
    assert result.by_policy("platform-model-registry") and result.by_policy("platform-monitoring")
    # A consumer stack without the platform is not asked for either.
    assert not checker.run([registry], "prod").violations


def test_helm_release_without_namespace_lands_in_default(checker: Checker) -> None:
    release = resource(
        "kubernetes:helm.sh/v3:Release",
        "r",
        {
            "chart": "kube-prometheus-stack",
            "version": "77.0.0",
            "repositoryOpts": {"repo": "https://prometheus-community.github.io/helm-charts"},
        },
    )
    assert checker.run([release], "prod").by_policy("k8s-no-default-namespace")
    release.inputs["namespace"] = "monitoring"
    assert not checker.run([release, _deny("monitoring", ["Ingress", "Egress"])], "prod").violations


def test_concurrent_requests_do_not_mix_resources(checker: Checker) -> None:
    # The pack serves Analyze calls on several threads; pipelined requests must give the sequential verdicts.
    from policytest import config_for, graph_of

    from mlops.analyzer import analyze_with

    prod, dev = aws_provider("prod", name="prod"), aws_provider("dev", name="dev")
    template = next(r for r in baseline().resources if r.type == "aws:rds/instance:Instance")
    resources = [prod, dev]
    for i in range(120):
        provider = prod if i % 2 else dev
        db = resource(
            "aws:rds/instance:Instance",
            f"db-{i}",
            {**template.inputs, "backupRetentionPeriod": 7, "kmsKeyId": "@unknown" if i % 3 == 0 else "k"},
            provider=provider,
        )
        resources.append(db)
    graph = graph_of(resources)

    def verdicts(window: int) -> list[tuple[str, str, str]]:
        result = analyze_with(checker.stub, graph, config=config_for("dev"), window=window)
        return sorted((v.policy, v.name, v.enforcement) for v in [*result.violations, *result.undetermined])

    sequential = verdicts(1)
    assert verdicts(64) == sequential
    flagged = {name for policy, name, _ in sequential if policy == "rds-backup-retention"}
    assert flagged == {f"db-{i}" for i in range(120) if i % 2}


# ---- egress and endpoint policies: what fires and what does not --------------------------------------------


def _network_policy(name: str, spec: dict[str, Any]) -> Any:
    return resource(
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        name,
        {"metadata": {"name": name, "namespace": "mlflow"}, "spec": spec},
    )


def _egress_findings(checker: Checker, *policies: Any) -> list[str]:
    ns = resource("kubernetes:core/v1:Namespace", "mlflow-ns", {"metadata": {"name": "mlflow"}})
    deployment = resource(
        "kubernetes:apps/v1:Deployment",
        "mlflow",
        {"metadata": {"name": "mlflow", "namespace": "mlflow"}, "spec": {"template": {"spec": {}}}},
    )
    result = checker.run([aws_provider("prod"), ns, deployment, *policies], "prod")
    return [v.message for v in result.by_policy("k8s-namespace-egress-restricted")]


DENY_ALL = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_egress_to_the_vpc_cidr_and_named_peers_is_fine(checker: Checker) -> None:
    narrow = {
        "podSelector": {"matchLabels": {"app": "mlflow"}},
        "policyTypes": ["Egress"],
        "egress": [
            {"to": [{"ipBlock": {"cidr": "10.30.0.0/16"}}], "ports": [{"port": 443, "protocol": "TCP"}]},
            {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]},
        ],
    }
    assert (
        _egress_findings(checker, _network_policy("deny", DENY_ALL), _network_policy("narrow", narrow)) == []
    )


@pytest.mark.parametrize(
    ("egress", "expect"),
    [
        (
            [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}]}],
            "allows 0.0.0.0/0",
        ),
        ([{"to": [{"ipBlock": {"cidr": "::/0"}}], "ports": [{"port": 443}]}], "allows ::/0"),
        ([{"ports": [{"port": 443, "protocol": "TCP"}]}], "names no destination"),
    ],
)
def test_open_egress_is_caught(checker: Checker, egress: list[dict[str, Any]], expect: str) -> None:
    open_ = {"podSelector": {"matchLabels": {"app": "mlflow"}}, "policyTypes": ["Egress"], "egress": egress}
    found = _egress_findings(checker, _network_policy("deny", DENY_ALL), _network_policy("open", open_))
    assert any("mlflow/open" in m and expect in m for m in found), found


def test_namespace_without_default_deny_egress_is_caught(checker: Checker) -> None:
    ingress_only = {"podSelector": {}, "policyTypes": ["Ingress"]}
    found = _egress_findings(checker, _network_policy("deny", ingress_only))
    assert found == ["namespace 'mlflow' runs workloads without a default-deny egress NetworkPolicy"]


def _endpoint(service: str, **inputs: Any) -> Any:
    return resource(
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        f"ep-{service}",
        {"vpcEndpointType": "Interface", "serviceName": f"com.amazonaws.eu-west-1.{service}", **inputs},
    )


def test_endpoint_policy_rule(checker: Checker) -> None:
    open_doc = doc({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"})
    pinned = doc(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
        }
    )
    result = checker.run(
        [
            aws_provider("prod"),
            _endpoint("s3", policy=pinned),
            _endpoint("sts"),  # unsigned AssumeRoleWithWebIdentity: exempt by default
            _endpoint("logs"),
            _endpoint("ecr.api", policy=open_doc),
            resource(
                "aws:ec2/vpcEndpoint:VpcEndpoint",
                "s3-gateway",
                {"vpcEndpointType": "Gateway", "serviceName": "s3"},
            ),
        ],
        "prod",
    )
    found = sorted((v.name, v.message) for v in result.by_policy("net-vpc-endpoint-policy"))
    assert [name for name, _ in found] == ["ep-ecr.api", "ep-logs"], found
    assert "default full-access policy" in dict(found)["ep-logs"]
    assert "admits any principal unconditioned" in dict(found)["ep-ecr.api"]


def test_s3_endpoint_may_admit_ecr_layer_reads_and_nothing_wider(checker: Checker) -> None:
    """Image pulls download layers from ECR's AWS-owned bucket with URLs ECR presigns (not our principals):
    the S3 endpoint may admit exactly s3:GetObject on that bucket; any wider public grant still fires."""
    pinned = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "*",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
    }
    layers = {
        "Sid": "EcrImageLayers",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::prod-eu-west-1-starport-layer-bucket/*",
    }
    wider = [
        {**layers, "Sid": "AnyBucket", "Resource": "arn:aws:s3:::*/*"},
        {**layers, "Sid": "MoreActions", "Action": ["s3:GetObject", "s3:PutObject"]},
        {
            **layers,
            "Sid": "AnotherBucket",
            "Resource": "arn:aws:s3:::prod-eu-west-1-starport-layer-bucket-x/*",
        },
    ]
    endpoints = [_endpoint("s3", policy=doc(pinned, layers))] + [
        resource(
            "aws:ec2/vpcEndpoint:VpcEndpoint",
            f"ep-s3-{w['Sid']}",
            {
                "vpcEndpointType": "Interface",
                "serviceName": "com.amazonaws.eu-west-1.s3",
                "policy": doc(pinned, w),
            },
        )
        for w in wider
    ]
    # The same layer grant on another service's endpoint is not the S3 exception.
    endpoints.append(_endpoint("logs", policy=doc(pinned, layers)))
    result = checker.run([aws_provider("prod"), *endpoints], "prod")
    names = sorted(v.name for v in result.by_policy("net-vpc-endpoint-policy"))
    assert names == ["ep-logs", "ep-s3-AnotherBucket", "ep-s3-AnyBucket", "ep-s3-MoreActions"], names


# ---- monitoring isolation: precision and the other ways to break it -------------------------------------


def _kps(values: dict[str, Any], namespace: str = "monitoring") -> Any:
    return resource(
        "kubernetes:helm.sh/v3:Release",
        "kps",
        {
            "chart": "kube-prometheus-stack",
            "version": "88.5.3",
            "namespace": namespace,
            "repositoryOpts": {"repo": "https://prometheus-community.github.io/helm-charts"},
            "values": values,
        },
    )


def _deny(namespace: str, types: list[str], **rules: Any) -> Any:
    return resource(
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        f"{namespace}-deny",
        {
            "metadata": {"name": "default-deny", "namespace": namespace},
            "spec": {"podSelector": {}, "policyTypes": types, **rules},
        },
    )


def _monitoring_findings(checker: Checker, *resources: Any) -> list[tuple[str, str]]:
    result = checker.run([aws_provider("prod"), *resources], "prod")
    return [
        (v.policy, v.message)
        for v in result.violations
        if v.policy in ("k8s-monitoring-default-deny", "k8s-monitoring-ui-internal")
    ]


def test_monitoring_isolation_compliant_as_the_platform_configures_it(checker: Checker) -> None:
    values = {
        "prometheus": {"service": {"type": "ClusterIP"}, "ingress": {"enabled": False}},
        "alertmanager": {"service": {"type": "ClusterIP"}, "ingress": {"enabled": False}},
        "grafana": {"service": {"type": "ClusterIP"}, "grafana.ini": {"auth.anonymous": {"enabled": False}}},
        "prometheus-node-exporter": {"namespaceOverride": "monitoring-node-exporter"},
    }
    both = ["Ingress", "Egress"]
    assert (
        _monitoring_findings(
            checker, _kps(values), _deny("monitoring", both), _deny("monitoring-node-exporter", both)
        )
        == []
    )


def test_monitoring_isolation_violations(checker: Checker) -> None:
    both = ["Ingress", "Egress"]
    node_ns = {"prometheus-node-exporter": {"namespaceOverride": "monitoring-node-exporter"}}
    # The node-exporter namespace without its default deny.
    found = _monitoring_findings(checker, _kps(node_ns), _deny("monitoring", both))
    assert [p for p, m in found if "monitoring-node-exporter" in m] == ["k8s-monitoring-default-deny"]
    # A "deny" that allows everything out is no default deny.
    found = _monitoring_findings(checker, _kps({}), _deny("monitoring", both, egress=[{}]))
    assert [p for p, _ in found] == ["k8s-monitoring-default-deny"]
    # dcgm-exporter's namespace counts too.
    dcgm = resource(
        "kubernetes:helm.sh/v3:Release",
        "dcgm",
        {
            "chart": "dcgm-exporter",
            "version": "4.8.2",
            "namespace": "gpu-agents",
            "repositoryOpts": {"repo": "https://nvidia.github.io/dcgm-exporter/helm-charts"},
        },
    )
    assert [p for p, _ in _monitoring_findings(checker, dcgm)] == ["k8s-monitoring-default-deny"]
    # Each way out of the cluster.
    for values in (
        {"prometheus": {"service": {"type": "LoadBalancer"}}},
        {"alertmanager": {"ingress": {"enabled": True}}},
        {"grafana": {"service": {"type": "NodePort"}}},
        {"prometheus": {"servicePerReplica": {"enabled": True, "type": "LoadBalancer"}}},
        {"grafana": {"grafana.ini": {"auth.anonymous": {"enabled": True}}}},
    ):
        found = _monitoring_findings(checker, _kps(values), _deny("monitoring", both))
        assert [p for p, _ in found] == ["k8s-monitoring-ui-internal"], values


def test_postgres_tls_rule_reads_uris_env_and_ca_bundle() -> None:
    """verify-full in the URI with a CA bundle passes; PGSSLMODE below verify-full or no CA bundle does not."""
    from policies.rules._common import Ctx, Res
    from policies.rules.kubernetes import postgres_tls_verified

    def messages(c: dict[str, Any]) -> list[str]:
        res = Res(
            "kubernetes:apps/v1:Deployment",
            "x",
            "urn:x",
            {"spec": {"template": {"spec": {"containers": [c]}}}},
        )
        return list(postgres_tls_verified.check(res, Ctx(config={}, environment="prod")))

    uri = "postgresql+psycopg2://db:5432/mlflow?sslmode=verify-full"
    ca = {"name": "PGSSLROOTCERT", "value": "/opt/mlflow/share/rds-ca/global-bundle.pem"}
    assert messages({"name": "a", "args": ["--backend-store-uri", uri], "env": [ca]}) == []
    assert messages({"name": "b", "env": [{"name": "PGSSLMODE", "value": "verify-full"}, ca]}) == []
    assert messages({"name": "c", "args": ["server"]}) == []  # no PostgreSQL: nothing to judge
    assert messages({"name": "d", "args": [uri]}) == [
        "container 'd' names no CA bundle (PGSSLROOTCERT or sslrootcert) to verify PostgreSQL with"
    ]
    assert messages({"name": "e", "env": [{"name": "PGSSLMODE", "value": "require"}, ca]}) == [
        "container 'e' sets PGSSLMODE=require, not verify-full"
    ]
    assert messages({"name": "f", "args": ["postgresql://db/x"], "env": [ca]}) == [
        "container 'f' connects to postgresql://db/x with sslmode=prefer, not verify-full"
    ]
