"""Argo Workflows objects as the pods they run: what the pack's pod rules judge in a Workflow.

An Argo ``Workflow``, ``WorkflowTemplate``, ``ClusterWorkflowTemplate`` or ``CronWorkflow`` (whose workflow
spec is ``spec.workflowSpec``) holds no pod spec; the Argo controller builds one pod per run of each template
that has a container. :func:`pods` turns the object's inputs into those pods as pseudo pod specs, so the
Kubernetes rules (:mod:`mlops_platform.policies.rules.kubernetes`) judge them like a Deployment's:

- ``spec.templateDefaults`` is merged into every template first (the template's own values win, maps are
  merged key by key, lists are replaced), as the controller does;
- the pod-level fields come from the template, else from the workflow spec: ``securityContext``,
  ``serviceAccountName``, ``automountServiceAccountToken``, ``nodeSelector``, ``tolerations``, ``affinity``,
  ``priorityClassName``, ``schedulerName``, ``hostAliases`` (a template's value replaces the workflow's
  whole); the workflow's ``hostNetwork``, ``dnsPolicy``, ``dnsConfig`` and ``imagePullSecrets``;
  ``volumes`` are the template's and those of the workflow's that its containers mount (the controller
  adds only the workflow volumes a container references);
- the containers are ``container``, ``script`` (a container with ``source``), ``containerSet.containers``
  and ``sidecars``; the init containers ``initContainers``. Each is named after where it is written
  (``templates[train].container``, ``templates[train].sidecars[log]``), so a violation points at the
  template;
- a template with none of them (``dag``, ``steps``, ``suspend``, ``resource``, ``http``, ``plugin``) has no pod
  of its own; templates written inline in a DAG task or a step (``inline``) are pods too.

What this cannot see: ``podSpecPatch`` (a patch applied to the pod at run time, rule
``argo-no-pod-spec-patch``), the executor's own ``init``/``wait`` containers (configured in the controller),
and templates of other objects reached through ``templateRef`` (judged on their own object).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mlops_platform.policies.rules._common import Res, as_list

GROUP = "argoproj.io"
_T = f"kubernetes:{GROUP}/v1alpha1:"
WORKFLOW = _T + "Workflow"
WORKFLOW_TEMPLATE = _T + "WorkflowTemplate"
CLUSTER_WORKFLOW_TEMPLATE = _T + "ClusterWorkflowTemplate"
CRON_WORKFLOW = _T + "CronWorkflow"

SPEC_PATHS: dict[str, tuple[str, ...]] = {
    WORKFLOW: ("spec",),
    WORKFLOW_TEMPLATE: ("spec",),
    CLUSTER_WORKFLOW_TEMPLATE: ("spec",),
    CRON_WORKFLOW: ("spec", "workflowSpec"),
}
"""Where each Argo kind keeps its workflow spec."""
KINDS = tuple(SPEC_PATHS)

TEMPLATE_OVERRIDES = (
    "securityContext",
    "serviceAccountName",
    "automountServiceAccountToken",
    "nodeSelector",
    "tolerations",
    "affinity",
    "priorityClassName",
    "schedulerName",
    "hostAliases",
)
"""Pod-level fields a template sets for its pod, replacing the workflow spec's value."""
WORKFLOW_ONLY = ("hostNetwork", "dnsPolicy", "dnsConfig", "imagePullSecrets")
"""Pod-level fields only the workflow spec sets."""


def is_argo(res: Res) -> bool:
    return res.type in SPEC_PATHS


def workflow_spec(res: Res) -> dict[str, Any]:
    spec = res.path(*SPEC_PATHS[res.type], default={})
    return spec if isinstance(spec, dict) else {}


POD_TYPES = ("container", "script", "containerSet")
"""The template types that run a pod of their own (with its ``initContainers`` and ``sidecars``)."""


def merge_defaults(defaults: Any, template: dict[str, Any]) -> dict[str, Any]:
    """``template`` over ``templateDefaults``: maps merged key by key (the template wins), lists replaced.
    A default of a template type (``container``...) applies only to templates of that type: it does not make a
    ``dag`` template run a pod."""
    if not isinstance(defaults, dict):
        return template
    kept = {k: v for k, v in defaults.items() if k not in POD_TYPES or k in template}
    return _deep_merge(kept, template)


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


@dataclass(frozen=True)
class ArgoPod:
    """One pod the controller would create: where it is written and its pseudo pod spec."""

    where: str
    """``templates[train]``, ``templates[main].dag.tasks[prep].inline``..."""
    spec: dict[str, Any]
    template: dict[str, Any]
    """The template (templateDefaults merged in) the pod runs."""


def _named(c: Any, label: str) -> dict[str, Any] | None:
    if not isinstance(c, dict):
        return None
    return {**c, "name": label}


def _containers(t: dict[str, Any], where: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(containers, init containers) of a template, each named after where it is written."""
    main: list[dict[str, Any]] = []
    for key in ("container", "script"):
        found = _named(t.get(key), f"{where}.{key}")
        if found is not None:
            main.append(found)
    container_set = t.get("containerSet")
    if isinstance(container_set, dict):
        for i, raw in enumerate(as_list(container_set.get("containers"))):
            found = _named(raw, f"{where}.containerSet[{_label(raw, i)}]")
            if found is not None:
                main.append(found)
    init = [
        c
        for i, raw in enumerate(as_list(t.get("initContainers")))
        if (c := _named(raw, f"{where}.initContainers[{_label(raw, i)}]")) is not None
    ]
    sidecars = [
        c
        for i, raw in enumerate(as_list(t.get("sidecars")))
        if (c := _named(raw, f"{where}.sidecars[{_label(raw, i)}]")) is not None
    ]
    return [*main, *sidecars], init


def _label(c: Any, i: int) -> Any:
    return c.get("name", i) if isinstance(c, dict) else i


def pod_of(wf: dict[str, Any], template: dict[str, Any], where: str) -> dict[str, Any] | None:
    """The pseudo pod spec of one template (templateDefaults already merged), None if it runs no pod."""
    containers, init = _containers(template, where)
    if not containers and not init:
        return None
    spec: dict[str, Any] = {}
    for key in WORKFLOW_ONLY:
        if wf.get(key) is not None:
            spec[key] = wf[key]
    for key in TEMPLATE_OVERRIDES:
        value = template.get(key)
        if (
            value is None
            or value == ""
            or (isinstance(value, list | dict) and not value and key != "securityContext")
        ):
            value = wf.get(key)
        if value is not None:
            spec[key] = value
    mounted = {
        m.get("name")
        for c in [*containers, *init]
        for m in as_list(c.get("volumeMounts"))
        if isinstance(m, dict)
    }
    shared = [v for v in as_list(wf.get("volumes")) if isinstance(v, dict) and v.get("name") in mounted]
    volumes = [*shared, *as_list(template.get("volumes"))]
    if volumes:
        spec["volumes"] = volumes
    spec["containers"] = containers
    if init:
        spec["initContainers"] = init
    return spec


def _inline(template: dict[str, Any], where: str) -> Iterator[tuple[dict[str, Any], str]]:
    """Templates written inline in the DAG tasks and steps of ``template``, with where they are."""
    dag = template.get("dag")
    if isinstance(dag, dict):
        for i, task in enumerate(as_list(dag.get("tasks"))):
            if isinstance(task, dict) and isinstance(task.get("inline"), dict):
                yield task["inline"], f"{where}.dag.tasks[{task.get('name', i)}].inline"
    for i, group in enumerate(as_list(template.get("steps"))):
        for j, step in enumerate(as_list(group)):
            if isinstance(step, dict) and isinstance(step.get("inline"), dict):
                yield step["inline"], f"{where}.steps[{i}][{step.get('name', j)}].inline"


def templates(res: Res) -> Iterator[tuple[dict[str, Any], str]]:
    """Every template of the object (inline ones included), templateDefaults merged in, with where it is."""
    wf = workflow_spec(res)
    defaults = wf.get("templateDefaults")

    def walk(t: dict[str, Any], where: str, depth: int) -> Iterator[tuple[dict[str, Any], str]]:
        merged = merge_defaults(defaults, t)
        yield merged, where
        if depth < 8:
            for inner, inner_where in _inline(t, where):
                yield from walk(inner, inner_where, depth + 1)

    for i, t in enumerate(as_list(wf.get("templates"))):
        if isinstance(t, dict):
            yield from walk(t, f"templates[{t.get('name', i)}]", 0)


def pods(res: Res) -> list[ArgoPod]:
    """The pods an Argo object runs, one per template that has a container."""
    wf = workflow_spec(res)
    out: list[ArgoPod] = []
    for template, where in templates(res):
        spec = pod_of(wf, template, where)
        if spec is not None:
            out.append(ArgoPod(where, spec, template))
    return out
