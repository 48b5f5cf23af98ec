"""Helpers for the tests of ``mlops verify``: the project's helm, the shared chart directory, small charts
and graphs with planted defects. Test support, not product: it lives under tests/ (on pytest's
``pythonpath``, imported as ``verify_kit``) and nothing in ``mlops`` imports it."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_platform.mlops import REPO_ROOT
from mlops_platform.mlops.graph import Graph, Resource, SourcePosition
from mlops_platform.mlops.verify.helm import CHARTS_ENV, Helm, VerifyError, find_helm

RELEASE = "kubernetes:helm.sh/v3:Release"
CLUSTER = "aws:eks/cluster:Cluster"


def project_helm() -> Helm:
    """The helm ``mlops verify`` would use; a missing one fails the test (CI runs ``make helm`` first)."""
    try:
        return find_helm()
    except VerifyError as err:
        pytest.fail(f"the verify tests need the real helm v4 (run `make helm` first): {err}", pytrace=False)


def shared_charts() -> Path:
    """``$MLOPS_CHARTS``, else ``../shared/charts`` beside the clone; missing fails the test.

    Any directory of unpacked charts ``<chart>-<version>/Chart.yaml`` will do: ``../shared/charts`` (with
    its MANIFEST.json) here, or what ``make charts CHARTS_DIR=DIR`` pulled on a runner with the network.
    """
    given = os.environ.get(CHARTS_ENV, "").strip()
    path = Path(given) if given else REPO_ROOT.parent / "shared" / "charts"
    if not path.is_dir() or not any(path.glob("*/Chart.yaml")):
        pytest.fail(
            f"no chart directory at {path} (set {CHARTS_ENV}, run `make charts CHARTS_DIR=DIR`, or put the "
            "charts in ../shared/charts)",
            pytrace=False,
        )
    return path


def make_chart(
    root: Path,
    name: str,
    version: str,
    *,
    values: Mapping[str, Any] | None = None,
    templates: Mapping[str, str] | None = None,
    schema: Mapping[str, Any] | None = None,
    dependencies: list[dict[str, Any]] | None = None,
    crds: Mapping[str, str] | None = None,
    folder: str | None = None,
) -> Path:
    """An unpacked chart ``<root>/<folder or name-version>`` (subcharts: put them under its ``charts/``)."""
    chart = root / (folder or f"{name}-{version}")
    (chart / "templates").mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {"apiVersion": "v2", "name": name, "version": version, "type": "application"}
    if dependencies:
        meta["dependencies"] = dependencies
    (chart / "Chart.yaml").write_text(yaml.safe_dump(meta), encoding="utf-8")
    (chart / "values.yaml").write_text(yaml.safe_dump(dict(values or {})), encoding="utf-8")
    if schema is not None:
        (chart / "values.schema.json").write_text(json.dumps(schema), encoding="utf-8")
    for file, text in (templates or {}).items():
        (chart / "templates" / file).write_text(text, encoding="utf-8")
    for file, text in (crds or {}).items():
        (chart / "crds").mkdir(exist_ok=True)
        (chart / "crds" / file).write_text(text, encoding="utf-8")
    return chart


def release(
    name: str,
    chart: str,
    version: str,
    values: Mapping[str, Any] | None = None,
    *,
    namespace: str = "apps",
    repo: str = "",
    line: int = 10,
    **inputs: Any,
) -> Resource:
    """A ``kubernetes:helm.sh/v3:Release`` resource as the offline engine records it."""
    return Resource(
        urn=f"urn:pulumi:test::mlops::{RELEASE}::{name}",
        type=RELEASE,
        name=name,
        custom=True,
        inputs={
            "chart": chart,
            "version": version,
            "name": name,
            "namespace": namespace,
            "repositoryOpts": {"repo": repo} if repo else {},
            "values": dict(values or {}),
            **inputs,
        },
        source=SourcePosition("components/planted.py", line),
    )


def graph_of(*resources: Resource, kube: str = "1.34", stack: str = "test") -> Graph:
    """A graph holding an EKS cluster of version ``kube`` and ``resources``."""
    cluster = Resource(
        urn=f"urn:pulumi:{stack}::mlops::{CLUSTER}::eks",
        type=CLUSTER,
        name="eks",
        custom=True,
        inputs={"version": kube},
        source=SourcePosition("components/cluster/cluster.py", 1),
    )
    return Graph(project="mlops-platform", stack=stack, resources=[cluster, *resources])
