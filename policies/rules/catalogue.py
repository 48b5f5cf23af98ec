"""The rule catalogue, assembled from the rules: every rule's metadata, in the pack's order.

Each rule declares its metadata on its check (:mod:`mlops_platform.policies.rules._registry`); this module only gathers
it for what is derived from it: the generated ``policies/config/<env>.json`` files, the README table
(:mod:`mlops_platform.mlops.policytools`) and the policies of the pack (:mod:`mlops_platform.policies.pack`).
"""

from __future__ import annotations

from typing import Any

from mlops_platform.policies.rules import RULES
from mlops_platform.policies.rules._meta import Meta

CATALOGUE: dict[str, Meta] = {rule.name: rule.meta for rule in RULES}
"""Every rule's metadata by name, in the order of :data:`mlops_platform.policies.rules.RULES`."""


def config_for(env: str) -> dict[str, dict[str, Any]]:
    """The ``--policy-pack-config`` document for one environment."""
    out: dict[str, dict[str, Any]] = {}
    for name, meta in sorted(CATALOGUE.items()):
        entry: dict[str, Any] = {"enforcementLevel": meta.level(env), "environment": env}
        for key, prop in sorted(meta.props.items()):
            entry[key] = prop.for_env(env)
        out[name] = entry
    return out
