"""DeployRunner: a CodeBuild project inside the VPC that runs the full ``pulumi up`` of one environment.

The EKS API endpoint is private, so nothing outside the VPC can create the in-cluster half of the platform.
The first deploy of an environment therefore runs in two phases (docs/operations.md):

1. from the GitHub runner, ``pulumi up --target`` the AWS layer only (``mlops plan ENV --layer aws
   --format urns``): network, keys, data, the cluster, and this runner;
2. the workflow uploads the checked-out commit to the state bucket and starts a build of this project,
   which runs the whole ``pulumi up`` (with the policy pack) from the private subnets, where the API is
   reachable. Its role is the *deploy role*: the cluster's admin access entry names it.

The runner's role is broad by necessity (it creates VPCs, clusters, databases, keys and IAM roles), so
:func:`deploy_policy` spells every grant out: regional services only in the stack's region; S3, KMS, EKS,
IAM and Secrets Manager only on the platform's own names (``<prefix>-*``), keys only when tagged with the
stack's environment; IAM attachments only of the managed policies the platform uses. The role lives under
:data:`DEPLOY_ROLE_PATH`, outside the ``role/<prefix>-*`` names it may manage, so it cannot change its own
permissions; phase 1 (the GitHub role) applies changes to the runner itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from mlops_platform.components.aws_context import AwsContext
from mlops_platform.components.iam import service_trust_policy

DEPLOY_ROLE_PATH = "/mlops-deploy/"
"""IAM path of every deploy-runner role (the policy pack's deploy-role rules key on it)."""
BUILDSPEC_PATH = ".ci/deploy/buildspec.yml"
"""The buildspec, relative to the root of the uploaded source (kept in this repository)."""
SOURCE_PREFIX = "deploy-sources"
"""Prefix in the state bucket under which the workflow uploads ``<environment>/source.zip``."""
DEFAULT_IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"
"""CodeBuild's curated Amazon Linux 2023 image (Python 3.11+, AWS CLI v2)."""
DEFAULT_SECRETS_KEY_ALIAS = "alias/pulumi-secrets"
"""The ``awskms://`` secrets key and state-bucket key that ``mlops bootstrap`` creates."""
PLATFORM_MANAGED_POLICIES = (
    "AmazonEKSClusterPolicy",
    "AmazonEKSWorkerNodePolicy",
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonEKS_CNI_Policy",
    "service-role/AmazonEBSCSIDriverPolicy",
    "service-role/AmazonRDSEnhancedMonitoringRole",
)
"""AWS managed policies the platform attaches to its roles: the only ones the runner may attach."""
SERVICE_LINKED_ROLES = (
    "eks.amazonaws.com",
    "eks-nodegroup.amazonaws.com",
    "rds.amazonaws.com",
    "autoscaling.amazonaws.com",
)
REGIONAL_SERVICES = ("ec2", "rds", "ecr", "logs", "sns", "cloudwatch", "pi")
"""Services the platform creates resources in whose ARNs carry no platform name to scope by; the runner
gets them in the stack's region only (``aws:RequestedRegion``)."""
EKS_ACTIONS = (
    "eks:DescribeCluster",
    "eks:UpdateClusterConfig",
    "eks:UpdateClusterVersion",
    "eks:AssociateEncryptionConfig",
    "eks:DeleteCluster",
    "eks:DescribeUpdate",
    "eks:ListUpdates",
    "eks:ListNodegroups",
    "eks:ListAddons",
    "eks:ListAccessEntries",
    "eks:TagResource",
    "eks:UntagResource",
    "eks:ListTagsForResource",
    "eks:CreateNodegroup",
    "eks:DescribeNodegroup",
    "eks:UpdateNodegroupConfig",
    "eks:UpdateNodegroupVersion",
    "eks:DeleteNodegroup",
    "eks:CreateAddon",
    "eks:DescribeAddon",
    "eks:UpdateAddon",
    "eks:DeleteAddon",
    "eks:CreateAccessEntry",
    "eks:DescribeAccessEntry",
    "eks:UpdateAccessEntry",
    "eks:DeleteAccessEntry",
    "eks:AssociateAccessPolicy",
    "eks:DisassociateAccessPolicy",
    "eks:ListAssociatedAccessPolicies",
)
"""The EKS API the platform's cluster, node groups, add-ons and access entries are managed with."""
BUCKET_ACTIONS = (
    "s3:CreateBucket",
    "s3:DeleteBucket",
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:GetBucket*",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketVersioning",
    "s3:PutBucketLogging",
    "s3:PutBucketTagging",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketNotification",
    "s3:GetLifecycleConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:GetEncryptionConfiguration",
    "s3:PutEncryptionConfiguration",
    "s3:GetAccelerateConfiguration",
    "s3:GetReplicationConfiguration",
    "s3:GetIntelligentTieringConfiguration",
    "s3:PutIntelligentTieringConfiguration",
)
"""What the runner may do on the platform's buckets: their configuration (no ACLs: the platform's buckets
enforce bucket-owner ownership), never their objects."""
KEY_ACTIONS = (
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:PutKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:EnableKeyRotation",
    "kms:DisableKeyRotation",
    "kms:ListResourceTags",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:UpdateKeyDescription",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:CreateGrant",
    "kms:ListGrants",
    "kms:RevokeGrant",
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
)
"""Key management of the environment's keys (tagged ``environment=<env>``) and the uses the services the
runner configures need through the caller (RDS, EKS and EBS create grants; CodeBuild encrypts artifacts)."""
ComputeType = Literal["BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"]


def source_key(environment: str) -> str:
    """The S3 key of an environment's build input in the state bucket."""
    return f"{SOURCE_PREFIX}/{environment}/source.zip"


def backend_url(state_bucket: str, region: str) -> str:
    """The ``pulumi login`` URL of the self-managed S3 backend (as ``mlops bootstrap`` prints it)."""
    return f"s3://{state_bucket}?region={region}&awssdk=v2"


def trust_policy(ctx: AwsContext, project_name: str) -> dict[str, Any]:
    """Only CodeBuild, building exactly this project in this account, may assume the role."""
    return service_trust_policy(
        "codebuild.amazonaws.com",
        sid="CodeBuildThisProject",
        source_account=ctx.account_id,
        source_arn=ctx.arn("codebuild", f"project/{project_name}"),
    )


PLATFORM_ROLE_ACTIONS = (
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:GetRole",
    "iam:UpdateRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:PutRolePolicy",
    "iam:GetRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:ListRolePolicies",
    "iam:ListAttachedRolePolicies",
    "iam:ListInstanceProfilesForRole",
    "iam:DetachRolePolicy",
    "iam:PassRole",
)
"""What the runner may do on the platform's roles (``role/<prefix>-*``); attaching is granted apart, for the
platform's managed policies only."""
INSTANCE_PROFILE_ACTIONS = (
    "iam:CreateInstanceProfile",
    "iam:DeleteInstanceProfile",
    "iam:GetInstanceProfile",
    "iam:AddRoleToInstanceProfile",
    "iam:RemoveRoleFromInstanceProfile",
    "iam:TagInstanceProfile",
    "iam:UntagInstanceProfile",
)
"""What the runner may do on the platform's instance profiles (``instance-profile/<prefix>-*``: Karpenter's
nodes')."""
QUEUE_ACTIONS = (
    "sqs:CreateQueue",
    "sqs:DeleteQueue",
    "sqs:GetQueueAttributes",
    "sqs:SetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ListQueueTags",
    "sqs:TagQueue",
    "sqs:UntagQueue",
)
"""What the runner may do on the platform's queues (``<prefix>-*``: Karpenter's interruption queue)."""
EVENT_RULE_ACTIONS = (
    "events:PutRule",
    "events:DeleteRule",
    "events:DescribeRule",
    "events:EnableRule",
    "events:DisableRule",
    "events:PutTargets",
    "events:RemoveTargets",
    "events:ListTargetsByRule",
    "events:ListTagsForResource",
    "events:TagResource",
    "events:UntagResource",
)
"""What the runner may do on the platform's EventBridge rules (``rule/<prefix>-*``: those feeding the queue)."""
OIDC_PROVIDER_ACTIONS = (
    "iam:CreateOpenIDConnectProvider",
    "iam:DeleteOpenIDConnectProvider",
    "iam:GetOpenIDConnectProvider",
    "iam:TagOpenIDConnectProvider",
    "iam:UntagOpenIDConnectProvider",
    "iam:UpdateOpenIDConnectProviderThumbprint",
    "iam:AddClientIDToOpenIDConnectProvider",
    "iam:RemoveClientIDFromOpenIDConnectProvider",
)
"""What the runner may do on the IAM OIDC providers of the region's EKS clusters (IRSA)."""


def _in_region(ctx: AwsContext) -> dict[str, Any]:
    return {"StringEquals": {"aws:RequestedRegion": ctx.region}}


def _regional_statements(ctx: AwsContext) -> list[dict[str, Any]]:
    """The services whose ARNs carry no platform name: everything, in the stack's region only."""
    return [
        {
            "Sid": "RegionalPlatformServices",
            "Effect": "Allow",
            "Action": [f"{s}:*" for s in REGIONAL_SERVICES],
            "Resource": "*",
            "Condition": _in_region(ctx),
        }
    ]


def _eks_statements(ctx: AwsContext, prefix: str) -> list[dict[str, Any]]:
    """The platform's clusters and what hangs off them; creating a cluster and the catalogue in the region."""
    return [
        {
            "Sid": "EksPlatformCluster",
            "Effect": "Allow",
            "Action": list(EKS_ACTIONS),
            "Resource": [
                # IAM's '*' spans '/': node groups, add-ons and access entries of those clusters.
                ctx.arn("eks", f"cluster/{prefix}-*"),
                ctx.arn("eks", f"nodegroup/{prefix}-*"),
                ctx.arn("eks", f"addon/{prefix}-*"),
                ctx.arn("eks", f"access-entry/{prefix}-*"),
            ],
        },
        {
            "Sid": "EksCreateAndCatalogue",
            "Effect": "Allow",
            "Action": ["eks:CreateCluster", "eks:DescribeAddonVersions", "eks:ListClusters"],
            "Resource": "*",
            "Condition": _in_region(ctx),
        },
    ]


def _bucket_statements(
    ctx: AwsContext, *, prefix: str, environment: str, state_bucket: str
) -> list[dict[str, Any]]:
    """The platform's buckets (configuration, never objects), the Pulumi state, and this environment's build
    source in the state bucket."""
    p = ctx.partition
    return [
        {
            "Sid": "PlatformBuckets",
            "Effect": "Allow",
            "Action": list(BUCKET_ACTIONS),
            "Resource": f"arn:{p}:s3:::{prefix}-*",
        },
        {
            "Sid": "StateBucket",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketVersioning"],
            "Resource": f"arn:{p}:s3:::{state_bucket}",
        },
        {
            "Sid": "StateObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": f"arn:{p}:s3:::{state_bucket}/.pulumi/*",
        },
        {
            "Sid": "BuildSource",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": f"arn:{p}:s3:::{state_bucket}/{SOURCE_PREFIX}/{environment}/*",
        },
    ]


def _key_statements(
    ctx: AwsContext, *, prefix: str, environment: str, secrets_key_alias: str
) -> list[dict[str, Any]]:
    """The secrets and state key (by alias), the environment's keys (by tag) and the platform's aliases."""
    key_any = ctx.arn("kms", "key/*")
    return [
        {
            "Sid": "SecretsAndStateKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            "Resource": key_any,
            "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": [secrets_key_alias]}},
        },
        {
            "Sid": "CreateEnvironmentKeys",
            "Effect": "Allow",
            # CreateKey with tags (the provider's default tags always add `environment`) is also
            # authorised for kms:TagResource, before the key has any tag to match ResourceTag on.
            "Action": ["kms:CreateKey", "kms:TagResource"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:RequestTag/environment": environment, **_in_region(ctx)["StringEquals"]}
            },
        },
        {
            "Sid": "ManageEnvironmentKeys",
            "Effect": "Allow",
            "Action": list(KEY_ACTIONS),
            "Resource": key_any,
            "Condition": {"StringEquals": {"aws:ResourceTag/environment": environment}},
        },
        {
            # CreateAlias/UpdateAlias/DeleteAlias are authorised on the alias and on the key: only the
            # platform's alias names (aliases carry no tags to condition on).
            "Sid": "PlatformKeyAliases",
            "Effect": "Allow",
            "Action": ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"],
            "Resource": [ctx.arn("kms", f"alias/{prefix}-*"), key_any],
        },
        {
            "Sid": "ListKeys",
            "Effect": "Allow",
            "Action": ["kms:ListAliases", "kms:ListKeys"],
            "Resource": "*",
            "Condition": _in_region(ctx),
        },
    ]


def _secret_statements(ctx: AwsContext, prefix: str) -> list[dict[str, Any]]:
    """The RDS-managed master secret and the platform's own secrets; never a secret's value."""
    return [
        {
            "Sid": "RdsManagedMasterSecret",
            "Effect": "Allow",
            "Action": [
                "secretsmanager:CreateSecret",
                "secretsmanager:DescribeSecret",
                "secretsmanager:RotateSecret",
                "secretsmanager:TagResource",
                "secretsmanager:DeleteSecret",
            ],
            "Resource": ctx.arn("secretsmanager", "secret:rds!*"),
        },
        {
            # The platform's own secrets (the database tenants' credentials): created empty and managed
            # by the program, their values written only by the tenant jobs. No GetSecretValue: the runner
            # never reads a credential.
            "Sid": "PlatformSecrets",
            "Effect": "Allow",
            "Action": [
                "secretsmanager:CreateSecret",
                "secretsmanager:DescribeSecret",
                "secretsmanager:UpdateSecret",
                "secretsmanager:GetResourcePolicy",
                "secretsmanager:TagResource",
                "secretsmanager:UntagResource",
                "secretsmanager:DeleteSecret",
            ],
            "Resource": ctx.arn("secretsmanager", f"secret:{prefix}-*"),
        },
    ]


def _iam_statements(ctx: AwsContext, *, prefix: str, managed_policies: Sequence[str]) -> list[dict[str, Any]]:
    """The platform's roles, attachments of the platform's managed policies only, the clusters' OIDC
    providers and the service-linked roles the platform's services need."""
    p, acct = ctx.partition, ctx.account_id
    roles = f"arn:{p}:iam::{acct}:role/{prefix}-*"
    return [
        {"Sid": "PlatformRoles", "Effect": "Allow", "Action": list(PLATFORM_ROLE_ACTIONS), "Resource": roles},
        {
            "Sid": "PlatformInstanceProfiles",
            "Effect": "Allow",
            "Action": list(INSTANCE_PROFILE_ACTIONS),
            "Resource": f"arn:{p}:iam::{acct}:instance-profile/{prefix}-*",
        },
        {
            "Sid": "AttachPlatformPolicies",
            "Effect": "Allow",
            "Action": ["iam:AttachRolePolicy"],
            "Resource": roles,
            "Condition": {
                "ArnEquals": {
                    "iam:PolicyARN": [f"arn:{p}:iam::aws:policy/{name}" for name in managed_policies]
                }
            },
        },
        {
            "Sid": "ClusterOidcProvider",
            "Effect": "Allow",
            "Action": list(OIDC_PROVIDER_ACTIONS),
            "Resource": f"arn:{p}:iam::{acct}:oidc-provider/oidc.eks.{ctx.region}.{ctx.dns_suffix}/id/*",
        },
        {
            "Sid": "ServiceLinkedRoles",
            "Effect": "Allow",
            "Action": ["iam:CreateServiceLinkedRole"],
            "Resource": f"arn:{p}:iam::{acct}:role/aws-service-role/*",
            "Condition": {"StringEquals": {"iam:AWSServiceName": list(SERVICE_LINKED_ROLES)}},
        },
    ]


def _event_statements(ctx: AwsContext, prefix: str) -> list[dict[str, Any]]:
    """Karpenter's interruption queue and the EventBridge rules that feed it, of the platform's names only."""
    return [
        {
            "Sid": "PlatformQueues",
            "Effect": "Allow",
            "Action": list(QUEUE_ACTIONS),
            "Resource": ctx.arn("sqs", f"{prefix}-*"),
        },
        {
            "Sid": "PlatformEventRules",
            "Effect": "Allow",
            "Action": list(EVENT_RULE_ACTIONS),
            "Resource": ctx.arn("events", f"rule/{prefix}-*"),
        },
    ]


def deploy_policy(
    ctx: AwsContext,
    *,
    prefix: str,
    environment: str,
    project_name: str,
    state_bucket: str,
    secrets_key_alias: str = DEFAULT_SECRETS_KEY_ALIAS,
    managed_policies: Sequence[str] = PLATFORM_MANAGED_POLICIES,
) -> dict[str, Any]:
    """What the deploy runner may do: deploy the platform of ``prefix`` (``mlops-<env>``) and nothing more
    than the names, region and tags of that platform allow (see the module docstring)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            *_regional_statements(ctx),
            *_eks_statements(ctx, prefix),
            *_bucket_statements(ctx, prefix=prefix, environment=environment, state_bucket=state_bucket),
            *_key_statements(
                ctx, prefix=prefix, environment=environment, secrets_key_alias=secrets_key_alias
            ),
            *_secret_statements(ctx, prefix),
            *_iam_statements(ctx, prefix=prefix, managed_policies=managed_policies),
            *_event_statements(ctx, prefix),
            {
                # Read only: changes to the runner itself are applied by phase 1 (the GitHub deploy role).
                "Sid": "ThisProject",
                "Effect": "Allow",
                "Action": ["codebuild:BatchGetProjects"],
                "Resource": ctx.arn("codebuild", f"project/{project_name}"),
            },
        ],
    }


@dataclass(frozen=True)
class DeployRunnerArgs:
    """Arguments of :class:`DeployRunner`.

    Attributes:
        environment: The stack's environment (``dev``, ``staging``, ``prod``): names the build source key
            and scopes the role's KMS grants to keys tagged ``environment=<environment>``.
        prefix: Start of every physical name of the platform (``mlops-<env>``); the runner may manage
            IAM roles, buckets, keys and clusters of that name only.
        vpc_id: The VPC of the platform.
        subnet_ids: Private subnets (behind NAT) the build's network interfaces are placed in; the build
            never gets a public address.
        state_bucket: The Pulumi state bucket (``mlops bootstrap``); the workflow uploads the build input
            to ``<state_bucket>/deploy-sources/<environment>/source.zip`` (KMS-encrypted by the bucket's
            default key, versioned, old versions expired by the bucket's lifecycle).
        stack_name: The fully qualified stack the build deploys (``organization/mlops-platform/<env>``).
        logs_key_arn: KMS key of the build log group.
        artifacts_key_arn: KMS key CodeBuild encrypts build artifacts and caches with.
        aws_context: Account, region and partition.
        log_retention_days: Retention of the build log group.
        timeout_minutes: Build timeout (the full deploy, rollouts included).
        queued_timeout_minutes: How long a build may wait in the queue.
        image: Build image: a CodeBuild curated image (pinned by its major version) or an ECR image by
            digest (``<repo>@sha256:...``) for a fully immutable toolchain.
        compute_type: CodeBuild compute type.
        secrets_key_alias: Alias of the ``awskms://`` secrets key (also the state bucket's key).
        policy_pack_config: Policy pack config the build passes to ``pulumi up``.
        managed_policies: AWS managed policies the runner may attach to platform roles.
    """

    environment: str
    prefix: str
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    state_bucket: str
    stack_name: str
    logs_key_arn: pulumi.Input[str]
    artifacts_key_arn: pulumi.Input[str]
    aws_context: AwsContext
    log_retention_days: int = 365
    timeout_minutes: int = 120
    queued_timeout_minutes: int = 60
    image: str = DEFAULT_IMAGE
    compute_type: ComputeType = "BUILD_GENERAL1_MEDIUM"
    secrets_key_alias: str = DEFAULT_SECRETS_KEY_ALIAS
    policy_pack_config: str = ""
    managed_policies: Sequence[str] = field(default_factory=lambda: list(PLATFORM_MANAGED_POLICIES))


class DeployRunner(pulumi.ComponentResource):
    """The in-VPC deploy runner of one environment: a CodeBuild project in the private subnets with its own
    security group (no ingress; HTTPS out), its own role (the deploy role, under :data:`DEPLOY_ROLE_PATH`),
    a KMS-encrypted log group with retention, S3 source from the state bucket, no privileged mode.

    Outputs: ``project_name``, ``project_arn``, ``role_arn``, ``security_group_id``, ``log_group_name``,
    ``source_location`` (``bucket/key`` of the build input).
    """

    def __init__(self, name: str, args: DeployRunnerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:deploy_runner:DeployRunner", name, None, opts)
        if isinstance(args.subnet_ids, Sequence) and not args.subnet_ids:
            raise ValueError("DeployRunner needs private subnets")
        if not 5 <= args.timeout_minutes <= 480:
            raise ValueError(
                f"timeout_minutes must be between 5 and 480 (CodeBuild's range), got {args.timeout_minutes}"
            )
        project_name = f"{args.prefix}-deploy"
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/codebuild/{project_name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.logs_key_arn,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.security_group = self._security_group(name, args, project_name)
        self.role = self._deploy_role(name, args, project_name)
        self.source_location = f"{args.state_bucket}/{source_key(args.environment)}"
        self.project = self._project(name, args, project_name)

        self.project_name: pulumi.Output[str] = self.project.name
        self.project_arn: pulumi.Output[str] = self.project.arn
        self.role_arn: pulumi.Output[str] = self.role.arn
        self.security_group_id: pulumi.Output[str] = self.security_group.id
        self.log_group_name: pulumi.Output[str] = self.log_group.name
        self.register_outputs(
            {
                "project_name": self.project_name,
                "project_arn": self.project_arn,
                "role_arn": self.role_arn,
                "security_group_id": self.security_group_id,
                "log_group_name": self.log_group_name,
            }
        )

    def _security_group(self, name: str, args: DeployRunnerArgs, project_name: str) -> aws.ec2.SecurityGroup:
        """The build's security group: no ingress, HTTPS out."""
        child = pulumi.ResourceOptions(parent=self)
        group = aws.ec2.SecurityGroup(
            f"{name}-runner",
            description=f"Deploy runner (CodeBuild) of {args.prefix}: no ingress, HTTPS out",
            vpc_id=args.vpc_id,
            tags={"Name": f"{project_name}-runner"},
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-https-out",
            security_group_id=group.id,
            cidr_ipv4="0.0.0.0/0",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="The EKS API (private endpoint), AWS APIs, Pulumi plugins and PyPI (through NAT)",
            opts=child,
        )
        return group

    def _deploy_role(self, name: str, args: DeployRunnerArgs, project_name: str) -> aws.iam.Role:
        """The deploy role under :data:`DEPLOY_ROLE_PATH`: CodeBuild of this project only, :func:`deploy_policy`."""
        ctx = args.aws_context
        policy = deploy_policy(
            ctx,
            prefix=args.prefix,
            environment=args.environment,
            project_name=project_name,
            state_bucket=args.state_bucket,
            secrets_key_alias=args.secrets_key_alias,
            managed_policies=args.managed_policies,
        )
        return aws.iam.Role(
            f"{name}-role",
            name=project_name,
            path=DEPLOY_ROLE_PATH,
            description=f"Deploy role of {args.prefix}: the in-VPC runner that runs `pulumi up` ({args.stack_name})",
            assume_role_policy=json.dumps(trust_policy(ctx, project_name)),
            inline_policies=[
                aws.iam.RoleInlinePolicyArgs(
                    name="deploy-platform", policy=json.dumps(policy, separators=(",", ":"))
                ),
            ],
            max_session_duration=3600,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _project(self, name: str, args: DeployRunnerArgs, project_name: str) -> aws.codebuild.Project:
        """The CodeBuild project: S3 source from the state bucket, the deploy role, in the private subnets."""
        config_path = args.policy_pack_config or f"policies/config/{args.environment}.json"
        env_vars = {
            "PULUMI_BACKEND_URL": backend_url(args.state_bucket, args.aws_context.region),
            "PULUMI_STACK": args.stack_name,
            "POLICY_PACK_CONFIG": config_path,
        }
        return aws.codebuild.Project(
            f"{name}-project",
            name=project_name,
            description=f"`pulumi up` of {args.stack_name} from inside the VPC (private EKS endpoint)",
            service_role=self.role.arn,
            build_timeout=args.timeout_minutes,
            queued_timeout=args.queued_timeout_minutes,
            # One deploy at a time per environment (the Pulumi lock would refuse a second one anyway).
            concurrent_build_limit=1,
            encryption_key=args.artifacts_key_arn,
            source=aws.codebuild.ProjectSourceArgs(
                type="S3", location=self.source_location, buildspec=BUILDSPEC_PATH
            ),
            artifacts=aws.codebuild.ProjectArtifactsArgs(type="NO_ARTIFACTS"),
            environment=aws.codebuild.ProjectEnvironmentArgs(
                compute_type=args.compute_type,
                image=args.image,
                type="LINUX_CONTAINER",
                image_pull_credentials_type="CODEBUILD",
                privileged_mode=False,
                environment_variables=[
                    aws.codebuild.ProjectEnvironmentEnvironmentVariableArgs(name=k, value=v, type="PLAINTEXT")
                    for k, v in env_vars.items()
                ],
            ),
            logs_config=aws.codebuild.ProjectLogsConfigArgs(
                cloudwatch_logs=aws.codebuild.ProjectLogsConfigCloudwatchLogsArgs(
                    status="ENABLED", group_name=self.log_group.name
                ),
                s3_logs=aws.codebuild.ProjectLogsConfigS3LogsArgs(status="DISABLED"),
            ),
            vpc_config=aws.codebuild.ProjectVpcConfigArgs(
                vpc_id=args.vpc_id,
                subnets=args.subnet_ids,
                security_group_ids=[self.security_group.id],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
