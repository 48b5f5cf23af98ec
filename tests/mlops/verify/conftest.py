"""Releases of the shipped stacks rendered by the real helm, for the layers that read chart manifests.

Until the helm layer (mlops/verify/helm.py) fills ``ctx.releases``, these tests render each
``kubernetes:helm.sh/v3:Release`` of the graph themselves: ``helm template <name> <chart dir> --namespace
<ns> --kube-version 1.34.0 -f values.yaml`` with exactly the values the release passes (values unknown
offline or secret replaced by a placeholder string). Helm comes from ``MLOPS_HELM`` (or ``helm`` on PATH,
or the development binary), the charts from ``MLOPS_CHARTS`` (or ``../shared/charts``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops.graph import Graph, Secret
from mlops.verify.model import Manifest, RenderedRelease

REPO = Path(__file__).resolve().parents[3]
KUBE_VERSION = "1.34.0"

CHART_FALLBACK = {("kube-prometheus-stack", "91.5.0"): "88.5.3"}
"""Pins with no chart in ../shared/charts yet (the verify-core branch moves the pin itself)."""


def helm_binary() -> str | None:
    for candidate in (os.environ.get("MLOPS_HELM"), shutil.which("helm"), "/work/tools/helm-bin"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def charts_dir() -> Path | None:
    for candidate in (
        os.environ.get("MLOPS_CHARTS"),
        str(REPO.parent / "shared" / "charts"),
        "/work/shared/charts",
    ):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def _placeholders(value: Any) -> Any:
    if isinstance(value, Secret) or value == "@unknown":
        return "placeholder"
    if isinstance(value, dict):
        return {k: _placeholders(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_placeholders(v) for v in value]
    return value


_SOURCE = re.compile(r"^# Source: (.+)$", re.MULTILINE)


def render_releases(graph: Graph, tmp: Path) -> list[RenderedRelease]:
    helm, charts = helm_binary(), charts_dir()
    if helm is None or charts is None:
        pytest.skip("no helm binary or chart directory (set MLOPS_HELM and MLOPS_CHARTS)")
    out: list[RenderedRelease] = []
    for r in graph.of_type("kubernetes:helm.sh/v3:Release"):
        chart, version = str(r.inputs["chart"]), str(r.inputs["version"])
        version = CHART_FALLBACK.get((chart, version), version)
        chart_dir = charts / f"{chart}-{version}"
        assert chart_dir.is_dir(), f"no chart {chart}-{version} in {charts}"
        values = _placeholders(r.inputs.get("values") or {})
        values_file = tmp / f"{r.name}.values.yaml"
        values_file.write_text(yaml.safe_dump(values), encoding="utf-8")
        name, namespace = str(r.inputs.get("name") or r.name), str(r.inputs.get("namespace") or "default")
        done = subprocess.run(
            [helm, "template", name, str(chart_dir), "--namespace", namespace, "--kube-version", KUBE_VERSION,
             "-f", str(values_file)],
            capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        release = RenderedRelease(
            resource=r, chart=chart, version=version, repository="", release_name=name, namespace=namespace,
            values=values, chart_dir=chart_dir,
        )  # fmt: skip
        for text in done.stdout.split("\n---"):
            obj = yaml.safe_load(text)
            if isinstance(obj, dict) and obj.get("kind"):
                source = _SOURCE.search(text)
                release.manifests.append(Manifest(obj, r, source.group(1) if source else ""))
        out.append(release)
    return out


_releases: dict[str, list[RenderedRelease]] = {}


@pytest.fixture(scope="session")
def releases_of(stacks: dict[str, Graph], tmp_path_factory: pytest.TempPathFactory):
    """``releases_of(env)``: the releases of a shipped stack rendered by helm (once per session)."""

    def get(env: str) -> list[RenderedRelease]:
        if env not in _releases:
            _releases[env] = render_releases(stacks[env], tmp_path_factory.mktemp(f"releases-{env}"))
        return _releases[env]

    return get
