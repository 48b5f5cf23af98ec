"""The pipelines section of the platform's configuration schema: Argo Workflows and the reference pipeline
(:mod:`~mlops_platform.components.pipelines`). Listed in ``SECTIONS`` of
:mod:`~mlops_platform.components.platform.settings`; :func:`pipeline_requirements` are its checks across
sections."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from mlops_platform.components.platform.section import Section

#: Five cron fields (minute hour day-of-month month day-of-week: digits, ``*``, ``,``, ``-``, ``/``), or empty.
CRON = r"^$|^[0-9*,/-]+ [0-9*,/-]+ [0-9*,/-]+ [0-9*,/-]+ [0-9*,/-]+$"
IMAGE_TAG = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"

PIPELINE_PATTERN_WORDS: dict[str, str] = {
    CRON: 'a cron schedule of five fields such as "0 3 * * 1" (UTC), or "" for none',
    IMAGE_TAG: "an image tag such as 1.0.0 (letters, digits, _ . -; not latest)",
}
"""What the pipelines fields' patterns allow, in words (merged into the schema's ``PATTERN_WORDS``)."""


class PipelineSettings(Section):
    key_prefix: ClassVar[str] = "pipelines"
    enabled: bool = Field(
        description=(
            "Install Argo Workflows (controller, server, archive in PostgreSQL, artifacts on the artifact store), "
            "the pipelines namespace and the reference training pipeline."
        )
    )
    controller_replicas: int = Field(ge=1, le=3, description="Argo workflow controller replicas (one leads).")
    server_replicas: int = Field(ge=1, le=5, description="Argo server replicas.")
    deadline_hours: int = Field(ge=1, le=168, description="The longest a workflow may run, in hours.")
    workflow_ttl_hours: int = Field(
        ge=1,
        le=720,
        description="Hours a finished workflow stays in the cluster (the archive keeps it after).",
    )
    archive_ttl_days: int = Field(ge=1, le=3650, description="Days the workflow archive keeps a workflow.")
    retrain_schedule: str = Field(
        pattern=CRON,
        description='Cron schedule (UTC) of the reference pipeline\'s retraining CronWorkflow; "" for none.',
    )
    step_image_tag: str = Field(
        pattern=IMAGE_TAG,
        description="Tag of the pipeline step image in the training repository (docker/pipeline).",
    )
    train_on_gpu: bool = Field(
        description="The reference pipeline's train step asks for a GPU (lands on the Karpenter GPU pool)."
    )


def pipeline_requirements(sections: Mapping[str, Mapping[str, Any]]) -> list[tuple[tuple[str, str], str]]:
    """``((section, field), message)`` for each pipelines requirement across sections ``sections`` does not
    meet: a GPU train step needs the GPU pool; the step image lives in the ``training`` repository."""
    pipelines = sections.get("pipelines", {})
    problems: list[tuple[tuple[str, str], str]] = []
    if pipelines.get("enabled") is not True:
        return problems
    if pipelines.get("train_on_gpu") is True and sections.get("gpu_pool", {}).get("enabled") is not True:
        problems.append(
            (
                ("pipelines", "train_on_gpu"),
                "true needs gpuPoolEnabled: true (the GPU pool runs the train step)",
            )
        )
    if pipelines.get("step_image_tag") == "latest":
        problems.append((("pipelines", "step_image_tag"), '"latest" is not a pinned tag; name a version'))
    repositories = sections.get("registry", {}).get("repositories")
    if isinstance(repositories, list) and "training" not in repositories:
        problems.append(
            (
                ("registry", "repositories"),
                "lacks 'training': the pipeline step image lives there (or set pipelinesEnabled: false)",
            )
        )
    return problems
