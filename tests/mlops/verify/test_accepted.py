"""The accepted-findings list: every entry has a reason, and every entry still matches a finding.

The unused-entry test renders dev, staging and prod and runs the layers of this branch (iam, policy);
after the merge it runs every layer of ``mlops verify``.
"""

from __future__ import annotations

import re

import pytest

from mlops.verify import accepted, chart_policies, iam
from mlops.verify.model import Finding, VerifyContext

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


def test_no_entry_matches_nothing(stacks, releases_of):
    """An accepted finding that no shipped stack produces any more is an error: remove the entry."""
    findings: list[Finding] = []
    for env in STACKS:
        ctx = VerifyContext(graph=stacks[env], stack=env, kube_version="1.34", releases=releases_of(env))
        findings += iam.check(ctx)
        findings += chart_policies.check(ctx)
    layers_run = {"iam", "policy"}
    entries = [e for e in accepted.ACCEPTED if e.layer in layers_run]
    unused = accepted.unused(findings, entries)
    assert unused == [], "\n".join(f"{e.layer} {e.check} {e.match!r}" for e in unused)
