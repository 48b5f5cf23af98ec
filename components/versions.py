"""Pinned versions of what the platform installs on EKS, per Kubernetes minor version.

Kept free of SDK imports so the config schema can reject a Kubernetes version that has no pinned add-ons
at validation time (``clusterKubernetesVersion``), before anything is rendered.
"""

from __future__ import annotations

# The one place add-on versions are pinned, per Kubernetes minor version. Moving to a new Kubernetes
# version means adding its row here (``aws eks describe-addon-versions --kubernetes-version 1.34``).
ADDON_VERSIONS: dict[str, dict[str, str]] = {
    "1.33": {
        "vpc-cni": "v1.20.4-eksbuild.2",
        "coredns": "v1.12.1-eksbuild.2",
        "kube-proxy": "v1.33.3-eksbuild.4",
        "aws-ebs-csi-driver": "v1.48.0-eksbuild.1",
    },
    "1.34": {
        "vpc-cni": "v1.20.4-eksbuild.2",
        "coredns": "v1.12.3-eksbuild.1",
        "kube-proxy": "v1.34.0-eksbuild.2",
        "aws-ebs-csi-driver": "v1.54.0-eksbuild.1",
    },
}

# NVIDIA's device plugin (a DaemonSet on the GPU group that advertises ``nvidia.com/gpu`` to the scheduler;
# the EKS AL2023 NVIDIA AMIs ship the driver and container toolkit but not the plugin). Chart
# ``nvidia-device-plugin`` from NVIDIA_DEVICE_PLUGIN_REPOSITORY, released with k8s-device-plugin v0.18.2
# (github.com/NVIDIA/k8s-device-plugin, "Bump release v0.18.2", PR #1600). Not tied to a Kubernetes minor.
NVIDIA_DEVICE_PLUGIN_CHART = "nvidia-device-plugin"
NVIDIA_DEVICE_PLUGIN_CHART_VERSION = "0.18.2"
NVIDIA_DEVICE_PLUGIN_REPOSITORY = "https://nvidia.github.io/k8s-device-plugin"


DEFAULT_KUBERNETES_VERSION = "1.34"
"""The version the environment profiles pin (EKS standard support for 1.34 runs to early December 2026;
add the 1.35 row from ``aws eks describe-addon-versions`` and move the profiles when upgrading)."""
