"""The rule registry (policies/rules/_registry.py): the decorator registers each rule with its metadata,
the pack's order follows SERVICES and each module's definition order, and no rule module is left out."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import mlops_platform.policies.rules as rules_pkg
from mlops_platform.policies.rules import RULES, SERVICES, kms, rules_in
from mlops_platform.policies.rules._meta import RELAXED_DEV, STRICT, Meta, Prop
from mlops_platform.policies.rules._registry import (
    ResourceRule,
    StackRule,
    register,
    resource_rule,
    stack_rule,
)

RULES_DIR = Path(rules_pkg.__file__).parent
TESTS_DIR = Path(__file__).parent


def test_every_rule_module_is_a_service_of_the_pack() -> None:
    modules = {p.stem for p in RULES_DIR.glob("*.py") if not p.stem.startswith("_") and p.stem != "catalogue"}
    assert {m.__name__.rsplit(".", 1)[1] for m in SERVICES} == modules
    assert len(SERVICES) == len(set(SERVICES))


def test_every_service_has_its_test_module() -> None:
    for module in SERVICES:
        service = module.__name__.rsplit(".", 1)[1]
        assert (TESTS_DIR / f"test_{service}.py").is_file(), service


def test_rules_follow_the_services_then_their_definition_order() -> None:
    assert [rule for module in SERVICES for rule in rules_in(module)] == RULES
    assert [r.module for r in RULES] == sorted(
        (r.module for r in RULES), key=[m.__name__ for m in SERVICES].index
    )
    # Within a module, the order the checks are defined in (the source order of the decorators).
    source = Path(kms.__file__).read_text(encoding="utf-8")
    positions = [source.index(f'"{r.name}"') for r in rules_in(kms)]
    assert positions == sorted(positions) and len(positions) == 4


def test_every_rule_carries_its_metadata() -> None:
    for rule in RULES:
        assert isinstance(rule.meta, Meta), rule.name
        assert rule.meta.description and rule.meta.remediation, rule.name
        assert rule.module.startswith("mlops_platform.policies.rules."), rule.name
        assert rule.check.__module__ == rule.module, rule.name


def _declare(name: str, module: str) -> ResourceRule:
    def check(res: object, ctx: object) -> list[str]:
        return []

    check.__module__ = module
    return resource_rule(
        name,
        "aws:test/thing:Thing",
        description="A test rule.",
        severity="low",
        remediation="None needed.",
        enforcement=RELAXED_DEV,
        props={"limit": Prop({"type": "integer"}, 3)},
    )(check)  # type: ignore[arg-type]


def test_the_decorator_registers_the_rule_with_its_metadata() -> None:
    module = "tests.registry_probe"
    rule = _declare("probe-rule", module)
    assert rules_in(module) == [rule]
    assert rule.applies("aws:test/thing:Thing") and not rule.applies("aws:test/other:Other")
    assert rule.meta.level("dev") == "advisory" and rule.meta.level("prod") == "mandatory"
    assert rule.meta.props["limit"].for_env("staging") == 3
    assert rule not in RULES  # the pack takes only the modules of SERVICES

    @stack_rule("probe-stack-rule", description="A stack rule.", severity="low", remediation="None.")
    def stack_check(stack: object, ctx: object) -> list[tuple[str, str]]:
        return []

    assert isinstance(stack_check, StackRule) and stack_check.meta.enforcement == STRICT
    assert stack_check.module == __name__


def test_a_name_declared_by_two_modules_is_refused() -> None:
    _declare("probe-duplicate", "tests.registry_probe_a")
    with pytest.raises(ValueError, match="declared twice"):
        _declare("probe-duplicate", "tests.registry_probe_b")


def test_reloading_a_rule_module_replaces_its_rules_in_place() -> None:
    before = [r.name for r in rules_in(*SERVICES)]
    old = rules_in(kms)
    importlib.reload(kms)
    try:
        assert [r.name for r in rules_in(*SERVICES)] == before
        assert all(new is not was for new, was in zip(rules_in(kms), old, strict=True))
    finally:
        for rule in old:  # leave the registry as the package built it
            register(rule)
