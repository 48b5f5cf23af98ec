"""Managed node groups of :class:`~mlops_platform.components.cluster.cluster.KubernetesCluster`: their spec, the GPU variant,
and the builders of a group's hardened launch template and of the group itself.

A function builds, the cluster wraps: :func:`launch_template` and :func:`node_group` take plain values (names,
a spec, the security group, the key, the role) and the cluster's options, never the platform's config.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from mlops_platform.components.iam import managed_policy_arn

__all__ = [
    "GPU_NODE_LABEL",
    "GPU_TAINT",
    "LAUNCH_TEMPLATE_TAGGED_RESOURCES",
    "MAX_UNAVAILABLE_PERCENTAGE",
    "NODE_GROUP_LABEL",
    "NODE_MANAGED_POLICIES",
    "NODE_MANAGED_POLICY_NAMES",
    "TAINT_EFFECTS",
    "NodeGroupSpec",
    "gpu_node_group",
    "launch_template",
    "node_group",
    "node_group_specs",
    "node_labels",
]

NODE_MANAGED_POLICY_NAMES = (
    "AmazonEKSWorkerNodePolicy",
    # Pull only: no ecr:Get/List beyond what pulling an image needs (unlike ...ReadOnly).
    "AmazonEC2ContainerRegistryPullOnly",
)
NODE_MANAGED_POLICIES = tuple(managed_policy_arn(n) for n in NODE_MANAGED_POLICY_NAMES)
"""The node role's managed policies in the standard partition."""
GPU_TAINT = ("nvidia.com/gpu", "true", "NO_SCHEDULE")
GPU_NODE_LABEL = ("mlops.platform/accelerator", "nvidia")
"""The label every GPU node of the platform carries, whoever launched it: :func:`gpu_node_group` sets it on the
managed GPU group, a Karpenter GPU pool in its NodePool's ``spec.template.metadata.labels``. NVIDIA's device
plugin and the DCGM exporter select GPU nodes by it. (An AL2023 NVIDIA node does not label itself
``nvidia.com/gpu.present``: that label comes from NVIDIA's GPU feature discovery, which the platform does not run.)"""
NODE_GROUP_LABEL = "mlops.platform/node-group"
# Node-group taint effects (EKS API spelling) as Kubernetes spells them in tolerations.
TAINT_EFFECTS = {
    "NO_SCHEDULE": "NoSchedule",
    "NO_EXECUTE": "NoExecute",
    "PREFER_NO_SCHEDULE": "PreferNoSchedule",
}
LAUNCH_TEMPLATE_TAGGED_RESOURCES = ("instance", "volume", "network-interface")
"""What a launch template tags with the group's ``Name`` when it launches a node."""
MAX_UNAVAILABLE_PERCENTAGE = 33
"""Share of a group's nodes a rolling update may take down at once."""


@dataclass(frozen=True)
class NodeGroupSpec:
    """One managed node group.

    Attributes:
        instance_types: EC2 instance types (the first is preferred).
        min_size: Minimum node count.
        max_size: Maximum node count.
        desired_size: Node count. No cluster autoscaler is installed: Pulumi owns the count, so
            ``pulumi up`` sets every group back to this value (change it in config to scale).
        disk_size_gib: Size of the encrypted gp3 root volume.
        ami_type: EKS AMI type; AL2023 by default (AL2 AMIs end with Kubernetes 1.32).
        labels: Extra node labels (``mlops.platform/node-group=<name>`` is always set).
        taints: ``(key, value, effect)`` taints, effect one of NO_SCHEDULE, NO_EXECUTE, PREFER_NO_SCHEDULE.
        capacity_type: ON_DEMAND or SPOT.
    """

    instance_types: list[str]
    min_size: int
    max_size: int
    desired_size: int
    disk_size_gib: int = 50
    ami_type: str = "AL2023_x86_64_STANDARD"
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: Sequence[tuple[str, str, str]] = ()
    capacity_type: str = "ON_DEMAND"


def gpu_node_group(spec: NodeGroupSpec) -> NodeGroupSpec:
    """``spec`` as a GPU group: the AL2023 NVIDIA AMI, the ``nvidia.com/gpu=true:NoSchedule`` taint, labels."""
    return NodeGroupSpec(
        instance_types=spec.instance_types,
        min_size=spec.min_size,
        max_size=spec.max_size,
        desired_size=spec.desired_size,
        disk_size_gib=spec.disk_size_gib,
        ami_type="AL2023_x86_64_NVIDIA",
        labels={"nvidia.com/gpu.present": "true", GPU_NODE_LABEL[0]: GPU_NODE_LABEL[1], **spec.labels},
        taints=[GPU_TAINT, *spec.taints],
        capacity_type=spec.capacity_type,
    )


def node_group_specs(
    system: NodeGroupSpec, workload: NodeGroupSpec | None = None, gpu: NodeGroupSpec | None = None
) -> dict[str, NodeGroupSpec]:
    """The cluster's groups by name, in creation order: ``system`` and, if given, ``workload`` and ``gpu``."""
    groups = {"system": system}
    if workload is not None:
        groups["workload"] = workload
    if gpu is not None:
        groups["gpu"] = gpu
    return groups


def node_labels(group: str, spec: NodeGroupSpec) -> dict[str, str]:
    """A group's node labels: :data:`NODE_GROUP_LABEL` naming the group, then the spec's own labels."""
    return {NODE_GROUP_LABEL: group, **spec.labels}


def launch_template(
    name: str,
    *,
    cluster_name: str,
    group: str,
    spec: NodeGroupSpec,
    security_group_id: pulumi.Input[str],
    volume_key_arn: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> aws.ec2.LaunchTemplate:
    """The hardened launch template of one group: IMDSv2 only with a hop limit of 1, the node security group
    alone, an encrypted gp3 root volume, detailed monitoring and the group's name on what it launches."""
    return aws.ec2.LaunchTemplate(
        name,
        description=f"{cluster_name} {group} nodes",
        update_default_version=True,
        vpc_security_group_ids=[security_group_id],
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled",
            http_tokens="required",
            # 1: pods (one network hop further) cannot reach IMDS or the node role's credentials;
            # they get credentials through IRSA only.
            http_put_response_hop_limit=1,
            instance_metadata_tags="disabled",
        ),
        block_device_mappings=[
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name="/dev/xvda",
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_type="gp3",
                    volume_size=spec.disk_size_gib,
                    encrypted="true",
                    kms_key_id=volume_key_arn,
                    delete_on_termination="true",
                ),
            )
        ],
        monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=True),
        tag_specifications=[
            aws.ec2.LaunchTemplateTagSpecificationArgs(
                resource_type=kind, tags={"Name": f"{cluster_name}-{group}"}
            )
            for kind in LAUNCH_TEMPLATE_TAGGED_RESOURCES
        ],
        tags={"Name": f"{cluster_name}-{group}"},
        opts=opts,
    )


def node_group(
    name: str,
    *,
    eks_cluster_name: pulumi.Input[str],
    cluster_name: str,
    group: str,
    spec: NodeGroupSpec,
    node_role_arn: pulumi.Input[str],
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]],
    template: aws.ec2.LaunchTemplate,
    opts: pulumi.ResourceOptions,
) -> aws.eks.NodeGroup:
    """One managed node group on ``template``, in ``subnet_ids``, labelled and tainted from ``spec``.

    No cluster autoscaler is installed: Pulumi owns ``desired_size`` (from config), so a manual resize is
    reverted by the next ``pulumi up``."""
    return aws.eks.NodeGroup(
        name,
        cluster_name=eks_cluster_name,
        node_group_name=f"{cluster_name}-{group}",
        node_role_arn=node_role_arn,
        subnet_ids=subnet_ids,
        ami_type=spec.ami_type,
        capacity_type=spec.capacity_type,
        instance_types=list(spec.instance_types),
        launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
            id=template.id, version=template.latest_version.apply(str)
        ),
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(
            min_size=spec.min_size, max_size=spec.max_size, desired_size=spec.desired_size
        ),
        update_config=aws.eks.NodeGroupUpdateConfigArgs(
            max_unavailable_percentage=MAX_UNAVAILABLE_PERCENTAGE
        ),
        labels=node_labels(group, spec),
        taints=[aws.eks.NodeGroupTaintArgs(key=k, value=v, effect=e) for k, v, e in spec.taints] or None,
        tags={"Name": f"{cluster_name}-{group}"},
        opts=opts,
    )
