"""Layer ``policy``: the policy pack's Kubernetes rules over the objects the charts render.

Every third-party workload of the platform is a Helm release; the pack sees only the release (its chart,
version and repository), never the pods inside it. This layer is the second, declared path by which the
pack judges those pods: every object the helm layer rendered (``ctx.chart_manifests()``) becomes a
synthetic graph resource of the type token the Kubernetes provider would give it
(``kubernetes:apps/v1:Deployment``, ``kubernetes:core/v1:Pod``, ``kubernetes:batch/v1:Job``...), with the
manifest as its inputs, the release as its parent, the release's provider and source position. They go
through the real pack over the analyzer protocol (one pack process per run), configured with
``policies/config/<stack>.json`` exactly as ``mlops check`` configures it. With them go the platform's own
Namespaces and NetworkPolicies, so that ``k8s-namespace-default-deny`` sees the chart workloads of the
namespaces the platform creates (the platform's own workloads are ``mlops check``'s business and are not
sent again).

Only the pack's Kubernetes rules (and its Argo Workflows rules) count here (the AWS rules do not apply to these objects and the stack
rules of other services would see a partial stack). Every violation (advisory ones included: the same
objects are mandatory in staging and prod) is a finding located at the release, ``object`` naming the chart
object. Exemptions a chart needs are entries of :mod:`mlops_platform.mlops.verify.accepted`, each with its reason.

Why not ``kubernetes:helm.sh/v4:Chart``: a v4 Chart is a remote component (the provider renders it and
registers the children), which the offline engine cannot see into, and DESIGN.md asks for no remote
components; the atomic ``helm.v3.Release`` also gives the platform rollback on a failed upgrade.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from mlops_platform.mlops.analyzer import AnalyzerError, CheckResult, analyze_with, load_config, pack_process
from mlops_platform.mlops.graph import Graph, Resource
from mlops_platform.mlops.verify.model import Finding, Manifest, RenderedRelease, VerifyContext
from mlops_platform.policies.rules import argo_workloads as argo_rules
from mlops_platform.policies.rules import kubernetes as k8s_rules
from mlops_platform.policies.rules import rules_in
from mlops_platform.policies.rules.kubernetes import WORKLOADS

LAYER = "policy"
PACK_FAILED = "pack-failed"
"""The check of the finding when the pack cannot run (``mlops verify`` counts it as incomplete)."""
PACK_DIR = Path(__file__).resolve().parents[2] / "policies"

NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"

CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "CSIDriver",
        "CSINode",
        "CertificateSigningRequest",
        "CustomResourceDefinition",
        "DeviceClass",
        "FlowSchema",
        "IngressClass",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "ResourceSlice",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
    }
)
"""Built-in kinds that live outside namespaces (``Cluster*`` kinds and CRDs' own scopes are added)."""


def kubernetes_rules() -> frozenset[str]:
    """The names of the pack's Kubernetes rules (policies/rules/kubernetes.py, and argo_workloads.py for the
    Argo Workflows objects a chart may render)."""
    return frozenset(rule.name for rule in rules_in(k8s_rules, argo_rules))


def type_token(obj: dict[str, Any]) -> str:
    """The Pulumi type token of a Kubernetes object: ``kubernetes:<group>/<version>:<Kind>`` (core = ``core``)."""
    api_version = str(obj.get("apiVersion") or "")
    group, _, version = api_version.rpartition("/")
    return f"kubernetes:{group or 'core'}/{version}:{obj.get('kind') or ''}"


def _cluster_scoped(ctx: VerifyContext) -> frozenset[str]:
    kinds = set(CLUSTER_SCOPED_KINDS)
    # The charts' own CRDs (the platform creates none of its own).
    for crd in (m.obj for m in ctx.chart_manifests() if m.kind == "CustomResourceDefinition"):
        spec = crd.get("spec") or {}
        if spec.get("scope") == "Cluster":
            kinds.add(str((spec.get("names") or {}).get("kind") or ""))
    return frozenset(kinds)


def chart_resource(
    release: RenderedRelease, manifest: Manifest, cluster_scoped: frozenset[str], taken: set[str]
) -> Resource:
    """The graph resource a chart object would be if the platform created it itself."""
    obj = copy.deepcopy(manifest.obj)
    kind = str(obj.get("kind") or "")
    metadata = obj.setdefault("metadata", {})
    if not isinstance(metadata, dict):
        metadata = obj["metadata"] = {}
    if not _is_cluster_scoped(kind, cluster_scoped) and not metadata.get("namespace"):
        # helm installs an object without a namespace into the release's namespace.
        metadata["namespace"] = release.namespace
    where = f"{metadata.get('namespace')}/" if metadata.get("namespace") else ""
    name = f"{release.resource.name}/{kind}/{where}{metadata.get('name') or '?'}"
    unique, n = name, 1
    while unique in taken:
        n += 1
        unique = f"{name}#{n}"
    taken.add(unique)
    type_ = type_token(obj)
    prefix = release.resource.urn.rsplit("::", 1)[0]
    return Resource(
        urn=f"{prefix}${type_}::{unique}",
        type=type_,
        name=unique,
        custom=True,
        parent=release.resource.urn,
        provider=release.resource.provider,
        inputs=obj,
        source=release.resource.source,
    )


def policy_config(stack: str, pack_dir: Path = PACK_DIR) -> tuple[dict[str, Any], str]:
    """``policies/config/<stack>.json`` (as ``mlops check`` reads it); the pack's defaults when absent."""
    path = pack_dir / "config" / f"{stack}.json"
    if not path.exists():
        return {}, f"{path} (absent: the pack's defaults, its strictest levels)"
    return load_config(path), str(path)


def check(ctx: VerifyContext, *, pack_dir: Path = PACK_DIR) -> list[Finding]:
    pairs = [(release, m) for release in ctx.releases for m in release.manifests]
    if not pairs:
        return []
    cluster_scoped = _cluster_scoped(ctx)
    taken: set[str] = set()
    synthetic: dict[str, tuple[RenderedRelease, Manifest, Resource]] = {}
    for release, manifest in pairs:
        if not manifest.kind or manifest.kind.endswith("List") or manifest.kind == "CustomResourceDefinition":
            # A CRD is a schema (megabytes of it), cluster-scoped and no workload: no Kubernetes rule of the
            # pack judges one (the crd layer reads them).
            continue
        r = chart_resource(release, manifest, cluster_scoped, taken)
        synthetic[r.urn] = (release, manifest, r)
    by_urn = ctx.graph.by_urn()
    providers = {r.provider for _, _, r in synthetic.values() if r.provider}
    context = [r for r in ctx.graph.resources if r.urn in providers or r.type in (NAMESPACE, NETWORK_POLICY)]
    graph = Graph(
        project=ctx.graph.project,
        stack=ctx.graph.stack,
        resources=[*context, *(r for _, _, r in synthetic.values())],
    )
    try:
        config, source = policy_config(ctx.stack, pack_dir)
        with pack_process(pack_dir) as pack:
            result = analyze_with(pack.connect(), graph, config=config, config_source=source)
    except AnalyzerError as err:
        # The charts' objects could not be judged at all: the run is incomplete, not clean.
        return [Finding(layer=LAYER, check=PACK_FAILED, message=f"the policy pack could not run: {err}")]
    cluster_wide = {urn for urn, (_, m, _) in synthetic.items() if _is_cluster_scoped(m.kind, cluster_scoped)}
    return findings_of(result, synthetic, by_urn, cluster_wide)


def _is_cluster_scoped(kind: str, cluster_scoped: frozenset[str]) -> bool:
    return kind in cluster_scoped or kind.startswith("Cluster")


def findings_of(
    result: CheckResult,
    synthetic: dict[str, tuple[RenderedRelease, Manifest, Resource]],
    by_urn: dict[str, Resource],
    cluster_wide: set[str] | frozenset[str] = frozenset(),
) -> list[Finding]:
    """The pack's Kubernetes-rule violations as findings: at the release for a chart object, where the
    stack rule points (a Namespace of the platform) for ``k8s-namespace-default-deny``."""
    rules = kubernetes_rules()
    findings: list[Finding] = []
    for v in result.violations:
        if v.policy not in rules or v.enforcement == "disabled":
            continue
        if v.policy == "k8s-no-default-namespace" and v.urn in cluster_wide:
            # The pack knows the built-in cluster-scoped kinds only; a chart's cluster-scoped custom
            # resource (its CRD says so) has no namespace, let alone the default one.
            continue
        if v.urn in synthetic:
            release, manifest, r = synthetic[v.urn]
            where = f" ({manifest.template})" if manifest.template else ""
            findings.append(
                Finding.at(
                    release.resource,
                    LAYER,
                    v.policy,
                    f"{v.enforcement}: {v.message}{where}",
                    # The ref with the namespace helm installs it into.
                    object=Manifest(r.inputs, release.resource).ref(),
                )
            )
        elif result.policies.get(v.policy) is not None and result.policies[v.policy].kind == "stack":
            # A stack rule over the chart objects, located where it points (a Namespace of the platform).
            at = by_urn.get(v.urn)
            ns = _name_of(at)
            workloads = sorted(
                Manifest(r.inputs, rel.resource).ref()
                for rel, _, r in synthetic.values()
                if ns and r.type in WORKLOADS and (r.inputs.get("metadata") or {}).get("namespace") == ns
            )
            detail = f"; chart workloads there: {', '.join(workloads)}" if workloads else ""
            findings.append(
                Finding.at(
                    at,
                    LAYER,
                    v.policy,
                    f"{v.enforcement}: {v.message}{detail}",
                    object=f"v1 Namespace {ns}" if ns else "",
                )
            )
    return findings


def _name_of(r: Resource | None) -> str:
    if r is None:
        return ""
    metadata = r.inputs.get("metadata")
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            metadata = None
    return str((metadata or {}).get("name") or "") if isinstance(metadata, dict) else ""
