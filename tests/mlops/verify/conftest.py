"""Fixtures of the verify tests: the shipped stacks rendered offline, and their Helm releases rendered
by the real helm from ../shared/charts (until the helm layer lands, the schema tests render them here)."""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops.engine import run_program
from mlops.graph import Graph, Resource
from mlops.stackconfig import load_stack
from mlops.verify.model import Manifest, RenderedRelease, VerifyContext
from mlops.verify.objects import UNKNOWN

ROOT = Path(__file__).resolve().parents[3]


def _charts() -> Path:
    """MLOPS_CHARTS, else ../shared/charts beside the repository (or beside its worktrees' folder)."""
    if os.environ.get("MLOPS_CHARTS"):
        return Path(os.environ["MLOPS_CHARTS"])
    for base in (ROOT.parent, ROOT.parent.parent):
        if (base / "shared" / "charts").is_dir():
            return base / "shared" / "charts"
    return ROOT.parent / "shared" / "charts"


def _helm_binary() -> str:
    """MLOPS_HELM, else the copy ``make helm`` installs (.ci/helm/bin/helm), else helm on PATH, else the
    development copy of this machine."""
    local = ROOT / ".ci" / "helm" / "bin" / "helm"
    found = os.environ.get("MLOPS_HELM") or (str(local) if local.exists() else None) or shutil.which("helm")
    return found or "/work/tools/helm-bin"


CHARTS = _charts()
HELM = _helm_binary()
CACHE = Path(tempfile.gettempdir()) / "mlops-verify-schema-helm"
RELEASE_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")


@functools.cache
def stack_graph(stack: str) -> Graph:
    return run_program(load_stack(ROOT, stack), root=ROOT)


def chart_dir(chart: str, version: str) -> Path | None:
    """The chart folder for ``chart``: the pinned version, else the only version ../shared/charts has."""
    exact = CHARTS / f"{chart}-{version}"
    if (exact / "Chart.yaml").exists():
        return exact
    found = sorted(p for p in CHARTS.glob(f"{chart}-*") if (p / "Chart.yaml").exists())
    found = [p for p in found if yaml.safe_load((p / "Chart.yaml").read_text()).get("name") == chart]
    return found[-1] if found else None


def _values(value: Any) -> Any:
    from mlops.graph import reveal

    value = reveal(value)
    if isinstance(value, dict):
        return {k: _values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_values(v) for v in value]
    return "placeholder" if value == UNKNOWN else value


# YAML 1.1's ``=`` value tag (a bare ``=`` in a CRD enum) is read as the string it is; libyaml when built.
_Loader: Any = type("_Loader", (getattr(yaml, "CSafeLoader", yaml.SafeLoader),), {})
_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def parse(text: str, resource: Resource) -> list[Manifest]:
    return [Manifest(obj=obj, resource=resource, template=source) for source, obj in _documents(text)]


def _documents(text: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    source = ""  # helm prints one "# Source:" per file; a file's later documents keep it
    for doc in re.split(r"^---\s*$", text, flags=re.MULTILINE):
        source = next(
            (ln[len("# Source: ") :] for ln in doc.splitlines() if ln.startswith("# Source: ")), source
        )
        obj = yaml.load(doc, Loader=_Loader)
        if isinstance(obj, dict) and obj:
            found.append((source, obj))
    return found


@functools.cache
def _helm(
    chart: str, release: str, namespace: str, values_json: str, kube: str, apis: tuple[str, ...]
) -> list[tuple[str, dict[str, Any]]]:
    """helm template's documents as (template, object)."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(json.loads(values_json), handle)
    cmd = [
        HELM,
        "template",
        release,
        chart,
        "--namespace",
        namespace,
        "--kube-version",
        kube,
        "--include-crds",
    ]
    cmd += ["-f", handle.name]
    for api in apis:
        cmd += ["--api-versions", api]
    # helm's output depends only on the command and the (read-only) chart folder: cache it across runs.
    key = hashlib.sha256(
        json.dumps([HELM, chart, release, namespace, values_json, kube, apis]).encode()
    ).hexdigest()
    cached = CACHE / f"{key}.json"
    try:
        if cached.exists():
            return [(source, obj) for source, obj in json.loads(cached.read_text())]
        out = _documents(subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300).stdout)
        CACHE.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(out))
        return out
    finally:
        os.unlink(handle.name)


def render_releases(graph: Graph, kube: str) -> list[RenderedRelease]:
    """Every Helm release of the graph rendered by helm (twice: the second pass with the CRDs' APIs)."""

    def one(resource: Resource, apis: tuple[str, ...]) -> RenderedRelease | None:
        inputs = resource.inputs
        chart, version = str(inputs.get("chart")), str(inputs.get("version"))
        where = chart_dir(chart, version)
        if where is None:
            return None
        name = str(inputs.get("name") or resource.name)
        namespace = str(inputs.get("namespace") or "default")
        values = _values(inputs.get("values") or {})
        docs = _helm(str(where), name, namespace, json.dumps(values, sort_keys=True), f"{kube}.0", apis)
        return RenderedRelease(
            resource=resource,
            chart=chart,
            version=version,
            repository=str((inputs.get("repositoryOpts") or {}).get("repo", "")),
            release_name=name,
            namespace=namespace,
            values=values,
            chart_dir=where,
            manifests=[Manifest(obj=o, resource=resource, template=t) for t, o in docs],
        )

    resources = [r for r in graph.resources if r.type in RELEASE_TYPES]
    first = [x for r in resources if (x := one(r, ())) is not None]
    apis = sorted(
        {
            f"{m.obj['spec']['group']}/{v['name']}"
            for rel in first
            for m in rel.manifests
            if m.kind == "CustomResourceDefinition"
            for v in m.obj["spec"].get("versions") or []
        }
    )
    return [x for r in resources if (x := one(r, tuple(apis))) is not None]


@functools.cache
def stack_context(stack: str, with_charts: bool) -> VerifyContext:
    graph = stack_graph(stack)
    cluster = next(r for r in graph.resources if r.type == "aws:eks/cluster:Cluster")
    kube = str(cluster.inputs.get("version"))
    releases = render_releases(graph, kube) if with_charts else []
    return VerifyContext(graph=graph, stack=stack, kube_version=kube, releases=releases)


@pytest.fixture(scope="session")
def stack_ctx():
    """``stack_ctx(stack, with_charts)``: the stack's VerifyContext (charts rendered by helm if asked)."""

    def make(stack: str, with_charts: bool = False) -> VerifyContext:
        if with_charts and not (Path(HELM).exists() and CHARTS.is_dir()):
            pytest.skip("helm and ../shared/charts are needed to render the charts")
        return stack_context(stack, with_charts)

    return make


@pytest.fixture(scope="session")
def chart_release():
    """``chart_release(resource, chart_folder, values, namespace)``: one chart rendered as a RenderedRelease."""

    def make(resource: Resource, folder: str, values: dict[str, Any], namespace: str, kube: str = "1.34"):
        if not (Path(HELM).exists() and (CHARTS / folder).is_dir()):
            pytest.skip("helm and ../shared/charts are needed to render the charts")
        docs = _helm(
            str(CHARTS / folder), "test", namespace, json.dumps(values, sort_keys=True), f"{kube}.0", ()
        )
        chart, _, version = folder.rpartition("-")
        return RenderedRelease(
            resource=resource,
            chart=chart,
            version=version,
            repository="",
            release_name="test",
            namespace=namespace,
            values=values,
            chart_dir=CHARTS / folder,
            manifests=[Manifest(obj=o, resource=resource, template=t) for t, o in docs],
        )

    return make


def _resource(graph: Graph, type_: str, name_suffix: str) -> Resource:
    found = [r for r in graph.resources if r.type == type_ and r.name.endswith(name_suffix)]
    assert len(found) == 1, f"expected one {type_} named *{name_suffix}, found {[r.name for r in found]}"
    return found[0]


@pytest.fixture
def planted(stack_ctx):
    """``planted(stack, type, name_suffix, mutate, with_charts=False)``: the stack's context with one
    resource's inputs changed by ``mutate(inputs)`` (on a copy of the graph); returns (ctx, resource)."""

    def make(stack: str, type_: str, name_suffix: str, mutate, with_charts: bool = False):
        base = stack_ctx(stack, with_charts)
        graph = copy.deepcopy(base.graph)
        target = _resource(graph, type_, name_suffix)
        mutate(target.inputs)
        ctx = VerifyContext(graph=graph, stack=stack, kube_version=base.kube_version, releases=base.releases)
        return ctx, target

    return make


def _at(findings, check: str, resource: Resource):
    assert resource.source is not None
    return [f for f in findings if f.check == check and f.source == resource.source and f.urn == resource.urn]


@pytest.fixture(scope="session")
def at():
    """``at(findings, check, resource)``: the findings of ``check`` located at the resource's file:line."""
    return _at
