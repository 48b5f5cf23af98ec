"""``mlops check``: exit codes, the JSON contract, SARIF 2.1.0 and JUnit XML, config errors."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from mlops_platform.mlops import REPO_ROOT
from mlops_platform.mlops.analyzer import CheckResult, PolicyMeta, Violation
from mlops_platform.mlops.cli import main
from mlops_platform.mlops.graph import SourcePosition
from mlops_platform.mlops.report import render, to_json, to_sarif


def _result() -> CheckResult:
    policies = {
        "rds-not-public": PolicyMeta(
            "rds-not-public",
            "RDS instances are not publicly accessible.",
            "critical",
            "mandatory",
            "Set publicly_accessible=False.",
            {"name": "CIS AWS Foundations Benchmark", "reference": "2.3.3"},
            ["checkov:CKV_AWS_17"],
        ),
        "k8s-probes": PolicyMeta("k8s-probes", "Probes.", "low", "advisory", "Add probes."),
    }
    violations = [
        Violation(
            "rds-not-public",
            "mandatory",
            "critical",
            "urn:a",
            "aws:rds/instance:Instance",
            "db",
            "publiclyAccessible gives the instance a public address",
            SourcePosition("components/db.py", 42),
        ),
        Violation(
            "k8s-probes",
            "advisory",
            "low",
            "urn:b",
            "kubernetes:apps/v1:Deployment",
            "d",
            "lacks probes",
            None,
        ),
    ]
    return CheckResult("prod", "p", "mlops-governance", "0.1.0", policies, 7, violations)


def test_json_contract() -> None:
    data = to_json(_result())
    assert set(data) >= {"stack", "policyPack", "violations", "summary"}
    assert data["policyPack"] == {"name": "mlops-governance", "version": "0.1.0"}
    assert data["summary"] == {"resources": 7, "policies": 2, "mandatory": 1, "advisory": 1}
    v = data["violations"][0]
    assert set(v) == {"policy", "enforcement", "severity", "urn", "type", "name", "message", "source"}
    assert v["source"] == {"file": "components/db.py", "line": 42}
    assert data["violations"][1]["source"] is None


def test_sarif_locates_results_at_the_source_line() -> None:
    sarif = to_sarif(_result())
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["rds-not-public"]["help"]["text"] == "Set publicly_accessible=False."
    assert rules["rds-not-public"]["shortDescription"]["text"].startswith("RDS instances")
    first = run["results"][0]
    assert first["level"] == "error" and first["ruleId"] == "rds-not-public"
    loc = first["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "components/db.py" and loc["region"]["startLine"] == 42
    assert run["results"][1]["level"] == "warning"
    assert "locations" not in run["results"][1]  # no source and no stack file known


def test_sarif_places_stack_level_findings_in_the_stack_file() -> None:
    result = _result()
    result.stack_file = "stacks/Pulumi.prod.yaml"
    loc = to_sarif(result)["runs"][0]["results"][1]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "stacks/Pulumi.prod.yaml" and loc["region"]["startLine"] == 1


def test_junit_has_one_case_per_policy_and_fails_mandatory() -> None:
    root = ET.fromstring(render(_result(), "junit").split("\n", 1)[1])
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["rds-not-public"].find("failure") is not None
    assert cases["k8s-probes"].find("failure") is None


def test_text_groups_by_severity_and_shows_the_source() -> None:
    text = render(_result(), "text")
    assert text.index("CRITICAL") < text.index("LOW")
    assert "components/db.py:42" in text and "FAILED: 1 mandatory, 1 advisory" in text


def test_cli_reports_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dev.json"
    code = main(["check", "dev", "--format", "json", "--output", str(out)])
    data = json.loads(out.read_text())
    assert code == (1 if data["summary"]["mandatory"] else 0)
    assert data["stack"] == "dev" and data["policyPack"]["name"] == "mlops-governance"
    assert data["policyPack"]["version"] == "0.1.0"
    assert data["summary"]["resources"] > 0 and data["summary"]["policies"] >= 70
    sarif = tmp_path / "dev.sarif"
    assert main(["check", "dev", "--format", "sarif", "--output", str(sarif)]) == code
    assert json.loads(sarif.read_text())["version"] == "2.1.0"


def test_cli_config_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "dev", "--config", str(tmp_path / "missing.json")]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"no-such-policy": {"enforcementLevel": "mandatory"}}))
    assert main(["check", "dev", "--config", str(bad)]) == 2
    assert "not a policy of this pack" in capsys.readouterr().err
    level = tmp_path / "level.json"
    level.write_text(json.dumps({"rds-not-public": {"enforcementLevel": "sometimes"}}))
    assert main(["check", "dev", "--config", str(level)]) == 2
    assert main(["check", "nosuchstack"]) == 2


def test_cli_pack_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pack = tmp_path / "pack"
    (pack / "config").mkdir(parents=True)
    (pack / "config" / "dev.json").write_text("{}")
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (pack / "__main__.py").write_text("raise SystemExit('broken pack')\n")
    assert main(["check", "dev", "--policy-pack", str(pack)]) == 2
    assert "broken pack" in capsys.readouterr().err


def test_advisory_only_exits_0(tmp_path: Path) -> None:
    # Everything advisory: the same findings, but the check passes.
    config = json.loads((REPO_ROOT / "policies" / "config" / "dev.json").read_text())
    for entry in config.values():
        entry["enforcementLevel"] = "advisory"
    path = tmp_path / "advisory.json"
    path.write_text(json.dumps(config))
    assert (
        main(["check", "dev", "--config", str(path), "--format", "json", "--output", str(tmp_path / "o")])
        == 0
    )


def _staging_with_short_backups(tmp_path: Path) -> Path:
    """A copy of the project whose staging stack keeps backups for 3 days (mandatory >= 7 in staging)."""
    import shutil

    import yaml

    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(REPO_ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copytree(REPO_ROOT / "stacks", root / "stacks", ignore=shutil.ignore_patterns("__pycache__"))
    path = root / "stacks" / "Pulumi.staging.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"]["mlops-platform:databaseBackupRetentionDays"] = 3
    path.write_text(yaml.safe_dump(doc))
    return root


def test_all_key_sets_the_default_level(tmp_path: Path) -> None:
    root = _staging_with_short_backups(tmp_path)
    default = tmp_path / "default.json"
    common = ["--root", str(root), "check", "staging", "--format", "json"]
    assert (
        main([*common, "--config", str(REPO_ROOT / "policies/config/staging.json"), "--output", str(default)])
        == 1
    )
    assert json.loads(default.read_text())["summary"]["mandatory"] > 0

    path = tmp_path / "all.json"
    path.write_text(json.dumps({"all": "advisory"}))
    out = tmp_path / "o.json"
    assert main([*common, "--config", str(path), "--output", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["summary"]["mandatory"] == 0 and data["summary"]["advisory"] > 0


def test_without_policy_properties_staging_is_judged_by_stagings_values(tmp_path: Path) -> None:
    # A policy config that sets no property (as a bare `pulumi preview --policy-pack policies`): the log
    # groups' 14 days are judged by staging's 30 from the catalogue, not by the weakest value (1 day).
    import shutil

    import yaml

    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(REPO_ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copytree(REPO_ROOT / "stacks", root / "stacks", ignore=shutil.ignore_patterns("__pycache__"))
    path = root / "stacks" / "Pulumi.staging.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"]["mlops-platform:logsRetentionDays"] = 14
    path.write_text(yaml.safe_dump(doc))
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    out = tmp_path / "o.json"
    common = ["--root", str(root), "check", "staging", "--format", "json", "--output", str(out)]
    assert main([*common, "--config", str(empty)]) == 1
    messages = {
        v["message"] for v in json.loads(out.read_text())["violations"] if v["policy"] == "logs-retention"
    }
    assert messages == {"retentionInDays is 14; at least 30 required in staging"}
