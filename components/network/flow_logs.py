"""VPC flow logs of :class:`~mlops_platform.components.network.network.Network`: every flow (traffic type ALL) to a
KMS-encrypted CloudWatch log group, written by a role that only the flow-log service of this account may
assume and that may write to that one group only."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from mlops_platform.components.aws_context import AwsContext
from mlops_platform.components.iam import service_trust_policy

__all__ = ["flow_log_role_policy", "flow_log_trust_policy", "flow_logs"]


def flow_log_trust_policy(ctx: AwsContext) -> dict[str, object]:
    """``vpc-flow-logs.amazonaws.com`` may assume the role, for flow logs of this account only."""
    return service_trust_policy(
        "vpc-flow-logs.amazonaws.com",
        source_account=ctx.account_id,
        source_arn_pattern=ctx.arn("ec2", "vpc-flow-log/*"),
    )


def flow_log_role_policy(log_group_arn: str) -> str:
    """The role's inline policy (JSON): write to the log group ``log_group_arn`` and find it, nothing else."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "WriteToTheFlowLogGroupOnly",
                    "Effect": "Allow",
                    "Action": [
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogStreams",
                    ],
                    "Resource": [log_group_arn, f"{log_group_arn}:*"],
                },
                {
                    # DescribeLogGroups takes no resource ARN: scoped to the group it was never granted.
                    # It lists group names only.
                    "Sid": "FindTheFlowLogGroup",
                    "Effect": "Allow",
                    "Action": "logs:DescribeLogGroups",
                    "Resource": "*",
                },
            ],
        }
    )


def flow_logs(
    name: str,
    *,
    vpc_id: pulumi.Input[str],
    ctx: AwsContext,
    kms_key_arn: pulumi.Input[str] | None,
    retention_days: int,
    aggregation_seconds: int,
    protect: bool,
    parent: pulumi.Resource,
) -> tuple[aws.cloudwatch.LogGroup, aws.ec2.FlowLog]:
    """The log group ``/aws/vpc/flow-logs/<name>``, the delivery role and its policy, and the flow log of
    the VPC (created after the policy: deliveries start at once)."""
    child = pulumi.ResourceOptions(parent=parent)
    group = aws.cloudwatch.LogGroup(
        f"{name}-flow-logs",
        name=f"/aws/vpc/flow-logs/{name}",
        kms_key_id=kms_key_arn,
        retention_in_days=retention_days,
        deletion_protection_enabled=protect,
        tags={"Name": f"{name}-flow-logs"},
        opts=child,
    )
    role = aws.iam.Role(
        f"{name}-flow-logs",
        description=f"VPC flow logs of {name} to its CloudWatch log group",
        assume_role_policy=json.dumps(flow_log_trust_policy(ctx)),
        tags={"Name": f"{name}-flow-logs"},
        opts=child,
    )
    policy = aws.iam.RolePolicy(
        f"{name}-flow-logs", role=role.id, policy=group.arn.apply(flow_log_role_policy), opts=child
    )
    flow_log = aws.ec2.FlowLog(
        f"{name}-flow-logs",
        vpc_id=vpc_id,
        traffic_type="ALL",
        log_destination_type="cloud-watch-logs",
        log_destination=group.arn,
        iam_role_arn=role.arn,
        max_aggregation_interval=aggregation_seconds,
        tags={"Name": f"{name}-flow-logs"},
        # Deliveries start at once: the role must already be allowed to write.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[policy]),
    )
    return group, flow_log
