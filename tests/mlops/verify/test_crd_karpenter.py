"""Karpenter's NodePool and EC2NodeClass, as the platform renders them (plan/karpenter SPEC), against the
pinned karpenter-crd 1.14.1 CRDs: their schemas and their CEL (``x-kubernetes-validations``) rules."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from verify_kit import graph_of, project_helm, shared_charts

from mlops_platform.mlops.graph import Resource, SourcePosition
from mlops_platform.mlops.verify import crd
from mlops_platform.mlops.verify import helm as helm_layer
from mlops_platform.mlops.verify.model import Finding, VerifyContext
from mlops_platform.mlops.verify.objects import Unknown

NODE_CLASS_TYPE = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
NODE_POOL_TYPE = "kubernetes:karpenter.sh/v1:NodePool"
REPO = "oci://public.ecr.aws/karpenter"
CLUSTER = "mlops-prod-eks"

NODE_CLASS: dict[str, Any] = {
    "apiVersion": "karpenter.k8s.aws/v1",
    "kind": "EC2NodeClass",
    "metadata": {"name": "gpu"},
    "spec": {
        "amiSelectorTerms": [{"alias": "al2023@v20260930"}],
        "instanceProfile": "mlops-prod-karpenter-node",
        "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": CLUSTER}}],
        "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": CLUSTER}}],
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
                    "volumeSize": "300Gi",
                    "volumeType": "gp3",
                    "encrypted": True,
                    "kmsKeyID": "arn:aws:kms:eu-west-1:123456789012:key/0b3c6a4e-1111-2222-3333-444455556666",
                    "deleteOnTermination": True,
                },
            }
        ],
        "detailedMonitoring": True,
        "tags": {
            "environment": "prod",
            "owner": "ml-platform",
            "cost-center": "cc-1234",
            "data-classification": "internal",
            "managed-by": "pulumi",
        },
    },
}

NODE_POOL: dict[str, Any] = {
    "apiVersion": "karpenter.sh/v1",
    "kind": "NodePool",
    "metadata": {"name": "gpu"},
    "spec": {
        "template": {
            "metadata": {
                "labels": {
                    "mlops.platform/node-pool": "gpu",
                    "nvidia.com/gpu.present": "true",
                    "mlops.platform/accelerator": "nvidia",
                }
            },
            "spec": {
                "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "gpu"},
                "requirements": [
                    {
                        "key": "karpenter.k8s.aws/instance-family",
                        "operator": "In",
                        "values": ["g5", "g6", "g6e"],
                    },
                    {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
                    {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                    {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
                ],
                "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
                "expireAfter": "720h",
                "terminationGracePeriod": "48h",
            },
        },
        "limits": {"cpu": "192", "memory": "768Gi", "nvidia.com/gpu": "16"},
        "disruption": {
            "consolidationPolicy": "WhenEmpty",
            "consolidateAfter": "15m",
            "budgets": [{"nodes": "1"}],
        },
    },
}


def _resource(type_: str, name: str, obj: dict[str, Any], line: int) -> Resource:
    return Resource(
        urn=f"urn:pulumi:prod::mlops-platform::{type_}::{name}",
        type=type_,
        name=name,
        custom=True,
        inputs=copy.deepcopy(obj),
        source=SourcePosition("components/compute/karpenter.py", line),
    )


def _release(chart_form: str) -> Resource:
    inputs: dict[str, Any] = {
        "version": "1.14.1",
        "name": "karpenter-crd",
        "namespace": "karpenter",
        "values": {},
    }
    if chart_form == "repositoryOpts":
        inputs |= {"chart": "karpenter-crd", "repositoryOpts": {"repo": REPO}}
    else:
        inputs |= {"chart": f"{REPO}/karpenter-crd"}
    return Resource(
        urn="urn:pulumi:prod::mlops-platform::kubernetes:helm.sh/v3:Release::karpenter-crd",
        type="kubernetes:helm.sh/v3:Release",
        name="karpenter-crd",
        custom=True,
        inputs=inputs,
        source=SourcePosition("components/compute/karpenter.py", 10),
    )


Plan = Callable[..., tuple[VerifyContext, Resource, Resource]]


@pytest.fixture(scope="module")
def plan() -> Plan:
    """``plan(mutate_class, mutate_pool)``: the karpenter-crd release rendered by the helm layer (the
    real helm, the pinned chart) and the two custom resources, each changed by its ``mutate``."""
    rendered: dict[str, Any] = {}

    def make(
        mutate_class: Callable[[dict[str, Any]], Any] | None = None,
        mutate_pool: Callable[[dict[str, Any]], Any] | None = None,
        chart_form: str = "repositoryOpts",
    ) -> tuple[VerifyContext, Resource, Resource]:
        node_class = _resource(NODE_CLASS_TYPE, "gpu", NODE_CLASS, 40)
        node_pool = _resource(NODE_POOL_TYPE, "gpu", NODE_POOL, 80)
        for mutate, target in ((mutate_class, node_class), (mutate_pool, node_pool)):
            if mutate is not None:
                mutate(target.inputs)
        graph = graph_of(_release(chart_form), node_class, node_pool, kube="1.34", stack="prod")
        ctx = VerifyContext(graph=graph, stack="prod", kube_version="1.34")
        if chart_form not in rendered:
            assert helm_layer.render(ctx, project_helm(), helm_layer.LocalCharts(shared_charts())) == []
            rendered[chart_form] = ctx.releases
        ctx.releases = rendered[chart_form]
        return ctx, node_class, node_pool

    return make


def _found(findings: list[Finding], resource: Resource) -> list[tuple[str, str]]:
    return [(f.check, f.path) for f in findings if f.urn == resource.urn]


@pytest.mark.parametrize("chart_form", ["repositoryOpts", "oci-reference"])
def test_the_platform_node_class_and_pool_pass(plan, chart_form):
    ctx, _, _ = plan(chart_form=chart_form)
    crds = {m.obj["metadata"]["name"] for m in ctx.chart_manifests() if m.kind == "CustomResourceDefinition"}
    assert {"ec2nodeclasses.karpenter.k8s.aws", "nodepools.karpenter.sh"} <= crds
    assert crd.check(ctx) == []
    assert ctx.cel_rules is not None
    assert {(r.crd, r.version) for r in ctx.cel_rules.rules} == {
        ("ec2nodeclasses.karpenter.k8s.aws", "v1"),
        ("nodepools.karpenter.sh", "v1"),
    }
    # The two CRDs in use: 54 + 20 rules; NodePool's three transition rules are not evaluated.
    assert (len(ctx.cel_rules.rules), len(ctx.cel_rules.evaluated)) == (74, 71)


def test_values_unknown_at_preview_are_not_judged_by_their_placeholder(plan):
    def unknown(inputs):
        inputs["spec"]["instanceProfile"] = Unknown()
        inputs["spec"]["blockDeviceMappings"][0]["ebs"]["kmsKeyID"] = Unknown()
        inputs["spec"]["amiSelectorTerms"][0]["alias"] = Unknown()  # the placeholder matches no alias

    ctx, _, _ = plan(unknown)
    assert crd.check(ctx) == []


def _pool(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(inputs: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = inputs
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


REQ = "spec.template.spec.requirements"


@pytest.mark.parametrize(
    ("mutate", "expected", "says"),
    [
        (
            _pool(f"{REQ}.0", {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": []}),
            [("validation-rule", REQ)],
            "requirements with operator 'In' must have a value defined",
        ),
        (
            _pool(f"{REQ}.0", {"key": "karpenter.sh/nodepool", "operator": "In", "values": ["gpu"]}),
            [("validation-rule", f"{REQ}[0].key")],
            'label "karpenter.sh/nodepool" is restricted',
        ),
        (
            _pool(f"{REQ}.0", {"key": "karpenter.sh/unknown", "operator": "Exists"}),
            [("validation-rule", f"{REQ}[0].key")],
            'label domain "karpenter.sh" is restricted',
        ),
        (
            _pool(
                f"{REQ}.0", {"key": "karpenter.k8s.aws/instance-cpu", "operator": "Gt", "values": ["four"]}
            ),
            [("validation-rule", REQ)],
            "fails to evaluate",  # int('four'): the API server rejects the object
        ),
        (
            _pool(
                f"{REQ}.0", {"key": "karpenter.k8s.aws/instance-cpu", "operator": "Gt", "values": ["4", "8"]}
            ),
            [("validation-rule", REQ)],
            "must have a single positive integer value",
        ),
        (
            _pool(
                f"{REQ}.0",
                {
                    "key": "karpenter.k8s.aws/instance-family",
                    "operator": "In",
                    "values": ["g5"],
                    "minValues": 2,
                },
            ),
            [("validation-rule", REQ)],
            "must have at least that many values",
        ),
        (
            _pool("spec.template.metadata.labels", {"karpenter.k8s.aws/instance-gpu-count": "1"}),
            [],  # a well-known label of the karpenter.k8s.aws domain is allowed
            "",
        ),
        (
            _pool("spec.template.metadata.labels", {"karpenter.k8s.aws/mine": "1"}),
            [("validation-rule", "spec.template.metadata.labels")],
            'label domain "karpenter.k8s.aws" is restricted',
        ),
        (
            _pool(
                "spec.template.spec.taints.0",
                {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedul"},
            ),
            [("invalid", "spec.template.spec.taints[0].effect")],
            "is not one of",
        ),
        (
            _pool("spec.disruption.consolidateAfter", "15 minutes"),
            [("invalid", "spec.disruption.consolidateAfter")],
            "does not match",
        ),
        (
            _pool("spec.disruption.budgets", [{"nodes": "110%"}]),
            [("invalid", "spec.disruption.budgets[0].nodes")],
            "does not match",
        ),
        (
            _pool("spec.disruption.budgets", [{"nodes": "0", "schedule": "@daily"}]),
            [("validation-rule", "spec.disruption.budgets")],
            "'schedule' must be set with 'duration'",
        ),
        (
            _pool("spec.template.spec.expireAfter", "30d"),
            [("invalid", "spec.template.spec.expireAfter")],
            "does not match",
        ),
        (
            _pool("spec.template.spec.nodeClassRef.kind", ""),
            [("validation-rule", "spec.template.spec.nodeClassRef.kind")],
            "kind may not be empty",
        ),
        (
            _pool("spec.replicas", 2),
            [("validation-rule", "spec")],
            "only 'limits.nodes' is supported on static NodePools",
        ),
    ],
)
def test_node_pool_mutations(plan, mutate, expected, says):
    ctx, _, node_pool = plan(mutate_pool=mutate)
    findings = [f for f in crd.check(ctx) if f.urn == node_pool.urn]
    assert _found(findings, node_pool) == expected
    assert not findings or any(says in f.message for f in findings)
    for f in findings:
        assert str(f.source) == "components/compute/karpenter.py:80"
        assert f.message.endswith("(CRD nodepools.karpenter.sh v1)")


def _class(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return _pool(path, value)


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(inputs: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = inputs
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        del node[last]

    return mutate


@pytest.mark.parametrize(
    ("mutate", "expected", "says"),
    [
        (
            _drop("spec.instanceProfile"),
            [("validation-rule", "spec")],
            "must specify exactly one of ['role', 'instanceProfile']",
        ),
        (
            _class("spec.role", "KarpenterNodeRole"),
            [("validation-rule", "spec")],
            "exactly one of ['role', 'instanceProfile']",
        ),
        (
            _class("spec.instanceProfile", ""),
            [("validation-rule", "spec.instanceProfile")],
            "instanceProfile cannot be empty",
        ),
        (
            _class("spec.amiSelectorTerms", [{"alias": "al2023@v20260930", "tags": {"team": "ml"}}]),
            [("validation-rule", "spec.amiSelectorTerms")],
            "'alias' is mutually exclusive, cannot be set with a combination of other fields",
        ),
        (
            _class("spec.amiSelectorTerms", [{"alias": "al2023@v20260930"}, {"id": "ami-0123456789abcdef0"}]),
            [("validation-rule", "spec.amiSelectorTerms")],
            "cannot be set with a combination of other amiSelectorTerms",
        ),
        (
            _class("spec.amiSelectorTerms.0.alias", "ubuntu@latest"),
            [("validation-rule", "spec.amiSelectorTerms[0].alias")],
            "family is not supported",
        ),
        (
            _class("spec.amiSelectorTerms.0.alias", "al2023"),
            [("validation-rule", "spec.amiSelectorTerms[0].alias")],
            "improperly formatted",
        ),
        (
            _class("spec.amiSelectorTerms.0.alias", "windows2022@v20260930"),
            [("validation-rule", "spec.amiSelectorTerms[0].alias")],
            "windows families may only specify version 'latest'",
        ),
        (
            _class("spec.amiFamily", "Bottlerocket"),
            [("validation-rule", "spec")],
            "amiFamily must be 'AL2023' or 'Custom'",
        ),
        (
            _class("spec.amiSelectorTerms", [{"tags": {"team": "ml"}}]),
            [("validation-rule", "spec")],
            "must specify amiFamily",
        ),
        (
            _class("spec.tags", {**NODE_CLASS["spec"]["tags"], "kubernetes.io/cluster/x": "owned"}),
            [("validation-rule", "spec.tags")],
            "restricted tag matching kubernetes.io/cluster/",
        ),
        (
            _class("spec.tags", {"eks:eks-cluster-name": CLUSTER}),
            [("validation-rule", "spec.tags")],
            "restricted tag matching eks:eks-cluster-name",
        ),
        (
            _class("spec.subnetSelectorTerms", []),
            # and "!self.all(x, has(x.id) && has(x.tags))" is false on an empty list, as on the API server
            [("validation-rule", "spec.subnetSelectorTerms")] * 2,
            "subnetSelectorTerms cannot be empty",
        ),
        (
            _class("spec.subnetSelectorTerms", [{"tags": {"karpenter.sh/discovery": ""}}]),
            [("validation-rule", "spec.subnetSelectorTerms[0].tags")],
            "empty tag keys or values",
        ),
        (
            _class("spec.securityGroupSelectorTerms", [{}]),
            [("validation-rule", "spec.securityGroupSelectorTerms")],
            "expected at least one, got none",
        ),
        (
            _class("spec.metadataOptions.httpPutResponseHopLimit", 99),
            [("invalid", "spec.metadataOptions.httpPutResponseHopLimit")],
            "is greater than the maximum of 64",
        ),
        (
            _class("spec.metadataOptions.httpTokens", "optional-ish"),
            [("invalid", "spec.metadataOptions.httpTokens")],
            "is not one of",
        ),
        (
            _class(
                "spec.blockDeviceMappings",
                [
                    {**NODE_CLASS["spec"]["blockDeviceMappings"][0]},
                    {**NODE_CLASS["spec"]["blockDeviceMappings"][0], "deviceName": "/dev/xvdb"},
                ],
            ),
            [("validation-rule", "spec.blockDeviceMappings")],
            "must have only one blockDeviceMappings with rootVolume",
        ),
        (
            _drop("spec.blockDeviceMappings.0.ebs.volumeSize"),
            [("validation-rule", "spec.blockDeviceMappings[0].ebs")],
            "snapshotID or volumeSize must be defined",
        ),
        (
            _class("spec.blockDeviceMappings.0.ebs.volumeSize", "300 GiB"),
            [("invalid", "spec.blockDeviceMappings[0].ebs.volumeSize")],
            "does not match",
        ),
        (
            _class("spec.kubelet", {"systemReserved": {"cpu": "-1"}}),
            [("validation-rule", "spec.kubelet.systemReserved")],
            "cannot be a negative resource quantity",
        ),
        (
            _class("spec.kubelet", {"evictionSoft": {"memory.available": "5%"}}),
            [("validation-rule", "spec.kubelet")],
            # self.evictionSoftGracePeriod is not set: the API server's CEL errors ("no such key")
            "the rule fails to evaluate (no such member in mapping: 'evictionSoftGracePeriod')",
        ),
    ],
)
def test_node_class_mutations(plan, mutate, expected, says):
    ctx, node_class, _ = plan(mutate_class=mutate)
    findings = [f for f in crd.check(ctx) if f.urn == node_class.urn]
    assert _found(findings, node_class) == expected
    assert not findings or any(says in f.message for f in findings)
    for f in findings:
        assert str(f.source) == "components/compute/karpenter.py:40"
        assert f.message.endswith("(CRD ec2nodeclasses.karpenter.k8s.aws v1)")


def test_a_rule_that_fails_whatever_the_unknown_value_is_still_a_finding(plan):
    """Both role and instanceProfile set, the profile's name unknown at preview: the rule fails with any
    placeholder, so it is a finding."""

    def both(inputs):
        inputs["spec"]["instanceProfile"] = Unknown()
        inputs["spec"]["role"] = "KarpenterNodeRole"

    ctx, node_class, _ = plan(both)
    assert _found(crd.check(ctx), node_class) == [("validation-rule", "spec")]
