"""The security groups of :class:`~mlops_platform.components.cluster.cluster.KubernetesCluster`: one for the control-plane
ENIs, one for the nodes, and every rule between them, declared here (not the EKS-created group)."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

__all__ = ["CONTROL_PLANE_TO_NODE_PORTS", "cluster_security_groups"]

CONTROL_PLANE_TO_NODE_PORTS = (
    ("443", 443, 443, "API server to webhooks on 443"),
    ("kubelet", 10250, 10250, "API server to kubelets"),
    ("ephemeral", 1025, 65535, "API server to webhooks and aggregated APIs"),
)
"""``(label, from port, to port, why)`` of each TCP range the API server opens to the nodes: an egress rule
on the control-plane group and the matching ingress rule on the node group."""


def cluster_security_groups(
    name: str,
    *,
    cluster_name: str,
    vpc_id: pulumi.Input[str],
    api_access_cidrs: Sequence[str],
    opts: pulumi.ResourceOptions,
) -> tuple[aws.ec2.SecurityGroup, aws.ec2.SecurityGroup]:
    """The control-plane and node security groups with their rules: nodes to the API server on 443, each
    of ``api_access_cidrs`` to it on 443, the API server to the nodes on :data:`CONTROL_PLANE_TO_NODE_PORTS`,
    node to node on everything, and the nodes out to anywhere (through NAT or VPC endpoints).

    The node group's launch template attaches only the node group; the database admits exactly that group."""
    control_plane = aws.ec2.SecurityGroup(
        f"{name}-control-plane",
        description=f"EKS control plane ENIs of {cluster_name}",
        vpc_id=vpc_id,
        tags={"Name": f"{cluster_name}-control-plane"},
        opts=opts,
    )
    nodes = aws.ec2.SecurityGroup(
        f"{name}-nodes",
        description=f"EKS nodes of {cluster_name}",
        vpc_id=vpc_id,
        # karpenter.sh/discovery: Karpenter's node classes select this group (and the private subnets) by it.
        tags={
            "Name": f"{cluster_name}-nodes",
            f"kubernetes.io/cluster/{cluster_name}": "owned",
            "karpenter.sh/discovery": cluster_name,
        },
        opts=opts,
    )
    _rules(name, control_plane.id, nodes.id, api_access_cidrs, opts)
    return control_plane, nodes


def _rules(
    name: str,
    cp_sg: pulumi.Input[str],
    node_sg: pulumi.Input[str],
    api_access_cidrs: Sequence[str],
    opts: pulumi.ResourceOptions,
) -> None:
    """The rules of :func:`cluster_security_groups`, one resource each."""
    aws.vpc.SecurityGroupIngressRule(
        f"{name}-cp-from-nodes-443",
        security_group_id=cp_sg,
        referenced_security_group_id=node_sg,
        ip_protocol="tcp",
        from_port=443,
        to_port=443,
        description="Nodes and pods to the API server",
        opts=opts,
    )
    for i, cidr in enumerate(dict.fromkeys(api_access_cidrs)):
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-cp-from-cidr-{i}",
            security_group_id=cp_sg,
            cidr_ipv4=cidr,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description=f"API server (private endpoint) from {cidr}",
            opts=opts,
        )
    for label, low, high, why in CONTROL_PLANE_TO_NODE_PORTS:
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-cp-to-nodes-{label}",
            security_group_id=cp_sg,
            referenced_security_group_id=node_sg,
            ip_protocol="tcp",
            from_port=low,
            to_port=high,
            description=why,
            opts=opts,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-nodes-from-cp-{label}",
            security_group_id=node_sg,
            referenced_security_group_id=cp_sg,
            ip_protocol="tcp",
            from_port=low,
            to_port=high,
            description=why,
            opts=opts,
        )
    aws.vpc.SecurityGroupIngressRule(
        f"{name}-nodes-from-nodes",
        security_group_id=node_sg,
        referenced_security_group_id=node_sg,
        ip_protocol="-1",
        description="Node to node and pod to pod",
        opts=opts,
    )
    aws.vpc.SecurityGroupEgressRule(
        f"{name}-nodes-egress",
        security_group_id=node_sg,
        cidr_ipv4="0.0.0.0/0",
        ip_protocol="-1",
        description="Nodes to AWS APIs, registries and the VPC (through NAT or VPC endpoints)",
        opts=opts,
    )
