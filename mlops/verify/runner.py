"""Runs the layers of ``mlops verify`` over a rendered graph and applies the accepted-findings list.

The helm layer runs first (it renders every release into ``ctx.releases``); every other layer is a module
with ``check(ctx) -> list[Finding]``, imported by name from :data:`LAYERS` and timed.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mlops_platform.components.cluster.versions import DEFAULT_KUBERNETES_VERSION
from mlops_platform.mlops import REPO_ROOT
from mlops_platform.mlops.graph import Graph
from mlops_platform.mlops.stackconfig import StackFileError, load_project
from mlops_platform.mlops.verify import accepted as accepted_list
from mlops_platform.mlops.verify import cel
from mlops_platform.mlops.verify import helm as helm_layer
from mlops_platform.mlops.verify.model import Finding, VerifyContext

LAYERS: tuple[str, ...] = (
    "mlops_platform.mlops.verify.values",
    "mlops_platform.mlops.verify.kube_schema",
    "mlops_platform.mlops.verify.crd",
    "mlops_platform.mlops.verify.semantics",
    "mlops_platform.mlops.verify.iam",
    "mlops_platform.mlops.verify.chart_policies",
)
"""The layers after helm, in order (each a module with ``check(ctx)`` and a ``LAYER`` name)."""

INCOMPLETE_CHECKS = frozenset(
    {
        ("helm", "chart-not-found"),  # a pinned chart no source has: that release was not rendered
        ("policy", "pack-failed"),  # the policy pack could not run over the chart manifests
        ("schema", "unsupported-kube-version"),  # no OpenAPI schema for the cluster's version
        ("crd", "unsupported-kube-version"),
        ("crd", "crd-bundle-missing"),  # custom resources validated against a chart's minimal CRDs only
        ("semantics", "unsupported-kube-version"),
    }
)
"""Findings that mean a layer (or a part of the platform) could not be verified at all: ``mlops verify``
exits 2 (INCOMPLETE), not 1."""


@dataclass
class VerifyResult:
    stack: str
    kube_version: str
    helm: str
    """``<path> (<version>)`` of the helm that rendered."""
    charts: str
    """Where the charts came from."""
    releases: int
    layers: list[str]
    findings: list[Finding]
    accepted: list[tuple[Finding, accepted_list.Accepted]]
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per layer (``helm`` included)."""
    stack_file: str | None = None
    """The stack's config file, relative to the project: where a finding without a source is located."""
    cel_rules: cel.Coverage | None = None
    """The CEL rules of the CRDs in use: how many were evaluated, and those that were not (and why). Informative:
    a rule not evaluated is not a finding. None when the crd layer did not run."""

    @property
    def incomplete(self) -> list[Finding]:
        return [f for f in self.findings if (f.layer, f.check) in INCOMPLETE_CHECKS]

    def counts(self) -> dict[str, int]:
        counts = {layer: 0 for layer in self.layers}
        for finding in self.findings:
            counts[finding.layer] = counts.get(finding.layer, 0) + 1
        return counts


def _load(name: str):
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name == name:
            raise helm_layer.VerifyError(f"verify layer {name} is not installed (no module {name})") from err
        raise
    if not callable(getattr(module, "check", None)):
        raise helm_layer.VerifyError(f"verify layer {name} has no check(ctx) function")
    return module


def verify(
    graph: Graph,
    stack: str,
    *,
    charts_dir: str | None,
    helm: helm_layer.Helm,
    layers: Sequence[str] = LAYERS,
    accepted: Iterable[accepted_list.Accepted] | None = None,
    stack_file: str | None = None,
) -> VerifyResult:
    """Render the graph's releases with ``helm``, run every layer, split off the accepted findings.

    Raises :class:`~mlops_platform.mlops.verify.helm.VerifyError` when verification cannot run (a chart directory that
    does not exist, a layer that is not installed).
    """
    modules = [_load(name) for name in layers]
    source = helm_layer.chart_source(charts_dir, helm)
    ctx = VerifyContext(
        graph=graph, stack=stack, kube_version=helm_layer.kube_version(graph, DEFAULT_KUBERNETES_VERSION)
    )
    if isinstance(source, helm_layer.LocalCharts):
        ctx.charts_root = source.root
    elif isinstance(source, helm_layer.PulledCharts):
        ctx.charts_root, ctx.pull_bundles = source.cache, True
    timings: dict[str, float] = {}
    started = time.perf_counter()
    findings = helm_layer.render(ctx, helm, source)
    timings[helm_layer.LAYER] = time.perf_counter() - started
    names = [helm_layer.LAYER]
    for module in modules:
        layer = str(getattr(module, "LAYER", module.__name__.rsplit(".", 1)[-1]))
        started = time.perf_counter()
        found = module.check(ctx)
        timings[layer] = timings.get(layer, 0.0) + time.perf_counter() - started
        names.append(layer)
        findings.extend(found)
    entries = accepted_list.ACCEPTED if accepted is None else tuple(accepted)
    kept, taken = accepted_list.apply(findings, entries)
    return VerifyResult(
        stack=stack,
        kube_version=ctx.kube_version,
        helm=f"{helm.path} ({helm.version})",
        charts=source.describe(),
        releases=len(ctx.releases),
        layers=list(dict.fromkeys(names)),
        findings=kept,
        accepted=taken,
        timings=timings,
        stack_file=stack_file or _stack_file(stack),
        cel_rules=ctx.cel_rules,
    )


def _stack_file(stack: str) -> str:
    """``stacks/Pulumi.<stack>.yaml`` as the project (Pulumi.yaml ``stackConfigDir``) places it."""
    try:
        project = load_project(REPO_ROOT)
    except StackFileError:
        return f"stacks/Pulumi.{stack}.yaml"
    path = project.stack_config_dir / f"Pulumi.{stack}.yaml"
    try:
        return str(path.relative_to(project.root))
    except ValueError:
        return str(path)
