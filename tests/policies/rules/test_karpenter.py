"""Karpenter rules (policies/rules/karpenter.py): each rule quiet on a compliant NodePool/EC2NodeClass set
(the shapes the platform renders, issue 14's SPEC) and caught once its setting is broken, through the real
analyzer protocol; then precision cases: what must not fire, and the other ways to break it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from policybaseline import KEY_ARN, baseline
from policycases import CASE_FIELDS, Case, case_ids, case_rules, rule_names
from policytest import (
    Checker,
    Mutation,
    Selector,
    assert_mutation_caught,
    config_for,
    drop_input,
    graph_of,
    k8s_provider,
    resource,
    select,
    set_input,
)

from mlops_platform.mlops.graph import Graph, Resource
from mlops_platform.policies.rules import karpenter
from mlops_platform.policies.rules.catalogue import CATALOGUE

NODE_POOL = karpenter.NODE_POOL
NODE_CLASS = karpenter.NODE_CLASS
GENERAL_POOL = select(NODE_POOL, "general-pool")
GPU_POOL = select(NODE_POOL, "gpu-pool")
GENERAL_CLASS = select(NODE_CLASS, "general-class")
DISCOVERY = {"tags": {"karpenter.sh/discovery": "mlops-prod-eks"}}
FAMILY = "karpenter.k8s.aws/instance-family"


def node_class(name: str, disk: str = "200Gi") -> dict[str, Any]:
    return {
        "apiVersion": "karpenter.k8s.aws/v1",
        "kind": "EC2NodeClass",
        "metadata": {"name": name},
        "spec": {
            "amiSelectorTerms": [{"alias": "al2023@v20260930"}],
            "instanceProfile": "mlops-prod-karpenter-node",
            "subnetSelectorTerms": [DISCOVERY],
            "securityGroupSelectorTerms": [DISCOVERY],
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
                        "volumeSize": disk,
                        "volumeType": "gp3",
                        "encrypted": True,
                        "kmsKeyID": KEY_ARN,
                        "deleteOnTermination": True,
                    },
                }
            ],
            "detailedMonitoring": True,
            "tags": {"environment": "prod", "owner": "ml-platform", "managed-by": "pulumi"},
        },
    }


def node_pool(name: str, families: list[str], *, gpu: bool = False) -> dict[str, Any]:
    labels = {"mlops.platform/node-pool": name}
    template_spec: dict[str, Any] = {
        "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": name},
        "requirements": [
            {"key": FAMILY, "operator": "In", "values": families},
            {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
            {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
            {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
        ],
        "expireAfter": "720h",
        "terminationGracePeriod": "48h",
    }
    limits: dict[str, Any] = {"cpu": "256", "memory": "1024Gi"}
    if gpu:
        labels.update({"nvidia.com/gpu.present": "true", "mlops.platform/accelerator": "nvidia"})
        template_spec["taints"] = [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
        limits = {"cpu": "192", "memory": "768Gi", "nvidia.com/gpu": "16"}
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": name},
        "spec": {
            "template": {"metadata": {"labels": labels}, "spec": template_spec},
            "limits": limits,
            "disruption": {
                "consolidationPolicy": "WhenEmpty" if gpu else "WhenEmptyOrUnderutilized",
                "consolidateAfter": "15m" if gpu else "10m",
                "budgets": [{"nodes": "1" if gpu else "10%"}],
            },
        },
    }


def karpenter_objects() -> list[Resource]:
    k8s = k8s_provider()
    return [
        resource(NODE_CLASS, "general-class", node_class("general", "200Gi"), provider=k8s),
        resource(NODE_CLASS, "gpu-class", node_class("gpu", "300Gi"), provider=k8s),
        resource(
            NODE_POOL,
            "general-pool",
            node_pool("general", ["m6i", "m7i", "c6i", "c7i", "r6i", "r7i"]),
            provider=k8s,
        ),
        resource(NODE_POOL, "gpu-pool", node_pool("gpu", ["g5", "g6", "g6e"], gpu=True), provider=k8s),
    ]


def karpenter_baseline(env: str = "prod") -> Graph:
    graph = baseline(env)
    graph.resources.extend(karpenter_objects())
    return graph


def requirement(key: str, operator: str, values: list[str] | None = None) -> dict[str, Any]:
    req: dict[str, Any] = {"key": key, "operator": operator}
    if values is not None:
        req["values"] = values
    return req


def with_family_requirement(req: dict[str, Any] | None) -> Mutation:
    """Replace the instance-family requirement (or drop it, with ``None``)."""

    def mutate(inputs: dict[str, Any]) -> None:
        spec = inputs["spec"]["template"]["spec"]
        others = [r for r in spec["requirements"] if r["key"] != FAMILY]
        spec["requirements"] = others if req is None else [req, *others]

    return mutate


def set_limit(key: str, value: Any = None) -> Mutation:
    """Set (or, with ``None``, drop) one of ``spec.limits``: keys such as nvidia.com/gpu hold dots."""

    def mutate(inputs: dict[str, Any]) -> None:
        limits = inputs["spec"].setdefault("limits", {})
        if value is None:
            limits.pop(key, None)
        else:
            limits[key] = value

    return mutate


def add_family(family: str) -> Mutation:
    def mutate(inputs: dict[str, Any]) -> None:
        for req in inputs["spec"]["template"]["spec"]["requirements"]:
            if req["key"] == FAMILY and family not in req["values"]:
                req["values"] = [*req["values"], family]

    return mutate


CASES: list[Case] = [
    ("karpenter-nodepool-limits", GENERAL_POOL, drop_input("spec.limits.cpu"), {}),
    ("karpenter-gpu-pool-tainted", GPU_POOL, set_input("spec.template.spec.taints", []), {}),
    ("karpenter-gpu-pool-gpu-limit", GPU_POOL, set_limit("nvidia.com/gpu"), {}),
    ("karpenter-nodepool-instance-families", GENERAL_POOL, add_family("x2iedn"), {}),
    (
        "karpenter-ec2nodeclass-imdsv2",
        GENERAL_CLASS,
        set_input("spec.metadataOptions.httpTokens", "optional"),
        {},
    ),
    (
        "karpenter-ec2nodeclass-encrypted-volumes",
        GENERAL_CLASS,
        set_input("spec.blockDeviceMappings.0.ebs.encrypted", False),
        {},
    ),
    (
        "karpenter-ami-pinned",
        GENERAL_CLASS,
        set_input("spec.amiSelectorTerms", [{"alias": "al2023@latest"}]),
        {},
    ),
]


def test_every_rule_has_a_case() -> None:
    assert case_rules(CASES) == rule_names(karpenter)


def test_the_compliant_objects_pass_every_rule_of_the_pack(checker: Checker) -> None:
    # Not only the Karpenter rules: the namespace, tagging and other rules must not trip over the objects.
    result = checker.run([*karpenter_objects(), k8s_provider()], "prod")
    assert result.violations == [], [(v.policy, v.name, v.message) for v in result.violations]


@pytest.mark.parametrize(CASE_FIELDS, CASES, ids=case_ids(CASES))
def test_rule_catches_its_violation(
    checker: Checker, rule: str, selector: Selector, mutation: Mutation | None, options: dict[str, Any]
) -> None:
    result = assert_mutation_caught(checker, karpenter_baseline("prod"), selector, mutation, rule, env="prod")
    assert CATALOGUE[rule].level("prod") == "mandatory"
    assert all(v.enforcement == "mandatory" for v in result.by_policy(rule))


# ---- precision -----------------------------------------------------------------------------------


def _hits(checker: Checker, rule: str, res: Resource, env: str = "prod", **kw: Any) -> list[str]:
    return [v.message for v in checker.run([k8s_provider(), res], env, **kw).by_policy(rule)]


def _pool(mutation: Mutation, *, gpu: bool = False, name: str = "pool") -> Resource:
    inputs = node_pool(name, ["g5"] if gpu else ["m6i"], gpu=gpu)
    mutation(inputs)
    return resource(NODE_POOL, name, inputs, provider=k8s_provider())


def _class(mutation: Mutation) -> Resource:
    inputs = node_class("general")
    mutation(inputs)
    return resource(NODE_CLASS, "general-class", inputs, provider=k8s_provider())


def test_platform_gpu_families_are_the_rule_default() -> None:
    from mlops_platform.components.platform.settings import NVIDIA_GPU_FAMILIES

    default = CATALOGUE["karpenter-nodepool-instance-families"].props["allowedInstanceFamilies"]
    for env in ("dev", "staging", "prod"):
        allowed = config_for(env)["karpenter-nodepool-instance-families"]["allowedInstanceFamilies"]
        assert allowed == default.for_env(env) == karpenter.INSTANCE_FAMILIES
        assert set(NVIDIA_GPU_FAMILIES) <= set(allowed)


@pytest.mark.parametrize(
    "limits",
    [
        {"memory": "1024Gi"},
        {"cpu": "256"},
        {},
        {"cpu": "lots", "memory": "1024Gi"},
        {"cpu": "256", "memory": "1 TB"},
        {"cpu": "-4", "memory": "1024Gi"},
        {"cpu": True, "memory": "1024Gi"},
        {"cpu": None, "memory": "1024Gi"},
    ],
    ids=["no cpu", "no memory", "none", "cpu words", "memory with a space", "negative", "bool", "null"],
)
def test_limits_missing_or_unparseable(checker: Checker, limits: dict[str, Any]) -> None:
    pool = _pool(set_input("spec.limits", limits))
    assert _hits(checker, "karpenter-nodepool-limits", pool)


@pytest.mark.parametrize(
    "limits",
    [{"cpu": "256", "memory": "1024Gi"}, {"cpu": 64, "memory": "256G"}, {"cpu": "500m", "memory": "1.5Ti"}],
)
def test_limits_as_quantities_pass(checker: Checker, limits: dict[str, Any]) -> None:
    assert _hits(checker, "karpenter-nodepool-limits", _pool(set_input("spec.limits", limits))) == []


def test_pool_without_limits_section_is_caught(checker: Checker) -> None:
    assert len(_hits(checker, "karpenter-nodepool-limits", _pool(drop_input("spec.limits")))) == 2


GPU_SELECTIONS = {
    "GPU family": [requirement(FAMILY, "In", ["m6i", "p5"])],
    "GPU instance type": [requirement("node.kubernetes.io/instance-type", "In", ["g6e.12xlarge"])],
    "GPU category": [requirement("karpenter.k8s.aws/instance-category", "In", ["g"])],
    "GPU count Gt 0": [requirement("karpenter.k8s.aws/instance-gpu-count", "Gt", ["0"])],
    "GPU count In": [requirement("karpenter.k8s.aws/instance-gpu-count", "In", ["1", "4"])],
    "GPU count Exists": [requirement("karpenter.k8s.aws/instance-gpu-count", "Exists")],
    "NVIDIA manufacturer": [requirement("karpenter.k8s.aws/instance-gpu-manufacturer", "In", ["nvidia"])],
    "GPU name": [requirement("karpenter.k8s.aws/instance-gpu-name", "In", ["a10g"])],
}


@pytest.mark.parametrize("requirements", list(GPU_SELECTIONS.values()), ids=list(GPU_SELECTIONS))
def test_pool_that_can_select_gpus_needs_the_taint_and_a_gpu_limit(
    checker: Checker, requirements: list[dict[str, Any]]
) -> None:
    pool = _pool(set_input("spec.template.spec.requirements", requirements))  # a general pool: no taint
    assert _hits(checker, "karpenter-gpu-pool-tainted", pool)
    assert _hits(checker, "karpenter-gpu-pool-gpu-limit", pool)


def test_gpu_limit_alone_makes_a_gpu_pool(checker: Checker) -> None:
    pool = _pool(set_input("spec.limits", {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "2"}))
    assert _hits(checker, "karpenter-gpu-pool-tainted", pool)
    assert _hits(checker, "karpenter-gpu-pool-gpu-limit", pool) == []


NOT_GPU = {
    "CPU families": [requirement(FAMILY, "In", ["m6i", "c7g"])],
    "GPU families excluded": [requirement(FAMILY, "NotIn", ["g5", "p5"])],
    "no GPUs": [requirement("karpenter.k8s.aws/instance-gpu-count", "DoesNotExist")],
    "GPU count In 0": [requirement("karpenter.k8s.aws/instance-gpu-count", "In", ["0"])],
    "compute category": [requirement("karpenter.k8s.aws/instance-category", "In", ["c", "m", "r"])],
    "AMD GPUs": [requirement("karpenter.k8s.aws/instance-gpu-manufacturer", "In", ["amd"])],
}


@pytest.mark.parametrize("requirements", list(NOT_GPU.values()), ids=list(NOT_GPU))
def test_cpu_pool_needs_no_gpu_taint(checker: Checker, requirements: list[dict[str, Any]]) -> None:
    pool = _pool(set_input("spec.template.spec.requirements", requirements))
    assert _hits(checker, "karpenter-gpu-pool-tainted", pool) == []
    assert _hits(checker, "karpenter-gpu-pool-gpu-limit", pool) == []


@pytest.mark.parametrize(
    "taints",
    [
        [{"key": "nvidia.com/gpu", "value": "true", "effect": "PreferNoSchedule"}],
        [{"key": "gpu", "value": "true", "effect": "NoSchedule"}],
        [{"key": "dedicated", "value": "ml", "effect": "NoSchedule"}],
    ],
    ids=["PreferNoSchedule", "other key", "unrelated taint"],
)
def test_gpu_pool_with_the_wrong_taint_is_caught(checker: Checker, taints: list[dict[str, Any]]) -> None:
    pool = _pool(set_input("spec.template.spec.taints", taints), gpu=True)
    assert _hits(checker, "karpenter-gpu-pool-tainted", pool)


def test_gpu_pool_with_a_noexecute_taint_passes(checker: Checker) -> None:
    taints = [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoExecute"}]
    pool = _pool(set_input("spec.template.spec.taints", taints), gpu=True)
    assert _hits(checker, "karpenter-gpu-pool-tainted", pool) == []


def test_gpu_limit_must_be_a_quantity(checker: Checker) -> None:
    pool = _pool(set_limit("nvidia.com/gpu", "sixteen"), gpu=True)
    assert _hits(checker, "karpenter-gpu-pool-gpu-limit", pool)


def test_gpu_limit_is_advisory_in_dev(checker: Checker) -> None:
    pool = _pool(set_limit("nvidia.com/gpu"), gpu=True)
    result = checker.run([k8s_provider(), pool], "dev")
    assert [v.enforcement for v in result.by_policy("karpenter-gpu-pool-gpu-limit")] == ["advisory"]


UNBOUNDED = {
    "NotIn": requirement(FAMILY, "NotIn", ["t2", "t3"]),
    "Exists": requirement(FAMILY, "Exists"),
    "no family requirement, only a category": None,
}


@pytest.mark.parametrize("req", list(UNBOUNDED.values()), ids=list(UNBOUNDED))
def test_unbounded_families_are_caught(checker: Checker, req: dict[str, Any] | None) -> None:
    pool = _pool(with_family_requirement(req))
    pool.inputs["spec"]["template"]["spec"]["requirements"].append(
        requirement("karpenter.k8s.aws/instance-category", "In", ["c", "m", "r"])
    )
    assert _hits(checker, "karpenter-nodepool-instance-families", pool)


def test_instance_type_requirement_bounds_the_families(checker: Checker) -> None:
    allowed = _pool(
        with_family_requirement(
            requirement("node.kubernetes.io/instance-type", "In", ["m7i.large", "g6.xlarge"])
        )
    )
    assert _hits(checker, "karpenter-nodepool-instance-families", allowed) == []
    refused = _pool(
        with_family_requirement(requirement("node.kubernetes.io/instance-type", "In", ["x2iedn.xlarge"]))
    )
    assert _hits(checker, "karpenter-nodepool-instance-families", refused)


@pytest.mark.parametrize("family", ["t3", "x2iedn", "g4ad", "inf2", "p6e-gb200", "m5zn"])
def test_families_outside_the_default_allow_list(checker: Checker, family: str) -> None:
    pool = _pool(with_family_requirement(requirement(FAMILY, "In", ["m6i", family])))
    messages = _hits(checker, "karpenter-nodepool-instance-families", pool)
    assert messages and family in messages[0]


def test_allow_list_comes_from_the_policy_config(checker: Checker) -> None:
    pool = _pool(with_family_requirement(requirement(FAMILY, "In", ["t3"])))
    config = copy.deepcopy(config_for("dev"))
    assert _hits(checker, "karpenter-nodepool-instance-families", pool, "dev", config=config)
    config["karpenter-nodepool-instance-families"]["allowedInstanceFamilies"] = ["t3", "m6i"]
    assert _hits(checker, "karpenter-nodepool-instance-families", pool, "dev", config=config) == []
    config["karpenter-nodepool-instance-families"]["allowedInstanceFamilies"] = ["t3"]
    general = _pool(lambda _: None)  # m6i
    assert _hits(checker, "karpenter-nodepool-instance-families", general, "dev", config=config)


IMDS_BROKEN = {
    "tokens optional": {"httpTokens": "optional", "httpPutResponseHopLimit": 1},
    "hop limit 2": {"httpTokens": "required", "httpPutResponseHopLimit": 2},
    "hop limit as a string": {"httpTokens": "required", "httpPutResponseHopLimit": "3"},
    "only the hop limit, raised": {"httpPutResponseHopLimit": 2},
}


@pytest.mark.parametrize("options", list(IMDS_BROKEN.values()), ids=list(IMDS_BROKEN))
def test_imds_settings_that_expose_credentials(checker: Checker, options: dict[str, Any]) -> None:
    assert _hits(checker, "karpenter-ec2nodeclass-imdsv2", _class(set_input("spec.metadataOptions", options)))


def test_imds_defaults_of_the_crd_pass(checker: Checker) -> None:
    # karpenter-crd defaults metadataOptions (and each field of it) to IMDSv2 required with hop limit 1.
    assert _hits(checker, "karpenter-ec2nodeclass-imdsv2", _class(drop_input("spec.metadataOptions"))) == []
    only_tokens = set_input("spec.metadataOptions", {"httpTokens": "required"})
    assert _hits(checker, "karpenter-ec2nodeclass-imdsv2", _class(only_tokens)) == []
    disabled = set_input("spec.metadataOptions", {"httpEndpoint": "disabled", "httpTokens": "optional"})
    assert _hits(checker, "karpenter-ec2nodeclass-imdsv2", _class(disabled)) == []


VOLUMES_BROKEN = {
    "no mappings": drop_input("spec.blockDeviceMappings"),
    "empty mappings": set_input("spec.blockDeviceMappings", []),
    "encrypted unset": drop_input("spec.blockDeviceMappings.0.ebs.encrypted"),
    "encrypted 'false'": set_input("spec.blockDeviceMappings.0.ebs.encrypted", "false"),
    "no ebs": drop_input("spec.blockDeviceMappings.0.ebs"),
}


@pytest.mark.parametrize("mutation", list(VOLUMES_BROKEN.values()), ids=list(VOLUMES_BROKEN))
def test_unencrypted_volumes(checker: Checker, mutation: Mutation) -> None:
    assert _hits(checker, "karpenter-ec2nodeclass-encrypted-volumes", _class(mutation))


def test_a_second_unencrypted_volume_is_caught(checker: Checker) -> None:
    def add_data_volume(inputs: dict[str, Any]) -> None:
        inputs["spec"]["blockDeviceMappings"].append(
            {"deviceName": "/dev/xvdb", "ebs": {"volumeSize": "500Gi", "volumeType": "gp3"}}
        )

    messages = _hits(checker, "karpenter-ec2nodeclass-encrypted-volumes", _class(add_data_volume))
    assert len(messages) == 1 and "/dev/xvdb" in messages[0]


def test_latest_alias_is_advisory_in_dev_and_mandatory_in_staging_and_prod(checker: Checker) -> None:
    latest = _class(set_input("spec.amiSelectorTerms", [{"alias": "al2023@latest"}]))
    levels = {
        env: [
            v.enforcement
            for v in checker.run([k8s_provider(), latest], env).by_policy("karpenter-ami-pinned")
        ]
        for env in ("dev", "staging", "prod")
    }
    assert levels == {"dev": ["advisory"], "staging": ["mandatory"], "prod": ["mandatory"]}


def test_recommended_ssm_parameter_floats_like_latest(checker: Checker) -> None:
    parameter = "/aws/service/eks/optimized-ami/1.36/amazon-linux-2023/x86_64/standard/recommended/image_id"
    floating = _class(set_input("spec.amiSelectorTerms", [{"ssmParameter": parameter}]))
    assert _hits(checker, "karpenter-ami-pinned", floating)
    pinned = _class(set_input("spec.amiSelectorTerms", [{"id": "ami-0123456789abcdef0"}]))
    assert _hits(checker, "karpenter-ami-pinned", pinned) == []


def test_every_term_is_judged(checker: Checker) -> None:
    terms = [{"alias": "al2023@v20260930"}, {"alias": "bottlerocket@latest"}]
    messages = _hits(checker, "karpenter-ami-pinned", _class(set_input("spec.amiSelectorTerms", terms)))
    assert len(messages) == 1 and "bottlerocket@latest" in messages[0]


def test_graph_with_only_karpenter_objects_has_no_findings_in_dev(checker: Checker) -> None:
    assert checker.run(graph_of([k8s_provider(), *karpenter_objects()]), "dev").violations == []
