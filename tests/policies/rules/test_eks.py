"""EKS and launch-template rules (policies/rules/eks.py): each rule quiet on the baseline and caught once its setting is broken,
through the real analyzer protocol; then precision cases: what must not fire, and the other ways to break it."""

from __future__ import annotations

from typing import Any

import pytest
from policybaseline import baseline
from policycases import (
    CASE_FIELDS,
    CLUSTER,
    GPU_NODES,
    LT,
    SYSTEM_NODES,
    Case,
    assert_case_caught,
    case_ids,
    case_rules,
    rule_names,
)
from policytest import Checker, Mutation, Selector, aws_provider, drop_input, select, set_input

from mlops_platform.policies.rules import eks

CASES: list[Case] = [
    ("eks-private-endpoint", CLUSTER, set_input("vpcConfig.endpointPublicAccess", True), {}),
    ("eks-secrets-encryption", CLUSTER, drop_input("encryptionConfig"), {}),
    ("eks-control-plane-logging", CLUSTER, set_input("enabledClusterLogTypes", ["api", "audit"]), {}),
    ("eks-supported-version", CLUSTER, set_input("version", "1.27"), {}),
    ("eks-access-entries", CLUSTER, set_input("accessConfig.authenticationMode", "API_AND_CONFIG_MAP"), {}),
    ("eks-addon-version-pinned", select("aws:eks/addon:Addon"), drop_input("addonVersion"), {}),
    ("eks-nodegroup-no-ssh", SYSTEM_NODES, set_input("remoteAccess", {"ec2SshKey": "ops"}), {}),
    ("eks-nodegroup-launch-template", SYSTEM_NODES, drop_input("launchTemplate"), {}),
    ("ec2-launch-template-imdsv2", LT, set_input("metadataOptions.httpTokens", "optional"), {}),
    (
        "ec2-launch-template-encrypted-volumes",
        LT,
        set_input("blockDeviceMappings.0.ebs.encrypted", "false"),
        {},
    ),
    ("eks-approved-instance-types", SYSTEM_NODES, set_input("instanceTypes", ["x2iedn.32xlarge"]), {}),
    ("eks-gpu-nodes-tainted", GPU_NODES, set_input("taints", []), {}),
    ("eks-nodegroup-private-subnets", SYSTEM_NODES, None, {"public_subnets": True}),
]


def test_every_rule_has_a_case() -> None:
    assert case_rules(CASES) == rule_names(eks)


@pytest.mark.parametrize(CASE_FIELDS, CASES, ids=case_ids(CASES))
def test_rule_catches_its_violation(
    checker: Checker, rule: str, selector: Selector, mutation: Mutation | None, options: dict[str, Any]
) -> None:
    assert_case_caught(checker, rule, selector, mutation, options)


def test_public_eks_endpoint_with_allow_list_is_advisory_free_in_dev(checker: Checker) -> None:
    cluster = next(r for r in baseline("dev").resources if r.type == "aws:eks/cluster:Cluster")
    cluster.inputs["vpcConfig"] = {
        "endpointPublicAccess": True,
        "endpointPrivateAccess": True,
        "publicAccessCidrs": ["203.0.113.0/24"],
    }
    assert not checker.run([aws_provider("dev"), cluster], "dev").by_policy("eks-private-endpoint")
    assert checker.run([aws_provider("prod"), cluster], "prod").by_policy("eks-private-endpoint")
