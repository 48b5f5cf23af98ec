"""`mlops verify STACK` end to end: exit 0 clean, 1 with findings, 2 when it cannot run (bad config with
the same lines as `mlops plan`, helm missing or not v4, a chart with no source)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml
from verify_kit import graph_of, make_chart, project_helm, release, shared_charts

from mlops_platform.mlops import cli
from mlops_platform.mlops.verify.model import Finding

REPO = Path(__file__).resolve().parents[3]
VALUES = "mlops_platform.mlops.verify.values"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "mlops_platform.mlops.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def helm_env() -> dict[str, str]:
    return {"MLOPS_HELM": str(project_helm().path)}


def test_a_clean_stack_exits_0(helm_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "dev.json"
    result = run_cli(
        "verify", "dev", "--charts", str(shared_charts()), "--layer", VALUES, "--format", "json",
        "--output", str(out), env=helm_env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stderr and "0 finding(s)" in result.stderr
    doc = json.loads(out.read_text())
    assert doc["stack"] == "dev" and doc["findings"] == [] and doc["summary"]["releases"] >= 2
    assert set(doc["summary"]["layers"]) == {"helm", "values"}


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """`mlops verify` on a graph with a misspelt values key (the stack render replaced in-process)."""
    charts = tmp_path / "charts"
    make_chart(charts, "app", "1.0.0", values={"service": {"port": 80}})
    graph = graph_of(release("app", "app", "1.0.0", {"service": {"prot": 81}}, line=33))
    monkeypatch.setattr(cli, "_render", lambda stack, root, **_: (graph, None))
    monkeypatch.setenv("MLOPS_HELM", str(project_helm().path))
    return charts


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "junit"])
def test_findings_exit_1_in_every_format(planted: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["verify", "test", "--charts", str(planted), "--layer", VALUES, "--format", fmt])
    assert code == 1
    out = capsys.readouterr().out
    assert "values.service.prot" in out or "values key service.prot" in out
    if fmt == "text":
        assert "components/planted.py:33" in out and "FAILED: 1 finding(s)" in out
    elif fmt == "json":
        assert json.loads(out)["findings"][0]["source"] == {"file": "components/planted.py", "line": 33}
    elif fmt == "sarif":
        (res,) = json.loads(out)["runs"][0]["results"]
        assert res["ruleId"] == "values/unknown-key"
        assert res["locations"][0]["physicalLocation"]["region"]["startLine"] == 33
    else:
        assert '<failure type="values/unknown-key"' in out


def test_a_chart_with_no_source_exits_2(planted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = planted.parent / "empty"
    empty.mkdir()
    code = cli.main(["verify", "test", "--charts", str(empty), "--layer", VALUES])
    assert code == 2
    captured = capsys.readouterr()
    assert "INCOMPLETE" in captured.out
    assert "could not verify: components/planted.py:33" in captured.err and "chart app 1.0.0" in captured.err


def test_a_layer_that_could_not_run_exits_2(
    planted: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module = types.ModuleType("no_schema_layer")
    module.LAYER = "schema"  # type: ignore[attr-defined]
    missing = Finding(
        layer="schema", check="unsupported-kube-version", message="no schema for Kubernetes 1.99"
    )
    module.check = lambda ctx: [missing]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "no_schema_layer", module)
    code = cli.main(["verify", "test", "--charts", str(planted), "--layer", "no_schema_layer"])
    assert code == 2
    captured = capsys.readouterr()
    assert "INCOMPLETE" in captured.out and "no schema for Kubernetes 1.99" in captured.err
    # A finding of the whole layer has no source line: it is placed at the stack, never at "None".
    assert "could not verify: None" not in captured.err
    assert "could not verify: stacks/Pulumi.test.yaml: no schema" in captured.err, captured.err


def test_a_charts_dir_that_does_not_exist_exits_2(planted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["verify", "test", "--charts", str(planted / "nope"), "--layer", VALUES]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_helm_missing_or_not_v4_exits_2(tmp_path: Path) -> None:
    result = run_cli("verify", "dev", env={"MLOPS_HELM": str(tmp_path / "helm")})
    assert result.returncode == 2 and result.stdout == ""
    assert "no executable file there" in result.stderr and "make helm" in result.stderr
    old = tmp_path / "helm3"
    old.write_text("#!/bin/sh\nprintf v3.16.2\n")
    old.chmod(0o755)
    result = run_cli("verify", "dev", env={"MLOPS_HELM": str(old)})
    assert result.returncode == 2 and "is v3.16.2; mlops verify needs helm v4" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_config_exits_2_with_the_same_lines_as_plan(tmp_path: Path, helm_env: dict[str, str]) -> None:
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copytree(REPO / "stacks", tmp_path / "stacks", ignore=shutil.ignore_patterns("__pycache__"))
    path = tmp_path / "stacks" / "Pulumi.dev.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"]["mlops-platform:networkZoneCount"] = "three"
    path.write_text(yaml.safe_dump(doc))
    plan = run_cli("--root", str(tmp_path), "plan", "dev")
    verify = run_cli("verify", "dev", "--root", str(tmp_path), env=helm_env)
    assert plan.returncode == verify.returncode == 2
    assert verify.stdout == "" and verify.stderr == plan.stderr
    assert "mlops-platform:networkZoneCount: must be an integer, got 'three'" in verify.stderr


def test_an_unknown_stack_exits_2(helm_env: dict[str, str]) -> None:
    result = run_cli("verify", "qa", env=helm_env)
    assert result.returncode == 2 and "no such stack file" in result.stderr
