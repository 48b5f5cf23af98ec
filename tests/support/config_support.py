"""Building a stack's config the way the stack program does, for the configuration tests."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_platform.components.platform.config import ConfigError, PlatformConfig, build

SOURCE = "stacks/Pulumi.test.yaml"

BASE = {
    "mlops-platform:environment": "dev",
    "mlops-platform:owner": "ml-platform",
    "mlops-platform:costCenter": "cc-1",
    "mlops-platform:dataClassification": "internal",
}
"""The four required keys of a dev stack."""


def make(
    extra: dict[str, Any] | None = None, *, drop: str | None = None, region: str | None = "eu-west-1"
) -> PlatformConfig:
    """A config from :data:`BASE` with ``extra`` set and ``drop`` removed."""
    values: dict[str, Any] = {**BASE, **(extra or {})}
    if drop:
        values.pop(drop)
    return build(values, region=region, source=SOURCE)


def problems(extra: dict[str, Any] | None = None, **kw: Any) -> list[tuple[str, str]]:
    """The ``(key, message)`` problems of a config that must not validate."""
    with pytest.raises(ConfigError) as info:
        make(extra, **kw)
    assert info.value.problems, "a ConfigError always names at least one problem"
    return info.value.problems
