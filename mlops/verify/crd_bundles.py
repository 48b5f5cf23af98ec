"""CRD bundles: full-schema CRDs that replace what a chart installs, for the crd layer to validate against.

Some charts install CRDs whose schemas validate nothing: argo-workflows (argo-helm 1.0.18) with
``crds.full: false`` renders minimal CRDs, every level ``x-kubernetes-preserve-unknown-fields``, because the
full ones exceed what client-side apply accepts. A misspelt template field of a WorkflowTemplate passes
such a CRD, and then the Argo controller (which validates against its Go types) rejects the workflow, or
silently drops the field. A :class:`CrdBundle` names the upstream folder of full CRDs for the same release
(here Argo Workflows ``manifests/base/crds/full`` at ``v4.0.6``, the chart's appVersion) and the API group
they supply; where the platform installs a CRD of that group (from a chart, minimal or not), the crd layer
validates the custom resources against the bundle's full schema instead (:func:`overrides`).

Where a bundle comes from: the directory ``<charts>/<bundle.directory>`` beside the charts, i.e. under
``--charts`` / ``MLOPS_CHARTS`` (``../shared/charts`` in this repository's CI), or, when charts are pulled
(no charts directory), under the pull cache ``~/.cache/mlops/charts``. ``make charts`` (``python -m
mlops_platform.mlops.verify.helm --pull-charts DIR``) downloads the bundles the stacks need into DIR with
:func:`pull`, every file checked against its pinned sha256. A bundle that is absent (or does not match its
pins) is a finding ``crd-bundle-missing`` (``mlops verify`` exits 2, INCOMPLETE) that says how to get it;
the chart's own CRDs are used meanwhile.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlops_platform.mlops.graph import Graph

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
RAW_BASE = "https://raw.githubusercontent.com"
"""Where :func:`pull` downloads a bundle's files: ``<base>/<repository>/<tag>/<path>/<file>``."""
BASE_ENV = "MLOPS_CRD_BUNDLE_BASE"
"""Overrides :data:`RAW_BASE` (a mirror; the tests serve a bundle on loopback)."""


class BundleError(Exception):
    """A bundle cannot be had (absent, a file that does not match its pin, a failed download)."""


@dataclass(frozen=True)
class CrdBundle:
    directory: str
    """The folder name under the charts directory, e.g. ``argo-workflows-crds-full-v4.0.6``."""
    group: str
    """The API group whose CRDs it supplies."""
    files: dict[str, str]
    """Kind -> the file that holds its CRD."""
    sha256: dict[str, str]
    """File name -> its sha256 (upstream, byte for byte)."""
    repository: str
    tag: str
    path: str
    charts: tuple[str, ...] = ()
    """The charts whose minimal CRDs it replaces."""

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.files)

    def origin(self) -> str:
        return f"{self.repository} {self.path} at {self.tag}"

    def url(self, name: str, base: str | None = None) -> str:
        root = (base or os.environ.get(BASE_ENV) or RAW_BASE).rstrip("/")
        return f"{root}/{self.repository}/{self.tag}/{self.path}/{name}"

    def how_to_get(self, where: str) -> str:
        return (
            f"get it with `make charts CHARTS_DIR=<dir>` (then --charts/MLOPS_CHARTS=<dir>), or copy "
            f"{self.origin()} (git clone --depth 1 --branch {self.tag} https://github.com/{self.repository}) "
            f"into {where}/{self.directory}"
        )


ARGO_WORKFLOWS = CrdBundle(
    directory="argo-workflows-crds-full-v4.0.6",
    group="argoproj.io",
    files={
        "ClusterWorkflowTemplate": "argoproj.io_clusterworkflowtemplates.yaml",
        "CronWorkflow": "argoproj.io_cronworkflows.yaml",
        "WorkflowArtifactGCTask": "argoproj.io_workflowartifactgctasks.yaml",
        "WorkflowEventBinding": "argoproj.io_workfloweventbindings.yaml",
        "Workflow": "argoproj.io_workflows.yaml",
        "WorkflowTaskResult": "argoproj.io_workflowtaskresults.yaml",
        "WorkflowTaskSet": "argoproj.io_workflowtasksets.yaml",
        "WorkflowTemplate": "argoproj.io_workflowtemplates.yaml",
    },
    sha256={
        "argoproj.io_clusterworkflowtemplates.yaml": "6dc85849d3019c89fca3d59c4bf085851233618a66139ce341a79b707d344ffc",
        "argoproj.io_cronworkflows.yaml": "2edacea5ac72446f43080c07c484e051b99d54d44d4f995067a0f7ad28f82a40",
        "argoproj.io_workflowartifactgctasks.yaml": "ba523a9b4df1f872b529cde06b73f6cd4ab0b977581fc0f29d588939508ac7a6",
        "argoproj.io_workfloweventbindings.yaml": "11f0050744751fd6524d33d4f5cdcdff5b93856f8d9b5a8b9c74996f935ff767",
        "argoproj.io_workflows.yaml": "2aa343ade22097c4515a1a762ca2ea86543871ee13a9fb10080e0c90038af649",
        "argoproj.io_workflowtaskresults.yaml": "b974ea400b7f06e16e3d71c117630fd6a115c0e426458ef750dc6b45bb5c9663",
        "argoproj.io_workflowtasksets.yaml": "1b75796df622b8a8d5c3cfd73acaaac6049ca80a5d7cb6c40487296e75db1a70",
        "argoproj.io_workflowtemplates.yaml": "18b220ede1148972d58afdaad0cd9dc78ab47f622b503ec508d052af19ef942c",
    },
    repository="argoproj/argo-workflows",
    tag="v4.0.6",
    path="manifests/base/crds/full",
    charts=("argo-workflows",),
)

BUNDLES: tuple[CrdBundle, ...] = (ARGO_WORKFLOWS,)
"""Every CRD bundle, one per API group."""


def bundle_for(group: str) -> CrdBundle | None:
    return next((b for b in BUNDLES if b.group == group), None)


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@functools.lru_cache(maxsize=32)
def _checked(path: Path, expected: str, mtime: float) -> bool:
    return _digest(path) == expected


def locate(bundle: CrdBundle, root: Path | None) -> Path:
    """``<root>/<bundle.directory>``, every file there and matching its pin; else :class:`BundleError`."""
    if root is None:
        raise BundleError(f"CRD bundle {bundle.directory}: no charts directory to look in")
    folder = root / bundle.directory
    if not folder.is_dir():
        raise BundleError(f"CRD bundle {bundle.directory} ({bundle.origin()}) is not in {root}")
    for name, expected in sorted(bundle.sha256.items()):
        path = folder / name
        if not path.is_file():
            raise BundleError(f"CRD bundle {folder} lacks {name}")
        if not _checked(path, expected, path.stat().st_mtime):
            raise BundleError(
                f"CRD bundle {folder}: {name} is not the file of {bundle.origin()} (sha256 differs)"
            )
    return folder


@functools.lru_cache(maxsize=16)
def _load(path: Path, mtime: float) -> dict[str, Any]:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    if not isinstance(data, dict) or data.get("kind") != "CustomResourceDefinition":
        raise BundleError(f"{path} is not a CustomResourceDefinition")
    return data


def crd(bundle: CrdBundle, folder: Path, kind: str) -> dict[str, Any] | None:
    """The bundle's CRD of ``kind`` (parsed once per file), None when the bundle has no such kind."""
    name = bundle.files.get(kind)
    if name is None:
        return None
    path = folder / name
    return _load(path, path.stat().st_mtime)


def overrides(
    crds: dict[tuple[str, str], dict[str, Any]],
    wanted: Iterable[tuple[str, str]],
    root: Path | None,
    pull_into: Path | None = None,
) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, str]]:
    """``crds`` (group, kind) -> CRD with every installed CRD of a bundle's group that a custom resource uses
    (``wanted``) replaced by the bundle's full CRD; and, per bundle that could not be had, why (by
    directory). With ``pull_into`` (charts are pulled), a missing bundle is downloaded there first."""
    out = dict(crds)
    missing: dict[str, str] = {}
    for group, kind in sorted(set(wanted)):
        bundle = bundle_for(group)
        if bundle is None or (group, kind) not in crds or bundle.directory in missing:
            continue
        try:
            folder = _folder(bundle, root, pull_into)
        except BundleError as err:
            missing[bundle.directory] = str(err)
            continue
        full = crd(bundle, folder, kind)
        if full is not None:
            out[(group, kind)] = full
    return out, missing


def _folder(bundle: CrdBundle, root: Path | None, pull_into: Path | None) -> Path:
    try:
        return locate(bundle, root)
    except BundleError:
        if pull_into is None:
            raise
    return pull(bundle, pull_into)


Fetch = Callable[[str], bytes]


def _fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read()
    except OSError as err:
        raise BundleError(f"download of {url} failed: {err}") from err


def pull(bundle: CrdBundle, target: Path, fetch: Fetch | None = None, base: str | None = None) -> Path:
    """Download the bundle into ``target/<bundle.directory>`` (each file checked against its sha256); a
    complete copy already there is kept. Raises :class:`BundleError`."""
    try:
        return locate(bundle, target)
    except BundleError:
        pass
    get = fetch or _fetch
    target.mkdir(parents=True, exist_ok=True)
    folder = target / bundle.directory
    with tempfile.TemporaryDirectory(dir=target, prefix=".bundle-") as tmp:
        for name, expected in sorted(bundle.sha256.items()):
            url = bundle.url(name, base)
            data = get(url)
            if hashlib.sha256(data).hexdigest() != expected:
                raise BundleError(
                    f"{url}: sha256 {hashlib.sha256(data).hexdigest()} is not the pinned {expected}"
                )
            (Path(tmp) / name).write_bytes(data)
        if folder.exists():
            shutil.rmtree(folder)
        Path(tmp).rename(folder)
        Path(tmp).mkdir()  # for TemporaryDirectory's cleanup
    return locate(bundle, target)


def needed(graphs: Iterable[Graph]) -> list[CrdBundle]:
    """The bundles of the API groups whose custom resources the graphs create (``kubernetes:<group>/...``)."""
    groups = {
        r.type.split(":")[1].rsplit("/", 1)[0] for g in graphs for r in g.resources if r.type.count(":") == 2
    }
    found = {b.directory: b for group in sorted(groups) if (b := bundle_for(group)) is not None}
    return list(found.values())


def pull_needed(graphs: Iterable[Graph], target: Path, fetch: Fetch | None = None) -> list[Path]:
    """:func:`pull` every bundle the graphs need into ``target`` (``make charts``)."""
    return [pull(bundle, target, fetch) for bundle in needed(list(graphs))]
