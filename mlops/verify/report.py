"""Reports of ``mlops verify``: text (grouped by layer), JSON, SARIF 2.1.0 and JUnit XML.

Every finding is located at the file:line of the resource that made it (the Helm release, the Kubernetes
object, the policy's resource); accepted findings are listed with the reason they are accepted.
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

from mlops_platform.mlops.report import sarif_locations
from mlops_platform.mlops.verify.model import Finding
from mlops_platform.mlops.verify.runner import VerifyResult

TOOL = "mlops verify"
HELP = "The layers and their checks: docs/verify.md in this repository."


def _where(f: Finding) -> str:
    return str(f.source) if f.source else "(stack)"


def _sorted(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.layer, f.check, _where(f), f.name, f.object, f.path))


def _layers(result: VerifyResult) -> list[str]:
    seen = list(result.layers)
    for f in result.findings + [f for f, _ in result.accepted]:
        if f.layer not in seen:
            seen.append(f.layer)
    return seen


def summary(result: VerifyResult) -> dict[str, Any]:
    layers = _layers(result)
    return {
        "findings": len(result.findings),
        "accepted": len(result.accepted),
        "releases": result.releases,
        "layers": {
            layer: {
                "findings": sum(1 for f in result.findings if f.layer == layer),
                "accepted": sum(1 for f, _ in result.accepted if f.layer == layer),
                "seconds": round(result.timings.get(layer, 0.0), 3),
            }
            for layer in layers
        },
    }


def to_json(result: VerifyResult) -> dict[str, Any]:
    return {
        "stack": result.stack,
        "kubeVersion": result.kube_version,
        "helm": result.helm,
        "charts": result.charts,
        "summary": summary(result),
        "findings": [f.to_json() for f in _sorted(result.findings)],
        "accepted": [
            {"finding": f.to_json(), "reason": entry.reason} for f, entry in _sorted_accepted(result)
        ],
        "celRules": None if result.cel_rules is None else result.cel_rules.to_json(),
    }


def _sorted_accepted(result: VerifyResult):
    return sorted(result.accepted, key=lambda pair: (pair[0].layer, pair[0].check, _where(pair[0])))


def _describe(f: Finding) -> list[str]:
    lines = [f"      {f.type} {f.name!r}" if f.type else f"      {f.name or '(stack)'}"]
    if f.object or f.path:
        lines.append(f"      at {f.object}{' ' if f.object and f.path else ''}{f.path}")
    lines += [f"      {part}" for part in f.message.splitlines()]
    return lines


def to_text(result: VerifyResult) -> str:
    lines = [
        f"mlops verify {result.stack}: {result.releases} Helm release(s) rendered by helm {result.helm}, "
        f"Kubernetes {result.kube_version}, charts from {result.charts}"
    ]
    for layer in _layers(result):
        group = [f for f in result.findings if f.layer == layer]
        if not group:
            continue
        lines.append("")
        lines.append(f"{layer.upper()} ({len(group)})")
        for f in _sorted(group):
            lines.append(f"  [{f.check}] {_where(f)}")
            lines += _describe(f)
    if result.accepted:
        lines.append("")
        lines.append(f"ACCEPTED ({len(result.accepted)})")
        for f, entry in _sorted_accepted(result):
            lines.append(f"  [{f.layer}/{f.check}] {_where(f)}")
            lines += _describe(f)
            lines.append(f"      accepted: {entry.reason}")
    if result.cel_rules is not None:
        lines.append("")
        lines += result.cel_rules.lines()
    lines.append("")
    timing = ", ".join(f"{layer} {result.timings.get(layer, 0.0):.2f}s" for layer in result.layers)
    lines.append(f"layers: {timing}")
    verdict = "FAILED" if result.findings else "passed"
    if result.incomplete:
        verdict = "INCOMPLETE"
    lines.append(f"{verdict}: {len(result.findings)} finding(s), {len(result.accepted)} accepted")
    return "\n".join(lines) + "\n"


def _rule_id(layer: str, check: str) -> str:
    return f"{layer}/{check}"


def to_sarif(result: VerifyResult) -> dict[str, Any]:
    everything = result.findings + [f for f, _ in result.accepted]
    rule_ids = sorted({_rule_id(f.layer, f.check) for f in everything})
    index = {r: i for i, r in enumerate(rule_ids)}
    rules = [
        {
            "id": rid,
            "name": rid.replace("/", "-"),
            "shortDescription": {"text": f"mlops verify, layer {rid.split('/')[0]}: {rid.split('/')[1]}"},
            "help": {"text": HELP},
            "defaultConfiguration": {"level": "error"},
            "properties": {"layer": rid.split("/")[0], "check": rid.split("/")[1]},
        }
        for rid in rule_ids
    ]
    reasons = {id(f): entry.reason for f, entry in result.accepted}
    results = []
    for f in _sorted(result.findings) + [f for f, _ in _sorted_accepted(result)]:
        rid = _rule_id(f.layer, f.check)
        where = f" ({f.object}{' ' if f.object and f.path else ''}{f.path})" if f.object or f.path else ""
        entry: dict[str, Any] = {
            "ruleId": rid,
            "ruleIndex": index[rid],
            "level": "error",
            "message": {"text": f"{f.type} {f.name!r}{where}: {f.message}"},
            "partialFingerprints": {"finding": f"{f.urn or result.stack}|{rid}|{f.object}|{f.path}"},
            "properties": {"urn": f.urn, "object": f.object, "path": f.path},
        }
        if id(f) in reasons:
            entry["suppressions"] = [{"kind": "external", "justification": reasons[id(f)]}]
        stack_file = result.stack_file or f"stacks/Pulumi.{result.stack}.yaml"
        entry["locations"] = sarif_locations(f.source, stack_file, name=f.name, urn=f.urn)
        results.append(entry)
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": TOOL, "rules": rules}},
                "originalUriBaseIds": {"%SRCROOT%": {"uri": "./"}},
                "results": results,
                "properties": {
                    "stack": result.stack,
                    "summary": summary(result),
                    **({"celRules": result.cel_rules.to_json()} if result.cel_rules is not None else {}),
                },
            }
        ],
    }


def _checks(result: VerifyResult) -> list[tuple[str, str]]:
    """Every (layer, check) that ran or found something: a layer without findings is one passing case."""
    pairs = {(f.layer, f.check) for f in result.findings + [f for f, _ in result.accepted]}
    for layer in result.layers:
        if not any(p[0] == layer for p in pairs):
            pairs.add((layer, "all"))
    order = {layer: i for i, layer in enumerate(_layers(result))}
    return sorted(pairs, key=lambda p: (order.get(p[0], len(order)), p[1]))


def to_junit(result: VerifyResult) -> str:
    """One test case per layer/check; each finding is a failure, accepted ones are system-out."""
    checks = _checks(result)
    failing = {(f.layer, f.check) for f in result.findings}
    suite = ET.Element(
        "testsuite",
        name=f"mlops-verify:{result.stack}",
        tests=str(len(checks)),
        failures=str(len(failing)),
        errors="0",
        skipped="0",
        time=f"{sum(result.timings.values()):.3f}",
    )
    for layer, check in checks:
        case = ET.SubElement(suite, "testcase", classname=f"mlops-verify.{result.stack}.{layer}", name=check)
        if check == "all":
            case.set("time", f"{result.timings.get(layer, 0.0):.3f}")
        found = _sorted([f for f in result.findings if (f.layer, f.check) == (layer, check)])
        if found:
            failure = ET.SubElement(
                case, "failure", type=f"{layer}/{check}", message=f"{len(found)} finding(s)"
            )
            failure.text = "\n".join(
                f"{_where(f)} {f.type} {f.name} {f.object} {f.path}: {f.message}" for f in found
            )
        taken = [(f, e) for f, e in _sorted_accepted(result) if (f.layer, f.check) == (layer, check)]
        if taken:
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(
                f"[accepted] {_where(f)} {f.name}: {f.message} (reason: {e.reason})" for f, e in taken
            )
    suites = ET.Element("testsuites", name=TOOL)
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def render(result: VerifyResult, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(to_json(result), indent=2) + "\n"
    if fmt == "sarif":
        return json.dumps(to_sarif(result), indent=2) + "\n"
    if fmt == "junit":
        return to_junit(result)
    return to_text(result)
