"""The resource graph the offline engine records: one :class:`Resource` per registration.

This is the contract that ``mlops plan --format json`` prints and that ``mlops check`` feeds to
the policy pack. Keep field names stable; extend freely.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

SECRET_MARKER = {"@secret": True}
"""How a secret value is shown in printed output. The value itself is never printed."""


class Secret:
    """A secret value captured from a resource's inputs. ``repr`` never reveals it."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "Secret([secret])"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.value == self.value

    def __hash__(self) -> int:
        return hash("Secret")


def redact(value: Any) -> Any:
    """A JSON-ready copy of ``value`` with every :class:`Secret` replaced by :data:`SECRET_MARKER`."""
    if isinstance(value, Secret):
        return dict(SECRET_MARKER)
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def reveal(value: Any) -> Any:
    """A copy of ``value`` with every :class:`Secret` unwrapped (for in-memory checks only)."""
    if isinstance(value, Secret):
        return reveal(value.value)
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [reveal(v) for v in value]
    return value


@dataclass
class SourcePosition:
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Resource:
    """One registered resource, as the engine would see it."""

    urn: str
    type: str
    name: str
    custom: bool
    id: str | None = None
    parent: str | None = None
    provider: str | None = None
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    protect: bool = False
    retain_on_delete: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    delete_before_replace: bool | None = None
    aliases: list[str] = field(default_factory=list)
    additional_secret_outputs: list[str] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    source: SourcePosition | None = None

    @property
    def is_provider(self) -> bool:
        return self.type.startswith("pulumi:providers:")

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "custom": self.custom,
            "id": self.id,
            "parent": self.parent,
            "provider": self.provider,
            "dependencies": list(self.dependencies),
            "propertyDependencies": {k: list(v) for k, v in self.property_dependencies.items()},
            "protect": self.protect,
            "retainOnDelete": self.retain_on_delete,
            "ignoreChanges": list(self.ignore_changes),
            "deleteBeforeReplace": self.delete_before_replace,
            "aliases": list(self.aliases),
            "additionalSecretOutputs": list(self.additional_secret_outputs),
            "source": None if self.source is None else {"file": self.source.file, "line": self.source.line},
            "inputs": redact(self.inputs),
        }


@dataclass
class Graph:
    """Every resource a stack program registered, in registration order, plus its stack outputs."""

    project: str
    stack: str
    resources: list[Resource]
    outputs: dict[str, Any] = field(default_factory=dict)

    def by_urn(self) -> dict[str, Resource]:
        return {r.urn: r for r in self.resources}

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Resource:
        """The single resource of ``type_`` (and ``name``); raises ``LookupError`` otherwise."""
        found = [r for r in self.resources if r.type == type_ and (name is None or r.name == name)]
        if len(found) != 1:
            raise LookupError(f"expected one {type_} {name or ''}, found {len(found)}")
        return found[0]

    def children(self, urn: str) -> list[Resource]:
        return [r for r in self.resources if r.parent == urn]

    def counts(self) -> Counter[str]:
        return Counter(r.type for r in self.resources)

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "project": self.project,
            "resources": [r.to_json() for r in self.resources],
            "outputs": redact(self.outputs),
            "summary": {"resources": len(self.resources), "types": dict(sorted(self.counts().items()))},
        }


def _urn_name(urn: str) -> str:
    return urn.split("::", 3)[3]


def _urn_qualified_type(urn: str) -> str:
    return urn.split("::", 3)[2]


def _urn_type(urn: str) -> str:
    return _urn_qualified_type(urn).rsplit("$", 1)[-1]


def answering_urns(graph: Graph) -> dict[str, list[str]]:
    """For every resource, the URNs the engine matches against the previous state, in its order: the
    resource's own URN, its aliases, then each alias its parent answers to carried down to it (the
    engine's ``generateAliases`` and ``inheritedChildAlias``, pkg/resource/deploy/step_generator.go).

    A resource whose previous URN is among them is updated in place, not replaced; so a change of type
    token or parent that these lists cover leaves a deployed stack's resources where they are."""
    head = f"urn:pulumi:{graph.stack}::{graph.project}::"
    aliases_of: dict[str, list[str]] = {}
    result: dict[str, list[str]] = {}
    for res in graph.resources:  # registration order: a parent is registered before its children
        found: list[str] = []

        def add(urn: str, found: list[str] = found, own: str = res.urn) -> None:
            if urn != own and urn not in found:
                found.append(urn)

        for alias in res.aliases:
            add(alias)
        if res.parent:
            parent_name = _urn_name(res.parent)
            for parent_alias in aliases_of.get(res.parent, []):
                own = [(res.type, res.name)] + [(_urn_type(a), _urn_name(a)) for a in res.aliases]
                for child_type, child_name in own:
                    name = child_name
                    if child_name.startswith(parent_name):
                        name = _urn_name(parent_alias) + child_name[len(parent_name) :]
                    add(f"{head}{_urn_qualified_type(parent_alias)}${child_type}::{name}")
        aliases_of[res.urn] = found
        result[res.urn] = [res.urn, *found]
    return result
