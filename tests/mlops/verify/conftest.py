"""Fixtures of the verify tests: the shipped stacks rendered offline, and their Helm releases rendered by
the helm layer itself (:func:`mlops_platform.mlops.verify.helm.render`, the real helm from ``make helm``, the charts from
``../shared/charts``). A missing helm or chart directory fails the test (CI installs both); nothing skips."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

import pytest
from verify_kit import graph_of, project_helm, shared_charts

from mlops_platform.mlops import REPO_ROOT
from mlops_platform.mlops.engine import render
from mlops_platform.mlops.graph import Graph, Resource
from mlops_platform.mlops.verify import helm as helm_layer
from mlops_platform.mlops.verify import runner
from mlops_platform.mlops.verify.model import Finding, RenderedRelease, VerifyContext
from mlops_platform.mlops.verify.runner import VerifyResult


@functools.cache
def stack_graph(stack: str) -> Graph:
    return render(stack, REPO_ROOT)


def render_into(ctx: VerifyContext) -> VerifyContext:
    """``ctx`` with its graph's releases rendered by the helm layer (and the CRD bundles found beside the
    charts, as the runner sets them); a helm finding fails the test."""
    ctx.charts_root = shared_charts()
    findings = helm_layer.render(ctx, project_helm(), helm_layer.LocalCharts(shared_charts()))
    assert not findings, [f.message for f in findings]
    return ctx


@functools.cache
def stack_context(stack: str, with_charts: bool = False) -> VerifyContext:
    graph = stack_graph(stack)
    ctx = VerifyContext(graph=graph, stack=stack, kube_version=helm_layer.kube_version(graph, "1.36"))
    return render_into(ctx) if with_charts else ctx


@functools.cache
def verified_stack(stack: str) -> VerifyResult:
    """The whole of ``mlops verify`` (every layer, helm included) on a shipped stack, nothing accepted."""
    return runner.verify(
        stack_graph(stack), stack, charts_dir=str(shared_charts()), helm=project_helm(), accepted=[]
    )


@pytest.fixture(scope="session")
def verified() -> Callable[[str], VerifyResult]:
    """``verified(stack)``: the runner's result on a shipped stack with every layer and no accepted list
    (every finding in ``.findings``), once per session."""
    return verified_stack


@pytest.fixture(scope="session")
def stack_ctx() -> Callable[..., VerifyContext]:
    """``stack_ctx(stack, with_charts=False)``: the stack's VerifyContext (its charts rendered by helm if
    asked)."""
    return stack_context


@pytest.fixture(scope="session")
def releases_of() -> Callable[[str], list[RenderedRelease]]:
    """``releases_of(env)``: the releases of a shipped stack rendered by helm (once per session)."""
    return lambda env: stack_context(env, True).releases


@pytest.fixture(scope="session")
def chart_release() -> Callable[..., RenderedRelease]:
    """``chart_release(resource, chart_folder, values, namespace)``: one chart of ../shared/charts rendered
    with ``values`` as a release of ``resource`` (its manifests located at that resource)."""

    def make(
        resource: Resource, folder: str, values: dict[str, Any], namespace: str, kube: str = "1.36"
    ) -> RenderedRelease:
        meta = helm_layer.chart_metadata(shared_charts() / folder)
        release = Resource(
            urn=f"{resource.urn}-release",
            type="kubernetes:helm.sh/v3:Release",
            name="test",
            custom=True,
            inputs={
                "chart": str(meta["name"]),
                "version": str(meta["version"]),
                "name": "test",
                "namespace": namespace,
                "values": values,
            },
            source=resource.source,
        )
        ctx = render_into(VerifyContext(graph=graph_of(release, kube=kube), stack="test", kube_version=kube))
        (rendered_release,) = ctx.releases
        for manifest in rendered_release.manifests:
            manifest.resource = resource
        rendered_release.resource = resource
        return rendered_release

    return make


def _resource(graph: Graph, type_: str, name_suffix: str) -> Resource:
    found = [r for r in graph.resources if r.type == type_ and r.name.endswith(name_suffix)]
    assert len(found) == 1, f"expected one {type_} named *{name_suffix}, found {[r.name for r in found]}"
    return found[0]


@pytest.fixture
def planted(stack_ctx: Callable[..., VerifyContext]) -> Callable[..., tuple[VerifyContext, Resource]]:
    """``planted(stack, type, name_suffix, mutate, with_charts=False)``: the stack's context with one
    resource's inputs changed by ``mutate(inputs)`` (on a copy of the graph); returns (ctx, resource)."""

    def make(
        stack: str,
        type_: str,
        name_suffix: str,
        mutate: Callable[[dict[str, Any]], Any],
        with_charts: bool = False,
    ) -> tuple[VerifyContext, Resource]:
        base = stack_ctx(stack, with_charts)
        graph = copy.deepcopy(base.graph)
        target = _resource(graph, type_, name_suffix)
        mutate(target.inputs)
        ctx = VerifyContext(graph=graph, stack=stack, kube_version=base.kube_version, releases=base.releases)
        return ctx, target

    return make


def _at(findings: list[Finding], check: str, resource: Resource) -> list[Finding]:
    assert resource.source is not None
    return [f for f in findings if f.check == check and f.source == resource.source and f.urn == resource.urn]


@pytest.fixture(scope="session")
def at() -> Callable[[list[Finding], str, Resource], list[Finding]]:
    """``at(findings, check, resource)``: the findings of ``check`` located at the resource's file:line."""
    return _at
