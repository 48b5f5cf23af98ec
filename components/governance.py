"""The governance facts every part of the project shares, with no dependency: environments, data
classifications and the tag set every taggable AWS resource carries.

The config schema (mlops_platform.components.platform.config) builds its types from these, and the policy pack imports them
from here, so a pack loaded by the Pulumi CLI needs neither pydantic nor the schema.
"""

from __future__ import annotations

__all__ = ["DATA_CLASSIFICATIONS", "ENVIRONMENTS", "GOVERNANCE_TAG_KEYS", "PROJECT"]

PROJECT = "mlops-platform"
"""The Pulumi project name; config keys are ``mlops-platform:<key>``."""

ENVIRONMENTS: tuple[str, ...] = ("dev", "staging", "prod")
"""The environment profiles, from the least to the most protected."""

DATA_CLASSIFICATIONS: tuple[str, ...] = ("public", "internal", "confidential", "restricted")
"""The ``data-classification`` tag's values, from the least to the most sensitive."""

GOVERNANCE_TAG_KEYS: tuple[str, ...] = (
    "environment",
    "owner",
    "cost-center",
    "data-classification",
    "managed-by",
)
"""The tag set every taggable AWS resource carries (through the AWS provider's default tags)."""
