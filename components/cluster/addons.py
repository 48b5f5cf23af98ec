"""What :class:`~mlops_platform.components.cluster.cluster.KubernetesCluster` installs onto EKS: the core EKS add-ons at
pinned versions (and the EBS CSI driver's key policy), NVIDIA's device plugin on a GPU group, and the
default encrypted gp3 StorageClass.

The versions themselves live in :mod:`mlops_platform.components.cluster.versions` (no SDK import, so the config schema can
check them); this module turns them into resources.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from mlops_platform.components.cluster.node_groups import (
    GPU_NODE_LABEL,
    GPU_TAINT,
    TAINT_EFFECTS,
    NodeGroupSpec,
)
from mlops_platform.components.cluster.versions import (
    ADDON_VERSIONS,
    NVIDIA_DEVICE_PLUGIN_CHART,
    NVIDIA_DEVICE_PLUGIN_CHART_VERSION,
    NVIDIA_DEVICE_PLUGIN_REPOSITORY,
)

__all__ = [
    "CORE_ADDONS",
    "DEFAULT_STORAGE_CLASS",
    "DEVICE_PLUGIN_RESOURCES",
    "DEVICE_PLUGIN_SECURITY",
    "EBS_CSI_SERVICE_ACCOUNT",
    "VPC_CNI_CONFIG",
    "VPC_CNI_SERVICE_ACCOUNT",
    "addon",
    "addon_versions",
    "default_storage_class",
    "device_plugin_release",
    "device_plugin_values",
    "ebs_csi_kms_policy",
]

CORE_ADDONS = ("vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver", "metrics-server")
"""The EKS add-ons every cluster gets; each needs a pinned version. ``metrics-server`` is the EKS community
add-on (the resource metrics API, ``metrics.k8s.io``, that HorizontalPodAutoscalers and ``kubectl top`` read:
KServe's Standard-mode autoscaling needs it); EKS runs it with 2 replicas on port 10251, which the control
plane reaches through the nodes' 1025-65535 rule (security_groups.CONTROL_PLANE_TO_NODE_PORTS)."""
VPC_CNI_CONFIG = {"enableNetworkPolicy": "true"}
"""The VPC CNI's configuration values: it enforces Kubernetes NetworkPolicies."""
VPC_CNI_SERVICE_ACCOUNT = ("kube-system", "aws-node")
"""Namespace and name of the VPC CNI's service account (its IRSA role trusts exactly this one)."""
EBS_CSI_SERVICE_ACCOUNT = ("kube-system", "ebs-csi-controller-sa")
"""Namespace and name of the EBS CSI controller's service account."""
DEFAULT_STORAGE_CLASS = "gp3-encrypted"
"""Name of the cluster's default StorageClass."""
DEVICE_PLUGIN_RESOURCES = {
    "requests": {"cpu": "50m", "memory": "64Mi"},
    "limits": {"cpu": "200m", "memory": "256Mi"},
}
DEVICE_PLUGIN_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
"""The device plugin container's securityContext (the chart's ``securityContext`` value)."""


def addon_versions(kubernetes_version: str, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The pinned version of every core add-on: ``overrides`` if given, else :data:`ADDON_VERSIONS`' row for
    ``kubernetes_version``. Raises ``ValueError`` naming what is missing."""
    versions = dict(overrides or ADDON_VERSIONS.get(kubernetes_version, {}))
    missing = set(CORE_ADDONS) - set(versions)
    if missing:
        raise ValueError(
            f"no pinned add-on versions for Kubernetes {kubernetes_version} ({sorted(missing)}); "
            f"add a row to mlops_platform.components.cluster.versions.ADDON_VERSIONS (known: {sorted(ADDON_VERSIONS)})"
        )
    return versions


def ebs_csi_kms_policy(volume_key_arn: str) -> str:
    """The EBS CSI driver's inline policy: grants for AWS resources and the uses of the volume key only."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                    "Resource": volume_key_arn,
                    "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
                },
                {
                    "Effect": "Allow",
                    "Resource": volume_key_arn,
                    "Action": [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:DescribeKey",
                    ],
                },
            ],
        }
    )


def addon(
    name: str,
    *,
    eks_cluster_name: pulumi.Input[str],
    addon_name: str,
    version: str,
    parent: pulumi.Resource,
    role: aws.iam.Role | None = None,
    config: dict[str, Any] | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
) -> aws.eks.Addon:
    """One EKS add-on at ``version``, overwriting conflicting fields, with an IRSA ``role`` if given."""
    return aws.eks.Addon(
        name,
        cluster_name=eks_cluster_name,
        addon_name=addon_name,
        addon_version=version,
        service_account_role_arn=role.arn if role else None,
        configuration_values=json.dumps(config) if config else None,
        resolve_conflicts_on_create="OVERWRITE",
        resolve_conflicts_on_update="OVERWRITE",
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )


def device_plugin_values(gpu_nodes: NodeGroupSpec | None = None) -> dict[str, Any]:
    """Helm values of NVIDIA's device plugin: on every GPU node (:data:`GPU_NODE_LABEL`: the managed GPU
    group's and a Karpenter GPU pool's), tolerating the GPU taint (and the group's other taints), bounded."""
    key, value = GPU_NODE_LABEL
    taints = [GPU_TAINT, *(gpu_nodes.taints if gpu_nodes is not None else ())]
    return {
        # Exactly the platform's GPU nodes, whatever else they are labelled (replaces the chart's default
        # NFD-label affinity, which would also match GPU nodes the platform does not manage).
        "nodeSelector": {key: value},
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": key, "operator": "In", "values": [value]}]}
                    ]
                }
            }
        },
        "tolerations": [
            {"key": k, "operator": "Equal", "value": v, "effect": TAINT_EFFECTS[effect]}
            for k, v, effect in dict.fromkeys(taints)
        ],
        "resources": DEVICE_PLUGIN_RESOURCES,
        # Replaces the chart's default (escalation off, ALL dropped) as a whole, adding a read-only root
        # file system: the plugin writes only its socket (the kubelet's device-plugins hostPath).
        "securityContext": DEVICE_PLUGIN_SECURITY,
        "priorityClassName": "system-node-critical",
        # The plugin alone: no GPU feature discovery / NFD (privileged DaemonSets we do not need).
        "gfd": {"enabled": False},
        "nfd": {"enabled": False},
    }


def device_plugin_release(
    name: str, gpu_nodes: NodeGroupSpec | None, opts: pulumi.ResourceOptions
) -> k8s.helm.v3.Release:
    """NVIDIA's device plugin (pinned chart) in ``kube-system``, on the GPU nodes.

    The AL2023 NVIDIA AMI has the driver and container toolkit, not the device plugin: without it GPU nodes
    never advertise ``nvidia.com/gpu`` and no GPU pod schedules."""
    return k8s.helm.v3.Release(
        name,
        name="nvidia-device-plugin",
        chart=NVIDIA_DEVICE_PLUGIN_CHART,
        version=NVIDIA_DEVICE_PLUGIN_CHART_VERSION,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=NVIDIA_DEVICE_PLUGIN_REPOSITORY),
        namespace="kube-system",
        create_namespace=False,
        atomic=True,
        cleanup_on_fail=True,
        values=device_plugin_values(gpu_nodes),
        opts=opts,
    )


def default_storage_class(
    name: str, *, volume_key_arn: pulumi.Input[str], reclaim_policy: str, opts: pulumi.ResourceOptions
) -> k8s.storage.v1.StorageClass:
    """The default StorageClass :data:`DEFAULT_STORAGE_CLASS`: gp3 through the EBS CSI driver, encrypted
    with ``volume_key_arn``, bound when the first pod is scheduled, expandable."""
    return k8s.storage.v1.StorageClass(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=DEFAULT_STORAGE_CLASS,
            annotations={"storageclass.kubernetes.io/is-default-class": "true"},
        ),
        provisioner="ebs.csi.aws.com",
        parameters={"type": "gp3", "encrypted": "true", "kmsKeyId": volume_key_arn},
        volume_binding_mode="WaitForFirstConsumer",
        allow_volume_expansion=True,
        reclaim_policy=reclaim_policy,
        opts=opts,
    )
