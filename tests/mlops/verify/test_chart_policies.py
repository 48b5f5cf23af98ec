"""Layer ``policy``: the pack's Kubernetes rules over the objects the charts render."""

from __future__ import annotations

import copy

import pytest

from mlops_platform.mlops.graph import Graph, Resource, SourcePosition
from mlops_platform.mlops.verify import accepted, chart_policies
from mlops_platform.mlops.verify.model import Manifest, RenderedRelease, VerifyContext

STACK_URN = "urn:pulumi:prod::mlops-platform::"
PROVIDER = f"{STACK_URN}pulumi:providers:kubernetes::k8s"


def _release(name: str = "apps", namespace: str = "apps") -> Resource:
    return Resource(
        urn=f"{STACK_URN}mlops:test:Thing$kubernetes:helm.sh/v3:Release::{name}",
        type="kubernetes:helm.sh/v3:Release",
        name=name,
        custom=True,
        provider=PROVIDER,
        inputs={"chart": "example", "version": "1.0.0", "namespace": namespace, "name": name},
        source=SourcePosition("components/example.py", 7),
    )


def _rendered(resource: Resource, *objs: dict, namespace: str = "apps") -> RenderedRelease:
    release = RenderedRelease(
        resource=resource,
        chart="example",
        version="1.0.0",
        repository="",
        release_name=resource.name,
        namespace=namespace,
        values={},
        chart_dir=None,
    )
    release.manifests = [Manifest(o, resource, "example/templates/x.yaml") for o in objs]
    return release


def _compliant_pod_spec() -> dict:
    return {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "app",
                "image": "public.ecr.aws/example/app:1.2.3",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "runAsNonRoot": True,
                    "capabilities": {"drop": ["ALL"]},
                },
                "resources": {
                    "requests": {"cpu": "10m", "memory": "32Mi"},
                    "limits": {"cpu": "100m", "memory": "64Mi"},
                },
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}},
            }
        ],
    }


def _deployment(name: str = "app") -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": _compliant_pod_spec()},
        },
    }


def _platform(*extra: Resource) -> Graph:
    provider = Resource(urn=PROVIDER, type="pulumi:providers:kubernetes", name="k8s", custom=True)
    namespace = Resource(
        urn=f"{STACK_URN}kubernetes:core/v1:Namespace::apps-ns",
        type="kubernetes:core/v1:Namespace",
        name="apps-ns",
        custom=True,
        provider=PROVIDER,
        inputs={"metadata": {"name": "apps"}},
        source=SourcePosition("components/example.py", 3),
    )
    deny = Resource(
        urn=f"{STACK_URN}kubernetes:networking.k8s.io/v1:NetworkPolicy::apps-deny",
        type="kubernetes:networking.k8s.io/v1:NetworkPolicy",
        name="apps-deny",
        custom=True,
        provider=PROVIDER,
        inputs={
            "metadata": {"name": "default-deny", "namespace": "apps"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
    )
    return Graph(project="mlops-platform", stack="prod", resources=[provider, namespace, deny, *extra])


def _check(graph: Graph, *releases: RenderedRelease, stack: str = "prod"):
    return chart_policies.check(
        VerifyContext(graph=graph, stack=stack, kube_version="1.34", releases=list(releases))
    )


@pytest.mark.parametrize(
    ("api_version", "kind", "token"),
    [
        ("apps/v1", "Deployment", "kubernetes:apps/v1:Deployment"),
        ("v1", "Pod", "kubernetes:core/v1:Pod"),
        ("batch/v1", "Job", "kubernetes:batch/v1:Job"),
        ("batch/v1", "CronJob", "kubernetes:batch/v1:CronJob"),
        ("monitoring.coreos.com/v1", "ServiceMonitor", "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"),
    ],
)
def test_type_tokens_are_the_providers(api_version, kind, token):
    assert chart_policies.type_token({"apiVersion": api_version, "kind": kind}) == token


def test_a_chart_object_becomes_a_child_of_its_release():
    resource = _release()
    release = _rendered(resource, _deployment())
    r = chart_policies.chart_resource(release, release.manifests[0], frozenset({"ClusterThing"}), set())
    assert r.type == "kubernetes:apps/v1:Deployment"
    assert r.name == "apps/Deployment/apps/app"
    assert (
        r.urn
        == f"{STACK_URN}mlops:test:Thing$kubernetes:helm.sh/v3:Release$kubernetes:apps/v1:Deployment::apps/Deployment/apps/app"
    )
    assert (r.parent, r.provider, r.source) == (resource.urn, PROVIDER, resource.source)
    # helm puts an object without a namespace into the release's namespace; the manifest itself is untouched.
    assert r.inputs["metadata"]["namespace"] == "apps"
    assert "namespace" not in release.manifests[0].obj["metadata"]
    role = Manifest(
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "x"}},
        resource,
    )
    thing = Manifest(
        {"apiVersion": "example.io/v1", "kind": "ClusterThing", "metadata": {"name": "x"}}, resource
    )
    taken: set[str] = set()
    for m in (role, thing):
        assert (
            "namespace"
            not in chart_policies.chart_resource(release, m, frozenset({"ClusterThing"}), taken).inputs[
                "metadata"
            ]
        )


def test_a_compliant_chart_has_no_finding():
    resource = _release()
    assert _check(_platform(), _rendered(resource, _deployment())) == []


def test_a_chart_pod_made_privileged_is_a_finding():
    resource = _release()
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug"}, "spec": _compliant_pod_spec()}
    pod["spec"]["containers"][0]["securityContext"]["privileged"] = True
    [finding] = _check(_platform(), _rendered(resource, _deployment(), pod))
    assert (finding.layer, finding.check, finding.object) == (
        "policy",
        "k8s-no-privileged",
        "v1 Pod apps/debug",
    )
    # Located at the release (file:line of the resource that made it), naming the template.
    assert (finding.urn, finding.name, finding.source) == (resource.urn, "apps", resource.source)
    assert finding.message == "mandatory: container 'app' runs privileged (example/templates/x.yaml)"


def test_a_chart_container_without_limits_is_a_finding():
    resource = _release()
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate"},
        "spec": {"template": {"spec": _compliant_pod_spec()}},
    }
    del job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    [finding] = _check(_platform(), _rendered(resource, job))
    assert (finding.check, finding.object) == ("k8s-resources", "batch/v1 Job apps/migrate")
    assert "limits.memory, limits.cpu" in finding.message


def test_an_argo_workflow_template_a_chart_renders_is_judged_too():
    """A chart's WorkflowTemplate: its template pods by the pod rules, the workflow by the Argo rules."""
    resource = _release()
    container = copy.deepcopy(_compliant_pod_spec()["containers"][0])
    container["securityContext"]["runAsNonRoot"] = True
    template = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "nightly"},
        "spec": {
            "entrypoint": "run",
            "serviceAccountName": "runner",
            "ttlStrategy": {"secondsAfterCompletion": 3600},
            "podGC": {"strategy": "OnPodCompletion"},
            "templates": [
                {"name": "run", "container": {**container, "securityContext": {"privileged": True}}}
            ],
        },
    }
    found = {(f.check, f.message) for f in _check(_platform(), _rendered(resource, template))}
    assert (
        "argo-active-deadline",
        "mandatory: spec.activeDeadlineSeconds is not set to a positive number "
        "of seconds (example/templates/x.yaml)",
    ) in found
    assert (
        "k8s-no-privileged",
        "mandatory: container 'templates[run].container' runs privileged (example/templates/x.yaml)",
    ) in found


def test_the_stack_config_sets_the_enforcement():
    resource = _release()
    bare = _deployment()
    del bare["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]
    [dev] = _check(_platform(), _rendered(resource, bare), stack="dev")
    [prod] = _check(_platform(), _rendered(resource, bare), stack="prod")
    assert (dev.check, prod.check) == ("k8s-probes", "k8s-probes")
    assert dev.message.startswith("advisory: ") and prod.message.startswith("mandatory: ")


def test_chart_workloads_in_a_namespace_without_default_deny_are_a_finding():
    graph = _platform()
    graph.resources = [r for r in graph.resources if r.name != "apps-deny"]
    resource = _release()
    ingress, egress = sorted(_check(graph, _rendered(resource, _deployment())), key=lambda f: f.check)
    # Without the default deny the namespace is open both ways: one finding per direction.
    assert [(f.check, f.name, f.object) for f in (ingress, egress)] == [
        ("k8s-namespace-default-deny", "apps-ns", "v1 Namespace apps"),
        ("k8s-namespace-egress-restricted", "apps-ns", "v1 Namespace apps"),
    ]
    assert "without a default-deny ingress NetworkPolicy" in ingress.message
    assert "without a default-deny egress NetworkPolicy" in egress.message
    for finding in (ingress, egress):
        assert finding.message.endswith("chart workloads there: apps/v1 Deployment apps/app")


def test_nothing_to_check_starts_no_pack(monkeypatch):
    monkeypatch.setattr(chart_policies, "pack_process", None)  # would raise if called
    assert _check(_platform()) == []


# --------------------------------------------------------------------------------------------------
# The platform's charts, rendered by helm with the values the platform passes
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_platforms_charts(stacks, releases_of, env):
    """No finding on the pods of the platform's charts but the accepted ones (each with its reason)."""
    releases = releases_of(env)
    findings = _check(stacks[env], *releases, stack=env)
    failures, taken = accepted.apply(findings)
    assert failures == [], "\n".join(f"{f.check} {f.name} {f.object}: {f.message}" for f in failures)
    # node-exporter's host namespaces are exempt, with the reason.
    exempt = {(f.check, f.object) for f, _ in taken}
    node_exporter = (
        "apps/v1 DaemonSet monitoring-node-exporter/kube-prometheus-stack-prometheus-node-exporter"
    )
    assert ("k8s-no-host-namespaces", node_exporter) in exempt
    if env == "prod":
        assert any(f.object.endswith("kube-system/nvidia-device-plugin") for f, _ in taken)
        assert any(f.object.endswith("monitoring-node-exporter/dcgm-exporter") for f, _ in taken)


def test_a_planted_defect_in_a_real_chart_is_caught(stacks, releases_of):
    """ESO's controller made privileged through its rendered Deployment: the pack says so."""
    releases = copy.deepcopy(releases_of("prod"))
    eso = next(r for r in releases if r.chart == "external-secrets")
    controller = next(m for m in eso.manifests if m.kind == "Deployment" and m.name == "external-secrets")
    controller.obj["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = True
    findings = _check(stacks["prod"], *releases, stack="prod")
    failures, _ = accepted.apply(findings)
    [planted] = [f for f in failures if f.check == "k8s-no-privileged"]
    assert planted.object == "apps/v1 Deployment external-secrets/external-secrets"
    assert planted.name == eso.resource.name and planted.source == eso.resource.source


def test_scopes_come_from_the_charts_crds():
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "nodepools.karpenter.sh"},
        "spec": {
            "group": "karpenter.sh",
            "scope": "Cluster",
            "names": {"kind": "NodePool", "plural": "nodepools"},
        },
    }
    pool = {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "gpu"}, "spec": {}}
    widget = {"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    in_default = _deployment("stray")
    in_default["metadata"]["namespace"] = "default"
    resource = _release()
    findings = _check(_platform(), _rendered(resource, crd, pool, widget, in_default))
    # The cluster-scoped NodePool is not "in the default namespace"; the namespaced Widget goes to the
    # release's namespace; the Deployment the chart puts in "default" is a finding.
    assert [(f.check, f.object) for f in findings] == [
        ("k8s-no-default-namespace", "apps/v1 Deployment default/stray")
    ]


def test_a_pack_that_cannot_start_is_an_incomplete_run_not_a_clean_one(tmp_path):
    resource = _release()
    ctx = VerifyContext(
        graph=_platform(), stack="prod", kube_version="1.34", releases=[_rendered(resource, _deployment())]
    )
    [finding] = chart_policies.check(ctx, pack_dir=tmp_path)
    assert (finding.layer, finding.check) == ("policy", chart_policies.PACK_FAILED)
    assert "entry point is missing" in finding.message
