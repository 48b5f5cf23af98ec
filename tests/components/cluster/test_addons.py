"""mlops_platform.components.cluster.addons: the add-on version table, the EBS CSI key policy, the device plugin values."""

from __future__ import annotations

import json
import re

import pytest

from mlops_platform.components.cluster.addons import (
    CORE_ADDONS,
    DEFAULT_STORAGE_CLASS,
    DEVICE_PLUGIN_SECURITY,
    EBS_CSI_SERVICE_ACCOUNT,
    VPC_CNI_CONFIG,
    VPC_CNI_SERVICE_ACCOUNT,
    addon_versions,
    device_plugin_values,
    ebs_csi_kms_policy,
)
from mlops_platform.components.cluster.node_groups import NodeGroupSpec, gpu_node_group
from mlops_platform.components.cluster.versions import ADDON_VERSIONS, DEFAULT_KUBERNETES_VERSION

KEY = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-4333-8444-555555555555"


def test_every_pinned_row_covers_the_core_add_ons() -> None:
    for version in ADDON_VERSIONS:
        assert set(addon_versions(version)) == set(CORE_ADDONS)
    assert addon_versions(DEFAULT_KUBERNETES_VERSION) == ADDON_VERSIONS[DEFAULT_KUBERNETES_VERSION]


def test_overrides_replace_the_row_and_must_be_complete() -> None:
    own = {
        "vpc-cni": "v9",
        "coredns": "v9",
        "kube-proxy": "v9",
        "aws-ebs-csi-driver": "v9",
        "metrics-server": "v9",
    }
    assert addon_versions("1.99", own) == own
    with pytest.raises(
        ValueError, match=r"Kubernetes 1\.34 \(\['aws-ebs-csi-driver', 'coredns', 'metrics-server'\]\)"
    ):
        addon_versions("1.34", {"vpc-cni": "v1", "kube-proxy": "v1"})


def test_metrics_server_is_pinned_to_an_eks_build_of_0_8_for_every_minor() -> None:
    for version, row in ADDON_VERSIONS.items():
        assert re.fullmatch(r"v0\.8\.\d+-eksbuild\.\d+", row["metrics-server"]), version


def test_unknown_version_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"known: \['1\.33', '1\.34', '1\.36'\]"):
        addon_versions("1.99")


def test_ebs_csi_kms_policy_grants_aws_resource_grants_and_uses_of_one_key() -> None:
    doc = json.loads(ebs_csi_kms_policy(KEY))
    grants, use = doc["Statement"]
    assert grants == {
        "Effect": "Allow",
        "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
        "Resource": KEY,
        "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
    }
    assert use["Resource"] == KEY
    assert use["Action"] == [
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ReEncrypt*",
        "kms:GenerateDataKey*",
        "kms:DescribeKey",
    ]
    assert "Condition" not in use


def test_service_accounts_and_cni_config() -> None:
    assert VPC_CNI_SERVICE_ACCOUNT == ("kube-system", "aws-node")
    assert EBS_CSI_SERVICE_ACCOUNT == ("kube-system", "ebs-csi-controller-sa")
    assert json.dumps(VPC_CNI_CONFIG) == '{"enableNetworkPolicy": "true"}'
    assert DEFAULT_STORAGE_CLASS == "gp3-encrypted"


def test_device_plugin_values_select_the_gpu_nodes_and_tolerate_each_taint_once() -> None:
    spec = gpu_node_group(
        NodeGroupSpec(["g5.xlarge"], 0, 1, 0, taints=[("nvidia.com/gpu", "true", "NO_SCHEDULE")])
    )
    values = device_plugin_values(spec)
    # Every GPU node, a managed group's or a Karpenter pool's, carries mlops.platform/accelerator=nvidia.
    assert values["nodeSelector"] == {"mlops.platform/accelerator": "nvidia"}
    (term,) = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert term["matchExpressions"] == [
        {"key": "mlops.platform/accelerator", "operator": "In", "values": ["nvidia"]}
    ]
    assert device_plugin_values()["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ]
    # The GPU taint twice in the spec (gpu_node_group adds it): one toleration.
    assert values["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ]
    assert values["securityContext"] is DEVICE_PLUGIN_SECURITY
    assert values["resources"]["limits"] == {"cpu": "200m", "memory": "256Mi"}
    assert values["priorityClassName"] == "system-node-critical"
    assert values["gfd"] == values["nfd"] == {"enabled": False}
