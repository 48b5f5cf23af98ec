"""Who reaches the API of :class:`~mlops_platform.components.cluster.cluster.KubernetesCluster` and how: EKS access entries
for the admins and the deploy role (no ``aws-auth`` ConfigMap), and the kubeconfig that authenticates with
``aws eks get-token``."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from mlops_platform.components.iam import cluster_access_policy_arn

__all__ = ["CLUSTER_ADMIN_POLICY", "admin_access", "admin_entries", "kubeconfig"]

CLUSTER_ADMIN_POLICY = cluster_access_policy_arn("AmazonEKSClusterAdminPolicy")
"""AmazonEKSClusterAdminPolicy in the standard partition (see :func:`~mlops_platform.components.iam.cluster_access_policy_arn`)."""


def admin_entries(
    admin_principal_arns: Sequence[str], deployer_principal_arn: pulumi.Input[str] | None
) -> list[tuple[str, pulumi.Input[str]]]:
    """The admin access entries as ``(label, principal ARN)``: ``admin-<i>`` per distinct admin, then
    ``deployer`` unless the deploy role is absent, empty or already an admin."""
    admins = list(dict.fromkeys(admin_principal_arns))
    entries: list[tuple[str, pulumi.Input[str]]] = [(f"admin-{i}", arn) for i, arn in enumerate(admins)]
    deployer = deployer_principal_arn
    if deployer is not None and not (isinstance(deployer, str) and (not deployer or deployer in admins)):
        entries.append(("deployer", deployer))
    return entries


def admin_access(
    name: str,
    *,
    eks_cluster_name: pulumi.Input[str],
    entries: Sequence[tuple[str, pulumi.Input[str]]],
    partition: str,
    opts: pulumi.ResourceOptions,
) -> list[aws.eks.AccessPolicyAssociation]:
    """One STANDARD access entry per ``(label, principal)`` with AmazonEKSClusterAdminPolicy on the whole
    cluster; returns the policy associations (what the Kubernetes provider waits for)."""
    associations: list[aws.eks.AccessPolicyAssociation] = []
    for label, arn in entries:
        entry = aws.eks.AccessEntry(
            f"{name}-{label}", cluster_name=eks_cluster_name, principal_arn=arn, type="STANDARD", opts=opts
        )
        associations.append(
            aws.eks.AccessPolicyAssociation(
                f"{name}-{label}",
                cluster_name=eks_cluster_name,
                principal_arn=entry.principal_arn,
                policy_arn=cluster_access_policy_arn("AmazonEKSClusterAdminPolicy", partition),
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                opts=opts,
            )
        )
    return associations


def kubeconfig(name: str, endpoint: str, ca_data: str, region: str) -> str:
    """A kubeconfig (JSON) for cluster ``name`` whose user runs ``aws eks get-token``: no token in it."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}
            ],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
            "users": [
                {
                    "name": name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": [
                                "eks",
                                "get-token",
                                "--cluster-name",
                                name,
                                "--region",
                                region,
                                "--output",
                                "json",
                            ],
                            "interactiveMode": "Never",
                        }
                    },
                }
            ],
        }
    )
