"""IAM rules (policies/rules/iam.py): each rule quiet on the baseline and caught once its setting is broken,
through the real analyzer protocol; then precision cases: what must not fire, and the other ways to break it."""

from __future__ import annotations

from typing import Any

import pytest
from policybaseline import ACCOUNT, ISSUER, KEY_ARN, baseline, doc
from policycases import (
    CASE_FIELDS,
    IRSA,
    METRICS,
    Case,
    assert_case_caught,
    case_ids,
    case_rules,
    rule_names,
    statement_policy,
)
from policytest import (
    Checker,
    Mutation,
    Selector,
    aws_provider,
    config_for,
    graph_of,
    resource,
    select,
    set_input,
)

from mlops_platform.policies.rules import iam

CASES: list[Case] = [
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
]


def test_every_rule_has_a_case() -> None:
    assert case_rules(CASES) == rule_names(iam)


@pytest.mark.parametrize(CASE_FIELDS, CASES, ids=case_ids(CASES))
def test_rule_catches_its_violation(
    checker: Checker, rule: str, selector: Selector, mutation: Mutation | None, options: dict[str, Any]
) -> None:
    assert_case_caught(checker, rule, selector, mutation, options)


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


# ---- identity policies: wildcard resources ---------------------------------------------------------

WILDCARD_RULE = "iam-no-wildcard-resource-write"
BUCKET_ARN = "arn:aws:s3:::mlops-prod-artifacts"


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

    from mlops_platform.mlops.analyzer import analyze_with

    policy = resource("aws:iam/policy:Policy", "p", {"policy": doc(_allow("kms:Decrypt", "*"))})
    graph = graph_of([aws_provider("prod"), policy])
    assert analyze_with(checker.stub, graph, config=config_for("prod")).by_policy(WILDCARD_RULE)
    config = config_for("prod")
    config[WILDCARD_RULE]["allowedActions"] = [*config[WILDCARD_RULE]["allowedActions"], "kms:Decrypt"]
    assert not analyze_with(checker.stub, graph, config=config).by_policy(WILDCARD_RULE)
