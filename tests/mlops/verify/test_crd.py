"""Layer "crd": custom resources against the openAPIV3Schema of their CRD's served version."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mlops_platform.mlops.graph import Graph, Resource, SourcePosition
from mlops_platform.mlops.verify import crd
from mlops_platform.mlops.verify.model import Manifest, VerifyContext
from mlops_platform.mlops.verify.objects import Unknown

EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
SERVICE_MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"


def test_the_shipped_platform_with_its_charts_passes(stack_ctx):
    """Our ExternalSecrets, SecretStore, Passwords, ServiceMonitor and PrometheusRule, and every custom
    resource the charts render (Prometheus, Alertmanager, their ServiceMonitors and rules), dev and prod."""
    for stack in ("dev", "prod"):
        ctx = stack_ctx(stack, with_charts=True)
        kinds = {m.kind for m in ctx.all_manifests()}
        assert {
            "ExternalSecret",
            "SecretStore",
            "Password",
            "ServiceMonitor",
            "PrometheusRule",
            "Prometheus",
        } <= kinds
        assert crd.check(ctx) == []


def test_without_the_charts_no_crd_is_installed(stack_ctx):
    found = crd.check(stack_ctx("dev"))
    assert {f.check for f in found} == {"crd-not-installed"}
    assert any(f.object.startswith("external-secrets.io/v1 ExternalSecret mlflow/") for f in found)


def test_invalid_external_secret_field(planted, at):
    def mutate(inputs):
        inputs["spec"]["refreshIntervall"] = inputs["spec"].pop("refreshInterval", "1h")
        inputs["spec"]["target"]["creationPolicy"] = "Always"

    ctx, es = planted("prod", EXTERNAL_SECRET, "mlflow-auth", mutate, with_charts=True)
    findings = crd.check(ctx)
    unknown = at(findings, "unknown-field", es)
    assert [f.path for f in unknown] == ["spec"]
    assert "'refreshIntervall' was unexpected" in unknown[0].message
    assert "CRD externalsecrets.external-secrets.io v1" in unknown[0].message
    assert str(unknown[0].source).startswith("components/mlflow/model_registry.py:")
    invalid = at(findings, "invalid", es)
    assert [f.path for f in invalid] == ["spec.target.creationPolicy"]


def test_service_monitor_of_a_version_not_served(planted, at):
    ctx, sm = planted(
        "prod",
        SERVICE_MONITOR,
        "mlflow",
        lambda i: i.update(apiVersion="monitoring.coreos.com/v1beta1"),
        with_charts=True,
    )
    found = at(crd.check(ctx), "version-not-served", sm)
    assert len(found) == 1
    assert "servicemonitors.monitoring.coreos.com does not serve v1beta1; served: v1" in found[0].message
    assert str(found[0].source).startswith("components/monitoring/observability.py:")


def test_service_monitor_endpoint_field_misspelt(planted, at):
    ctx, sm = planted(
        "prod",
        SERVICE_MONITOR,
        "mlflow",
        lambda i: i["spec"]["endpoints"][0].update(scrapeInterval="30s"),
        with_charts=True,
    )
    found = at(crd.check(ctx), "unknown-field", sm)
    assert [f.path for f in found] == ["spec.endpoints[0]"]


# --- structural-schema semantics on a small CRD -------------------------------------------------------

WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size", "mode"],
            "x-kubernetes-validations": [
                {"rule": "!has(self.count) || self.count <= 10", "message": "count is at most 10"},
                {"rule": "!has(self.count) || quantity('1').isInteger()"},  # Kubernetes-only library
                {"rule": "self.mode == oldSelf.mode"},  # a transition rule
            ],
            "properties": {
                "size": {"x-kubernetes-int-or-string": True},
                "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
                "note": {"type": "string", "nullable": True},
                "count": {"type": "integer", "minimum": 1},
                "every": {"type": "string", "format": "duration"},
                "at": {"type": "string", "format": "date-time"},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "x-kubernetes-preserve-unknown-fields": True,
                },
            },
        }
    },
}


def _widget_crd(served: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": served,
                    "storage": True,
                    "schema": {"openAPIV3Schema": WIDGET_SCHEMA},
                }
            ],
        },
    }


def _widget(spec: dict[str, Any], **meta: Any) -> Manifest:
    resource = Resource(
        urn="urn:pulumi:t::p::kubernetes:example.com/v1:Widget::w",
        type="kubernetes:example.com/v1:Widget",
        name="w",
        custom=True,
        source=SourcePosition("components/widget.py", 12),
    )
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", **meta}, "spec": spec}
    return Manifest(obj=obj, resource=resource)


def _errors(manifest: Manifest, crd_obj: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    return [(f.check, f.path) for f in crd.validate(manifest, crd_obj or _widget_crd(), "v1", "1.34")]


def test_a_valid_widget():
    assert (
        _errors(
            _widget({"size": 3, "mode": "b", "note": None, "every": "1h30m", "at": "2026-01-02T03:04:05Z"})
        )
        == []
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"size": 1.5}, [("invalid", "spec.size")]),  # int-or-string takes no number
        ({"size": "10%", "sizes": 1}, [("unknown-field", "spec")]),
        ({"size": 1, "count": 0}, [("invalid", "spec.count")]),
        ({"size": 1, "mode": "c"}, [("invalid", "spec.mode")]),
        ({"size": 1, "every": "P1D"}, [("invalid", "spec.every")]),
        ({"size": 1, "at": "yesterday"}, [("invalid", "spec.at")]),
        ({"size": 1, "tags": ["x", "x"]}, [("duplicate-item", "spec.tags[1]")]),
        ({"size": 1, "labels": {"a": 1}}, [("invalid", "spec.labels.a")]),
        ({"mode": "a"}, [("missing-field", "spec")]),
        ({"size": 1, "template": {"kind": "Pod", "spec": {}}}, [("missing-field", "spec.template")]),
        (
            {"size": 1, "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"nam": "x"}}},
            [("unknown-field", "spec.template.metadata")],
        ),
    ],
)
def test_structural_schema_semantics(spec, expected):
    assert _errors(_widget(spec)) == expected


def test_cel_rules_that_evaluate_to_false_are_findings():
    found = crd.validate(_widget({"size": 1, "count": 11}), _widget_crd(), "v1", "1.34")
    assert [(f.check, f.path) for f in found] == [("validation-rule", "spec")]
    assert "count is at most 10" in found[0].message
    # the Kubernetes-only quantity() rule and the oldSelf rule are not evaluated: listed in ctx.cel_rules, not findings
    assert crd.rule_holds("quantity('1').isInteger()", {}) is None
    assert crd.rule_holds("self.mode == oldSelf.mode", {"mode": "a"}) is None
    assert crd.rule_holds("self.mode == 'a'", {"mode": "a"}) is True


def test_defaults_prune_and_preserve():
    # "mode" is required but defaulted; a null "count" (not nullable) is pruned; "free" keeps anything.
    assert _errors(_widget({"size": "1", "count": None, "free": {"any": {"thing": [1]}}})) == []


def test_object_metadata_is_object_meta():
    assert _errors(_widget({"size": 1}, labelz={"a": "b"})) == [("unknown-field", "metadata")]


def test_unknown_values_get_a_typed_placeholder():
    assert _errors(_widget({"size": Unknown(), "mode": Unknown(), "count": Unknown(), "at": Unknown()})) == []


def _ctx(manifest: Manifest, crds: list[dict[str, Any]]) -> VerifyContext:
    crd_resources = []
    for i, c in enumerate(crds):
        crd_resources.append(
            Resource(
                urn=f"urn:pulumi:t::p::kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition::c{i}",
                type="kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
                name=f"c{i}",
                custom=True,
                inputs=copy.deepcopy(c),
            )
        )
    graph = Graph("p", "t", [*crd_resources, manifest.resource])
    manifest.resource.inputs = manifest.obj
    return VerifyContext(graph=graph, stack="t", kube_version="1.34")


def test_a_custom_resource_whose_crd_nobody_installs():
    manifest = _widget({"size": 1})
    found = crd.check(_ctx(manifest, []))
    assert [(f.check, str(f.source)) for f in found] == [("crd-not-installed", "components/widget.py:12")]


def test_a_version_the_crd_does_not_serve():
    manifest = _widget({"size": 1})
    found = crd.check(_ctx(manifest, [_widget_crd(served=False)]))
    assert [(f.check, str(f.source)) for f in found] == [("version-not-served", "components/widget.py:12")]
    assert crd.check(_ctx(_widget({"size": 1}), [_widget_crd()])) == []


NODE_POOL = {
    "apiVersion": "karpenter.sh/v1",
    "kind": "NodePool",
    "metadata": {"name": "gpu"},
    "spec": {
        "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "5m"},
        "limits": {"nvidia.com/gpu": 8},
        "template": {
            "metadata": {"labels": {"mlops.platform/node-group": "gpu"}},
            "spec": {
                "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "gpu"},
                "requirements": [
                    {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["g6"]}
                ],
                "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
            },
        },
    },
}


def test_a_custom_resource_to_come_karpenter_node_pool(chart_release):
    """The layer judges any CRD a pinned chart renders: Karpenter's NodePool from karpenter-crd 1.14.1."""
    release = Resource(
        urn="urn:pulumi:t::p::kubernetes:helm.sh/v3:Release::karpenter-crd",
        type="kubernetes:helm.sh/v3:Release",
        name="karpenter-crd",
        custom=True,
        inputs={"namespace": "kube-system"},
        source=SourcePosition("components/autoscaling.py", 5),
    )
    rendered = chart_release(release, "karpenter-crd-1.14.1", {}, "kube-system")
    pool = Resource(
        urn="urn:pulumi:t::p::kubernetes:karpenter.sh/v1:NodePool::gpu",
        type="kubernetes:karpenter.sh/v1:NodePool",
        name="gpu",
        custom=True,
        inputs=copy.deepcopy(NODE_POOL),
        source=SourcePosition("components/autoscaling.py", 40),
    )
    ctx = VerifyContext(
        graph=Graph("p", "t", [release, pool]), stack="t", kube_version="1.34", releases=[rendered]
    )
    assert crd.check(ctx) == []
    pool.inputs["spec"]["disruption"]["consolidationPolicy"] = "Sometimes"
    pool.inputs["spec"]["template"]["spec"]["taints"][0]["effect"] = "NoScheduleNow"
    found = crd.check(ctx)
    assert [(f.check, f.path, str(f.source)) for f in found] == [
        ("invalid", "spec.disruption.consolidationPolicy", "components/autoscaling.py:40"),
        ("invalid", "spec.template.spec.taints[0].effect", "components/autoscaling.py:40"),
    ]
    # Karpenter's CEL rules: a restricted label and an 'In' requirement without values
    pool.inputs = copy.deepcopy(NODE_POOL)
    pool.inputs["spec"]["template"]["spec"]["requirements"].append(
        {"key": "kubernetes.io/hostname", "operator": "In", "values": []}
    )
    found = crd.check(ctx)
    assert [(f.check, f.path) for f in found] == [
        ("validation-rule", "spec.template.spec.requirements"),
        ("validation-rule", "spec.template.spec.requirements[1].key"),
    ]
    assert 'label "kubernetes.io/hostname" is restricted' in found[1].message
