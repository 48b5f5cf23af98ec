"""Karpenter on :class:`~mlops_platform.components.cluster.cluster.KubernetesCluster`: the controller, its IAM, the
interruption queue, and the node classes and node pools it launches nodes from.

The pure builders (:func:`controller_policy`, :func:`node_class_spec`, :func:`node_pool_spec`,
:func:`controller_values`, :func:`queue_policy`) take plain values and return documents; :func:`install_karpenter`
creates the resources as children of the cluster. Nothing here reads the platform's config: the platform turns
its ``karpenter*``, ``generalPool*`` and ``gpuPool*`` keys into a :class:`KarpenterSpec`.

What differs from Karpenter's reference installation (its getting-started CloudFormation template, v1.14):

- The instance profile is ours (``spec.instanceProfile``), so the controller gets no instance-profile action at
  all (no ``iam:CreateInstanceProfile``/``AddRoleToInstanceProfile``/``DeleteInstanceProfile``, nor the
  ``iam:GetInstanceProfile``/``ListInstanceProfiles`` that only its own profiles' clean-up calls, which
  ``isolatedVPC`` turns off), only ``iam:PassRole`` of the one node role to EC2.
- ``settings.isolatedVPC``: the controller never calls the Pricing API (it has no VPC endpoint in most
  regions); it uses the on-demand prices compiled into the release, and Spot prices from
  ``ec2:DescribeSpotPriceHistory``. Its egress is closed to the VPC (ec2, ssm, sqs, eks and sts endpoints).
- The interruption queue is encrypted with the cluster key (a customer key whose policy admits EventBridge for
  this queue only), and only this account's EventBridge rules may send to it.
- The root volumes are encrypted with the cluster key, so the controller may use that key through EC2 (the
  grant EBS needs to attach it), and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from mlops_platform.components.cluster.karpenter_iam import controller_policy, queue_policy
from mlops_platform.components.cluster.node_groups import (
    GPU_NODE_LABEL,
    GPU_TAINT,
    NODE_GROUP_LABEL,
    NODE_MANAGED_POLICY_NAMES,
    TAINT_EFFECTS,
)
from mlops_platform.components.cluster.versions import KARPENTER_VERSION
from mlops_platform.components.iam import managed_policy_arn, service_account_role, service_trust_policy
from mlops_platform.components.keys import interruption_queue_name
from mlops_platform.components.kubernetes import (
    RESTRICTED_NAMESPACE_LABELS,
    cidr_egress,
    controller_baseline_policies,
    pods,
    ports,
)
from mlops_platform.components.kubernetes import selector as label_selector

__all__ = [
    "DISCOVERY_TAG",
    "GPU_POOL_LABELS",
    "GPU_POOL_TAINT",
    "INTERRUPTION_EVENTS",
    "KARPENTER_REPOSITORY",
    "NODE_POOL_LABEL",
    "Karpenter",
    "KarpenterSpec",
    "NodePoolSpec",
    "controller_policy",
    "controller_values",
    "event_rule_name",
    "install_karpenter",
    "interruption_queue_name",
    "node_class_spec",
    "node_pool_spec",
    "queue_policy",
]

KARPENTER_REPOSITORY = "oci://public.ecr.aws/karpenter"
"""Where the ``karpenter`` and ``karpenter-crd`` charts are published (OCI, Amazon ECR Public)."""
KARPENTER_SERVICE_ACCOUNT = "karpenter"
DISCOVERY_TAG = "karpenter.sh/discovery"
"""The tag, valued with the cluster's name, that selects the node subnets and security group."""
NODE_POOL_LABEL = "mlops.platform/node-pool"
"""The label naming the NodePool a Karpenter node came from (beside Karpenter's own ``karpenter.sh/nodepool``)."""
EXPECTED_NODES_ANNOTATION = "mlops.platform/expected-nodes"
"""On each NodePool: the node count a cost estimate assumes for the pool (its ``expected_nodes``)."""
GPU_POOL_LABELS = {"nvidia.com/gpu.present": "true", GPU_NODE_LABEL[0]: GPU_NODE_LABEL[1]}
"""What a GPU pool's nodes carry besides :data:`NODE_POOL_LABEL`: NVIDIA's device plugin and the DCGM exporter
select GPU nodes, of a managed group or of a pool, by ``mlops.platform/accelerator``."""
GPU_POOL_TAINT = {"key": GPU_TAINT[0], "value": GPU_TAINT[1], "effect": TAINT_EFFECTS[GPU_TAINT[2]]}
"""``nvidia.com/gpu=true:NoSchedule``, the managed GPU group's taint as a NodePool spells it."""
METRICS_PORT = 8080
MONITORING_NAMESPACE = "monitoring"
PROMETHEUS_POD_LABELS = {"app.kubernetes.io/name": "prometheus"}
CONTROLLER_POD_LABELS = {"app.kubernetes.io/name": "karpenter"}
INTERRUPTION_EVENTS: dict[str, tuple[str, str]] = {
    "spot-interruption": ("aws.ec2", "EC2 Spot Instance Interruption Warning"),
    "rebalance": ("aws.ec2", "EC2 Instance Rebalance Recommendation"),
    "instance-state": ("aws.ec2", "EC2 Instance State-change Notification"),
    "scheduled-change": ("aws.health", "AWS Health Event"),
    "capacity-reservation": ("aws.ec2", "EC2 Capacity Reservation Instance Interruption Warning"),
}
"""``rule suffix: (source, detail-type)`` of each EventBridge rule that feeds the interruption queue."""
QUEUE_RETENTION_SECONDS = 300
"""An interruption message older than five minutes is stale (a Spot warning gives two)."""


@dataclass(frozen=True)
class NodePoolSpec:
    """One Karpenter NodePool and the EC2NodeClass its nodes are launched from.

    Attributes:
        name: The pool's name (``general``, ``gpu``); also its node class's.
        instance_families: EC2 instance families the pool may launch (``karpenter.k8s.aws/instance-family``).
            A bounded list, never a category: the pack checks it against the environment's allow-list.
        capacity_types: ``spot`` and/or ``on-demand``; with both, Karpenter prefers Spot.
        architectures: ``amd64`` and/or ``arm64``.
        cpu_limit: vCPUs the pool's nodes may add up to; Karpenter launches nothing beyond it.
        memory_limit_gib: Memory the pool's nodes may add up to, in GiB.
        gpu_limit: NVIDIA GPUs the pool's nodes may add up to; above 0 the pool is a GPU pool (tainted
            ``nvidia.com/gpu=true:NoSchedule``, labelled :data:`GPU_POOL_LABELS`): it has no node until a pod
            that tolerates the taint asks for ``nvidia.com/gpu``.
        consolidation_policy: ``WhenEmptyOrUnderutilized`` or ``WhenEmpty``.
        consolidate_after: How long a node must be empty (or underutilized) before it is consolidated.
        expire_after: Node lifetime; an expired node is replaced, so nodes roll to the pinned AMI.
        disruption_budget: At most this many nodes (``"1"``) or this share (``"10%"``) disrupted at once.
        disk_size_gib: Size of the encrypted gp3 root volume.
        expected_nodes: The node count a cost estimate assumes (between 0 and what the limits allow); annotated
            on the NodePool as :data:`EXPECTED_NODES_ANNOTATION`.
        termination_grace_period: How long a draining node waits for its pods before it is terminated anyway.
    """

    name: str
    instance_families: Sequence[str]
    capacity_types: Sequence[str] = ("on-demand",)
    architectures: Sequence[str] = ("amd64",)
    cpu_limit: int = 64
    memory_limit_gib: int = 256
    gpu_limit: int = 0
    consolidation_policy: str = "WhenEmptyOrUnderutilized"
    consolidate_after: str = "5m"
    expire_after: str = "720h"
    disruption_budget: str = "10%"
    disk_size_gib: int = 100
    expected_nodes: int = 0
    termination_grace_period: str = "48h"

    @property
    def gpu(self) -> bool:
        return self.gpu_limit > 0


@dataclass(frozen=True)
class KarpenterSpec:
    """What :func:`install_karpenter` installs.

    Attributes:
        ami_alias: The EC2NodeClass AMI alias, e.g. ``al2023@v20260930`` (a dated EKS AL2023 release; the
            NVIDIA variant is chosen for GPU instance types). ``@latest`` follows every release unreviewed.
        pools: The node pools, each with its own node class.
        node_tags: Tags on every instance, volume, network interface and launch template Karpenter creates
            (the governance tags; keys under ``karpenter.sh/``, ``kubernetes.io/cluster/`` and
            ``eks:eks-cluster-name`` are Karpenter's own).
        controller_replicas: Controller replicas (one leads; two survive a node loss).
        namespace: The controller's namespace.
        chart_version: The ``karpenter`` and ``karpenter-crd`` chart version.
    """

    ami_alias: str
    pools: Sequence[NodePoolSpec]
    node_tags: Mapping[str, str] = field(default_factory=dict)
    controller_replicas: int = 2
    namespace: str = "karpenter"
    chart_version: str = KARPENTER_VERSION


def _check(spec: KarpenterSpec) -> None:
    names = [p.name for p in spec.pools]
    if len(set(names)) != len(names):
        raise ValueError(f"Karpenter node pool names must be unique, got {names}")
    for pool in spec.pools:
        if not pool.instance_families:
            raise ValueError(
                f"node pool {pool.name!r} needs instance families (an unbounded pool is refused)"
            )
        if pool.cpu_limit <= 0 or pool.memory_limit_gib <= 0:
            raise ValueError(f"node pool {pool.name!r} needs positive CPU and memory limits")


# ---- Kubernetes objects ----------------------------------------------------------------------------


def node_class_spec(
    pool: NodePoolSpec,
    *,
    cluster_name: str,
    ami_alias: str,
    instance_profile: pulumi.Input[str],
    volume_key_arn: pulumi.Input[str],
    tags: Mapping[str, str],
) -> dict[str, Any]:
    """The EC2NodeClass of ``pool``: the pinned AMI alias, our instance profile, the discovery-tagged private
    subnets and node security group, IMDSv2 only with a hop limit of 1 (pods cannot reach the node role), an
    encrypted gp3 root volume, detailed monitoring and the governance tags on what it launches."""
    discovery = [{"tags": {DISCOVERY_TAG: cluster_name}}]
    return {
        "amiSelectorTerms": [{"alias": ami_alias}],
        "instanceProfile": instance_profile,
        "subnetSelectorTerms": discovery,
        "securityGroupSelectorTerms": discovery,
        "metadataOptions": {
            "httpEndpoint": "enabled",
            "httpProtocolIPv6": "disabled",
            "httpPutResponseHopLimit": 1,
            "httpTokens": "required",
        },
        "blockDeviceMappings": [
            {
                "deviceName": "/dev/xvda",
                "rootVolume": True,
                "ebs": {
                    "volumeSize": f"{pool.disk_size_gib}Gi",
                    "volumeType": "gp3",
                    "encrypted": True,
                    "kmsKeyID": volume_key_arn,
                    "deleteOnTermination": True,
                },
            }
        ],
        "detailedMonitoring": True,
        "tags": {**tags, "Name": f"{cluster_name}-{pool.name}"},
    }


def node_pool_spec(pool: NodePoolSpec) -> dict[str, Any]:
    """The NodePool of ``pool``: its requirements (families, architectures, Linux, capacity types), labels,
    the GPU taint on a GPU pool, limits, node expiry and disruption (consolidation and a budget)."""
    labels = {NODE_POOL_LABEL: pool.name, **(GPU_POOL_LABELS if pool.gpu else {})}
    limits = {"cpu": str(pool.cpu_limit), "memory": f"{pool.memory_limit_gib}Gi"}
    if pool.gpu:
        limits["nvidia.com/gpu"] = str(pool.gpu_limit)
    template_spec: dict[str, Any] = {
        "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": pool.name},
        "requirements": [
            {
                "key": "karpenter.k8s.aws/instance-family",
                "operator": "In",
                "values": list(pool.instance_families),
            },
            {"key": "kubernetes.io/arch", "operator": "In", "values": list(pool.architectures)},
            {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
            {"key": "karpenter.sh/capacity-type", "operator": "In", "values": list(pool.capacity_types)},
        ],
        "expireAfter": pool.expire_after,
        "terminationGracePeriod": pool.termination_grace_period,
    }
    if pool.gpu:
        template_spec["taints"] = [dict(GPU_POOL_TAINT)]
    return {
        "template": {"metadata": {"labels": labels}, "spec": template_spec},
        "limits": limits,
        "disruption": {
            "consolidationPolicy": pool.consolidation_policy,
            "consolidateAfter": pool.consolidate_after,
            "budgets": [{"nodes": pool.disruption_budget}],
        },
    }


def controller_values(
    *,
    cluster_name: str,
    queue_name: pulumi.Input[str],
    role_arn: pulumi.Input[str],
    replicas: int,
    region: str,
) -> dict[str, Any]:
    """Chart values of the controller: on the system group only (never on a node it manages), bounded,
    restricted, its interruption queue and IRSA role, no Pricing API; no ServiceMonitor of the chart's
    (Monitoring's scrapes it)."""
    return {
        "replicas": replicas,
        "serviceAccount": {
            "create": True,
            "name": KARPENTER_SERVICE_ACCOUNT,
            "annotations": {"eks.amazonaws.com/role-arn": role_arn},
        },
        "nodeSelector": {"kubernetes.io/os": "linux", NODE_GROUP_LABEL: "system"},
        # The chart's default affinity (never on a node with karpenter.sh/nodepool, one pod per node), on the
        # system group; the chart adds the pods' label selector.
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "karpenter.sh/nodepool", "operator": "DoesNotExist"},
                                {"key": NODE_GROUP_LABEL, "operator": "In", "values": ["system"]},
                            ]
                        }
                    ]
                }
            },
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "kubernetes.io/hostname"}]
            },
        },
        # The chart spreads across zones with DoNotSchedule; a two-zone dev cluster keeps it satisfiable.
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
            }
        ],
        "podSecurityContext": {
            "fsGroup": 65532,
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "controller": {
            "resources": {
                "requests": {"cpu": "250m", "memory": "512Mi"},
                "limits": {"cpu": "1", "memory": "1Gi"},
            },
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            # The region from the environment: the node's metadata service, where the SDK would look, is one
            # hop further than pods may reach (hop limit 1).
            "env": [{"name": "AWS_REGION", "value": region}],
        },
        "settings": {
            "clusterName": cluster_name,
            "interruptionQueue": queue_name,
            "isolatedVPC": True,
            "featureGates": {"nodeRepair": False, "spotToSpotConsolidation": False},
        },
        # Monitoring creates the ServiceMonitor once its CRD exists (kube-prometheus-stack brings it); the
        # chart's would depend on which of the two releases Helm installed first.
        "serviceMonitor": {"enabled": False},
        "logLevel": "info",
    }


def controller_network_policies(
    vpc_cidr: str, cluster_cidrs: Sequence[str]
) -> list[tuple[str, k8s.networking.v1.NetworkPolicySpecArgs]]:
    """``(name, spec)`` of the controller namespace's NetworkPolicies: deny all, then DNS, the API server
    (its endpoint ENIs and the ``kubernetes`` Service), HTTPS to the VPC (the AWS API endpoints; never the
    internet) and Prometheus' scrapes of the metrics port. Kubelet probes from the node are always admitted."""
    V1 = k8s.networking.v1
    return [
        *controller_baseline_policies(cluster_cidrs),
        (
            "controller-aws-apis",
            V1.NetworkPolicySpecArgs(
                pod_selector=label_selector(CONTROLLER_POD_LABELS),
                policy_types=["Egress"],
                egress=[cidr_egress([vpc_cidr], 443)],
            ),
        ),
        (
            "allow-scrape-from-prometheus",
            V1.NetworkPolicySpecArgs(
                pod_selector=label_selector(CONTROLLER_POD_LABELS),
                policy_types=["Ingress"],
                ingress=[
                    V1.NetworkPolicyIngressRuleArgs(
                        from_=[pods(PROMETHEUS_POD_LABELS, MONITORING_NAMESPACE)], ports=ports(METRICS_PORT)
                    )
                ],
            ),
        ),
    ]


# ---- resources -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Karpenter:
    """What :func:`install_karpenter` created."""

    node_role: aws.iam.Role
    instance_profile: aws.iam.InstanceProfile
    controller_role: aws.iam.Role
    queue: aws.sqs.Queue
    crds: k8s.helm.v3.Release
    release: k8s.helm.v3.Release
    node_classes: dict[str, k8s.apiextensions.CustomResource]
    node_pools: dict[str, k8s.apiextensions.CustomResource]
    namespace: str
    """The controller's namespace (its Service ``karpenter``, port ``http-metrics``, is scraped there)."""
    namespace_resource: k8s.core.v1.Namespace
    event_rules: dict[str, aws.cloudwatch.EventRule]
    """The EventBridge rules feeding the interruption queue, by :data:`INTERRUPTION_EVENTS` suffix."""
    event_rule_names: tuple[str, ...]
    """Their names (:func:`event_rule_name`), known before they exist: what their alarms watch."""


@dataclass(frozen=True)
class ClusterRefs:
    """The cluster's parts :func:`install_karpenter` builds on."""

    cluster_name: str
    eks_cluster_name: pulumi.Input[str]
    cluster_arn: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer_url: pulumi.Input[str]
    volume_key_arn: pulumi.Input[str]
    region: str
    partition: str
    vpc_cidr: str
    cluster_cidrs: Sequence[str]


def _node_identity(
    name: str, refs: ClusterRefs, parent: pulumi.ResourceOptions
) -> tuple[aws.iam.Role, aws.iam.InstanceProfile, list[pulumi.Resource]]:
    """The Karpenter nodes' role (the worker and image-pull managed policies only, as the managed nodes'),
    its instance profile and its EC2_LINUX access entry (which lets its nodes join)."""
    role = aws.iam.Role(
        f"{name}-nodes",
        description=f"Karpenter nodes of {refs.cluster_name}",
        assume_role_policy=json.dumps(service_trust_policy("ec2.amazonaws.com")),
        opts=parent,
    )
    attachments: list[pulumi.Resource] = [
        aws.iam.RolePolicyAttachment(
            f"{name}-nodes-{policy}",
            role=role.name,
            policy_arn=managed_policy_arn(policy, refs.partition),
            opts=parent,
        )
        for policy in NODE_MANAGED_POLICY_NAMES
    ]
    # Named: the node classes name it, and a name known at preview lets the pack judge them before the first
    # deploy (an auto-name is unknown until the profile exists).
    profile = aws.iam.InstanceProfile(
        f"{name}-nodes", name=f"{refs.cluster_name}-karpenter-nodes", role=role.name, opts=parent
    )
    entry = aws.eks.AccessEntry(
        f"{name}-nodes",
        cluster_name=refs.eks_cluster_name,
        principal_arn=role.arn,
        type="EC2_LINUX",
        opts=parent,
    )
    return role, profile, [*attachments, entry]


def event_rule_name(cluster_name: str, suffix: str) -> str:
    """The name of the EventBridge rule of ``suffix`` (:data:`INTERRUPTION_EVENTS`): ``<cluster>-karpenter-<suffix>``,
    so an alarm can name it before it exists."""
    return f"{cluster_name}-karpenter-{suffix}"


def _interruption_queue(
    name: str, refs: ClusterRefs, parent: pulumi.ResourceOptions
) -> tuple[aws.sqs.Queue, dict[str, aws.cloudwatch.EventRule]]:
    """The interruption queue (encrypted with the cluster key), its policy and the EventBridge rules feeding it."""
    queue = aws.sqs.Queue(
        f"{name}-interruptions",
        name=interruption_queue_name(refs.cluster_name),
        message_retention_seconds=QUEUE_RETENTION_SECONDS,
        kms_master_key_id=refs.volume_key_arn,
        kms_data_key_reuse_period_seconds=300,
        opts=parent,
    )
    rules: dict[str, aws.cloudwatch.EventRule] = {}
    for suffix, (source, detail_type) in INTERRUPTION_EVENTS.items():
        rule = aws.cloudwatch.EventRule(
            f"{name}-{suffix}",
            name=event_rule_name(refs.cluster_name, suffix),
            description=f"{detail_type} events for Karpenter of {refs.cluster_name}",
            event_pattern=json.dumps({"source": [source], "detail-type": [detail_type]}),
            opts=parent,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-{suffix}",
            rule=rule.name,
            arn=queue.arn,
            target_id="karpenter-interruption-queue",
            opts=parent,
        )
        rules[suffix] = rule
    aws.sqs.QueuePolicy(
        f"{name}-interruptions",
        queue_url=queue.id,
        policy=pulumi.Output.all(queue.arn, *[r.arn for r in rules.values()]).apply(
            lambda a: json.dumps(queue_policy(a[0], a[1:]))
        ),
        opts=parent,
    )
    return queue, rules


def _controller_role(
    name: str,
    refs: ClusterRefs,
    node_role: aws.iam.Role,
    queue: aws.sqs.Queue,
    namespace: str,
    parent: pulumi.ResourceOptions,
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    role = service_account_role(
        f"{name}-controller",
        oidc_provider_arn=refs.oidc_provider_arn,
        oidc_issuer_url=refs.oidc_issuer_url,
        namespace=namespace,
        service_account=KARPENTER_SERVICE_ACCOUNT,
        description=f"Karpenter controller of {refs.cluster_name}",
        opts=parent,
    )
    policy = aws.iam.RolePolicy(
        f"{name}-controller",
        role=role.id,
        policy=pulumi.Output.all(refs.cluster_arn, node_role.arn, queue.arn, refs.volume_key_arn).apply(
            lambda a: json.dumps(
                controller_policy(
                    cluster_name=refs.cluster_name,
                    cluster_arn=a[0],
                    region=refs.region,
                    partition=refs.partition,
                    node_role_arn=a[1],
                    queue_arn=a[2],
                    volume_key_arn=a[3],
                )
            )
        ),
        opts=parent,
    )
    return role, policy


def _release_args(
    chart: str,
    spec: KarpenterSpec,
    ns: k8s.core.v1.Namespace,
    *,
    skip_crds: bool = False,
    values: Mapping[str, Any] | None = None,
) -> k8s.helm.v3.ReleaseArgs:
    """A release of the chart ``chart`` (also the release's name), as both Karpenter releases are made: the
    chart by its full OCI reference, with no ``repository_opts`` (pulumi-kubernetes cannot pull from an
    ``oci://`` repository URL there at ``up``: pulumi/pulumi-kubernetes#2158), the pinned version, our
    namespace, atomic installs."""
    return k8s.helm.v3.ReleaseArgs(
        name=chart,
        chart=f"{KARPENTER_REPOSITORY}/{chart}",
        version=spec.chart_version,
        namespace=ns.metadata.name,
        create_namespace=False,
        skip_crds=skip_crds,
        atomic=True,
        cleanup_on_fail=True,
        values=dict(values) if values is not None else None,
    )


def install_karpenter(
    name: str,
    spec: KarpenterSpec,
    refs: ClusterRefs,
    *,
    opts: pulumi.ResourceOptions,
    on_cluster: pulumi.ResourceOptions,
) -> Karpenter:
    """Karpenter's AWS side (node role, instance profile and access entry; the interruption queue and its
    rules; the controller's IRSA role) under ``opts``, and its cluster side (namespace, CRDs, controller,
    NetworkPolicies, one EC2NodeClass and NodePool per pool) under ``on_cluster`` (the cluster's provider)."""
    _check(spec)
    node_role, profile, node_access = _node_identity(name, refs, opts)
    queue, rules = _interruption_queue(name, refs, opts)
    controller_role, controller_policy_resource = _controller_role(
        name, refs, node_role, queue, spec.namespace, opts
    )

    def after(*deps: pulumi.Resource) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=list(deps)))

    ns = k8s.core.v1.Namespace(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=spec.namespace, labels=dict(RESTRICTED_NAMESPACE_LABELS)),
        opts=on_cluster,
    )
    for policy_name, policy_spec in controller_network_policies(refs.vpc_cidr, refs.cluster_cidrs):
        k8s.networking.v1.NetworkPolicy(
            f"{name}-{policy_name}",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=policy_name, namespace=spec.namespace),
            spec=policy_spec,
            opts=after(ns),
        )
    crds = k8s.helm.v3.Release(f"{name}-crd", _release_args("karpenter-crd", spec, ns), opts=on_cluster)
    values = controller_values(
        cluster_name=refs.cluster_name,
        queue_name=queue.name,
        role_arn=controller_role.arn,
        replicas=spec.controller_replicas,
        region=refs.region,
    )
    release = k8s.helm.v3.Release(
        name,
        _release_args("karpenter", spec, ns, skip_crds=True, values=values),
        opts=after(crds, controller_policy_resource, *node_access),
    )
    node_classes: dict[str, k8s.apiextensions.CustomResource] = {}
    node_pools: dict[str, k8s.apiextensions.CustomResource] = {}
    for pool in spec.pools:
        node_classes[pool.name] = k8s.apiextensions.CustomResource(
            f"{name}-{pool.name}-class",
            api_version="karpenter.k8s.aws/v1",
            kind="EC2NodeClass",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=pool.name),
            spec=node_class_spec(
                pool,
                cluster_name=refs.cluster_name,
                ami_alias=spec.ami_alias,
                instance_profile=profile.name,
                volume_key_arn=refs.volume_key_arn,
                tags=spec.node_tags,
            ),
            # After the controller, so deleted before it: its finalizer needs the controller running.
            opts=after(crds, release),
        )
        node_pools[pool.name] = k8s.apiextensions.CustomResource(
            f"{name}-{pool.name}-pool",
            api_version="karpenter.sh/v1",
            kind="NodePool",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=pool.name, annotations={EXPECTED_NODES_ANNOTATION: str(pool.expected_nodes)}
            ),
            spec=node_pool_spec(pool),
            # Once the controller runs, a pending pod gets a node; the class must exist first. Deleted before
            # the controller, which drains and terminates the pool's nodes (the NodePool's finalizer).
            opts=after(crds, node_classes[pool.name], release),
        )
    return Karpenter(
        node_role=node_role,
        instance_profile=profile,
        controller_role=controller_role,
        queue=queue,
        crds=crds,
        release=release,
        node_classes=node_classes,
        node_pools=node_pools,
        namespace=spec.namespace,
        namespace_resource=ns,
        event_rules=rules,
        event_rule_names=tuple(event_rule_name(refs.cluster_name, suffix) for suffix in rules),
    )
