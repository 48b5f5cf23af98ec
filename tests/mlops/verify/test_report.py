"""The four report formats of `mlops verify`: text grouped by layer, JSON, SARIF 2.1.0 and JUnit."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import pytest

from mlops_platform.mlops.graph import SourcePosition
from mlops_platform.mlops.verify.accepted import Accepted
from mlops_platform.mlops.verify.model import Finding
from mlops_platform.mlops.verify.report import render, to_json, to_sarif, to_text
from mlops_platform.mlops.verify.runner import VerifyResult

URN = "urn:pulumi:dev::mlops-platform::kubernetes:helm.sh/v3:Release::kps"
RELEASE = "kubernetes:helm.sh/v3:Release"


def finding(layer: str, check: str, message: str, line: int = 991, **kw) -> Finding:
    return Finding(
        layer=layer,
        check=check,
        message=message,
        urn=URN,
        type=RELEASE,
        name="kps",
        source=SourcePosition("components/monitoring/monitoring.py", line),
        **kw,
    )


@pytest.fixture
def result() -> VerifyResult:
    unknown = finding(
        "values",
        "unknown-key",
        "values key servce does not exist",
        object="helm release m/kps",
        path="values.servce",
    )
    failed = finding("helm", "render-failed", "helm template failed: boom", line=12)
    pdb = finding(
        "semantics",
        "pdb-both-fields",
        "minAvailable and maxUnavailable both set",
        object="policy/v1 PodDisruptionBudget monitoring/x",
        path="spec",
    )
    accepted = finding("values", "unknown-key", "values key legacy does not exist", path="values.legacy")
    entry = Accepted("values", "unknown-key", "legacy", "the chart reads it through a tpl string")
    return VerifyResult(
        stack="dev",
        kube_version="1.34",
        helm="/usr/bin/helm (v4.1.4)",
        charts="../shared/charts",
        releases=3,
        layers=["helm", "values", "schema", "semantics"],
        findings=[unknown, failed, pdb],
        accepted=[(accepted, entry)],
        timings={"helm": 1.5, "values": 0.02, "schema": 0.5, "semantics": 0.1},
    )


def test_text_groups_by_layer_with_file_line_object_path_and_the_accepted(result: VerifyResult) -> None:
    text = to_text(result)
    assert text.startswith("mlops verify dev: 3 Helm release(s) rendered by helm /usr/bin/helm (v4.1.4)")
    helm_at, values_at, semantics_at = (
        text.index("HELM (1)"),
        text.index("VALUES (1)"),
        text.index("SEMANTICS (1)"),
    )
    assert helm_at < values_at < semantics_at and "SCHEMA (" not in text
    assert "  [unknown-key] components/monitoring/monitoring.py:991" in text
    assert "at helm release m/kps values.servce" in text
    assert "at policy/v1 PodDisruptionBudget monitoring/x spec" in text
    assert "ACCEPTED (1)" in text and "accepted: the chart reads it through a tpl string" in text
    assert "layers: helm 1.50s, values 0.02s, schema 0.50s, semantics 0.10s" in text
    assert text.rstrip().endswith("FAILED: 3 finding(s), 1 accepted")


def test_text_of_a_clean_run_passes() -> None:
    clean = VerifyResult("dev", "1.34", "helm (v4.1.4)", "dir", 2, ["helm", "values"], [], [], {"helm": 1.0})
    assert to_text(clean).rstrip().endswith("passed: 0 finding(s), 0 accepted")


def test_text_of_a_run_missing_a_chart_is_incomplete(result: VerifyResult) -> None:
    result.findings.append(finding("helm", "chart-not-found", "no chart"))
    assert to_text(result).rstrip().endswith("INCOMPLETE: 4 finding(s), 1 accepted")


def test_json_has_the_summary_per_layer_with_timings_and_the_accepted_reasons(result: VerifyResult) -> None:
    doc = json.loads(render(result, "json"))
    assert doc == to_json(result)
    assert doc["stack"] == "dev" and doc["kubeVersion"] == "1.34"
    assert doc["summary"]["findings"] == 3 and doc["summary"]["accepted"] == 1
    assert doc["summary"]["layers"]["values"] == {"findings": 1, "accepted": 1, "seconds": 0.02}
    assert doc["summary"]["layers"]["schema"] == {"findings": 0, "accepted": 0, "seconds": 0.5}
    assert [(f["layer"], f["check"]) for f in doc["findings"]] == [
        ("helm", "render-failed"),
        ("semantics", "pdb-both-fields"),
        ("values", "unknown-key"),
    ]
    assert doc["findings"][2]["source"] == {"file": "components/monitoring/monitoring.py", "line": 991}
    (accepted,) = doc["accepted"]
    assert accepted["reason"] == "the chart reads it through a tpl string"
    assert accepted["finding"]["path"] == "values.legacy"


def test_sarif_has_a_rule_per_layer_check_and_results_at_the_resource(result: VerifyResult) -> None:
    doc = json.loads(render(result, "sarif"))
    assert doc == to_sarif(result)
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    (run,) = doc["runs"]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert rules == ["helm/render-failed", "semantics/pdb-both-fields", "values/unknown-key"]
    by_rule = {}
    for res in run["results"]:
        assert rules[res["ruleIndex"]] == res["ruleId"]
        by_rule.setdefault(res["ruleId"], []).append(res)
    (values_result, accepted_result) = by_rule["values/unknown-key"]
    location = values_result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "components/monitoring/monitoring.py"
    assert location["region"]["startLine"] == 991
    assert "values.servce" in values_result["message"]["text"] and "suppressions" not in values_result
    assert accepted_result["suppressions"] == [
        {"kind": "external", "justification": "the chart reads it through a tpl string"}
    ]
    assert by_rule["helm/render-failed"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 12


def test_junit_has_a_case_per_layer_check_and_failures_for_findings(result: VerifyResult) -> None:
    root = ET.fromstring(render(result, "junit"))
    (suite,) = root
    cases = {(c.get("classname"), c.get("name")): c for c in suite.iter("testcase")}
    assert set(cases) == {
        ("mlops-verify.dev.helm", "render-failed"),
        ("mlops-verify.dev.values", "unknown-key"),
        ("mlops-verify.dev.schema", "all"),
        ("mlops-verify.dev.semantics", "pdb-both-fields"),
    }
    assert suite.get("tests") == "4" and suite.get("failures") == "3"
    failure = cases[("mlops-verify.dev.values", "unknown-key")].find("failure")
    assert failure is not None and "components/monitoring/monitoring.py:991" in (failure.text or "")
    out = cases[("mlops-verify.dev.values", "unknown-key")].find("system-out")
    assert out is not None and "[accepted]" in (out.text or "") and "tpl string" in (out.text or "")
    assert cases[("mlops-verify.dev.schema", "all")].find("failure") is None


def test_sarif_locates_a_finding_without_a_source_at_the_stack_file(result: VerifyResult) -> None:
    """Code scanning drops a result without a location: a layer-wide finding sits on the stack's file."""
    layer_wide = Finding(layer="policy", check="pack-failed", message="the policy pack could not run: boom")
    result.findings.append(layer_wide)
    result.stack_file = "stacks/Pulumi.dev.yaml"
    results = to_sarif(result)["runs"][0]["results"]
    assert all(r.get("locations") for r in results)
    (pack,) = [r for r in results if r["ruleId"] == "policy/pack-failed"]
    location = pack["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "stacks/Pulumi.dev.yaml"
    assert location["region"]["startLine"] == 1


def test_the_cel_rules_not_evaluated_are_listed_in_text_json_and_sarif() -> None:
    """Informative: the count and the rules cel-python could not evaluate, with the reason; not findings."""
    from mlops_platform.mlops.verify.cel import Coverage, Rule

    coverage = Coverage(
        [
            Rule("nodepools.karpenter.sh", "v1", "spec", "has(self.replicas) == has(oldSelf.replicas)", ""),
            Rule("nodepools.karpenter.sh", "v1", "spec.limits", "self.all(x, x != '')", ""),
        ]
    )
    clean = VerifyResult(
        "dev", "1.34", "helm (v4.1.4)", "dir", 2, ["helm", "crd"], [], [], {"helm": 1.0}, cel_rules=coverage
    )
    text = to_text(clean)
    assert "CEL rules of the CRDs in use: 2; evaluated with cel-python: 1; not evaluated: 1" in text
    assert (
        "  nodepools.karpenter.sh v1 spec: 'has(self.replicas) == has(oldSelf.replicas)': transition rule"
        in text
    )
    assert text.rstrip().endswith("passed: 0 finding(s), 0 accepted")
    doc = to_json(clean)
    assert doc["celRules"]["rules"] == 2 and doc["celRules"]["evaluated"] == 1
    assert [r["path"] for r in doc["celRules"]["notEvaluated"]] == ["spec"]
    assert to_sarif(clean)["runs"][0]["properties"]["celRules"] == doc["celRules"]
    without = VerifyResult("dev", "1.34", "helm (v4.1.4)", "dir", 2, ["helm"], [], [], {"helm": 1.0})
    assert to_json(without)["celRules"] is None and "CEL rules" not in to_text(without)
