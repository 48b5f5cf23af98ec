"""EKS: private API endpoint, secrets encryption, control-plane logs, supported version, access entries,
node groups in private subnets on hardened launch templates, approved instance types, tainted GPU nodes."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator

from mlops_platform.policies.rules._common import Ctx, Res, Stack, as_list, truthy
from mlops_platform.policies.rules._meta import RELAXED_DEV, STR_LIST, Prop, cis_aws, cis_eks
from mlops_platform.policies.rules._registry import resource_rule, stack_rule

INSTANCE_TYPES = {
    "dev": [
        "t3.*",
        "t3a.*",
        "m6i.large",
        "m6i.xlarge",
        "m6i.2xlarge",
        "m7i.large",
        "m7i.xlarge",
        "c6i.large",
        "c6i.xlarge",
        "g5.xlarge",
        "g6.xlarge",
    ],
    "staging": [
        "m6i.*",
        "m7i.*",
        "m6a.*",
        "m7a.*",
        "c6i.*",
        "c7i.*",
        "r6i.*",
        "r7i.*",
        "g5.xlarge",
        "g5.2xlarge",
        "g6.xlarge",
        "g6.2xlarge",
    ],
    "prod": [
        "m6i.*",
        "m7i.*",
        "m6a.*",
        "m7a.*",
        "c6i.*",
        "c7i.*",
        "r6i.*",
        "r7i.*",
        "g5.*",
        "g6.*",
        "g6e.*",
        "p4d.*",
        "p5.*",
    ],
}

CLUSTER = "aws:eks/cluster:Cluster"
ADDON = "aws:eks/addon:Addon"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE = "aws:ec2/route:Route"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
IGW = "aws:ec2/internetGateway:InternetGateway"

LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
OPEN = {"0.0.0.0/0", "::/0"}
GPU_FAMILIES = (
    "g4dn",
    "g4ad",
    "g5",
    "g5g",
    "g6",
    "g6e",
    "gr6",
    "p3",
    "p3dn",
    "p4d",
    "p4de",
    "p5",
    "p5e",
    "p5en",
    "p6",
)


@resource_rule(
    "eks-addon-version-pinned",
    ADDON,
    description="EKS add-ons are pinned to an explicit version.",
    severity="low",
    remediation="Set addon_version (e.g. from `aws eks describe-addon-versions`) and upgrade it deliberately.",
    enforcement=RELAXED_DEV,
)
def addon_pinned(res: Res, ctx: Ctx) -> Iterator[str]:
    if not res.get("addonVersion"):
        yield f"add-on {res.get('addonName')!r} has no addonVersion; EKS installs its default and it drifts"


@resource_rule(
    "eks-private-endpoint",
    CLUSTER,
    description="The EKS API endpoint is private; a public endpoint needs a CIDR allow-list and is never allowed in prod.",
    severity="high",
    remediation="Set vpc_config endpoint_public_access=False (clusterPublicAccessCidrs empty).",
    framework=cis_eks("5.4.2"),
    checkov=("CKV_AWS_39", "CKV_AWS_38"),
    prowler=("eks_cluster_not_publicly_accessible",),
)
def private_endpoint(res: Res, ctx: Ctx) -> Iterator[str]:
    vpc = res.get("vpcConfig") or {}
    public = truthy(vpc.get("endpointPublicAccess", True))  # AWS's default is a public endpoint
    if not public:
        if not truthy(vpc.get("endpointPrivateAccess", False)):
            yield "neither the private nor the public endpoint is enabled"
        return
    if ctx.prod:
        yield "the API endpoint is public in prod; set endpointPublicAccess=false"
        return
    cidrs = [str(c) for c in as_list(vpc.get("publicAccessCidrs"))] or ["0.0.0.0/0"]
    if OPEN.intersection(cidrs):
        yield "the public API endpoint is open to 0.0.0.0/0; restrict publicAccessCidrs or make it private"


@resource_rule(
    "eks-secrets-encryption",
    CLUSTER,
    description="Kubernetes secrets are envelope-encrypted with a customer KMS key.",
    severity="high",
    remediation="Add encryption_config with resources=['secrets'] and the cluster key's ARN.",
    framework=cis_eks("5.3.1"),
    checkov=("CKV_AWS_58",),
    prowler=("eks_cluster_kms_cmk_encryption_in_secrets_enabled",),
)
def secrets_encryption(res: Res, ctx: Ctx) -> Iterator[str]:
    configs = [c for c in as_list(res.get("encryptionConfig")) if isinstance(c, dict)]
    ok = any(
        "secrets" in as_list(c.get("resources")) and (c.get("provider") or {}).get("keyArn") for c in configs
    )
    if not ok:
        yield "Kubernetes secrets are not envelope-encrypted with a KMS key (encryptionConfig)"


@resource_rule(
    "eks-control-plane-logging",
    CLUSTER,
    description="All control-plane log types (api, audit, authenticator, controllerManager, scheduler) are enabled.",
    severity="medium",
    remediation="Set enabled_cluster_log_types to all five types.",
    framework=cis_eks("2.1.1"),
    checkov=("CKV_AWS_37",),
    prowler=("eks_control_plane_logging_all_types_enabled",),
)
def control_plane_logging(res: Res, ctx: Ctx) -> Iterator[str]:
    enabled = {str(x) for x in as_list(res.get("enabledClusterLogTypes"))}
    missing = [t for t in LOG_TYPES if t not in enabled]
    if missing:
        yield f"control-plane log types not enabled: {', '.join(missing)}"


@resource_rule(
    "eks-supported-version",
    CLUSTER,
    description="The cluster runs a pinned, supported Kubernetes version.",
    severity="medium",
    remediation="Set version (clusterKubernetesVersion) to a version in standard support.",
    checkov=("CKV_AWS_339",),
    prowler=("eks_cluster_uses_a_supported_version",),
    props={"supportedVersions": Prop(STR_LIST, ["1.35", "1.36"])},
)
def supported_version(res: Res, ctx: Ctx) -> Iterator[str]:
    supported = [str(v) for v in ctx.get("supportedVersions")]
    version = res.get("version")
    if not version:
        yield "version is not pinned (EKS would pick its current default)"
    elif str(version) not in supported:
        yield f"Kubernetes {version} is not a supported version ({', '.join(supported)})"


@resource_rule(
    "eks-access-entries",
    CLUSTER,
    description=(
        "Cluster authentication uses the API mode (access entries), not the aws-auth ConfigMap, and the "
        "cluster creator gets no implicit admin."
    ),
    severity="medium",
    remediation=(
        "Set access_config authentication_mode='API', bootstrap_cluster_creator_admin_permissions=False and "
        "grant admins with aws.eks.AccessEntry."
    ),
    framework=cis_eks("5.5.1"),
)
def access_entries(res: Res, ctx: Ctx) -> Iterator[str]:
    access = res.get("accessConfig") or {}
    mode = access.get("authenticationMode")
    if mode != "API":
        yield f"authenticationMode is {mode or 'CONFIG_MAP (default)'}; use API (access entries, no aws-auth ConfigMap)"
    if truthy(access.get("bootstrapClusterCreatorAdminPermissions")):
        yield "bootstrapClusterCreatorAdminPermissions makes whoever creates the cluster an invisible admin"


@resource_rule(
    "eks-nodegroup-no-ssh",
    NODE_GROUP,
    description="Managed node groups allow no SSH remote access.",
    severity="high",
    remediation="Remove remote_access; use SSM Session Manager.",
    checkov=("CKV_AWS_100",),
)
def nodegroup_no_ssh(res: Res, ctx: Ctx) -> Iterator[str]:
    if res.get("remoteAccess"):
        yield "remoteAccess opens SSH to the nodes; use SSM Session Manager instead"


@resource_rule(
    "eks-nodegroup-launch-template",
    NODE_GROUP,
    description="Managed node groups use a launch template (so IMDSv2 and volume encryption are set).",
    severity="medium",
    remediation="Create the node group with launch_template pointing at a hardened aws.ec2.LaunchTemplate.",
)
def nodegroup_launch_template(res: Res, ctx: Ctx) -> Iterator[str]:
    lt = res.get("launchTemplate") or {}
    if not (lt.get("id") or lt.get("name")):
        yield "no launch template: the nodes get EKS defaults (IMDSv1 reachable, hop limit 2, unencrypted root volume)"


@resource_rule(
    "ec2-launch-template-imdsv2",
    LAUNCH_TEMPLATE,
    description="Launch templates require IMDSv2 with a hop limit of 1.",
    severity="high",
    remediation="Set metadata_options http_tokens='required' and http_put_response_hop_limit=1.",
    framework=cis_aws("5.6"),
    checkov=("CKV_AWS_79", "CKV_AWS_341"),
    prowler=("ec2_instance_imdsv2_enabled",),
)
def imdsv2(res: Res, ctx: Ctx) -> Iterator[str]:
    meta = res.get("metadataOptions") or {}
    if meta.get("httpEndpoint") == "disabled":
        return
    if meta.get("httpTokens") != "required":
        yield "IMDSv2 is not required (metadataOptions.httpTokens must be 'required')"
    hop = meta.get("httpPutResponseHopLimit")
    if hop is None or int(hop) != 1:
        yield f"metadata hop limit is {hop if hop is not None else 'unset'}; 1 keeps pods off the node's credentials"


@resource_rule(
    "ec2-launch-template-encrypted-volumes",
    LAUNCH_TEMPLATE,
    description="Launch templates encrypt every EBS volume, the root volume included.",
    severity="high",
    remediation="Add block_device_mappings with ebs encrypted=True (gp3, the data key).",
    framework=cis_aws("2.2.1"),
    checkov=("CKV_AWS_8",),
    prowler=("ec2_ebs_default_encryption",),
)
def encrypted_volumes(res: Res, ctx: Ctx) -> Iterator[str]:
    mappings = [m for m in as_list(res.get("blockDeviceMappings")) if isinstance(m, dict)]
    ebs = [m for m in mappings if isinstance(m.get("ebs"), dict)]
    if not ebs:
        yield "no block device mapping: the root volume's encryption is left to the AMI and account defaults"
    for m in ebs:
        if not truthy(m["ebs"].get("encrypted")):
            yield f"volume {m.get('deviceName', '?')} is not encrypted"


def _instance_types(res: Res) -> list[str]:
    if res.type == NODE_GROUP:
        return [str(t) for t in as_list(res.get("instanceTypes"))]
    t = res.get("instanceType")
    return [str(t)] if t else []


@resource_rule(
    "eks-approved-instance-types",
    NODE_GROUP,
    LAUNCH_TEMPLATE,
    description="Node groups and launch templates use instance types approved for the environment.",
    severity="low",
    remediation="Pick an instance type from the environment's allow-list (policies/config/<env>.json).",
    props={"allowedInstanceTypes": Prop(STR_LIST, per_env=INSTANCE_TYPES)},
)
def approved_instance_types(res: Res, ctx: Ctx) -> Iterator[str]:
    # Without a policy config (a bare `pulumi preview --policy-pack policies`), INSTANCE_TYPES' list for
    # the resource's environment applies: the same list policies/config/<env>.json carries.
    allowed = [str(p) for p in ctx.get("allowedInstanceTypes")]
    for t in _instance_types(res):
        if not any(fnmatch.fnmatchcase(t, p) for p in allowed):
            yield f"instance type {t} is not approved for {ctx.environment} ({', '.join(allowed)})"


def is_gpu(instance_type: str) -> bool:
    return instance_type.split(".")[0] in GPU_FAMILIES


@resource_rule(
    "eks-gpu-nodes-tainted",
    NODE_GROUP,
    description="GPU node groups carry the nvidia.com/gpu NoSchedule taint.",
    severity="low",
    remediation="Add taints=[{key: 'nvidia.com/gpu', value: 'true', effect: 'NO_SCHEDULE'}].",
)
def gpu_tainted(res: Res, ctx: Ctx) -> Iterator[str]:
    if not any(is_gpu(t) for t in _instance_types(res)):
        return
    taints = [t for t in as_list(res.get("taints")) if isinstance(t, dict)]
    if not any(t.get("key") == "nvidia.com/gpu" and t.get("effect") == "NO_SCHEDULE" for t in taints):
        yield "GPU node group lacks the nvidia.com/gpu NoSchedule taint, so any pod can land on GPU nodes"


def public_subnets(stack: Stack) -> set[str]:
    """URNs of subnets that are public: they map public IPs, carry the public load-balancer role tag, or
    are associated with a route table that routes to an internet gateway."""
    igws = {r.urn for r in stack.of_type(IGW)}

    def routes_to_igw(values: list, deps: list[str]) -> bool:
        if igws.intersection(deps):
            return True
        return any(isinstance(r, dict) and str(r.get("gatewayId") or "").startswith("igw-") for r in values)

    public_tables: set[str] = set()
    for rt in stack.of_type(ROUTE_TABLE):
        if routes_to_igw(as_list(rt.get("routes")), rt.deps_of("routes")):
            public_tables.add(rt.urn)
    for route in stack.of_type(ROUTE):
        if routes_to_igw([{"gatewayId": route.get("gatewayId")}], route.deps_of("gatewayId")):
            public_tables.update(route.deps_of("routeTableId"))
    public: set[str] = set()
    for s in stack.of_type(SUBNET):
        tags = s.tags
        if truthy(s.get("mapPublicIpOnLaunch")) or tags.get("kubernetes.io/role/elb") == "1":
            public.add(s.urn)
    for assoc in stack.of_type(ASSOCIATION):
        if public_tables.intersection(assoc.deps_of("routeTableId")):
            public.update(assoc.deps_of("subnetId"))
    return public


@stack_rule(
    "eks-nodegroup-private-subnets",
    description="Node groups run only in private subnets.",
    severity="high",
    remediation="Pass the private subnet IDs (Network.private_subnet_ids) to the node group.",
    framework=cis_eks("5.4.3"),
    prowler=("eks_cluster_private_nodes_enabled",),
)
def nodegroup_private(stack: Stack, ctx: Ctx) -> Iterator[tuple[str, str]]:
    public = public_subnets(stack)
    for ng in stack.of_type(NODE_GROUP):
        subnets = stack.referenced(ng, "subnetIds", [SUBNET])
        bad = [s.name for s in subnets if s.urn in public]
        if bad:
            yield f"node group {ng.name!r} runs in public subnets {', '.join(sorted(bad))}", ng.urn
