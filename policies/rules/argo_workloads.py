"""Argo Workflows objects (Workflow, WorkflowTemplate, ClusterWorkflowTemplate, CronWorkflow): what only Argo has.

The pods of these objects are judged by the Kubernetes pod rules (:mod:`mlops_platform.policies.rules.kubernetes`,
through :mod:`mlops_platform.policies.rules._argo`); the rules here judge the workflow itself: that every pod is
visible to them (no ``podSpecPatch``), that a run is bounded and cleaned up, and whose identity its pods use.

A Workflow or CronWorkflow that runs a WorkflowTemplate (``workflowTemplateRef``) takes its spec from that
template: the spec-level rules (deadline, TTL, pod GC) judge the template, not the reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlops_platform.policies.rules import _argo
from mlops_platform.policies.rules._common import Ctx, Res, truthy
from mlops_platform.policies.rules._meta import RELAXED_DEV, cis_eks
from mlops_platform.policies.rules._registry import resource_rule

KINDS = _argo.KINDS


def _spec_name(res: Res) -> str:
    return ".".join(_argo.SPEC_PATHS[res.type])


def _runs_a_template(res: Res) -> bool:
    """A Workflow/CronWorkflow that runs a WorkflowTemplate by reference (its spec comes from there)."""
    ref = _argo.workflow_spec(res).get("workflowTemplateRef")
    return isinstance(ref, dict) and bool(ref.get("name"))


@resource_rule(
    "argo-no-pod-spec-patch",
    *KINDS,
    description=(
        "Argo workflows set no podSpecPatch (workflow, templateDefaults or template): it patches the pod at "
        "run time, out of sight of every pod rule of the pack (it could make a pod privileged or mount a "
        "hostPath), so it is refused rather than trusted."
    ),
    severity="high",
    remediation=(
        "Express the setting with the template's own fields (container.resources, securityContext, "
        "nodeSelector, tolerations, volumes...); parameters ({{inputs.parameters.x}}) work there too."
    ),
)
def no_pod_spec_patch(res: Res, ctx: Ctx) -> Iterator[str]:
    wf = _argo.workflow_spec(res)
    if wf.get("podSpecPatch"):
        yield f"{_spec_name(res)}.podSpecPatch patches every pod at run time; the pack cannot judge what it sets"
    defaults = wf.get("templateDefaults")
    if isinstance(defaults, dict) and defaults.get("podSpecPatch"):
        yield f"{_spec_name(res)}.templateDefaults.podSpecPatch patches every template's pod at run time"
        return  # merged into every template: reported once
    for template, where in _argo.templates(res):
        if template.get("podSpecPatch"):
            yield f"{where}.podSpecPatch patches the pod at run time; the pack cannot judge what it sets"


def _positive(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):  # the engine sends numbers as doubles
        return value > 0 and float(value).is_integer()
    return isinstance(value, str) and value.strip().isdigit() and int(value) > 0


@resource_rule(
    "argo-active-deadline",
    *KINDS,
    description=(
        "Argo workflows bound their run time: the workflow spec sets a positive activeDeadlineSeconds (a hung "
        "step otherwise holds its pods, and the GPU nodes under them, until someone notices)."
    ),
    severity="medium",
    remediation="Set spec.activeDeadlineSeconds (CronWorkflow: spec.workflowSpec.activeDeadlineSeconds).",
    enforcement=RELAXED_DEV,
)
def active_deadline(res: Res, ctx: Ctx) -> Iterator[str]:
    if _runs_a_template(res):
        return
    if not _positive(_argo.workflow_spec(res).get("activeDeadlineSeconds")):
        yield f"{_spec_name(res)}.activeDeadlineSeconds is not set to a positive number of seconds"


TTL_KEYS = ("secondsAfterCompletion", "secondsAfterSuccess", "secondsAfterFailure")


@resource_rule(
    "argo-ttl-strategy",
    *KINDS,
    description=(
        "Argo workflows are deleted after they finish: the workflow spec sets a ttlStrategy "
        "(secondsAfterCompletion, secondsAfterSuccess or secondsAfterFailure), so finished Workflow objects do "
        "not pile up in etcd."
    ),
    severity="low",
    remediation="Set spec.ttlStrategy.secondsAfterCompletion (and archive runs if their history matters).",
    enforcement=RELAXED_DEV,
)
def ttl_strategy(res: Res, ctx: Ctx) -> Iterator[str]:
    if _runs_a_template(res):
        return
    ttl = _argo.workflow_spec(res).get("ttlStrategy")
    if not isinstance(ttl, dict) or not any(ttl.get(k) is not None for k in TTL_KEYS):
        yield f"{_spec_name(res)}.ttlStrategy sets none of {', '.join(TTL_KEYS)}"


POD_GC_STRATEGIES = ("OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess")


@resource_rule(
    "argo-pod-gc",
    *KINDS,
    description=(
        "Argo workflows delete their pods: the workflow spec sets podGC.strategy, so completed pods (and the "
        "secrets and volumes they hold) do not linger."
    ),
    severity="low",
    remediation="Set spec.podGC.strategy, e.g. OnPodCompletion (OnPodSuccess keeps failed pods to debug).",
    enforcement=RELAXED_DEV,
)
def pod_gc(res: Res, ctx: Ctx) -> Iterator[str]:
    if _runs_a_template(res):
        return
    gc = _argo.workflow_spec(res).get("podGC")
    strategy = gc.get("strategy") if isinstance(gc, dict) else None
    if strategy not in POD_GC_STRATEGIES:
        shown = f" ({strategy!r})" if strategy else ""
        yield f"{_spec_name(res)}.podGC.strategy is not one of {', '.join(POD_GC_STRATEGIES)}{shown}"


def _executor_sa(wf: dict[str, Any], template: dict[str, Any]) -> str:
    for spec in (template, wf):
        executor = spec.get("executor")
        if isinstance(executor, dict) and executor.get("serviceAccountName"):
            return str(executor["serviceAccountName"])
    return ""


@resource_rule(
    "argo-no-default-service-account",
    *KINDS,
    description=(
        "Argo workflow pods run under a service account of their own, never the namespace's default one: "
        "serviceAccountName (template, else workflow) is set and is not 'default', nor is "
        "executor.serviceAccountName."
    ),
    severity="medium",
    remediation=(
        "Create a ServiceAccount for the pipeline with only the RBAC it needs (workflowtaskresults create/patch "
        "for the executor) and set spec.serviceAccountName."
    ),
    framework=cis_eks("4.1.5"),
)
def no_default_service_account(res: Res, ctx: Ctx) -> Iterator[str]:
    wf = _argo.workflow_spec(res)
    for pod in _argo.pods(res):
        account = str(pod.spec.get("serviceAccountName") or "")
        if not account:
            yield f"{pod.where} runs under the namespace's default service account (no serviceAccountName)"
        elif account == "default":
            yield f"{pod.where} runs under the 'default' service account"
        if _executor_sa(wf, pod.template) == "default":
            yield f"{pod.where}: executor.serviceAccountName is 'default'"


@resource_rule(
    "argo-executor-token",
    *KINDS,
    description=(
        "An Argo pod that does not mount its service account token (automountServiceAccountToken: false) names "
        "the executor's service account (executor.serviceAccountName): Argo refuses the workflow otherwise."
    ),
    severity="medium",
    remediation=(
        "Set executor.serviceAccountName (workflow or template) to a service account allowed to "
        "create/patch workflowtaskresults, or leave the token mounted."
    ),
)
def executor_token(res: Res, ctx: Ctx) -> Iterator[str]:
    wf = _argo.workflow_spec(res)
    for pod in _argo.pods(res):
        automount = pod.spec.get("automountServiceAccountToken")
        if automount is not None and not truthy(automount) and not _executor_sa(wf, pod.template):
            yield (
                f"{pod.where} sets automountServiceAccountToken=false without executor.serviceAccountName "
                "(Argo rejects it: the executor needs a token)"
            )
