"""The shipped stacks through the pack, and mutation tests: each hardening setting the components apply,
flipped in a copy of the rendered stack, is caught by its rule."""

from __future__ import annotations

import pytest
from policytest import Checker, assert_mutation_caught, select, set_input

from mlops_platform.mlops.graph import Graph


@pytest.mark.parametrize("env", ["dev", "staging"])
def test_shipped_stack_has_no_mandatory_violation(
    checker: Checker, stacks: dict[str, Graph], env: str
) -> None:
    result = checker.run(stacks[env], env)
    assert result.mandatory == [], [(v.policy, v.name, v.message) for v in result.mandatory]
    assert result.undetermined == []


def test_prod_stack_has_no_violation_at_all(checker: Checker, stacks: dict[str, Graph]) -> None:
    result = checker.run(stacks["prod"], "prod")
    assert result.violations == [], [(v.policy, v.name, v.message) for v in result.violations]
    assert result.undetermined == []


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_shipped_stack_is_clean_without_a_policy_config(
    checker: Checker, stacks: dict[str, Graph], env: str
) -> None:
    # A bare `pulumi preview --policy-pack policies`: the stack file's config and tags reach the pack in
    # ConfigureStack, and every property takes the catalogue's value for the stack's environment.
    from policytest import NO_POLICY_CONFIG

    from mlops_platform.mlops import REPO_ROOT
    from mlops_platform.mlops.analyzer import analyze_with, engine_stack_tags
    from mlops_platform.mlops.stackconfig import load_stack

    stack_file = load_stack(REPO_ROOT, env)
    result = analyze_with(
        checker.stub,
        stacks[env],
        config=NO_POLICY_CONFIG,
        stack_config=dict(stack_file.values),
        secret_keys=list(stack_file.secret_keys),
        stack_tags=engine_stack_tags(stack_file),
    )
    assert result.violations == [], [(v.policy, v.name, v.message) for v in result.violations]
    assert result.undetermined == []


def test_every_aws_resource_of_the_stack_is_tagged_through_the_provider(
    checker: Checker, stacks: dict[str, Graph]
) -> None:
    result = checker.run(stacks["prod"], "prod")
    assert result.by_policy("aws-governance-tags") == []
    assert result.by_policy("aws-data-classification") == []


# Each entry: a hardening setting of a shipped component, the selector of the resources carrying it, the
# flip, and the rule that must catch it. Extend this list as components land.
MUTATIONS = [
    (
        "private subnets never map public IPs",
        select("aws:ec2/subnet:Subnet", "mlops-prod-private-0"),
        set_input("mapPublicIpOnLaunch", True),
        "net-private-subnet-no-public-ip",
    ),
    (
        "database subnets never map public IPs",
        select("aws:ec2/subnet:Subnet", "mlops-prod-database-0"),
        set_input("mapPublicIpOnLaunch", True),
        "net-private-subnet-no-public-ip",
    ),
    (
        "governance tags through the provider",
        select("pulumi:providers:aws"),
        set_input("defaultTags", '{"tags": {"environment": "prod"}}'),
        "aws-governance-tags",
    ),
    (
        "data classification from the allowed set",
        select("pulumi:providers:aws"),
        set_input(
            "defaultTags",
            '{"tags": {"environment": "prod", "owner": "o", "cost-center": "c", '
            '"data-classification": "top-secret", "managed-by": "pulumi"}}',
        ),
        "aws-data-classification",
    ),
]


@pytest.mark.parametrize(
    ("setting", "selector", "mutation", "rule"), MUTATIONS, ids=[m[0] for m in MUTATIONS]
)
def test_flipped_hardening_setting_is_caught(
    checker: Checker, stacks: dict[str, Graph], setting: str, selector, mutation, rule: str
) -> None:
    assert_mutation_caught(checker, stacks["prod"], selector, mutation, rule, env="prod")
