"""IAM building blocks shared by every component: managed-policy ARNs, trust policies, IRSA roles.

One home for each: a service's trust policy (pinned by ``aws:SourceAccount`` and ``aws:SourceArn`` where the
service sends them), the IRSA trust of exactly one Kubernetes service account, and the role built from it.
Documents are plain Python values serialised with ``json.dumps``, never data-source invokes, so the offline
engine and the policy pack see them whole.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

__all__ = [
    "cluster_access_policy_arn",
    "irsa_trust_policy",
    "managed_policy_arn",
    "service_account_role",
    "service_trust_policy",
    "service_trust_statement",
]


def managed_policy_arn(name: str, partition: str = "aws") -> str:
    """The ARN of an AWS managed IAM policy (``name`` may carry a path: ``service-role/...``)."""
    return f"arn:{partition}:iam::aws:policy/{name}"


def cluster_access_policy_arn(name: str, partition: str = "aws") -> str:
    """The ARN of an EKS access policy such as ``AmazonEKSClusterAdminPolicy``."""
    return f"arn:{partition}:eks::aws:cluster-access-policy/{name}"


def service_trust_statement(
    service: str,
    *,
    actions: Sequence[str] = ("sts:AssumeRole",),
    source_account: str | None = None,
    source_arn: str | None = None,
    source_arn_pattern: str | None = None,
    sid: str | None = None,
) -> dict[str, Any]:
    """One statement letting an AWS service principal assume a role.

    ``source_account`` pins ``aws:SourceAccount``; ``source_arn`` pins ``aws:SourceArn`` exactly
    (``ArnEquals``) and ``source_arn_pattern`` with wildcards (``ArnLike``): the confused-deputy guards of
    services that send them. One action is written as a string, several as a list."""
    statement: dict[str, Any] = {"Sid": sid} if sid else {}
    statement["Effect"] = "Allow"
    statement["Principal"] = {"Service": service}
    statement["Action"] = actions[0] if len(actions) == 1 else list(actions)
    condition: dict[str, Any] = {}
    if source_account is not None:
        condition["StringEquals"] = {"aws:SourceAccount": source_account}
    if source_arn is not None:
        condition["ArnEquals"] = {"aws:SourceArn": source_arn}
    if source_arn_pattern is not None:
        condition["ArnLike"] = {"aws:SourceArn": source_arn_pattern}
    if condition:
        statement["Condition"] = condition
    return statement


def service_trust_policy(service: str, **pins: Any) -> dict[str, Any]:
    """A trust policy with the one statement of :func:`service_trust_statement`."""
    return {"Version": "2012-10-17", "Statement": [service_trust_statement(service, **pins)]}


def irsa_trust_policy(
    oidc_provider_arn: str, oidc_issuer_url: str, namespace: str, service_account: str
) -> str:
    """The trust policy of a role that exactly one Kubernetes service account may assume through IRSA.

    ``oidc_issuer_url`` is the cluster's issuer with or without ``https://`` (and a trailing slash)."""
    issuer = oidc_issuer_url.removeprefix("https://").rstrip("/")
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": oidc_provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                            f"{issuer}:aud": "sts.amazonaws.com",
                        }
                    },
                }
            ],
        }
    )


def service_account_role(
    name: str,
    *,
    oidc_provider_arn: pulumi.Input[str],
    oidc_issuer_url: pulumi.Input[str],
    namespace: str,
    service_account: str,
    description: str,
    opts: pulumi.ResourceOptions,
) -> aws.iam.Role:
    """An IAM role for one service account (IRSA), trusted for exactly that namespace and name."""
    return aws.iam.Role(
        name,
        description=description,
        assume_role_policy=pulumi.Output.all(oidc_provider_arn, oidc_issuer_url).apply(
            lambda a: irsa_trust_policy(a[0], a[1], namespace, service_account)
        ),
        max_session_duration=3600,
        opts=opts,
    )
