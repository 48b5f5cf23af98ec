"""Pinned versions of what the platform installs on EKS, per Kubernetes minor version, and the EKS support
calendar those minors live by.

Kept free of SDK imports so the config schema can reject a Kubernetes version that has no pinned add-ons, or
that is past its end of standard support, at validation time (``clusterKubernetesVersion``), before anything
is rendered.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

# The one place add-on versions are pinned, per Kubernetes minor version. Moving to a new Kubernetes
# version means adding its row here (``aws eks describe-addon-versions --kubernetes-version 1.36``) and its
# row to SUPPORT_CALENDAR below.
ADDON_VERSIONS: dict[str, dict[str, str]] = {
    "1.33": {
        "vpc-cni": "v1.20.4-eksbuild.2",
        "coredns": "v1.12.1-eksbuild.2",
        "kube-proxy": "v1.33.3-eksbuild.4",
        "aws-ebs-csi-driver": "v1.48.0-eksbuild.1",
        "metrics-server": "v0.8.1-eksbuild.5",
    },
    "1.34": {
        "vpc-cni": "v1.20.4-eksbuild.2",
        "coredns": "v1.12.3-eksbuild.1",
        "kube-proxy": "v1.34.0-eksbuild.2",
        "aws-ebs-csi-driver": "v1.54.0-eksbuild.1",
        "metrics-server": "v0.8.1-eksbuild.5",
    },
    # Kubernetes 1.36: vpc-cni, coredns and kube-proxy are the versions a public record of an EKS 1.36
    # cluster deployed on 2026-09-16 (us-west-2) resolved to as the EKS defaults; aws-ebs-csi-driver is the
    # version a public Terraform configuration pins for `eks_version = "1.36"`. Re-check with
    # `aws eks describe-addon-versions --kubernetes-version 1.36` before the first deploy (docs/operations.md).
    # metrics-server (the EKS community add-on, see METRICS_SERVER_SOURCES): no public record names a 1.36
    # build yet; v0.8.1-eksbuild.10 is the newest build a public record shows as the default for 1.35.
    "1.36": {
        "vpc-cni": "v1.22.4-eksbuild.3",
        "coredns": "v1.14.3-eksbuild.16",
        "kube-proxy": "v1.36.0-eksbuild.21",
        "aws-ebs-csi-driver": "v1.63.1-eksbuild.1",
        "metrics-server": "v0.8.1-eksbuild.10",
    },
}

METRICS_SERVER_SOURCES = (
    "1.33 and 1.34: v0.8.1-eksbuild.5, the version a public AWS CDK configuration pins for Kubernetes 1.31 to "
    "1.35 (v0.8.0-eksbuild.3 for 1.30); 1.36: v0.8.1-eksbuild.10, which a public deploy record of an EKS "
    "1.35 cluster reports as that version's default (and v0.8.1-eksbuild.6 as compatible). Re-check with "
    "`aws eks describe-addon-versions --kubernetes-version <minor> --addon-name metrics-server`."
)
"""Where the metrics-server rows of :data:`ADDON_VERSIONS` come from (the community add-on, no AWS changelog)."""

# NVIDIA's device plugin (a DaemonSet on the GPU group that advertises ``nvidia.com/gpu`` to the scheduler;
# the EKS AL2023 NVIDIA AMIs ship the driver and container toolkit but not the plugin). Chart
# ``nvidia-device-plugin`` from NVIDIA_DEVICE_PLUGIN_REPOSITORY, released with k8s-device-plugin v0.18.2
# (github.com/NVIDIA/k8s-device-plugin, "Bump release v0.18.2", PR #1600). Not tied to a Kubernetes minor.
NVIDIA_DEVICE_PLUGIN_CHART = "nvidia-device-plugin"
NVIDIA_DEVICE_PLUGIN_CHART_VERSION = "0.18.2"
NVIDIA_DEVICE_PLUGIN_REPOSITORY = "https://nvidia.github.io/k8s-device-plugin"

KARPENTER_VERSION = "1.14.1"
"""The Karpenter release the platform is planned around (chart ``karpenter`` 1.14.1). Its compatibility
matrix (aws/karpenter-provider-aws, website/content/en/v1.14/upgrading/compatibility.md) lists Kubernetes
1.30 to 1.36: :data:`DEFAULT_KUBERNETES_VERSION` may not move past :data:`KARPENTER_MAX_KUBERNETES`."""
KARPENTER_MAX_KUBERNETES = "1.36"
KARPENTER_AMI_ALIAS = "al2023@v20260930"
"""The node classes' default AMI alias: the EKS AL2023 release v20260930 (awslabs/amazon-eks-ami), one that has
images for Kubernetes 1.36 (public configurations pin it with Karpenter 1.14.1). A dated release, reviewed and
moved deliberately: ``@latest`` would roll every node to whatever AWS published last. Check the newest release
(``aws ssm get-parameters-by-path --path /aws/service/eks/optimized-ami/1.36/amazon-linux-2023/``) before a first
deploy (docs/operations.md)."""


@dataclass(frozen=True)
class SupportWindow:
    """One Kubernetes minor on EKS: when it was released, when standard support ends (extended support,
    billed at $0.60 per cluster-hour instead of $0.10, starts that day at 00:00 UTC) and when extended
    support ends (EKS then upgrades the control plane itself)."""

    release: _dt.date
    end_of_standard: _dt.date
    end_of_extended: _dt.date
    source: str


_EKS_CALENDAR = "docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html (release calendar)"

SUPPORT_CALENDAR: dict[str, SupportWindow] = {
    "1.33": SupportWindow(_dt.date(2025, 5, 29), _dt.date(2026, 7, 29), _dt.date(2027, 7, 29), _EKS_CALENDAR),
    "1.34": SupportWindow(_dt.date(2025, 10, 2), _dt.date(2026, 12, 2), _dt.date(2027, 12, 2), _EKS_CALENDAR),
    "1.35": SupportWindow(
        _dt.date(2026, 1, 27),
        _dt.date(2027, 3, 27),
        _dt.date(2028, 3, 27),
        "endoflife.date/amazon-eks and the EKS calendar as of 2026-04-24 (released 2026-01-27/28)",
    ),
    "1.36": SupportWindow(
        # Standard support ends 14 months after the EKS release; the end date is the one
        # `aws eks describe-cluster-versions` reported (quoted in a public EKS 1.36 deploy record, 2026-09).
        _dt.date(2026, 6, 2),
        _dt.date(2027, 8, 2),
        _dt.date(2028, 8, 2),
        "aws eks describe-cluster-versions (endOfStandardSupportDate 2027-08-02), release = end - 14 months",
    ),
}
"""EKS support dates per Kubernetes minor (UTC). Every row of :data:`ADDON_VERSIONS` has one."""

SUPPORT_WARNING_DAYS = 60
"""Config validation warns (and the scheduled support-calendar job fails) this many days before the end of
standard support: EKS announces the date at least 60 days ahead, and an upgrade goes dev -> staging -> prod."""

DEFAULT_KUBERNETES_VERSION = "1.36"
"""The version the environment profiles pin: the newest EKS minor in standard support that Karpenter 1.14
supports (standard support to 2027-08-02, see :data:`SUPPORT_CALENDAR`)."""


def support_status(version: str, today: _dt.date) -> tuple[str, str]:
    """``(state, message)`` of ``version`` on ``today``: state ``ok``, ``ending`` (within
    :data:`SUPPORT_WARNING_DAYS` of the end of standard support), ``extended`` (past it) or ``unknown``."""
    window = SUPPORT_CALENDAR.get(version)
    if window is None:
        return (
            "unknown",
            f"Kubernetes {version} has no row in mlops_platform.components.cluster.versions.SUPPORT_CALENDAR",
        )
    days = (window.end_of_standard - today).days
    newest = newest_standard_version(today)
    move = f"; move to {newest}" if newest and newest != version else ""
    if days <= 0:
        return (
            "extended",
            f"Kubernetes {version} left EKS standard support on {window.end_of_standard.isoformat()} "
            f"(extended support bills the control plane $0.60/h instead of $0.10/h){move}",
        )
    if days <= SUPPORT_WARNING_DAYS:
        return (
            "ending",
            f"Kubernetes {version} leaves EKS standard support on {window.end_of_standard.isoformat()} "
            f"(in {days} days){move}",
        )
    return "ok", f"Kubernetes {version} is in EKS standard support until {window.end_of_standard.isoformat()}"


def newest_standard_version(today: _dt.date) -> str | None:
    """The newest minor with pinned add-ons that is in standard support on ``today`` and that Karpenter
    supports; None when there is none."""
    candidates = [
        v
        for v, w in SUPPORT_CALENDAR.items()
        if v in ADDON_VERSIONS
        and w.release <= today < w.end_of_standard
        and _minor(v) <= _minor(KARPENTER_MAX_KUBERNETES)
    ]
    return max(candidates, key=_minor) if candidates else None


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".", 1)
    return int(major), int(minor)
