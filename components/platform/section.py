"""The base of every section of the platform's configuration schema (:mod:`~mlops_platform.components.platform.settings`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """One section of :class:`~mlops_platform.components.platform.settings.PlatformConfig`: strict, frozen, no
    unknown field. A field's Pulumi config key is ``key_prefix`` + its name in camelCase."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    key_prefix: ClassVar[str] = ""
