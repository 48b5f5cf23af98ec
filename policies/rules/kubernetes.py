"""Kubernetes workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Pod; Argo Workflows'
Workflow, WorkflowTemplate, ClusterWorkflowTemplate and CronWorkflow; KServe's ServingRuntime,
ClusterServingRuntime and ClusterStorageContainer) and Services.

The pod rules judge every pod a resource runs (:func:`pods`): a workload's pod template, one pseudo pod
per Argo template that has a container (:mod:`mlops_platform.policies.rules._argo`), or the predictor pod a
KServe runtime shapes and the init container a storage container becomes
(:mod:`mlops_platform.policies.rules._kserve`); an Argo pod's messages start with the template they come from
(``templates[train].container``)."""

from __future__ import annotations

import fnmatch
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

from mlops_platform.policies.rules import _argo, _kserve
from mlops_platform.policies.rules._common import Ctx, Res, Stack, as_list, truthy
from mlops_platform.policies.rules._meta import RELAXED_DEV, STR_LIST, Prop, cis_eks
from mlops_platform.policies.rules._registry import resource_rule, stack_rule

ALLOWED_REGISTRIES = [
    "*.dkr.ecr.*.amazonaws.com/*",
    "public.ecr.aws/*",
    "registry.k8s.io/*",
    "quay.io/*",
    "ghcr.io/*",
    "docker.io/bitnami/*",
    "docker.io/bitnamilegacy/*",
    "docker.io/grafana/*",
    "docker.io/prom/*",
    "docker.io/kserve/*",
]
"""Where workload images may come from (the default of `k8s-allowed-registries`); the reasons for the entries
added since 0.5: :data:`REGISTRY_REASONS`."""

REGISTRY_REASONS: dict[str, str] = {
    "docker.io/kserve/*": (
        "KServe's controller (kserve/kserve-controller), agent and storage-initializer images, published "
        "by the KServe project on Docker Hub only and pinned to the chart's release tag (v0.20.0): allowed, "
        "not mirrored, because the platform has no image-mirroring pipeline yet (a pull-through cache for "
        "Docker Hub needs a Docker Hub credential in Secrets Manager); the predictor pods never run them "
        "(our runtime and storage initializer come from the platform's ECR)"
    ),
}
"""Why an entry of :data:`ALLOWED_REGISTRIES` is there (also in the rule's description). cert-manager's images
(quay.io/jetstack/*) and KServe's kube-rbac-proxy (quay.io/brancz/*) need none: quay.io/* was allowed before."""

POD_TEMPLATE_KINDS = {
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "kubernetes:core/v1:Pod": ("spec",),
}
WORKLOADS = (*POD_TEMPLATE_KINDS, *_argo.KINDS, *_kserve.KINDS)
LONG_RUNNING = (
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:apps/v1:ReplicaSet",
    "kubernetes:core/v1:Pod",
    *_kserve.RUNTIMES,
)
SERVICE = "kubernetes:core/v1:Service"
NAMESPACED_PREFIX = "kubernetes:"
CLUSTER_SCOPED = {
    "kubernetes:core/v1:Namespace",
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
    "kubernetes:storage.k8s.io/v1:StorageClass",
    "kubernetes:core/v1:PersistentVolume",
    "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
    "kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration",
    "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration",
    "kubernetes:scheduling.k8s.io/v1:PriorityClass",
    "kubernetes:node.k8s.io/v1:RuntimeClass",
    # Karpenter's custom resources (karpenter-crd): all cluster-scoped.
    "kubernetes:karpenter.sh/v1:NodePool",
    "kubernetes:karpenter.sh/v1:NodeClaim",
    "kubernetes:karpenter.sh/v1alpha1:NodeOverlay",
    "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass",
}


def pods(res: Res) -> list[tuple[str, dict[str, Any]]]:
    """``(where, pod spec)`` of every pod the resource runs: ``""`` and its pod template for a workload, one
    pseudo pod per template with a container for an Argo object (``where`` = ``templates[<name>]``)."""
    if _argo.is_argo(res):
        return [(p.where, p.spec) for p in _argo.pods(res)]
    if _kserve.is_kserve(res):
        return _kserve.pods(res)
    spec = res.path(*POD_TEMPLATE_KINDS[res.type], default={}) if res.type in POD_TEMPLATE_KINDS else {}
    return [("", spec if isinstance(spec, dict) else {})]


def pod_containers(spec: dict[str, Any], *, init: bool = True) -> list[dict[str, Any]]:
    keys = ("initContainers", "containers") if init else ("containers",)
    return [c for k in keys for c in as_list(spec.get(k)) if isinstance(c, dict)]


def containers(res: Res, *, init: bool = True) -> list[dict[str, Any]]:
    return [c for _, spec in pods(res) for c in pod_containers(spec, init=init)]


def _at(where: str) -> str:
    return f"{where}: " if where else ""


def _sc(c: dict[str, Any]) -> dict[str, Any]:
    sc = c.get("securityContext")
    return sc if isinstance(sc, dict) else {}


def _name(c: dict[str, Any]) -> str:
    return f"container {c.get('name', '?')!r}"


@resource_rule(
    "k8s-no-privileged",
    *WORKLOADS,
    description="Containers do not run privileged.",
    severity="critical",
    remediation="Remove securityContext.privileged.",
    framework=cis_eks("4.2.1"),
    checkov=("CKV_K8S_16",),
)
def no_privileged(res: Res, ctx: Ctx) -> Iterator[str]:
    for c in containers(res):
        if truthy(_sc(c).get("privileged")):
            yield f"{_name(c)} runs privileged"


@resource_rule(
    "k8s-no-privilege-escalation",
    *WORKLOADS,
    description="Containers set allowPrivilegeEscalation=false.",
    severity="high",
    remediation="Set securityContext.allowPrivilegeEscalation=False.",
    framework=cis_eks("4.2.5"),
    checkov=("CKV_K8S_20",),
)
def no_escalation(res: Res, ctx: Ctx) -> Iterator[str]:
    for c in containers(res):
        if _sc(c).get("allowPrivilegeEscalation") is not False:
            yield f"{_name(c)} does not set allowPrivilegeEscalation=false"


@resource_rule(
    "k8s-run-as-non-root",
    *WORKLOADS,
    description="Containers run as a non-root user.",
    severity="high",
    remediation="Set runAsNonRoot=True (and a non-zero runAsUser).",
    framework=cis_eks("4.2.6"),
    checkov=("CKV_K8S_23", "CKV_K8S_40"),
)
def non_root(res: Res, ctx: Ctx) -> Iterator[str]:
    for _, spec in pods(res):
        pod_sc = spec.get("securityContext") or {}
        for c in pod_containers(spec):
            sc = _sc(c)
            non_root_flag = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
            uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
            if uid is not None and int(uid) == 0:
                yield f"{_name(c)} runs as UID 0"
            elif non_root_flag is not True:
                yield f"{_name(c)} does not set runAsNonRoot=true"


@resource_rule(
    "k8s-no-host-namespaces",
    *WORKLOADS,
    description="Pods do not share the node's network, PID or IPC namespace.",
    severity="high",
    remediation="Remove hostNetwork, hostPID and hostIPC.",
    framework=cis_eks("4.2.4"),
    checkov=("CKV_K8S_19", "CKV_K8S_17", "CKV_K8S_18"),
)
def no_host_namespaces(res: Res, ctx: Ctx) -> Iterator[str]:
    for where, spec in pods(res):
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if truthy(spec.get(key)):
                yield f"{_at(where)}the pod shares the node's namespace ({key})"


@resource_rule(
    "k8s-no-host-path",
    *WORKLOADS,
    description="Pods mount no hostPath volumes.",
    severity="high",
    remediation="Use emptyDir, a PVC, a ConfigMap or a Secret instead.",
    checkov=("CKV_K8S_27",),
)
def no_host_path(res: Res, ctx: Ctx) -> Iterator[str]:
    for where, spec in pods(res):
        for v in as_list(spec.get("volumes")):
            if isinstance(v, dict) and v.get("hostPath"):
                yield f"{_at(where)}volume {v.get('name', '?')!r} mounts a hostPath"


@resource_rule(
    "k8s-no-host-port",
    *WORKLOADS,
    description="Containers bind no hostPort.",
    severity="medium",
    remediation="Expose the port through a Service instead.",
    checkov=("CKV_K8S_26",),
)
def no_host_port(res: Res, ctx: Ctx) -> Iterator[str]:
    for c in containers(res):
        for p in as_list(c.get("ports")):
            if isinstance(p, dict) and p.get("hostPort"):
                yield f"{_name(c)} binds hostPort {p['hostPort']}"


@resource_rule(
    "k8s-resources",
    *WORKLOADS,
    description=(
        "Containers set CPU and memory requests and limits (the CPU limit can be waived with "
        "requireCpuLimits=false)."
    ),
    severity="low",
    remediation="Set resources.requests and resources.limits for cpu and memory.",
    enforcement=RELAXED_DEV,
    checkov=("CKV_K8S_10", "CKV_K8S_11", "CKV_K8S_12", "CKV_K8S_13"),
    props={"requireCpuLimits": Prop({"type": "boolean"}, True)},
)
def resources(res: Res, ctx: Ctx) -> Iterator[str]:
    for c in containers(res):
        found = c.get("resources")
        r: dict[str, Any] = found if isinstance(found, dict) else {}
        wanted = [("requests", "cpu"), ("requests", "memory"), ("limits", "memory")]
        if ctx.get("requireCpuLimits"):
            wanted.append(("limits", "cpu"))
        missing = [f"{kind}.{what}" for kind, what in wanted if not (r.get(kind) or {}).get(what)]
        if missing:
            yield f"{_name(c)} lacks resources {', '.join(missing)}"


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """``(repository with registry, tag, digest)``; Docker Hub names get ``docker.io/[library/]``."""
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    tag = None
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        image, tag = image.rsplit(":", 1)
    first = image.split("/", 1)[0]
    if "/" not in image or not ("." in first or ":" in first or first == "localhost"):
        image = f"docker.io/{image if '/' in image else 'library/' + image}"
    return image, tag, digest


@resource_rule(
    "k8s-image-pinned",
    *WORKLOADS,
    description="Images are pinned to a version tag or digest (never latest or untagged).",
    severity="medium",
    remediation="Reference images as registry/name:1.2.3 or by @sha256 digest.",
    checkov=("CKV_K8S_14", "CKV_K8S_43"),
)
def image_pinned(res: Res, ctx: Ctx) -> Iterator[str]:
    for c in containers(res):
        image = str(c.get("image") or "")
        _repo, tag, digest = split_image(image) if image else ("", None, None)
        if not image:
            yield f"{_name(c)} has no image"
        elif digest is None and (tag is None or tag == "latest"):
            yield f"{_name(c)} image {image!r} is not pinned to a version tag or digest"


@resource_rule(
    "k8s-allowed-registries",
    *WORKLOADS,
    description=(
        "Images come only from allowed registries (docker.io/kserve/* is allowed for KServe's controller, "
        "published on Docker Hub only; policies/rules/kubernetes.py REGISTRY_REASONS)."
    ),
    severity="high",
    remediation="Mirror the image into the platform's ECR or an allowed registry (policies/config/<env>.json).",
    framework=cis_eks("5.1.4"),
    props={
        "allowedRegistries": Prop(
            STR_LIST,
            ALLOWED_REGISTRIES,
        )
    },
)
def allowed_registries(res: Res, ctx: Ctx) -> Iterator[str]:
    allowed = [str(p) for p in ctx.get("allowedRegistries")]
    for c in containers(res):
        image = str(c.get("image") or "")
        if not image:
            continue
        repo, _, _ = split_image(image)
        if not any(fnmatch.fnmatchcase(repo, p) for p in allowed):
            yield f"{_name(c)} image {image!r} is not from an allowed registry"


@resource_rule(
    "k8s-read-only-root-fs",
    *WORKLOADS,
    description="Containers have a read-only root filesystem.",
    severity="medium",
    remediation="Set readOnlyRootFilesystem=True; mount an emptyDir where the process writes (e.g. /tmp).",
    enforcement=RELAXED_DEV,
    checkov=("CKV_K8S_22",),
)
def read_only_root(res: Res, ctx: Ctx) -> Iterator[str]:
    for c in containers(res):
        if _sc(c).get("readOnlyRootFilesystem") is not True:
            yield f"{_name(c)} has a writable root filesystem"


@resource_rule(
    "k8s-drop-all-capabilities",
    *WORKLOADS,
    description="Containers drop ALL Linux capabilities.",
    severity="medium",
    remediation="Set securityContext.capabilities.drop=['ALL'].",
    framework=cis_eks("4.2.9"),
    checkov=("CKV_K8S_37", "CKV_K8S_28"),
)
def drop_all(res: Res, ctx: Ctx) -> Iterator[str]:
    for c in containers(res):
        caps = _sc(c).get("capabilities") or {}
        if "ALL" not in [str(x).upper() for x in as_list(caps.get("drop"))]:
            yield f"{_name(c)} does not drop ALL capabilities"


@resource_rule(
    "k8s-probes",
    *LONG_RUNNING,
    description="Long-running containers define liveness and readiness probes.",
    severity="low",
    remediation="Add livenessProbe and readinessProbe.",
    enforcement=RELAXED_DEV,
    checkov=("CKV_K8S_8", "CKV_K8S_9"),
)
def probes(res: Res, ctx: Ctx) -> Iterator[str]:
    for c in containers(res, init=False):
        missing = [p for p in ("livenessProbe", "readinessProbe") if not c.get(p)]
        if missing:
            yield f"{_name(c)} lacks {' and '.join(missing)}"


HELM_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")


def namespace_of(res: Res) -> str:
    ns = res.get("namespace") if res.type in HELM_TYPES else res.path("metadata", "namespace")
    if ns:
        return str(ns)
    provider_ns = res.provider_props.get("namespace") if res.provider_props else None
    return str(provider_ns) if provider_ns else "default"


@resource_rule(
    "k8s-no-default-namespace",
    prefix=NAMESPACED_PREFIX,
    description="Namespaced Kubernetes objects do not live in the default namespace.",
    severity="low",
    remediation="Create a namespace for the workload and set metadata.namespace.",
    enforcement=RELAXED_DEV,
    framework=cis_eks("4.6.2"),
    checkov=("CKV_K8S_21",),
)
def not_default_namespace(res: Res, ctx: Ctx) -> Iterator[str]:
    kind = res.type.rsplit(":", 1)[-1]
    if (
        res.type in CLUSTER_SCOPED
        or kind.startswith("Cluster")
        or res.type.startswith(("kubernetes:helm.sh/v3:Chart", "kubernetes:yaml", "kubernetes:kustomize"))
    ):
        return
    if res.type.endswith("List") or res.type.startswith("pulumi:"):
        return
    if namespace_of(res) == "default":
        yield "the object lives in the default namespace"


INTERNAL_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
    "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
}


@resource_rule(
    "k8s-internal-load-balancer",
    SERVICE,
    description="LoadBalancer Services are internal unless explicitly allowed.",
    severity="high",
    remediation=(
        "Annotate service.beta.kubernetes.io/aws-load-balancer-scheme: internal, or list the service "
        "(namespace/name) in allowedPublicServices."
    ),
    props={"allowedPublicServices": Prop(STR_LIST, [])},
)
def internal_lb(res: Res, ctx: Ctx) -> Iterator[str]:
    if res.path("spec", "type") != "LoadBalancer":
        return
    annotations = res.path("metadata", "annotations", default={}) or {}
    if any(str(annotations.get(k, "")).lower() == v for k, v in INTERNAL_ANNOTATIONS.items()):
        return
    allowed = [str(n) for n in ctx.get("allowedPublicServices")]
    if f"{namespace_of(res)}/{res.path('metadata', 'name') or res.name}" in allowed:
        return
    yield "a LoadBalancer Service without the internal scheme annotation gets an internet-facing load balancer"


NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def _is_default_deny(policy: Res) -> bool:
    """A NetworkPolicy selecting every pod of its namespace that denies all ingress (no ingress rules)."""
    spec = policy.get("spec") or {}
    selector = spec.get("podSelector") or {}
    selects_all = not selector.get("matchLabels") and not selector.get("matchExpressions")
    return selects_all and "Ingress" in as_list(spec.get("policyTypes")) and not spec.get("ingress")


@stack_rule(
    "k8s-namespace-default-deny",
    description="Namespaces the stack creates and runs workloads in have a default-deny ingress NetworkPolicy.",
    severity="medium",
    remediation=(
        "Add a NetworkPolicy with podSelector {} and policyTypes ['Ingress'] (no ingress rules) in the "
        "namespace, then allow the traffic the workloads need."
    ),
    framework=cis_eks("4.3.2"),
)
def namespace_default_deny(stack: Stack, ctx: Ctx) -> Iterator[tuple[str, str]]:
    """Namespaces this stack creates and runs workloads in have a default-deny ingress NetworkPolicy."""
    with_workloads = {namespace_of(r) for r in stack.of_type(*WORKLOADS)}
    denied = {namespace_of(p) for p in stack.of_type(NETWORK_POLICY) if _is_default_deny(p)}
    for ns in stack.of_type(NAMESPACE):
        name = str(ns.path("metadata", "name") or "")
        if name in with_workloads and name not in denied:
            yield f"namespace {name!r} runs workloads without a default-deny ingress NetworkPolicy", ns.urn


OPEN_CIDRS = ("0.0.0.0/0", "::/0")


def _is_default_deny_egress(policy: Res) -> bool:
    """A NetworkPolicy selecting every pod of its namespace that denies all egress (no egress rules)."""
    spec = policy.get("spec") or {}
    selector = spec.get("podSelector") or {}
    selects_all = not selector.get("matchLabels") and not selector.get("matchExpressions")
    return selects_all and "Egress" in as_list(spec.get("policyTypes")) and not spec.get("egress")


def _open_egress(policy: Res) -> Iterator[str]:
    """Egress rules of ``policy`` that reach the internet: no ``to`` (every destination) or an open ipBlock."""
    spec = policy.get("spec") or {}
    if "Egress" not in as_list(spec.get("policyTypes")) and not spec.get("egress"):
        return
    for i, rule in enumerate(as_list(spec.get("egress"))):
        if not isinstance(rule, dict):
            continue
        peers = as_list(rule.get("to"))
        if not peers:
            yield f"egress rule {i} names no destination (every address, the internet included)"
            continue
        for peer in peers:
            cidr = (peer.get("ipBlock") or {}).get("cidr") if isinstance(peer, dict) else None
            if cidr in OPEN_CIDRS:
                yield f"egress rule {i} allows {cidr}"


@stack_rule(
    "k8s-namespace-egress-restricted",
    description=(
        "Namespaces the stack runs workloads in deny egress by default, and no NetworkPolicy allows egress to "
        "0.0.0.0/0, ::/0 or every destination (a rule without 'to'), unless listed in allowedOpenEgress."
    ),
    severity="high",
    remediation=(
        "Add a NetworkPolicy with podSelector {} and policyTypes ['Egress'] (no egress rules), then allow the "
        "destinations the workloads need by CIDR, namespace or pod (AWS APIs through VPC interface endpoints, "
        "i.e. the VPC CIDR); list namespace/name in allowedOpenEgress only with a reason."
    ),
    framework=cis_eks("4.3.2"),
    props={"allowedOpenEgress": Prop(STR_LIST, [])},
)
def namespace_egress_restricted(stack: Stack, ctx: Ctx) -> Iterator[tuple[str, str]]:
    """Namespaces this stack runs workloads in deny egress by default, and no NetworkPolicy opens egress to
    the internet (0.0.0.0/0, ::/0, or a rule without destinations) unless allow-listed."""
    allowed = {str(n) for n in ctx.get("allowedOpenEgress")}
    with_workloads = {namespace_of(r) for r in stack.of_type(*WORKLOADS)}
    policies = stack.of_type(NETWORK_POLICY)
    denied = {namespace_of(p) for p in policies if _is_default_deny_egress(p)}
    for ns in stack.of_type(NAMESPACE):
        name = str(ns.path("metadata", "name") or "")
        if name in with_workloads and name not in denied:
            yield f"namespace {name!r} runs workloads without a default-deny egress NetworkPolicy", ns.urn
    for policy in policies:
        key = f"{namespace_of(policy)}/{policy.path('metadata', 'name') or policy.name}"
        if key in allowed:
            continue
        for finding in _open_egress(policy):
            yield f"NetworkPolicy {key}: {finding}", policy.urn


MONITORING_CHARTS = ("kube-prometheus-stack", "dcgm-exporter")


def _chart(res: Res) -> str:
    return str(res.get("chart") or "").rstrip("/").rsplit("/", 1)[-1]


def _values(res: Res) -> dict[str, Any]:
    values = res.get("values")
    return values if isinstance(values, dict) else {}


def _denies_everything(policy: Res) -> bool:
    """A NetworkPolicy selecting every pod of its namespace that denies all ingress and all egress."""
    spec = policy.get("spec") or {}
    types = as_list(spec.get("policyTypes"))
    return _is_default_deny(policy) and "Egress" in types and not spec.get("egress")


@stack_rule(
    "k8s-monitoring-default-deny",
    description=(
        "The namespaces of the monitoring charts (kube-prometheus-stack, its node-exporter namespace, "
        "dcgm-exporter) deny all ingress and egress by default."
    ),
    severity="high",
    remediation=(
        "Add a NetworkPolicy with podSelector {}, policyTypes ['Ingress', 'Egress'] and no rules in the "
        "namespace, then the narrow allows (components/monitoring/monitoring.py network_policies)."
    ),
    framework=cis_eks("4.3.2"),
)
def monitoring_default_deny(stack: Stack, ctx: Ctx) -> Iterator[tuple[str, str]]:
    """The namespaces the monitoring charts run in deny all ingress and egress unless a policy allows it."""
    denied = {namespace_of(p) for p in stack.of_type(NETWORK_POLICY) if _denies_everything(p)}
    for release in stack.of_type(*HELM_TYPES):
        chart = _chart(release)
        if chart not in MONITORING_CHARTS:
            continue
        namespaces = [namespace_of(release)]
        exporter = _values(release).get("prometheus-node-exporter")
        if (
            chart == "kube-prometheus-stack"
            and isinstance(exporter, dict)
            and exporter.get("namespaceOverride")
        ):
            namespaces.append(str(exporter["namespaceOverride"]))
        for ns in dict.fromkeys(namespaces):
            if ns not in denied:
                yield (
                    f"{chart} runs in namespace {ns!r}, which has no NetworkPolicy denying all ingress and egress",
                    release.urn,
                )


_UI_COMPONENTS = ("prometheus", "alertmanager", "grafana", "thanosRuler")


@resource_rule(
    "k8s-monitoring-ui-internal",
    *HELM_TYPES,
    description=(
        "kube-prometheus-stack keeps Prometheus, Alertmanager and Grafana inside the cluster (ClusterIP "
        "Services, no Ingress) and Grafana without anonymous access."
    ),
    severity="high",
    remediation=(
        "Remove the Ingress or LoadBalancer/NodePort Service and anonymous Grafana; reach the UIs with "
        "kubectl port-forward (docs/monitoring.md)."
    ),
)
def monitoring_ui_internal(res: Res, ctx: Ctx) -> Iterator[str]:
    """kube-prometheus-stack keeps its UIs in the cluster: ClusterIP Services, no Ingress, no anonymous
    Grafana (Prometheus and Alertmanager have no login of their own)."""
    if _chart(res) != "kube-prometheus-stack":
        return
    values = _values(res)
    for component in _UI_COMPONENTS:
        settings = values.get(component)
        if not isinstance(settings, dict):
            continue
        for key in ("ingress", "ingressPerReplica", "thanosIngress"):
            block = settings.get(key)
            if isinstance(block, dict) and truthy(block.get("enabled")):
                yield f"{component}.{key} is enabled: the UI is published through an Ingress"
        for key in ("service", "servicePerReplica", "thanosServiceExternal"):
            block = settings.get(key)
            if not isinstance(block, dict) or (key != "service" and not truthy(block.get("enabled"))):
                continue
            kind = block.get("type")
            if kind and str(kind) != "ClusterIP":
                yield f"{component}.{key}.type is {kind}: the UI is reachable from outside the cluster"
    grafana = values.get("grafana")
    ini = grafana.get("grafana.ini") if isinstance(grafana, dict) else None
    anonymous = ini.get("auth.anonymous") if isinstance(ini, dict) else None
    if isinstance(anonymous, dict) and truthy(anonymous.get("enabled")):
        yield "grafana.ini auth.anonymous.enabled lets anyone use Grafana without logging in"


_POSTGRES_URI = re.compile(r"postgres(?:ql)?(?:\+\w+)?://[^\s'\"]*")


def _postgres_settings(c: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """The PostgreSQL URIs in a container's command, args and env values, and its plain env."""
    env = {
        str(e.get("name")): str(e.get("value"))
        for e in as_list(c.get("env"))
        if isinstance(e, dict) and isinstance(e.get("value"), str)
    }
    texts = [str(x) for x in [*as_list(c.get("command")), *as_list(c.get("args")), *env.values()]]
    return [m.group(0) for t in texts for m in _POSTGRES_URI.finditer(t)], env


@resource_rule(
    "k8s-postgres-tls-verified",
    *WORKLOADS,
    description=(
        "Containers that connect to PostgreSQL verify the server: sslmode=verify-full in every postgresql URI "
        "and in PGSSLMODE, with a CA bundle (PGSSLROOTCERT or sslrootcert)."
    ),
    severity="high",
    remediation=(
        "Use sslmode=verify-full and point PGSSLROOTCERT at the RDS CA bundle the image ships "
        "(mlops_platform.components.mlflow.server.RDS_CA_BUNDLE_PATH)."
    ),
)
def postgres_tls_verified(res: Res, ctx: Ctx) -> Iterator[str]:
    for c in containers(res):
        uris, env = _postgres_settings(c)
        if not uris and "PGSSLMODE" not in env:
            continue
        for uri in uris:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query)
            mode = (query.get("sslmode") or [env.get("PGSSLMODE", "")])[-1]
            if mode != "verify-full":
                yield f"{_name(c)} connects to {uri.split('?')[0]} with sslmode={mode or 'prefer'}, not verify-full"
        if "PGSSLMODE" in env and env["PGSSLMODE"] != "verify-full":
            yield f"{_name(c)} sets PGSSLMODE={env['PGSSLMODE']}, not verify-full"
        if "PGSSLROOTCERT" not in env and not any("sslrootcert=" in uri for uri in uris):
            yield f"{_name(c)} names no CA bundle (PGSSLROOTCERT or sslrootcert) to verify PostgreSQL with"
