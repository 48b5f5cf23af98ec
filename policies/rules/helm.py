"""Helm releases and charts: a pinned chart version from an allow-listed repository."""

from __future__ import annotations

import re
from collections.abc import Iterator

from policies.rules._common import Ctx, Res, resource_rule
from policies.rules.catalogue import ALLOWED_HELM_REPOSITORIES

HELM_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart")
_EXACT = re.compile(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]+)?$")


def repository(res: Res) -> str:
    chart = str(res.get("chart") or "")
    if chart.startswith("oci://"):
        return chart
    return str((res.get("repositoryOpts") or {}).get("repo") or "")


@resource_rule("helm-chart-version-pinned", *HELM_TYPES)
def version_pinned(res: Res, ctx: Ctx) -> Iterator[str]:
    version = str(res.get("version") or "")
    if not version:
        yield f"chart {res.get('chart')!r} has no version; the latest would be installed"
    elif not _EXACT.match(version):
        yield f"chart version {version!r} is a range, not an exact version"


@resource_rule("helm-repository-allowed", *HELM_TYPES)
def repository_allowed(res: Res, ctx: Ctx) -> Iterator[str]:
    allowed = [str(r).rstrip("/") for r in ctx.get("allowedRepositories", ALLOWED_HELM_REPOSITORIES)]
    repo = repository(res).rstrip("/")
    if not repo:
        yield f"chart {res.get('chart')!r} names no repository (a local path or a repo alias cannot be pinned)"
    elif not any(
        repo == a or repo.startswith(a + "/") or (a.endswith(":/") and repo.startswith(a)) for a in allowed
    ):
        yield f"repository {repo!r} is not on the allow-list"


RULES = [version_pinned, repository_allowed]
