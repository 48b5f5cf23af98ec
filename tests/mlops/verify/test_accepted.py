"""The accepted-findings list: every entry has a reason, and every entry still matches a finding.

The unused-entry test runs the whole of ``mlops verify`` (every layer, helm included) on dev, staging and
prod.
"""

from __future__ import annotations

import re

import pytest

from mlops.verify import accepted
from mlops.verify.model import Finding

LAYERS = {"helm", "values", "schema", "crd", "semantics", "iam", "policy"}
STACKS = ("dev", "staging", "prod")


@pytest.mark.parametrize("entry", accepted.ACCEPTED, ids=lambda e: f"{e.layer}:{e.check}")
def test_every_entry_is_well_formed(entry):
    assert entry.layer in LAYERS
    assert entry.check
    re.compile(entry.match)
    assert len(entry.reason) > 40, "an accepted finding carries its reason"


def test_no_entry_is_listed_twice():
    keys = [(e.layer, e.check, e.match) for e in accepted.ACCEPTED]
    assert len(keys) == len(set(keys))


def _finding(layer: str, check: str, name: str, message: str) -> Finding:
    return Finding(layer=layer, check=check, message=message, name=name)


def test_apply_and_unused():
    entry = accepted.Accepted(
        "iam", "UNKNOWN_ACTION", r"^role-a policy ", "the reason, long enough for the test"
    )
    miss = _finding("iam", "UNKNOWN_ACTION", "role-b", "x")
    other_check = _finding("iam", "RESOURCE_STAR", "role-a", "x")
    hit = Finding(layer="iam", check="UNKNOWN_ACTION", message="x", name="role-a", object="policy")
    kept, taken = accepted.apply([hit, miss, other_check], [entry])
    assert kept == [miss, other_check] and taken == [(hit, entry)]
    assert accepted.unused([miss, other_check], [entry]) == [entry]
    assert accepted.unused([hit], [entry]) == []


def test_no_entry_matches_nothing(verified):
    """An accepted finding that no shipped stack produces any more is an error: remove the entry. Every
    layer runs (the runner, helm included, with the cluster's own Kubernetes version) on dev, staging and
    prod; what the list does not accept would fail `mlops verify`."""
    results = [verified(env) for env in STACKS]
    assert all(set(r.layers) == LAYERS and not r.accepted for r in results)
    findings = [f for r in results for f in r.findings]
    unused = accepted.unused(findings)
    assert unused == [], "\n".join(f"{e.layer} {e.check} {e.match!r}" for e in unused)
    kept, _ = accepted.apply(findings)
    assert kept == [], [f"{f.layer}/{f.check} {f.name}: {f.message}" for f in kept]
