"""KubernetesCluster: an EKS cluster that is private, encrypted and audited by default.

Workload identity is IRSA (IAM roles for service accounts through the cluster's OIDC provider). Every
role a pod may assume is trusted for exactly one ``system:serviceaccount:<namespace>:<name>`` subject and
the ``sts.amazonaws.com`` audience, in the role's own trust policy; see
:func:`mlops_platform.components.iam.irsa_trust_policy` and docs/components-compute.md for why IRSA rather than EKS Pod
Identity.

The component wraps, the modules beside it build: :mod:`~mlops_platform.components.cluster.security_groups` (control-plane
and node groups and their rules), :mod:`~mlops_platform.components.cluster.access` (access entries, kubeconfig),
:mod:`~mlops_platform.components.cluster.node_groups` (specs, launch templates, node groups) and
:mod:`~mlops_platform.components.cluster.addons` (core add-ons, NVIDIA's device plugin, the default StorageClass).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from mlops_platform.components.cluster import addons
from mlops_platform.components.cluster.access import admin_access, admin_entries, kubeconfig
from mlops_platform.components.cluster.karpenter import (
    ClusterRefs,
    Karpenter,
    KarpenterSpec,
    install_karpenter,
)
from mlops_platform.components.cluster.node_groups import (
    NODE_MANAGED_POLICY_NAMES,
    NodeGroupSpec,
    launch_template,
    node_group,
    node_group_specs,
)
from mlops_platform.components.cluster.security_groups import cluster_security_groups
from mlops_platform.components.cluster.versions import DEFAULT_KUBERNETES_VERSION
from mlops_platform.components.iam import managed_policy_arn, service_account_role, service_trust_policy
from mlops_platform.components.keys import cluster_role_name
from mlops_platform.components.validation import is_private_ipv4_cidr

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")


@dataclass(frozen=True)
class KubernetesClusterArgs:
    """Arguments of :class:`KubernetesCluster`.

    Attributes:
        vpc_id: The VPC the cluster and its security groups live in.
        private_subnet_ids: Private subnets for the control-plane ENIs and every node (nodes never get a
            public address).
        secrets_key_arn: KMS key for envelope encryption of Kubernetes Secrets. Its key policy must grant the
            cluster role (named :func:`~mlops_platform.components.keys.cluster_role_name` of the cluster's name) the
            envelope-encryption actions, as :class:`~mlops_platform.components.keys.Keys` does: the role gets no IAM
            policy for it, so cluster creation never waits on IAM propagation.
        logs_key_arn: KMS key of the control-plane log group (its key policy must admit CloudWatch Logs).
        volume_key_arn: KMS key for node root volumes and the default StorageClass. Its key policy must
            let the Auto Scaling service-linked role use it, or nodes fail to launch.
        region: The AWS region (used in the kubeconfig's ``aws eks get-token``).
        partition: The AWS partition (``aws``, ``aws-cn``, ``aws-us-gov``) the ARNs of AWS managed IAM
            policies and EKS access policies are built in.
        kubernetes_version: EKS version; must have a row in :data:`~mlops_platform.components.cluster.versions.ADDON_VERSIONS`.
        system_nodes: The node group for cluster services (CoreDNS, controllers, Karpenter, MLflow): small,
            fixed, never managed by Karpenter.
        workload_nodes: An optional fixed CPU node group for workloads. None (the platform's default with
            Karpenter): workloads get Karpenter nodes.
        gpu_nodes: The optional fixed GPU node group; pass it through :func:`~mlops_platform.components.cluster.node_groups.gpu_node_group`. None: no GPU group.
            With a GPU group or a Karpenter GPU pool, NVIDIA's device plugin (Helm chart ``nvidia-device-plugin``,
            :data:`~mlops_platform.components.cluster.versions.NVIDIA_DEVICE_PLUGIN_CHART_VERSION`) runs on every
            GPU node (``mlops.platform/accelerator=nvidia``) in ``kube-system`` so they advertise ``nvidia.com/gpu``.
        karpenter: Karpenter (:mod:`~mlops_platform.components.cluster.karpenter`): its controller on the system
            group, its IAM and interruption queue, a node class and a node pool per pool. None: no Karpenter.
        vpc_cidr: The VPC's CIDR: where the AWS API endpoints answer Karpenter's controller (its egress is closed
            to it). Required with ``karpenter``.
        cluster_cidrs: The API server's endpoint ENIs' and the Service range's CIDRs (the ``kubernetes``
            Service): the controller's API egress. Empty: ``vpc_cidr``.
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
        addon_versions: Add-on versions; default: :data:`~mlops_platform.components.cluster.versions.ADDON_VERSIONS` for ``kubernetes_version``.
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
    workload_nodes: NodeGroupSpec | None = None
    gpu_nodes: NodeGroupSpec | None = None
    karpenter: KarpenterSpec | None = None
    vpc_cidr: str | None = None
    cluster_cidrs: Sequence[str] = ()
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


def _check_network(args: KubernetesClusterArgs) -> None:
    """Refuse an empty subnet list and an ``api_access_cidrs`` entry outside the private ranges."""
    if isinstance(args.private_subnet_ids, Sequence) and not args.private_subnet_ids:
        raise ValueError("KubernetesCluster needs private subnets")
    if args.karpenter is not None and not args.vpc_cidr:
        raise ValueError("KubernetesCluster with karpenter needs vpc_cidr (the controller's AWS API egress)")
    for cidr in args.api_access_cidrs:
        if not is_private_ipv4_cidr(cidr):
            raise ValueError(
                f"api_access_cidrs: {cidr!r} is not a private IPv4 CIDR (RFC 1918 or 100.64.0.0/10); "
                "the private endpoint is for private networks (public_access_cidrs is the public one)"
            )


class KubernetesCluster(pulumi.ComponentResource):
    """An EKS cluster with private endpoint, encrypted secrets, full control-plane audit logs, IRSA,
    managed node groups on hardened launch templates (Pulumi owns each group's desired size), Karpenter for
    elastic CPU and GPU capacity, pinned core add-ons, NVIDIA's device plugin on the GPU nodes, a default
    encrypted gp3 StorageClass and a Kubernetes provider for everything deployed onto it.

    Outputs: ``cluster_name``, ``cluster_arn``, ``endpoint``, ``certificate_authority``,
    ``oidc_provider_arn``, ``oidc_issuer_url``, ``node_role_arn``, ``node_role_name``,
    ``node_security_group_id``, ``control_plane_security_group_id``, ``kubeconfig`` (secret),
    ``storage_class_name``; ``provider`` is the :class:`pulumi_kubernetes.Provider`; ``device_plugin`` the
    NVIDIA device plugin's Helm release (None without GPU nodes); ``karpenter`` what
    :func:`~mlops_platform.components.cluster.karpenter.install_karpenter` created (None without it).
    """

    def __init__(
        self, name: str, args: KubernetesClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:cluster:KubernetesCluster", name, None, opts)
        self.addon_versions = addons.addon_versions(args.kubernetes_version, args.addon_versions)
        _check_network(args)
        child = pulumi.ResourceOptions(parent=self)

        # Control plane: its encrypted log group and its role first, our own security groups, the cluster.
        self.log_group = self._log_group(name, args.logs_key_arn, args.log_retention_days)
        self.cluster_role, cluster_policy = self._cluster_role(name, args.partition)
        self.control_plane_security_group, self.node_security_group = cluster_security_groups(
            name, cluster_name=name, vpc_id=args.vpc_id, api_access_cidrs=args.api_access_cidrs, opts=child
        )
        self.cluster = self._cluster(name, args, depends_on=[self.log_group, cluster_policy])

        # Access: admin access entries (no aws-auth ConfigMap) and the OIDC provider of IRSA.
        self.admin_associations = admin_access(
            name,
            eks_cluster_name=self.cluster.name,
            entries=admin_entries(args.admin_principal_arns, args.deployer_principal_arn),
            partition=args.partition,
            opts=child,
        )
        self.oidc_issuer_url: pulumi.Output[str] = self.cluster.identities.apply(
            lambda ids: str(ids[0].oidcs[0].issuer or "") if ids and ids[0].oidcs else ""
        )
        self.oidc_provider = self._oidc_provider(name)
        self.oidc_provider_arn: pulumi.Output[str] = self.oidc_provider.arn

        # Nodes. Networking add-ons go in before any node, so nodes become Ready. An add-on with an IRSA
        # role waits for the role's permissions, or its pods start without them and crash-loop.
        self.node_role, node_policies = self._node_role(name, args.partition)
        cni_role, cni_policy = self._vpc_cni_role(name, args.partition)
        vpc_cni = self._addon(
            name, "vpc-cni", role=cni_role, config=addons.VPC_CNI_CONFIG, depends_on=[cni_policy]
        )
        kube_proxy = self._addon(name, "kube-proxy")
        self._node_groups(name, args, depends_on=[*node_policies, vpc_cni, kube_proxy])

        # Add-ons that run as Deployments need healthy nodes to schedule on: the system group's, and only
        # those. The workload and GPU groups never gate the platform: a GPU capacity or quota shortfall
        # (new accounts often have 0 "G and VT" vCPUs) leaves that group creating or failed while CoreDNS,
        # the EBS CSI driver, the Kubernetes provider and everything in the cluster go ahead.
        system_nodes = self.node_groups["system"]
        ebs_role, ebs_permissions = self._ebs_csi_role(name, args)
        coredns = self._addon(name, "coredns", depends_on=[system_nodes])
        ebs_csi = self._addon(
            name, "aws-ebs-csi-driver", role=ebs_role, depends_on=[system_nodes, *ebs_permissions]
        )
        # The resource metrics API (HPAs, `kubectl top`): a Deployment, so after the system nodes too.
        metrics_server = self._addon(name, "metrics-server", depends_on=[system_nodes])
        self.addons = {
            "vpc-cni": vpc_cni,
            "kube-proxy": kube_proxy,
            "coredns": coredns,
            "aws-ebs-csi-driver": ebs_csi,
            "metrics-server": metrics_server,
        }

        # What runs on the cluster: through its Kubernetes provider, once admins and the system nodes are in.
        self.provider = self._kubernetes_provider(
            name, args.region, depends_on=[*self.admin_associations, coredns, system_nodes]
        )
        on_cluster = pulumi.ResourceOptions(parent=self, provider=self.provider)
        self.karpenter: Karpenter | None = None
        if args.karpenter is not None:
            self.karpenter = self._karpenter(name, args, args.karpenter, on_cluster)
        self.device_plugin: k8s.helm.v3.Release | None = None
        gpu_pool = args.karpenter is not None and any(p.gpu for p in args.karpenter.pools)
        if args.gpu_nodes is not None or gpu_pool:
            self.device_plugin = addons.device_plugin_release(
                f"{name}-nvidia-device-plugin", args.gpu_nodes, on_cluster
            )
        self.storage_class = addons.default_storage_class(
            f"{name}-gp3",
            volume_key_arn=args.volume_key_arn,
            reclaim_policy=args.storage_reclaim_policy,
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[ebs_csi]),
        )
        self._outputs()

    # ---- control plane ------------------------------------------------------------------------------

    def _log_group(
        self, name: str, logs_key_arn: pulumi.Input[str], retention_days: int
    ) -> aws.cloudwatch.LogGroup:
        """The control-plane log group, created before the cluster so EKS does not create it unencrypted."""
        return aws.cloudwatch.LogGroup(
            f"{name}-control-plane",
            name=f"/aws/eks/{name}/cluster",
            retention_in_days=retention_days,
            kms_key_id=logs_key_arn,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _cluster_role(self, name: str, partition: str) -> tuple[aws.iam.Role, aws.iam.RolePolicyAttachment]:
        """The control plane's role and its AmazonEKSClusterPolicy attachment.

        Named (not auto-named): the cluster key's policy grants this exact role ARN before the role exists."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-cluster",
            name=cluster_role_name(name),
            description=f"EKS control plane of {name}",
            assume_role_policy=json.dumps(
                service_trust_policy("eks.amazonaws.com", actions=("sts:AssumeRole", "sts:TagSession"))
            ),
            opts=child,
        )
        policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-policy",
            role=role.name,
            policy_arn=managed_policy_arn("AmazonEKSClusterPolicy", partition),
            opts=child,
        )
        return role, policy

    def _cluster(
        self, name: str, args: KubernetesClusterArgs, depends_on: Sequence[pulumi.Resource]
    ) -> aws.eks.Cluster:
        """The EKS cluster: private endpoint (public only for ``public_access_cidrs``), API authentication
        with no implicit creator admin, Secrets envelope-encrypted, every control-plane log type."""
        public = list(args.public_access_cidrs)
        return aws.eks.Cluster(
            f"{name}-eks",
            name=name,
            version=args.kubernetes_version,
            role_arn=self.cluster_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=args.private_subnet_ids,
                security_group_ids=[self.control_plane_security_group.id],
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
            # The core add-ons are EKS add-ons at pinned versions, not the unmanaged bootstrap copies.
            bootstrap_self_managed_addons=False,
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type=args.support_type),
            deletion_protection=args.deletion_protection,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
        )

    # ---- IRSA ---------------------------------------------------------------------------------------

    def _oidc_provider(self, name: str) -> aws.iam.OpenIdConnectProvider:
        """The IAM OIDC provider of the cluster's issuer, for ``sts.amazonaws.com``.

        No thumbprint: IAM validates EKS's issuer against its trusted CA library and, when the list is
        omitted, retrieves the certificate thumbprint itself (CreateOpenIDConnectProvider)."""
        return aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=self.oidc_issuer_url.apply(lambda u: u or "https://oidc.invalid"),
            client_id_lists=["sts.amazonaws.com"],
            tags={"Name": f"{name}-irsa"},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _sa_role(self, name: str, account: tuple[str, str], why: str) -> aws.iam.Role:
        """An IRSA role trusted by exactly the ``(namespace, name)`` service account."""
        namespace, service_account = account
        return service_account_role(
            name,
            oidc_provider_arn=self.oidc_provider_arn,
            oidc_issuer_url=self.oidc_issuer_url,
            namespace=namespace,
            service_account=service_account,
            description=why,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _vpc_cni_role(self, name: str, partition: str) -> tuple[aws.iam.Role, aws.iam.RolePolicyAttachment]:
        """The VPC CNI's own role (IRSA) instead of AmazonEKS_CNI_Policy on every node."""
        role = self._sa_role(f"{name}-vpc-cni", addons.VPC_CNI_SERVICE_ACCOUNT, "Amazon VPC CNI (aws-node)")
        policy = aws.iam.RolePolicyAttachment(
            f"{name}-vpc-cni",
            role=role.name,
            policy_arn=managed_policy_arn("AmazonEKS_CNI_Policy", partition),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return role, policy

    def _ebs_csi_role(
        self, name: str, args: KubernetesClusterArgs
    ) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
        """The EBS CSI controller's role (IRSA): the managed driver policy and the volume key's use; returns
        the role and those two permissions (what the add-on waits for)."""
        child = pulumi.ResourceOptions(parent=self)
        role = self._sa_role(
            f"{name}-ebs-csi", addons.EBS_CSI_SERVICE_ACCOUNT, "Amazon EBS CSI driver controller"
        )
        policy = aws.iam.RolePolicyAttachment(
            f"{name}-ebs-csi",
            role=role.name,
            policy_arn=managed_policy_arn("service-role/AmazonEBSCSIDriverPolicy", args.partition),
            opts=child,
        )
        kms = aws.iam.RolePolicy(
            f"{name}-ebs-csi-kms",
            role=role.id,
            policy=pulumi.Output.from_input(args.volume_key_arn).apply(addons.ebs_csi_kms_policy),
            opts=child,
        )
        return role, [policy, kms]

    # ---- nodes and add-ons --------------------------------------------------------------------------

    def _node_role(
        self, name: str, partition: str
    ) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
        """The nodes' role (EC2 trust) with the worker and image-pull managed policies only."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-nodes",
            description=f"EKS managed nodes of {name}",
            assume_role_policy=json.dumps(service_trust_policy("ec2.amazonaws.com")),
            opts=child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-nodes-{policy}",
                role=role.name,
                policy_arn=managed_policy_arn(policy, partition),
                opts=child,
            )
            for policy in NODE_MANAGED_POLICY_NAMES
        ]
        return role, attachments

    def _node_groups(
        self, name: str, args: KubernetesClusterArgs, depends_on: Sequence[pulumi.Resource]
    ) -> None:
        """A launch template and a managed node group per group (system, workload, optional GPU)."""
        self.launch_templates: dict[str, aws.ec2.LaunchTemplate] = {}
        self.node_groups: dict[str, aws.eks.NodeGroup] = {}
        for group, spec in node_group_specs(args.system_nodes, args.workload_nodes, args.gpu_nodes).items():
            template = launch_template(
                f"{name}-{group}",
                cluster_name=name,
                group=group,
                spec=spec,
                security_group_id=self.node_security_group.id,
                volume_key_arn=args.volume_key_arn,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.launch_templates[group] = template
            self.node_groups[group] = node_group(
                f"{name}-{group}",
                eks_cluster_name=self.cluster.name,
                cluster_name=name,
                group=group,
                spec=spec,
                node_role_arn=self.node_role.arn,
                subnet_ids=args.private_subnet_ids,
                template=template,
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
            )

    def _addon(
        self,
        name: str,
        addon_name: str,
        *,
        role: aws.iam.Role | None = None,
        config: dict[str, Any] | None = None,
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> aws.eks.Addon:
        """The core add-on ``addon_name`` at its pinned version (:attr:`addon_versions`)."""
        return addons.addon(
            f"{name}-{addon_name}",
            eks_cluster_name=self.cluster.name,
            addon_name=addon_name,
            version=self.addon_versions[addon_name],
            parent=self,
            role=role,
            config=config,
            depends_on=depends_on,
        )

    def _karpenter(
        self, name: str, args: KubernetesClusterArgs, spec: KarpenterSpec, on_cluster: pulumi.ResourceOptions
    ) -> Karpenter:
        """Karpenter, once the system nodes run (its controller's only home)."""
        refs = ClusterRefs(
            cluster_name=name,
            eks_cluster_name=self.cluster.name,
            cluster_arn=self.cluster.arn,
            oidc_provider_arn=self.oidc_provider_arn,
            oidc_issuer_url=self.oidc_issuer_url,
            volume_key_arn=args.volume_key_arn,
            region=args.region,
            partition=args.partition,
            vpc_cidr=args.vpc_cidr or "",
            cluster_cidrs=list(args.cluster_cidrs) or [args.vpc_cidr or ""],
        )
        return install_karpenter(
            f"{name}-karpenter", spec, refs, opts=pulumi.ResourceOptions(parent=self), on_cluster=on_cluster
        )

    # ---- Kubernetes provider and outputs ------------------------------------------------------------

    def _kubernetes_provider(
        self, name: str, region: str, depends_on: Sequence[pulumi.Resource]
    ) -> k8s.Provider:
        """The Kubernetes provider of the cluster, on the (secret) kubeconfig it sets as :attr:`kubeconfig`."""
        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(
                self.cluster.name, self.cluster.endpoint, self.cluster.certificate_authority.data
            ).apply(lambda a: kubeconfig(a[0], a[1], a[2] or "", region))
        )
        return k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
        )

    def _outputs(self) -> None:
        self.cluster_name: pulumi.Output[str] = self.cluster.name
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
