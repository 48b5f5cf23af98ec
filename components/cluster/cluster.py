"""KubernetesCluster: an EKS cluster that is private, encrypted and audited by default.

Workload identity is IRSA (IAM roles for service accounts through the cluster's OIDC provider). Every
role a pod may assume is trusted for exactly one ``system:serviceaccount:<namespace>:<name>`` subject and
the ``sts.amazonaws.com`` audience, in the role's own trust policy; see :func:`irsa_trust_policy` and
docs/components-compute.md for why IRSA rather than EKS Pod Identity.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.cluster.versions import (
    ADDON_VERSIONS,
    DEFAULT_KUBERNETES_VERSION,
    NVIDIA_DEVICE_PLUGIN_CHART,
    NVIDIA_DEVICE_PLUGIN_CHART_VERSION,
    NVIDIA_DEVICE_PLUGIN_REPOSITORY,
)
from components.iam import (
    cluster_access_policy_arn,
    managed_policy_arn,
    service_account_role,
    service_trust_policy,
)
from components.keys import cluster_role_name

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
NODE_MANAGED_POLICY_NAMES = (
    "AmazonEKSWorkerNodePolicy",
    # Pull only: no ecr:Get/List beyond what pulling an image needs (unlike ...ReadOnly).
    "AmazonEC2ContainerRegistryPullOnly",
)
GPU_TAINT = ("nvidia.com/gpu", "true", "NO_SCHEDULE")
NODE_GROUP_LABEL = "mlops.platform/node-group"
# Node-group taint effects (EKS API spelling) as Kubernetes spells them in tolerations.
TAINT_EFFECTS = {
    "NO_SCHEDULE": "NoSchedule",
    "NO_EXECUTE": "NoExecute",
    "PREFER_NO_SCHEDULE": "PreferNoSchedule",
}
DEVICE_PLUGIN_RESOURCES = {
    "requests": {"cpu": "50m", "memory": "64Mi"},
    "limits": {"cpu": "200m", "memory": "256Mi"},
}


CLUSTER_ADMIN_POLICY = cluster_access_policy_arn("AmazonEKSClusterAdminPolicy")
"""AmazonEKSClusterAdminPolicy in the standard partition (see :func:`cluster_access_policy_arn`)."""
NODE_MANAGED_POLICIES = tuple(managed_policy_arn(n) for n in NODE_MANAGED_POLICY_NAMES)
"""The node role's managed policies in the standard partition."""


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
        labels={"nvidia.com/gpu.present": "true", "mlops.platform/accelerator": "nvidia", **spec.labels},
        taints=[GPU_TAINT, *spec.taints],
        capacity_type=spec.capacity_type,
    )


@dataclass(frozen=True)
class KubernetesClusterArgs:
    """Arguments of :class:`KubernetesCluster`.

    Attributes:
        vpc_id: The VPC the cluster and its security groups live in.
        private_subnet_ids: Private subnets for the control-plane ENIs and every node (nodes never get a
            public address).
        secrets_key_arn: KMS key for envelope encryption of Kubernetes Secrets. Its key policy must grant the
            cluster role (named :func:`~components.keys.cluster_role_name` of the cluster's name) the
            envelope-encryption actions, as :class:`~components.keys.Keys` does: the role gets no IAM
            policy for it, so cluster creation never waits on IAM propagation.
        logs_key_arn: KMS key of the control-plane log group (its key policy must admit CloudWatch Logs).
        volume_key_arn: KMS key for node root volumes and the default StorageClass. Its key policy must
            let the Auto Scaling service-linked role use it, or nodes fail to launch.
        region: The AWS region (used in the kubeconfig's ``aws eks get-token``).
        partition: The AWS partition (``aws``, ``aws-cn``, ``aws-us-gov``) the ARNs of AWS managed IAM
            policies and EKS access policies are built in.
        kubernetes_version: EKS version; must have a row in :data:`ADDON_VERSIONS`.
        system_nodes: The node group for cluster services (CoreDNS, controllers, MLflow).
        workload_nodes: The CPU node group for training and serving workloads.
        gpu_nodes: The optional GPU node group; pass it through :func:`gpu_node_group`. None: no GPU group.
            With a GPU group, NVIDIA's device plugin (Helm chart ``nvidia-device-plugin``,
            :data:`~components.cluster.versions.NVIDIA_DEVICE_PLUGIN_CHART_VERSION`) runs on it in ``kube-system`` so
            its nodes advertise ``nvidia.com/gpu``.
        admin_principal_arns: IAM roles or users given AmazonEKSClusterAdminPolicy through access entries.
        deployer_principal_arn: The deploy role, which runs the in-cluster half of ``pulumi up`` (the
            platform passes its in-VPC deploy runner's role, components/deploy_runner.py); gets an admin
            access entry too so the program can create the Kubernetes objects (the cluster creator gets no
            implicit admin). Never the caller's identity: the entry must not follow whoever runs the program.
        public_access_cidrs: CIDRs allowed to reach a public API endpoint. Empty (the default): the endpoint
            is private only.
        api_access_cidrs: Private CIDR blocks outside the node security group (a VPN, a peered network, a
            self-hosted CI runner subnet) allowed to reach the API server on 443 through the private
            endpoint: one ingress rule each on the control-plane security group. Empty (the default): only
            the nodes reach it. They still need a route to the VPC and IAM access through access entries.
        log_retention_days: Retention of the control-plane log group.
        deletion_protection: EKS deletion protection on the cluster.
        storage_reclaim_policy: reclaimPolicy of the default StorageClass; ``Retain`` keeps a volume when
            its claim is deleted.
        addon_versions: Add-on versions; default: :data:`ADDON_VERSIONS` for ``kubernetes_version``.
        support_type: EKS upgrade policy. ``STANDARD``: when the version leaves standard support EKS
            upgrades the control plane (no extended-support charges); ``EXTENDED`` keeps it, billed.
    """

    vpc_id: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    secrets_key_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    volume_key_arn: pulumi.Input[str]
    region: str
    system_nodes: NodeGroupSpec
    workload_nodes: NodeGroupSpec
    gpu_nodes: NodeGroupSpec | None = None
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    admin_principal_arns: Sequence[str] = ()
    deployer_principal_arn: pulumi.Input[str] | None = None
    public_access_cidrs: Sequence[str] = ()
    api_access_cidrs: Sequence[str] = ()
    log_retention_days: int = 365
    deletion_protection: bool = True
    storage_reclaim_policy: str = "Retain"
    addon_versions: Mapping[str, str] | None = None
    support_type: str = "STANDARD"
    partition: str = "aws"


def _is_private_ipv4_cidr(cidr: str) -> bool:
    try:
        network = ipaddress.ip_network(cidr, strict=True)
    except ValueError:
        return False
    return isinstance(network, ipaddress.IPv4Network) and (
        network.is_private or network.subnet_of(ipaddress.IPv4Network("100.64.0.0/10"))
    )


DEVICE_PLUGIN_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
"""The device plugin container's securityContext (the chart's ``securityContext`` value)."""


def device_plugin_values(gpu_nodes: NodeGroupSpec, group: str = "gpu") -> dict[str, Any]:
    """Helm values of NVIDIA's device plugin: on the GPU group only, tolerating its taints, bounded."""
    return {
        # Exactly the GPU group, whatever else its nodes are labelled (replaces the chart's default
        # NFD-label affinity, which would also match GPU nodes outside this group).
        "nodeSelector": {NODE_GROUP_LABEL: group},
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": NODE_GROUP_LABEL, "operator": "In", "values": [group]}]}
                    ]
                }
            }
        },
        "tolerations": [
            {"key": key, "operator": "Equal", "value": value, "effect": TAINT_EFFECTS[effect]}
            for key, value, effect in dict.fromkeys(gpu_nodes.taints)
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


def _kubeconfig(name: str, endpoint: str, ca_data: str, region: str) -> str:
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


class KubernetesCluster(pulumi.ComponentResource):
    """An EKS cluster with private endpoint, encrypted secrets, full control-plane audit logs, IRSA,
    managed node groups on hardened launch templates (no cluster autoscaler: Pulumi owns each group's
    desired size), pinned core add-ons, NVIDIA's device plugin on a GPU group, a default encrypted gp3
    StorageClass and a Kubernetes provider for everything deployed onto it.

    Outputs: ``cluster_name``, ``cluster_arn``, ``endpoint``, ``certificate_authority``,
    ``oidc_provider_arn``, ``oidc_issuer_url``, ``node_role_arn``, ``node_role_name``,
    ``node_security_group_id``, ``control_plane_security_group_id``, ``kubeconfig`` (secret),
    ``storage_class_name``; ``provider`` is the :class:`pulumi_kubernetes.Provider`; ``device_plugin`` the
    NVIDIA device plugin's Helm release (None without a GPU group).
    """

    def __init__(
        self, name: str, args: KubernetesClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:cluster:KubernetesCluster", name, None, opts)
        versions = dict(args.addon_versions or ADDON_VERSIONS.get(args.kubernetes_version, {}))
        missing = {"vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver"} - set(versions)
        if missing:
            raise ValueError(
                f"no pinned add-on versions for Kubernetes {args.kubernetes_version} ({sorted(missing)}); "
                f"add a row to components.cluster.versions.ADDON_VERSIONS (known: {sorted(ADDON_VERSIONS)})"
            )
        if isinstance(args.private_subnet_ids, Sequence) and not args.private_subnet_ids:
            raise ValueError("KubernetesCluster needs private subnets")
        for cidr in args.api_access_cidrs:
            if not _is_private_ipv4_cidr(cidr):
                raise ValueError(
                    f"api_access_cidrs: {cidr!r} is not a private IPv4 CIDR (RFC 1918 or 100.64.0.0/10); "
                    "the private endpoint is for private networks (public_access_cidrs is the public one)"
                )
        child = pulumi.ResourceOptions(parent=self)
        cluster_name = name

        # ---- control-plane log group, created before the cluster so EKS does not create it unencrypted
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane",
            name=f"/aws/eks/{cluster_name}/cluster",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.logs_key_arn,
            opts=child,
        )

        # ---- cluster role -------------------------------------------------------------------------
        # Named (not auto-named): the cluster key's policy grants this exact role ARN before the role exists.
        self.cluster_role = aws.iam.Role(
            f"{name}-cluster",
            name=cluster_role_name(cluster_name),
            description=f"EKS control plane of {cluster_name}",
            assume_role_policy=json.dumps(
                service_trust_policy("eks.amazonaws.com", actions=("sts:AssumeRole", "sts:TagSession"))
            ),
            opts=child,
        )
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-policy",
            role=self.cluster_role.name,
            policy_arn=managed_policy_arn("AmazonEKSClusterPolicy", args.partition),
            opts=child,
        )
        # ---- security groups ----------------------------------------------------------------------
        # Our own groups (not the EKS-created one) so every rule is declared here. The node group's launch
        # template attaches only the node group; the database admits exactly that group.
        self.control_plane_security_group = aws.ec2.SecurityGroup(
            f"{name}-control-plane",
            description=f"EKS control plane ENIs of {cluster_name}",
            vpc_id=args.vpc_id,
            tags={"Name": f"{cluster_name}-control-plane"},
            opts=child,
        )
        self.node_security_group = aws.ec2.SecurityGroup(
            f"{name}-nodes",
            description=f"EKS nodes of {cluster_name}",
            vpc_id=args.vpc_id,
            tags={"Name": f"{cluster_name}-nodes", f"kubernetes.io/cluster/{cluster_name}": "owned"},
            opts=child,
        )
        cp_sg, node_sg = self.control_plane_security_group.id, self.node_security_group.id
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-cp-from-nodes-443",
            security_group_id=cp_sg,
            referenced_security_group_id=node_sg,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="Nodes and pods to the API server",
            opts=child,
        )
        for i, cidr in enumerate(dict.fromkeys(args.api_access_cidrs)):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-cp-from-cidr-{i}",
                security_group_id=cp_sg,
                cidr_ipv4=cidr,
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                description=f"API server (private endpoint) from {cidr}",
                opts=child,
            )
        for label, low, high, why in (
            ("443", 443, 443, "API server to webhooks on 443"),
            ("kubelet", 10250, 10250, "API server to kubelets"),
            ("ephemeral", 1025, 65535, "API server to webhooks and aggregated APIs"),
        ):
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-cp-to-nodes-{label}",
                security_group_id=cp_sg,
                referenced_security_group_id=node_sg,
                ip_protocol="tcp",
                from_port=low,
                to_port=high,
                description=why,
                opts=child,
            )
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-nodes-from-cp-{label}",
                security_group_id=node_sg,
                referenced_security_group_id=cp_sg,
                ip_protocol="tcp",
                from_port=low,
                to_port=high,
                description=why,
                opts=child,
            )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-nodes-from-nodes",
            security_group_id=node_sg,
            referenced_security_group_id=node_sg,
            ip_protocol="-1",
            description="Node to node and pod to pod",
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-nodes-egress",
            security_group_id=node_sg,
            cidr_ipv4="0.0.0.0/0",
            ip_protocol="-1",
            description="Nodes to AWS APIs, registries and the VPC (through NAT or VPC endpoints)",
            opts=child,
        )

        # ---- the cluster ----------------------------------------------------------------------------
        public = list(args.public_access_cidrs)
        self.cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=cluster_name,
            version=args.kubernetes_version,
            role_arn=self.cluster_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=args.private_subnet_ids,
                security_group_ids=[cp_sg],
                endpoint_private_access=True,
                endpoint_public_access=bool(public),
                public_access_cidrs=public or None,
            ),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                bootstrap_cluster_creator_admin_permissions=False,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=args.secrets_key_arn),
                resources=["secrets"],
            ),
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            # The core add-ons below are EKS add-ons at pinned versions, not the unmanaged bootstrap copies.
            bootstrap_self_managed_addons=False,
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type=args.support_type),
            deletion_protection=args.deletion_protection,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_group, cluster_policy]),
        )
        eks_name = self.cluster.name

        # ---- admin access entries (no aws-auth ConfigMap) -------------------------------------------
        admins = list(dict.fromkeys(args.admin_principal_arns))
        entries: list[tuple[str, pulumi.Input[str]]] = [(f"admin-{i}", arn) for i, arn in enumerate(admins)]
        deployer = args.deployer_principal_arn
        if deployer is not None and not (isinstance(deployer, str) and (not deployer or deployer in admins)):
            entries.append(("deployer", deployer))
        self.admin_associations: list[aws.eks.AccessPolicyAssociation] = []
        for label, arn in entries:
            entry = aws.eks.AccessEntry(
                f"{name}-{label}", cluster_name=eks_name, principal_arn=arn, type="STANDARD", opts=child
            )
            self.admin_associations.append(
                aws.eks.AccessPolicyAssociation(
                    f"{name}-{label}",
                    cluster_name=eks_name,
                    principal_arn=entry.principal_arn,
                    policy_arn=cluster_access_policy_arn("AmazonEKSClusterAdminPolicy", args.partition),
                    access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                    opts=child,
                )
            )

        # ---- IRSA -----------------------------------------------------------------------------------
        issuer = self.cluster.identities.apply(
            lambda ids: str(ids[0].oidcs[0].issuer or "") if ids and ids[0].oidcs else ""
        )
        # No thumbprint: IAM validates EKS's issuer against its trusted CA library and, when the list is
        # omitted, retrieves the certificate thumbprint itself (CreateOpenIDConnectProvider).
        self.oidc_provider = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=issuer.apply(lambda u: u or "https://oidc.invalid"),
            client_id_lists=["sts.amazonaws.com"],
            tags={"Name": f"{cluster_name}-irsa"},
            opts=child,
        )
        self.oidc_provider_arn: pulumi.Output[str] = self.oidc_provider.arn
        self.oidc_issuer_url: pulumi.Output[str] = issuer

        def sa_role(label: str, namespace: str, sa: str, why: str) -> aws.iam.Role:
            return service_account_role(
                f"{name}-{label}",
                oidc_provider_arn=self.oidc_provider_arn,
                oidc_issuer_url=issuer,
                namespace=namespace,
                service_account=sa,
                description=why,
                opts=child,
            )

        # ---- node role and launch templates ---------------------------------------------------------
        self.node_role = aws.iam.Role(
            f"{name}-nodes",
            description=f"EKS managed nodes of {cluster_name}",
            assume_role_policy=json.dumps(service_trust_policy("ec2.amazonaws.com")),
            opts=child,
        )
        node_attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-nodes-{policy}",
                role=self.node_role.name,
                policy_arn=managed_policy_arn(policy, args.partition),
                opts=child,
            )
            for policy in NODE_MANAGED_POLICY_NAMES
        ]

        # The VPC CNI gets its own role (IRSA) instead of AmazonEKS_CNI_Policy on every node.
        cni_role = sa_role("vpc-cni", "kube-system", "aws-node", "Amazon VPC CNI (aws-node)")
        cni_policy = aws.iam.RolePolicyAttachment(
            f"{name}-vpc-cni",
            role=cni_role.name,
            policy_arn=managed_policy_arn("AmazonEKS_CNI_Policy", args.partition),
            opts=child,
        )
        ebs_role = sa_role(
            "ebs-csi", "kube-system", "ebs-csi-controller-sa", "Amazon EBS CSI driver controller"
        )
        ebs_policy = aws.iam.RolePolicyAttachment(
            f"{name}-ebs-csi",
            role=ebs_role.name,
            policy_arn=managed_policy_arn("service-role/AmazonEBSCSIDriverPolicy", args.partition),
            opts=child,
        )
        ebs_kms = aws.iam.RolePolicy(
            f"{name}-ebs-csi-kms",
            role=ebs_role.id,
            policy=pulumi.Output.from_input(args.volume_key_arn).apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                                "Resource": arn,
                                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
                            },
                            {
                                "Effect": "Allow",
                                "Resource": arn,
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
            ),
            opts=child,
        )

        def addon(
            addon_name: str,
            *,
            role: aws.iam.Role | None = None,
            config: dict[str, Any] | None = None,
            depends_on: Sequence[pulumi.Resource] = (),
        ) -> aws.eks.Addon:
            return aws.eks.Addon(
                f"{name}-{addon_name}",
                cluster_name=eks_name,
                addon_name=addon_name,
                addon_version=versions[addon_name],
                service_account_role_arn=role.arn if role else None,
                configuration_values=json.dumps(config) if config else None,
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
            )

        # Networking add-ons go in before any node, so nodes become Ready. An add-on with an IRSA role
        # waits for the role's permissions, or its pods start without them and crash-loop.
        vpc_cni = addon(
            "vpc-cni", role=cni_role, config={"enableNetworkPolicy": "true"}, depends_on=[cni_policy]
        )
        kube_proxy = addon("kube-proxy")

        self.launch_templates: dict[str, aws.ec2.LaunchTemplate] = {}
        self.node_groups: dict[str, aws.eks.NodeGroup] = {}
        groups = {"system": args.system_nodes, "workload": args.workload_nodes}
        if args.gpu_nodes is not None:
            groups["gpu"] = args.gpu_nodes
        for group, spec in groups.items():
            lt = aws.ec2.LaunchTemplate(
                f"{name}-{group}",
                description=f"{cluster_name} {group} nodes",
                update_default_version=True,
                vpc_security_group_ids=[node_sg],
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
                            kms_key_id=args.volume_key_arn,
                            delete_on_termination="true",
                        ),
                    )
                ],
                monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=True),
                tag_specifications=[
                    aws.ec2.LaunchTemplateTagSpecificationArgs(
                        resource_type=kind, tags={"Name": f"{cluster_name}-{group}"}
                    )
                    for kind in ("instance", "volume", "network-interface")
                ],
                tags={"Name": f"{cluster_name}-{group}"},
                opts=child,
            )
            self.launch_templates[group] = lt
            self.node_groups[group] = aws.eks.NodeGroup(
                f"{name}-{group}",
                cluster_name=eks_name,
                node_group_name=f"{cluster_name}-{group}",
                node_role_arn=self.node_role.arn,
                subnet_ids=args.private_subnet_ids,
                ami_type=spec.ami_type,
                capacity_type=spec.capacity_type,
                instance_types=list(spec.instance_types),
                launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                    id=lt.id, version=lt.latest_version.apply(str)
                ),
                scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                    min_size=spec.min_size, max_size=spec.max_size, desired_size=spec.desired_size
                ),
                update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable_percentage=33),
                labels={NODE_GROUP_LABEL: group, **spec.labels},
                taints=[aws.eks.NodeGroupTaintArgs(key=k, value=v, effect=e) for k, v, e in spec.taints]
                or None,
                tags={"Name": f"{cluster_name}-{group}"},
                # No cluster autoscaler is installed: Pulumi owns desired_size (from config), so a manual
                # resize is reverted by the next `pulumi up`.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*node_attachments, vpc_cni, kube_proxy]),
            )

        # Add-ons that run as Deployments need healthy nodes to schedule on: the system group's, and only
        # those. The workload and GPU groups never gate the platform: a GPU capacity or quota shortfall
        # (new accounts often have 0 "G and VT" vCPUs) leaves that group creating or failed while CoreDNS,
        # the EBS CSI driver, the Kubernetes provider and everything in the cluster go ahead.
        system_nodes = self.node_groups["system"]
        coredns = addon("coredns", depends_on=[system_nodes])
        ebs_csi = addon("aws-ebs-csi-driver", role=ebs_role, depends_on=[system_nodes, ebs_policy, ebs_kms])
        self.addons = {
            "vpc-cni": vpc_cni,
            "kube-proxy": kube_proxy,
            "coredns": coredns,
            "aws-ebs-csi-driver": ebs_csi,
        }
        self.addon_versions = versions

        # ---- kubeconfig and provider ----------------------------------------------------------------
        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(eks_name, self.cluster.endpoint, self.cluster.certificate_authority.data).apply(
                lambda a: _kubeconfig(a[0], a[1], a[2] or "", args.region)
            )
        )
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*self.admin_associations, coredns, system_nodes]
            ),
        )

        # ---- NVIDIA device plugin ---------------------------------------------------------------------
        # The AL2023 NVIDIA AMI has the driver and container toolkit, not the device plugin: without it
        # GPU nodes never advertise nvidia.com/gpu and no GPU pod schedules.
        self.device_plugin: k8s.helm.v3.Release | None = None
        if args.gpu_nodes is not None:
            self.device_plugin = k8s.helm.v3.Release(
                f"{name}-nvidia-device-plugin",
                name="nvidia-device-plugin",
                chart=NVIDIA_DEVICE_PLUGIN_CHART,
                version=NVIDIA_DEVICE_PLUGIN_CHART_VERSION,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=NVIDIA_DEVICE_PLUGIN_REPOSITORY),
                namespace="kube-system",
                create_namespace=False,
                atomic=True,
                cleanup_on_fail=True,
                values=device_plugin_values(args.gpu_nodes),
                opts=pulumi.ResourceOptions(parent=self, provider=self.provider),
            )

        self.storage_class = k8s.storage.v1.StorageClass(
            f"{name}-gp3",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="gp3-encrypted",
                annotations={"storageclass.kubernetes.io/is-default-class": "true"},
            ),
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true", "kmsKeyId": args.volume_key_arn},
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy=args.storage_reclaim_policy,
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[ebs_csi]),
        )

        self.cluster_name: pulumi.Output[str] = eks_name
        self.cluster_arn: pulumi.Output[str] = self.cluster.arn
        self.endpoint: pulumi.Output[str] = self.cluster.endpoint
        self.certificate_authority: pulumi.Output[str] = self.cluster.certificate_authority.data
        self.node_role_arn: pulumi.Output[str] = self.node_role.arn
        self.node_role_name: pulumi.Output[str] = self.node_role.name
        self.node_security_group_id: pulumi.Output[str] = self.node_security_group.id
        self.control_plane_security_group_id: pulumi.Output[str] = self.control_plane_security_group.id
        self.storage_class_name: pulumi.Output[str] = self.storage_class.metadata.name
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "cluster_arn": self.cluster_arn,
                "endpoint": self.endpoint,
                "oidc_provider_arn": self.oidc_provider_arn,
                "oidc_issuer_url": self.oidc_issuer_url,
                "node_role_arn": self.node_role_arn,
                "node_security_group_id": self.node_security_group_id,
                "kubeconfig": self.kubeconfig,
            }
        )
