"""The rules as Pulumi CrossGuard policies: each rule of :mod:`mlops_platform.policies.rules` becomes a
``ResourceValidationPolicy`` or ``StackValidationPolicy`` carrying its metadata, and its check is fed
plain values (never the SDK's proxies).

``policies/__main__.py`` builds the pack from :func:`build_policies`; importing this module builds nothing
and patches nothing (the fast servicer is installed by ``__main__``, see :mod:`mlops_platform.policies.fastpath`).
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from mlops_platform.policies.rules import RULES
from mlops_platform.policies.rules._common import (
    ENVIRONMENTS,
    UNKNOWN_SEEN,
    Ctx,
    Res,
    Stack,
    Unknowns,
    plain,
    resolve_environment,
)
from mlops_platform.policies.rules._meta import Meta, schema_for
from mlops_platform.policies.rules._registry import ResourceRule, Rule, StackRule
from mlops_platform.policies.servicer import current as current_stack

PACK_NAME = "mlops-governance"
PACK_DESCRIPTION = (
    "Governance for the MLOps platform on AWS: tagging, S3, RDS, EKS, ECR, KMS, logs, SNS, Secrets Manager, "
    "IAM, network, Kubernetes workloads, Helm releases and stack-level guarantees."
)


_LAST_PLAIN: dict[str, tuple[Any, Any]] = {"props": (None, None), "provider": (None, None)}
"""The last proxy converted to plain values, per slot. With the fast servicer every policy gets the same
proxies for one request, so each is converted once; a different object simply misses."""


def _plain_once(slot: str, value: Any) -> tuple[Any, dict[str, list[str]]]:
    key, converted = _LAST_PLAIN[slot]
    if key is value:
        return converted
    unknowns = Unknowns()
    converted = (plain(value, unknowns), unknowns.keys)
    _LAST_PLAIN[slot] = (value, converted)
    return converted


def _report_all(found: list[tuple[str, str | None]], report: ReportViolation) -> None:
    """Report the violations, unless the check read a value that is unknown during a preview: then raise the
    SDK's UnknownValueError, which it reports as "can't run policy during preview" (the update, with every
    value known, gives the verdict)."""
    seen, UNKNOWN_SEEN.path = UNKNOWN_SEEN.path, None
    if found and seen is not None:
        raise UnknownValueError(UNKNOWN_STRING_VALUE, seen)
    for message, urn in found:
        report(message, urn)


def _defaults(meta: Meta) -> dict[str, dict[str, Any]]:
    """The rule's properties for each environment, from the catalogue: what a check reads for a property
    the policy config does not set (``pulumi preview --policy-pack policies`` without a config file)."""
    return {env: {key: prop.for_env(env) for key, prop in meta.props.items()} for env in ENVIRONMENTS}


def _resource_validate(rule: ResourceRule):
    defaults = _defaults(rule.meta)

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if not rule.applies(args.resource_type):
            return
        props, unknown_keys = _plain_once("props", args.props)
        res = Res(
            type=args.resource_type,
            name=args.name,
            urn=args.urn,
            props=props,
            provider_props=_plain_once("provider", args.provider.props)[0]
            if args.provider is not None
            else {},
            unknown_keys=unknown_keys,
            protect=bool(args.opts.protect),
            parent=args.opts.parent,
        )
        config = dict(args.get_config() or {})
        stack_env = current_stack().environment
        env = resolve_environment(res.all_tags, config, stack_env)
        ctx = Ctx(config, env, dict(args.stack_tags), defaults[env], stack_env)
        UNKNOWN_SEEN.path = None
        _report_all([(message, None) for message in rule.check(res, ctx)], report)

    return validate


_STACK_CACHE: list[tuple[Any, Stack | None]] = [(None, None)]
"""The last stack built: ``[(the SDK's resource list, Stack)]``, replaced as one tuple. With the fast
servicer every stack policy gets the same list, so the stack is built once per ``AnalyzeStack``; the SDK's servicer builds a new list
per policy, which simply misses the cache."""


def _stack_of(resources: list[Any]) -> Stack:
    key, cached = _STACK_CACHE[0]
    if key is resources and cached is not None:
        return cached
    providers: dict[str, dict[str, Any]] = {}

    def provider_props(r: Any) -> dict[str, Any]:
        if r.provider is None:
            return {}
        if r.provider.urn not in providers:
            providers[r.provider.urn] = plain(r.provider.props)
        return providers[r.provider.urn]

    stack = Stack(
        [
            Res(
                type=r.resource_type,
                name=r.name,
                urn=r.urn,
                raw_props=r.props,
                provider_props=provider_props(r),
                protect=bool(r.opts.protect),
                parent=r.parent.urn if r.parent is not None else None,
                dependencies=[d.urn for d in r.dependencies],
                property_dependencies={k: [d.urn for d in v] for k, v in r.property_dependencies.items()},
            )
            for r in resources
        ]
    )
    _STACK_CACHE[0] = (resources, stack)
    return stack


def _stack_validate(rule: StackRule):
    defaults = _defaults(rule.meta)

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        config = dict(args.get_config() or {})
        stack_env = current_stack().environment
        env = resolve_environment({}, config, stack_env)
        ctx = Ctx(config, env, dict(args.stack_tags), defaults[env], stack_env)
        UNKNOWN_SEEN.path = None
        _report_all([(message, urn) for message, urn in rule.check(_stack_of(args.resources), ctx)], report)

    return validate


def _framework(meta: Meta) -> PolicyComplianceFramework | None:
    if meta.framework is None:
        return None
    name, version, reference = meta.framework
    return PolicyComplianceFramework(name=name, version=version, reference=reference)


def _tags(meta: Meta) -> list[str]:
    return [*(f"checkov:{c}" for c in meta.checkov), *(f"prowler:{p}" for p in meta.prowler)]


def _common(rule: Rule) -> dict[str, Any]:
    meta = rule.meta
    return {
        "name": rule.name,
        "description": meta.description,
        # Without a --policy-pack-config, a rule applies at its prod (strictest) level.
        "enforcement_level": EnforcementLevel(meta.level("prod")),
        "config_schema": PolicyConfigSchema(properties=schema_for(meta)),
        "severity": Severity(meta.severity),
        "framework": _framework(meta),
        "tags": _tags(meta),
        "remediation_steps": meta.remediation,
    }


def build_policies(rules: list[Rule] | None = None) -> list[Policy]:
    """The pack's policies: one ``ResourceValidationPolicy``/``StackValidationPolicy`` per rule (default: every
    rule of :data:`mlops_platform.policies.rules.RULES`, in order)."""
    policies: list[Policy] = []
    for rule in rules if rules is not None else RULES:
        if isinstance(rule, StackRule):
            policies.append(StackValidationPolicy(validate=_stack_validate(rule), **_common(rule)))
        else:
            policy = ResourceValidationPolicy(validate=_resource_validate(rule), **_common(rule))
            # Lets the fast servicer skip policies that cannot apply to a resource type (same verdicts).
            policy.applies_to = rule.applies  # type: ignore[attr-defined]
            policies.append(policy)
    return policies
