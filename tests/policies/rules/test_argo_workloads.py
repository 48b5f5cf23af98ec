"""Argo Workflows objects through the real analyzer protocol: the pack's pod rules see the pods of a Workflow,
WorkflowTemplate, ClusterWorkflowTemplate and CronWorkflow (policies/rules/_argo.py), and the Argo rules
(policies/rules/argo_workloads.py) judge the workflow itself. Each kind's compliant fixture passes every rule;
each mutation breaks one setting of one template and the violation names that template."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from policybaseline import ACCOUNT
from policycases import rule_names
from policytest import Checker, drop_input, k8s_provider, resource, set_input

from mlops_platform.policies.rules import _argo, argo_workloads
from mlops_platform.policies.rules._common import Res

API = "argoproj.io/v1alpha1"
IMAGE = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/pipelines:1.4.0"
KINDS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")


def step(name: str | None = None, **extra: Any) -> dict[str, Any]:
    """A compliant container of a template; runAsNonRoot and the UID come from the pod's securityContext."""
    c: dict[str, Any] = {
        "image": IMAGE,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
        **extra,
    }
    if name is not None:
        c["name"] = name
    return c


def workflow_spec() -> dict[str, Any]:
    """A compliant workflow spec with every kind of template: dag, script, container (with init containers,
    sidecars and its own volume), containerSet and suspend."""
    return {
        "entrypoint": "main",
        "serviceAccountName": "pipeline-runner",
        "activeDeadlineSeconds": 7200,
        "ttlStrategy": {"secondsAfterCompletion": 86400},
        "podGC": {"strategy": "OnPodCompletion"},
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "fsGroup": 10001},
        "volumes": [{"name": "data", "emptyDir": {}}],
        "templates": [
            {
                "name": "main",
                "dag": {
                    "tasks": [
                        {"name": "prep", "template": "prep"},
                        {"name": "train", "template": "train", "depends": "prep"},
                        {"name": "eval", "template": "eval", "depends": "train"},
                    ]
                },
            },
            {"name": "prep", "script": step(command=["python"], source="print('prep')")},
            {
                "name": "train",
                "container": step(volumeMounts=[{"name": "data", "mountPath": "/data"}]),
                "initContainers": [step("fetch")],
                "sidecars": [step("log")],
                "volumes": [{"name": "scratch", "emptyDir": {}}],
            },
            {"name": "eval", "containerSet": {"containers": [step("a"), step("b")]}},
            {"name": "approve", "suspend": {}},
        ],
    }


SPEC_AT = {"Workflow": "spec", "WorkflowTemplate": "spec", "ClusterWorkflowTemplate": "spec"}
SPEC_AT["CronWorkflow"] = "spec.workflowSpec"


def argo(kind: str, spec: dict[str, Any] | None = None, *, namespace: str | None = "pipelines") -> Any:
    """The resource a ``pulumi_kubernetes.apiextensions.CustomResource`` of ``kind`` sends."""
    body = workflow_spec() if spec is None else spec
    metadata: dict[str, Any] = {"name": f"train-{kind.lower()}"}
    if namespace and kind != "ClusterWorkflowTemplate":
        metadata["namespace"] = namespace
    inputs: dict[str, Any] = {"apiVersion": API, "kind": kind, "metadata": metadata}
    if kind == "CronWorkflow":
        inputs["spec"] = {"schedules": ["0 3 * * *"], "concurrencyPolicy": "Forbid", "workflowSpec": body}
    else:
        inputs["spec"] = body
    return resource(f"kubernetes:{API}:{kind}", f"train-{kind.lower()}", inputs)


def messages(checker: Checker, res: Any, rule: str) -> list[str]:
    return [v.message for v in checker.run([k8s_provider(), res], "prod").by_policy(rule)]


def mutated(kind: str, path: str, mutation: Callable[[str], Callable[[dict[str, Any]], None]]) -> Any:
    """The kind's compliant fixture with ``mutation`` applied at ``path`` inside its workflow spec."""
    res = argo(kind)
    mutation(f"{SPEC_AT[kind]}.{path}")(res.inputs)
    return res


# ---- the compliant fixtures --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_each_compliant_kind_passes_every_rule(checker: Checker, kind: str) -> None:
    result = checker.run([k8s_provider(), argo(kind)], "prod")
    assert result.violations == []
    # ... and the pod rules did look: three pods (prep, train, eval; main and approve run none).
    assert [p.where for p in _argo.pods(Res(argo(kind).type, "x", "u", argo(kind).inputs))] == [
        "templates[prep]",
        "templates[train]",
        "templates[eval]",
    ]


# ---- the pod rules over Argo pods: one setting of one template broken at a time ----------------------------

T_PREP, T_TRAIN, T_EVAL = "templates.1", "templates.2", "templates.3"
POD_CASES: list[tuple[str, str, Callable[..., Any], Any, str]] = [
    (
        "k8s-resources",
        f"{T_TRAIN}.container.resources.limits",
        drop_input,
        None,
        "container 'templates[train].container' lacks resources limits.memory, limits.cpu",
    ),
    (
        "k8s-no-privileged",
        f"{T_TRAIN}.sidecars.0.securityContext.privileged",
        set_input,
        True,
        "container 'templates[train].sidecars[log]' runs privileged",
    ),
    (
        "k8s-no-privilege-escalation",
        f"{T_TRAIN}.initContainers.0.securityContext.allowPrivilegeEscalation",
        drop_input,
        None,
        "container 'templates[train].initContainers[fetch]' does not set allowPrivilegeEscalation=false",
    ),
    (
        "k8s-read-only-root-fs",
        f"{T_PREP}.script.securityContext.readOnlyRootFilesystem",
        set_input,
        False,
        "container 'templates[prep].script' has a writable root filesystem",
    ),
    (
        "k8s-drop-all-capabilities",
        f"{T_EVAL}.containerSet.containers.1.securityContext.capabilities",
        set_input,
        {"drop": ["NET_RAW"]},
        "container 'templates[eval].containerSet[b]' does not drop ALL capabilities",
    ),
    (
        "k8s-image-pinned",
        f"{T_TRAIN}.container.image",
        set_input,
        f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/pipelines:latest",
        "container 'templates[train].container' image",
    ),
    (
        "k8s-allowed-registries",
        f"{T_PREP}.script.image",
        set_input,
        "evil.example.com/miner:1.0.0",
        "container 'templates[prep].script' image 'evil.example.com/miner:1.0.0' is not from an allowed registry",
    ),
    (
        "k8s-no-host-port",
        f"{T_TRAIN}.container.ports",
        set_input,
        [{"containerPort": 8080, "hostPort": 8080}],
        "container 'templates[train].container' binds hostPort 8080",
    ),
    (
        "k8s-run-as-non-root",
        f"{T_TRAIN}.securityContext",
        set_input,
        {"runAsNonRoot": False},
        "container 'templates[train].container' does not set runAsNonRoot=true",
    ),
    (
        "k8s-run-as-non-root",
        f"{T_EVAL}.containerSet.containers.0.securityContext.runAsUser",
        set_input,
        0,
        "container 'templates[eval].containerSet[a]' runs as UID 0",
    ),
    (
        "k8s-no-host-namespaces",
        "hostNetwork",
        set_input,
        True,
        "templates[train]: the pod shares the node's namespace (hostNetwork)",
    ),
    (
        "k8s-no-host-path",
        "volumes.0",
        set_input,
        {"name": "data", "hostPath": {"path": "/var/run/docker.sock"}},
        "templates[train]: volume 'data' mounts a hostPath",
    ),
    (
        "k8s-no-host-path",
        f"{T_EVAL}.volumes",
        set_input,
        [{"name": "node", "hostPath": {"path": "/"}}],
        "templates[eval]: volume 'node' mounts a hostPath",
    ),
    (
        "k8s-postgres-tls-verified",
        f"{T_TRAIN}.container.env",
        set_input,
        [{"name": "PGSSLMODE", "value": "require"}],
        "container 'templates[train].container' sets PGSSLMODE=require, not verify-full",
    ),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("rule", "path", "how", "value", "expect"), POD_CASES, ids=[f"{c[0]}:{c[1]}" for c in POD_CASES]
)
def test_pod_rule_catches_a_broken_template(
    checker: Checker, kind: str, rule: str, path: str, how: Callable[..., Any], value: Any, expect: str
) -> None:
    assert messages(checker, argo(kind), rule) == []
    broken = mutated(kind, path, (lambda p: how(p, value)) if how is set_input else how)
    found = messages(checker, broken, rule)
    assert any(expect in m for m in found), found


def test_a_template_security_context_replaces_the_workflows_whole(checker: Checker) -> None:
    """Argo takes the template's securityContext instead of the workflow's (no merge): a template that sets
    only fsGroup loses the workflow's runAsNonRoot, and only its own pod fails."""
    res = mutated("WorkflowTemplate", f"{T_PREP}.securityContext", lambda p: set_input(p, {"fsGroup": 2000}))
    assert messages(checker, res, "k8s-run-as-non-root") == [
        "container 'templates[prep].script' does not set runAsNonRoot=true"
    ]


def test_a_workflow_without_pod_security_context_fails_every_pod(checker: Checker) -> None:
    res = mutated("Workflow", "securityContext", drop_input)
    found = messages(checker, res, "k8s-run-as-non-root")
    assert len(found) == 6 and all("does not set runAsNonRoot=true" in m for m in found), found


def test_template_defaults_reach_every_template_of_their_type(checker: Checker) -> None:
    spec = workflow_spec()
    spec["templateDefaults"] = {"container": {"securityContext": {"privileged": True}}}
    found = messages(checker, argo("CronWorkflow", spec), "k8s-no-privileged")
    # The container default reaches the container template only (not the script, nor the dag).
    assert found == ["container 'templates[train].container' runs privileged"]
    # A template's own value wins over the default.
    spec["templates"][2]["container"]["securityContext"]["privileged"] = False
    assert messages(checker, argo("CronWorkflow", spec), "k8s-no-privileged") == []


def test_inline_templates_of_a_dag_are_pods_too(checker: Checker) -> None:
    spec = workflow_spec()
    inline = step()
    del inline["resources"]
    spec["templates"][0]["dag"]["tasks"].append({"name": "notify", "inline": {"container": inline}})
    found = messages(checker, argo("Workflow", spec), "k8s-resources")
    assert found == [
        "container 'templates[main].dag.tasks[notify].inline.container' lacks resources requests.cpu, "
        "requests.memory, limits.memory, limits.cpu"
    ]


def test_a_workflow_volume_no_container_mounts_is_not_in_the_pod(checker: Checker) -> None:
    """The controller adds only the workflow volumes a container mounts: an unmounted hostPath is no finding."""
    spec = workflow_spec()
    spec["volumes"].append({"name": "unused", "hostPath": {"path": "/"}})
    assert messages(checker, argo("WorkflowTemplate", spec), "k8s-no-host-path") == []


def test_argo_objects_live_outside_the_default_namespace(checker: Checker) -> None:
    assert messages(checker, argo("WorkflowTemplate", namespace=None), "k8s-no-default-namespace") == [
        "the object lives in the default namespace"
    ]
    # A ClusterWorkflowTemplate is cluster-scoped.
    assert (
        messages(checker, argo("ClusterWorkflowTemplate", namespace=None), "k8s-no-default-namespace") == []
    )


# ---- the pod-level overrides, as the pods are built -------------------------------------------------------


def _pods(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    res = argo("Workflow", spec)
    return {p.where: p.spec for p in _argo.pods(Res(res.type, res.name, res.urn, res.inputs))}


@pytest.mark.parametrize(
    ("key", "workflow", "template"),
    [
        ("serviceAccountName", "pipeline-runner", "trainer"),
        ("nodeSelector", {"role": "cpu"}, {"nvidia.com/gpu.present": "true"}),
        (
            "tolerations",
            [{"key": "a", "operator": "Exists"}],
            [{"key": "nvidia.com/gpu", "operator": "Exists"}],
        ),
        ("affinity", {"nodeAffinity": {}}, {"podAntiAffinity": {}}),
        ("automountServiceAccountToken", True, False),
        ("priorityClassName", "batch-low", "batch-high"),
        ("securityContext", {"runAsNonRoot": True}, {"runAsNonRoot": True, "runAsUser": 2000}),
    ],
)
def test_a_template_pod_field_overrides_the_workflows(key: str, workflow: Any, template: Any) -> None:
    spec = workflow_spec()
    spec[key] = workflow
    spec["templates"][2][key] = copy.deepcopy(template)
    pods = _pods(spec)
    assert pods["templates[train]"][key] == template
    assert pods["templates[prep]"][key] == workflow  # no value of its own: the workflow's


def test_pod_volumes_are_the_templates_and_the_mounted_workflow_volumes() -> None:
    pods = _pods(workflow_spec())
    assert [v["name"] for v in pods["templates[train]"]["volumes"]] == ["data", "scratch"]
    assert "volumes" not in pods["templates[prep]"]


def test_templates_without_a_container_run_no_pod() -> None:
    spec = workflow_spec()
    spec["templates"] = [
        {"name": "main", "steps": [[{"name": "a", "template": "x"}]]},
        {"name": "wait", "suspend": {"duration": "10m"}},
        {"name": "apply", "resource": {"action": "create", "manifest": "{}"}},
        {"name": "call", "http": {"url": "https://example.com"}},
        {"name": "plug", "plugin": {"hello": {}}},
    ]
    assert _pods(spec) == {}


# ---- the Argo rules ----------------------------------------------------------------------------------------

ARGO_CASES: list[tuple[str, str, Callable[[str], Callable[[dict[str, Any]], None]], str]] = [
    (
        "argo-no-pod-spec-patch",
        "podSpecPatch",
        lambda p: set_input(p, '{"containers":[{"name":"main","securityContext":{"privileged":true}}]}'),
        "podSpecPatch patches every pod at run time",
    ),
    (
        "argo-no-pod-spec-patch",
        f"{T_TRAIN}.podSpecPatch",
        lambda p: set_input(p, '{"hostNetwork": true}'),
        "templates[train].podSpecPatch patches the pod at run time",
    ),
    ("argo-active-deadline", "activeDeadlineSeconds", drop_input, "activeDeadlineSeconds is not set"),
    ("argo-active-deadline", "activeDeadlineSeconds", lambda p: set_input(p, 0), "activeDeadlineSeconds"),
    ("argo-ttl-strategy", "ttlStrategy", lambda p: set_input(p, {}), "ttlStrategy sets none of"),
    ("argo-pod-gc", "podGC", drop_input, "podGC.strategy is not one of"),
    (
        "argo-no-default-service-account",
        "serviceAccountName",
        drop_input,
        "templates[train] runs under the namespace's default service account",
    ),
    (
        "argo-no-default-service-account",
        f"{T_PREP}.serviceAccountName",
        lambda p: set_input(p, "default"),
        "templates[prep] runs under the 'default' service account",
    ),
    (
        "argo-no-default-service-account",
        "executor",
        lambda p: set_input(p, {"serviceAccountName": "default"}),
        "templates[eval]: executor.serviceAccountName is 'default'",
    ),
    (
        "argo-executor-token",
        "automountServiceAccountToken",
        lambda p: set_input(p, False),
        "templates[train] sets automountServiceAccountToken=false without executor.serviceAccountName",
    ),
]


def test_every_argo_rule_has_a_case() -> None:
    assert sorted({c[0] for c in ARGO_CASES}) == rule_names(argo_workloads)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("rule", "path", "mutation", "expect"), ARGO_CASES, ids=[c[0] for c in ARGO_CASES])
def test_argo_rule_catches_its_violation(
    checker: Checker,
    kind: str,
    rule: str,
    path: str,
    mutation: Callable[[str], Callable[[dict[str, Any]], None]],
    expect: str,
) -> None:
    assert messages(checker, argo(kind), rule) == []
    result = checker.run([k8s_provider(), mutated(kind, path, mutation)], "prod")
    found = result.by_policy(rule)
    assert any(expect in v.message for v in found), [v.message for v in found]
    assert all(v.enforcement == "mandatory" for v in found)


def test_the_spec_rules_name_the_cron_workflows_workflow_spec(checker: Checker) -> None:
    res = mutated("CronWorkflow", "activeDeadlineSeconds", drop_input)
    assert messages(checker, res, "argo-active-deadline") == [
        "spec.workflowSpec.activeDeadlineSeconds is not set to a positive number of seconds"
    ]


def test_the_executor_token_rule_passes_with_an_executor_account(checker: Checker) -> None:
    spec = workflow_spec()
    spec["automountServiceAccountToken"] = False
    spec["executor"] = {"serviceAccountName": "pipeline-executor"}
    assert messages(checker, argo("Workflow", spec), "argo-executor-token") == []
    # The template's executor account counts for its own pod only.
    del spec["executor"]
    spec["templates"][2]["executor"] = {"serviceAccountName": "pipeline-executor"}
    found = messages(checker, argo("Workflow", spec), "argo-executor-token")
    assert [m.split(" ")[0] for m in found] == ["templates[prep]", "templates[eval]"]


def test_template_defaults_pod_spec_patch_is_reported_once(checker: Checker) -> None:
    spec = workflow_spec()
    spec["templateDefaults"] = {"podSpecPatch": '{"hostPID": true}'}
    assert messages(checker, argo("Workflow", spec), "argo-no-pod-spec-patch") == [
        "spec.templateDefaults.podSpecPatch patches every template's pod at run time"
    ]


def test_a_run_of_a_workflow_template_is_judged_on_the_template(checker: Checker) -> None:
    """A Workflow that only references a WorkflowTemplate has its deadline, TTL and pod GC there."""
    ref = {"workflowTemplateRef": {"name": "train-workflowtemplate"}, "arguments": {"parameters": []}}
    result = checker.run(
        [k8s_provider(), argo("Workflow", ref), argo("CronWorkflow", copy.deepcopy(ref))], "prod"
    )
    assert result.violations == []


def test_argo_rules_are_advisory_in_dev_where_the_catalogue_says_so(checker: Checker) -> None:
    res = mutated("WorkflowTemplate", "podGC", drop_input)
    dev = checker.run([k8s_provider(), res], "dev").by_policy("argo-pod-gc")
    assert [v.enforcement for v in dev] == ["advisory"]
