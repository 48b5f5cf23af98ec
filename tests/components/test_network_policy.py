"""mlops_platform.components.kubernetes: the shared NetworkPolicy building blocks render what the API expects."""

from __future__ import annotations

from mlops_platform.components import kubernetes as netpol


def _plain(args: object) -> object:
    """The dict a pulumi-kubernetes *Args value is serialised to (what the offline graph records)."""
    from pulumi.runtime.rpc import serialize_property
    from pulumi.runtime.sync_await import _sync_await

    return _sync_await(serialize_property(args, [], None))


def test_dns_egress_reaches_coredns_in_kube_system_on_53_both_protocols() -> None:
    rule = _plain(netpol.dns_egress())
    assert rule == {
        "to": [
            {
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            }
        ],
        "ports": [{"port": 53, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
    }


def test_cidr_egress_names_every_block_and_only_tcp_ports() -> None:
    rule = _plain(netpol.cidr_egress(["10.0.0.0/16", "172.20.0.0/16"], 443, 10250))
    assert rule == {
        "to": [{"ipBlock": {"cidr": "10.0.0.0/16"}}, {"ipBlock": {"cidr": "172.20.0.0/16"}}],
        "ports": [{"port": 443, "protocol": "TCP"}, {"port": 10250, "protocol": "TCP"}],
    }


def test_an_empty_selector_selects_everything_and_pods_stay_in_their_namespace_by_default() -> None:
    assert _plain(netpol.selector()) == {}
    assert _plain(netpol.pods({"app": "x"})) == {"podSelector": {"matchLabels": {"app": "x"}}}
