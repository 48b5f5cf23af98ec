"""Kubernetes building blocks shared by every component: Pod Security, security contexts, NetworkPolicies.

* **Pod Security namespaces**: :data:`RESTRICTED_NAMESPACE_LABELS` and :func:`pod_security_labels`, the labels of
  every namespace the platform creates.
* **Security contexts** of the platform's own pods: what Pod Security ``restricted`` requires. Every pod the platform runs itself (MLflow's server and metrics exporter, the schema migration, the database
tenant jobs) uses these: non-root with a fixed UID/GID, RuntimeDefault seccomp, and containers without
privilege escalation, with a read-only root filesystem and every capability dropped. The policy pack's
``k8s-*`` rules and Pod Security admission both check the result.
* **NetworkPolicy pieces** for every component that closes a namespace: label selectors, peers (pods of a
  namespace, CIDR blocks), ports, and the egress rules every default-deny namespace needs (DNS to kube-dns,
  TCP to CIDRs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

__all__ = [
    "KUBE_DNS_LABELS",
    "RESTRICTED_NAMESPACE_LABELS",
    "cidr_egress",
    "cidrs",
    "dns_egress",
    "pod_security_labels",
    "pods",
    "ports",
    "restricted_container",
    "restricted_pod",
    "script_pod",
    "selector",
    "utc_cron_job_spec",
]


#: A chart's pod securityContext value for restricted Pod Security (the image's own non-root user).
CHART_POD_SECURITY = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
#: A chart's container securityContext value for restricted Pod Security, root filesystem read-only.
CHART_CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "privileged": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def bounded_resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict[str, dict[str, str]]:
    """A chart's ``resources`` value: requests and limits."""
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory_limit}}


def pod_security_labels(enforce: str, warn: str | None = None, audit: str | None = None) -> dict[str, str]:
    """The Pod Security admission labels of a namespace: ``enforce`` a level, and ``warn``/``audit`` at a
    stricter one if given (both default to ``enforce``)."""
    return {
        "pod-security.kubernetes.io/enforce": enforce,
        "pod-security.kubernetes.io/audit": audit or enforce,
        "pod-security.kubernetes.io/warn": warn or enforce,
    }


RESTRICTED_NAMESPACE_LABELS = pod_security_labels("restricted")
"""Pod Security ``restricted`` enforced, audited and warned: every namespace the platform's own pods run in."""


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


def script_pod(
    *,
    container: str,
    service_account: str,
    image: pulumi.Input[str],
    run_as_user: int,
    script_config_map: pulumi.Input[str],
    script_key: str,
    mount: str,
    env: Sequence[k8s.core.v1.EnvVarArgs],
    node_selector: Mapping[str, str] | None = None,
) -> k8s.core.v1.PodSpecArgs:
    """The pod of a small platform job: ``python -P <mount>/<script_key>`` (a program of ours shipped in the
    ConfigMap ``script_config_map``) in ``image``, restricted as ``run_as_user``, bounded, never restarted in
    place, with the service account ``service_account`` and ``env``."""
    return k8s.core.v1.PodSpecArgs(
        service_account_name=service_account,
        restart_policy="Never",
        enable_service_links=False,
        node_selector=dict(node_selector or {}) or None,
        security_context=restricted_pod(run_as_user),
        containers=[
            k8s.core.v1.ContainerArgs(
                name=container,
                image=image,
                image_pull_policy="IfNotPresent",
                command=["python", "-P", f"{mount}/{script_key}"],
                env=list(env),
                resources=k8s.core.v1.ResourceRequirementsArgs(
                    requests={"cpu": "10m", "memory": "32Mi", "ephemeral-storage": "16Mi"},
                    limits={"cpu": "200m", "memory": "128Mi", "ephemeral-storage": "64Mi"},
                ),
                security_context=restricted_container(run_as_user),
                volume_mounts=[k8s.core.v1.VolumeMountArgs(name="program", mount_path=mount, read_only=True)],
            )
        ],
        volumes=[
            k8s.core.v1.VolumeArgs(
                name="program",
                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=script_config_map, default_mode=0o444),
            )
        ],
    )


def utc_cron_job_spec(
    schedule: str,
    pod: k8s.core.v1.PodTemplateSpecArgs,
    *,
    labels: Mapping[str, str],
    backoff_limit: int,
    active_deadline_seconds: int,
    starting_deadline_seconds: int,
) -> k8s.batch.v1.CronJobSpecArgs:
    """A CronJob spec as the platform's jobs use it: ``schedule`` in UTC, never two runs at once, one success
    and three failures kept, each run bounded (``backoff_limit``, ``active_deadline_seconds``)."""
    return k8s.batch.v1.CronJobSpecArgs(
        schedule=schedule,
        time_zone="Etc/UTC",
        concurrency_policy="Forbid",
        starting_deadline_seconds=starting_deadline_seconds,
        successful_jobs_history_limit=1,
        failed_jobs_history_limit=3,
        job_template=k8s.batch.v1.JobTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(labels=dict(labels)),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=backoff_limit, active_deadline_seconds=active_deadline_seconds, template=pod
            ),
        ),
    )


KUBE_DNS_LABELS = {"k8s-app": "kube-dns"}
"""The labels of CoreDNS's pods in ``kube-system`` (the EKS add-on keeps kube-dns' labels)."""


def selector(labels: Mapping[str, str] | None = None) -> k8s.meta.v1.LabelSelectorArgs:
    """A label selector; no labels selects everything (every pod, or every namespace)."""
    return k8s.meta.v1.LabelSelectorArgs(match_labels=dict(labels) if labels else None)


def ports(
    *numbers: pulumi.Input[int] | pulumi.Input[str], udp: bool = False
) -> list[k8s.networking.v1.NetworkPolicyPortArgs]:
    """TCP ports (and the same ports over UDP with ``udp``)."""
    protocols = ("TCP", "UDP") if udp else ("TCP",)
    return [
        k8s.networking.v1.NetworkPolicyPortArgs(port=p, protocol=proto)
        for p in numbers
        for proto in protocols
    ]


def pods(labels: Mapping[str, str], namespace: str | None = None) -> k8s.networking.v1.NetworkPolicyPeerArgs:
    """The pods with ``labels`` in the policy's own namespace, or in ``namespace``."""
    return k8s.networking.v1.NetworkPolicyPeerArgs(
        pod_selector=selector(labels),
        namespace_selector=selector({"kubernetes.io/metadata.name": namespace}) if namespace else None,
    )


def cidrs(blocks: Sequence[str]) -> list[k8s.networking.v1.NetworkPolicyPeerArgs]:
    """One ipBlock peer per CIDR block."""
    return [
        k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=c))
        for c in blocks
    ]


def dns_egress() -> k8s.networking.v1.NetworkPolicyEgressRuleArgs:
    """Egress to CoreDNS on 53 over TCP and UDP: what every pod of a default-deny namespace needs first."""
    return k8s.networking.v1.NetworkPolicyEgressRuleArgs(
        to=[pods(KUBE_DNS_LABELS, "kube-system")], ports=ports(53, udp=True)
    )


def cidr_egress(
    blocks: Sequence[str], *numbers: pulumi.Input[int]
) -> k8s.networking.v1.NetworkPolicyEgressRuleArgs:
    """Egress to the CIDR ``blocks`` on the TCP ports ``numbers``."""
    return k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=cidrs(blocks), ports=ports(*numbers))


API_SERVER_PORT = 443


def controller_baseline_policies(
    cluster_cidrs: Sequence[str],
) -> list[tuple[str, k8s.networking.v1.NetworkPolicySpecArgs]]:
    """``(name, spec)`` of the three NetworkPolicies every controller namespace of the platform starts from:
    ``default-deny`` (all ingress and egress of every pod), ``allow-dns`` (CoreDNS) and ``allow-api-server``
    (HTTPS to the API server's endpoint ENIs and the ``kubernetes`` Service, ``cluster_cidrs``)."""
    V1 = k8s.networking.v1
    everything = selector()
    return [
        (
            "default-deny",
            V1.NetworkPolicySpecArgs(pod_selector=everything, policy_types=["Ingress", "Egress"]),
        ),
        (
            "allow-dns",
            V1.NetworkPolicySpecArgs(pod_selector=everything, policy_types=["Egress"], egress=[dns_egress()]),
        ),
        (
            "allow-api-server",
            V1.NetworkPolicySpecArgs(
                pod_selector=everything,
                policy_types=["Egress"],
                egress=[cidr_egress(cluster_cidrs, API_SERVER_PORT)],
            ),
        ),
    ]
