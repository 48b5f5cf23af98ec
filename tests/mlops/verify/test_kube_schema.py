"""Layer "schema": built-in objects validated strictly against the cluster version's Kubernetes schema."""

from __future__ import annotations

import pytest

from mlops_platform.mlops.graph import Graph, Resource, SourcePosition
from mlops_platform.mlops.verify import kube_schema
from mlops_platform.mlops.verify.model import Manifest, RenderedRelease, VerifyContext

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def _container(inputs):
    return inputs["spec"]["template"]["spec"]["containers"][0]


def test_schema_release_for_the_cluster_version():
    assert kube_schema.schema_version("1.34") == "1.34.0"
    assert kube_schema.schema_version("v1.33.4") == "1.33.0"
    with pytest.raises(kube_schema.UnsupportedVersion, match=r"not 1\.99"):
        kube_schema.schema_version("1.99")


def test_unsupported_version_is_a_finding_not_a_crash(stack_ctx):
    ctx = stack_ctx("dev")
    odd = VerifyContext(graph=ctx.graph, stack="dev", kube_version="1.99")
    assert [f.check for f in kube_schema.check(odd)] == ["unsupported-kube-version"]


def test_builtin_kinds_come_from_the_schemas():
    kinds = kube_schema.builtin_kinds("1.34.0")
    assert ("policy", "v1", "PodDisruptionBudget") in kinds
    assert ("", "v1", "ConfigMap") in kinds
    assert ("policy", "v1beta1", "PodDisruptionBudget") not in kinds  # removed in 1.25
    assert "monitoring.coreos.com" not in kube_schema.builtin_groups("1.34.0")


def test_the_shipped_platform_objects_pass(stack_ctx):
    for stack in ("dev", "prod"):
        assert kube_schema.check(stack_ctx(stack)) == []


def test_misspelt_container_field(planted, at):
    ctx, dep = planted(
        "prod", DEPLOYMENT, "mlflow-server", lambda i: _container(i).update(imagePullPolicyy="Always")
    )
    found = at(kube_schema.check(ctx), "unknown-field", dep)
    assert [f.path for f in found] == ["spec.template.spec.containers[0]"]
    assert "'imagePullPolicyy' was unexpected" in found[0].message
    assert found[0].object == "apps/v1 Deployment mlflow/mlflow"
    assert str(found[0].source).startswith("components/mlflow/model_registry.py:")


def test_wrong_type_and_missing_required_field(planted, at):
    def mutate(inputs):
        inputs["spec"]["replicas"] = "3"
        del _container(inputs)["name"]

    ctx, dep = planted("prod", DEPLOYMENT, "mlflow-server", mutate)
    findings = kube_schema.check(ctx)
    assert [f.path for f in at(findings, "invalid", dep)] == ["spec.replicas"]
    assert [f.path for f in at(findings, "missing-field", dep)] == ["spec.template.spec.containers[0]"]


def test_misspelt_field_in_an_int_or_string(planted, at):
    ctx, pdb = planted(
        "prod",
        "kubernetes:policy/v1:PodDisruptionBudget",
        "mlflow-pdb",
        lambda i: i["spec"].update(maxUnavailable=1.5),
    )
    found = at(kube_schema.check(ctx), "invalid", pdb)
    assert [f.path for f in found] == ["spec.maxUnavailable"]
    assert "1.5 is not one of the types string or integer" in found[0].message


def test_a_kind_the_cluster_version_does_not_serve():
    resource = Resource(
        urn="urn:pulumi:t::p::kubernetes:policy/v1beta1:PodDisruptionBudget::old",
        type="kubernetes:policy/v1beta1:PodDisruptionBudget",
        name="old",
        custom=True,
        inputs={"metadata": {"name": "old", "namespace": "default"}, "spec": {"maxUnavailable": 1}},
        source=SourcePosition("components/x.py", 3),
    )
    ctx = VerifyContext(graph=Graph("p", "t", [resource]), stack="t", kube_version="1.34")
    found = kube_schema.check(ctx)
    assert [(f.check, str(f.source)) for f in found] == [("unknown-kind", "components/x.py:3")]
    assert (
        "does not serve PodDisruptionBudget in policy/v1beta1; it serves PodDisruptionBudget as policy/v1"
        in (found[0].message)
    )


def test_chart_objects_are_validated_with_their_template(stack_ctx):
    ctx = stack_ctx("prod", with_charts=True)
    release = next(r for r in ctx.releases if r.chart == "external-secrets")
    deployment = next(m for m in release.manifests if m.kind == "Deployment")
    broken = Manifest(
        obj={**deployment.obj, "spec": {**deployment.obj["spec"], "replica": 1}},
        resource=release.resource,
        template=deployment.template,
    )
    found = kube_schema.validate(broken, "1.34.0")
    assert found is not None and [f.check for f in found] == ["unknown-field"]
    assert deployment.template in found[0].message
    assert found[0].source == release.resource.source


def test_the_shipped_charts_pass_the_kubernetes_schema(stack_ctx):
    """Every built-in object the pinned charts render with the platform's values, for dev and prod."""
    for stack in ("dev", "prod"):
        ctx = stack_ctx(stack, with_charts=True)
        assert len(ctx.chart_manifests()) > 100
        assert kube_schema.check(ctx) == []


def test_a_rendered_list_is_judged_item_by_item():
    """aws-load-balancer-controller renders its IngressClass inside a ``v1 List``; helm applies the items."""
    release = Resource(
        urn="urn:pulumi:t::p::kubernetes:helm.sh/v3:Release::lbc",
        type="kubernetes:helm.sh/v3:Release",
        name="lbc",
        custom=True,
        inputs={"namespace": "kube-system"},
        source=SourcePosition("components/ingress.py", 9),
    )
    items = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {"name": "alb"},
            "spec": {"controller": "ingress.k8s.aws/alb", "parameter": {}},
        }
    ]
    listed = Manifest(
        obj={"apiVersion": "v1", "kind": "List", "items": items},
        resource=release,
        template="lbc/templates/ingressclass.yaml",
    )
    rendered = RenderedRelease(release, "lbc", "1", "", "lbc", "kube-system", {}, None, [listed])
    ctx = VerifyContext(graph=Graph("p", "t", [release]), stack="t", kube_version="1.34", releases=[rendered])
    found = kube_schema.check(ctx)
    assert [(f.check, f.object, f.path) for f in found] == [
        ("unknown-field", "networking.k8s.io/v1 IngressClass alb", "spec")
    ]
