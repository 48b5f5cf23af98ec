"""Karpenter: NodePools with CPU/memory limits, tainted and GPU-limited GPU pools, instance families from the
environment's allow-list; EC2NodeClasses with IMDSv2 (hop limit 1), encrypted volumes and a pinned AMI alias.

The objects are custom resources (``pulumi_kubernetes.apiextensions.CustomResource``): their inputs are the
manifest's ``apiVersion``/``kind``/``metadata``/``spec`` in the CRD's camelCase. Where the karpenter-crd
schema defaults a field (``metadataOptions`` defaults to IMDSv2 required with hop limit 1), a missing field
is judged by that default; where the default is the AMI's or the account's (block devices), missing fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from mlops_platform.components.cluster.instance_families import NVIDIA_GPU_FAMILIES
from mlops_platform.policies.rules._common import Ctx, Res, as_list, truthy
from mlops_platform.policies.rules._meta import RELAXED_DEV, STR_LIST, Prop
from mlops_platform.policies.rules._registry import resource_rule

NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"

GPU_RESOURCE = "nvidia.com/gpu"
"""The extended resource, taint key and limit key of NVIDIA GPUs (the device plugin's)."""

FAMILY = "karpenter.k8s.aws/instance-family"
INSTANCE_TYPE = "node.kubernetes.io/instance-type"
CATEGORY = "karpenter.k8s.aws/instance-category"
GPU_COUNT = "karpenter.k8s.aws/instance-gpu-count"
GPU_MANUFACTURER = "karpenter.k8s.aws/instance-gpu-manufacturer"
GPU_DETAILS = ("karpenter.k8s.aws/instance-gpu-name", "karpenter.k8s.aws/instance-gpu-memory")

GENERAL_FAMILIES: tuple[str, ...] = (
    "m5",
    "m6i",
    "m6a",
    "m7i",
    "m7a",
    "c5",
    "c6i",
    "c6a",
    "c7i",
    "c7a",
    "r5",
    "r6i",
    "r6a",
    "r7i",
    "r7a",
    "m6g",
    "m7g",
    "c6g",
    "c7g",
    "r6g",
    "r7g",
)
"""General-purpose, compute- and memory-optimized families of current generations (x86 and Graviton)."""

INSTANCE_FAMILIES: list[str] = [*GENERAL_FAMILIES, *NVIDIA_GPU_FAMILIES]
"""The default of ``allowedInstanceFamilies`` (the same in every environment)."""

GPU_CATEGORIES = frozenset({"g", "p"})
"""Instance categories (``karpenter.k8s.aws/instance-category``) whose families carry NVIDIA GPUs."""

# A Kubernetes quantity, as the karpenter-crd schema of NodePool.spec.limits spells it.
_QUANTITY = re.compile(
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)


def quantity_problem(value: Any) -> str | None:
    """Why ``value`` is not a usable limit (a non-negative Kubernetes quantity), or ``None``."""
    if isinstance(value, bool):
        return f"{value!r} is not a quantity"
    if isinstance(value, int | float):
        return None if value >= 0 else f"{value} is negative"
    if not isinstance(value, str) or not _QUANTITY.match(value.strip()):
        return f"{value!r} is not a Kubernetes quantity"
    if value.strip().startswith("-"):
        return f"{value!r} is negative"
    return None


def _pool_spec(res: Res) -> Mapping[str, Any]:
    spec = res.path("spec", "template", "spec", default={})
    return spec if isinstance(spec, Mapping) else {}


def requirements(res: Res) -> list[Mapping[str, Any]]:
    """The NodePool's scheduling requirements (``spec.template.spec.requirements``)."""
    return [r for r in as_list(_pool_spec(res).get("requirements")) if isinstance(r, Mapping)]


def _values(req: Mapping[str, Any]) -> list[str]:
    return [str(v) for v in as_list(req.get("values"))]


def limits(res: Res) -> Mapping[str, Any]:
    value = res.path("spec", "limits", default={})
    return value if isinstance(value, Mapping) else {}


def _family_of(instance_type: str) -> str:
    return instance_type.split(".", 1)[0]


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _selects_gpu(req: Mapping[str, Any]) -> bool:
    """Whether one requirement can only (or also) be met by an NVIDIA GPU instance."""
    key, op, values = str(req.get("key")), str(req.get("operator")), _values(req)
    if op == "In":
        if key == FAMILY:
            return any(v in NVIDIA_GPU_FAMILIES for v in values)
        if key == INSTANCE_TYPE:
            return any(_family_of(v) in NVIDIA_GPU_FAMILIES for v in values)
        if key == CATEGORY:
            return bool(GPU_CATEGORIES.intersection(values))
        if key == GPU_COUNT:
            return any((n := _number(v)) is not None and n > 0 for v in values)
        if key == GPU_MANUFACTURER:
            return "nvidia" in (v.lower() for v in values)
        return key in GPU_DETAILS
    if key in (GPU_COUNT, *GPU_DETAILS):
        # The GPU labels exist only on GPU instances: Exists/Gt select GPUs, and so does Lt above 1 GPU.
        if op in ("Exists", "Gt"):
            return True
        if op == "Lt":
            return any((n := _number(v)) is not None and n > 1 for v in values) or key in GPU_DETAILS
    return key == GPU_MANUFACTURER and op == "Exists"


def is_gpu_pool(res: Res) -> bool:
    """A pool that can launch NVIDIA GPU instances: a requirement selects them, or it limits ``nvidia.com/gpu``."""
    return GPU_RESOURCE in limits(res) or any(_selects_gpu(r) for r in requirements(res))


@resource_rule(
    "karpenter-nodepool-limits",
    NODE_POOL,
    description=(
        "Every Karpenter NodePool limits the CPU and memory it may provision (spec.limits.cpu and "
        "spec.limits.memory, as Kubernetes quantities): without them a burst of pending pods buys nodes "
        "without bound."
    ),
    severity="medium",
    remediation=(
        "Set spec.limits.cpu (vCPUs, e.g. '256') and spec.limits.memory (e.g. '1024Gi'): the pool's "
        "*PoolCpuLimit and *PoolMemoryLimitGib settings."
    ),
)
def nodepool_limits(res: Res, ctx: Ctx) -> Iterator[str]:
    bounds = limits(res)
    for key in ("cpu", "memory"):
        if key not in bounds or bounds[key] is None or bounds[key] == "":
            yield f"the NodePool sets no spec.limits.{key}: it may provision {key} without bound"
            continue
        problem = quantity_problem(bounds[key])
        if problem:
            yield f"spec.limits.{key} {problem}"


def _tainted_for_gpus(res: Res) -> bool:
    taints = [t for t in as_list(_pool_spec(res).get("taints")) if isinstance(t, Mapping)]
    return any(
        t.get("key") == GPU_RESOURCE and t.get("effect") in ("NoSchedule", "NoExecute") for t in taints
    )


@resource_rule(
    "karpenter-gpu-pool-tainted",
    NODE_POOL,
    description=(
        "A NodePool that can launch NVIDIA GPU instances (a GPU instance family, type or category, a GPU "
        "count or manufacturer requirement, or an nvidia.com/gpu limit) taints its nodes nvidia.com/gpu "
        "with effect NoSchedule, so only pods that tolerate it land on GPU nodes."
    ),
    severity="medium",
    remediation=(
        "Add spec.template.spec.taints: [{key: nvidia.com/gpu, value: 'true', effect: NoSchedule}] "
        "(NoExecute also repels) and give GPU workloads the matching toleration."
    ),
)
def gpu_pool_tainted(res: Res, ctx: Ctx) -> Iterator[str]:
    if is_gpu_pool(res) and not _tainted_for_gpus(res):
        yield "the GPU NodePool lacks the nvidia.com/gpu NoSchedule taint, so any pod can land on its GPU nodes"


@resource_rule(
    "karpenter-gpu-pool-gpu-limit",
    NODE_POOL,
    description=(
        "A NodePool that can launch NVIDIA GPU instances limits the GPUs it may provision "
        "(spec.limits['nvidia.com/gpu'], a Kubernetes quantity): CPU and memory limits alone still allow "
        "the most expensive GPUs per vCPU."
    ),
    severity="low",
    remediation="Set spec.limits['nvidia.com/gpu'] (gpuPoolGpuLimit), e.g. '16'.",
    enforcement=RELAXED_DEV,
)
def gpu_pool_limit(res: Res, ctx: Ctx) -> Iterator[str]:
    if not is_gpu_pool(res):
        return
    bounds = limits(res)
    value = bounds.get(GPU_RESOURCE)
    if value is None or value == "":
        yield "the GPU NodePool sets no spec.limits['nvidia.com/gpu']: it may provision GPUs without bound"
    elif problem := quantity_problem(value):
        yield f"spec.limits['nvidia.com/gpu'] {problem}"


@resource_rule(
    "karpenter-nodepool-instance-families",
    NODE_POOL,
    description=(
        "A NodePool bounds its instance families by the environment's allow-list: a "
        "karpenter.k8s.aws/instance-family (or node.kubernetes.io/instance-type) requirement with operator "
        "In whose every value is allowed. NotIn, Exists or no such requirement leave the set unbounded, and "
        "new families would be bought as AWS launches them."
    ),
    severity="low",
    remediation=(
        "Require karpenter.k8s.aws/instance-family In [families of allowedInstanceFamilies] "
        "(generalPoolInstanceFamilies / gpuPoolInstanceFamilies), or widen the allow-list in "
        "policies/config/<env>.json."
    ),
    props={"allowedInstanceFamilies": Prop(STR_LIST, INSTANCE_FAMILIES)},
)
def nodepool_instance_families(res: Res, ctx: Ctx) -> Iterator[str]:
    allowed = {str(f) for f in ctx.get("allowedInstanceFamilies")}
    bounded = False
    for req in requirements(res):
        key, op = str(req.get("key")), str(req.get("operator"))
        if key not in (FAMILY, INSTANCE_TYPE) or op != "In":
            continue
        bounded = True
        families = _values(req) if key == FAMILY else [_family_of(v) for v in _values(req)]
        refused = sorted({f for f in families if f not in allowed})
        if refused:
            yield (
                f"instance families {', '.join(refused)} ({key}) are not allowed in {ctx.environment} "
                f"(allowedInstanceFamilies: {', '.join(sorted(allowed))})"
            )
    if not bounded:
        yield (
            f"the NodePool does not require {FAMILY} In [...]: any instance family may be launched, "
            "including families outside the allow-list"
        )


def _node_class_spec(res: Res) -> Mapping[str, Any]:
    spec = res.get("spec")
    return spec if isinstance(spec, Mapping) else {}


@resource_rule(
    "karpenter-ec2nodeclass-imdsv2",
    NODE_CLASS,
    description=(
        "EC2NodeClasses require IMDSv2 with a hop limit of 1 (metadataOptions.httpTokens required, "
        "httpPutResponseHopLimit 1; the karpenter-crd defaults when metadataOptions is omitted), so pods "
        "cannot reach the node role's credentials."
    ),
    severity="high",
    remediation="Set spec.metadataOptions {httpEndpoint: enabled, httpTokens: required, httpPutResponseHopLimit: 1}.",
    checkov=("CKV_AWS_79", "CKV_AWS_341"),
    prowler=("ec2_instance_imdsv2_enabled",),
)
def node_class_imdsv2(res: Res, ctx: Ctx) -> Iterator[str]:
    options = _node_class_spec(res).get("metadataOptions")
    options = options if isinstance(options, Mapping) else {}
    if options.get("httpEndpoint") == "disabled":
        return
    tokens = options.get("httpTokens", "required")  # the CRD's default
    if tokens != "required":
        yield f"IMDSv2 is not required (metadataOptions.httpTokens is {tokens!r}; it must be 'required')"
    hop = options.get("httpPutResponseHopLimit", 1)  # the CRD's default
    if _number(str(hop)) != 1:
        yield f"metadata hop limit is {hop}; 1 keeps pods off the node role's credentials"


@resource_rule(
    "karpenter-ec2nodeclass-encrypted-volumes",
    NODE_CLASS,
    description=(
        "EC2NodeClasses encrypt every EBS volume, the root volume included: each blockDeviceMappings entry "
        "has ebs.encrypted true. Without blockDeviceMappings the AMI's default mapping applies, unencrypted "
        "unless the account encrypts by default, so a missing mapping fails too."
    ),
    severity="high",
    remediation=(
        "Set spec.blockDeviceMappings [{deviceName: /dev/xvda, rootVolume: true, ebs: {volumeType: gp3, "
        "encrypted: true, kmsKeyID: <cluster key ARN>}}]."
    ),
    checkov=("CKV_AWS_8",),
    prowler=("ec2_ebs_default_encryption",),
)
def node_class_encrypted_volumes(res: Res, ctx: Ctx) -> Iterator[str]:
    mappings = [
        m for m in as_list(_node_class_spec(res).get("blockDeviceMappings")) if isinstance(m, Mapping)
    ]
    if not mappings:
        yield "no blockDeviceMappings: the root volume's encryption is left to the AMI and account defaults"
    for m in mappings:
        ebs = m.get("ebs")
        if not isinstance(ebs, Mapping) or not truthy(ebs.get("encrypted")):
            yield f"volume {m.get('deviceName', '?')} is not encrypted (ebs.encrypted must be true)"


@resource_rule(
    "karpenter-ami-pinned",
    NODE_CLASS,
    description=(
        "EC2NodeClasses pin their AMI: no amiSelectorTerms alias ending in @latest (nor an SSM parameter of "
        "the 'recommended' image), which would roll every node to a new AMI whenever AWS publishes one, "
        "untested. Advisory in dev, mandatory in staging and prod."
    ),
    severity="medium",
    remediation=(
        "Pin the alias to a release (e.g. al2023@v20260930, karpenterAmiAlias) and raise it deliberately; "
        "expireAfter rolls the nodes onto it."
    ),
    enforcement=RELAXED_DEV,
)
def ami_pinned(res: Res, ctx: Ctx) -> Iterator[str]:
    for term in as_list(_node_class_spec(res).get("amiSelectorTerms")):
        if not isinstance(term, Mapping):
            continue
        alias = term.get("alias")
        if isinstance(alias, str) and alias.strip().endswith("@latest"):
            yield f"amiSelectorTerms alias {alias!r} follows the latest AMI; pin a version (e.g. al2023@v20260930)"
        parameter = term.get("ssmParameter")
        if isinstance(parameter, str) and parameter.rstrip("/").endswith("/recommended/image_id"):
            yield f"amiSelectorTerms ssmParameter {parameter!r} follows the recommended (latest) AMI; pin a version"
