"""The checks across objects: namespaces (created by someone, and created first), Service target ports,
monitor and NetworkPolicy ports, and selectors that select nothing (counting the pods and Services the
operators create, :data:`OPERATOR_OBJECTS`); and where an object lands (:func:`effective_namespace`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeGuard

from mlops_platform.mlops.verify import kube_schema
from mlops_platform.mlops.verify.model import Finding, Manifest, VerifyContext
from mlops_platform.mlops.verify.objects import Unknown, crds_of, manifests_of
from mlops_platform.mlops.verify.semantics.formats import map_selector_matches, selector_matches
from mlops_platform.mlops.verify.semantics.walk import LAYER, Out, containers, declared_ports, pod_spec
from mlops_platform.policies.rules import _argo
from mlops_platform.policies.rules._common import Res

DEFAULT_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
RELEASE_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")

# --- namespaces -------------------------------------------------------------------------------------


def _release_namespace(manifest: Manifest) -> str | None:
    if manifest.resource.type in RELEASE_TYPES:
        return str(manifest.resource.inputs.get("namespace") or "default")
    return None


def _provider_namespace(ctx: VerifyContext, manifest: Manifest) -> str:
    provider = next((r for r in ctx.graph.resources if r.urn == manifest.resource.provider), None)
    namespace = (provider.inputs.get("namespace") if provider is not None else None) or "default"
    return str(namespace)


def effective_namespace(ctx: VerifyContext, manifest: Manifest) -> str:
    """Where the object lands: its own namespace, else the release's (charts), else the provider's."""
    return manifest.namespace or _release_namespace(manifest) or _provider_namespace(ctx, manifest)


def created_namespaces(ctx: VerifyContext) -> set[str]:
    created = set(DEFAULT_NAMESPACES)
    for manifest in manifests_of(ctx):
        if manifest.kind == "Namespace" and manifest.api_version == "v1" and manifest.name:
            created.add(manifest.name)
    for resource in ctx.graph.resources:
        if resource.type in RELEASE_TYPES and resource.inputs.get("createNamespace"):
            created.add(str(resource.inputs.get("namespace") or "default"))
    return created


def cluster_scoped(ctx: VerifyContext) -> set[tuple[str, str]]:
    """(group, kind) of every cluster-scoped kind: the built-in table and the CRDs' ``spec.scope``."""
    version = kube_schema.schema_version(ctx.kube_version)
    scoped = {(g, k) for g, _, k in kube_schema.builtin_kinds(version) if k in kube_schema.CLUSTER_SCOPED}
    for crd in crds_of(manifests_of(ctx)):
        spec = crd.get("spec") or {}
        if spec.get("scope") == "Cluster":
            scoped.add((str(spec.get("group")), str((spec.get("names") or {}).get("kind"))))
    return scoped


def _check_namespaces(ctx: VerifyContext, manifests: list[Manifest]) -> list[Finding]:
    created = created_namespaces(ctx)
    scoped = cluster_scoped(ctx)
    findings = []
    for manifest in manifests:
        group = manifest.api_version.rpartition("/")[0]
        if (group, manifest.kind) in scoped or not manifest.kind:
            continue
        namespace = effective_namespace(ctx, manifest)
        if isinstance(namespace, Unknown) or namespace in created:
            continue
        out = Out(manifest)
        out.add(
            "namespace-missing",
            "metadata.namespace",
            f"namespace {namespace!r} is created neither by the platform (Namespace objects, Helm releases "
            "with createNamespace) nor by Kubernetes",
        )
        findings.extend(out.findings)
    return findings


def _depends_on(ctx: VerifyContext) -> Callable[[str], set[str]]:
    """urn -> every urn it waits for: its dependencies, transitively; waiting for a component means
    waiting for everything inside it."""
    by_urn = ctx.graph.by_urn()
    children: dict[str, list[str]] = {}
    for resource in ctx.graph.resources:
        if resource.parent:
            children.setdefault(resource.parent, []).append(resource.urn)
    memo: dict[str, set[str]] = {}

    def waits_for(urn: str) -> set[str]:
        if urn in memo:
            return memo[urn]
        memo[urn] = set()  # cycles cannot happen in a Pulumi graph; guard anyway
        resource = by_urn.get(urn)
        if resource is None:
            return memo[urn]
        direct = set(resource.dependencies) | {
            u for us in resource.property_dependencies.values() for u in us
        }
        found: set[str] = set()
        todo = list(direct)
        while todo:
            dep = todo.pop()
            if dep in found:
                continue
            found.add(dep)
            todo.extend(children.get(dep, []))
        for dep in list(found):
            found |= waits_for(dep)
        memo[urn] = found
        return found

    return waits_for


def _check_namespace_order(ctx: VerifyContext, manifests: list[Manifest]) -> list[Finding]:
    """An object (or Helm release) in a namespace that a Namespace resource of the platform creates must
    wait for that resource, or the first ``pulumi up`` may create it first and fail."""
    creators = {
        m.name: m.resource.urn
        for m in manifests
        if m.kind == "Namespace"
        and m.api_version == "v1"
        and m.resource.type == "kubernetes:core/v1:Namespace"
    }
    if not creators:
        return []
    waits_for = _depends_on(ctx)
    findings = []
    judged: set[str] = set()
    for manifest in manifests:
        resource = manifest.resource
        if resource.urn in judged or resource.urn in creators.values():
            continue
        judged.add(resource.urn)
        if resource.type in RELEASE_TYPES:
            namespace = str(resource.inputs.get("namespace") or "default")
            if resource.inputs.get("createNamespace"):
                continue
        else:
            namespace = effective_namespace(ctx, manifest)
        creator = creators.get(namespace)
        if creator is None or creator in waits_for(resource.urn):
            continue
        findings.append(
            Finding.at(
                resource,
                LAYER,
                "namespace-order",
                f"{resource.name} goes into namespace {namespace!r} but does not depend on the Namespace "
                f"resource that creates it ({creator.rsplit('::', 1)[-1]}): the first deploy may create it first",
                object=manifest.ref() if resource.type not in RELEASE_TYPES else "",
                path="metadata.namespace" if resource.type not in RELEASE_TYPES else "namespace",
            )
        )
    return findings


# --- ports across objects ---------------------------------------------------------------------------


def _check_services(ctx: VerifyContext, manifests: list[Manifest]) -> list[Finding]:
    pods: list[tuple[Manifest, str, dict[str, Any], dict[str, Any]]] = []
    for manifest in manifests:
        found = pod_spec(manifest.obj)
        if found is not None:
            spec, _, labels = found
            pods.append((manifest, effective_namespace(ctx, manifest), labels, spec))
    findings = []
    for manifest in manifests:
        if manifest.kind != "Service" or manifest.api_version != "v1":
            continue
        spec = manifest.obj.get("spec") or {}
        selector = spec.get("selector")
        if not isinstance(selector, dict) or not selector:
            continue
        namespace = effective_namespace(ctx, manifest)
        selected = [
            (m, s) for m, ns, labels, s in pods if ns == namespace and map_selector_matches(selector, labels)
        ]
        if not selected:
            continue  # its pods come from elsewhere (an operator, another program): nothing to judge
        declared = {name for _, s in selected for c, _ in containers(s, "") for name in declared_ports(c)}
        out = Out(manifest)
        for i, port in enumerate(spec.get("ports") or []):
            target = (port or {}).get("targetPort")
            named = isinstance(target, str) and not isinstance(target, Unknown) and not target.isdigit()
            if named and target not in declared:
                out.add(
                    "service-target-port",
                    f"spec.ports[{i}].targetPort",
                    f"targetPort {target!r} is a port name no container of the selected pods "
                    f"({', '.join(sorted({m.ref() for m, _ in selected}))}) declares "
                    f"(declared: {sorted(declared) or 'none'})",
                )
        findings.extend(out.findings)
    return findings


def _in_namespaces(selector: Any, own: str, namespace: str) -> bool:
    """A Prometheus-operator namespaceSelector (``any`` / ``matchNames``; default: the monitor's own)."""
    if not isinstance(selector, dict) or not selector:
        return namespace == own
    if selector.get("any"):
        return True
    names = selector.get("matchNames")
    return namespace in names if isinstance(names, list) else namespace == own


def _check_monitors(ctx: VerifyContext, manifests: list[Manifest]) -> list[Finding]:
    """ServiceMonitor endpoints name a port of the Services they select; PodMonitor endpoints a container
    port of the pods they select (else Prometheus silently scrapes nothing). Judged only when the monitor
    selects something the platform renders (operators create some of the objects monitors select)."""
    services = [
        (m, effective_namespace(ctx, m), (m.obj.get("metadata") or {}).get("labels") or {})
        for m in manifests
        if m.kind == "Service" and m.api_version == "v1"
    ]
    pods = []
    for m in manifests:
        found = pod_spec(m.obj)
        if found is not None:
            pods.append((m, effective_namespace(ctx, m), found[2], found[0]))
    findings = []
    for manifest in manifests:
        if not manifest.api_version.startswith("monitoring.coreos.com/"):
            continue
        if manifest.kind not in ("ServiceMonitor", "PodMonitor"):
            continue
        spec = manifest.obj.get("spec") or {}
        selector = spec.get("selector")
        if not isinstance(selector, dict):
            continue
        own = effective_namespace(ctx, manifest)
        out = Out(manifest)
        if manifest.kind == "ServiceMonitor":
            chosen = [
                m
                for m, ns, labels in services
                if _in_namespaces(spec.get("namespaceSelector"), own, ns)
                and selector_matches(selector, labels)
            ]
            declared: set[str] = {
                str(p["name"])
                for m in chosen
                for p in (m.obj.get("spec") or {}).get("ports") or []
                if isinstance(p, dict) and p.get("name")
            }
            endpoints, field, what = spec.get("endpoints") or [], "endpoints", "Services"
        else:
            chosen_pods = [
                (m, s)
                for m, ns, labels, s in pods
                if _in_namespaces(spec.get("namespaceSelector"), own, ns)
                and selector_matches(selector, labels)
            ]
            chosen = [m for m, _ in chosen_pods]
            declared = {n for _, s in chosen_pods for c, _ in containers(s, "") for n in declared_ports(c)}
            endpoints, field, what = spec.get("podMetricsEndpoints") or [], "podMetricsEndpoints", "pods"
        if not chosen:
            continue
        for i, endpoint in enumerate(endpoints):
            port = (endpoint or {}).get("port")
            if isinstance(port, str) and not isinstance(port, Unknown) and port not in declared:
                out.add(
                    "monitor-port",
                    f"spec.{field}[{i}].port",
                    f"port {port!r} is not a port name of the selected {what} "
                    f"({', '.join(sorted(m.ref() for m in chosen))}; declared: {sorted(declared) or 'none'})",
                )
        findings.extend(out.findings)
    return findings


def _check_network_policies(ctx: VerifyContext, manifests: list[Manifest]) -> list[Finding]:
    """An ingress rule whose ports are all names that no container of the selected pods declares allows
    nothing: the traffic it was written for is silently dropped."""
    pods = []
    for m in manifests:
        found = pod_spec(m.obj)
        if found is not None:
            pods.append((m, effective_namespace(ctx, m), found[2], found[0]))
    findings = []
    for manifest in manifests:
        if manifest.kind != "NetworkPolicy" or manifest.api_version != "networking.k8s.io/v1":
            continue
        spec = manifest.obj.get("spec") or {}
        selector = spec.get("podSelector")
        if not isinstance(selector, dict):
            continue
        namespace = effective_namespace(ctx, manifest)
        chosen = [
            (m, s) for m, ns, labels, s in pods if ns == namespace and selector_matches(selector, labels)
        ]
        if not chosen:
            continue
        declared = {n for _, s in chosen for c, _ in containers(s, "") for n in declared_ports(c)}
        out = Out(manifest)
        for i, rule in enumerate(spec.get("ingress") or []):
            ports = [p for p in (rule or {}).get("ports") or [] if isinstance(p, dict)]
            names = [p.get("port") for p in ports]
            if not names or any(
                not isinstance(n, str) or isinstance(n, Unknown) or n.isdigit() for n in names
            ):
                continue  # no ports (all ports), or a number: the rule allows something
            if any(n in declared for n in names):
                continue  # one named port resolves (others may exist only with other chart options)
            out.add(
                "network-policy-port",
                f"spec.ingress[{i}].ports",
                f"the rule allows only ports {names}, none of them a container port name of the selected pods "
                f"({', '.join(sorted({m.ref() for m, _ in chosen}))}; declared: {sorted(declared) or 'none'}): "
                "it allows nothing",
            )
        findings.extend(out.findings)
    return findings


# --- selectors that select nothing --------------------------------------------------------------------


@dataclass(frozen=True)
class OperatorObjects:
    """The pods and Services an operator creates for one custom resource (not rendered by anyone)."""

    group: str
    kind: str
    pod_labels: Callable[[str], dict[str, str]]
    """The labels the operator gives each pod it creates for the resource named so (plus the resource's
    ``spec.podMetadata.labels``)."""
    service_labels: dict[str, str] | None
    """The labels of the governing Service it creates (``<kind>-operated``); None: it creates none."""
    reason: str
    pods_of: Callable[[dict[str, Any], str], list[dict[str, str]]] | None = None
    """When set, the label sets of the pods it creates for the object (named so), instead of one pod with
    :attr:`pod_labels` and ``spec.podMetadata.labels``."""


_ARGO_WORKFLOW_LABEL = "workflows.argoproj.io/workflow"


def _argo_pods(obj: dict[str, Any], name: str) -> list[dict[str, str]]:
    """The labels of the pods the Argo controller creates for a Workflow (or a run of a WorkflowTemplate or
    CronWorkflow): the workflow's ``podMetadata.labels``, each template's ``metadata.labels`` over them, and
    the controller's own labels (the workflow's name, generated for a run, and ``completed``)."""
    res = Res(f"kubernetes:{obj.get('apiVersion')}:{obj.get('kind')}", name, "", obj)
    wf = _argo.workflow_spec(res)
    pod_metadata = wf.get("podMetadata") if isinstance(wf.get("podMetadata"), dict) else {}
    base = dict((pod_metadata or {}).get("labels") or {})
    out: list[dict[str, str]] = []
    for pod in _argo.pods(res):
        meta = pod.template.get("metadata") if isinstance(pod.template.get("metadata"), dict) else {}
        labels = {**base, **((meta or {}).get("labels") or {})}
        out.append({**labels, _ARGO_WORKFLOW_LABEL: name, "workflows.argoproj.io/completed": "false"})
    return out


def _argo_objects(kind: str) -> OperatorObjects:
    return OperatorObjects(
        "argoproj.io",
        kind,
        lambda name: {_ARGO_WORKFLOW_LABEL: name},
        None,
        f"the Argo Workflows controller runs each template of a {kind} that has a container as a pod it "
        "creates, labelled with the workflow's podMetadata, the template's metadata and its own labels",
        _argo_pods,
    )


OPERATOR_OBJECTS: tuple[OperatorObjects, ...] = (
    OperatorObjects(
        "monitoring.coreos.com",
        "Prometheus",
        lambda name: {
            "app.kubernetes.io/name": "prometheus",
            "app.kubernetes.io/instance": name,
            "app.kubernetes.io/managed-by": "prometheus-operator",
            "operator.prometheus.io/name": name,
            "operator.prometheus.io/shard": "0",
            "prometheus": name,
        },
        {"operated-prometheus": "true"},
        "the prometheus-operator runs each Prometheus as a StatefulSet prometheus-<name> it creates, with "
        "these pod labels, and the governing Service prometheus-operated",
    ),
    OperatorObjects(
        "monitoring.coreos.com",
        "Alertmanager",
        lambda name: {
            "app.kubernetes.io/name": "alertmanager",
            "app.kubernetes.io/instance": name,
            "app.kubernetes.io/managed-by": "prometheus-operator",
            "alertmanager": name,
        },
        {"operated-alertmanager": "true"},
        "the prometheus-operator runs each Alertmanager as a StatefulSet alertmanager-<name> it creates, "
        "with these pod labels, and the governing Service alertmanager-operated",
    ),
    # Argo Workflows: a ClusterWorkflowTemplate's pods run in the namespace of whichever Workflow uses it
    # (unknown here), so it adds no pod.
    _argo_objects("Workflow"),
    _argo_objects("WorkflowTemplate"),
    _argo_objects("CronWorkflow"),
)
"""The operators of the platform whose pods and Services no manifest renders: a selector may select them."""


def _operator_objects(
    ctx: VerifyContext, manifests: list[Manifest]
) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, dict[str, Any]]]]:
    """(namespace, labels) of the pods and of the Services the operators create for the platform's CRs."""
    pods: list[tuple[str, dict[str, Any]]] = []
    services: list[tuple[str, dict[str, Any]]] = []
    for manifest in manifests:
        group = manifest.api_version.rpartition("/")[0]
        for made in OPERATOR_OBJECTS:
            if (group, manifest.kind) != (made.group, made.kind) or not manifest.name:
                continue
            namespace = effective_namespace(ctx, manifest)
            if made.pods_of is not None:
                pods.extend((namespace, labels) for labels in made.pods_of(manifest.obj, manifest.name))
            else:
                extra = ((manifest.obj.get("spec") or {}).get("podMetadata") or {}).get("labels") or {}
                pods.append((namespace, {**extra, **made.pod_labels(manifest.name)}))
            if made.service_labels is not None:
                services.append((namespace, dict(made.service_labels)))
    return pods, services


def _judged_selector(selector: Any) -> TypeGuard[dict[str, Any]]:
    """A selector to judge: non-empty (an empty one selects everything) and with no value unknown offline."""
    if not isinstance(selector, dict) or not selector:
        return False
    return not any(isinstance(v, Unknown) for v in _leaves(selector))


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def _check_selects_nothing(ctx: VerifyContext, manifests: list[Manifest]) -> list[Finding]:
    """A Service, NetworkPolicy or ServiceMonitor whose selector matches nothing the platform runs: no pod
    of any release or plain object, and no pod or Service the operators create for the platform's custom
    resources (:data:`OPERATOR_OBJECTS`). Kubernetes' own namespaces (kube-system, default, ...) are not
    judged: EKS and its add-ons run objects there that nothing of the platform renders (coredns, kube-proxy,
    the kubernetes Service); nor is a ServiceMonitor whose namespaceSelector is ``any``. Nothing is judged
    unless every Helm release of the graph was rendered: a release helm did not render has pods unseen."""
    releases = [r for r in ctx.graph.resources if r.type in RELEASE_TYPES]
    rendered = {r.resource.urn for r in ctx.releases if r.chart_dir is not None}
    if any(r.urn not in rendered for r in releases):
        return []
    pods: list[tuple[str, dict[str, Any]]] = []
    services: list[tuple[str, dict[str, Any]]] = []
    for m in manifests:
        found = pod_spec(m.obj)
        if found is not None and m.kind != "PodTemplate":
            pods.append((effective_namespace(ctx, m), found[2]))
        if m.kind == "Service" and m.api_version == "v1":
            services.append((effective_namespace(ctx, m), (m.obj.get("metadata") or {}).get("labels") or {}))
    made_pods, made_services = _operator_objects(ctx, manifests)
    pods += made_pods
    services += made_services

    def judged(namespace: Any) -> bool:
        return (
            isinstance(namespace, str)
            and not isinstance(namespace, Unknown)
            and namespace not in DEFAULT_NAMESPACES
        )

    findings = []
    for manifest in manifests:
        spec = manifest.obj.get("spec") or {}
        if not isinstance(spec, dict):
            continue
        namespace = effective_namespace(ctx, manifest)
        out = Out(manifest)
        if manifest.kind == "Service" and manifest.api_version == "v1":
            selector = spec.get("selector")
            if not _judged_selector(selector) or not judged(namespace):
                continue
            if not any(ns == namespace and map_selector_matches(selector, labels) for ns, labels in pods):
                out.add(
                    "selects-nothing",
                    "spec.selector",
                    f"selector {selector} matches no pod in namespace {namespace!r}: the Service has no "
                    "endpoints",
                )
        elif manifest.kind == "NetworkPolicy" and manifest.api_version == "networking.k8s.io/v1":
            selector = spec.get("podSelector")
            if not _judged_selector(selector) or not judged(namespace):
                continue
            if not any(ns == namespace and selector_matches(selector, labels) for ns, labels in pods):
                out.add(
                    "selects-nothing",
                    "spec.podSelector",
                    f"podSelector {selector} matches no pod in namespace {namespace!r}: the policy applies "
                    "to nothing (and its allows and denies do not reach the pods it was written for)",
                )
        elif manifest.kind == "ServiceMonitor" and manifest.api_version.startswith("monitoring.coreos.com/"):
            selector = spec.get("selector")
            within = spec.get("namespaceSelector")
            if not _judged_selector(selector) or (isinstance(within, dict) and within.get("any")):
                continue
            names = within.get("matchNames") if isinstance(within, dict) else None
            targets = list(names) if isinstance(names, list) and names else [namespace]
            if not all(judged(t) for t in targets):
                continue
            if not any(ns in targets and selector_matches(selector, labels) for ns, labels in services):
                out.add(
                    "selects-nothing",
                    "spec.selector",
                    f"selector {selector} matches no Service in namespace(s) {targets}: Prometheus scrapes "
                    "nothing for this monitor",
                )
        findings.extend(out.findings)
    return findings


def check_across(ctx: VerifyContext, manifests: list[Manifest]) -> list[Finding]:
    """The checks across objects, in this order: Service target ports, monitor ports, NetworkPolicy
    ports, selectors that select nothing, namespaces nobody creates, namespaces created too late."""
    findings: list[Finding] = []
    findings.extend(_check_services(ctx, manifests))
    findings.extend(_check_monitors(ctx, manifests))
    findings.extend(_check_network_policies(ctx, manifests))
    findings.extend(_check_selects_nothing(ctx, manifests))
    findings.extend(_check_namespaces(ctx, manifests))
    findings.extend(_check_namespace_order(ctx, manifests))
    return findings
