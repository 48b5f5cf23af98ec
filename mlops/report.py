"""Reports of ``mlops check``: text (grouped by severity), JSON, SARIF 2.1.0 and JUnit XML."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

from mlops_platform.mlops.analyzer import CheckResult, Violation
from mlops_platform.mlops.graph import SourcePosition

SEVERITY_ORDER = ("critical", "high", "medium", "low")
_SARIF_LEVEL = {"mandatory": "error", "advisory": "warning"}
_SARIF_SCORE = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}


def sarif_locations(
    source: SourcePosition | None, stack_file: str | None, *, name: str, urn: str
) -> list[dict[str, Any]]:
    """A SARIF result's locations: the line that created the resource, else line 1 of the stack's config file
    (code scanning needs a location); none when neither is known."""
    file, line = (source.file, source.line) if source is not None else (stack_file, 1)
    if not file:
        return []
    return [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": file, "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": max(1, line)},
            },
            "logicalLocations": [{"name": name, "fullyQualifiedName": urn or name, "kind": "resource"}],
        }
    ]


def _where(v: Violation) -> str:
    return str(v.source) if v.source else "(stack)"


def _sorted(vs: list[Violation]) -> list[Violation]:
    return sorted(vs, key=lambda v: (v.enforcement != "mandatory", v.policy, _where(v), v.name))


def summary(result: CheckResult) -> dict[str, int]:
    return {
        "resources": result.resources,
        "policies": len(result.policies),
        "mandatory": len(result.mandatory),
        "advisory": len(result.advisory),
    }


def to_json(result: CheckResult) -> dict[str, Any]:
    return {
        "stack": result.stack,
        "policyPack": {"name": result.pack_name, "version": result.pack_version},
        "violations": [v.to_json() for v in _sorted(result.violations)],
        "undetermined": [v.to_json() for v in result.undetermined],
        "summary": summary(result),
    }


def to_text(result: CheckResult) -> str:
    lines = [
        f"Policy pack {result.pack_name}@{result.pack_version} on stack {result.stack}: "
        f"{result.resources} resources, {len(result.policies)} policies"
    ]
    for severity in SEVERITY_ORDER:
        group = [v for v in result.violations if v.severity == severity]
        if not group:
            continue
        lines.append("")
        lines.append(f"{severity.upper()} ({len(group)})")
        for v in _sorted(group):
            lines.append(f"  [{v.enforcement}] {v.policy}  {_where(v)}")
            lines.append(f"      {v.type} {v.name!r}")
            for part in v.message.splitlines():
                lines.append(f"      {part}")
            remediation = result.policies.get(v.policy)
            if remediation is not None and remediation.remediation:
                lines.append(f"      fix: {remediation.remediation}")
    for v in result.undetermined:
        lines.append(f"  [undetermined] {v.policy}: {v.message}")
    s = summary(result)
    lines.append("")
    verdict = "FAILED" if s["mandatory"] else "passed"
    lines.append(f"{verdict}: {s['mandatory']} mandatory, {s['advisory']} advisory violation(s)")
    return "\n".join(lines) + "\n"


def to_sarif(result: CheckResult) -> dict[str, Any]:
    names = sorted(result.policies)
    index = {n: i for i, n in enumerate(names)}
    rules = []
    for n in names:
        p = result.policies[n]
        help_text = p.remediation or p.description
        props: dict[str, Any] = {
            "tags": [p.severity, *p.tags],
            "security-severity": _SARIF_SCORE[p.severity],
            "enforcement": p.enforcement,
        }
        if p.framework:
            props["framework"] = p.framework
        rules.append(
            {
                "id": n,
                "name": n,
                "shortDescription": {"text": p.description},
                "fullDescription": {"text": p.description},
                "help": {"text": help_text, "markdown": f"**{p.description}**\n\nRemediation: {help_text}"},
                "defaultConfiguration": {"level": _SARIF_LEVEL.get(p.enforcement, "note")},
                "properties": props,
            }
        )
    results = []
    for v in _sorted(result.violations):
        entry: dict[str, Any] = {
            "ruleId": v.policy,
            "ruleIndex": index.get(v.policy, 0),
            "level": _SARIF_LEVEL.get(v.enforcement, "note"),
            "message": {"text": f"{v.type} {v.name!r}: {v.message}"},
            "partialFingerprints": {"resourceUrn": v.urn or result.stack},
            "properties": {"urn": v.urn, "severity": v.severity, "enforcement": v.enforcement},
        }
        locations = sarif_locations(v.source, result.stack_file, name=v.name, urn=v.urn)
        if locations:
            entry["locations"] = locations
        results.append(entry)
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": result.pack_name,
                        "version": result.pack_version,
                        "informationUri": "https://www.pulumi.com/docs/iac/using-pulumi/crossguard/",
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": "./"}},
                "results": results,
                "properties": {"stack": result.stack, "summary": summary(result)},
            }
        ],
    }


def to_junit(result: CheckResult) -> str:
    """One test case per policy; each mandatory violation is a failure, advisory ones are system-out."""
    suite = ET.Element(
        "testsuite",
        name=f"{result.pack_name}:{result.stack}",
        tests=str(len(result.policies)),
        failures=str(len({v.policy for v in result.mandatory})),
        errors="0",
        skipped="0",
    )
    for name in sorted(result.policies):
        case = ET.SubElement(suite, "testcase", classname=f"{result.pack_name}.{result.stack}", name=name)
        found = _sorted(result.by_policy(name))
        mandatory = [v for v in found if v.enforcement == "mandatory"]
        if mandatory:
            failure = ET.SubElement(
                case, "failure", type="mandatory", message=f"{len(mandatory)} mandatory violation(s)"
            )
            failure.text = "\n".join(f"{_where(v)} {v.type} {v.name}: {v.message}" for v in mandatory)
        advisory = [v for v in found if v.enforcement != "mandatory"]
        if advisory:
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(f"[advisory] {_where(v)} {v.type} {v.name}: {v.message}" for v in advisory)
    suites = ET.Element("testsuites", name="mlops check")
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def render(result: CheckResult, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(to_json(result), indent=2) + "\n"
    if fmt == "sarif":
        return json.dumps(to_sarif(result), indent=2) + "\n"
    if fmt == "junit":
        return to_junit(result)
    return to_text(result)
