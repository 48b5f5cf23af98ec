"""The rule cases of tests/policies/rules/: selectors of the baseline's resources, mutations, and the check
every case runs through the real analyzer protocol.

A case is ``(rule, selector, mutation, options)``: the rule must be quiet on the baseline (the compliant
case) and report the selected resource once the mutation is applied (the violating case). Options:
``remove=True`` drops the selected resources; ``remove_also`` drops more resources first (the rule may
already fire before); ``protect``; ``public_subnets`` points the selected node group at a public subnet.

    CASES: list[Case] = [("kms-key-rotation", KEY, set_input("enableKeyRotation", False), {})]

    def test_every_rule_has_a_case() -> None:
        assert case_rules(CASES) == rule_names(kms)
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

from policybaseline import baseline, doc
from policytest import Checker, Mutation, Selector, assert_mutation_caught, select, set_input

from mlops_platform.policies.rules import rules_in
from mlops_platform.policies.rules.catalogue import CATALOGUE

Case = tuple[str, Selector, Mutation | None, dict[str, Any]]
CASE_FIELDS = ("rule", "selector", "mutation", "options")
"""The parameter names of a case (``pytest.mark.parametrize(CASE_FIELDS, CASES, ids=case_ids(CASES))``)."""

PROVIDER = select("pulumi:providers:aws")
BUCKET = select("aws:s3/bucket:Bucket", "artifacts")
DB = select("aws:rds/instance:Instance")
CLUSTER = select("aws:eks/cluster:Cluster")
LT = select("aws:ec2/launchTemplate:LaunchTemplate")
SYSTEM_NODES = select("aws:eks/nodeGroup:NodeGroup", "system")
GPU_NODES = select("aws:eks/nodeGroup:NodeGroup", "gpu")
REPO = select("aws:ecr/repository:Repository")
KEY = select("aws:kms/key:Key")
LOG_GROUP = select("aws:cloudwatch/logGroup:LogGroup")
TOPIC = select("aws:sns/topic:Topic")
DEPLOYMENT = select("kubernetes:apps/v1:Deployment")
CRONJOB = select("kubernetes:batch/v1:CronJob")
HELM = select("kubernetes:helm.sh/v3:Release")
IRSA = select("aws:iam/role:Role", "mlflow-irsa")
METRICS = select("aws:iam/policy:Policy")
CODEBUILD = select("aws:codebuild/project:Project", "deploy-project")
DEPLOY_ROLE = select("aws:iam/role:Role", "deploy-role")
C0 = "spec.template.spec.containers.0"
"""The first container of a workload's pod template."""


def tags(**override: str) -> Mutation:
    """The provider's default tags with ``override`` applied (an empty value drops the tag)."""
    base = {
        "environment": "prod",
        "owner": "ml-platform",
        "cost-center": "cc-1",
        "data-classification": "internal",
        "managed-by": "pulumi",
    }
    base.update(override)
    return set_input("defaultTags", json.dumps({"tags": {k: v for k, v in base.items() if v}}))


def statement_policy(*statements: dict[str, Any]) -> Mutation:
    return set_input("policy", doc(*statements))


def case_ids(cases: list[Case]) -> list[str]:
    return [c[0] for c in cases]


def case_rules(cases: list[Case]) -> list[str]:
    return sorted(c[0] for c in cases)


def rule_names(module: ModuleType) -> list[str]:
    """The names of the rules a rule module declares, sorted."""
    return sorted(r.name for r in rules_in(module))


def assert_case_caught(
    checker: Checker, rule: str, selector: Selector, mutation: Mutation | None, options: dict[str, Any]
) -> None:
    """Quiet on the prod baseline, then a mandatory violation of ``rule`` once the case's mutation is applied."""
    graph = baseline("prod")
    deps = None
    if options.get("public_subnets"):
        # Point the node group at the public subnet.
        public = next(r for r in graph.resources if r.name == "public-0")
        mutation = set_input("subnetIds", ["public-0-id"])
        deps = {"subnetIds": [public.urn]}
    if "remove_also" in options:
        graph.resources = [r for r in graph.resources if not options["remove_also"](r)]
    result = assert_mutation_caught(
        checker,
        graph,
        selector,
        mutation,
        rule,
        env="prod",
        remove=options.get("remove", False) or "remove_also" in options,
        protect=options.get("protect"),
        property_dependencies=deps,
        expect_quiet_before="remove_also" not in options,
    )
    assert CATALOGUE[rule].level("prod") == "mandatory"
    assert all(v.enforcement == "mandatory" for v in result.by_policy(rule))
