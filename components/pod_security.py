"""The security contexts of the platform's own pods: what Pod Security ``restricted`` requires, in one place.

Every pod the platform runs itself (MLflow's server and metrics exporter, the schema migration, the database
tenant jobs) uses these: non-root with a fixed UID/GID, RuntimeDefault seccomp, and containers without
privilege escalation, with a read-only root filesystem and every capability dropped. The policy pack's
``k8s-*`` rules and Pod Security admission both check the result.
"""

from __future__ import annotations

import pulumi_kubernetes as k8s

__all__ = ["restricted_container", "restricted_pod"]


def restricted_pod(uid: int) -> k8s.core.v1.PodSecurityContextArgs:
    """Pod-level: non-root as ``uid`` (user, group and volume group), RuntimeDefault seccomp."""
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=uid,
        fs_group=uid,
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def restricted_container(uid: int) -> k8s.core.v1.SecurityContextArgs:
    """Container-level: non-root as ``uid``, no escalation, read-only root, no capabilities, RuntimeDefault."""
    return k8s.core.v1.SecurityContextArgs(
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=uid,
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        privileged=False,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )
