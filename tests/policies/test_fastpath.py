"""The fast servicer gives exactly the SDK servicer's diagnostics."""

from __future__ import annotations

import os

from policybaseline import baseline
from policytest import POLICY_PACK, Checker, mutated, select, set_input

from mlops.analyzer import start_pack


def _diagnostics(checker: Checker) -> list[tuple[str, str, str, str]]:
    graph = baseline("prod")
    graph, _ = mutated(graph, select("aws:rds/instance:Instance"), set_input("publiclyAccessible", True))
    graph, _ = mutated(graph, select("aws:ec2/flowLog:FlowLog"), remove=True)
    graph, _ = mutated(
        graph, select("kubernetes:apps/v1:Deployment"), set_input("metadata.namespace", "default")
    )
    out = []
    for env in ("dev", "prod"):
        result = checker.run(graph, env)
        out += [(v.policy, v.enforcement, v.urn, v.message) for v in result.violations]
    return sorted(out)


def test_fast_servicer_matches_the_sdk(checker: Checker) -> None:
    fast = _diagnostics(checker)
    os.environ["MLOPS_POLICY_FASTPATH"] = "0"
    try:
        with start_pack(POLICY_PACK) as stub:
            slow = _diagnostics(Checker(stub))
    finally:
        del os.environ["MLOPS_POLICY_FASTPATH"]
    assert fast == slow
    assert {p for p, *_ in fast} >= {"rds-not-public", "net-vpc-flow-logs", "k8s-no-default-namespace"}
