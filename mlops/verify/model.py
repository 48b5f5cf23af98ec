"""What ``mlops verify`` passes between its layers: findings, rendered releases and manifests.

The layers (helm render and values keys, Kubernetes and CRD schemas, API-server semantics, IAM lint, the
policy pack over chart manifests) each take a :class:`VerifyContext` and return :class:`Finding` objects;
``mlops_platform.mlops.verify.runner`` runs them in order and applies the accepted-findings list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_platform.mlops.graph import Graph, Resource, SourcePosition

if TYPE_CHECKING:
    from mlops_platform.mlops.verify.cel import Coverage


@dataclass(frozen=True)
class Finding:
    """One thing a real tool rejected, located at the resource (and object) that made it."""

    layer: str
    """helm, values, schema, crd, semantics, iam or policy."""
    check: str
    """A stable identifier of the check inside its layer, e.g. ``unknown-values-key``."""
    message: str
    urn: str = ""
    type: str = ""
    name: str = ""
    source: SourcePosition | None = None
    object: str = ""
    """The Kubernetes object or policy document inside the resource, e.g. ``apps/v1 Deployment ns/name``."""
    path: str = ""
    """Where inside that object, e.g. ``spec.template.spec.containers[0].ports``."""

    @classmethod
    def at(cls, resource: Resource | None, layer: str, check: str, message: str, **kw: Any) -> Finding:
        if resource is None:
            return cls(layer=layer, check=check, message=message, **kw)
        return cls(
            layer=layer,
            check=check,
            message=message,
            urn=resource.urn,
            type=resource.type,
            name=resource.name,
            source=resource.source,
            **kw,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "check": self.check,
            "message": self.message,
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "object": self.object,
            "path": self.path,
            "source": None if self.source is None else {"file": self.source.file, "line": self.source.line},
        }


@dataclass
class Manifest:
    """A Kubernetes object the platform would apply: a plain resource of ours or one a chart renders."""

    obj: dict[str, Any]
    resource: Resource
    """The graph resource it comes from (the kubernetes:* resource itself, or the Helm release)."""
    template: str = ""
    """For a chart's object, the template that rendered it (``# Source:`` of helm's output)."""

    @property
    def api_version(self) -> str:
        return str(self.obj.get("apiVersion", ""))

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def namespace(self) -> str:
        return str((self.obj.get("metadata") or {}).get("namespace") or "")

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name") or "")

    def ref(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.api_version} {self.kind} {where}"


@dataclass
class RenderedRelease:
    """One Helm release of the graph, rendered by the real helm with the values it passes."""

    resource: Resource
    chart: str
    version: str
    repository: str
    release_name: str
    namespace: str
    values: dict[str, Any]
    """The values the release passes, unknown and secret values replaced by typed placeholders."""
    chart_dir: Path | None
    manifests: list[Manifest] = field(default_factory=list)
    """Every object helm rendered (CRDs included), in order."""


@dataclass
class VerifyContext:
    graph: Graph
    stack: str
    kube_version: str
    """The cluster's Kubernetes version as ``MAJOR.MINOR`` (from the EKS cluster of the graph)."""
    releases: list[RenderedRelease] = field(default_factory=list)
    """Filled by the helm layer before the other layers run."""
    cel_rules: Coverage | None = None
    """Filled by the crd layer: the CEL rules of the CRDs in use, evaluated or not (and why not)."""
    charts_root: Path | None = None
    """The charts directory (``--charts``/``MLOPS_CHARTS``, or the pull cache): where CRD bundles are found
    (:mod:`mlops_platform.mlops.verify.crd_bundles`)."""
    pull_bundles: bool = False
    """Charts are pulled (no charts directory): a missing CRD bundle is downloaded into ``charts_root``."""

    def plain_manifests(self) -> list[Manifest]:
        """Every Kubernetes object the platform creates itself (kubernetes:* resources, not Helm releases)."""
        from mlops_platform.mlops.verify.objects import platform_manifests

        return platform_manifests(self.graph)

    def chart_manifests(self) -> list[Manifest]:
        return [m for r in self.releases for m in r.manifests]

    def all_manifests(self) -> list[Manifest]:
        return self.plain_manifests() + self.chart_manifests()

    def crds(self) -> list[dict[str, Any]]:
        """Every CustomResourceDefinition the platform installs (rendered by its charts or its own)."""
        return [m.obj for m in self.all_manifests() if m.kind == "CustomResourceDefinition"]
