"""The fast servicer gives exactly the SDK servicer's diagnostics, and only ``policies/__main__.py`` installs it."""

from __future__ import annotations

import os
import subprocess
import sys

from policybaseline import baseline
from policytest import NO_POLICY_CONFIG, POLICY_PACK, Checker, mutated, select, set_input, stack_environment

from mlops_platform.mlops import REPO_ROOT
from mlops_platform.mlops.analyzer import start_pack


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
    # Dev-tagged resources in a prod stack, without a policy config: the stack's environment from ConfigureStack.
    dev, _ = mutated(
        baseline("dev"), select("aws:cloudwatch/logGroup:LogGroup"), set_input("retentionInDays", 30)
    )
    result = checker.run(dev, config=NO_POLICY_CONFIG, stack_config=stack_environment("prod"))
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
    assert any("required in prod" in m for p, _, _, m in fast if p == "logs-retention")


_PROBE = """
import importlib, sys
from pulumi_policy import policy as sdk
sdk_servicer = sdk._PolicyAnalyzerServicer
for name in sys.argv[1:]:
    importlib.import_module(name)
print(sdk._PolicyAnalyzerServicer is sdk_servicer, sdk_servicer.__module__)
"""


def _probe(*modules: str, env: dict[str, str] | None = None) -> str:
    """Import ``modules`` in a fresh interpreter; report whether pulumi-policy's servicer is still the SDK's."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *modules],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_importing_the_rules_and_the_pack_patches_nothing() -> None:
    assert _probe("mlops_platform.policies.rules") == "True pulumi_policy.policy"
    assert (
        _probe(
            "mlops_platform.policies.rules.catalogue",
            "mlops_platform.policies.pack",
            "mlops_platform.policies.servicer",
            "mlops_platform.policies.fastpath",
        )
        == "True pulumi_policy.policy"
    )


def test_install_swaps_in_the_fast_servicer_unless_opted_out() -> None:
    from pulumi_policy import policy as sdk

    from mlops_platform.policies import fastpath, servicer

    sdk_servicer = sdk._PolicyAnalyzerServicer
    try:
        # Opted out: the SDK's code path, with the pack's config checks and stack config on top.
        os.environ["MLOPS_POLICY_FASTPATH"] = "0"
        fastpath.install()
        assert sdk._PolicyAnalyzerServicer is servicer.PackServicer
        assert servicer.PackServicer.__bases__ == (sdk_servicer,)
        assert issubclass(fastpath.FastAnalyzerServicer, servicer.PackServicer)
        del os.environ["MLOPS_POLICY_FASTPATH"]
        fastpath.install()
        assert sdk._PolicyAnalyzerServicer is fastpath.FastAnalyzerServicer
    finally:
        os.environ.pop("MLOPS_POLICY_FASTPATH", None)
        sdk._PolicyAnalyzerServicer = sdk_servicer


_MAIN_PROBE = """
import runpy, sys
import pulumi_policy
from pulumi_policy import policy as sdk
built = []
pulumi_policy.PolicyPack = lambda name, policies, **kw: built.append((name, len(policies)))
runpy.run_path(sys.argv[1], run_name="__main__")
print(sdk._PolicyAnalyzerServicer.__module__, built)
"""


def test_main_installs_the_fast_servicer_before_it_builds_the_pack() -> None:
    """``policies/__main__.py`` as the CLI runs it (PolicyPack replaced so that no server starts)."""
    from mlops_platform.policies.rules import RULES

    result = subprocess.run(
        [sys.executable, "-c", _MAIN_PROBE, str(REPO_ROOT / "policies" / "__main__.py")],
        cwd=REPO_ROOT / "policies",
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == f"mlops_platform.policies.fastpath [('mlops-governance', {len(RULES)})]"
