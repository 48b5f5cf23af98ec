"""The IAM documents of Karpenter (:mod:`~mlops_platform.components.cluster.karpenter`): the controller's identity
policy, scoped the way Karpenter's reference policy (its v1.14 getting-started CloudFormation template) scopes it,
and the interruption queue's resource policy. Pure functions of ARNs and names; no resource is created here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["controller_policy", "queue_policy"]


def controller_policy(
    *,
    cluster_name: str,
    cluster_arn: str,
    region: str,
    partition: str,
    node_role_arn: str,
    queue_arn: str,
    volume_key_arn: str,
) -> dict[str, Any]:
    """The controller's permissions, scoped as Karpenter's reference policy scopes them: what it launches,
    tags and terminates carries ``kubernetes.io/cluster/<cluster>=owned``, ``eks:eks-cluster-name`` and a
    ``karpenter.sh/nodepool`` tag; reads are limited to the region; it passes the node role only, to EC2 only;
    it reads the interruption queue only; it uses the volume key through EC2 only.

    No IAM action but that ``iam:PassRole``: the node classes name our instance profile
    (``spec.instanceProfile``), so the controller never reads, creates or deletes one (v1.14.1, the node class
    controller copies the name into its status), and with ``settings.isolatedVPC`` it neither registers the
    garbage collection of the profiles it would have created (``iam:ListInstanceProfiles``) nor cleans them
    up when a node class is deleted (``iam:GetInstanceProfile``); IAM has no VPC endpoint anyway."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            *_launch_statements(cluster_name, f"arn:{partition}:ec2:{region}"),
            *_read_statements(region, partition, cluster_arn, node_role_arn, queue_arn),
            *_key_statements(region, volume_key_arn),
        ],
    }


def _launch_statements(cluster_name: str, ec2: str) -> list[dict[str, Any]]:
    """Launching, tagging and terminating the cluster's own nodes and launch templates (tag-scoped)."""
    owned = {f"aws:ResourceTag/kubernetes.io/cluster/{cluster_name}": "owned"}
    in_pool = {"aws:ResourceTag/karpenter.sh/nodepool": "*"}
    request = {
        f"aws:RequestTag/kubernetes.io/cluster/{cluster_name}": "owned",
        "aws:RequestTag/eks:eks-cluster-name": cluster_name,
    }
    launched = [
        f"{ec2}:*:{kind}/*"
        for kind in (
            "fleet",
            "instance",
            "volume",
            "network-interface",
            "launch-template",
            "spot-instances-request",
        )
    ]
    return [
        {
            "Sid": "LaunchFromImagesSubnetsAndSecurityGroups",
            "Effect": "Allow",
            "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
            "Resource": [
                f"{ec2}::image/*",
                f"{ec2}::snapshot/*",
                f"{ec2}:*:security-group/*",
                f"{ec2}:*:subnet/*",
                f"{ec2}:*:capacity-reservation/*",
                f"{ec2}:*:placement-group/*",
            ],
        },
        {
            "Sid": "LaunchFromOwnLaunchTemplates",
            "Effect": "Allow",
            "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
            "Resource": f"{ec2}:*:launch-template/*",
            "Condition": {"StringEquals": owned, "StringLike": in_pool},
        },
        {
            "Sid": "CreateTaggedNodes",
            "Effect": "Allow",
            "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
            "Resource": launched,
            "Condition": {
                "StringEquals": request,
                "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
            },
        },
        {
            "Sid": "TagOnCreate",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": launched,
            "Condition": {
                "StringEquals": {
                    **request,
                    "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"],
                },
                "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
            },
        },
        {
            "Sid": "TagOwnNodes",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": f"{ec2}:*:instance/*",
            "Condition": {
                "StringEquals": owned,
                "StringLike": in_pool,
                "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": cluster_name},
                "ForAllValues:StringEquals": {
                    "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]
                },
            },
        },
        {
            "Sid": "DeleteOwnNodes",
            "Effect": "Allow",
            "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
            "Resource": [f"{ec2}:*:instance/*", f"{ec2}:*:launch-template/*"],
            "Condition": {"StringEquals": owned, "StringLike": in_pool},
        },
    ]


def _read_statements(
    region: str,
    partition: str,
    cluster_arn: str,
    node_role_arn: str,
    queue_arn: str,
) -> list[dict[str, Any]]:
    """Discovery in the region, the AMI parameters, passing the node role, the cluster and the queue."""
    return [
        {
            "Sid": "ReadInRegion",
            "Effect": "Allow",
            "Action": [
                "ec2:DescribeCapacityReservations",
                "ec2:DescribeImages",
                "ec2:DescribeInstances",
                "ec2:DescribeInstanceStatus",
                "ec2:DescribeInstanceTypeOfferings",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplates",
                "ec2:DescribePlacementGroups",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSpotPriceHistory",
                "ec2:DescribeSubnets",
            ],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
        },
        {
            "Sid": "ReadAmiAliasParameters",
            "Effect": "Allow",
            "Action": "ssm:GetParameter",
            "Resource": f"arn:{partition}:ssm:{region}::parameter/aws/service/*",
        },
        {
            "Sid": "PassNodeRoleToEc2",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": node_role_arn,
            "Condition": {
                "StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}
            },
        },
        {
            "Sid": "DiscoverApiEndpointAndServiceCidr",
            "Effect": "Allow",
            "Action": "eks:DescribeCluster",
            "Resource": cluster_arn,
        },
        {
            "Sid": "ReadInterruptionQueue",
            "Effect": "Allow",
            "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
            "Resource": queue_arn,
        },
    ]


def _key_statements(region: str, volume_key_arn: str) -> list[dict[str, Any]]:
    """The cluster key, through SQS (the queue's messages) and EC2 (the nodes' root volumes) only."""
    return [
        {
            # The queue is encrypted with the cluster key: receiving a message decrypts it through SQS.
            "Sid": "DecryptInterruptionMessages",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": volume_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"sqs.{region}.amazonaws.com"}},
        },
        {
            # Root volumes encrypted with the cluster key: EC2 creates them with the caller's key access.
            "Sid": "EncryptNodeVolumes",
            "Effect": "Allow",
            "Action": [
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncrypt*",
                "kms:GenerateDataKeyWithoutPlaintext",
                "kms:DescribeKey",
            ],
            "Resource": volume_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"ec2.{region}.amazonaws.com"}},
        },
        {
            "Sid": "GrantVolumeKeyToEbs",
            "Effect": "Allow",
            "Action": "kms:CreateGrant",
            "Resource": volume_key_arn,
            "Condition": {
                "Bool": {"kms:GrantIsForAWSResource": "true"},
                "StringEquals": {"kms:ViaService": f"ec2.{region}.amazonaws.com"},
            },
        },
    ]


def queue_policy(queue_arn: str, rule_arns: Sequence[str]) -> dict[str, Any]:
    """The interruption queue's policy: EventBridge may send to it for exactly ``rule_arns``; nothing over
    plain HTTP."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EventBridgeRulesOfThisCluster",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": list(rule_arns)}},
            },
            {
                "Sid": "DenyPlainHttp",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:*",
                "Resource": queue_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }
