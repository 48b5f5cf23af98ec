"""The mlops-governance rules, built into Pulumi CrossGuard policies.

Checks live in one module per service; their metadata lives in :mod:`policies.rules.catalogue`.
:data:`ALL_POLICIES` joins the two into ``ResourceValidationPolicy``/``StackValidationPolicy`` objects.
"""

from __future__ import annotations

from collections.abc import Mapping
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

from policies.rules import ecr, eks, helm, iam, kms_logs_sns_secrets, kubernetes, network, rds, s3, stack, tagging
from policies.rules._common import Ctx, Res, ResourceRule, Stack, StackRule, plain, resolve_environment
from policies.rules.catalogue import CATALOGUE, Meta, schema_for

PACK_NAME = "mlops-governance"
PACK_DESCRIPTION = (
    "Governance for the MLOps platform on AWS: tagging, S3, RDS, EKS, ECR, KMS, logs, SNS, Secrets Manager, "
    "IAM, network, Kubernetes workloads, Helm releases and stack-level guarantees."
)

RULES: list[ResourceRule | StackRule] = [
    *tagging.RULES, *s3.RULES, *rds.RULES, *eks.RULES, *ecr.RULES, *kms_logs_sns_secrets.RULES, *iam.RULES,
    *network.RULES, *kubernetes.RULES, *helm.RULES, *stack.RULES,
]


def _provider_props(provider: Any) -> dict[str, Any]:
    return plain(provider.props) if provider is not None else {}


def _resource_validate(rule: ResourceRule):
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if not rule.applies(args.resource_type):
            return
        res = Res(
            type=args.resource_type,
            name=args.name,
            urn=args.urn,
            props=plain(args.props),
            provider_props=_provider_props(args.provider),
            protect=bool(args.opts.protect),
            parent=args.opts.parent,
        )
        config = dict(args.get_config() or {})
        ctx = Ctx(config, resolve_environment(res.all_tags, config), dict(args.stack_tags))
        for message in rule.check(res, ctx):
            report(message, None)

    return validate


def _stack_validate(rule: StackRule):
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        resources = [
            Res(
                type=r.resource_type,
                name=r.name,
                urn=r.urn,
                props=plain(r.props),
                provider_props=_provider_props(r.provider),
                protect=bool(r.opts.protect),
                parent=r.parent.urn if r.parent is not None else None,
                dependencies=[d.urn for d in r.dependencies],
                property_dependencies={k: [d.urn for d in v] for k, v in r.property_dependencies.items()},
            )
            for r in args.resources
        ]
        config = dict(args.get_config() or {})
        ctx = Ctx(config, str(config.get("environment") or "prod"), dict(args.stack_tags))
        for message, urn in rule.check(Stack(resources), ctx):
            report(message, urn)

    return validate


def _framework(meta: Meta) -> PolicyComplianceFramework | None:
    if meta.framework is None:
        return None
    name, version, reference = meta.framework
    return PolicyComplianceFramework(name=name, version=version, reference=reference)


def _tags(meta: Meta) -> list[str]:
    return [*(f"checkov:{c}" for c in meta.checkov), *(f"prowler:{p}" for p in meta.prowler)]


def _common(name: str) -> dict[str, Any]:
    meta = CATALOGUE[name]
    return {
        "name": name,
        "description": meta.description,
        # Without a --policy-pack-config, a rule applies at its prod (strictest) level.
        "enforcement_level": EnforcementLevel(meta.level("prod")),
        "config_schema": PolicyConfigSchema(properties=schema_for(meta)),
        "severity": Severity(meta.severity),
        "framework": _framework(meta),
        "tags": _tags(meta),
        "remediation_steps": meta.remediation,
    }


def build_policies(rules: list[ResourceRule | StackRule] | None = None) -> list[Policy]:
    policies: list[Policy] = []
    for rule in rules if rules is not None else RULES:
        if rule.name not in CATALOGUE:
            raise KeyError(f"rule {rule.name!r} has no entry in policies/rules/catalogue.py")
        if isinstance(rule, StackRule):
            policies.append(StackValidationPolicy(validate=_stack_validate(rule), **_common(rule.name)))
        else:
            policies.append(ResourceValidationPolicy(validate=_resource_validate(rule), **_common(rule.name)))
    return policies


def initial_config() -> Mapping[str, Any]:
    return {}


ALL_POLICIES: list[Policy] = build_policies()
