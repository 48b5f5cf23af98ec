"""Layer "semantics" as a whole: the shipped platform passes, and its charts show only defect 1 of the
issue (the PDB block of kube-prometheus-stack)."""

from __future__ import annotations

import pytest

from mlops_platform.mlops.graph import Resource, SourcePosition
from mlops_platform.mlops.verify import semantics
from mlops_platform.mlops.verify.model import VerifyContext


def test_the_shipped_platform_objects_pass(stack_ctx):
    for stack in ("dev", "prod"):
        assert semantics.check(stack_ctx(stack)) == []


def test_kube_prometheus_stack_pdb_block_as_monitoring_renders_it(chart_release, at):
    """Defect 1 of the issue in the chart: the values `_pdb` passes render both fields into the PDB."""
    release = Resource(
        urn="urn:pulumi:t::p::kubernetes:helm.sh/v3:Release::kps",
        type="kubernetes:helm.sh/v3:Release",
        name="kps",
        custom=True,
        inputs={"namespace": "monitoring", "createNamespace": True},
        source=SourcePosition("components/monitoring/monitoring.py", 991),
    )
    values = {
        "prometheus": {"podDisruptionBudget": {"enabled": True, "minAvailable": 1, "maxUnavailable": ""}},
        "grafana": {"enabled": False},
        "crds": {"enabled": False},
    }
    rendered = chart_release(release, "kube-prometheus-stack-88.5.3", values, "monitoring")
    from mlops_platform.mlops.graph import Graph

    ctx = VerifyContext(graph=Graph("p", "t", [release]), stack="t", kube_version="1.34", releases=[rendered])
    findings = semantics.check(ctx)
    both = at(findings, "pdb-both-set", release)
    assert [f.object for f in both] == [
        "policy/v1 PodDisruptionBudget monitoring/test-kube-prometheus-stack-prometheus"
    ]
    assert "templates/prometheus/podDisruptionBudget.yaml" in both[0].message
    assert [f.path for f in at(findings, "int-or-string", release)] == ["spec.maxUnavailable"]


def _passes_both_pdb_fields(values) -> list[str]:
    """The components of kube-prometheus-stack values whose podDisruptionBudget sets both fields."""
    return sorted(
        key
        for key, sub in values.items()
        if isinstance(sub, dict)
        and isinstance(sub.get("podDisruptionBudget"), dict)
        and sub["podDisruptionBudget"].get("enabled")
        and sub["podDisruptionBudget"].get("minAvailable") is not None
        and sub["podDisruptionBudget"].get("maxUnavailable") is not None
    )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_shipped_platform_with_its_charts(stack_ctx, stack):
    """Every semantics finding over the platform and its rendered charts is defect 1 of the issue (the PDB
    block of kube-prometheus-stack, components/monitoring/monitoring.py `_pdb`), and only while the values still pass
    both fields: once the values are fixed this expects no finding at all."""
    ctx = stack_ctx(stack, with_charts=True)
    release = next(r for r in ctx.releases if r.chart == "kube-prometheus-stack")
    expected = {
        f"policy/v1 PodDisruptionBudget monitoring/kube-prometheus-stack-{component}"
        for component in _passes_both_pdb_fields(release.values)
    }
    findings = semantics.check(ctx)
    assert {f.object for f in findings} == expected
    assert all(
        f.check in ("pdb-both-set", "int-or-string") and f.urn == release.resource.urn for f in findings
    )
    if stack == "prod":
        assert expected == {
            "policy/v1 PodDisruptionBudget monitoring/kube-prometheus-stack-alertmanager",
            "policy/v1 PodDisruptionBudget monitoring/kube-prometheus-stack-prometheus",
        } or not _passes_both_pdb_fields(release.values)
