"""The mlops-governance rules: one module per service, each rule's check and metadata declared together.

Importing this package imports every rule module, which registers its rules
(:mod:`mlops_platform.policies.rules._registry`); it patches nothing and builds no Pulumi policy (:mod:`mlops_platform.policies.pack`
does, and ``policies/__main__.py`` installs the fast servicer). :data:`RULES` is the pack's order:
the modules in the order of :data:`SERVICES`, the rules of each in the order they are defined.
"""

from __future__ import annotations

from types import ModuleType

from mlops_platform.policies.rules import (
    argo_workloads,
    codebuild,
    ecr,
    eks,
    external_secrets,
    helm,
    iam,
    karpenter,
    kms,
    kubernetes,
    logs,
    network,
    rds,
    s3,
    secretsmanager,
    sns,
    sqs,
    stack,
    tagging,
)
from mlops_platform.policies.rules._registry import Rule, rules_in

__all__ = ["RULES", "SERVICES", "Rule", "rules_in"]

SERVICES: tuple[ModuleType, ...] = (
    tagging,
    s3,
    rds,
    eks,
    karpenter,
    ecr,
    codebuild,
    external_secrets,
    kms,
    logs,
    sns,
    sqs,
    secretsmanager,
    iam,
    network,
    kubernetes,
    argo_workloads,
    helm,
    stack,
)
"""The rule modules, in the order their rules appear in the pack (and in its reports and README table)."""

RULES: list[Rule] = rules_in(*SERVICES)
"""Every rule of the pack, in order."""
