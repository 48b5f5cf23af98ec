"""The values layer: a values key the chart does not have is a finding (helm would silently ignore it), and
the values must satisfy values.schema.json; free-form maps, subcharts, globals, conditions and keys the
templates read or render whole are understood."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from verify_kit import graph_of, make_chart, release, shared_charts

from mlops_platform.mlops.verify import values as layer
from mlops_platform.mlops.verify.helm import load_chart
from mlops_platform.mlops.verify.model import Finding, RenderedRelease, VerifyContext


def _check(
    chart_dir: Path, values: dict[str, Any], chart: str = "app", version: str = "1.0.0"
) -> list[Finding]:
    resource = release("app", chart, version, values, line=21)
    ctx = VerifyContext(graph=graph_of(resource), stack="test", kube_version="1.34")
    ctx.releases.append(
        RenderedRelease(
            resource=resource,
            chart=chart,
            version=version,
            repository="",
            release_name="app",
            namespace="apps",
            values=values,
            chart_dir=chart_dir,
        )
    )
    load_chart.cache_clear()
    return layer.check(ctx)


@pytest.fixture
def app_chart(tmp_path: Path) -> Path:
    make_chart(
        tmp_path / "app-1.0.0" / "charts",
        "database",
        "3.0.0",
        folder="database",
        values={"auth": {"username": "app", "existingSecret": ""}, "global": {"storageClass": ""}},
    )
    make_chart(tmp_path / "app-1.0.0" / "charts", "cache", "1.0.0", folder="cache", values={"size": 1})
    return make_chart(
        tmp_path,
        "app",
        "1.0.0",
        values={
            "replicas": 1,
            "service": {"port": 80, "type": "ClusterIP"},
            "podAnnotations": {},
            "extraObjects": {},
            "pdb": {"enabled": False, "minAvailable": 1},
            "db": {"auth": {"username": "app"}},
        },
        dependencies=[
            {"name": "database", "version": "3.0.0", "alias": "db", "condition": "db.enabled"},
            {"name": "cache", "version": "1.0.0", "condition": "cache.enabled", "tags": ["speed"]},
        ],
        templates={
            "pdb.yaml": '{{- toYaml (omit .Values.pdb "enabled") }}\n',
            "svc.yaml": '{{ .Values.service.nodePort }} {{ index .Values "service" "loadBalancerClass" }}\n',
            "extra.yaml": "{{- with .Values.extraObjects }}\n{{ toYaml . }}\n{{- end }}\n",
        },
    )


def test_planted_unknown_key_is_a_finding_with_a_did_you_mean(app_chart: Path) -> None:
    (finding,) = _check(app_chart, {"replicas": 2, "servce": {"port": 8080}})
    assert (finding.layer, finding.check, finding.path) == ("values", "unknown-key", "values.servce")
    assert "values key servce does not exist in chart app 1.0.0" in finding.message
    assert "did you mean 'service'?" in finding.message
    assert finding.name == "app" and str(finding.source) == "components/planted.py:21"
    assert finding.object == "helm release apps/app"


def test_a_nested_misspelling_names_the_full_path(app_chart: Path) -> None:
    (finding,) = _check(app_chart, {"service": {"prot": 8080}})
    assert finding.path == "values.service.prot" and "did you mean 'port'?" in finding.message


def test_a_key_at_the_wrong_level_says_where_the_chart_has_it(app_chart: Path) -> None:
    (finding,) = _check(app_chart, {"type": "LoadBalancer"})
    assert "the chart has it at service.type" in finding.message


def test_subcharts_values_live_under_their_alias_and_globals_are_shared(app_chart: Path) -> None:
    ok = {
        "db": {"enabled": True, "auth": {"existingSecret": "s"}},
        "cache": {"enabled": False, "size": 2},
        "tags": {"speed": True},
        "global": {"storageClass": "gp3"},
    }
    assert _check(app_chart, ok) == []
    found = _check(
        app_chart, {"database": {"auth": {}}, "db": {"auth": {"passwrd": "x"}}, "global": {"x": 1}}
    )
    assert sorted(f.path for f in found) == ["values.database", "values.db.auth.passwrd", "values.global.x"]


def test_keys_the_templates_read_or_render_whole_count_as_known(app_chart: Path) -> None:
    values = {
        "service": {"nodePort": 30000, "loadBalancerClass": "x"},
        "pdb": {"enabled": True, "maxUnavailable": 1},
        "extraObjects": {"anything": {"goes": True}},
    }
    assert _check(app_chart, values) == []


def test_free_form_paths_are_not_checked_below(app_chart: Path) -> None:
    assert _check(app_chart, {"podAnnotations": {"prometheus.io/scrape": "true"}}) == []
    assert layer.free_form(("a", "b", "annotations")) is not None
    assert layer.free_form(("grafana", "grafana.ini")) is not None
    assert layer.free_form(("grafana", "grafana", "ini")) is None
    assert layer.free_form(("prometheus", "prometheusSpec", "serviceMonitorSelector")) is not None
    assert layer.free_form(("prometheus", "prometheusSpec", "retention")) is None


def test_every_free_form_path_is_declared_once_with_a_reason() -> None:
    patterns = [f.pattern for f in layer.FREE_FORM]
    assert len(patterns) == len(set(patterns))
    assert all(len(f.reason) > 20 for f in layer.FREE_FORM)


SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["replicas"],
    "properties": {
        "replicas": {"type": "integer", "minimum": 1},
        "mode": {"enum": ["a", "b"]},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def test_planted_wrong_type_under_values_schema_is_a_finding(tmp_path: Path) -> None:
    chart = make_chart(tmp_path, "app", "1.0.0", values={"replicas": 1}, schema=SCHEMA)
    (finding,) = _check(chart, {"replicas": "three"})
    assert (finding.layer, finding.check, finding.path) == ("values", "schema", "values.replicas")
    assert "'three' is not of type 'integer'" in finding.message and "app 1.0.0" in finding.message


def test_keys_only_the_schema_declares_are_known_and_open_maps_take_any_key(tmp_path: Path) -> None:
    chart = make_chart(tmp_path, "app", "1.0.0", values={"replicas": 1}, schema=SCHEMA)
    assert _check(chart, {"mode": "a", "labels": {"team": "ml"}}) == []
    found = _check(chart, {"mode": "c"})
    assert [(f.check, f.path) for f in found] == [("schema", "values.mode")]


def test_the_merged_values_are_validated_as_helm_does(tmp_path: Path) -> None:
    """A null removes the default, so a required key nulled out fails the schema."""
    chart = make_chart(tmp_path, "app", "1.0.0", values={"replicas": 1}, schema=SCHEMA)
    (finding,) = _check(chart, {"replicas": None})
    assert finding.check == "schema" and "'replicas' is a required property" in finding.message


def test_a_subchart_schema_validates_its_subtree(tmp_path: Path) -> None:
    make_chart(
        tmp_path / "app-1.0.0" / "charts", "db", "1.0.0", folder="db", values={"replicas": 1}, schema=SCHEMA
    )
    chart = make_chart(tmp_path, "app", "1.0.0", dependencies=[{"name": "db", "version": "1.0.0"}])
    (finding,) = _check(chart, {"db": {"replicas": 0}})
    assert finding.path == "values.db.replicas" and "db 1.0.0" in finding.message


def test_coalesce_is_helms_merge() -> None:
    assert layer.coalesce({"a": {"b": 1, "c": 2}, "d": 1}, {"a": {"b": 3, "c": None}, "e": [1]}) == {
        "a": {"b": 3},
        "d": 1,
        "e": [1],
    }


def test_a_misspelt_key_in_the_real_kube_prometheus_stack_is_caught() -> None:
    chart = shared_charts() / "kube-prometheus-stack-88.5.3"
    values = {
        "prometheus": {"prometheusSpec": {"retentionSize": "85GB", "retentionSizee": "1GB"}},
        "grafana": {"enabled": True, "grafana.ini": {"users": {"allow_sign_up": False}}},
        "kubeProxyy": {"enabled": False},
    }
    found = _check(chart, values, chart="kube-prometheus-stack", version="88.5.3")
    assert {f.path: f.message.rsplit("; ", 1)[-1] for f in found} == {
        "values.prometheus.prometheusSpec.retentionSizee": "did you mean 'retentionSize'?",
        "values.kubeProxyy": "did you mean 'kubeProxy'?",
    }


@pytest.mark.parametrize(
    "values",
    [
        {"prometheus": {"resources": {"requests": {"cpu": "1"}}}},
        {"prometheus": {"serviceMonitorSelector": {"matchLabels": {"release": "x"}}}},
        {"prometheus": {"prometheusSpec": {"serviceMonitorNamspaceSelector": {"matchLabels": {"a": "b"}}}}},
    ],
    ids=["resources-at-the-wrong-level", "selector-at-the-wrong-level", "misspelt-selector"],
)
def test_a_key_named_like_a_free_form_map_is_still_looked_up(values: dict[str, Any]) -> None:
    chart = shared_charts() / "kube-prometheus-stack-88.5.3"
    found = _check(chart, values, chart="kube-prometheus-stack", version="88.5.3")
    leaf = values["prometheus"]
    dotted = "prometheus"
    while True:
        key = next(iter(leaf))
        dotted += "." + key
        if key.endswith(("resources", "Selector")):
            break
        leaf = leaf[key]
    assert [(f.check, f.path) for f in found] == [("unknown-key", f"values.{dotted}")]


def test_a_free_form_key_the_chart_has_is_not_checked_below() -> None:
    chart = shared_charts() / "kube-prometheus-stack-88.5.3"
    values = {
        "prometheus": {
            "prometheusSpec": {
                "resources": {"requests": {"cpu": "1"}, "anything": 1},
                "serviceMonitorNamespaceSelector": {"matchLabels": {"a": "b"}},
            }
        }
    }
    assert _check(chart, values, chart="kube-prometheus-stack", version="88.5.3") == []
