"""A stack deployed before the 0.2.0 restructure updates in place: every URN it holds is answered.

Rendered as docs/operations.md says a deployed stack takes 0.3.0 (Karpenter): with ``workloadNodesEnabled`` and,
where 0.2.0 had one, ``gpuNodesEnabled`` set true, so the fixed groups stay until their nodes are drained. What
is new then is Karpenter's and what a GPU pool brings to a stack that had no GPU group, nothing else.

``tests/stacks/urns/<stack>.txt`` lists the engine URN of every resource the shipped stacks registered
before components/ moved into sub-packages (0.1.0 and what main added since, commit 98b5c60). The engine
matches a new registration against the old state by its URN and its aliases, a parent's aliases carried
down to each child (:func:`mlops_platform.mlops.graph.answering_urns`); a URN nothing answers would be a delete plus a
create, so each old URN must be answered by exactly one resource of the same kind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlops_platform.mlops.engine import render, run_program
from mlops_platform.mlops.graph import Graph, answering_urns
from mlops_platform.mlops.stackconfig import load_stack

REPO = Path(__file__).resolve().parents[2]
STACKS = ("dev", "staging", "prod")
GPU_GROUP_IN_0_2 = {"dev": False, "staging": False, "prod": True}
"""Whether the 0.2.0 profile of each shipped stack had the fixed GPU group."""
NEW_IN_0_3 = ("-karpenter", "-nvidia-device-plugin", "-dcgm-exporter")
"""Names of what 0.3.0 adds: Karpenter's resources (Monitoring's Karpenter ServiceMonitor included), and NVIDIA's
device plugin and DCGM exporter where a GPU pool comes to a stack that had no GPU group (staging)."""
NEW_ALARMS_IN_0_3 = re.compile(r"-events-\d+-failed-invocations$")
"""The CloudWatch alarms on Karpenter's EventBridge rules (one per rule)."""
NEW_IN_0_4 = ("-pipelines",)
"""Names of what 0.4.0 adds: the pipelines (Argo Workflows, the pipelines namespace, the archive's tenant)."""
NEW_IN_0_5 = ("-serving", "-eks-metrics-server", "-ecr-mlserver")
"""Names of what 0.5.0 adds: serving (cert-manager, KServe, the runtime objects), the metrics-server add-on and
the serving runtime's ECR repository (with its policies)."""
NEW_ENDPOINTS = ("ec2", "ssm", "sqs", "eks")
"""The interface endpoints Karpenter's closed egress adds (components/network/endpoints.py KARPENTER_ENDPOINTS)."""


def new_in_0_3(urn: str) -> bool:
    name = urn.rsplit("::", 1)[-1]
    if urn_type(urn) == "aws:ec2/vpcEndpoint:VpcEndpoint":
        return name.rsplit("-", 1)[-1] in NEW_ENDPOINTS
    if urn_type(urn) == "aws:cloudwatch/metricAlarm:MetricAlarm":
        return bool(NEW_ALARMS_IN_0_3.search(name))
    return any(tag in name for tag in NEW_IN_0_3 + NEW_IN_0_4 + NEW_IN_0_5)


@pytest.fixture(scope="module")
def upgraded() -> dict[str, Graph]:
    """Each shipped stack as the upgrade keeps it: the fixed groups of 0.2.0 still on."""
    graphs = {}
    for stack in STACKS:
        config = load_stack(REPO, stack)
        config.values["mlops-platform:workloadNodesEnabled"] = "true"
        config.values["mlops-platform:gpuNodesEnabled"] = str(GPU_GROUP_IN_0_2[stack]).lower()
        graphs[stack] = run_program(config, root=REPO)
    return graphs


def old_urns(stack: str) -> list[str]:
    return (Path(__file__).parent / "urns" / f"{stack}.txt").read_text().split()


def urn_type(urn: str) -> str:
    return urn.split("::")[2].rsplit("$", 1)[-1]


def mapping(graph: Graph) -> dict[str, list[str]]:
    """old URN -> the new resources that answer for it."""
    found: dict[str, list[str]] = {}
    for new, answers in answering_urns(graph).items():
        for urn in answers:
            found.setdefault(urn, []).append(new)
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_every_old_urn_is_answered_by_exactly_one_resource(stack: str, upgraded: dict[str, Graph]) -> None:
    graph = upgraded[stack]
    by_urn = graph.by_urn()
    answered = mapping(graph)
    unanswered = [u for u in old_urns(stack) if u not in answered]
    assert not unanswered, "\n".join(unanswered)
    for urn in old_urns(stack):
        (new,) = answered[urn]
        res = by_urn[new]
        if not res.type.startswith(
            "mlops:"
        ):  # a custom resource keeps its type; a component's token may move
            assert res.type == urn_type(urn), (urn, new)


@pytest.mark.parametrize("stack", STACKS)
def test_nothing_is_created_beside_what_was_there(stack: str, upgraded: dict[str, Graph]) -> None:
    """The restructure moved resources; it created none: every resource answers for an old URN, but what
    0.3.0 adds (:data:`NEW_IN_0_3`)."""
    old = set(old_urns(stack))
    new_only = [new for new, answers in answering_urns(upgraded[stack]).items() if not old & set(answers)]
    unexpected = [u for u in new_only if not new_in_0_3(u)]
    assert not unexpected, "\n".join(unexpected)
    assert any("karpenter" in u for u in new_only)


@pytest.mark.parametrize("stack", STACKS)
def test_the_default_drops_only_the_fixed_groups(stack: str, stacks: dict[str, Graph]) -> None:
    """With the new defaults (no fixed workload or GPU group), what goes is those groups and their launch
    templates: a stack must set the two keys (docs/operations.md) to keep them until it has drained them."""
    gone = set(old_urns(stack)) - set(mapping(stacks[stack]))
    kinds = {(urn_type(u), u.rsplit("::", 1)[-1].rsplit("-", 1)[-1]) for u in gone}
    groups = {"workload", "gpu"} if GPU_GROUP_IN_0_2[stack] else {"workload"}
    assert kinds == {
        (t, g)
        for t in ("aws:eks/nodeGroup:NodeGroup", "aws:ec2/launchTemplate:LaunchTemplate")
        for g in groups
    }


def test_the_renames_are_the_ones_listed() -> None:
    """What moved in dev: the five renamed type tokens and the External Secrets Operator, now a cluster add-on."""
    graph = render("dev", REPO)
    moved = {old: new for old, (new,) in mapping(graph).items() if old != new and old in set(old_urns("dev"))}
    head = "urn:pulumi:dev::mlops-platform::mlops:platform:MlopsPlatform$"
    assert moved[f"{head}mlops:registry:ContainerRegistry::mlops-dev-ecr"] == (
        f"{head}mlops:container_registry:ContainerRegistry::mlops-dev-ecr"
    )
    assert moved[
        f"{head}mlops:model_registry:ModelRegistry$kubernetes:helm.sh/v3:Release::mlops-dev-mlflow-eso"
    ] == (f"{head}mlops:cluster:KubernetesCluster$kubernetes:helm.sh/v3:Release::mlops-dev-eks-eso")
    tokens = {u.split("::")[2].split("$")[1] for u in moved if u.startswith(head)}
    assert tokens == {
        "mlops:artifacts:ArtifactStore",
        "mlops:registry:ContainerRegistry",
        "mlops:model_registry:ModelRegistry",
    }


def test_without_the_aliases_old_urns_go_unanswered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: with no type aliases, the renamed components' resources would be replaced."""
    from mlops_platform.components import aliases

    monkeypatch.setattr(aliases, "TYPE_ALIASES", {})
    answered = mapping(render("dev", REPO))
    missing = [u for u in old_urns("dev") if u not in answered]
    assert any("mlops:registry:ContainerRegistry$aws:ecr/repository:Repository" in u for u in missing)
    assert any("mlops:artifacts:ArtifactStore$aws:s3/bucket:Bucket" in u for u in missing)


def test_the_allowance_names_karpenters_alarms_and_service_monitor_only() -> None:
    head = "urn:pulumi:prod::mlops-platform::mlops:platform:MlopsPlatform$mlops:monitoring:Monitoring$"
    alarm = f"{head}aws:cloudwatch/metricAlarm:MetricAlarm::mlops-prod-"
    monitor = f"{head}kubernetes:monitoring.coreos.com/v1:ServiceMonitor::mlops-prod-"
    assert new_in_0_3(alarm + "events-4-failed-invocations")
    assert new_in_0_3(monitor + "karpenter")
    assert not new_in_0_3(alarm + "rds-cpu-high")
    assert not new_in_0_3(alarm + "events-failed-invocations-extra")
    assert not new_in_0_3(monitor + "mlflow")
