"""What a rule declares about itself besides its check: :class:`Meta` and its configurable :class:`Prop`.

Each rule module passes these to :func:`mlops_platform.policies.rules._registry.resource_rule` /
:func:`~mlops_platform.policies.rules._registry.stack_rule` on the check itself (checkov's "metadata beside the check");
:mod:`mlops_platform.policies.rules.catalogue` assembles them for the generated configs and the README table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlops_platform.policies.rules._common import ENVIRONMENTS

M, A = "mandatory", "advisory"
STRICT: tuple[str, ...] = tuple(M for _ in ENVIRONMENTS)
"""Mandatory in every environment."""
RELAXED_DEV: tuple[str, ...] = tuple(A if env == "dev" else M for env in ENVIRONMENTS)
"""Advisory in dev, mandatory everywhere else."""

CIS_AWS = ("CIS AWS Foundations Benchmark", "3.0.0")
CIS_EKS = ("CIS Amazon EKS Benchmark", "1.5.0")

STR_LIST: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
"""The JSON schema of a list of strings."""
NON_NEGATIVE_INT: dict[str, Any] = {"type": "integer", "minimum": 0}
"""The JSON schema of a count (days, minutes...)."""


def cis_aws(ref: str) -> tuple[str, str, str]:
    """A recommendation of the CIS AWS Foundations Benchmark."""
    return (*CIS_AWS, ref)


def cis_eks(ref: str) -> tuple[str, str, str]:
    """A recommendation of the CIS Amazon EKS Benchmark."""
    return (*CIS_EKS, ref)


@dataclass(frozen=True)
class Prop:
    """A configurable property: its JSON schema and its value (one for all environments or one per env)."""

    schema: dict[str, Any]
    value: Any = None
    per_env: dict[str, Any] | None = None

    def for_env(self, env: str) -> Any:
        if self.per_env is None:
            return self.value
        return self.per_env.get(env, self.per_env["prod"])


@dataclass(frozen=True)
class Meta:
    """A rule's metadata: what the pack reports, the generated configs hold and the README table lists."""

    description: str
    severity: str
    remediation: str
    enforcement: tuple[str, ...] = STRICT
    """One level per environment, in the order of ``ENVIRONMENTS``."""
    framework: tuple[str, str, str] | None = None
    """``(name, version, reference)``: the benchmark and its recommendation number."""
    checkov: tuple[str, ...] = ()
    prowler: tuple[str, ...] = ()
    props: dict[str, Prop] = field(default_factory=dict)

    def level(self, env: str) -> str:
        return self.enforcement[ENVIRONMENTS.index(env)]


ENVIRONMENT_PROP = Prop({"type": "string", "enum": list(ENVIRONMENTS)})
"""Every rule takes ``environment``: used when a resource carries no ``environment`` tag."""


def schema_for(meta: Meta) -> dict[str, dict[str, Any]]:
    """The rule's config schema: ``environment`` and its own properties."""
    props = {"environment": ENVIRONMENT_PROP.schema}
    props.update({k: p.schema for k, p in meta.props.items()})
    return props
