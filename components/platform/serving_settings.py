"""The serving section of the platform's configuration schema: cert-manager, KServe (Standard mode) and the
platform's serving runtime (:mod:`~mlops_platform.components.serving`). Listed in ``SECTIONS`` of
:mod:`~mlops_platform.components.platform.settings`; :func:`serving_requirements` are its checks across
sections."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from mlops_platform.components.platform.section import Section
from mlops_platform.components.serving.names import IMAGE_REPOSITORY


class ServingSettings(Section):
    key_prefix: ClassVar[str] = "serving"
    enabled: bool = Field(
        description=(
            "Install cert-manager, KServe in Standard mode (no Knative, no Istio) and the platform's serving "
            "runtime (MLServer for MLflow models) and storage initializer."
        )
    )
    replicas: int = Field(
        ge=1,
        le=3,
        description="Replicas of cert-manager's controller, webhook and CA injector (a PDB each above one).",
    )


def serving_requirements(sections: Mapping[str, Mapping[str, Any]]) -> list[tuple[tuple[str, str], str]]:
    """``((section, field), message)`` for each serving requirement across sections ``sections`` does not
    meet: the runtime image lives in the :data:`~mlops_platform.components.serving.names.IMAGE_REPOSITORY`
    repository."""
    if sections.get("serving", {}).get("enabled") is not True:
        return []
    repositories = sections.get("registry", {}).get("repositories")
    if isinstance(repositories, list) and IMAGE_REPOSITORY not in repositories:
        return [
            (
                ("registry", "repositories"),
                f"lacks {IMAGE_REPOSITORY!r}: the serving runtime image lives there (or set servingEnabled: false)",
            )
        ]
    return []
