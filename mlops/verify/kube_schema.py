"""Layer "schema": every built-in Kubernetes object validated strictly against the cluster version's schema.

The schemas are kubernetes-validate's (PyPI): the Kubernetes OpenAPI schema of each release converted to
JSON Schema, in the ``-strict`` flavour where every object has ``additionalProperties: false``, so an
unknown (misspelt) field is an error, as it is for the API server under strict field validation. The
library's own ``validate()`` reads and parses the schema files on every call and stops at the first error;
this layer uses the same files (``kubernetes_validate.utils.schema_contents``) and the same version rule
(the newest schema release not newer than the cluster), builds each validator once, and reports every
error.

Which objects are built in comes from the schemas themselves (``x-kubernetes-group-version-kind``). An
object whose API group the API server serves itself but whose version/kind it does not serve at the
cluster's version (a removed beta, a misspelt kind) is a finding here; objects of other groups are custom
resources, judged by the "crd" layer against their CRDs.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import jsonschema
import kubernetes_validate.utils as kv
from packaging.version import Version
from referencing import Registry, Resource

from mlops_platform.mlops.verify.model import Finding, Manifest, VerifyContext
from mlops_platform.mlops.verify.objects import (
    describe,
    fill_unknowns,
    fmt_path,
    has_unknowns,
    manifests_of,
    scrub,
)

LAYER = "schema"

_DEFS = "_definitions.json"
_DEFS_ID = "https://kubernetes.io/api/_definitions.json"


class UnsupportedVersion(Exception):
    """No schema release of kubernetes-validate covers the requested Kubernetes version."""


def schema_version(kube_version: str) -> str:
    """The kubernetes-validate schema release (``1.34.0``) used for a cluster version (``1.34``)."""
    wanted = Version(kv.major_minor(kube_version.lstrip("v")))
    known = kv.all_versions()
    usable = [v for v in known if Version(kv.major_minor(v)) <= wanted]
    if not usable or wanted > Version(kv.major_minor(known[-1])):
        raise UnsupportedVersion(
            f"kubernetes-validate has schemas for Kubernetes {known[0]} to {known[-1]}, not {kube_version}"
        )
    return usable[-1]


def _dir(version: str) -> str:
    return f"kubernetes-json-schema/v{version}-local-strict"


@functools.cache
def definitions(version: str) -> dict[str, Any]:
    """The strict ``_definitions.json`` of a schema release (every type, ``$defs`` keyed by Go name)."""
    return kv.schema_contents(f"{_dir(version)}/{_DEFS}", version)


@functools.cache
def builtin_kinds(version: str) -> dict[tuple[str, str, str], str]:
    """(group, version, kind) -> definition name, for every kind the API server serves itself."""
    found: dict[tuple[str, str, str], str] = {}
    for name, schema in definitions(version)["$defs"].items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or []:
            if gvk["kind"].endswith("List") or gvk["kind"] in ("DeleteOptions", "WatchEvent", "Status"):
                continue
            found[(gvk["group"], gvk["version"], gvk["kind"])] = name
    return found


@functools.cache
def builtin_groups(version: str) -> frozenset[str]:
    return frozenset(group for group, _, _ in builtin_kinds(version))


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, ver = api_version.rpartition("/")
    return group, ver


def is_builtin_group(api_version: str, kube_version: str) -> bool:
    return split_api_version(api_version)[0] in builtin_groups(schema_version(kube_version))


@functools.cache
def _registry(version: str) -> Registry:
    return Resource.from_contents(definitions(version)) @ Registry()


def resolver(version: str):
    """A function resolving ``{"$ref": ...}`` nodes of the definitions (for placeholders)."""
    defs = definitions(version)["$defs"]

    def resolve(schema: dict[str, Any]) -> dict[str, Any]:
        while isinstance(schema, dict) and "$ref" in schema:
            schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    return resolve


@functools.cache
def _file_schema(version: str, api_version: str, kind: str) -> dict[str, Any]:
    """The per-kind schema file, named as kubernetes-validate names it (``deployment-apps-v1.json``)."""
    mangled = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    return kv.schema_contents(f"{_dir(version)}/{kind.lower()}-{mangled}.json", version)


@functools.cache
def validator(version: str, api_version: str, kind: str) -> jsonschema.Draft202012Validator | None:
    """The strict validator of one built-in kind, or None when the API server does not serve it."""
    group, ver = split_api_version(api_version)
    if (group, ver, kind) not in builtin_kinds(version):
        return None
    try:
        schema = _file_schema(version, api_version, kind)
    except FileNotFoundError:
        definition = builtin_kinds(version)[(group, ver, kind)]
        schema = {"$ref": f"{_DEFS_ID}#/$defs/{definition}"}
    return jsonschema.Draft202012Validator(schema, registry=_registry(version))


@functools.cache
def object_meta_validator(version: str) -> jsonschema.Draft202012Validator:
    """ObjectMeta, strict: what the API server accepts as ``metadata`` (custom resources' too)."""
    schema = {"$ref": f"{_DEFS_ID}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    return jsonschema.Draft202012Validator(schema, registry=_registry(version))


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "oneOf" and isinstance(error.validator_value, list):
        # IntOrString and Quantity are oneOf(string, integer|number): say which types are allowed.
        kinds = [
            next((t for t in (sub.get("type") or []) if t != "null"), "?") if isinstance(sub, dict) else "?"
            for sub in error.validator_value
        ]
        return f"{error.instance!r} is not one of the types {' or '.join(kinds)}"
    return error.message


def _check_id(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        return "unknown-field"
    if error.validator == "required":
        return "missing-field"
    return "invalid"


def validate(manifest: Manifest, version: str) -> list[Finding] | None:
    """Findings for one manifest, or None when its kind is not built in at ``version``."""
    check = validator(version, manifest.api_version, manifest.kind)
    if check is None:
        return None
    obj = manifest.obj
    if has_unknowns(obj):
        group, ver = split_api_version(manifest.api_version)
        definition = builtin_kinds(version)[(group, ver, manifest.kind)]
        obj = fill_unknowns(obj, {"$ref": f"#/$defs/{definition}"}, resolver(version))
    findings = []
    for error in sorted(check.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
        findings.append(
            Finding.at(
                manifest.resource,
                LAYER,
                _check_id(error),
                scrub(
                    f"{describe(manifest)}{_message(error)} (Kubernetes {kv.major_minor(version)})",
                    manifest,
                ),
                object=manifest.ref(),
                path=fmt_path(list(error.absolute_path)),
            )
        )
    return findings


def check(ctx: VerifyContext) -> list[Finding]:
    try:
        version = schema_version(ctx.kube_version)
    except UnsupportedVersion as err:
        return [Finding(layer=LAYER, check="unsupported-kube-version", message=str(err))]
    findings: list[Finding] = []
    for manifest in manifests_of(ctx):
        if not manifest.api_version or not manifest.kind:
            findings.append(
                Finding.at(
                    manifest.resource,
                    LAYER,
                    "missing-field",
                    f"{describe(manifest)}an object needs apiVersion and kind",
                    object=manifest.ref(),
                )
            )
            continue
        if not is_builtin_group(manifest.api_version, ctx.kube_version):
            continue  # a custom resource: the "crd" layer judges it against its CRD
        result = validate(manifest, version)
        if result is None:
            served = sorted(
                f"{g + '/' if g else ''}{v}" for g, v, k in builtin_kinds(version) if k == manifest.kind
            )
            also = f"; it serves {manifest.kind} as {', '.join(served)}" if served else ""
            findings.append(
                Finding.at(
                    manifest.resource,
                    LAYER,
                    "unknown-kind",
                    f"{describe(manifest)}Kubernetes {kv.major_minor(version)} does not serve "
                    f"{manifest.kind} in {manifest.api_version}{also}",
                    object=manifest.ref(),
                )
            )
            continue
        findings.extend(result)
    return findings


# Built-in kinds that are not namespaced (the OpenAPI schema does not carry the scope).
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "ComponentStatus",
        "ClusterRole",
        "ClusterRoleBinding",
        "StorageClass",
        "CSIDriver",
        "CSINode",
        "VolumeAttachment",
        "VolumeAttributesClass",
        "PriorityClass",
        "RuntimeClass",
        "CustomResourceDefinition",
        "APIService",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "CertificateSigningRequest",
        "ClusterTrustBundle",
        "FlowSchema",
        "PriorityLevelConfiguration",
        "IngressClass",
        "IPAddress",
        "ServiceCIDR",
        "DeviceClass",
        "ResourceSlice",
        "DeviceTaintRule",
        "StorageVersion",
        "StorageVersionMigration",
        "TokenReview",
        "SelfSubjectReview",
        "SubjectAccessReview",
        "SelfSubjectAccessReview",
        "SelfSubjectRulesReview",
    }
)
