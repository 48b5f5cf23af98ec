"""Building blocks of Kubernetes NetworkPolicies, shared by every component that closes a namespace.

Pure helpers returning pulumi-kubernetes argument types: label selectors, peers (pods of a namespace, CIDR
blocks), ports, and the egress rules every default-deny namespace needs (DNS to kube-dns, TCP to CIDRs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

__all__ = ["KUBE_DNS_LABELS", "cidr_egress", "cidrs", "dns_egress", "pods", "ports", "selector"]

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
