"""The Kubernetes objects the platform creates itself, as the Kubernetes provider would send them.

Every ``kubernetes:*`` custom resource of the graph except Helm releases/charts, providers, patches and
lists becomes one :class:`~mlops_platform.mlops.verify.model.Manifest`: ``apiVersion`` and ``kind`` (from the inputs, or
from the resource type), the metadata and every other top-level field the resource passes (``spec``,
``data``, ``stringData``, ``rules``, ``roleRef``, ``subjects``, ...).

- An auto-named object gets the name the provider gives it: the ``metadata.name`` the (mocked) provider
  answered with, or the Pulumi name plus an 8-character suffix (the provider's own auto-naming scheme).
- Secrets (:class:`mlops_platform.mlops.graph.Secret`) are revealed: the schema must judge the value the cluster gets.
  Messages that quote a value go through :func:`scrub`, which replaces every secret string of the
  resource, so no finding ever prints one.
- Values unknown at preview (``"@unknown"``) become :class:`Unknown` markers; each validating layer
  replaces them with a placeholder valid for the field's schema type (:func:`fill_unknowns`), so the
  schema judges our structure, not the mock's values, and the semantic checks skip them.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

from mlops_platform.mlops.graph import Graph, Resource, Secret
from mlops_platform.mlops.verify.model import Manifest, VerifyContext

UNKNOWN = "@unknown"

_NOT_OBJECTS = ("kubernetes:helm.sh/", "kubernetes:yaml", "kubernetes:kustomize")
"""Resource types that are not one Kubernetes object (releases, charts, config groups)."""

_PROVIDER_ONLY_INPUTS = frozenset({"__fieldManager"})


class Unknown(str):
    """A value the engine did not know at preview time (``"@unknown"``)."""

    __slots__ = ()

    def __new__(cls) -> Unknown:
        return super().__new__(cls, UNKNOWN)


def api_version_of(resource_type: str) -> tuple[str, str] | None:
    """``kubernetes:apps/v1:Deployment`` -> ``("apps/v1", "Deployment")``; core group -> ``v1``."""
    parts = resource_type.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes" or "/" not in parts[1]:
        return None
    group, version = parts[1].split("/", 1)
    return (version if group == "core" else f"{group}/{version}"), parts[2]


def is_object_resource(resource: Resource) -> bool:
    """True for a resource that is exactly one Kubernetes object the platform creates."""
    if not resource.custom or resource.is_provider or not resource.type.startswith("kubernetes:"):
        return False
    if resource.type.startswith(_NOT_OBJECTS):
        return False
    kind = resource.type.rsplit(":", 1)[-1]
    # A *Patch resource only patches an object someone else created; a *List is never created as such.
    return not (kind.endswith("Patch") or kind.endswith("List"))


def _unwrap(value: Any) -> Any:
    """Secrets revealed, ``"@unknown"`` turned into :class:`Unknown` markers (deep copy)."""
    if isinstance(value, Secret):
        return _unwrap(value.value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_unwrap(v) for v in value]
    if value == UNKNOWN:
        return Unknown()
    return value


def _suffix(resource: Resource) -> str:
    return hashlib.sha256(resource.urn.encode()).hexdigest()[:8]


def manifest_of(resource: Resource) -> Manifest:
    """The object the provider would send for one ``kubernetes:*`` resource."""
    obj: dict[str, Any] = {
        k: _unwrap(v) for k, v in resource.inputs.items() if k not in _PROVIDER_ONLY_INPUTS
    }
    typed = api_version_of(resource.type)
    if typed is not None and resource.type != "kubernetes:apiextensions.k8s.io:CustomResource":
        obj.setdefault("apiVersion", typed[0])
        obj.setdefault("kind", typed[1])
    meta = obj.get("metadata")
    meta = dict(meta) if isinstance(meta, dict) else {}
    name = meta.get("name")
    if not name or isinstance(name, Unknown):
        answered = (resource.outputs.get("metadata") or {}).get("name")
        if isinstance(answered, str) and answered and answered != UNKNOWN:
            meta["name"] = answered
        elif not meta.get("generateName"):
            meta["name"] = f"{resource.name}-{_suffix(resource)}"
    ordered: dict[str, Any] = {}
    for key in ("apiVersion", "kind"):
        if key in obj:
            ordered[key] = obj.pop(key)
    ordered["metadata"] = meta
    obj.pop("metadata", None)
    ordered.update(obj)
    return Manifest(obj=ordered, resource=resource)


def platform_manifests(graph: Graph) -> list[Manifest]:
    """Every Kubernetes object the platform creates itself, in registration order."""
    return [manifest_of(r) for r in graph.resources if is_object_resource(r)]


def expand(manifests: list[Manifest]) -> list[Manifest]:
    """Manifests with every ``v1 List`` replaced by its items, as helm and kubectl apply them (a chart may
    render a List; the API server has no List kind)."""
    out: list[Manifest] = []
    for manifest in manifests:
        if manifest.api_version == "v1" and manifest.kind == "List":
            items = [i for i in manifest.obj.get("items") or [] if isinstance(i, dict)]
            out.extend(
                expand(
                    [Manifest(obj=i, resource=manifest.resource, template=manifest.template) for i in items]
                )
            )
        else:
            out.append(manifest)
    return out


def manifests_of(ctx: VerifyContext) -> list[Manifest]:
    """Every object of the context (plain and rendered), Lists expanded."""
    return expand(ctx.all_manifests())


def crds_of(manifests: list[Manifest]) -> list[dict[str, Any]]:
    return [m.obj for m in manifests if m.kind == "CustomResourceDefinition"]


def secret_strings(resource: Resource) -> list[str]:
    """Every string inside a secret input of ``resource`` (longest first, for :func:`scrub`)."""
    found: set[str] = set()

    def walk(value: Any, inside: bool) -> None:
        if isinstance(value, Secret):
            walk(value.value, True)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v, inside)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v, inside)
        elif inside and value is not None and str(value):
            found.add(str(value))

    walk(resource.inputs, False)
    return sorted(found, key=len, reverse=True)


def scrub(message: str, manifest: Manifest, limit: int = 400) -> str:
    """``message`` with every secret value of the manifest's resource replaced, and kept short."""
    for secret in secret_strings(manifest.resource):
        message = message.replace(secret, "[secret]")
    return message if len(message) <= limit else message[: limit - 3] + "..."


def fmt_path(parts: Iterator[Any] | list[Any] | tuple[Any, ...]) -> str:
    """``["spec", "containers", 0, "ports"]`` -> ``spec.containers[0].ports``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def describe(manifest: Manifest) -> str:
    """The prefix of a finding's message: the chart template that rendered the object (the object itself
    and the path are fields of the finding)."""
    return f"{manifest.template}: " if manifest.template else ""


# --- typed placeholders for unknown values ---------------------------------------------------------

Resolve = Callable[[dict[str, Any]], dict[str, Any]]


def _types(schema: dict[str, Any]) -> list[str]:
    t = schema.get("type")
    if isinstance(t, str):
        return [t]
    if isinstance(t, list):
        return [x for x in t if x != "null"]
    return []


def placeholder(schema: dict[str, Any], resolve: Resolve) -> Any:
    """A value valid for ``schema``'s type (first enum value, else a neutral value of the type)."""
    schema = resolve(schema)
    if schema.get("enum"):
        return copy.deepcopy(next((v for v in schema["enum"] if v is not None), schema["enum"][0]))
    if "default" in schema:
        return copy.deepcopy(schema["default"])
    for junctor in ("oneOf", "anyOf", "allOf"):
        if schema.get(junctor):
            return placeholder(schema[junctor][0], resolve)
    if schema.get("x-kubernetes-int-or-string"):
        return 1
    types = _types(schema)
    kind = types[0] if types else "string"
    if kind == "integer" or kind == "number":
        low = schema.get("minimum")
        return int(low) + (1 if schema.get("exclusiveMinimum") is True else 0) if low is not None else 1
    if kind == "boolean":
        return False
    if kind == "object":
        return {}
    if kind == "array":
        return []
    fmt = schema.get("format")
    if fmt == "date-time":
        return "1970-01-01T00:00:00Z"
    if fmt == "date":
        return "1970-01-01"
    if fmt == "byte":
        return "AA=="
    if fmt == "duration":
        return "1s"
    if fmt in ("int-or-string", "quantity"):
        return "1"
    return "unknown"


def _child(schema: dict[str, Any], key: Any, resolve: Resolve) -> dict[str, Any] | None:
    schema = resolve(schema)
    if isinstance(key, int):
        items = schema.get("items")
        return items if isinstance(items, dict) else None
    props = schema.get("properties") or {}
    if key in props:
        return props[key]
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        return extra
    for junctor in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(junctor) or []:
            found = _child(sub, key, resolve)
            if found is not None:
                return found
    return None


def has_unknowns(value: Any) -> bool:
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(has_unknowns(v) for v in value.values())
    if isinstance(value, list):
        return any(has_unknowns(v) for v in value)
    return False


def fill_unknowns(value: Any, schema: dict[str, Any] | None, resolve: Resolve) -> Any:
    """A copy of ``value`` with every :class:`Unknown` replaced by a placeholder of its schema type."""
    if isinstance(value, Unknown):
        return placeholder(schema, resolve) if schema is not None else "unknown"
    if isinstance(value, dict):
        return {
            k: fill_unknowns(v, _child(schema, k, resolve) if schema is not None else None, resolve)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            fill_unknowns(v, _child(schema, i, resolve) if schema is not None else None, resolve)
            for i, v in enumerate(value)
        ]
    return value
