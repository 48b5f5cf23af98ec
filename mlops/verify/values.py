"""The values layer of ``mlops verify``: every values key a release passes must be one its chart reads.

Helm ignores a key the chart does not know, so a renamed or misspelt key silently does nothing. Each key
path of the values a release passes is looked up in the chart's ``values.yaml`` (subcharts' defaults under
their alias or name, ``global`` shared by all) and in its ``values.schema.json``; the values are also
validated against each schema, as ``helm install`` would after merging the defaults. Below the free-form
paths of :data:`FREE_FORM` (maps whose keys are data, not chart settings) nothing is checked; the free-form
key itself must still be one the chart has.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.validators import validator_for

from mlops_platform.mlops.verify.helm import ChartTree, load_chart
from mlops_platform.mlops.verify.model import Finding, RenderedRelease, VerifyContext

LAYER = "values"


@dataclass(frozen=True)
class FreeForm:
    pattern: str
    """Key path, ``.``-separated (``\\.`` for a dot inside a key); ``*`` matches one key, ``*Suffix`` a key
    ending so, a leading ``**.`` any number of keys."""
    reason: str

    def matches(self, path: tuple[str, ...]) -> bool:
        parts = tuple(p.replace("\0", ".") for p in self.pattern.replace("\\.", "\0").split("."))
        if parts[0] == "**":
            rest = parts[1:]
            return any(_match(rest, path[i:]) for i in range(len(path) - len(rest) + 1))
        return _match(parts, path)


def _match(parts: tuple[str, ...], path: tuple[str, ...]) -> bool:
    if len(parts) != len(path):
        return False
    for part, key in zip(parts, path, strict=True):
        if part == "*":
            continue
        if part.startswith("*") and key.endswith(part[1:]):
            continue
        if part != key:
            return False
    return True


_K8S = (
    "a Kubernetes API object the chart copies into its manifests (toYaml); its fields are checked by the "
    "schema layer on the rendered objects, against the cluster's OpenAPI schema"
)
_META = "Kubernetes labels or annotations: every key is data"

FREE_FORM: tuple[FreeForm, ...] = (
    FreeForm("**.annotations", _META),
    FreeForm("**.podAnnotations", _META),
    FreeForm("**.labels", _META),
    FreeForm("**.podLabels", _META),
    FreeForm("**.commonLabels", _META),
    FreeForm("**.nodeSelector", "node labels to select on: every key is a label"),
    FreeForm("**.*Selector", "a Kubernetes LabelSelector (or namespace selector): " + _K8S),
    FreeForm("**.affinity", _K8S),
    FreeForm("**.resources", _K8S),
    FreeForm("**.securityContext", _K8S),
    FreeForm("**.podSecurityContext", _K8S),
    FreeForm("**.containerSecurityContext", _K8S),
    FreeForm("**.livenessProbe", _K8S),
    FreeForm("**.readinessProbe", _K8S),
    FreeForm("**.startupProbe", _K8S),
    FreeForm("**.storageSpec", "a Prometheus/Alertmanager StorageSpec: " + _K8S + " (and the CRD layer)"),
    FreeForm("**.extraArgs", "command-line flags of the workload, passed through as given"),
    FreeForm("**.externalLabels", "Prometheus external labels: every key is a label name"),
    FreeForm(
        "alertmanager.config", "Alertmanager's own configuration file, rendered verbatim into its Secret"
    ),
    FreeForm("grafana.grafana\\.ini", "grafana.ini sections and keys, rendered verbatim"),
    FreeForm(
        "grafana.sidecar.*.env",
        "environment variables of one Grafana sidecar (name: value), rendered into its container's env",
    ),
    FreeForm("**.additionalScrapeConfigs", "Prometheus scrape configurations, rendered verbatim"),
)
"""The free-form value paths, declared once with the reason nothing below them is a chart setting."""


def free_form(path: tuple[str, ...]) -> FreeForm | None:
    return next((f for f in FREE_FORM if f.matches(path)), None)


# --- the chart's known keys -----------------------------------------------------------------------------


@dataclass
class Known:
    """What the chart declares at one key path: its default and its schema (either may be absent)."""

    default: Any
    schema: dict[str, Any] | None
    chart: ChartTree
    root: bool = False
    """The top of ``chart``'s values, where its subcharts' keys live."""
    path: tuple[str, ...] = ()
    """Where this is, relative to the top of ``chart``'s values."""
    conditions: frozenset[tuple[str, ...]] = frozenset()
    """Paths (relative to the top of ``chart``) that helm reads: dependency conditions and tags."""

    def child(self, key: str) -> Known | None:
        """The declaration of ``key`` below this path, or None if the chart declares no such key."""
        in_defaults = isinstance(self.default, dict) and key in self.default
        sub_schema = _schema_child(self.schema, key)
        subchart = self.chart.subcharts.get(key) if self.root else None
        if subchart is not None:
            merged = copy.deepcopy(subchart.values)
            if isinstance(self.default, dict) and isinstance(self.default.get(key), dict):
                merged = coalesce(merged, self.default[key])
            inherited = {c[1:] for c in self.conditions if len(c) > 1 and c[0] == key}
            return Known(
                merged, subchart.schema, subchart, root=True, conditions=subchart.conditions | inherited
            )
        here = (*self.path, key)
        if not in_defaults and sub_schema is None:
            if any(c[: len(here)] == here for c in self.conditions | self.chart.reads):
                # Read by helm itself: a dependency's condition (or tag), or the map on the way to one.
                return Known(None, None, self.chart, path=here, conditions=self.conditions)
            return None
        default = self.default.get(key) if in_defaults else None
        return Known(default, sub_schema, self.chart, path=here, conditions=self.conditions)

    def rendered_whole(self) -> bool:
        """A template renders this whole subtree into the manifests (toYaml): every key below counts."""
        return self.path in self.chart.renders

    def names(self) -> list[str]:
        found = list(self.default) if isinstance(self.default, dict) else []
        if self.root:
            found += list(self.chart.subcharts)
        if self.schema is not None:
            found += list(self.schema.get("properties") or {})
        depth = len(self.path)
        found += [
            c[depth] for c in self.conditions | self.chart.reads if len(c) > depth and c[:depth] == self.path
        ]
        return sorted(set(found))

    def open_map(self) -> bool:
        """The schema declares a map of arbitrary keys here (additionalProperties / patternProperties)."""
        if self.schema is None:
            return False
        extra = self.schema.get("additionalProperties")
        return bool(self.schema.get("patternProperties")) or extra is True or isinstance(extra, dict)


def _schema_child(schema: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    if not isinstance(schema, dict):
        return None
    props = schema.get("properties")
    if isinstance(props, dict) and isinstance(props.get(key), dict):
        return props[key]
    for combo in ("allOf", "anyOf", "oneOf"):
        for branch in schema.get(combo) or []:
            found = _schema_child(branch, key)
            if found is not None:
                return found
    return None


def _root(chart: ChartTree) -> Known:
    return Known(chart.values, chart.schema, chart, root=True, conditions=chart.conditions)


def _global_keys(chart: ChartTree) -> Any:
    merged: dict[str, Any] = {}
    for tree in _walk(chart):
        if isinstance(tree.values.get("global"), dict):
            merged = coalesce(merged, tree.values["global"])
    return merged


def _walk(chart: ChartTree) -> Iterator[ChartTree]:
    yield chart
    for sub in chart.subcharts.values():
        yield from _walk(sub)


def coalesce(base: Any, override: Any) -> Any:
    """Helm's merge of values over defaults: maps merge key by key, a null deletes the default."""
    if not isinstance(base, dict) or not isinstance(override, dict):
        return copy.deepcopy(override)
    out = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = coalesce(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# --- the checks -----------------------------------------------------------------------------------------


def _label(release: RenderedRelease) -> str:
    return f"helm release {release.namespace}/{release.release_name}"


def _suggest(key: str, known: Known, chart: ChartTree) -> str:
    close = difflib.get_close_matches(key, known.names(), n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    elsewhere = [".".join(p) for p in _paths(_root(chart), ()) if p[-1].lower() == key.lower()][:3]
    if elsewhere:
        return f"; the chart has it at {', '.join(elsewhere)}"
    return ""


def _paths(known: Known, prefix: tuple[str, ...], depth: int = 0) -> Iterator[tuple[str, ...]]:
    if depth > 8:
        return
    for key in known.names():
        path = (*prefix, key)
        yield path
        child = known.child(key)
        if child is not None and isinstance(child.default, dict):
            yield from _paths(child, path, depth + 1)


def unknown_keys(release: RenderedRelease, chart: ChartTree) -> list[Finding]:
    findings: list[Finding] = []
    has_schema = any(t.schema is not None for t in _walk(chart))
    where = "values.yaml and values.schema.json" if has_schema else "values.yaml"
    globals_known = Known(_global_keys(chart), None, chart)

    def visit(values: dict[str, Any], known: Known, path: tuple[str, ...]) -> None:
        for key, value in values.items():
            here = (*path, key)
            # The key itself is looked up first, free-form or not: a map named like one (``resources``,
            # ``*Selector``) where the chart has no such key is as ignored by helm as any misspelt key.
            child = globals_known if here == ("global",) else known.child(key)
            if child is None:
                if known.open_map():
                    continue
                dotted = ".".join(here)
                findings.append(
                    Finding.at(
                        release.resource,
                        LAYER,
                        "unknown-key",
                        f"release {release.release_name}: values key {dotted} does not exist in chart "
                        f"{release.chart} {release.version} ({where}); helm ignores it"
                        f"{_suggest(key, known, chart)}",
                        object=_label(release),
                        path=f"values.{dotted}",
                    )
                )
                continue
            if free_form(here) is not None:
                continue
            if isinstance(value, dict) and value and not child.rendered_whole():
                visit(value, child, here)

    visit(release.values, _root(chart), ())
    return findings


def schema_errors(release: RenderedRelease, chart: ChartTree) -> list[Finding]:
    """The values (merged over the defaults, as helm does) validated against every values.schema.json."""
    findings: list[Finding] = []

    def validate(tree: ChartTree, values: dict[str, Any], prefix: tuple[str, ...]) -> None:
        if tree.schema is not None:
            cls = validator_for(tree.schema, default=Draft7Validator)
            for error in sorted(cls(tree.schema).iter_errors(values), key=lambda e: list(map(str, e.path))):
                dotted = ".".join([*prefix, *map(str, error.absolute_path)]) or "(root)"
                findings.append(
                    Finding.at(
                        release.resource,
                        LAYER,
                        "schema",
                        f"release {release.release_name}: values at {dotted} fail the values.schema.json "
                        f"of {tree.name} {tree.version}: {error.message}",
                        object=_label(release),
                        path=f"values.{dotted}",
                    )
                )
        glob = values.get("global") if isinstance(values.get("global"), dict) else {}
        for key, sub in tree.subcharts.items():
            given = values.get(key) if isinstance(values.get(key), dict) else {}
            merged = coalesce(
                coalesce(sub.values, given), {"global": coalesce(sub.values.get("global") or {}, glob)}
            )
            validate(sub, merged, (*prefix, key))

    validate(chart, coalesce(chart.values, release.values), ())
    return findings


def check(ctx: VerifyContext) -> list[Finding]:
    findings: list[Finding] = []
    for release in ctx.releases:
        if release.chart_dir is None:
            continue  # the helm layer reported chart-not-found
        chart = load_chart(release.chart_dir)
        findings += unknown_keys(release, chart)
        findings += schema_errors(release, chart)
    return findings
