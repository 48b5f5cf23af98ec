"""The compute sections of the platform's configuration schema: the fixed managed node groups and Karpenter
with its general and GPU node pools (:mod:`~mlops_platform.components.cluster.karpenter`).

Kept beside :mod:`~mlops_platform.components.platform.settings`, which lists them in ``SECTIONS``; the
requirements that span sections (a GPU pool needs Karpenter, Karpenter needs its VPC endpoints) are
:func:`compute_requirements`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from mlops_platform.components.cluster.instance_families import NVIDIA_GPU_FAMILIES
from mlops_platform.components.network.endpoints import KARPENTER_ENDPOINTS
from mlops_platform.components.platform.section import Section

_INSTANCE_TYPE = r"^[a-z][a-z0-9-]*\.[a-z0-9]+$"
_INSTANCE_FAMILY = r"^[a-z][a-z0-9-]*$"
AMI_ALIAS = r"^al2023@(latest|v\d{8})$"
DURATION = r"^(([0-9]+(s|m|h))+|Never)$"
BUDGET = r"^((100|[0-9]{1,2})%|[0-9]+)$"

COMPUTE_PATTERN_WORDS: dict[str, str] = {
    _INSTANCE_FAMILY: "an EC2 instance family such as m7i (lowercase, no size)",
    AMI_ALIAS: "an EKS AL2023 AMI alias: al2023@vYYYYMMDD (a dated release, e.g. al2023@v20260930) or al2023@latest",
    DURATION: "a duration in s, m and h such as 30s, 10m or 720h (or Never)",
    BUDGET: "a node count such as 1, or a share of the pool's nodes such as 10%",
}
"""What the compute fields' patterns allow, in words (merged into the schema's ``PATTERN_WORDS``)."""


class NodeGroupSettings(Section):
    instance_types: list[str] = Field(min_length=1, description="EC2 instance types.")
    min_size: int = Field(ge=0, le=100, description="Minimum node count.")
    max_size: int = Field(ge=1, le=100, description="Maximum node count.")
    desired_size: int = Field(ge=0, le=100, description="Initial node count.")
    disk_size_gib: int = Field(ge=20, le=2000, description="Encrypted gp3 root volume size in GiB.")

    @field_validator("instance_types")
    @classmethod
    def _types(cls, value: list[str]) -> list[str]:
        for t in value:
            if not re.match(_INSTANCE_TYPE, t):
                raise ValueError(f"{t!r} is not an EC2 instance type such as m6i.large")
        return value

    @model_validator(mode="after")
    def _sizes(self) -> NodeGroupSettings:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError("sizes must satisfy minSize <= desiredSize <= maxSize")
        return self


class SystemNodes(NodeGroupSettings):
    key_prefix: ClassVar[str] = "systemNodes"


class WorkloadNodes(NodeGroupSettings):
    key_prefix: ClassVar[str] = "workloadNodes"
    enabled: bool = Field(
        description=(
            "Create the fixed workload node group; with Karpenter (the default) workloads get Karpenter nodes "
            "instead. A stack deployed before Karpenter keeps it until its nodes are drained (docs/operations.md)."
        )
    )


class GpuNodes(NodeGroupSettings):
    key_prefix: ClassVar[str] = "gpuNodes"
    enabled: bool = Field(
        description=(
            "Create the fixed GPU node group (tainted nvidia.com/gpu=true:NoSchedule); the Karpenter GPU pool "
            "(gpuPoolEnabled) replaces it."
        )
    )

    @field_validator("instance_types")
    @classmethod
    def _gpus(cls, value: list[str]) -> list[str]:
        for t in value:
            if t.split(".")[0] not in NVIDIA_GPU_FAMILIES:
                raise ValueError(
                    f"{t!r} has no NVIDIA GPU; the GPU group runs the EKS NVIDIA AMI (x86_64) on an instance "
                    f"type of the families {', '.join(NVIDIA_GPU_FAMILIES)}, e.g. g5.xlarge"
                )
        return value


CapacityType = Literal["spot", "on-demand"]
Architecture = Literal["amd64", "arm64"]
ConsolidationPolicy = Literal["WhenEmptyOrUnderutilized", "WhenEmpty"]


class KarpenterSettings(Section):
    key_prefix: ClassVar[str] = "karpenter"
    enabled: bool = Field(
        description=(
            "Install Karpenter (controller on the system node group, node pools from the generalPool* and gpuPool* "
            "keys, the Spot interruption queue)."
        )
    )
    ami_alias: str = Field(
        pattern=AMI_ALIAS,
        description=(
            "The node classes' AMI alias: a dated EKS AL2023 release (al2023@v20260930); the NVIDIA variant is "
            "chosen for GPU types. Staging and prod refuse al2023@latest."
        ),
    )
    controller_replicas: int = Field(ge=1, le=3, description="Karpenter controller replicas (one leads).")


class NodePoolSettings(Section):
    instance_families: list[str] = Field(
        min_length=1, description="EC2 instance families the pool may launch (the pack checks an allow-list)."
    )
    capacity_types: list[CapacityType] = Field(
        min_length=1, description="Capacity types: spot and/or on-demand (with both, Spot is preferred)."
    )
    cpu_limit: int = Field(ge=1, le=100000, description="vCPUs the pool's nodes may add up to.")
    memory_limit_gib: int = Field(
        ge=1, le=1000000, description="Memory (GiB) the pool's nodes may add up to."
    )
    expected_nodes: int = Field(
        ge=0, le=1000, description="Nodes a cost estimate assumes the pool runs on average."
    )
    consolidation_policy: ConsolidationPolicy = Field(
        description="When Karpenter consolidates: WhenEmptyOrUnderutilized or WhenEmpty."
    )
    consolidate_after: str = Field(
        pattern=DURATION,
        description="How long a node stays empty or underutilized before it is consolidated.",
    )
    expire_after: str = Field(
        pattern=DURATION,
        description="Node lifetime; expired nodes are replaced (they roll to the pinned AMI).",
    )
    disruption_budget: str = Field(
        pattern=BUDGET,
        description="At most this many (1) or this share (10%) of the pool's nodes disrupted at once.",
    )
    disk_size_gib: int = Field(ge=20, le=16000, description="Encrypted gp3 root volume size in GiB.")

    @field_validator("instance_families")
    @classmethod
    def _families(cls, value: list[str]) -> list[str]:
        for family in value:
            if not re.match(_INSTANCE_FAMILY, family):
                raise ValueError(f"{family!r} is not an EC2 instance family such as m7i (no size, lowercase)")
        if len(set(value)) != len(value):
            raise ValueError("lists a family twice")
        return value


class GeneralPool(NodePoolSettings):
    key_prefix: ClassVar[str] = "generalPool"
    architectures: list[Architecture] = Field(
        min_length=1, description="CPU architectures: amd64 and/or arm64 (images must be built for each)."
    )

    @field_validator("instance_families")
    @classmethod
    def _no_gpus(cls, value: list[str]) -> list[str]:
        gpus = [f for f in value if f in NVIDIA_GPU_FAMILIES]
        if gpus:
            raise ValueError(
                f"{gpus[0]!r} is a GPU family; GPU instances belong to the tainted GPU pool (gpuPoolInstanceFamilies), "
                "not to the general pool where any pod would land on them"
            )
        return value


class GpuPool(NodePoolSettings):
    key_prefix: ClassVar[str] = "gpuPool"
    enabled: bool = Field(
        description="Create the GPU pool (tainted nvidia.com/gpu=true:NoSchedule; no node until a pod asks for a GPU)."
    )
    gpu_limit: int = Field(ge=1, le=10000, description="NVIDIA GPUs the pool's nodes may add up to.")

    @field_validator("instance_families")
    @classmethod
    def _gpus(cls, value: list[str]) -> list[str]:
        for family in value:
            if family not in NVIDIA_GPU_FAMILIES:
                raise ValueError(
                    f"{family!r} has no NVIDIA GPU; the GPU pool launches the EKS AL2023 NVIDIA AMI (x86_64) on "
                    f"the families {', '.join(NVIDIA_GPU_FAMILIES)}"
                )
        return value


def compute_requirements(sections: Mapping[str, Mapping[str, Any]]) -> list[tuple[tuple[str, str], str]]:
    """``((section, field), message)`` for each compute requirement across sections that ``sections`` (section
    -> field -> value) does not meet: a GPU pool needs Karpenter, and Karpenter needs its interface endpoints
    (its controller's egress is closed to the VPC). Values of the wrong type are left to their own checks."""
    karpenter = sections.get("karpenter", {})
    network = sections.get("network", {})
    problems: list[tuple[tuple[str, str], str]] = []
    if sections.get("gpu_pool", {}).get("enabled") is True and karpenter.get("enabled") is False:
        problems.append(
            (("gpu_pool", "enabled"), "true needs karpenterEnabled: true (Karpenter runs the pool)")
        )
    if karpenter.get("enabled") is True:
        services = network.get("interface_endpoint_services")
        if network.get("interface_endpoints") is False:
            problems.append(
                (
                    ("network", "interface_endpoints"),
                    "false, but Karpenter's controller reaches EC2, SSM, SQS, EKS and STS through interface "
                    "endpoints only; set it true (or karpenterEnabled: false)",
                )
            )
        elif isinstance(services, list):
            missing = [s for s in KARPENTER_ENDPOINTS if s not in services]
            if missing:
                problems.append(
                    (
                        ("network", "interface_endpoint_services"),
                        f"lacks {missing}: Karpenter's controller reaches AWS through these endpoints only "
                        "(add them, or set karpenterEnabled: false)",
                    )
                )
    return problems
