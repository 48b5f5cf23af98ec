"""ContainerRegistry under the recording monitor, alone and wired to the cluster's node role."""

from __future__ import annotations

import json

import pytest
from compute_support import policy, render_platform

from mlops_platform.components.container_registry import (
    PULL_ACTIONS,
    ContainerRegistry,
    ContainerRegistryArgs,
    lifecycle_policy,
    pull_policy,
)
from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.graph import Graph

KEY = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-4333-8444-555555555555"
NODE_ROLE = "arn:aws:iam::123456789012:role/c1-nodes"


def render(protect: bool = True) -> Graph:
    return run_callable(
        lambda: ContainerRegistry(
            "reg",
            ContainerRegistryArgs(
                repositories=["training", "serving"],
                kms_key_arn=KEY,
                puller_role_arn=NODE_ROLE,
                name_prefix="team/",
                keep_tagged_images=42,
                untagged_expiry_days=3,
                protect=protect,
            ),
        )
    )


@pytest.fixture(scope="module")
def graph() -> Graph:
    return render()


def test_repositories_are_immutable_scanned_and_kms_encrypted(graph: Graph) -> None:
    repos = {r.inputs["name"]: r for r in graph.of_type("aws:ecr/repository:Repository")}
    assert set(repos) == {"team/training", "team/serving"}
    for r in repos.values():
        assert r.inputs["imageTagMutability"] == "IMMUTABLE"
        assert r.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert r.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": KEY}]
        assert r.inputs["forceDelete"] is False
        assert r.protect and r.retain_on_delete


def test_protection_follows_the_argument() -> None:
    assert not any(r.protect for r in render(protect=False).of_type("aws:ecr/repository:Repository"))


def test_lifecycle_keeps_last_tagged_and_expires_untagged(graph: Graph) -> None:
    for lp in graph.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy"):
        rules = {r["selection"]["tagStatus"]: r for r in json.loads(lp.inputs["policy"])["rules"]}
        assert rules["untagged"]["selection"] == {
            "tagStatus": "untagged",
            "countType": "sinceImagePushed",
            "countUnit": "days",
            "countNumber": 3,
        }
        assert rules["tagged"]["selection"] == {
            "tagStatus": "tagged",
            "tagPatternList": ["*"],
            "countType": "imageCountMoreThan",
            "countNumber": 42,
        }
        assert all(r["action"] == {"type": "expire"} for r in rules.values())


def test_repository_policy_grants_pull_to_the_node_role_only(graph: Graph) -> None:
    policies = graph.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy")
    assert len(policies) == 2
    for p in policies:
        (stmt,) = policy(p)["Statement"]
        assert stmt["Effect"] == "Allow"
        assert stmt["Principal"] == {"AWS": NODE_ROLE}
        assert sorted(stmt["Action"]) == sorted(PULL_ACTIONS)
        assert not any(
            a.endswith(("PutImage", "UploadLayerPart", "InitiateLayerUpload", "*")) for a in stmt["Action"]
        )


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        run_callable(
            lambda: ContainerRegistry(
                "reg",
                ContainerRegistryArgs(repositories=["a", "a"], kms_key_arn=KEY, puller_role_arn=NODE_ROLE),
            )
        )


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_platform_registry_pull_is_the_node_roles(env: str) -> None:
    """The managed nodes' role and Karpenter's nodes' role pull, nothing else."""
    g, cfg = render_platform(env)
    node_role = g.one("aws:iam/role:Role", f"{cfg.name}-eks-nodes")
    karpenter_nodes = g.one("aws:iam/role:Role", f"{cfg.name}-eks-karpenter-nodes")
    repos = g.of_type("aws:ecr/repository:Repository")
    assert sorted(r.inputs["name"] for r in repos) == sorted(
        f"{cfg.name}/{n}" for n in cfg.registry.repositories
    )
    assert all(r.protect == cfg.protection.stateful_resources for r in repos)
    for p in g.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy"):
        assert policy(p)["Statement"][0]["Principal"] == {
            "AWS": [node_role.outputs["arn"], karpenter_nodes.outputs["arn"]]
        }
    for lp in g.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy"):
        tagged = json.loads(lp.inputs["policy"])["rules"][1]["selection"]
        assert tagged["countNumber"] == cfg.registry.keep_tagged_images


def test_lifecycle_policy_expires_untagged_first_then_keeps_the_newest_tagged() -> None:
    untagged, tagged = json.loads(lifecycle_policy(keep_tagged_images=30, untagged_expiry_days=3))["rules"]
    assert untagged["rulePriority"] == 1
    assert untagged["selection"] == {
        "tagStatus": "untagged",
        "countType": "sinceImagePushed",
        "countUnit": "days",
        "countNumber": 3,
    }
    assert tagged["rulePriority"] == 2
    assert tagged["selection"]["countType"] == "imageCountMoreThan"
    assert tagged["selection"]["countNumber"] == 30
    assert untagged["action"] == tagged["action"] == {"type": "expire"}


def test_pull_policy_names_one_role_and_the_pull_actions_only() -> None:
    role = "arn:aws:iam::123456789012:role/mlops-prod-eks-nodes"
    (statement,) = json.loads(pull_policy(role))["Statement"]
    assert statement == {
        "Sid": "NodeRolePull",
        "Effect": "Allow",
        "Principal": {"AWS": role},
        "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
    }
