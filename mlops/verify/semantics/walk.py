"""What the checks of the layer share: its name, the workload kinds, walking an object to its pod
(spec, containers, declared ports) and the collector of one object's findings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlops_platform.mlops.verify.model import Finding, Manifest
from mlops_platform.mlops.verify.objects import describe, scrub

LAYER = "semantics"

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")
POD_TEMPLATE_KINDS = (*WORKLOADS, "ReplicationController", "PodTemplate")


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


class Out:
    """The findings of one object: each at the resource that made it, naming the object and the path."""

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


def declared_ports(container: dict[str, Any]) -> set[str]:
    return {p["name"] for p in container.get("ports") or [] if isinstance(p, dict) and p.get("name")}
