"""Layer "semantics": what the API server (or the kubelet, at the first start) rejects and a schema does not.

Checks (the ``check`` of each finding):

- ``pdb-both-set``: a PodDisruptionBudget with both ``minAvailable`` and ``maxUnavailable`` (an empty
  string counts as set: the API server decodes ``""`` as an IntOrString, not as absent);
- ``int-or-string``: an IntOrString that must be an integer or a percentage (PDB, rolling updates) and is
  not (``""``, ``"1"``, ``"ten%"``), or a negative integer;
- ``rollout-stuck``: a Deployment rolling update with maxSurge and maxUnavailable both 0;
- ``selector-mismatch``: a workload whose selector does not select its own pod template (Deployment,
  StatefulSet, DaemonSet, ReplicaSet, Job with ``manualSelector``), or an empty selector;
- ``probe-port``: a probe or lifecycle handler naming a port its container does not declare;
- ``service-target-port``: a Service ``targetPort`` name that no container of the pods it selects declares;
- ``monitor-port``: a ServiceMonitor endpoint port that no selected Service names, or a PodMonitor endpoint
  port that no container of the selected pods declares (Prometheus would silently scrape nothing);
- ``network-policy-port``: a NetworkPolicy ingress rule whose ports are all names no container of the selected
  pods declares (the rule allows nothing);
- ``port-name-digits``: an int-or-string port given as a string of digits (``"8080"``) in a probe or
  lifecycle handler, a Service ``targetPort`` or a NetworkPolicy port: the API server reads a string as a
  port name, and a port name must contain a letter, so it rejects the object;
- ``selects-nothing``: a Service, NetworkPolicy or ServiceMonitor whose selector matches no pod (Service) of
  the platform, no pod the operators create for its custom resources (:data:`OPERATOR_OBJECTS`), or no
  Service (ServiceMonitor); Kubernetes' own namespaces are not judged;
- ``duplicate-container``: two containers of a pod (containers, initContainers, ephemeralContainers) with one
  name; ``duplicate-port``: two ports of a pod with one name;
- ``quantity``: a quantity that is not Kubernetes quantity grammar (resources, pod-level resources,
  emptyDir ``sizeLimit``, PVC and volumeClaimTemplates storage, ephemeral volumes, ResourceQuota,
  LimitRange), or a negative resource; ``request-over-limit``: a request above its limit;
- ``namespace-missing``: a namespaced object in a namespace that neither the platform (Namespace objects,
  plain or rendered by a chart; Helm releases with ``createNamespace``) nor Kubernetes creates;
- ``namespace-order``: an object or Helm release in a namespace a Namespace resource of the platform creates,
  that does not wait for that resource (the first ``pulumi up`` could create it first);
- ``invalid-name``: an object, container, port or ConfigMap/Secret key name the API server refuses
  (DNS-1123 subdomain/label, IANA service name, CronJob names of at most 52 characters); ``duplicate-key``:
  a ConfigMap key in both ``data`` and ``binaryData``; ``invalid-label``: a label key or value that is not a valid label (63 characters, ...).

Values unknown at preview (:class:`mlops_platform.mlops.verify.objects.Unknown`) are never judged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeGuard

from mlops_platform.mlops.verify import kube_schema
from mlops_platform.mlops.verify.model import Finding, Manifest, VerifyContext
from mlops_platform.mlops.verify.objects import Unknown, crds_of, describe, manifests_of, scrub

LAYER = "semantics"

DEFAULT_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
RELEASE_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")
POD_TEMPLATE_KINDS = (*WORKLOADS, "ReplicationController", "PodTemplate")

# --- Kubernetes quantities --------------------------------------------------------------------------

_QUANTITY = re.compile(
    r"^(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|m|k|M|G|T|P|E)?$"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"m": Decimal("0.001"), "": Decimal(1), "k": Decimal(10**3), "M": Decimal(10**6)}
_DECIMAL.update({"G": Decimal(10**9), "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18)})


def parse_quantity(value: Any) -> Decimal | None:
    """The value of a Kubernetes quantity (``resource.Quantity`` grammar), or None when it is not one.

    ``<signedNumber><suffix>``: a number (``1``, ``1.5``, ``.5``, ``5.``) with an optional sign, then a
    binary SI suffix (Ki..Ei), a decimal SI suffix (m, k, M..E) or an exponent (``e3``, ``E-2``). No
    spaces; a JSON number is a quantity too."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value)
    if match is None:
        return None
    try:
        number = Decimal(match["num"])
    except InvalidOperation:
        return None
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    return number * (Decimal(10) ** int(suffix[1:]))


# --- names and labels --------------------------------------------------------------------------------

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_LABEL = re.compile(rf"^{_LABEL}$")
_DNS_SUBDOMAIN = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_IANA_SVC = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_PERCENT = re.compile(r"^[0-9]+%$")

LABEL_NAMED = frozenset({"Namespace", "Service"})
"""Kinds whose names must be DNS-1123 labels (63 characters); other kinds take DNS-1123 subdomains."""
PATH_NAMED = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})
"""Kinds whose names only need to be path segments (``system:foo`` is a valid ClusterRole)."""


def dns_label_error(value: str) -> str | None:
    if len(value) > 63:
        return f"{value!r} is longer than 63 characters"
    if not _DNS_LABEL.match(value):
        return (
            f"{value!r} is not a DNS-1123 label (lower-case alphanumerics and '-', alphanumeric at both ends)"
        )
    return None


def dns_subdomain_error(value: str) -> str | None:
    if len(value) > 253:
        return f"{value!r} is longer than 253 characters"
    if not _DNS_SUBDOMAIN.match(value):
        return f"{value!r} is not a DNS-1123 subdomain (lower-case alphanumerics, '-' and '.')"
    return None


def port_name_error(value: str) -> str | None:
    if len(value) > 15:
        return f"port name {value!r} is longer than 15 characters"
    if not _IANA_SVC.match(value) or "--" in value or not re.search(r"[a-z]", value):
        return f"port name {value!r} is not an IANA service name (a-z, 0-9 and '-', at least one letter)"
    return None


def label_key_error(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return f"label key {key!r}: the prefix is not a DNS-1123 subdomain"
    if not name or len(name) > 63 or not _QUALIFIED.match(name):
        return f"label key {key!r}: the name part is not a qualified name of at most 63 characters"
    return None


def label_value_error(value: Any) -> str | None:
    if isinstance(value, Unknown):
        return None
    if not isinstance(value, str):
        return f"label value {value!r} is not a string"
    if len(value) > 63:
        return f"label value {value!r} is longer than 63 characters"
    if value and not _QUALIFIED.match(value):
        return f"label value {value!r} is not a valid label value (alphanumerics, '-', '_', '.')"
    return None


# --- label selectors ---------------------------------------------------------------------------------


def selector_matches(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) applied to a set of labels."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if isinstance(value, Unknown):
            continue
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def map_selector_matches(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    """A Service-style selector (a plain map): every pair must be in the labels."""
    return all(isinstance(v, Unknown) or labels.get(k) == v for k, v in selector.items())


# --- walking objects -----------------------------------------------------------------------------------


def pod_spec(obj: dict[str, Any]) -> tuple[dict[str, Any], str, dict[str, Any]] | None:
    """(pod spec, its path, the pod's labels) of a Pod or an object with a pod template."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return spec, "spec", (obj.get("metadata") or {}).get("labels") or {}
    if kind == "CronJob":
        template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
        path = "spec.jobTemplate.spec.template"
    elif kind in POD_TEMPLATE_KINDS:
        template = (obj.get("template") if kind == "PodTemplate" else spec.get("template")) or {}
        path = "template" if kind == "PodTemplate" else "spec.template"
    else:
        return None
    if not isinstance(template, dict) or not isinstance(template.get("spec"), dict):
        return None
    return template["spec"], f"{path}.spec", (template.get("metadata") or {}).get("labels") or {}


def containers(spec: dict[str, Any], path: str) -> Iterator[tuple[dict[str, Any], str]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for i, container in enumerate(spec.get(field) or []):
            if isinstance(container, dict):
                yield container, f"{path}.{field}[{i}]"


class _Out:
    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.findings: list[Finding] = []

    def add(self, check: str, path: str, message: str) -> None:
        m = self.manifest
        self.findings.append(
            Finding.at(
                m.resource,
                LAYER,
                check,
                scrub(f"{describe(m)}{message}", m),
                object=m.ref(),
                path=path,
            )
        )


def _int_or_percent(out: _Out, value: Any, path: str, what: str) -> None:
    if value is None or isinstance(value, Unknown):
        return
    if isinstance(value, bool) or not isinstance(value, int | str):
        out.add("int-or-string", path, f"{what} {value!r} is neither an integer nor a percentage")
    elif isinstance(value, int):
        if value < 0:
            out.add("int-or-string", path, f"{what} {value} must not be negative")
    elif not _PERCENT.match(value):
        shown = "an empty string" if value == "" else repr(value)
        out.add(
            "int-or-string",
            path,
            f"{what} is {shown}: a string must be a percentage such as '25%' (the API server rejects it)",
        )


def _check_pdb(out: _Out, obj: dict[str, Any]) -> None:
    spec = obj.get("spec") or {}
    present = [k for k in ("minAvailable", "maxUnavailable") if spec.get(k) is not None]
    if len(present) == 2:
        shown = ", ".join(f"{k}={spec[k]!r}" for k in present)
        out.add(
            "pdb-both-set",
            "spec",
            f"minAvailable and maxUnavailable are both set ({shown}); the API server accepts only one "
            "(an empty string counts as set)",
        )
    for key in present:
        _int_or_percent(out, spec[key], f"spec.{key}", key)
        value = spec[key]
        if isinstance(value, str) and _PERCENT.match(value) and int(value[:-1]) > 100:
            out.add("int-or-string", f"spec.{key}", f"{key} {value!r} is above 100%")


def _check_rollout(out: _Out, obj: dict[str, Any]) -> None:
    spec = obj.get("spec") or {}
    kind = obj.get("kind")
    strategy = spec.get("updateStrategy" if kind in ("StatefulSet", "DaemonSet") else "strategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    base = "spec.updateStrategy" if kind in ("StatefulSet", "DaemonSet") else "spec.strategy"
    for key in ("maxSurge", "maxUnavailable"):
        if key in rolling:
            _int_or_percent(out, rolling[key], f"{base}.rollingUpdate.{key}", key)
    unavailable = rolling.get("maxUnavailable")
    if isinstance(unavailable, str) and _PERCENT.match(unavailable) and int(unavailable[:-1]) > 100:
        out.add("int-or-string", f"{base}.rollingUpdate.maxUnavailable", f"{unavailable!r} is above 100%")
    if kind == "Deployment" and strategy.get("type", "RollingUpdate") == "RollingUpdate":
        zero = {0, "0%"}
        surge, gone = rolling.get("maxSurge", "25%"), rolling.get("maxUnavailable", "25%")
        if surge in zero and gone in zero:
            out.add(
                "rollout-stuck",
                f"{base}.rollingUpdate",
                "maxSurge and maxUnavailable are both 0: the API server rejects a rollout that can make no progress",
            )


def _check_selector(out: _Out, obj: dict[str, Any], labels: dict[str, Any]) -> None:
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Job" and not spec.get("manualSelector"):
        if spec.get("selector"):
            out.add(
                "selector-mismatch",
                "spec.selector",
                "a Job selector is generated by the API server; set manualSelector to give one",
            )
        return
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        if kind != "Job":
            out.add("selector-mismatch", "spec.selector", f"a {kind} needs a selector")
        return
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        out.add("selector-mismatch", "spec.selector", "an empty selector is invalid for a workload")
        return
    if not selector_matches(selector, labels):
        out.add(
            "selector-mismatch",
            "spec.selector",
            f"the selector {selector} does not match the pod template's labels {labels}",
        )


def _digit_port(out: _Out, value: Any, path: str, what: str) -> None:
    """An IntOrString port written as a string of digits is a port name, and a name needs a letter."""
    if isinstance(value, str) and not isinstance(value, Unknown) and value.isdigit():
        out.add(
            "port-name-digits",
            path,
            f"{what} {value!r} is a string of digits: the API server reads a string port as a port name, "
            f"which must contain a letter, and rejects it; write the number {int(value)}",
        )


def _check_ports(out: _Out, obj: dict[str, Any]) -> None:
    """The int-or-string ports of a Service (``targetPort``) and a NetworkPolicy (ingress and egress)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    kind = obj.get("kind")
    if kind == "Service" and obj.get("apiVersion") == "v1":
        for i, port in enumerate(spec.get("ports") or []):
            if isinstance(port, dict):
                _digit_port(out, port.get("targetPort"), f"spec.ports[{i}].targetPort", "targetPort")
    if kind == "NetworkPolicy" and obj.get("apiVersion") == "networking.k8s.io/v1":
        for direction in ("ingress", "egress"):
            for i, rule in enumerate(spec.get(direction) or []):
                for j, port in enumerate((rule or {}).get("ports") or [] if isinstance(rule, dict) else []):
                    if isinstance(port, dict):
                        _digit_port(out, port.get("port"), f"spec.{direction}[{i}].ports[{j}].port", "port")


def _declared_ports(container: dict[str, Any]) -> set[str]:
    return {p["name"] for p in container.get("ports") or [] if isinstance(p, dict) and p.get("name")}


def _handlers(container: dict[str, Any], path: str) -> Iterator[tuple[dict[str, Any], str]]:
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(container.get(probe), dict):
            yield container[probe], f"{path}.{probe}"
    for hook in ("postStart", "preStop"):
        handler = (container.get("lifecycle") or {}).get(hook)
        if isinstance(handler, dict):
            yield handler, f"{path}.lifecycle.{hook}"


def _check_pod(out: _Out, spec: dict[str, Any], path: str) -> None:
    names: dict[str, str] = {}
    ports: dict[str, str] = {}
    for container, cpath in containers(spec, path):
        name = container.get("name")
        if isinstance(name, str) and not isinstance(name, Unknown):
            if name in names:
                out.add(
                    "duplicate-container", f"{cpath}.name", f"container name {name!r} is also {names[name]}"
                )
            names.setdefault(name, cpath)
            error = dns_label_error(name)
            if error:
                out.add("invalid-name", f"{cpath}.name", f"container name {error}")
        for i, port in enumerate(container.get("ports") or []):
            pname = port.get("name") if isinstance(port, dict) else None
            if isinstance(pname, str) and not isinstance(pname, Unknown):
                ppath = f"{cpath}.ports[{i}].name"
                if pname in ports:
                    out.add("duplicate-port", ppath, f"port name {pname!r} is also {ports[pname]}")
                ports.setdefault(pname, ppath)
                error = port_name_error(pname)
                if error:
                    out.add("invalid-name", ppath, error)
        declared = _declared_ports(container)
        for handler, hpath in _handlers(container, cpath):
            for action in ("httpGet", "tcpSocket"):
                port = (handler.get(action) or {}).get("port")
                _digit_port(out, port, f"{hpath}.{action}.port", f"{action} port")
                named = isinstance(port, str) and not isinstance(port, Unknown) and not port.isdigit()
                if named and port not in declared:
                    out.add(
                        "probe-port",
                        f"{hpath}.{action}.port",
                        f"names port {port!r}, which container {name!r} does not declare "
                        f"(declared: {sorted(declared) or 'none'})",
                    )
        _check_resources(out, container.get("resources"), f"{cpath}.resources")
    _check_resources(out, spec.get("resources"), f"{path}.resources")
    for i, volume in enumerate(spec.get("volumes") or []):
        if not isinstance(volume, dict):
            continue
        vpath = f"{path}.volumes[{i}]"
        if isinstance(volume.get("emptyDir"), dict) and "sizeLimit" in volume["emptyDir"]:
            _quantity(out, volume["emptyDir"]["sizeLimit"], f"{vpath}.emptyDir.sizeLimit")
        claim = ((volume.get("ephemeral") or {}).get("volumeClaimTemplate") or {}).get("spec")
        if isinstance(claim, dict):
            _check_resources(
                out, claim.get("resources"), f"{vpath}.ephemeral.volumeClaimTemplate.spec.resources"
            )


def _quantity(out: _Out, value: Any, path: str) -> Decimal | None:
    if value is None or isinstance(value, Unknown):
        return None
    parsed = parse_quantity(value)
    if parsed is None:
        out.add("quantity", path, f"{value!r} is not a Kubernetes quantity (e.g. '500m', '1.5Gi', '10')")
    return parsed


def _check_resources(out: _Out, resources: Any, path: str, *, negative_ok: bool = False) -> None:
    if not isinstance(resources, dict):
        return
    parsed: dict[str, dict[str, Decimal]] = {}
    for group in ("requests", "limits"):
        for name, value in (resources.get(group) or {}).items():
            amount = _quantity(out, value, f"{path}.{group}.{name}")
            if amount is None:
                continue
            if amount < 0 and not negative_ok:
                out.add("quantity", f"{path}.{group}.{name}", f"{value!r} must not be negative")
            parsed.setdefault(group, {})[name] = amount
    for name, request in (parsed.get("requests") or {}).items():
        limit = (parsed.get("limits") or {}).get(name)
        if limit is not None and request > limit:
            out.add(
                "request-over-limit",
                f"{path}.requests.{name}",
                f"the {name} request {resources['requests'][name]!r} is above its limit "
                f"{resources['limits'][name]!r}",
            )


def _check_storage(out: _Out, obj: dict[str, Any]) -> None:
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "PersistentVolumeClaim":
        _check_resources(out, spec.get("resources"), "spec.resources")
    elif kind == "StatefulSet":
        for i, claim in enumerate(spec.get("volumeClaimTemplates") or []):
            if isinstance(claim, dict):
                cspec = claim.get("spec") or {}
                _check_resources(
                    out, cspec.get("resources"), f"spec.volumeClaimTemplates[{i}].spec.resources"
                )
    elif kind == "PersistentVolume":
        for name, value in (spec.get("capacity") or {}).items():
            _quantity(out, value, f"spec.capacity.{name}")
    elif kind == "ResourceQuota":
        for name, value in (spec.get("hard") or {}).items():
            _quantity(out, value, f"spec.hard.{name}")
    elif kind == "LimitRange":
        for i, limit in enumerate(spec.get("limits") or []):
            for group in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
                for name, value in ((limit or {}).get(group) or {}).items():
                    _quantity(out, value, f"spec.limits[{i}].{group}.{name}")


def _check_meta(out: _Out, obj: dict[str, Any]) -> None:
    meta = obj.get("metadata") or {}
    kind = str(obj.get("kind") or "")
    name = meta.get("name")
    if isinstance(name, str) and not isinstance(name, Unknown) and kind not in PATH_NAMED:
        error = dns_label_error(name) if kind in LABEL_NAMED else dns_subdomain_error(name)
        if error is None and kind == "CronJob" and len(name) > 52:
            error = f"{name!r} is longer than 52 characters (the Job names it makes append 11)"
        if error:
            out.add("invalid-name", "metadata.name", f"{kind} name {error}")
    namespace = meta.get("namespace")
    if isinstance(namespace, str) and namespace and not isinstance(namespace, Unknown):
        error = dns_label_error(namespace)
        if error:
            out.add("invalid-name", "metadata.namespace", f"namespace {error}")
    _check_labels(out, meta.get("labels"), "metadata.labels")
    found = pod_spec(obj)
    if found is not None and kind != "Pod":
        _, path, _ = found
        template_path = path.rsplit(".spec", 1)[0]
        _check_labels(out, found[2], f"{template_path}.metadata.labels")


_DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def _check_data_keys(out: _Out, obj: dict[str, Any]) -> None:
    seen: dict[str, str] = {}
    for field in ("data", "binaryData", "stringData"):
        for key in obj.get(field) or {}:
            path = f"{field}.{key}"
            if len(key) > 253 or not _DATA_KEY.match(key) or key in (".", ".."):
                out.add(
                    "invalid-name", path, f"key {key!r} is not a valid ConfigMap/Secret key ([-._a-zA-Z0-9]+)"
                )
            if key in seen and not (
                obj.get("kind") == "Secret" and {field, seen[key]} == {"data", "stringData"}
            ):
                out.add("duplicate-key", path, f"key {key!r} is also in {seen[key]}")
            seen.setdefault(key, field)


def _check_labels(out: _Out, labels: Any, path: str) -> None:
    if not isinstance(labels, dict):
        return
    for key, value in labels.items():
        error = label_key_error(str(key)) or label_value_error(value)
        if error:
            out.add("invalid-label", f"{path}.{key}", error)


def check_manifest(manifest: Manifest, kube_version: str) -> list[Finding]:
    """The checks that need only the object itself (metadata of every object, the rest of built-in kinds)."""
    out = _Out(manifest)
    obj = manifest.obj
    kind = obj.get("kind")
    _check_meta(out, obj)
    if not kube_schema.is_builtin_group(manifest.api_version, kube_version):
        return out.findings
    if kind == "PodDisruptionBudget":
        _check_pdb(out, obj)
    if kind in ("ConfigMap", "Secret") and obj.get("apiVersion") == "v1":
        _check_data_keys(out, obj)
    if kind in ("Deployment", "StatefulSet", "DaemonSet"):
        _check_rollout(out, obj)
    _check_storage(out, obj)
    _check_ports(out, obj)
    found = pod_spec(obj)
    if found is not None:
        spec, path, labels = found
        if kind in WORKLOADS:
            _check_selector(out, obj, labels)
        _check_pod(out, spec, path)
    return out.findings


# --- checks across objects ---------------------------------------------------------------------------


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
        out = _Out(manifest)
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
        declared = {name for _, s in selected for c, _ in containers(s, "") for name in _declared_ports(c)}
        out = _Out(manifest)
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
        out = _Out(manifest)
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
            declared = {n for _, s in chosen_pods for c, _ in containers(s, "") for n in _declared_ports(c)}
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
        declared = {n for _, s in chosen for c, _ in containers(s, "") for n in _declared_ports(c)}
        out = _Out(manifest)
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
    service_labels: dict[str, str]
    """The labels of the governing Service it creates (``<kind>-operated``)."""
    reason: str


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
            extra = ((manifest.obj.get("spec") or {}).get("podMetadata") or {}).get("labels") or {}
            pods.append((namespace, {**extra, **made.pod_labels(manifest.name)}))
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
        out = _Out(manifest)
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


def check(ctx: VerifyContext) -> list[Finding]:
    try:
        kube_schema.schema_version(ctx.kube_version)
    except kube_schema.UnsupportedVersion as err:
        return [Finding(layer=LAYER, check="unsupported-kube-version", message=str(err))]
    manifests = manifests_of(ctx)
    findings: list[Finding] = []
    for manifest in manifests:
        findings.extend(check_manifest(manifest, ctx.kube_version))
    findings.extend(_check_services(ctx, manifests))
    findings.extend(_check_monitors(ctx, manifests))
    findings.extend(_check_network_policies(ctx, manifests))
    findings.extend(_check_selects_nothing(ctx, manifests))
    findings.extend(_check_namespaces(ctx, manifests))
    findings.extend(_check_namespace_order(ctx, manifests))
    return findings
