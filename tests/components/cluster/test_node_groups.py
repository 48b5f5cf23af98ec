"""mlops_platform.components.cluster.node_groups: the group specs, the GPU variant and the builders' values."""

from __future__ import annotations

import pytest

from mlops_platform.components.cluster.node_groups import (
    GPU_TAINT,
    LAUNCH_TEMPLATE_TAGGED_RESOURCES,
    NODE_GROUP_LABEL,
    NODE_MANAGED_POLICIES,
    TAINT_EFFECTS,
    NodeGroupSpec,
    gpu_node_group,
    node_group_specs,
    node_labels,
)


def test_gpu_node_group_keeps_sizes_and_adds_ami_taint_and_labels() -> None:
    spec = NodeGroupSpec(
        ["g5.xlarge", "g5.2xlarge"],
        0,
        2,
        1,
        disk_size_gib=200,
        labels={"team": "vision"},
        taints=[("team", "vision", "NO_EXECUTE")],
        capacity_type="SPOT",
    )
    gpu = gpu_node_group(spec)
    assert (gpu.instance_types, gpu.min_size, gpu.max_size, gpu.desired_size) == (
        ["g5.xlarge", "g5.2xlarge"],
        0,
        2,
        1,
    )
    assert gpu.disk_size_gib == 200
    assert gpu.capacity_type == "SPOT"
    assert gpu.ami_type == "AL2023_x86_64_NVIDIA"
    assert list(gpu.taints) == [("nvidia.com/gpu", "true", "NO_SCHEDULE"), ("team", "vision", "NO_EXECUTE")]
    assert dict(gpu.labels) == {
        "nvidia.com/gpu.present": "true",
        "mlops.platform/accelerator": "nvidia",
        "team": "vision",
    }
    # The spec it came from is unchanged (frozen, new lists).
    assert spec.ami_type == "AL2023_x86_64_STANDARD"
    assert list(spec.taints) == [("team", "vision", "NO_EXECUTE")]


def test_defaults_are_al2023_on_demand_50_gib_untainted() -> None:
    spec = NodeGroupSpec(["m6i.large"], 2, 3, 2)
    assert (spec.ami_type, spec.capacity_type, spec.disk_size_gib) == (
        "AL2023_x86_64_STANDARD",
        "ON_DEMAND",
        50,
    )
    assert not spec.taints and not spec.labels


def test_groups_in_order_and_gpu_only_when_given() -> None:
    system, workload = NodeGroupSpec(["m6i.large"], 2, 3, 2), NodeGroupSpec(["m6i.xlarge"], 0, 4, 1)
    assert list(node_group_specs(system, workload)) == ["system", "workload"]
    gpu = gpu_node_group(NodeGroupSpec(["g5.xlarge"], 0, 1, 0))
    groups = node_group_specs(system, workload, gpu)
    assert list(groups) == ["system", "workload", "gpu"]
    assert groups["gpu"] is gpu


def test_node_labels_name_the_group_first_and_a_spec_cannot_rename_it_away() -> None:
    spec = NodeGroupSpec(["m6i.large"], 1, 1, 1, labels={"tier": "batch"})
    assert node_labels("workload", spec) == {"mlops.platform/node-group": "workload", "tier": "batch"}
    assert NODE_GROUP_LABEL == "mlops.platform/node-group"


def test_constants() -> None:
    assert GPU_TAINT == ("nvidia.com/gpu", "true", "NO_SCHEDULE")
    assert TAINT_EFFECTS == {
        "NO_SCHEDULE": "NoSchedule",
        "NO_EXECUTE": "NoExecute",
        "PREFER_NO_SCHEDULE": "PreferNoSchedule",
    }
    assert NODE_MANAGED_POLICIES == (
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
    )
    assert LAUNCH_TEMPLATE_TAGGED_RESOURCES == ("instance", "volume", "network-interface")


@pytest.mark.parametrize("effect", sorted(TAINT_EFFECTS))
def test_every_eks_taint_effect_has_a_kubernetes_spelling(effect: str) -> None:
    assert TAINT_EFFECTS[effect].lower() == effect.replace("_", "").lower()
