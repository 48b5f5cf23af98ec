"""Test helpers for the policy pack: synthetic resources and mutation checks through the real protocol.

    with start_pack(POLICY_PACK) as stub:
        checker = Checker(stub)
        result = checker.run([aws_provider("prod"), resource("aws:s3/bucket:Bucket", "b", {...})], env="prod")
        assert_mutation_caught(checker, graph, select("aws:rds/instance:Instance"),
                               set_input("publiclyAccessible", True), "rds-not-public", env="prod")

:func:`assert_mutation_caught` is the reusable mutation mechanism: it takes a graph (e.g. a rendered stack),
a selector, an input mutation and a rule, checks the rule is quiet on the original, applies the mutation to
a copy and asserts the rule fires on the mutated resource.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_platform.mlops import REPO_ROOT
from mlops_platform.mlops.analyzer import CheckResult, analyze_with
from mlops_platform.mlops.graph import Graph, Resource, SourcePosition

POLICY_PACK = REPO_ROOT / "policies"
GOVERNANCE = {
    "owner": "ml-platform",
    "cost-center": "cc-1",
    "data-classification": "internal",
    "managed-by": "pulumi",
}
PROJECT, STACK = "test", "test"


def urn_of(type_: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::{PROJECT}::{type_}::{name}"


def aws_provider(env: str = "prod", *, name: str = "aws", tags: dict[str, str] | None = None) -> Resource:
    """The explicit AWS provider as the engine sends it: ``defaultTags`` JSON-encoded."""
    t = {"environment": env, **GOVERNANCE} if tags is None else tags
    return Resource(
        urn=urn_of("pulumi:providers:aws", name),
        type="pulumi:providers:aws",
        name=name,
        custom=True,
        id="prov-id",
        inputs={"region": "eu-west-1", "defaultTags": json.dumps({"tags": t})},
    )


def k8s_provider(name: str = "k8s") -> Resource:
    return Resource(
        urn=urn_of("pulumi:providers:kubernetes", name),
        type="pulumi:providers:kubernetes",
        name=name,
        custom=True,
        id="k8s-id",
        inputs={"kubeconfig": "{}"},
    )


def resource(
    type_: str,
    name: str,
    inputs: dict[str, Any] | None = None,
    *,
    outputs: dict[str, Any] | None = None,
    deps: dict[str, list[Resource]] | None = None,
    protect: bool = False,
    provider: Resource | None = None,
) -> Resource:
    """A synthetic resource; AWS resources use the ``aws`` provider of :func:`aws_provider` by default."""
    property_dependencies = {k: [d.urn for d in v] for k, v in (deps or {}).items()}
    prov = (
        provider.urn
        if provider is not None
        else (
            urn_of("pulumi:providers:aws", "aws")
            if type_.startswith("aws:")
            else urn_of("pulumi:providers:kubernetes", "k8s")
            if type_.startswith("kubernetes:")
            else None
        )
    )
    return Resource(
        urn=urn_of(type_, name),
        type=type_,
        name=name,
        custom=not type_.startswith("mlops:"),
        id=f"{name}-id",
        provider=prov,
        protect=protect,
        dependencies=sorted({u for v in property_dependencies.values() for u in v}),
        property_dependencies=property_dependencies,
        inputs=dict(inputs or {}),
        outputs=dict(outputs) if outputs is not None else {**(inputs or {}), "id": f"{name}-id"},
        source=SourcePosition("tests/synthetic.py", 1),
    )


def graph_of(resources: Iterable[Resource]) -> Graph:
    return Graph(project=PROJECT, stack=STACK, resources=list(resources))


def config_for(env: str) -> dict[str, Any]:
    return json.loads((POLICY_PACK / "config" / f"{env}.json").read_text(encoding="utf-8"))


NO_POLICY_CONFIG: dict[str, Any] = {}
"""``Checker.run(..., config=NO_POLICY_CONFIG)``: no ``--policy-pack-config`` at all, as a bare
``pulumi preview --policy-pack policies`` runs the pack."""


def stack_environment(env: str, namespace: str = "mlops-platform") -> dict[str, str]:
    """The stack config ``ConfigureStack`` carries for a stack declaring ``environment: <env>``."""
    return {f"{namespace}:environment": env}


@dataclass
class Checker:
    """Runs graphs through an already started pack (start it once per test session)."""

    stub: Any

    def run(
        self,
        resources: Iterable[Resource] | Graph,
        env: str = "prod",
        *,
        config: dict[str, Any] | None = None,
        stack_config: dict[str, str] | None = None,
        stack_tags: dict[str, str] | None = None,
    ) -> CheckResult:
        """Analyze with ``policies/config/<env>.json`` (or ``config``: :data:`NO_POLICY_CONFIG` for none);
        ``stack_config`` and ``stack_tags`` go to ``ConfigureStack`` as the engine sends them."""
        graph = resources if isinstance(resources, Graph) else graph_of(resources)
        return analyze_with(
            self.stub,
            graph,
            config=config_for(env) if config is None else config,
            config_source=f"{env}.json" if config is None else "policy config",
            stack_config=stack_config,
            stack_tags=stack_tags,
        )


Selector = Callable[[Resource], bool]
Mutation = Callable[[dict[str, Any]], None]


def select(type_: str, name: str | None = None) -> Selector:
    return lambda r: r.type == type_ and (name is None or r.name == name)


def set_input(path: str, value: Any) -> Mutation:
    """Set a (dotted) input path, e.g. ``vpcConfig.endpointPublicAccess``; list indices are numbers."""
    keys = path.split(".")

    def mutate(inputs: dict[str, Any]) -> None:
        node: Any = inputs
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node.setdefault(k, {})
        last = keys[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def drop_input(path: str) -> Mutation:
    keys = path.split(".")

    def mutate(inputs: dict[str, Any]) -> None:
        node: Any = inputs
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        node.pop(keys[-1], None)

    return mutate


def mutated(
    graph: Graph,
    selector: Selector,
    mutation: Mutation | None = None,
    *,
    remove: bool = False,
    protect: bool | None = None,
    property_dependencies: dict[str, list[str]] | None = None,
) -> tuple[Graph, list[Resource]]:
    """A deep copy of ``graph`` with ``mutation`` applied to the inputs (and outputs) of every selected
    resource, or those resources removed."""
    g = copy.deepcopy(graph)
    chosen = [r for r in g.resources if selector(r)]
    if not chosen:
        raise LookupError("the selector matched no resource")
    if remove:
        g.resources = [r for r in g.resources if not selector(r)]
        return g, chosen
    for r in chosen:
        if mutation is not None:
            mutation(r.inputs)
            if r.outputs:
                mutation(r.outputs)
        if protect is not None:
            r.protect = protect
        if property_dependencies is not None:
            r.property_dependencies.update(property_dependencies)
    return g, chosen


def assert_mutation_caught(
    checker: Checker,
    graph: Graph,
    selector: Selector,
    mutation: Mutation | None,
    rule: str,
    *,
    env: str = "prod",
    remove: bool = False,
    protect: bool | None = None,
    property_dependencies: dict[str, list[str]] | None = None,
    expect_quiet_before: bool = True,
) -> CheckResult:
    """The named rule reports something new once the selected resources are mutated (or removed); with
    ``expect_quiet_before`` it must also be quiet on the original graph."""
    before = checker.run(graph, env)
    if expect_quiet_before:
        assert not before.by_policy(rule), (
            f"{rule} already fires before the mutation: {before.by_policy(rule)}"
        )
    g, chosen = mutated(
        graph, selector, mutation, remove=remove, protect=protect, property_dependencies=property_dependencies
    )
    after = checker.run(g, env)
    seen = {(v.urn, v.message) for v in before.by_policy(rule)}
    new = [v for v in after.by_policy(rule) if (v.urn, v.message) not in seen]
    assert new, f"{rule} did not catch the mutation of {[r.name for r in chosen]}"
    return after


def select_like(type_: str, *fragments: str) -> Selector:
    """Resources of ``type_`` whose name contains every fragment."""
    return lambda r: r.type == type_ and all(f in r.name for f in fragments)


def write_graph(graph: Graph, path: Path) -> None:  # pragma: no cover - debugging aid
    path.write_text(json.dumps(graph.to_json(), indent=2), encoding="utf-8")
