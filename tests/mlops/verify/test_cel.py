"""The CEL rules of CRDs in the Kubernetes dialect: the library functions we provide, what is not evaluated
and why, and the count over the pinned karpenter-crd 1.14.1 CRDs (docs/verify.md)."""

from __future__ import annotations

import collections
from typing import Any

import pytest
import yaml
from verify_kit import shared_charts

from mlops_platform.mlops.verify import cel


def _eval(rule: str, value: Any = None) -> cel.Outcome:
    return cel.evaluate(rule, value)


@pytest.mark.parametrize(
    ("rule", "value", "holds"),
    [
        # Kubernetes regex library: find is the leftmost RE2 match, or ''
        ("self.find('^[^/]+') == 'karpenter.sh'", "karpenter.sh/nodepool", True),
        ("self.find('^([^/]+)').endsWith('karpenter.sh')", "kubernetes.io/arch", False),
        ("self.find('[0-9]+') == ''", "abc", True),
        ("self.findAll('[0-9]') == ['1', '2', '3']", "a1b2c3", True),
        ("self.findAll('[0-9]', 2) == ['1', '2']", "a1b2c3", True),
        # strings extension
        ("self.split('@') == ['al2023', 'v20260930']", "al2023@v20260930", True),
        ("self.split('@')[0] == 'al2023'", "al2023", True),
        ("self.split('@', 2) == ['a', 'b@c']", "a@b@c", True),
        ("self.split('', -1) == ['a', 'b']", "ab", True),
        ("self.split('@', 0) == []", "a@b", True),
        ("self.lowerAscii() == 'abc-É'", "ABC-É", True),
        ("self.upperAscii() == 'ABC-é'", "abc-é", True),
        ("self.charAt(1) == 'b' && self.charAt(3) == ''", "abc", True),
        ("self.indexOf('b') == 1 && self.lastIndexOf('b') == 3 && self.indexOf('z') == -1", "abab", True),
        ("self.indexOf('a', 1) == 2 && self.lastIndexOf('a', 1) == 0", "abab", True),
        ("self.substring(1) == 'bc' && self.substring(0, 2) == 'ab'", "abc", True),
        ("self.replace('a', 'x') == 'xbxb' && self.replace('a', 'x', 1) == 'xbab'", "abab", True),
        ("self.replace('', '-') == '-a-b-'", "ab", True),
        ("['a', 'b'].join('/') == 'a/b' && ['a', 'b'].join() == 'ab'", None, True),
        # Kubernetes lists library
        ("self.isSorted()", [1, 2, 2, 3], True),
        ("self.isSorted()", ["b", "a"], False),
        ("self.indexOf(2) == 1 && self.lastIndexOf(2) == 2", [1, 2, 2], True),
        # the standard functions and macros cel-python has
        ("self.all(k, k != '')", {"a": "1"}, True),
        ("self.all(k, k != '' && self[k] != '')", {"a": ""}, False),
        ("'nodes' in self && size(self) == 1", {"nodes": "10"}, True),
        ("self.exists_one(x, x.startsWith('a'))", ["ab", "ba", "ac"], False),
        ("self.matches('^[a-zA-Z0-9]+@.+$')", "al2023@latest", True),
        ("has(self.a) && !has(self.b)", {"a": 1}, True),
        ("int('42') == 42 && int('-3') == -3 && int('+3') == 3", None, True),
    ],
)
def test_kubernetes_library_functions(rule, value, holds):
    assert cel.unsupported(rule) is None
    outcome = _eval(rule, value)
    assert (outcome.holds, outcome.error) == (holds, "")


@pytest.mark.parametrize(
    ("rule", "value", "error"),
    [
        # int() parses as cel-go does (Go's strconv.ParseInt), not as Python's int()
        ("int(self) >= 0", " 5", "cannot convert ' 5' to int"),
        ("int(self) >= 0", "1_000", "cannot convert '1_000' to int"),
        ("int(self) >= 0", "0x10", "cannot convert '0x10' to int"),
        ("int(self) >= 0", "9223372036854775808", "int overflow"),
        ("self.missing == 1", {}, "no such member"),
        ("self.split('@')[1] == 'latest'", "windows2022", "list index out of range"),
        ("self.charAt(4) == ''", "abc", "index out of range"),
        ("self.substring(2, 1) == ''", "abc", "substring out of range"),
    ],
)
def test_evaluation_errors_are_failures_with_the_error(rule, value, error):
    """The API server rejects an object whose rule errors; the error is said."""
    outcome = _eval(rule, value)
    assert outcome.holds is False
    assert error in outcome.error


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("self == oldSelf", "transition rule (oldSelf)"),
        ("has(self.replicas) == has(oldSelf.replicas)", "transition rule (oldSelf)"),
        ("quantity(self).isGreaterThan(quantity('0'))", "calls isGreaterThan(), quantity()"),
        ("url(self).getScheme() == 'https'", "calls getScheme(), url()"),
        ("isCIDR(self) && cidr(self).prefixLength() <= 24", "calls cidr(), isCIDR(), prefixLength()"),
        ("self.trim() != ''", "calls trim()"),
        ("self.?a.orValue(1) == 1", "cel-python cannot parse it"),
    ],
)
def test_what_is_not_evaluated_and_why(rule, reason):
    assert reason in (cel.unsupported(rule) or "")
    assert _eval(rule, {"a": 1}).holds is None


def test_an_identifier_named_like_old_self_in_a_string_is_not_a_transition_rule():
    assert cel.unsupported("self != 'oldSelf'") is None
    assert _eval("self != 'oldSelf'", "x").holds is True


def _karpenter_crds() -> list[dict[str, Any]]:
    folder = shared_charts() / "karpenter-1.14.1" / "crds"
    docs = [d for f in sorted(folder.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]
    assert len(docs) == 5
    return docs


def test_karpenter_crd_rule_counts_are_the_documented_ones():
    """docs/verify.md: karpenter-crd 1.14.1 carries 94 CEL rules (5 CRDs); 90 are evaluated, the 4
    transition rules are not. A cel-python upgrade (or a new provided function) that changes this shows
    up here: update the table in docs/verify.md with it."""
    rules = [
        r for crd in _karpenter_crds() for v in crd["spec"]["versions"] for r in cel.rules_of(crd, v["name"])
    ]
    coverage = cel.Coverage(rules)
    per_crd = collections.Counter(r.crd for r in rules)
    assert dict(per_crd) == {
        "capacitybuffers.autoscaling.x-k8s.io": 2,
        "ec2nodeclasses.karpenter.k8s.aws": 54,
        "nodeclaims.karpenter.sh": 10,
        "nodeoverlays.karpenter.sh": 8,
        "nodepools.karpenter.sh": 20,
    }
    assert (len(coverage.rules), len(coverage.evaluated), len(coverage.not_evaluated)) == (94, 90, 4)
    assert [(r.crd, r.path, r.rule) for r in coverage.not_evaluated] == [
        ("nodeclaims.karpenter.sh", "spec", "self == oldSelf"),
        ("nodepools.karpenter.sh", "spec", "has(self.replicas) == has(oldSelf.replicas)"),
        ("nodepools.karpenter.sh", "spec.template.spec.nodeClassRef", "self.group == oldSelf.group"),
        ("nodepools.karpenter.sh", "spec.template.spec.nodeClassRef", "self.kind == oldSelf.kind"),
    ]
    assert {r.reason for r in coverage.not_evaluated} == {cel.TRANSITION}
    # without the functions we provide, cel-python alone could not evaluate the rules calling find()/split()
    calling = [r for r in coverage.evaluated if ".find(" in r.rule or ".split(" in r.rule]
    assert len(calling) == 16
    # the rule paths name the schema nodes: [*] a list item, .* a map value
    assert {r.path for r in rules if r.crd == "ec2nodeclasses.karpenter.k8s.aws"} >= {
        "spec.amiSelectorTerms[*].alias",
        "spec.blockDeviceMappings[*].ebs",
        "spec.tags",
    }


def test_the_report_lines():
    coverage = cel.Coverage(
        [
            cel.Rule("widgets.example.com", "v1", "spec", "self.mode == oldSelf.mode", ""),
            cel.Rule("widgets.example.com", "v1", "spec.size", "quantity(self).isInteger()" + " " * 80, ""),
            cel.Rule("widgets.example.com", "v1", "spec", "self.count <= 10", ""),
        ]
    )
    lines = coverage.lines()
    assert lines[0] == "CEL rules of the CRDs in use: 3; evaluated with cel-python: 1; not evaluated: 2"
    assert lines[1].startswith("  widgets.example.com v1 spec: 'self.mode == oldSelf.mode': transition rule")
    assert "'quantity(self).isInteger()" in lines[2] and "...': calls isInteger(), quantity()" in lines[2]
    assert coverage.to_json()["notEvaluated"][1] == {
        "crd": "widgets.example.com",
        "version": "v1",
        "path": "spec.size",
        "rule": "quantity(self).isInteger()" + " " * 80,
        "reason": "calls isInteger(), quantity(): a Kubernetes CEL library function cel-python lacks",
    }
