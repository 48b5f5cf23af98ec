"""Keys: the platform's customer-managed KMS keys, one per purpose, with key policies built here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from mlops_platform.components.aws_context import AwsContext, lookup

PURPOSES: tuple[str, ...] = ("data", "logs", "cluster")
"""The keys :class:`Keys` creates: ``data`` (S3 artifacts, RDS storage, Performance Insights, the RDS master
secret), ``logs`` (CloudWatch log groups) and ``cluster`` (EKS envelope encryption of Kubernetes secrets)."""

DATA_KEY_SERVICES: tuple[str, ...] = ("s3", "rds", "secretsmanager", "sns")
"""Services through which principals of the account may use the data key (``kms:ViaService``)."""

EKS_CLUSTER_KEY_ACTIONS: list[str] = ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"]
"""What the EKS cluster role needs on the key that envelope-encrypts Kubernetes Secrets."""

USE_ACTIONS: list[str] = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
]


@dataclass(frozen=True)
class KeysArgs:
    """Arguments of :class:`Keys`.

    Attributes:
        prefix: Start of every alias: keys are aliased ``alias/<prefix>-<purpose>`` (e.g. ``mlops-prod``).
        deletion_window_days: Waiting period (7-30 days) before a key scheduled for deletion is destroyed.
            The default, 30, is the longest AWS allows.
        rotation_period_days: Automatic rotation period (90-2560 days). Rotation is always on.
        protect: Pulumi ``protect`` and ``retain_on_delete`` on the keys, so neither a ``pulumi destroy``
            nor a refactoring schedules a key that still encrypts data for deletion.
        aws_context: Account, region and partition; looked up through the provider when omitted.
        cluster_role_name: Name of the EKS cluster role that the cluster key's policy grants directly (see
            :func:`key_policy`). Default: :func:`cluster_role_name` of ``<prefix>-eks``, the cluster
            ``add_compute`` creates.
        interruption_queue_name: Karpenter's interruption queue, whose messages EventBridge encrypts with the
            cluster key (see :func:`key_policy`); with it, the EC2 Spot service-linked role may use the cluster
            key for Karpenter's Spot node volumes. Default: :func:`interruption_queue_name` of ``<prefix>-eks``;
            ``""``: none (a cluster without Karpenter).
    """

    prefix: str
    deletion_window_days: int = 30
    rotation_period_days: int = 365
    protect: bool = True
    aws_context: AwsContext | None = None
    cluster_role_name: str | None = None
    interruption_queue_name: str | None = None


def cluster_role_name(cluster_name: str) -> str:
    """The name of the IAM role of an EKS cluster's control plane; :class:`~mlops_platform.components.cluster.cluster.KubernetesCluster`
    names its role so, and the cluster key's policy grants that name before the role exists."""
    return f"{cluster_name}-cluster"


def interruption_queue_name(cluster_name: str) -> str:
    """The name of Karpenter's interruption queue of an EKS cluster; the cluster key's policy lets EventBridge
    encrypt messages for exactly that queue, before the queue exists."""
    return f"{cluster_name}-karpenter"


def _root_statement(ctx: AwsContext) -> dict[str, Any]:
    # The account's default key-policy statement: the account (never "*") administers the key and IAM
    # policies in the account decide who may use it. Without it the key could become unmanageable.
    return {
        "Sid": "EnableAccountAdministration",
        "Effect": "Allow",
        "Principal": {"AWS": ctx.root_arn},
        "Action": "kms:*",
        "Resource": "*",
    }


def _logs_statements(ctx: AwsContext) -> list[dict[str, Any]]:
    # CloudWatch Logs encrypts with the key as its own service principal, so IAM alone cannot grant it.
    # The encryption context names the log group: only this account's groups in this region qualify.
    # (No kms:Describe*: DescribeKey carries no encryption context, so this condition never allows it.)
    return [
        {
            "Sid": "AllowCloudWatchLogsForAccountLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": ctx.service("logs")},
            "Action": [
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
            ],
            "Resource": "*",
            "Condition": {
                "ArnLike": {"kms:EncryptionContext:aws:logs:arn": ctx.arn("logs", "log-group:*")},
            },
        }
    ]


def _data_statements(ctx: AwsContext) -> list[dict[str, Any]]:
    # The intended use of the data key, spelt out: principals of this account, through the services that
    # store data with it. (IAM policies still decide who; the ones this project writes, e.g.
    # ArtifactStore.policy_document, carry the same kms:ViaService condition.)
    through_data_services = {
        "kms:CallerAccount": ctx.account_id,
        "kms:ViaService": [ctx.service(s) for s in DATA_KEY_SERVICES],
    }
    return [
        {
            "Sid": "AllowAccountUseThroughDataServices",
            "Effect": "Allow",
            "Principal": {"AWS": ctx.root_arn},
            "Action": USE_ACTIONS,
            "Resource": "*",
            "Condition": {"StringEquals": dict(through_data_services)},
        },
        {
            "Sid": "AllowGrantsForDataServices",
            "Effect": "Allow",
            "Principal": {"AWS": ctx.root_arn},
            "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
            "Resource": "*",
            "Condition": {
                "StringEquals": dict(through_data_services),
                "Bool": {"kms:GrantIsForAWSResource": "true"},
            },
        },
        # CloudWatch alarms publish to the platform's alert topic, which is encrypted with this key; SNS uses
        # the key on the alarm service's behalf, so the service principal needs these two actions (the form
        # AWS documents for alarms on SSE-KMS topics).
        # aws:SourceAccount / aws:SourceArn keep the service from using the key for alarms of other
        # accounts (confused deputy); CloudWatch alarms send both when they publish to an SSE-KMS topic
        # (unlike EventBridge, whose deliveries carry neither).
        {
            "Sid": "AllowCloudWatchAlarmsToEncryptedTopics",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ctx.account_id},
                "ArnLike": {"aws:SourceArn": ctx.arn("cloudwatch", "alarm:*")},
            },
        },
    ]


def _cluster_statements(
    ctx: AwsContext, cluster_role: str | None, interruption_queue: str | None
) -> list[dict[str, Any]]:
    if not cluster_role:
        raise ValueError("the cluster key policy needs the EKS cluster role's name (cluster_role=...)")
    return [
        _cluster_role_statement(ctx, cluster_role),
        *([_eventbridge_statement(ctx, interruption_queue)] if interruption_queue else []),
        # EKS envelope encryption of Kubernetes Secrets (the cluster role, through EKS), and the EBS volumes
        # of the nodes and of the default StorageClass (the EBS CSI driver's role, through EC2).
        {
            "Sid": "AllowAccountUseThroughEksAndEc2",
            "Effect": "Allow",
            "Principal": {"AWS": ctx.root_arn},
            "Action": [*USE_ACTIONS, "kms:CreateGrant", "kms:ListGrants"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "kms:CallerAccount": ctx.account_id,
                    "kms:ViaService": [ctx.service("eks"), ctx.service("ec2")],
                },
            },
        },
        *_autoscaling_statements(ctx),
        *(_spot_statements(ctx) if interruption_queue else []),
    ]


def _cluster_role_statement(ctx: AwsContext, cluster_role: str) -> dict[str, Any]:
    # The cluster role, granted by the key policy itself rather than by an IAM policy on the role: EKS
    # checks the role's access to the key when the cluster is created, and an IAM policy attached
    # seconds earlier may not have propagated yet ("Access denied to KMS key"). A key policy may not
    # name a principal that does not exist yet (and this key is created before the role), so the
    # principal is '*' pinned by the caller account and the role's exact ARN; a role recreated under
    # the same name keeps the grant.
    return {
        "Sid": "AllowEksClusterRoleEnvelopeEncryption",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": EKS_CLUSTER_KEY_ACTIONS,
        "Resource": "*",
        "Condition": {
            "StringEquals": {"kms:CallerAccount": ctx.account_id},
            "ArnEquals": {
                "aws:PrincipalArn": f"arn:{ctx.partition}:iam::{ctx.account_id}:role/{cluster_role}"
            },
        },
    }


def _eventbridge_statement(ctx: AwsContext, queue: str) -> dict[str, Any]:
    # EventBridge delivers Spot interruption warnings and the other node events to Karpenter's queue, which is
    # encrypted with this key; SQS uses the key on the sender's behalf, so the service principal needs these
    # two actions. The encryption context SQS passes names the queue: this queue only, in this account.
    return {
        "Sid": "AllowEventBridgeToKarpenterInterruptionQueue",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:aws:sqs:arn": ctx.arn("sqs", queue)}},
    }


def _autoscaling_statements(ctx: AwsContext) -> list[dict[str, Any]]:
    # Managed node groups launch through Auto Scaling, whose service-linked role encrypts the nodes' root
    # volumes; without these two statements nodes with encrypted volumes never start. The role must
    # exist before the key policy names it (`mlops bootstrap` creates it if the account lacks it).
    autoscaling = (
        f"arn:{ctx.partition}:iam::{ctx.account_id}:role/aws-service-role/autoscaling.amazonaws.com/"
        "AWSServiceRoleForAutoScaling"
    )
    return [
        {
            "Sid": "AllowAutoScalingToUseTheKeyForNodeVolumes",
            "Effect": "Allow",
            "Principal": {"AWS": autoscaling},
            "Action": USE_ACTIONS,
            "Resource": "*",
        },
        {
            "Sid": "AllowAutoScalingGrantsForNodeVolumes",
            "Effect": "Allow",
            "Principal": {"AWS": autoscaling},
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
    ]


def spot_role_arn(ctx: AwsContext) -> str:
    """The EC2 Spot service-linked role, which creates the volumes of the Spot instances Karpenter launches."""
    return (
        f"arn:{ctx.partition}:iam::{ctx.account_id}:role/aws-service-role/spot.amazonaws.com/"
        "AWSServiceRoleForEC2Spot"
    )


def _spot_statements(ctx: AwsContext) -> list[dict[str, Any]]:
    # Karpenter (its interruption queue marks it) launches Spot instances through EC2 Fleet, and EC2 creates
    # a Spot instance's encrypted root volume as the Spot service-linked role, which EC2's documentation says
    # must be allowed the customer key; without these two statements Spot nodes never start. `mlops bootstrap`
    # creates that role, but a key policy may not name a principal that does not exist yet (a key made before
    # bootstrap), and a role deleted and recreated would lose a grant that named it (KMS keeps the old role's
    # ID); so '*' pinned to the account and to the role's exact ARN, as the cluster role above.
    pinned = {
        "StringEquals": {"kms:CallerAccount": ctx.account_id},
        "ArnEquals": {"aws:PrincipalArn": spot_role_arn(ctx)},
    }
    return [
        {
            "Sid": "AllowEc2SpotToUseTheKeyForNodeVolumes",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": USE_ACTIONS,
            "Resource": "*",
            "Condition": pinned,
        },
        {
            "Sid": "AllowEc2SpotGrantsForNodeVolumes",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": {**pinned, "Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
    ]


def key_policy(
    purpose: str, ctx: AwsContext, *, cluster_role: str | None = None, interruption_queue: str | None = None
) -> dict[str, Any]:
    """The key policy of one purpose's key, as a dict (``json.dumps`` it): the account's administration
    statement, then the purpose's own statements.

    ``cluster_role`` (required for ``cluster``) is the EKS cluster role's name: the key policy grants it
    the envelope-encryption actions itself, so EKS's check of the key at CreateCluster does not depend on
    an IAM policy that is seconds old (hashicorp/terraform-provider-aws#49247). ``interruption_queue`` (for
    ``cluster``) names Karpenter's interruption queue, whose messages EventBridge encrypts with the key; with
    it the EC2 Spot service-linked role may also use the key for the volumes of Karpenter's Spot nodes."""
    if purpose == "logs":
        statements = _logs_statements(ctx)
    elif purpose == "data":
        statements = _data_statements(ctx)
    elif purpose == "cluster":
        statements = _cluster_statements(ctx, cluster_role, interruption_queue)
    else:
        raise ValueError(f"unknown key purpose {purpose!r}; expected one of {list(PURPOSES)}")
    return {
        "Version": "2012-10-17",
        "Id": f"{purpose}-key-policy",
        "Statement": [_root_statement(ctx), *statements],
    }


class Keys(pulumi.ComponentResource):
    """Customer-managed KMS keys, one per purpose (:data:`PURPOSES`), with automatic rotation, an alias
    each and a key policy that lets exactly the consuming services use them.

    Outputs: ``data_key_arn``, ``logs_key_arn``, ``cluster_key_arn`` (and the ``keys``/``aliases`` dicts of
    resources by purpose); ``context`` is the account/region the policies were written for.
    """

    def __init__(self, name: str, args: KeysArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:keys:Keys", name, None, opts)
        if not 7 <= args.deletion_window_days <= 30:
            raise ValueError("deletion_window_days must be between 7 and 30")
        if not 90 <= args.rotation_period_days <= 2560:
            raise ValueError("rotation_period_days must be between 90 and 2560")
        self.context = args.aws_context or lookup(self)
        self.cluster_role_name = args.cluster_role_name or cluster_role_name(f"{args.prefix}-eks")
        queue = args.interruption_queue_name
        self.interruption_queue_name = (
            interruption_queue_name(f"{args.prefix}-eks") if queue is None else queue
        )
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)

        self.keys: dict[str, aws.kms.Key] = {}
        self.aliases: dict[str, aws.kms.Alias] = {}
        for purpose in PURPOSES:
            key = aws.kms.Key(
                f"{name}-{purpose}",
                description=f"{args.prefix}: {purpose} encryption key",
                key_usage="ENCRYPT_DECRYPT",
                customer_master_key_spec="SYMMETRIC_DEFAULT",
                enable_key_rotation=True,
                rotation_period_in_days=args.rotation_period_days,
                deletion_window_in_days=args.deletion_window_days,
                multi_region=False,
                bypass_policy_lockout_safety_check=False,
                policy=json.dumps(
                    key_policy(
                        purpose,
                        self.context,
                        cluster_role=self.cluster_role_name,
                        interruption_queue=self.interruption_queue_name or None,
                    )
                ),
                tags={"Name": f"{args.prefix}-{purpose}", "purpose": purpose},
                opts=stateful,
            )
            self.keys[purpose] = key
            self.aliases[purpose] = aws.kms.Alias(
                f"{name}-{purpose}",
                name=f"alias/{args.prefix}-{purpose}",
                target_key_id=key.key_id,
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.data_key = self.keys["data"]
        self.logs_key = self.keys["logs"]
        self.cluster_key = self.keys["cluster"]
        self.data_key_arn: pulumi.Output[str] = self.data_key.arn
        self.logs_key_arn: pulumi.Output[str] = self.logs_key.arn
        self.cluster_key_arn: pulumi.Output[str] = self.cluster_key.arn
        self.register_outputs(
            {
                "data_key_arn": self.data_key_arn,
                "logs_key_arn": self.logs_key_arn,
                "cluster_key_arn": self.cluster_key_arn,
            }
        )
