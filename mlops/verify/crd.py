"""Layer "crd": every custom resource validated against the openAPIV3Schema of its CRD's served version.

The CRDs are the ones the platform installs (``ctx.crds()``: rendered by its pinned charts with
``--include-crds``, or its own). Where a chart installs CRDs that validate nothing (argo-workflows'
minimal CRDs), the full CRDs of a bundle (:mod:`mlops_platform.mlops.verify.crd_bundles`, found beside the
charts) replace them; a bundle that cannot be had is the finding ``crd-bundle-missing`` (INCOMPLETE). A CRD schema is a Kubernetes *structural* schema; it is turned into JSON
Schema with the API server's semantics, then judged by jsonschema (enum, pattern, min/max, lengths,
required, ... exactly as jsonschema does; OpenAPI 3.0's boolean ``exclusiveMinimum`` via Draft 4):

- unknown fields are errors (strict field validation), unless ``x-kubernetes-preserve-unknown-fields``;
- ``x-kubernetes-int-or-string``: an integer or a string;
- ``x-kubernetes-embedded-resource``: ``apiVersion`` and ``kind`` required, ``metadata`` checked as ObjectMeta;
- ``nullable``: null allowed; a null in a non-nullable field is pruned (dropped), as the API server does;
- defaults are applied before validation (a defaulted field satisfies ``required``);
- the object's own ``metadata`` is checked as ObjectMeta (the Kubernetes schema), strictly;
- ``x-kubernetes-list-type: set`` / ``map``: duplicate items / keys are errors;
- formats the API server checks (date-time, date, duration, byte, uuid, ipv4, ipv6, cidr, mac, hostname).

- ``x-kubernetes-validations``: each CEL rule is evaluated (``mlops/verify/cel.py``: cel-python plus the
  Kubernetes library functions that are exact to provide) on the value at its node (``self``), after
  defaulting. A rule that evaluates to false, or fails to evaluate (the API server rejects the object then
  too), is a finding; one that fails only where a value is unknown at preview is not judged. Rules cel-python
  cannot evaluate (``quantity()``, ``url()``, ``ip()``, optional fields ``?.``, ...) and transition rules
  (``oldSelf``) are not findings: they are counted and listed (``ctx.cel_rules``) in the report.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import ipaddress
import json
import re
from typing import Any

import jsonschema

from mlops_platform.mlops.verify import cel, crd_bundles, kube_schema
from mlops_platform.mlops.verify.model import Finding, Manifest, VerifyContext
from mlops_platform.mlops.verify.objects import (
    Unknown,
    crds_of,
    describe,
    fmt_path,
    manifests_of,
    placeholder,
    scrub,
)

LAYER = "crd"

_VALUE_KEYS = (
    "enum",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "multipleOf",
    "format",
    "required",
)

_OBJECT_META = {"type": "object"}
"""Where ObjectMeta goes in the converted schema: checked separately against the Kubernetes schema."""


def _identity(schema: dict[str, Any]) -> dict[str, Any]:
    return schema


def convert(node: dict[str, Any], *, junctor: bool = False, root: bool = False) -> dict[str, Any]:
    """A structural schema node as JSON Schema with the API server's semantics (see the module doc)."""
    out: dict[str, Any] = {k: copy.deepcopy(node[k]) for k in _VALUE_KEYS if k in node}
    nullable = bool(node.get("nullable"))
    if node.get("x-kubernetes-int-or-string"):
        types = ["integer", "string"]
    elif isinstance(node.get("type"), str):
        types = [node["type"]]
    else:
        types = []
    if types:
        out["type"] = [*types, "null"] if nullable else (types if len(types) > 1 else types[0])
    if nullable and "enum" in out:
        out["enum"] = [*out["enum"], None]
    for key in ("allOf", "anyOf", "oneOf"):
        if key in node:
            out[key] = [convert(sub, junctor=True) for sub in node[key]]
    if "not" in node:
        out["not"] = convert(node["not"], junctor=True)
    if isinstance(node.get("items"), dict):
        out["items"] = convert(node["items"], junctor=junctor)
    props = {k: convert(v, junctor=junctor) for k, v in (node.get("properties") or {}).items()}
    embedded = bool(node.get("x-kubernetes-embedded-resource"))
    if embedded or root:
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props["metadata"] = _OBJECT_META
    if embedded:
        out["required"] = sorted({*out.get("required", []), "apiVersion", "kind"})
        props["apiVersion"] = {**props["apiVersion"], "minLength": 1}
        props["kind"] = {**props["kind"], "minLength": 1}
    if props:
        out["properties"] = props
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        out["additionalProperties"] = convert(extra, junctor=junctor)
    elif (
        extra is not True
        and not junctor
        and not node.get("x-kubernetes-preserve-unknown-fields")
        and (node.get("type") == "object" or props)
    ):
        out["additionalProperties"] = False
    return out


# --- formats the API server validates ------------------------------------------------------------------

_FORMATS = jsonschema.FormatChecker(formats=())
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DURATION = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)\s*[A-Za-zµμ]+(\s*(\d+(\.\d*)?|\.\d+)\s*[A-Za-zµμ]+)*$|^0$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_MAC = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$"
)


def _fmt(name: str, check: Any) -> None:
    def wrapped(value: object) -> bool:
        return not isinstance(value, str) or bool(check(value))

    _FORMATS.checks(name)(wrapped)


def _ip(version: int):
    def check(value: str) -> bool:
        try:
            return ipaddress.ip_address(value).version == version
        except ValueError:
            return False

    return check


def _cidr(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
        return "/" in value
    except ValueError:
        return False


def _byte(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
        return True
    except (binascii.Error, ValueError):
        return False


_fmt("date-time", _DATE_TIME.match)
_fmt("datetime", _DATE_TIME.match)
_fmt("date", re.compile(r"^\d{4}-\d{2}-\d{2}$").match)
_fmt("duration", _DURATION.match)
_fmt("uuid", _UUID.match)
_fmt("mac", _MAC.match)
_fmt("hostname", _HOSTNAME.match)
_fmt("ipv4", _ip(4))
_fmt("ipv6", _ip(6))
_fmt("cidr", _cidr)
_fmt("byte", _byte)


# --- the CRDs ------------------------------------------------------------------------------------------


def index(crds: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(group, kind) -> CRD, for every CRD the platform installs."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for crd in crds:
        spec = crd.get("spec") or {}
        kind = (spec.get("names") or {}).get("kind")
        if spec.get("group") and kind:
            found[(spec["group"], kind)] = crd
    return found


def served_versions(crd: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in (crd.get("spec") or {}).get("versions") or [] if v.get("served")}


@functools.lru_cache(maxsize=512)
def _validator(schema_json: str) -> tuple[jsonschema.Draft4Validator, dict[str, Any]]:
    raw = json.loads(schema_json)
    return jsonschema.Draft4Validator(convert(raw, root=True), format_checker=_FORMATS), raw


def validator_for(crd: dict[str, Any], version: str) -> tuple[jsonschema.Draft4Validator, dict[str, Any]]:
    entry = served_versions(crd)[version]
    schema = ((entry.get("schema") or {}).get("openAPIV3Schema")) or (
        ((crd.get("spec") or {}).get("validation") or {}).get("openAPIV3Schema")
    )
    schema = schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return _validator(json.dumps(schema, sort_keys=True))


# --- the API server's preparation: prune nulls, default, unknown placeholders, list types -------------


def _second_placeholder(node: dict[str, Any]) -> Any:
    """Another value of the node's type than :func:`placeholder` gives: a rule that fails with both
    does not depend on what the unknown value will be."""
    first = placeholder(node, _identity)
    options = [v for v in node.get("enum") or [] if v is not None and v != first]
    if options:
        return copy.deepcopy(options[0])
    if isinstance(first, bool):
        return not first
    if isinstance(first, int):
        return first + 1
    if isinstance(first, str):
        return first + "-2"
    return first


class _Prepared:
    def __init__(self, *, second: bool = False) -> None:
        self.second = second
        """Fill unknown values with :func:`_second_placeholder`."""
        self.metas: list[tuple[list[Any], Any]] = []
        self.errors: list[tuple[list[Any], str, str]] = []
        self.rules: list[tuple[list[Any], Any, list[dict[str, Any]]]] = []
        self.unknowns: list[list[Any]] = []
        """Where a value unknown at preview got a placeholder."""

    def has_unknown_under(self, path: list[Any]) -> bool:
        return any(u[: len(path)] == path for u in self.unknowns)


_RULE_WIDTH = 120
"""How much of a rule's text a finding quotes (Karpenter's label rules list 28 labels)."""


def rule_holds(rule: str, value: Any) -> bool | None:
    """True/False when the rule can be evaluated here with ``self`` = value (an evaluation error is False,
    as the API server rejects the object then); None when it cannot (:func:`cel.unsupported`)."""
    return cel.evaluate(rule, value).holds


def prepare(
    value: Any, node: dict[str, Any] | None, path: list[Any], out: _Prepared, *, root: bool = False
) -> Any:
    """The object as the API server validates it (a copy): nulls pruned, defaults applied, placeholders."""
    if node is None:
        return value
    if isinstance(value, Unknown):
        out.unknowns.append(path)
        return _second_placeholder(node) if out.second else placeholder(node, _identity)
    result = _prepare(value, node, path, out, root=root)
    rules = node.get("x-kubernetes-validations")
    if isinstance(rules, list) and rules:
        out.rules.append((path, result, rules))
    return result


def _prepare(value: Any, node: dict[str, Any], path: list[Any], out: _Prepared, *, root: bool) -> Any:
    embedded = root or bool(node.get("x-kubernetes-embedded-resource"))
    if isinstance(value, dict):
        props = node.get("properties") or {}
        extra = node.get("additionalProperties")
        result: dict[str, Any] = {}
        for key, item in value.items():
            if embedded and key == "metadata":
                out.metas.append(([*path, key], item))
                result[key] = item
                continue
            sub = props.get(key) if key in props else (extra if isinstance(extra, dict) else None)
            if item is None and sub is not None and not sub.get("nullable"):
                continue  # pruned, as the API server prunes a null it has no nullable schema for
            result[key] = prepare(item, sub, [*path, key], out)
        for key, sub in props.items():
            if key not in result and "default" in sub and key not in value:
                result[key] = copy.deepcopy(sub["default"])
        return result
    if isinstance(value, list):
        items = node.get("items") if isinstance(node.get("items"), dict) else None
        result_list = [prepare(item, items, [*path, i], out) for i, item in enumerate(value)]
        list_type = node.get("x-kubernetes-list-type")
        if list_type == "set":
            seen: list[Any] = []
            for i, item in enumerate(result_list):
                if item in seen:
                    out.errors.append(([*path, i], "duplicate-item", f"duplicate value {item!r} in a set"))
                seen.append(item)
        elif list_type == "map":
            keys = node.get("x-kubernetes-list-map-keys") or []
            seen_keys: set[str] = set()
            for i, item in enumerate(result_list):
                if not isinstance(item, dict):
                    continue
                key = json.dumps([item.get(k) for k in keys])
                if key in seen_keys:
                    out.errors.append(
                        ([*path, i], "duplicate-item", f"duplicate entry for map keys {keys} = {key}")
                    )
                seen_keys.add(key)
        return result_list
    return value


def _check_id(error: jsonschema.ValidationError) -> str:
    return {"additionalProperties": "unknown-field", "required": "missing-field"}.get(
        str(error.validator), "invalid"
    )


def validate(
    manifest: Manifest,
    crd: dict[str, Any],
    version: str,
    kube_version: str,
    built: tuple[jsonschema.Draft4Validator, dict[str, Any]] | None = None,
) -> list[Finding]:
    """Findings for one custom resource against its CRD's served ``version``."""
    check, raw = built or validator_for(crd, version)
    prepared = _Prepared()
    obj = prepare(manifest.obj, raw, [], prepared, root=True)
    found: list[tuple[str, str, str]] = []
    for error in check.iter_errors(obj):
        found.append((_check_id(error), fmt_path(list(error.absolute_path)), error.message))
    for path, check_id, message in prepared.errors:
        found.append((check_id, fmt_path(path), message))
    second: dict[str, Any] | None = None
    for path, value, rules in prepared.rules:
        for rule in rules:
            text = str(rule.get("rule") or "")
            outcome = cel.evaluate(text, value) if text else cel.Outcome(None)
            quoted = text if len(text) <= _RULE_WIDTH else text[: _RULE_WIDTH - 3] + "..."
            if outcome.holds is not False:
                continue  # holds, or not evaluated here
            if prepared.has_unknown_under(path):
                # judged a placeholder of a value unknown at preview: a finding only if it fails with another
                if path in prepared.unknowns:
                    continue
                if second is None:
                    again = _Prepared(second=True)
                    prepare(manifest.obj, raw, [], again, root=True)
                    second = {fmt_path(p): v for p, v, _ in again.rules}
                if cel.evaluate(text, second.get(fmt_path(path))).holds is not False:
                    continue
            if outcome.error:
                message = (
                    f"the rule fails to evaluate ({outcome.error}), so the API server rejects the object "
                    f"(x-kubernetes-validations: {quoted})"
                )
            else:
                reason = rule.get("message") or f"the rule {text!r} does not hold"
                message = f"{reason} (x-kubernetes-validations: {quoted})"
            found.append(("validation-rule", fmt_path(path), message))
    meta_validator = kube_schema.object_meta_validator(kube_schema.schema_version(kube_version))
    for path, meta in prepared.metas:
        for error in meta_validator.iter_errors(meta):
            found.append(
                (_check_id(error), fmt_path([*path, *error.absolute_path]), f"ObjectMeta: {error.message}")
            )
    crd_name = (crd.get("metadata") or {}).get("name", "")
    return [
        Finding.at(
            manifest.resource,
            LAYER,
            check_id,
            scrub(f"{describe(manifest)}{message} (CRD {crd_name} {version})", manifest),
            object=manifest.ref(),
            path=path,
        )
        for check_id, path, message in sorted(found, key=lambda f: f[1])
    ]


def check(ctx: VerifyContext) -> list[Finding]:
    try:
        kube_schema.schema_version(ctx.kube_version)
    except kube_schema.UnsupportedVersion as err:
        return [Finding(layer=LAYER, check="unsupported-kube-version", message=str(err))]
    manifests = manifests_of(ctx)
    crds, findings = _with_bundles(ctx, manifests, index(crds_of(manifests)))
    validators: dict[tuple[str, str, str], tuple[jsonschema.Draft4Validator, dict[str, Any]]] = {}
    in_use: dict[tuple[str, str], list[cel.Rule]] = {}
    for manifest in manifests:
        if not manifest.api_version or kube_schema.is_builtin_group(manifest.api_version, ctx.kube_version):
            continue
        group, version = kube_schema.split_api_version(manifest.api_version)
        crd = crds.get((group, manifest.kind))
        if crd is None:
            findings.append(
                Finding.at(
                    manifest.resource,
                    LAYER,
                    "crd-not-installed",
                    f"{describe(manifest)}no CustomResourceDefinition for {manifest.kind} in group "
                    f"{group} is installed by the platform (no chart of the graph renders one), so the API "
                    "server would reject it",
                    object=manifest.ref(),
                )
            )
            continue
        served = served_versions(crd)
        if version not in served:
            findings.append(
                Finding.at(
                    manifest.resource,
                    LAYER,
                    "version-not-served",
                    f"{describe(manifest)}CRD {(crd.get('metadata') or {}).get('name', '')} does not serve "
                    f"{version}; served: {', '.join(sorted(served)) or 'none'}",
                    object=manifest.ref(),
                )
            )
            continue
        key = (group, manifest.kind, version)
        if key not in validators:
            validators[key] = validator_for(crd, version)
        crd_name = str((crd.get("metadata") or {}).get("name", ""))
        if (crd_name, version) not in in_use:
            in_use[(crd_name, version)] = cel.rules_of(crd, version)
        findings.extend(validate(manifest, crd, version, ctx.kube_version, validators[key]))
    ctx.cel_rules = cel.Coverage([r for key in sorted(in_use) for r in in_use[key]])
    return findings


def _custom(manifests: list[Manifest], kube_version: str) -> list[Manifest]:
    return [
        m
        for m in manifests
        if m.api_version and not kube_schema.is_builtin_group(m.api_version, kube_version)
    ]


def _with_bundles(
    ctx: VerifyContext, manifests: list[Manifest], crds: dict[tuple[str, str], dict[str, Any]]
) -> tuple[dict[tuple[str, str], dict[str, Any]], list[Finding]]:
    """The installed CRDs with those of a bundle's group replaced by the bundle's full CRDs
    (:mod:`mlops_platform.mlops.verify.crd_bundles`), and a ``crd-bundle-missing`` finding per bundle that
    could not be had (its custom resources are then validated against the chart's CRDs)."""
    custom = _custom(manifests, ctx.kube_version)
    wanted = [(kube_schema.split_api_version(m.api_version)[0], m.kind) for m in custom]
    replaced, missing = crd_bundles.overrides(
        crds, wanted, ctx.charts_root, ctx.charts_root if ctx.pull_bundles else None
    )
    findings: list[Finding] = []
    for directory, why in missing.items():
        bundle = next(b for b in crd_bundles.BUNDLES if b.directory == directory)
        users = [m for m in custom if m.api_version.startswith(f"{bundle.group}/")]
        where = str(ctx.charts_root) if ctx.charts_root else "the charts directory"
        findings.append(
            Finding.at(
                users[0].resource if users else None,
                LAYER,
                "crd-bundle-missing",
                f"{why}: the {len(users)} {bundle.group} object(s) are validated against the CRDs the charts "
                f"install ({', '.join(bundle.charts) or 'minimal'}), which accept almost anything; "
                f"{bundle.how_to_get(where)}",
                object=users[0].ref() if users else "",
            )
        )
    return replaced, findings
