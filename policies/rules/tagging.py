"""Tagging: the governance tag set on every taggable AWS resource (own tags or provider default tags)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from mlops_platform.policies.rules._common import DATA_CLASSIFICATIONS, GOVERNANCE_TAG_KEYS, Ctx, Res
from mlops_platform.policies.rules._meta import STR_LIST, Prop
from mlops_platform.policies.rules._registry import resource_rule

TAGGABLE_FILE = Path(__file__).with_name("aws_taggable_types.txt")


@lru_cache(maxsize=1)
def taggable_types() -> frozenset[str]:
    """AWS resource types that accept ``tags`` (generated from the pulumi-aws SDK by
    ``mlops policy-config --write``; a test fails when it drifts from the installed SDK)."""
    lines = TAGGABLE_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _taggable(res: Res) -> bool:
    return "tags" in res.props or res.type in taggable_types()


@resource_rule(
    "aws-governance-tags",
    prefix="aws:",
    description=(
        "Every taggable AWS resource carries the governance tags (environment, owner, cost-center, "
        "data-classification, managed-by), on the resource or through the AWS provider's default tags."
    ),
    severity="medium",
    remediation=(
        "Create resources with an explicit aws.Provider whose default_tags carry the governance tag set "
        "(MlopsPlatform does this) or set the missing tags on the resource."
    ),
    props={"requiredTags": Prop(STR_LIST, list(GOVERNANCE_TAG_KEYS))},
)
def governance_tags(res: Res, ctx: Ctx) -> Iterator[str]:
    if not _taggable(res):
        return
    tags = res.all_tags
    required = list(ctx.get("requiredTags"))
    missing = [k for k in required if not tags.get(k)]
    if missing:
        yield (
            f"missing governance tag(s) {', '.join(missing)} (set them on the AWS provider's "
            f"defaultTags or on the resource)"
        )


@resource_rule(
    "aws-data-classification",
    prefix="aws:",
    description="The data-classification tag takes a value from the allowed set.",
    severity="medium",
    remediation="Set the stack's dataClassification to one of public, internal, confidential, restricted.",
    props={"allowedValues": Prop(STR_LIST, list(DATA_CLASSIFICATIONS))},
)
def data_classification(res: Res, ctx: Ctx) -> Iterator[str]:
    if not _taggable(res):
        return
    value = res.all_tags.get("data-classification")
    allowed = list(ctx.get("allowedValues"))
    if value is not None and value not in allowed:
        yield f"data-classification {value!r} is not one of {', '.join(allowed)}"
