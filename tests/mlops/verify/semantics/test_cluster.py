"""Layer "semantics", the checks across objects (namespaces, ports and selectors of one object against
others): one planted defect per check, each found at the resource that made it (file:line)."""

from __future__ import annotations

from mlops_platform.mlops.graph import Graph, Resource, SourcePosition
from mlops_platform.mlops.verify import semantics
from mlops_platform.mlops.verify.model import Manifest, RenderedRelease, VerifyContext
from mlops_platform.mlops.verify.semantics import cluster

SERVICE = "kubernetes:core/v1:Service"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def test_service_target_port_that_no_selected_pod_declares(planted, at):
    ctx, svc = planted(
        "prod", SERVICE, "mlflow-service", lambda i: i["spec"]["ports"][0].update(targetPort="web")
    )
    found = at(semantics.check(ctx), "service-target-port", svc)
    assert [f.path for f in found] == ["spec.ports[0].targetPort"]
    assert "apps/v1 Deployment mlflow/mlflow" in found[0].message


def test_namespace_nobody_creates(planted, at):
    ctx, svc = planted(
        "prod",
        "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
        "mlflow",
        lambda i: i["metadata"].update(namespace="mlfow"),
    )
    found = at(semantics.check(ctx), "namespace-missing", svc)
    assert [f.path for f in found] == ["metadata.namespace"]
    assert "'mlfow'" in found[0].message


def test_created_namespaces_include_releases_with_create_namespace_and_kubernetes_own(stack_ctx):
    ctx = stack_ctx("prod")
    created = semantics.created_namespaces(ctx)
    assert {"mlflow", "monitoring", "external-secrets", "kube-system", "default"} <= created


def test_chart_objects_land_in_the_release_namespace():
    """A chart object without metadata.namespace is in the release's namespace (the release is judged)."""
    release = Resource(
        urn="urn:pulumi:t::p::kubernetes:helm.sh/v3:Release::r",
        type="kubernetes:helm.sh/v3:Release",
        name="r",
        custom=True,
        inputs={"namespace": "tools", "createNamespace": False},
        source=SourcePosition("components/x.py", 7),
    )
    manifest = Manifest(
        obj={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, resource=release
    )
    rendered = RenderedRelease(release, "c", "1", "", "r", "tools", {}, None, [manifest])
    from mlops_platform.mlops.graph import Graph

    ctx = VerifyContext(graph=Graph("p", "t", [release]), stack="t", kube_version="1.34", releases=[rendered])
    found = semantics.check(ctx)
    assert [(f.check, str(f.source), f.message[:17]) for f in found] == [
        ("namespace-missing", "components/x.py:7", "namespace 'tools'")
    ]
    release.inputs["createNamespace"] = True
    assert semantics.check(ctx) == []


def test_service_monitor_port_that_no_selected_service_names(planted, at):
    ctx, sm = planted(
        "prod",
        "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
        "mlflow",
        lambda i: i["spec"]["endpoints"][0].update(port="scrape"),
    )
    found = at(semantics.check(ctx), "monitor-port", sm)
    assert [f.path for f in found] == ["spec.endpoints[0].port"]
    # The Service names its API port and the metrics exporter's, neither of them 'scrape'.
    assert "v1 Service mlflow/mlflow" in found[0].message and "['http', 'metrics']" in found[0].message


def test_pod_monitor_port_that_no_selected_container_declares(planted, at):
    def mutate(inputs):
        inputs["kind"] = "PodMonitor"
        endpoints = inputs["spec"].pop("endpoints")
        inputs["spec"]["podMetricsEndpoints"] = [{"port": "scrape", "path": endpoints[0]["path"]}]

    ctx, pm = planted("prod", "kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "mlflow", mutate)
    found = at(semantics.check(ctx), "monitor-port", pm)
    assert [f.path for f in found] == ["spec.podMetricsEndpoints[0].port"]
    assert (
        "apps/v1 Deployment mlflow/mlflow" in found[0].message and "['http', 'metrics']" in found[0].message
    )


def test_an_object_that_does_not_wait_for_its_namespace(stack_ctx):
    import copy as _copy

    base = stack_ctx("prod")
    graph = _copy.deepcopy(base.graph)
    monitor = next(r for r in graph.resources if r.type.endswith(":ServiceMonitor") and "mlflow" in r.urn)
    monitor.dependencies, monitor.property_dependencies = [], {}
    ctx = VerifyContext(graph=graph, stack="prod", kube_version=base.kube_version)
    found = [f for f in semantics.check(ctx) if f.check == "namespace-order"]
    assert [(f.urn, f.path) for f in found] == [(monitor.urn, "metadata.namespace")]
    assert "'mlflow'" in found[0].message and str(found[0].source).startswith(
        "components/monitoring/observability.py:"
    )


def _scoped_ctx(scope: str, namespace: str | None) -> tuple[VerifyContext, Resource]:
    from mlops_platform.mlops.graph import Graph

    crd_obj = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": scope,
            "names": {"kind": "Gadget", "plural": "gadgets"},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }
    crd_res = Resource(
        urn="urn:pulumi:t::p::kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition::g",
        type="kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
        name="g",
        custom=True,
        inputs=crd_obj,
    )
    provider = Resource(
        urn="urn:pulumi:t::p::pulumi:providers:kubernetes::k",
        type="pulumi:providers:kubernetes",
        name="k",
        custom=True,
        inputs={"namespace": "nowhere"},
    )
    meta = {"name": "g1", **({"namespace": namespace} if namespace else {})}
    gadget = Resource(
        urn="urn:pulumi:t::p::kubernetes:example.com/v1:Gadget::g1",
        type="kubernetes:example.com/v1:Gadget",
        name="g1",
        custom=True,
        provider=provider.urn,
        inputs={"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": meta},
        source=SourcePosition("components/gadget.py", 8),
    )
    graph = Graph("p", "t", [provider, crd_res, gadget])
    return VerifyContext(graph=graph, stack="t", kube_version="1.34"), gadget


def test_scope_comes_from_the_crd_and_the_namespace_default_from_the_provider(at):
    ctx, gadget = _scoped_ctx("Namespaced", None)
    found = at(semantics.check(ctx), "namespace-missing", gadget)
    assert len(found) == 1 and "'nowhere'" in found[0].message  # the provider's default namespace
    ctx, gadget = _scoped_ctx("Cluster", None)
    assert semantics.check(ctx) == []
    ctx, gadget = _scoped_ctx("Namespaced", "kube-system")
    assert semantics.check(ctx) == []


def test_network_policy_ingress_port_name_the_pods_do_not_declare(planted, at):
    ctx, policy = planted(
        "prod",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "mlflow-allow-clients",
        lambda i: i["spec"]["ingress"][0]["ports"][0].update(port="scrape"),  # no container declares it
    )
    found = at(semantics.check(ctx), "network-policy-port", policy)
    assert [f.path for f in found] == ["spec.ingress[0].ports"]
    assert "apps/v1 Deployment mlflow/mlflow" in found[0].message and "allows nothing" in found[0].message
    ctx, policy = planted(
        "prod",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "mlflow-allow-clients",
        lambda i: i["spec"]["ingress"][0]["ports"].extend([{"protocol": "TCP", "port": "https"}]),
    )
    assert at(semantics.check(ctx), "network-policy-port", policy) == []  # 5000 still resolves


def test_a_selector_that_selects_nothing(planted, at):
    """A misspelt selector leaves a Service without endpoints, a NetworkPolicy applying to nothing, a
    ServiceMonitor scraping nothing: before, each was skipped as "its pods come from elsewhere"."""
    ctx, svc = planted(
        "prod",
        SERVICE,
        "mlflow-service",
        lambda i: i["spec"]["selector"].update({"app.kubernetes.io/name": "mlfow"}),
        with_charts=True,
    )
    (found,) = at(semantics.check(ctx), "selects-nothing", svc)
    assert found.path == "spec.selector" and "no endpoints" in found.message
    ctx, policy = planted(
        "prod",
        NETWORK_POLICY,
        "mlflow-allow-clients",
        lambda i: i["spec"]["podSelector"]["matchLabels"].update({"app.kubernetes.io/name": "mlfow"}),
        with_charts=True,
    )
    (found,) = at(semantics.check(ctx), "selects-nothing", policy)
    assert found.path == "spec.podSelector" and "namespace 'mlflow'" in found.message
    ctx, monitor = planted(
        "prod",
        "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
        "prod-mlflow",
        lambda i: i["spec"]["selector"]["matchLabels"].update({"app.kubernetes.io/name": "mlfow"}),
        with_charts=True,
    )
    (found,) = at(semantics.check(ctx), "selects-nothing", monitor)
    assert found.path == "spec.selector" and "scrapes nothing" in found.message


def test_pods_the_prometheus_operator_creates_are_selectable(planted, at, stack_ctx):
    """The platform's NetworkPolicy for Prometheus selects the pods the operator creates for the chart's
    Prometheus resource (no manifest renders them): it passes, and a wrong name in it is a finding."""
    ctx = stack_ctx("prod", True)
    assert [f for f in semantics.check(ctx) if f.check == "selects-nothing"] == []
    made, _ = cluster._operator_objects(ctx, semantics.manifests_of(ctx))
    assert ("monitoring", "prometheus") in {(ns, labels["app.kubernetes.io/name"]) for ns, labels in made}
    ctx, policy = planted(
        "prod",
        NETWORK_POLICY,
        "netpol-prometheus",
        lambda i: i["spec"]["podSelector"]["matchLabels"].update(
            {"operator.prometheus.io/name": "prometheus"}
        ),
        with_charts=True,
    )
    (found,) = at(semantics.check(ctx), "selects-nothing", policy)
    assert "namespace 'monitoring'" in found.message


def test_kubernetes_own_namespaces_are_not_judged(stack_ctx):
    """kube-prometheus-stack's coredns Service selects EKS's coredns pods in kube-system, which nothing of
    the platform renders: Kubernetes' own namespaces are left alone."""
    ctx = stack_ctx("prod", True)
    manifests = semantics.manifests_of(ctx)
    (coredns,) = [m for m in manifests if m.kind == "Service" and m.name == "kube-prometheus-stack-coredns"]
    assert semantics.effective_namespace(ctx, coredns) == "kube-system"
    pods = [semantics.pod_spec(m.obj) for m in manifests]
    selector = coredns.obj["spec"]["selector"]
    assert not any(p and semantics.map_selector_matches(selector, p[2]) for p in pods)
    assert not [f for f in semantics.check(ctx) if f.object == coredns.ref()]


def test_nothing_selects_nothing_while_a_release_is_not_rendered(planted, at):
    """Without the charts' pods (a release helm did not render) a selector cannot be judged."""
    ctx, svc = planted(
        "prod",
        SERVICE,
        "mlflow-service",
        lambda i: i["spec"]["selector"].update({"app.kubernetes.io/name": "x"}),
        with_charts=True,
    )
    assert at(semantics.check(ctx), "selects-nothing", svc)
    graph = ctx.graph
    graph.resources.append(
        Resource(
            urn="urn:pulumi:prod::p::kubernetes:helm.sh/v3:Release::unrendered",
            type="kubernetes:helm.sh/v3:Release",
            name="unrendered",
            custom=True,
            inputs={"chart": "x", "version": "1.0.0", "namespace": "mlflow"},
            source=SourcePosition("components/planted.py", 1),
        )
    )
    assert at(semantics.check(ctx), "selects-nothing", svc) == []


# ---- the pods the Argo Workflows controller creates --------------------------------------------------------


def _plain(type_: str, name: str, inputs: dict, line: int) -> Resource:
    return Resource(
        urn=f"urn:pulumi:test::p::{type_}::{name}",
        type=type_,
        name=name,
        custom=True,
        inputs=inputs,
        source=SourcePosition("components/planted.py", line),
    )


def _argo_ctx(kind: str, selector: dict) -> tuple[VerifyContext, Resource]:
    workflow = {
        "podMetadata": {"labels": {"app.kubernetes.io/part-of": "training"}},
        "templates": [
            {"name": "main", "dag": {"tasks": [{"name": "t", "template": "train"}]}},
            {
                "name": "train",
                "metadata": {"labels": {"mlops.platform/step": "train"}},
                "container": {"image": "x"},
            },
        ],
    }
    spec = {"schedules": ["0 3 * * *"], "workflowSpec": workflow} if kind == "CronWorkflow" else workflow
    argo = _plain(
        f"kubernetes:argoproj.io/v1alpha1:{kind}",
        "train",
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": kind,
            "metadata": {"name": "train", "namespace": "pipelines"},
            "spec": spec,
        },
        2,
    )
    namespace = _plain("kubernetes:core/v1:Namespace", "ns", {"metadata": {"name": "pipelines"}}, 1)
    policy = _plain(
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "allow-train-egress",
        {
            "metadata": {"name": "allow-train-egress", "namespace": "pipelines"},
            "spec": {
                "podSelector": selector,
                "policyTypes": ["Egress"],
                "egress": [{"ports": [{"port": 443}]}],
            },
        },
        3,
    )
    graph = Graph(project="p", stack="test", resources=[namespace, argo, policy])
    return VerifyContext(graph=graph, stack="test", kube_version="1.34"), policy


def test_the_pods_argo_creates_for_a_workflow_are_selectable(at):
    """A NetworkPolicy for a pipeline's pods selects what the Argo controller will label them with (the
    workflow's podMetadata, the template's metadata, its own labels); a label no pod gets is a finding."""
    for kind in ("Workflow", "WorkflowTemplate", "CronWorkflow"):
        for selector in (
            {"matchLabels": {"app.kubernetes.io/part-of": "training", "mlops.platform/step": "train"}},
            {"matchExpressions": [{"key": "workflows.argoproj.io/workflow", "operator": "Exists"}]},
        ):
            ctx, policy = _argo_ctx(kind, selector)
            assert at(semantics.check(ctx), "selects-nothing", policy) == [], (kind, selector)
        ctx, policy = _argo_ctx(kind, {"matchLabels": {"mlops.platform/step": "evaluate"}})
        (found,) = at(semantics.check(ctx), "selects-nothing", policy)
        assert "namespace 'pipelines'" in found.message
    # The dag template runs no pod: only the train template's pod is made.
    ctx, _ = _argo_ctx("WorkflowTemplate", {})
    made, services = cluster._operator_objects(ctx, semantics.manifests_of(ctx))
    assert made == [
        (
            "pipelines",
            {
                "app.kubernetes.io/part-of": "training",
                "mlops.platform/step": "train",
                "workflows.argoproj.io/workflow": "train",
                "workflows.argoproj.io/completed": "false",
            },
        )
    ]
    assert services == []  # Argo creates no Service for a workflow
