"""Which environment a stack is, and so which policy config ``mlops check`` hands the policy pack.

A stack declares its environment in its own config, in two ways that normally agree:

* the key ``<project>:environment`` (``mlops-platform:environment`` on the platform, ``team-project:environment``
  in examples/team-project; Pulumi.yaml's default counts);
* the governance tag ``environment``: in the stack file's ``aws:defaultTags``, in the default tags of the AWS
  providers the program creates, or on its resources' own ``tags``.

Every declaration counts, and the strictest environment wins (``ENVIRONMENTS`` runs from the least to the
most protected): a resource tagged ``prod`` in a stack whose key says ``dev`` is judged with the prod config,
the same "stricter of the two" the pack applies to each resource, so a disagreement never weakens a check.
The stack's *name* is not a declaration: a stack named ``sandbox`` is whatever its config says. ``mlops check
--config FILE`` overrides all of this (the caller does not ask this module then).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mlops_platform.components.governance import ENVIRONMENTS
from mlops_platform.mlops.graph import Graph, Resource
from mlops_platform.mlops.stackconfig import StackConfig

TAG = "environment"


class StackEnvironmentError(Exception):
    """The stack's environment cannot be told, or is not one the pack has a config for; one line a problem."""

    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__("\n".join(lines))
        self.problems = list(lines)


@dataclass(frozen=True)
class Declaration:
    where: str
    """The file and key (or resource) that declares it, e.g. ``Pulumi.sandbox.yaml: team-project:environment``."""
    value: str


def _as_mapping(value: Any) -> Mapping[str, Any] | None:
    """A mapping as the engine records it: a dict, or (provider inputs) its JSON text."""
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, Mapping) else None


def _tag(tags: Any) -> str | None:
    found = _as_mapping(tags)
    value = None if found is None else found.get(TAG)
    # "@unknown": a preview unknown (the engine's decoding) declares nothing yet.
    return value if isinstance(value, str) and value != "@unknown" else None


def _resource_where(resource: Resource, fallback: str) -> str:
    where = str(resource.source) if resource.source is not None else fallback
    return f"{where}: {resource.type} {resource.name!r}"


def _from_graph(graph: Graph, fallback: str) -> Iterator[Declaration]:
    for resource in graph.resources:
        if resource.type == "pulumi:providers:aws":
            value = _tag((_as_mapping(resource.inputs.get("defaultTags")) or {}).get("tags"))
            if value is not None:
                yield Declaration(f"{_resource_where(resource, fallback)} defaultTags.tags.{TAG}", value)
        value = _tag(resource.inputs.get("tags"))
        if value is not None:
            yield Declaration(f"{_resource_where(resource, fallback)} tags.{TAG}", value)


def declarations(stack: StackConfig, graph: Graph | None) -> list[Declaration]:
    """Every place the stack declares its environment: config key, ``aws:defaultTags``, providers, resources."""
    found: list[Declaration] = []
    key = f"{stack.project.name}:{TAG}"
    if key in stack.values:
        found.append(Declaration(f"{stack.relpath}: {key}", stack.values[key]))
    value = _tag((_as_mapping(stack.values.get("aws:defaultTags")) or {}).get("tags"))
    if value is not None:
        found.append(Declaration(f"{stack.relpath}: aws:defaultTags tags.{TAG}", value))
    if graph is not None:
        found.extend(_from_graph(graph, stack.relpath))
    return found


def stack_environment(stack: StackConfig, graph: Graph | None) -> str:
    """The strictest environment the stack declares; StackEnvironmentError when it declares none, or one
    outside ``ENVIRONMENTS`` (each such value once, at its first place)."""
    found = declarations(stack, graph)
    allowed = ", ".join(ENVIRONMENTS[:-1]) + f" or {ENVIRONMENTS[-1]}"
    key = f"{stack.project.name}:{TAG}"
    if not found:
        raise StackEnvironmentError(
            [
                f"{stack.relpath}: mlops check cannot tell the stack's environment, so not which policy "
                f"config to use: set `{key}` ({allowed}) or the `{TAG}` tag in `aws:defaultTags` in this "
                f"file, or pass --config FILE"
            ]
        )
    problems: list[str] = []
    for value in dict.fromkeys(d.value for d in found):
        if value not in ENVIRONMENTS:
            first = next(d for d in found if d.value == value)
            more = sum(1 for d in found if d.value == value) - 1
            also = f" (and {more} more place(s))" if more else ""
            problems.append(
                f"{first.where}: environment {value!r}{also} has no policy config; allowed: {allowed} "
                f"(or pass --config FILE)"
            )
    if problems:
        raise StackEnvironmentError(problems)
    return max((d.value for d in found), key=ENVIRONMENTS.index)
