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

from mlops_platform.mlops.verify import kube_schema
from mlops_platform.mlops.verify.model import Finding, VerifyContext
from mlops_platform.mlops.verify.objects import manifests_of
from mlops_platform.mlops.verify.semantics.cluster import (
    DEFAULT_NAMESPACES,
    OPERATOR_OBJECTS,
    RELEASE_TYPES,
    OperatorObjects,
    check_across,
    cluster_scoped,
    created_namespaces,
    effective_namespace,
)
from mlops_platform.mlops.verify.semantics.formats import (
    dns_label_error,
    dns_subdomain_error,
    label_key_error,
    label_value_error,
    map_selector_matches,
    parse_quantity,
    port_name_error,
    selector_matches,
)
from mlops_platform.mlops.verify.semantics.manifest import LABEL_NAMED, PATH_NAMED, check_manifest
from mlops_platform.mlops.verify.semantics.walk import (
    LAYER,
    POD_TEMPLATE_KINDS,
    WORKLOADS,
    containers,
    pod_spec,
)

__all__ = [
    "DEFAULT_NAMESPACES",
    "LABEL_NAMED",
    "LAYER",
    "OPERATOR_OBJECTS",
    "PATH_NAMED",
    "POD_TEMPLATE_KINDS",
    "RELEASE_TYPES",
    "WORKLOADS",
    "OperatorObjects",
    "check",
    "check_across",
    "check_manifest",
    "cluster_scoped",
    "containers",
    "created_namespaces",
    "dns_label_error",
    "dns_subdomain_error",
    "effective_namespace",
    "label_key_error",
    "label_value_error",
    "manifests_of",
    "map_selector_matches",
    "parse_quantity",
    "pod_spec",
    "port_name_error",
    "selector_matches",
]


def check(ctx: VerifyContext) -> list[Finding]:
    try:
        kube_schema.schema_version(ctx.kube_version)
    except kube_schema.UnsupportedVersion as err:
        return [Finding(layer=LAYER, check="unsupported-kube-version", message=str(err))]
    manifests = manifests_of(ctx)
    findings: list[Finding] = []
    for manifest in manifests:
        findings.extend(check_manifest(manifest, ctx.kube_version))
    findings.extend(check_across(ctx, manifests))
    return findings
