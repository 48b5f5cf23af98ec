"""Argo Workflows custom resources against the full v4.0.6 CRDs (mlops/verify/crd_bundles.py), with the
argo-workflows 1.0.18 chart rendered by the real helm as the platform will install it (minimal CRDs:
``crds: {install: true, full: false}``). The full schemas catch what the minimal ones let through: a typo'd
field, a wrong type, Argo 3.x's CronWorkflow ``schedule``; the CEL rules of the CRDs are evaluated too."""

from __future__ import annotations

import copy
import functools
import hashlib
import http.server
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from verify_kit import graph_of, project_helm, release, shared_charts

from mlops_platform.mlops.graph import Resource, SourcePosition
from mlops_platform.mlops.verify import crd, crd_bundles, runner
from mlops_platform.mlops.verify import helm as helm_layer
from mlops_platform.mlops.verify.model import Finding, RenderedRelease, VerifyContext

API = "argoproj.io/v1alpha1"
VALUES = {"crds": {"install": True, "full": False}}
BUNDLE = crd_bundles.ARGO_WORKFLOWS

STEP = {
    "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/pipelines:1.4.0",
    "command": ["python", "-m", "train"],
    "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
    "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True},
}
SPEC: dict[str, Any] = {
    "entrypoint": "main",
    "serviceAccountName": "pipeline-runner",
    "activeDeadlineSeconds": 7200,
    "ttlStrategy": {"secondsAfterCompletion": 86400},
    "podGC": {"strategy": "OnPodCompletion"},
    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
    "arguments": {"parameters": [{"name": "epochs", "value": "3"}]},
    "templates": [
        {
            "name": "main",
            "dag": {
                "tasks": [
                    {"name": "prep", "template": "prep"},
                    {"name": "train", "template": "train", "depends": "prep"},
                ]
            },
        },
        {"name": "prep", "script": {**STEP, "command": ["python"], "source": "print('prep')"}},
        {
            "name": "train",
            "inputs": {"parameters": [{"name": "epochs"}]},
            "container": {**STEP, "args": ["--epochs", "{{inputs.parameters.epochs}}"]},
            "sidecars": [{**STEP, "name": "log"}],
            "nodeSelector": {"nvidia.com/gpu.present": "true"},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "retryStrategy": {"limit": "2", "retryPolicy": "OnFailure"},
        },
    ],
}


def workflow_template(spec: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "WorkflowTemplate",
        "metadata": {"name": "train", "namespace": "pipelines"},
        "spec": copy.deepcopy(SPEC) if spec is None else spec,
    }


def cron_workflow(**cron: Any) -> dict[str, Any]:
    body = {"schedules": ["0 3 * * *"], "concurrencyPolicy": "Forbid", "timezone": "Europe/Paris", **cron}
    body["workflowSpec"] = copy.deepcopy(SPEC)
    return {
        "apiVersion": API,
        "kind": "CronWorkflow",
        "metadata": {"name": "nightly", "namespace": "pipelines"},
        "spec": body,
    }


def custom_resource(obj: dict[str, Any]) -> Resource:
    """The resource a ``pulumi_kubernetes.apiextensions.CustomResource`` records."""
    type_ = f"kubernetes:{API}:{obj['kind']}"
    name = obj["metadata"]["name"]
    return Resource(
        urn=f"urn:pulumi:test::mlops::{type_}::{name}",
        type=type_,
        name=name,
        custom=True,
        inputs=obj,
        source=SourcePosition("components/pipelines/argo.py", 7),
    )


ARGO_RELEASE = release("argo", "argo-workflows", "1.0.18", VALUES, namespace="argo")


@functools.cache
def rendered() -> tuple[tuple[RenderedRelease, ...], tuple[Finding, ...]]:
    """The argo-workflows chart rendered once by the real helm, as the platform will pass it."""
    ctx = VerifyContext(graph=graph_of(ARGO_RELEASE), stack="test", kube_version="1.34")
    findings = helm_layer.render(ctx, project_helm(), helm_layer.LocalCharts(shared_charts()))
    return tuple(ctx.releases), tuple(findings)


def context(*objects: dict[str, Any], charts_root: Path | None = None) -> VerifyContext:
    releases, _ = rendered()
    ctx = VerifyContext(
        graph=graph_of(ARGO_RELEASE, *(custom_resource(o) for o in objects)),
        stack="test",
        kube_version="1.34",
    )
    ctx.releases = list(releases)
    ctx.charts_root = shared_charts() if charts_root is None else charts_root
    return ctx


def found(ctx: VerifyContext) -> list[tuple[str, str, str]]:
    return [(f.check, f.path, f.message) for f in crd.check(ctx)]


# ---- the chart, as the platform installs it -----------------------------------------------------------------


def test_the_chart_renders_its_minimal_crds_and_no_download_job() -> None:
    releases, findings = rendered()
    assert findings == ()
    (argo,) = releases
    kinds = [m.kind for m in argo.manifests]
    assert "Job" not in kinds  # crds.full=false: no Job that downloads the full CRDs at install time
    crds = {
        m.obj["spec"]["names"]["kind"]: m.obj for m in argo.manifests if m.kind == "CustomResourceDefinition"
    }
    assert sorted(crds) == sorted(BUNDLE.kinds)
    schema = crds["WorkflowTemplate"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert (
        schema["properties"]["spec"].get("x-kubernetes-preserve-unknown-fields") is True
    )  # validates nothing


# ---- valid objects pass; broken ones fail naming the field ------------------------------------------------


def test_a_valid_workflow_template_and_cron_workflow_pass() -> None:
    ctx = context(workflow_template(), cron_workflow())
    assert found(ctx) == []
    assert ctx.cel_rules is not None and ctx.cel_rules.evaluated  # the CRDs' CEL rules ran
    assert not ctx.cel_rules.not_evaluated


Mutation = Callable[[dict[str, Any]], None]


def _set(path: list[Any], value: Any) -> Mutation:
    def mutate(obj: dict[str, Any]) -> None:
        node: Any = obj
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _rename(path: list[Any], old: str, new: str) -> Mutation:
    def mutate(obj: dict[str, Any]) -> None:
        node: Any = obj
        for key in path:
            node = node[key]
        node[new] = node.pop(old)

    return mutate


BROKEN: list[tuple[str, Callable[[], dict[str, Any]], Mutation, str, str, str]] = [
    (
        "typo-container",
        workflow_template,
        _rename(["spec", "templates", 2], "container", "contianer"),
        "unknown-field",
        "spec.templates[2]",
        "'contianer' was unexpected",
    ),
    (
        "typo-in-container",
        workflow_template,
        _rename(["spec", "templates", 2, "container"], "args", "arg"),
        "unknown-field",
        "spec.templates[2].container",
        "'arg' was unexpected",
    ),
    (
        "wrong-type-deadline",
        workflow_template,
        _set(["spec", "activeDeadlineSeconds"], "two hours"),
        "invalid",
        "spec.activeDeadlineSeconds",
        "'two hours' is not of type 'integer'",
    ),
    (
        "wrong-type-tolerations",
        workflow_template,
        _set(["spec", "templates", 2, "tolerations"], {"key": "nvidia.com/gpu"}),
        "invalid",
        "spec.templates[2].tolerations",
        "is not of type 'array'",
    ),
    (
        "cel-depends-and-dependencies",
        workflow_template,
        _set(["spec", "templates", 0, "dag", "tasks", 1, "dependencies"], ["prep"]),
        "validation-rule",
        "spec.templates[0].dag.tasks[1]",
        "cannot use both 'depends' and 'dependencies'",
    ),
    (
        "cron-old-schedule",
        cron_workflow,
        _rename(["spec"], "schedules", "schedule"),
        "unknown-field",
        "spec",
        "'schedule' was unexpected",
    ),
    (
        "cron-schedule-string",
        cron_workflow,
        _set(["spec", "schedules"], "0 3 * * *"),
        "invalid",
        "spec.schedules",
        "is not of type 'array'",
    ),
    (
        "cron-bad-schedule",
        cron_workflow,
        _set(["spec", "schedules"], ["at three"]),
        "invalid",
        "spec.schedules[0]",
        "does not match",
    ),
    (
        "cron-typo-in-workflow-spec",
        cron_workflow,
        _rename(["spec", "workflowSpec"], "entrypoint", "entryPoint"),
        "unknown-field",
        "spec.workflowSpec",
        "'entryPoint' was unexpected",
    ),
]


@pytest.mark.parametrize(
    ("case", "make", "mutate", "check", "path", "says"), BROKEN, ids=[b[0] for b in BROKEN]
)
def test_a_broken_object_fails_naming_the_field(
    case: str, make: Callable[[], dict[str, Any]], mutate: Mutation, check: str, path: str, says: str
) -> None:
    obj = make()
    mutate(obj)
    findings = found(context(obj))
    assert any(c == check and p == path and says in m for c, p, m in findings), findings
    assert all("argoproj.io v1alpha1" in m for _, _, m in findings)  # against the full CRD


def test_the_old_schedule_alone_also_misses_the_required_schedules() -> None:
    obj = cron_workflow()
    obj["spec"]["schedule"] = obj["spec"].pop("schedules")[0]
    checks = {(c, p) for c, p, _ in found(context(obj))}
    assert {("unknown-field", "spec"), ("missing-field", "spec")} <= checks


# ---- where the bundle comes from --------------------------------------------------------------------------


def _charts_without_bundle(tmp_path: Path) -> Path:
    root = tmp_path / "charts"
    root.mkdir()
    (root / "argo-workflows-1.0.18").symlink_to(shared_charts() / "argo-workflows-1.0.18")
    return root


def test_without_the_bundle_verify_says_so_and_how_to_get_it(tmp_path: Path) -> None:
    obj = workflow_template()
    _rename(["spec", "templates", 2], "container", "contianer")(obj)
    ctx = context(obj, charts_root=_charts_without_bundle(tmp_path))
    findings = crd.check(ctx)
    # The minimal CRD lets the typo through; the missing bundle is the finding, and it is INCOMPLETE.
    assert [f.check for f in findings] == ["crd-bundle-missing"]
    (missing,) = findings
    assert BUNDLE.directory in missing.message and "make charts" in missing.message
    assert f"--branch {BUNDLE.tag} https://github.com/{BUNDLE.repository}" in missing.message
    assert missing.object == "argoproj.io/v1alpha1 WorkflowTemplate pipelines/train"
    assert ("crd", "crd-bundle-missing") in runner.INCOMPLETE_CHECKS


def test_a_bundle_file_that_is_not_upstreams_is_refused(tmp_path: Path) -> None:
    root = _charts_without_bundle(tmp_path)
    shutil.copytree(shared_charts() / BUNDLE.directory, root / BUNDLE.directory)
    target = root / BUNDLE.directory / BUNDLE.files["WorkflowTemplate"]
    target.chmod(0o644)
    target.write_text(target.read_text(encoding="utf-8") + "\n# edited\n")
    findings = crd.check(context(workflow_template(), charts_root=root))
    assert [f.check for f in findings] == ["crd-bundle-missing"]
    assert "sha256 differs" in findings[0].message


def test_no_bundle_is_needed_without_argo_objects(tmp_path: Path) -> None:
    assert crd.check(context(charts_root=_charts_without_bundle(tmp_path))) == []


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The bundle served on loopback as ``<base>/<repository>/<tag>/<path>/<file>``."""
    site = tmp_path / "site"
    folder = site / BUNDLE.repository / BUNDLE.tag / BUNDLE.path
    folder.mkdir(parents=True)
    for name in BUNDLE.sha256:
        shutil.copy(shared_charts() / BUNDLE.directory / name, folder / name)
        (folder / name).chmod(0o644)
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_pull_downloads_and_checks_the_bundle(served: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = served
    target = tmp_path / "cache"
    folder = crd_bundles.pull(BUNDLE, target, base=base)
    assert folder == target / BUNDLE.directory
    assert sorted(p.name for p in folder.iterdir()) == sorted(BUNDLE.sha256)
    digest = hashlib.sha256((folder / BUNDLE.files["CronWorkflow"]).read_bytes()).hexdigest()
    assert digest == BUNDLE.sha256[BUNDLE.files["CronWorkflow"]]
    # With the pulled bundle, verify judges against the full schema.
    obj = cron_workflow()
    _rename(["spec"], "schedules", "schedule")(obj)
    ctx = context(obj, charts_root=target)
    assert any(c == "unknown-field" and p == "spec" for c, p, _ in found(ctx))


def test_pull_refuses_a_file_that_does_not_match_its_pin(served: tuple[str, Path], tmp_path: Path) -> None:
    base, folder = served
    (folder / BUNDLE.files["Workflow"]).write_text("kind: CustomResourceDefinition\n")
    with pytest.raises(crd_bundles.BundleError, match="is not the pinned"):
        crd_bundles.pull(BUNDLE, tmp_path / "cache", base=base)
    assert not (tmp_path / "cache" / BUNDLE.directory).exists()


def test_pulling_charts_pulls_the_bundle_on_demand(
    served: tuple[str, Path], tmp_path: Path, monkeypatch
) -> None:
    """No charts directory (charts pulled into the cache): verify downloads a missing bundle there."""
    base, _ = served
    monkeypatch.setenv(crd_bundles.BASE_ENV, base)
    ctx = context(cron_workflow(), charts_root=tmp_path / "cache")
    ctx.pull_bundles = True
    assert found(ctx) == []
    assert (tmp_path / "cache" / BUNDLE.directory / BUNDLE.files["CronWorkflow"]).is_file()


def test_make_charts_pulls_the_bundles_the_stacks_need(tmp_path: Path) -> None:
    """``--pull-charts DIR`` (make charts) fetches a bundle only for stacks that create its group's objects."""
    asked: list[str] = []

    def fetch(url: str) -> bytes:
        asked.append(url)
        return (shared_charts() / BUNDLE.directory / url.rsplit("/", 1)[1]).read_bytes()

    plain = graph_of(ARGO_RELEASE)
    assert crd_bundles.pull_needed([plain], tmp_path, fetch) == [] and asked == []
    with_argo = graph_of(ARGO_RELEASE, custom_resource(cron_workflow()))
    assert crd_bundles.pull_needed([plain, with_argo], tmp_path, fetch) == [tmp_path / BUNDLE.directory]
    assert sorted(u.rsplit("/", 1)[1] for u in asked) == sorted(BUNDLE.sha256)
    assert all(
        u.startswith(f"{crd_bundles.RAW_BASE}/{BUNDLE.repository}/{BUNDLE.tag}/{BUNDLE.path}/") for u in asked
    )
    # Already there and intact: nothing is fetched again.
    asked.clear()
    assert crd_bundles.pull_needed([with_argo], tmp_path, fetch) == [tmp_path / BUNDLE.directory]
    assert asked == []
