"""Network rules (policies/rules/network.py): each rule quiet on the baseline and caught once its setting is broken,
through the real analyzer protocol; then precision cases: what must not fire, and the other ways to break it."""

from __future__ import annotations

from typing import Any

import pytest
from policybaseline import ACCOUNT, doc
from policycases import CASE_FIELDS, Case, assert_case_caught, case_ids, case_rules, rule_names
from policytest import Checker, Mutation, Selector, aws_provider, drop_input, resource, select, set_input

from mlops_platform.policies.rules import network

CASES: list[Case] = [
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
    (
        "net-vpc-endpoint-policy",
        select("aws:ec2/vpcEndpoint:VpcEndpoint", "secretsmanager-endpoint"),
        drop_input("policy"),
        {},
    ),
]


def test_every_rule_has_a_case() -> None:
    assert case_rules(CASES) == rule_names(network)


@pytest.mark.parametrize(CASE_FIELDS, CASES, ids=case_ids(CASES))
def test_rule_catches_its_violation(
    checker: Checker, rule: str, selector: Selector, mutation: Mutation | None, options: dict[str, Any]
) -> None:
    assert_case_caught(checker, rule, selector, mutation, options)


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
