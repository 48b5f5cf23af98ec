"""`mlops plan` end to end: the tree, the JSON contract, and exit 2 with clear lines on bad config."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_platform.mlops import schema
from mlops_platform.mlops.cli import main

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, root: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops_platform.mlops.cli", "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project files (not the code) whose stack files a test may break."""
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copytree(REPO / "stacks", tmp_path / "stacks", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def edit_stack(project: Path, stack: str, **set_keys: object) -> Path:
    import yaml

    path = project / "stacks" / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(path.read_text())
    for key, value in set_keys.items():
        full = key.replace("__", ":")
        if value is None:
            doc["config"].pop(full, None)
        else:
            doc["config"][full] = value
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_plan_prints_a_tree(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", stack]) == 0
    out = capsys.readouterr().out
    assert f"Offline plan of mlops-platform/{stack}" in out
    assert " +   pulumi:pulumi:Stack" in out
    assert "└─ mlops:platform:MlopsPlatform" in out
    assert "aws:ec2/vpc:Vpc" in out
    assert out.rstrip().splitlines()[-1].startswith("Resources: ")


def test_prod_has_a_nat_gateway_per_zone_and_dev_one(capsys: pytest.CaptureFixture[str]) -> None:
    counts = {}
    for stack in ("dev", "prod"):
        assert main(["plan", stack, "--format", "json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        counts[stack] = sum(r["type"] == "aws:ec2/natGateway:NatGateway" for r in doc["resources"])
    assert counts == {"dev": 1, "prod": 3}


def test_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "dev", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["stack"] == "dev" and doc["project"] == "mlops-platform"
    assert doc["resources"], "resources are listed"
    for res in doc["resources"]:
        assert {"urn", "type", "name", "parent", "dependencies", "protect", "source", "inputs"} <= set(res)
        assert isinstance(res["dependencies"], list) and isinstance(res["protect"], bool)
    vpc = next(r for r in doc["resources"] if r["type"] == "aws:ec2/vpc:Vpc")
    assert vpc["source"]["file"] == "components/network/network.py" and vpc["source"]["line"] > 0
    assert doc["summary"]["resources"] == len(doc["resources"])


def test_every_aws_resource_uses_the_tagging_provider(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "prod", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    providers = [r for r in doc["resources"] if r["type"] == "pulumi:providers:aws"]
    assert len(providers) == 1
    tags = json.loads(providers[0]["inputs"]["defaultTags"])["tags"]
    assert tags == {
        "environment": "prod",
        "owner": "ml-platform",
        "cost-center": "cc-ml-1001",
        "data-classification": "confidential",
        "managed-by": "pulumi",
    }
    for res in doc["resources"]:
        if res["type"].startswith("aws:"):
            assert res["provider"] == providers[0]["urn"], res["urn"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"mlops-platform__networkZoneCount": "three"},
            "stacks/Pulumi.dev.yaml: mlops-platform:networkZoneCount: must be an integer, got 'three'",
        ),
        (
            {"mlops-platform__networkZonesCount": 2},
            "stacks/Pulumi.dev.yaml: mlops-platform:networkZonesCount: unknown key",
        ),
        ({"mlops-platform__owner": None}, "stacks/Pulumi.dev.yaml: mlops-platform:owner: is required"),
        (
            {"mlops-platform__networkVpcCidr": "10.0.0.0/33"},
            "stacks/Pulumi.dev.yaml: mlops-platform:networkVpcCidr: must be an IPv4 CIDR block",
        ),
    ],
)
def test_bad_config_exits_2_with_one_line_per_problem(project: Path, change: dict, expected: str) -> None:
    edit_stack(project, "dev", **change)
    result = run_cli("plan", "dev", root=project)
    assert result.returncode == 2
    assert result.stdout == "", "no partial output"
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(expected), result.stderr


def test_several_problems_give_several_lines(project: Path) -> None:
    edit_stack(
        project,
        "prod",
        **{
            "mlops-platform__networkZoneCount": "x",
            "mlops-platform__bogus": 1,
            "mlops-platform__databaseMultiAz": False,
        },
    )
    result = run_cli("plan", "prod", root=project)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3
    assert all(line.startswith("stacks/Pulumi.prod.yaml: ") for line in lines)


def test_missing_stack_file_and_broken_yaml(project: Path) -> None:
    result = run_cli("plan", "qa", root=project)
    assert result.returncode == 2 and "no such stack file" in result.stderr and "dev" in result.stderr
    (project / "stacks" / "Pulumi.dev.yaml").write_text("config: [unclosed\n")
    result = run_cli("plan", "dev", root=project)
    assert result.returncode == 2 and "not valid YAML" in result.stderr and "Traceback" not in result.stderr


def test_pulumi_yaml_config_block_matches_the_schema() -> None:
    assert schema.check(REPO), "Pulumi.yaml is stale: run `mlops schema --write`"
    doc = schema.project_document()
    assert doc["main"] == "stacks/" and doc["stackConfigDir"] == "stacks"
    assert doc["runtime"]["options"] == {"toolchain": "pip", "virtualenv": ".venv", "typechecker": "pyright"}
    assert doc["config"]["networkZoneCount"]["type"] == "integer"
    assert doc["config"]["clusterAdminPrincipalArns"] == {
        "type": "array",
        "description": doc["config"]["clusterAdminPrincipalArns"]["description"],
        "items": {"type": "string"},
    }


def test_stack_files_set_only_known_keys() -> None:
    import yaml

    from mlops_platform.components.platform.config import KEYS

    for path in sorted((REPO / "stacks").glob("Pulumi.*.yaml")):
        keys = yaml.safe_load(path.read_text())["config"]
        assert "aws:region" in keys, path
        for key in keys:
            ns, _, name = key.partition(":")
            if ns == "mlops-platform":
                assert name in KEYS, f"{path.name}: {key}"


def test_the_type_check_pulumi_runs_before_the_program_passes() -> None:
    """Pulumi.yaml's `typechecker: pyright` makes the CLI run pyright in the program directory (stacks/)
    from the virtualenv that `pulumi install` fills from requirements.txt."""
    requirements = (REPO / "requirements.txt").read_text().split()
    assert "pyright" in requirements and "-e" in requirements
    pyright = Path(sys.executable).parent / "pyright"
    result = subprocess.run(
        [str(pyright)], cwd=REPO / "stacks", capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors" in result.stdout


def test_plan_layer_aws_urns_is_the_phase_one_target_list(capsys: pytest.CaptureFixture[str]) -> None:
    from mlops_platform.mlops.engine import render
    from mlops_platform.mlops.layers import targets

    assert main(["plan", "dev", "--layer", "aws", "--format", "urns"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == targets(render("dev", REPO))
    assert any("$aws:eks/cluster:Cluster::" in u for u in lines)
    assert not any("kubernetes:" in u.split("::")[2] for u in lines)


def test_plan_urns_needs_the_aws_layer(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "dev", "--format", "urns"]) == 2
    assert "--layer aws" in capsys.readouterr().err


def test_plan_cluster_layer_json_is_what_only_the_runner_creates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "dev", "--layer", "cluster", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    types = {r["type"] for r in doc["resources"]}
    assert "kubernetes:helm.sh/v3:Release" in types and "pulumi:providers:kubernetes" in types
    assert "aws:eks/cluster:Cluster" not in types and "aws:codebuild/project:Project" not in types
    assert doc["summary"]["resources"] == len(doc["resources"])


# --- the command line's own paths: refused up front, one line, exit 2 (never a traceback and exit 1) --------


@pytest.fixture
def no_analysis(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every render and pack start; a path refused up front leaves it empty."""
    import mlops_platform.mlops.analyzer as analyzer
    import mlops_platform.mlops.cli as cli

    calls: list[str] = []

    def render(stack: str, root: Path):
        calls.append(f"render {stack}")
        return None, ["rendered"]

    def pack_process(pack_dir: Path):
        calls.append(f"pack {pack_dir}")
        raise AssertionError("the pack must not start")

    monkeypatch.setattr(cli, "_render", render)
    monkeypatch.setattr(analyzer, "pack_process", pack_process)
    return calls


def _bad_outputs(tmp: Path) -> dict[str, tuple[str, str]]:
    """--output values no one can write to, also as root, with what the line must say."""
    (tmp / "a-file").write_text("x")
    (tmp / "a-dir").mkdir()
    return {
        "missing directory": (
            str(tmp / "missing" / "r.json"),
            f"the directory {str(tmp / 'missing')!r} does not exist",
        ),
        "a directory": (str(tmp / "a-dir"), "is a directory"),
        "under a regular file": (
            str(tmp / "a-file" / "r.json"),
            f"{str(tmp / 'a-file')!r} is a file, not a directory",
        ),
        "deeper under a regular file": (
            str(tmp / "a-file" / "x" / "r.json"),
            f"{str(tmp / 'a-file')!r} is a file, not a directory",
        ),
        "where the kernel refuses a file": ("/proc/mlops-report.json", "cannot be created or written"),
        "empty": ("", "empty"),
    }


@pytest.mark.parametrize("command", ["check", "verify"])
@pytest.mark.parametrize(
    "case",
    [
        "missing directory",
        "a directory",
        "under a regular file",
        "deeper under a regular file",
        "where the kernel refuses a file",
        "empty",
    ],
)
def test_an_unwritable_output_is_refused_before_any_analysis(
    command: str, case: str, tmp_path: Path, no_analysis: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    output, expected = _bad_outputs(tmp_path)[case]
    assert main([command, "dev", "--output", output]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert captured.err.splitlines() == [captured.err.strip()], "one line"
    assert captured.err.startswith(f"mlops {command}: --output {output!r}: {expected}"), captured.err
    assert "existing, writable directory" in captured.err, "says what is allowed"
    assert no_analysis == [], "nothing rendered, no pack started"


def test_the_output_probe_creates_nothing_and_truncates_nothing(
    tmp_path: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The up-front check opens the file for appending: a new file is removed again, an old one untouched
    (here the stack is broken, so no report follows)."""
    edit_stack(project, "dev", **{"mlops-platform__networkZoneCount": "three"})
    fresh, old = tmp_path / "fresh.json", tmp_path / "old.json"
    old.write_text("previous report")
    for output in (fresh, old):
        assert main(["--root", str(project), "check", "dev", "--output", str(output)]) == 2
        assert "networkZoneCount" in capsys.readouterr().err
    assert not fresh.exists() and old.read_text() == "previous report"


def test_a_report_the_disk_refuses_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """/dev/full opens but refuses every write (ENOSPC): found only when the report is written."""
    assert main(["check", "dev", "--format", "json", "--output", "/dev/full"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert (
        captured.err.strip()
        == "mlops check: --output '/dev/full': cannot be written (No space left on device)"
    )


def _packs(tmp: Path) -> dict[str, tuple[str, str]]:
    only_main, only_yaml = tmp / "only-main", tmp / "only-yaml"
    for d in (only_main, only_yaml, tmp / "empty"):
        (d / "config").mkdir(parents=True)
        (d / "config" / "dev.json").write_text("{}")
    (only_main / "__main__.py").write_text("")
    (only_yaml / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (tmp / "a-file").write_text("")
    return {
        "no such directory": (str(tmp / "nowhere"), "no such directory"),
        "a file": (str(tmp / "a-file"), "is a file, not a directory"),
        "an empty directory": (
            str(tmp / "empty"),
            "not a policy pack (no PulumiPolicy.yaml and no __main__.py)",
        ),
        "no PulumiPolicy.yaml": (str(only_main), "not a policy pack (no PulumiPolicy.yaml)"),
        "no __main__.py": (str(only_yaml), "not a policy pack (no __main__.py)"),
    }


@pytest.mark.parametrize(
    "case", ["no such directory", "a file", "an empty directory", "no PulumiPolicy.yaml", "no __main__.py"]
)
def test_a_policy_pack_dir_that_is_not_a_pack_says_so(
    case: str, tmp_path: Path, no_analysis: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    pack, expected = _packs(tmp_path)[case]
    assert main(["check", "dev", "--policy-pack", pack]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert captured.err.strip() == (
        f"mlops check: --policy-pack {pack!r}: {expected}; give a policy pack directory, one holding "
        "PulumiPolicy.yaml and __main__.py (leave --policy-pack out for the pack this package ships)"
    )
    assert "config not found" not in captured.err
    assert no_analysis == []


def test_output_and_pack_problems_are_reported_together(
    tmp_path: Path, no_analysis: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "dev", "--output", str(tmp_path), "--policy-pack", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(": ", 2)[1].split()[0] for line in lines] == ["--output", "--policy-pack"]


def test_a_policy_config_that_is_a_directory_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "dev", "--config", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"{tmp_path}: policy pack config cannot be read (Is a directory)"


@pytest.mark.parametrize("command", ["plan", "check"])
@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("stack file in Latin-1", "stacks/Pulumi.dev.yaml (line 2): not UTF-8 text (byte 0xe9)"),
        ("Pulumi.yaml in Latin-1", "Pulumi.yaml (line 1): not UTF-8 text (byte 0xe9)"),
        ("control character", "stacks/Pulumi.dev.yaml (line 3): not valid YAML: the character '\\x01'"),
        ("stack file is a directory", "stacks/Pulumi.dev.yaml: cannot be read (Is a directory)"),
    ],
)
def test_unreadable_project_files_are_one_line_naming_the_file(
    command: str, case: str, expected: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = project / "stacks" / "Pulumi.dev.yaml"
    if case == "stack file in Latin-1":
        stack.write_bytes(b"config:\n  mlops-platform:owner: \xe9quipe\n")
    elif case == "Pulumi.yaml in Latin-1":
        (project / "Pulumi.yaml").write_bytes(b"# \xe9\n" + (project / "Pulumi.yaml").read_bytes())
    elif case == "control character":
        stack.write_text("config:\n  aws:region: eu-west-1\n  mlops-platform:owner: a\x01b\n")
    else:
        stack.unlink()
        stack.mkdir()
    assert main(["--root", str(project), command, "dev"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    lines = captured.err.splitlines()
    # The stack file is named relative to the project, like every other line about it; Pulumi.yaml by its path.
    assert len(lines) == 1 and lines[0].startswith((expected, f"{project.resolve()}/{expected}")), lines
