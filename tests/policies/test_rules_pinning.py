"""Precision of the caller-pinning conditions (principal '*' in key, bucket, topic and repository policies)
and of the wildcard-resource rule for identity policies, driven through the real analyzer protocol."""

from __future__ import annotations

import json
from typing import Any

import pytest
from policybaseline import ACCOUNT, KEY_ARN, baseline, doc
from policytest import (
    Checker,
    assert_mutation_caught,
    aws_provider,
    resource,
    select,
    set_input,
)

ORG = "o-a1b2c3d4e5"
BUCKET_ARN = "arn:aws:s3:::mlops-prod-artifacts"

# ---- principal '*' in resource policies ------------------------------------------------------------

PUBLIC_POLICY_RULES = {
    "aws:kms/key:Key": "kms-no-public-principal",
    "aws:s3/bucketPolicy:BucketPolicy": "s3-no-public-policy",
    "aws:sns/topicPolicy:TopicPolicy": "sns-no-public-policy",
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "ecr-no-public-policy",
}


def _public(condition: dict[str, Any] | None, principal: Any = "*") -> dict[str, Any]:
    stmt: dict[str, Any] = {
        "Sid": "Use",
        "Effect": "Allow",
        "Principal": principal,
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "*",
    }
    if condition is not None:
        stmt["Condition"] = condition
    return stmt


def _policy_hits(checker: Checker, type_: str, statement: dict[str, Any]) -> list[str]:
    res = resource(type_, "under-test", {"policy": doc(statement)})
    result = checker.run([aws_provider("prod"), res], "prod")
    return [v.message for v in result.by_policy(PUBLIC_POLICY_RULES[type_])]


NOT_PINNED = {
    "no condition": None,
    "kms:ViaService only": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
    "kms:ViaService list only": {
        "StringEquals": {"kms:ViaService": ["s3.eu-west-1.amazonaws.com", "rds.eu-west-1.amazonaws.com"]}
    },
    "SourceAccount '*'": {"StringLike": {"aws:SourceAccount": "*"}},
    "SourceAccount with a '?' pattern": {"StringLike": {"aws:SourceAccount": "12345678901?"}},
    "SourceAccount list with '*'": {"StringLike": {"aws:SourceAccount": [ACCOUNT, "*"]}},
    "CallerAccount '*' with ViaService": {
        "StringLike": {"kms:CallerAccount": "*", "kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    },
    "CallerAccount pattern": {"StringLike": {"kms:CallerAccount": "1234*"}},
    "PrincipalOrgID '*'": {"StringLike": {"aws:PrincipalOrgID": "*"}},
    "PrincipalOrgID pattern": {"StringLike": {"aws:PrincipalOrgID": "o-*"}},
    "PrincipalOrgPaths '*'": {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "*"}},
    "SourceArn '*'": {"ArnLike": {"aws:SourceArn": "*"}},
    "SourceArn any account": {"ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:eu-west-1:*:alarm:*"}},
    "SourceArn any bucket": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}},
    "PrincipalArn any account": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ci"}},
    "SourceAccount from a policy variable": {
        "StringEquals": {"aws:SourceAccount": "${aws:PrincipalAccount}"}
    },
    "negated operator": {"StringNotEquals": {"aws:SourceAccount": ACCOUNT}},
    "IfExists operator": {"StringEqualsIfExists": {"aws:PrincipalAccount": ACCOUNT}},
    "Null operator": {"Null": {"aws:SourceAccount": "false"}},
    "ResourceOrgID (the resource's org, not the caller's)": {"StringEquals": {"aws:ResourceOrgID": ORG}},
}

PINNED = {
    "CallerAccount with ViaService": {
        "StringEquals": {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    },
    "ViaService plus PrincipalAccount in another operator": {
        "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"},
        "StringEqualsIgnoreCase": {"aws:PrincipalAccount": ACCOUNT},
    },
    "SourceAccount": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
    "SourceAccount list": {"StringEquals": {"aws:SourceAccount": [ACCOUNT, "210987654321"]}},
    "PrincipalOrgID": {"StringEquals": {"aws:PrincipalOrgID": ORG}},
    "PrincipalOrgPaths below the org": {
        "ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": f"{ORG}/r-ab12/ou-ab12-11111111/*"}
    },
    "SourceArn of the account's alarms": {
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:*"}
    },
    "SourceArn of one bucket": {"ArnEquals": {"aws:SourceArn": BUCKET_ARN}},
    "PrincipalArn of the account's roles": {
        "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/*"}
    },
    "SourceVpce": {"StringEquals": {"aws:SourceVpce": "vpce-0123456789abcdef0"}},
}


@pytest.mark.parametrize("type_", sorted(PUBLIC_POLICY_RULES))
@pytest.mark.parametrize("condition", list(NOT_PINNED.values()), ids=list(NOT_PINNED))
def test_public_statement_without_a_real_pin_is_caught(
    checker: Checker, type_: str, condition: dict[str, Any] | None
) -> None:
    assert _policy_hits(checker, type_, _public(condition)), condition


@pytest.mark.parametrize("type_", sorted(PUBLIC_POLICY_RULES))
@pytest.mark.parametrize("condition", list(PINNED.values()), ids=list(PINNED))
def test_public_statement_pinned_to_the_caller_is_fine(
    checker: Checker, type_: str, condition: dict[str, Any]
) -> None:
    assert _policy_hits(checker, type_, _public(condition)) == []
    assert _policy_hits(checker, type_, _public(condition, {"AWS": "*"})) == []


def test_baseline_key_statement_loses_its_account_pin(checker: Checker) -> None:
    # The baseline key's EBS statement (principal '*', kms:CallerAccount + kms:ViaService) is compliant;
    # without kms:CallerAccount only the service is named and any account may use the key through EC2.
    ebs_via_service_only = _public({"StringEquals": {"kms:ViaService": "ec2.eu-west-1.amazonaws.com"}})
    root = {
        "Sid": "Root",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    assert_mutation_caught(
        checker,
        baseline("prod"),
        select("aws:kms/key:Key"),
        set_input("policy", doc(root, ebs_via_service_only)),
        "kms-no-public-principal",
    )


def test_bucket_policy_with_wildcard_source_account_is_caught(checker: Checker) -> None:
    graph = baseline("prod")
    policy = next(r for r in graph.resources if r.name == "artifacts-policy")
    tls = policy.inputs["policy"]
    wildcard = {
        "Sid": "AnyAccount",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"{BUCKET_ARN}/*",
        "Condition": {"StringLike": {"aws:SourceAccount": "*"}},
    }
    statements = [*json.loads(tls)["Statement"], wildcard]
    assert_mutation_caught(
        checker,
        graph,
        select("aws:s3/bucketPolicy:BucketPolicy", "artifacts-policy"),
        set_input("policy", doc(*statements)),
        "s3-no-public-policy",
    )


# ---- identity policies: wildcard resources ---------------------------------------------------------

WILDCARD_RULE = "iam-no-wildcard-resource-write"


def _identity_hits(checker: Checker, *statements: dict[str, Any], env: str = "prod") -> list[str]:
    policy = resource("aws:iam/policy:Policy", "p", {"policy": doc(*statements)})
    role = resource(
        "aws:iam/role:Role",
        "r",
        {
            "assumeRolePolicy": doc(
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ),
            "inlinePolicies": [{"name": "inline", "policy": doc(*statements)}],
        },
    )
    result = checker.run([aws_provider(env), policy, role], env)
    hits = result.by_policy(WILDCARD_RULE)
    # The same statements are judged alike in a managed policy and in a role's inline policy.
    assert sorted(v.name for v in hits) in ([], ["p", "r"]), [(v.name, v.message) for v in hits]
    return [v.message for v in hits if v.name == "p"]


def _allow(action: Any, resource_: Any) -> dict[str, Any]:
    return {"Sid": "S", "Effect": "Allow", "Action": action, "Resource": resource_}


FLAGGED = {
    "write on '*'": _allow("s3:PutObject", "*"),
    "write on every bucket": _allow("s3:PutObject", "arn:aws:s3:::*"),
    "write on every object of every bucket": _allow("s3:DeleteObject", "arn:aws:s3:::*/*"),
    "write on every role of every account": _allow("iam:PassRole", "arn:aws:iam::*:role/*"),
    "write on every role of the account": _allow(
        "iam:UpdateAssumeRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/*"
    ),
    "write on anything in any partition": _allow("sns:Publish", "arn:*:sns:*:*:*"),
    "write on every secret": _allow("secretsmanager:PutSecretValue", "arn:aws:secretsmanager:*:*:secret:*"),
    "secret read on '*'": _allow("secretsmanager:GetSecretValue", "*"),
    "secret read on every secret": _allow(
        "secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:*"
    ),
    "parameter reads on '*'": _allow(["ssm:GetParameter", "ssm:GetParametersByPath"], "*"),
    "parameter read pattern on every parameter": _allow(
        "ssm:GetParameter*", f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/*"
    ),
    "decrypt on '*'": _allow("kms:Decrypt", "*"),
    "decrypt on every key": _allow("kms:Decrypt", "arn:aws:kms:*:*:key/*"),
    "object read on every object": _allow("s3:GetObject", "arn:aws:s3:::*/*"),
    "object read via s3:Get* on '*'": _allow("s3:Get*", "*"),
    "lower-case action": _allow("secretsmanager:getsecretvalue", "*"),
    "wildcard among named resources": _allow("s3:PutObject", [f"{BUCKET_ARN}/*", "arn:aws:s3:::*"]),
}

ALLOWED = {
    "registry login": _allow("ecr:GetAuthorizationToken", "*"),
    "metric reads": _allow(["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"], "*"),
    "describe calls": _allow(["ec2:Describe*", "logs:DescribeLogGroups", "logs:Describe*"], "*"),
    "grafana's CloudWatch read-only set": _allow(
        [
            "cloudwatch:DescribeAlarmsForMetric",
            "cloudwatch:DescribeAlarms",
            "cloudwatch:GetMetricData",
            "cloudwatch:GetInsightRuleReport",
            "ec2:DescribeTags",
            "ec2:DescribeRegions",
            "tag:GetResources",
        ],
        "*",
    ),
    "exempt metric write": _allow("cloudwatch:PutMetricData", "*"),
    "object access in one bucket": _allow(["s3:GetObject", "s3:PutObject"], f"{BUCKET_ARN}/*"),
    "object access under a prefix": _allow("s3:PutObject", f"{BUCKET_ARN}/mlflow/*"),
    "one secret": _allow(
        "secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:mlops-db-*"
    ),
    "parameters under a path": _allow(
        "ssm:GetParameter*", f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/mlops/prod/*"
    ),
    "decrypt with one key": _allow("kms:Decrypt", KEY_ARN),
    "log streams of one group": _allow(
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/eks/mlops-prod/*",
    ),
    "roles under a path": _allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/mlops/*"),
    "harmless read on every bucket": _allow("s3:ListAllMyBuckets", "arn:aws:s3:::*"),
}


@pytest.mark.parametrize("statement", list(FLAGGED.values()), ids=list(FLAGGED))
def test_wildcard_resource_with_write_or_sensitive_read_is_caught(
    checker: Checker, statement: dict[str, Any]
) -> None:
    assert _identity_hits(checker, statement), statement


@pytest.mark.parametrize("statement", list(ALLOWED.values()), ids=list(ALLOWED))
def test_scoped_or_harmless_statements_are_fine(checker: Checker, statement: dict[str, Any]) -> None:
    assert _identity_hits(checker, statement) == []


def test_message_names_the_wildcard_resource(checker: Checker) -> None:
    [message] = _identity_hits(checker, _allow(["s3:PutObject", "s3:ListBucket"], "arn:aws:s3:::*"))
    assert "s3:PutObject" in message and "s3:ListBucket" not in message and "'arn:aws:s3:::*'" in message


def test_managed_policies_attached_by_arn_are_not_inline_documents(checker: Checker) -> None:
    # AWS managed policies (ReadOnlyAccess reads secrets on '*') are referenced by ARN: not judged here.
    role = resource(
        "aws:iam/role:Role",
        "r",
        {
            "assumeRolePolicy": doc(
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ),
            "managedPolicyArns": [
                "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
                "arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess",
            ],
        },
    )
    attachment = resource(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "a",
        {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"},
    )
    result = checker.run([aws_provider("prod"), role, attachment], "prod")
    assert not result.by_policy(WILDCARD_RULE)


def test_sensitive_read_can_be_exempted_by_config(checker: Checker) -> None:
    from policytest import config_for, graph_of

    from mlops.analyzer import analyze_with

    policy = resource("aws:iam/policy:Policy", "p", {"policy": doc(_allow("kms:Decrypt", "*"))})
    graph = graph_of([aws_provider("prod"), policy])
    assert analyze_with(checker.stub, graph, config=config_for("prod")).by_policy(WILDCARD_RULE)
    config = config_for("prod")
    config[WILDCARD_RULE]["allowedActions"] = [*config[WILDCARD_RULE]["allowedActions"], "kms:Decrypt"]
    assert not analyze_with(checker.stub, graph, config=config).by_policy(WILDCARD_RULE)


# ---- service principals in key policies: pinned to this account's resources ---------------------------


def _service_hits(checker: Checker, condition: dict[str, Any] | None) -> list[str]:
    stmt = _public(condition, principal={"Service": "cloudwatch.amazonaws.com"})
    res = resource("aws:kms/key:Key", "under-test", {"policy": doc(stmt)})
    result = checker.run([aws_provider("prod"), res], "prod")
    return [v.message for v in result.by_policy("kms-service-principal-source")]


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        {"ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:*"}},
        {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:*"},
        },
        {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:*"}},
    ],
    ids=["SourceAccount", "SourceArn", "both", "logs encryption context"],
)
def test_service_principal_pinned_to_the_account_is_compliant(checker: Checker, condition: dict) -> None:
    assert _service_hits(checker, condition) == []


@pytest.mark.parametrize(
    "condition",
    [
        None,
        {"StringEquals": {"kms:ViaService": "sns.eu-west-1.amazonaws.com"}},
        {"ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:eu-west-1:*:alarm:*"}},
        {"StringLike": {"aws:SourceAccount": "*"}},
        {"StringNotEquals": {"aws:SourceAccount": ACCOUNT}},
        {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-west-1:*:log-group:*"}},
    ],
    ids=[
        "none",
        "ViaService only",
        "SourceArn any account",
        "SourceAccount *",
        "negated",
        "context any account",
    ],
)
def test_service_principal_without_a_source_condition_is_caught(
    checker: Checker, condition: dict | None
) -> None:
    (message,) = _service_hits(checker, condition)
    assert "cloudwatch.amazonaws.com" in message and "aws:SourceAccount" in message
