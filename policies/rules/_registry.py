"""The rule registry: each check declares its rule, metadata included, with a decorator.

    @resource_rule(
        "kms-key-rotation",
        KEY,
        description="Symmetric KMS keys rotate automatically.",
        severity="medium",
        remediation="Set enable_key_rotation=True.",
        framework=cis_aws("3.6"),
    )
    def rotation(res: Res, ctx: Ctx) -> Iterator[str]: ...

Importing a rule module registers its rules, in the order they are defined; :data:`mlops_platform.policies.rules.RULES`
takes them module by module in the order of :data:`mlops_platform.policies.rules.SERVICES`, so the pack's policy order
never depends on which module happened to be imported first. Registering only records: nothing here
touches pulumi-policy (the pack is built by :mod:`mlops_platform.policies.pack`).

A resource check is ``check(res: Res, ctx: Ctx) -> Iterable[str]`` (one message per violation);
a stack check is ``check(stack: Stack, ctx: Ctx) -> Iterable[tuple[str, str]]`` (message, URN).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from mlops_platform.policies.rules._common import Ctx, Res, Stack
from mlops_platform.policies.rules._meta import STRICT, Meta, Prop

ResourceCheck = Callable[[Res, Ctx], Iterable[str]]
StackCheck = Callable[[Stack, Ctx], Iterable[tuple[str, str]]]


@dataclass(frozen=True)
class ResourceRule:
    name: str
    types: frozenset[str]
    check: ResourceCheck
    meta: Meta
    prefix: str | None = None
    """When set, the rule applies to every type starting with it (e.g. ``aws:``), ``types`` excepted."""
    module: str = ""
    """The module that declared the rule (``mlops_platform.policies.rules.kms``)."""

    def applies(self, type_: str) -> bool:
        if type_ in self.types:
            return True
        return self.prefix is not None and type_.startswith(self.prefix)


@dataclass(frozen=True)
class StackRule:
    name: str
    check: StackCheck
    meta: Meta
    module: str = ""


Rule = ResourceRule | StackRule

_REGISTRY: dict[str, Rule] = {}
"""Every declared rule by name, in declaration order."""


def register(rule: Rule) -> Rule:
    """Record a rule. Declaring a name twice is an error, unless the same module declares it again
    (``importlib.reload``): then the new declaration replaces the old one in its place."""
    known = _REGISTRY.get(rule.name)
    if known is not None and known.module != rule.module:
        raise ValueError(f"rule {rule.name!r} is declared twice: in {known.module} and in {rule.module}")
    _REGISTRY[rule.name] = rule
    return rule


def rules_in(*modules: ModuleType | str) -> list[Rule]:
    """The registered rules of ``modules``, module by module in the given order, each in definition order."""
    names = [m if isinstance(m, str) else m.__name__ for m in modules]
    by_module: dict[str, list[Rule]] = {name: [] for name in names}
    for rule in _REGISTRY.values():
        if rule.module in by_module:
            by_module[rule.module].append(rule)
    return [rule for name in names for rule in by_module[name]]


def _meta(
    description: str,
    severity: str,
    remediation: str,
    enforcement: tuple[str, ...],
    framework: tuple[str, str, str] | None,
    checkov: tuple[str, ...],
    prowler: tuple[str, ...],
    props: dict[str, Prop] | None,
) -> Meta:
    return Meta(
        description=description,
        severity=severity,
        remediation=remediation,
        enforcement=enforcement,
        framework=framework,
        checkov=checkov,
        prowler=prowler,
        props=dict(props or {}),
    )


def _module_of(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__module__", "") or "")


def resource_rule(
    name: str,
    *types: str,
    prefix: str | None = None,
    description: str,
    severity: str,
    remediation: str,
    enforcement: tuple[str, ...] = STRICT,
    framework: tuple[str, str, str] | None = None,
    checkov: tuple[str, ...] = (),
    prowler: tuple[str, ...] = (),
    props: dict[str, Prop] | None = None,
) -> Callable[[ResourceCheck], ResourceRule]:
    """Declare a resource rule: its name, the resource types it applies to and its metadata (see :class:`Meta`)."""
    meta = _meta(description, severity, remediation, enforcement, framework, checkov, prowler, props)

    def wrap(fn: ResourceCheck) -> ResourceRule:
        rule = ResourceRule(
            name=name, types=frozenset(types), check=fn, meta=meta, prefix=prefix, module=_module_of(fn)
        )
        register(rule)
        return rule

    return wrap


def stack_rule(
    name: str,
    *,
    description: str,
    severity: str,
    remediation: str,
    enforcement: tuple[str, ...] = STRICT,
    framework: tuple[str, str, str] | None = None,
    checkov: tuple[str, ...] = (),
    prowler: tuple[str, ...] = (),
    props: dict[str, Prop] | None = None,
) -> Callable[[StackCheck], StackRule]:
    """Declare a stack rule (it sees every resource of the stack) with its metadata (see :class:`Meta`)."""
    meta = _meta(description, severity, remediation, enforcement, framework, checkov, prowler, props)

    def wrap(fn: StackCheck) -> StackRule:
        rule = StackRule(name=name, check=fn, meta=meta, module=_module_of(fn))
        register(rule)
        return rule

    return wrap
