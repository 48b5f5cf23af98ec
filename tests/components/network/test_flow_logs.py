"""mlops_platform.components.network.flow_logs: the delivery role's trust and its write-to-one-group policy."""

from __future__ import annotations

import json

from mlops_platform.components.aws_context import AwsContext
from mlops_platform.components.network.flow_logs import flow_log_role_policy, flow_log_trust_policy

CTX = AwsContext(account_id="210987654321", region="eu-west-1")
GROUP = "arn:aws:logs:eu-west-1:210987654321:log-group:/aws/vpc/flow-logs/net"


def test_only_this_accounts_flow_logs_may_assume_the_role() -> None:
    assert flow_log_trust_policy(CTX) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": "210987654321"},
                    "ArnLike": {"aws:SourceArn": "arn:aws:ec2:eu-west-1:210987654321:vpc-flow-log/*"},
                },
            }
        ],
    }


def test_role_writes_to_its_group_and_lists_group_names_only() -> None:
    write, find = json.loads(flow_log_role_policy(GROUP))["Statement"]
    assert write["Sid"] == "WriteToTheFlowLogGroupOnly"
    assert write["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    assert write["Resource"] == [GROUP, f"{GROUP}:*"]
    assert find == {
        "Sid": "FindTheFlowLogGroup",
        "Effect": "Allow",
        "Action": "logs:DescribeLogGroups",
        "Resource": "*",
    }
