"""The runner: helm first (filling ctx.releases), then each layer by import name, timed; the accepted list
applied; chart-not-found marks the run incomplete."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from verify_kit import RELEASE, graph_of, make_chart, project_helm, release, shared_charts

from mlops_platform.mlops.verify import helm, runner
from mlops_platform.mlops.verify.accepted import Accepted
from mlops_platform.mlops.verify.model import Finding, VerifyContext


@pytest.fixture
def spy_layer(monkeypatch: pytest.MonkeyPatch) -> list[VerifyContext]:
    seen: list[VerifyContext] = []
    module = types.ModuleType("spy_layer")
    module.LAYER = "spy"  # type: ignore[attr-defined]

    def check(ctx: VerifyContext) -> list[Finding]:
        seen.append(ctx)
        return [Finding.at(ctx.releases[0].resource, "spy", "seen", f"{len(ctx.releases)} release(s)")]

    module.check = check  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "spy_layer", module)
    return seen


def test_the_default_layers_are_every_layer_of_the_issue() -> None:
    assert runner.LAYERS == (
        "mlops_platform.mlops.verify.values",
        "mlops_platform.mlops.verify.kube_schema",
        "mlops_platform.mlops.verify.crd",
        "mlops_platform.mlops.verify.semantics",
        "mlops_platform.mlops.verify.iam",
        "mlops_platform.mlops.verify.chart_policies",
    )


def test_helm_runs_first_and_every_layer_is_timed(tmp_path: Path, spy_layer: list[VerifyContext]) -> None:
    make_chart(tmp_path, "app", "1.0.0", values={"port": 80})
    graph = graph_of(release("app", "app", "1.0.0", {"prot": 1}), kube="1.33")
    result = runner.verify(
        graph,
        "test",
        charts_dir=str(tmp_path),
        helm=project_helm(),
        layers=["mlops_platform.mlops.verify.values", "spy_layer"],
    )
    (ctx,) = spy_layer
    assert ctx.kube_version == "1.33" and len(ctx.releases) == 1 and ctx.releases[0].chart_dir is not None
    assert result.layers == ["helm", "values", "spy"]
    assert set(result.timings) == {"helm", "values", "spy"} and all(t >= 0 for t in result.timings.values())
    assert sorted((f.layer, f.check) for f in result.findings) == [("spy", "seen"), ("values", "unknown-key")]
    assert result.counts() == {"helm": 0, "values": 1, "spy": 1}
    assert result.releases == 1 and result.kube_version == "1.33" and result.incomplete == []
    assert result.charts == str(tmp_path) and "v4." in result.helm


def test_accepted_findings_are_split_off_with_their_reason(tmp_path: Path) -> None:
    make_chart(tmp_path, "app", "1.0.0", values={"port": 80})
    graph = graph_of(release("app", "app", "1.0.0", {"prot": 1, "other": 2}))
    entry = Accepted("values", "unknown-key", r"values key prot ", "read by a post-renderer we ship")
    result = runner.verify(
        graph,
        "test",
        charts_dir=str(tmp_path),
        helm=project_helm(),
        layers=["mlops_platform.mlops.verify.values"],
        accepted=[entry],
    )
    assert [f.path for f in result.findings] == ["values.other"]
    ((finding, taken),) = result.accepted
    assert finding.path == "values.prot" and taken is entry


def test_a_chart_with_no_source_makes_the_run_incomplete(tmp_path: Path) -> None:
    make_chart(tmp_path, "app", "1.0.0")
    graph = graph_of(release("app", "app", "1.0.0"), release("gone", "gone", "0.1.0", line=99))
    result = runner.verify(graph, "test", charts_dir=str(tmp_path), helm=project_helm(), layers=[])
    (missing,) = result.incomplete
    assert missing.name == "gone" and str(missing.source) == "components/planted.py:99"


@pytest.mark.parametrize(
    ("layer", "check"),
    [
        ("policy", "pack-failed"),
        ("schema", "unsupported-kube-version"),
        ("crd", "unsupported-kube-version"),
        ("semantics", "unsupported-kube-version"),
    ],
)
def test_a_layer_that_could_not_run_makes_the_run_incomplete(
    monkeypatch: pytest.MonkeyPatch, layer: str, check: str
) -> None:
    """A layer that did not run verified nothing: exit 2 (INCOMPLETE), not 1 (findings)."""
    module = types.ModuleType("broken_layer")
    module.LAYER = layer  # type: ignore[attr-defined]
    module.check = lambda ctx: [Finding(layer=layer, check=check, message="could not run")]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "broken_layer", module)
    result = runner.verify(graph_of(), "dev", charts_dir=None, helm=project_helm(), layers=["broken_layer"])
    assert [(f.layer, f.check) for f in result.incomplete] == [(layer, check)]
    assert result.stack_file == "stacks/Pulumi.dev.yaml"


def test_the_layers_name_their_could_not_run_checks_as_the_runner_does() -> None:
    from mlops_platform.mlops.verify import chart_policies, crd, kube_schema, semantics

    assert (chart_policies.LAYER, chart_policies.PACK_FAILED) in runner.INCOMPLETE_CHECKS
    for module in (kube_schema, crd, semantics):
        assert (module.LAYER, "unsupported-kube-version") in runner.INCOMPLETE_CHECKS
        assert '"unsupported-kube-version"' in Path(str(module.__file__)).read_text(encoding="utf-8")


def test_a_layer_that_is_not_installed_cannot_run() -> None:
    with pytest.raises(
        helm.VerifyError, match=r"verify layer mlops_platform\.mlops\.verify\.nope is not installed"
    ):
        runner.verify(
            graph_of(),
            "test",
            charts_dir=None,
            helm=project_helm(),
            layers=["mlops_platform.mlops.verify.nope"],
        )


def test_the_shipped_stacks_have_no_helm_or_values_findings(stacks) -> None:
    """Every release of dev, staging and prod renders from ../shared/charts and passes only known keys."""
    charts = str(shared_charts())
    for env, graph in stacks.items():
        result = runner.verify(
            graph, env, charts_dir=charts, helm=project_helm(), layers=["mlops_platform.mlops.verify.values"]
        )
        assert [f"{f.source} {f.message}" for f in result.findings] == [], env
        assert result.releases == len(graph.of_type(RELEASE)) and result.releases >= 2, env
        assert result.kube_version == graph.one("aws:eks/cluster:Cluster").inputs["version"]


def test_prod_karpenter_objects_are_validated_with_their_crds_cel_rules(stacks) -> None:
    """prod's NodePools and EC2NodeClasses are validated against the karpenter-crd 1.14.1 CRDs the platform
    installs, CEL rules included: 71 of the 74 rules of those two CRDs are evaluated (the other three are
    transition rules, which a create cannot break), and none fails."""
    graph = stacks["prod"]
    assert {r.inputs["kind"] for r in graph.resources if r.type.startswith("kubernetes:karpenter.")} == {
        "NodePool",
        "EC2NodeClass",
    }
    result = runner.verify(
        graph,
        "prod",
        charts_dir=str(shared_charts()),
        helm=project_helm(),
        layers=["mlops_platform.mlops.verify.crd"],
    )
    assert [f"{f.source} {f.message}" for f in result.findings] == []
    assert result.cel_rules is not None
    assert {"ec2nodeclasses.karpenter.k8s.aws", "nodepools.karpenter.sh"} <= {
        r.crd for r in result.cel_rules.rules
    }
    karpenter = [r for r in result.cel_rules.rules if r.crd.endswith(("karpenter.k8s.aws", "karpenter.sh"))]
    assert len(karpenter) == 74
    assert len([r for r in karpenter if r.reason is None]) == 71
    assert all("oldSelf" in r.rule for r in karpenter if r.reason is not None)
