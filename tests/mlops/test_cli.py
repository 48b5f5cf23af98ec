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
