"""mlops_platform.components.cluster.access: who gets an admin access entry, and the kubeconfig."""

from __future__ import annotations

import json

from mlops_platform.components.cluster.access import CLUSTER_ADMIN_POLICY, admin_entries, kubeconfig

A = "arn:aws:iam::123456789012:role/platform-admins"
B = "arn:aws:iam::123456789012:role/oncall"
DEPLOYER = "arn:aws:iam::123456789012:role/mlops-deploy/mlops-prod-deploy"


def test_admins_deduplicated_in_order_then_the_deployer() -> None:
    assert admin_entries([A, B, A], DEPLOYER) == [("admin-0", A), ("admin-1", B), ("deployer", DEPLOYER)]


def test_no_deployer_entry_when_absent_empty_or_already_an_admin() -> None:
    assert admin_entries([A], None) == [("admin-0", A)]
    assert admin_entries([A], "") == [("admin-0", A)]
    assert admin_entries([A, DEPLOYER], DEPLOYER) == [("admin-0", A), ("admin-1", DEPLOYER)]
    assert admin_entries([], None) == []


def test_cluster_admin_policy_arn() -> None:
    assert CLUSTER_ADMIN_POLICY == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def test_kubeconfig_execs_aws_eks_get_token_and_carries_no_credential() -> None:
    doc = json.loads(
        kubeconfig("mlops-prod-eks", "https://ABC.gr7.eu-west-1.eks.amazonaws.com", "Q0E=", "eu-west-1")
    )
    assert doc["current-context"] == "mlops-prod-eks"
    assert doc["clusters"] == [
        {
            "name": "mlops-prod-eks",
            "cluster": {
                "server": "https://ABC.gr7.eu-west-1.eks.amazonaws.com",
                "certificate-authority-data": "Q0E=",
            },
        }
    ]
    assert doc["contexts"] == [
        {"name": "mlops-prod-eks", "context": {"cluster": "mlops-prod-eks", "user": "mlops-prod-eks"}}
    ]
    (user,) = doc["users"]
    assert set(user["user"]) == {"exec"}
    exec_ = user["user"]["exec"]
    assert exec_["args"] == [
        "eks",
        "get-token",
        "--cluster-name",
        "mlops-prod-eks",
        "--region",
        "eu-west-1",
        "--output",
        "json",
    ]
    assert exec_["interactiveMode"] == "Never"
    assert exec_["apiVersion"] == "client.authentication.k8s.io/v1beta1"
