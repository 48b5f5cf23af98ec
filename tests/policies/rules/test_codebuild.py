"""CodeBuild (the deploy runner) and deploy-role rules (policies/rules/codebuild.py): each rule quiet on the
baseline and caught once its setting is broken, through the real analyzer protocol; then the runner's
hardening, both directions, on the rendered prod stack: the shipped stack is clean (compliant case) and
flipping each setting DeployRunner applies is caught by its rule (violating case)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from policybaseline import doc
from policycases import (
    CASE_FIELDS,
    CODEBUILD,
    DEPLOY_ROLE,
    Case,
    assert_case_caught,
    case_ids,
    case_rules,
    rule_names,
)
from policytest import Checker, Mutation, Selector, assert_mutation_caught, drop_input, select_like, set_input

from mlops_platform.mlops.graph import Graph
from mlops_platform.policies.rules import codebuild

CASES: list[Case] = [
    ("codebuild-in-vpc", CODEBUILD, drop_input("vpcConfig"), {}),
    ("codebuild-no-privileged-mode", CODEBUILD, set_input("environment.privilegedMode", True), {}),
    ("codebuild-kms-encryption", CODEBUILD, drop_input("encryptionKey"), {}),
    ("codebuild-logs-kms", CODEBUILD, set_input("logsConfig.cloudwatchLogs.groupName", "/other"), {}),
    ("codebuild-timeout", CODEBUILD, set_input("buildTimeout", 2000), {}),
    (
        "codebuild-no-plaintext-secrets",
        CODEBUILD,
        set_input("environment.environmentVariables", [{"name": "DB_PASSWORD", "value": "x"}]),
        {},
    ),
    ("codebuild-pinned-image", CODEBUILD, set_input("environment.image", "alpine:latest"), {}),
    (
        "iam-deploy-role-trust",
        DEPLOY_ROLE,
        set_input(
            "assumeRolePolicy",
            doc({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}),
        ),
        {},
    ),
]


def test_every_rule_has_a_case() -> None:
    assert case_rules(CASES) == rule_names(codebuild)


@pytest.mark.parametrize(CASE_FIELDS, CASES, ids=case_ids(CASES))
def test_rule_catches_its_violation(
    checker: Checker, rule: str, selector: Selector, mutation: Mutation | None, options: dict[str, Any]
) -> None:
    assert_case_caught(checker, rule, selector, mutation, options)


PROJECT = "aws:codebuild/project:Project"
ROLE = "aws:iam/role:Role"


def add_env_var(name: str, kind: str = "PLAINTEXT") -> Mutation:
    def mutate(inputs: dict[str, Any]) -> None:
        inputs["environment"]["environmentVariables"].append({"name": name, "value": "x", "type": kind})

    return mutate


def trust(**change: Any) -> Mutation:
    def mutate(inputs: dict[str, Any]) -> None:
        doc = json.loads(inputs["assumeRolePolicy"])
        stmt = doc["Statement"][0]
        if "principal" in change:
            stmt["Principal"] = change["principal"]
        if change.get("drop_source_arn"):
            stmt["Condition"].pop("ArnEquals")
        inputs["assumeRolePolicy"] = json.dumps(doc)

    return mutate


RUNNER_CASES: list[tuple[str, str, tuple[str, ...], Mutation | None, str]] = [
    ("vpc", PROJECT, ("deploy-project",), drop_input("vpcConfig"), "codebuild-in-vpc"),
    ("vpc subnets", PROJECT, ("deploy-project",), set_input("vpcConfig.subnets", []), "codebuild-in-vpc"),
    (
        "privileged",
        PROJECT,
        ("deploy-project",),
        set_input("environment.privilegedMode", True),
        "codebuild-no-privileged-mode",
    ),
    ("kms", PROJECT, ("deploy-project",), drop_input("encryptionKey"), "codebuild-kms-encryption"),
    (
        "aws-managed key",
        PROJECT,
        ("deploy-project",),
        set_input("encryptionKey", "arn:aws:kms:eu-west-1:123456789012:alias/aws/s3"),
        "codebuild-kms-encryption",
    ),
    (
        "s3 logs unencrypted",
        PROJECT,
        ("deploy-project",),
        set_input("logsConfig.s3Logs", {"status": "ENABLED", "location": "b/p", "encryptionDisabled": True}),
        "codebuild-kms-encryption",
    ),
    ("no log group", PROJECT, ("deploy-project",), drop_input("logsConfig"), "codebuild-logs-kms"),
    (
        "logs disabled",
        PROJECT,
        ("deploy-project",),
        set_input("logsConfig.cloudwatchLogs.status", "DISABLED"),
        "codebuild-logs-kms",
    ),
    ("timeout unset", PROJECT, ("deploy-project",), drop_input("buildTimeout"), "codebuild-timeout"),
    ("timeout long", PROJECT, ("deploy-project",), set_input("buildTimeout", 480), "codebuild-timeout"),
    (
        "plaintext secret",
        PROJECT,
        ("deploy-project",),
        add_env_var("PULUMI_ACCESS_TOKEN"),
        "codebuild-no-plaintext-secrets",
    ),
    (
        "latest image",
        PROJECT,
        ("deploy-project",),
        set_input("environment.image", "aws/codebuild/amazonlinux-x86_64-standard:latest"),
        "codebuild-pinned-image",
    ),
    (
        "untagged image",
        PROJECT,
        ("deploy-project",),
        set_input("environment.image", "public.ecr.aws/pulumi/pulumi"),
        "codebuild-pinned-image",
    ),
    (
        "trusted by an account",
        ROLE,
        ("deploy-role",),
        trust(principal={"AWS": "arn:aws:iam::123456789012:root"}),
        "iam-deploy-role-trust",
    ),
    ("any project", ROLE, ("deploy-role",), trust(drop_source_arn=True), "iam-deploy-role-trust"),
    # Off the deploy path, the runner's broad grants are what the wildcard rule exists to catch.
    (
        "not on the deploy path",
        ROLE,
        ("deploy-role",),
        set_input("path", "/"),
        "iam-no-wildcard-resource-write",
    ),
]


@pytest.mark.parametrize(
    ("setting", "type_", "fragments", "mutation", "rule"), RUNNER_CASES, ids=[c[0] for c in RUNNER_CASES]
)
def test_runner_setting_removed_is_caught(
    checker: Checker,
    stacks: dict[str, Graph],
    setting: str,
    type_: str,
    fragments: tuple[str, ...],
    mutation: Mutation | None,
    rule: str,
) -> None:
    assert_mutation_caught(checker, stacks["prod"], select_like(type_, *fragments), mutation, rule)


def test_shipped_runner_is_clean(checker: Checker, stacks: dict[str, Graph]) -> None:
    result = checker.run(stacks["prod"], "prod")
    runner = {r.urn for r in stacks["prod"].resources if "deploy" in r.name}
    assert runner
    assert not [v for v in result.violations if v.urn in runner]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_phase_one_alone_passes_the_policy_pack(checker: Checker, stacks: dict[str, Graph], env: str) -> None:
    """Phase 1 runs the pack over the AWS layer only (skipped creates are not in its snapshot): no stack
    rule may need a cluster-layer resource, or phase 1 fails before phase 2 could create it."""
    from mlops_platform.mlops.layers import restrict

    result = checker.run(restrict(stacks[env], "aws"), env)
    assert not result.mandatory, [(v.policy, v.name, v.message) for v in result.mandatory]
    if env == "prod":
        assert not result.violations, [(v.policy, v.name, v.message) for v in result.violations]
