"""Helm releases and charts: a pinned chart version from an allow-listed repository."""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlops_platform.policies.rules._common import Ctx, Res
from mlops_platform.policies.rules._meta import STR_LIST, Prop
from mlops_platform.policies.rules._registry import resource_rule

ALLOWED_HELM_REPOSITORIES = [
    "https://prometheus-community.github.io/helm-charts",
    "https://charts.external-secrets.io",
    "https://aws.github.io/eks-charts",
    "https://kubernetes-sigs.github.io/metrics-server",
    "https://grafana.github.io/helm-charts",
    "https://nvidia.github.io/k8s-device-plugin",
    "https://nvidia.github.io/dcgm-exporter/helm-charts",
    "https://charts.jetstack.io",
    "https://argoproj.github.io/argo-helm",
    "oci://public.ecr.aws/",
    # KServe publishes its charts (kserve-crd, kserve-resources) only as OCI artifacts on GitHub's registry.
    "oci://ghcr.io/kserve/charts",
]
"""Chart repositories Helm releases may use (the default of `helm-repository-allowed`)."""

HELM_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart")
_EXACT = re.compile(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]+)?$")


def repository(res: Res) -> str:
    chart = str(res.get("chart") or "")
    if chart.startswith("oci://"):
        return chart
    return str((res.get("repositoryOpts") or {}).get("repo") or "")


@resource_rule(
    "helm-chart-version-pinned",
    *HELM_TYPES,
    description="Helm releases pin an exact chart version.",
    severity="medium",
    remediation="Set version to an exact chart version (x.y.z).",
)
def version_pinned(res: Res, ctx: Ctx) -> Iterator[str]:
    version = str(res.get("version") or "")
    if not version:
        yield f"chart {res.get('chart')!r} has no version; the latest would be installed"
    elif not _EXACT.match(version):
        yield f"chart version {version!r} is a range, not an exact version"


@resource_rule(
    "helm-repository-allowed",
    *HELM_TYPES,
    description="Helm charts come from an allow-listed repository.",
    severity="high",
    remediation="Use a repository from allowedRepositories (policies/config/<env>.json) or add yours there after review.",
    props={
        "allowedRepositories": Prop(
            STR_LIST,
            ALLOWED_HELM_REPOSITORIES,
        )
    },
)
def repository_allowed(res: Res, ctx: Ctx) -> Iterator[str]:
    allowed = [str(r).rstrip("/") for r in ctx.get("allowedRepositories")]
    repo = repository(res).rstrip("/")
    if not repo:
        yield f"chart {res.get('chart')!r} names no repository (a local path or a repo alias cannot be pinned)"
    elif not any(
        repo == a or repo.startswith(a + "/") or (a.endswith(":/") and repo.startswith(a)) for a in allowed
    ):
        yield f"repository {repo!r} is not on the allow-list"
