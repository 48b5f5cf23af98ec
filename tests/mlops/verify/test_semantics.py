"""Layer "semantics": one planted defect per check, each found at the resource that made it (file:line)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mlops_platform.mlops.graph import Resource, SourcePosition
from mlops_platform.mlops.verify import semantics
from mlops_platform.mlops.verify.model import Manifest, RenderedRelease, VerifyContext

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
SERVICE = "kubernetes:core/v1:Service"


def _pod(inputs):
    return inputs["spec"]["template"]["spec"]


def _container(inputs):
    return _pod(inputs)["containers"][0]


def test_the_shipped_platform_objects_pass(stack_ctx):
    for stack in ("dev", "prod"):
        assert semantics.check(stack_ctx(stack)) == []


def test_pdb_with_both_fields(planted, at):
    ctx, pdb = planted("prod", PDB, "mlflow-pdb", lambda i: i["spec"].update(minAvailable=2))
    found = at(semantics.check(ctx), "pdb-both-set", pdb)
    assert len(found) == 1
    assert found[0].path == "spec"
    assert "minAvailable=2, maxUnavailable=1" in found[0].message
    assert str(found[0].source).startswith("components/mlflow/model_registry.py:")


def test_pdb_empty_max_unavailable_next_to_min_available(planted, at):
    """Defect 1 of the issue, as our own object: ``maxUnavailable: ""`` counts as set and is invalid."""
    ctx, pdb = planted(
        "prod", PDB, "mlflow-pdb", lambda i: i["spec"].update(minAvailable=1, maxUnavailable="")
    )
    findings = semantics.check(ctx)
    assert len(at(findings, "pdb-both-set", pdb)) == 1
    empty = at(findings, "int-or-string", pdb)
    assert [f.path for f in empty] == ["spec.maxUnavailable"]
    assert "empty string" in empty[0].message


@pytest.mark.parametrize("value", ["", "1", "ten%", -1])
def test_rolling_update_int_or_string(planted, at, value):
    ctx, dep = planted(
        "prod",
        DEPLOYMENT,
        "mlflow-server",
        lambda i: i["spec"]["strategy"]["rollingUpdate"].update(maxSurge=value),
    )
    found = at(semantics.check(ctx), "int-or-string", dep)
    assert [f.path for f in found] == ["spec.strategy.rollingUpdate.maxSurge"]


def test_selector_that_misses_the_template_labels(planted, at):
    def mutate(inputs):
        inputs["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] = "mlflow-server"

    ctx, dep = planted("prod", DEPLOYMENT, "mlflow-server", mutate)
    found = at(semantics.check(ctx), "selector-mismatch", dep)
    assert [f.path for f in found] == ["spec.selector"]
    assert "does not match the pod template's labels" in found[0].message


def test_selector_expressions_are_evaluated(planted, at):
    def mutate(inputs):
        inputs["spec"]["selector"] = {
            "matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["mlflow"]}]
        }

    ctx, dep = planted("prod", DEPLOYMENT, "mlflow-server", mutate)
    assert len(at(semantics.check(ctx), "selector-mismatch", dep)) == 1


def test_named_probe_port_not_declared(planted, at):
    ctx, dep = planted(
        "prod",
        DEPLOYMENT,
        "mlflow-server",
        lambda i: _container(i)["livenessProbe"]["httpGet"].update(port="metrics"),
    )
    found = at(semantics.check(ctx), "probe-port", dep)
    assert [f.path for f in found] == ["spec.template.spec.containers[0].livenessProbe.httpGet.port"]
    assert "'metrics'" in found[0].message and "['http']" in found[0].message


def test_service_target_port_that_no_selected_pod_declares(planted, at):
    ctx, svc = planted(
        "prod", SERVICE, "mlflow-service", lambda i: i["spec"]["ports"][0].update(targetPort="web")
    )
    found = at(semantics.check(ctx), "service-target-port", svc)
    assert [f.path for f in found] == ["spec.ports[0].targetPort"]
    assert "apps/v1 Deployment mlflow/mlflow" in found[0].message


def test_an_all_digit_string_port_is_a_port_name_the_api_server_rejects(planted, at):
    ctx, dep = planted(
        "prod",
        DEPLOYMENT,
        "mlflow-server",
        lambda i: _container(i)["livenessProbe"]["httpGet"].update(port="5000"),
    )
    (found,) = at(semantics.check(ctx), "port-name-digits", dep)
    assert found.path == "spec.template.spec.containers[0].livenessProbe.httpGet.port"
    assert "'5000'" in found.message and "write the number 5000" in found.message
    ctx, svc = planted(
        "prod", SERVICE, "mlflow-service", lambda i: i["spec"]["ports"][0].update(targetPort="5000")
    )
    assert [f.path for f in at(semantics.check(ctx), "port-name-digits", svc)] == ["spec.ports[0].targetPort"]
    ctx, policy = planted(
        "prod",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "mlflow-allow-clients",
        lambda i: i["spec"]["ingress"][0]["ports"][0].update(port="5000"),
    )
    found = at(semantics.check(ctx), "port-name-digits", policy)
    assert [f.path for f in found] == ["spec.ingress[0].ports[0].port"]


def test_duplicate_container_names(planted, at):
    def mutate(inputs):
        pod = _pod(inputs)
        pod["initContainers"] = [{"name": pod["containers"][0]["name"], "image": "busybox"}]

    ctx, dep = planted("prod", DEPLOYMENT, "mlflow-server", mutate)
    found = at(semantics.check(ctx), "duplicate-container", dep)
    assert [f.path for f in found] == ["spec.template.spec.containers[0].name"]


def test_duplicate_port_names_in_a_pod(planted, at):
    appended: list[int] = []

    def mutate(inputs):
        pod = _pod(inputs)
        appended.append(len(pod["containers"]))  # the server and its metrics exporter come first
        pod["containers"].append(
            {"name": "sidecar", "image": "busybox", "ports": [{"name": "http", "containerPort": 8080}]}
        )

    ctx, dep = planted("prod", DEPLOYMENT, "mlflow-server", mutate)
    found = at(semantics.check(ctx), "duplicate-port", dep)
    assert [f.path for f in found] == [f"spec.template.spec.containers[{appended[0]}].ports[0].name"]


def test_bad_quantity(planted, at):
    ctx, dep = planted(
        "prod",
        DEPLOYMENT,
        "mlflow-server",
        lambda i: _container(i)["resources"]["limits"].update(memory="1.5Gi "),
    )
    found = at(semantics.check(ctx), "quantity", dep)
    assert [f.path for f in found] == ["spec.template.spec.containers[0].resources.limits.memory"]
    assert "'1.5Gi '" in found[0].message


def test_request_above_limit(planted, at):
    ctx, dep = planted(
        "prod", DEPLOYMENT, "mlflow-server", lambda i: _container(i)["resources"]["requests"].update(cpu="3")
    )
    found = at(semantics.check(ctx), "request-over-limit", dep)
    assert [f.path for f in found] == ["spec.template.spec.containers[0].resources.requests.cpu"]


def test_empty_dir_size_limit(planted, at):
    def mutate(inputs):
        _pod(inputs)["volumes"][0]["emptyDir"] = {"sizeLimit": "1 Gi"}

    ctx, dep = planted("prod", DEPLOYMENT, "mlflow-server", mutate)
    found = at(semantics.check(ctx), "quantity", dep)
    assert [f.path for f in found] == ["spec.template.spec.volumes[0].emptyDir.sizeLimit"]


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


def test_label_value_too_long_and_invalid_names(planted, at):
    def mutate(inputs):
        inputs["metadata"]["labels"]["app.kubernetes.io/part-of"] = "x" * 64
        _container(inputs)["name"] = "MLflow"
        _container(inputs)["ports"][0]["name"] = "http-tracking-server"

    ctx, dep = planted("prod", DEPLOYMENT, "mlflow-server", mutate)
    findings = semantics.check(ctx)
    assert [f.path for f in at(findings, "invalid-label", dep)] == [
        "metadata.labels.app.kubernetes.io/part-of"
    ]
    assert sorted(f.path for f in at(findings, "invalid-name", dep)) == [
        "spec.template.spec.containers[0].name",
        "spec.template.spec.containers[0].ports[0].name",
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", Decimal(1)),
        ("1.5Gi", Decimal("1.5") * 2**30),
        ("500m", Decimal("0.5")),
        (".5", Decimal("0.5")),
        ("5.", Decimal(5)),
        ("5.Mi", Decimal(5 * 2**20)),
        ("+1k", Decimal(1000)),
        ("-1", Decimal(-1)),
        ("1e3", Decimal(1000)),
        ("1E-2", Decimal("0.01")),
        ("2E", Decimal(2 * 10**18)),
        (3, Decimal(3)),
        (0.5, Decimal("0.5")),
    ],
)
def test_quantity_grammar_accepts(text, value):
    assert semantics.parse_quantity(text) == value


@pytest.mark.parametrize(
    "text", ["1.5Gi ", " 1", "", "Gi", "1gi", "1.5.5", "1 Gi", "1e", "1Ki3", "1KiB", ".", True]
)
def test_quantity_grammar_rejects(text):
    assert semantics.parse_quantity(text) is None


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


def test_kube_prometheus_stack_pdb_block_as_monitoring_renders_it(chart_release, at):
    """Defect 1 of the issue in the chart: the values `_pdb` passes render both fields into the PDB."""
    release = Resource(
        urn="urn:pulumi:t::p::kubernetes:helm.sh/v3:Release::kps",
        type="kubernetes:helm.sh/v3:Release",
        name="kps",
        custom=True,
        inputs={"namespace": "monitoring", "createNamespace": True},
        source=SourcePosition("components/monitoring/monitoring.py", 991),
    )
    values = {
        "prometheus": {"podDisruptionBudget": {"enabled": True, "minAvailable": 1, "maxUnavailable": ""}},
        "grafana": {"enabled": False},
        "crds": {"enabled": False},
    }
    rendered = chart_release(release, "kube-prometheus-stack-88.5.3", values, "monitoring")
    from mlops_platform.mlops.graph import Graph

    ctx = VerifyContext(graph=Graph("p", "t", [release]), stack="t", kube_version="1.34", releases=[rendered])
    findings = semantics.check(ctx)
    both = at(findings, "pdb-both-set", release)
    assert [f.object for f in both] == [
        "policy/v1 PodDisruptionBudget monitoring/test-kube-prometheus-stack-prometheus"
    ]
    assert "templates/prometheus/podDisruptionBudget.yaml" in both[0].message
    assert [f.path for f in at(findings, "int-or-string", release)] == ["spec.maxUnavailable"]


def _passes_both_pdb_fields(values) -> list[str]:
    """The components of kube-prometheus-stack values whose podDisruptionBudget sets both fields."""
    return sorted(
        key
        for key, sub in values.items()
        if isinstance(sub, dict)
        and isinstance(sub.get("podDisruptionBudget"), dict)
        and sub["podDisruptionBudget"].get("enabled")
        and sub["podDisruptionBudget"].get("minAvailable") is not None
        and sub["podDisruptionBudget"].get("maxUnavailable") is not None
    )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_shipped_platform_with_its_charts(stack_ctx, stack):
    """Every semantics finding over the platform and its rendered charts is defect 1 of the issue (the PDB
    block of kube-prometheus-stack, components/monitoring/monitoring.py `_pdb`), and only while the values still pass
    both fields: once the values are fixed this expects no finding at all."""
    ctx = stack_ctx(stack, with_charts=True)
    release = next(r for r in ctx.releases if r.chart == "kube-prometheus-stack")
    expected = {
        f"policy/v1 PodDisruptionBudget monitoring/kube-prometheus-stack-{component}"
        for component in _passes_both_pdb_fields(release.values)
    }
    findings = semantics.check(ctx)
    assert {f.object for f in findings} == expected
    assert all(
        f.check in ("pdb-both-set", "int-or-string") and f.urn == release.resource.urn for f in findings
    )
    if stack == "prod":
        assert expected == {
            "policy/v1 PodDisruptionBudget monitoring/kube-prometheus-stack-alertmanager",
            "policy/v1 PodDisruptionBudget monitoring/kube-prometheus-stack-prometheus",
        } or not _passes_both_pdb_fields(release.values)


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


def test_config_map_keys(planted, at):
    def mutate(inputs):
        inputs["data"]["bad key.json"] = "{}"
        inputs["binaryData"] = {next(iter(inputs["data"])): "e30="}

    ctx, cm = planted("prod", "kubernetes:core/v1:ConfigMap", "dashboard", mutate)
    findings = semantics.check(ctx)
    assert [f.path for f in at(findings, "invalid-name", cm)] == ["data.bad key.json"]
    assert len(at(findings, "duplicate-key", cm)) == 1


def test_job_selector_without_manual_selector():
    job = Resource(
        urn="urn:pulumi:t::p::kubernetes:batch/v1:Job::j",
        type="kubernetes:batch/v1:Job",
        name="j",
        custom=True,
        inputs={
            "metadata": {"name": "j", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"a": "b"}},
                "template": {
                    "metadata": {"labels": {"a": "b"}},
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]},
                },
            },
        },
        source=SourcePosition("components/job.py", 3),
    )
    from mlops_platform.mlops.graph import Graph

    ctx = VerifyContext(graph=Graph("p", "t", [job]), stack="t", kube_version="1.34")
    assert [(f.check, str(f.source)) for f in semantics.check(ctx)] == [
        ("selector-mismatch", "components/job.py:3")
    ]
    job.inputs["spec"]["manualSelector"] = True
    assert semantics.check(ctx) == []
    job.inputs["spec"]["selector"] = {"matchLabels": {"a": "c"}}
    assert [f.check for f in semantics.check(ctx)] == ["selector-mismatch"]


def test_an_object_that_does_not_wait_for_its_namespace(stack_ctx):
    import copy as _copy

    base = stack_ctx("prod")
    graph = _copy.deepcopy(base.graph)
    monitor = next(r for r in graph.resources if r.type.endswith(":ServiceMonitor"))
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


def test_rollout_that_cannot_progress_and_percentages_above_100(planted, at):
    ctx, dep = planted(
        "prod",
        DEPLOYMENT,
        "mlflow-server",
        lambda i: i["spec"]["strategy"]["rollingUpdate"].update(maxSurge="0%"),
    )
    assert [f.path for f in at(semantics.check(ctx), "rollout-stuck", dep)] == ["spec.strategy.rollingUpdate"]
    ctx, pdb = planted("prod", PDB, "mlflow-pdb", lambda i: i["spec"].update(maxUnavailable="150%"))
    found = at(semantics.check(ctx), "int-or-string", pdb)
    assert [f.path for f in found] == ["spec.maxUnavailable"] and "above 100%" in found[0].message


NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


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
    made, _ = semantics._operator_objects(ctx, semantics.manifests_of(ctx))
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
