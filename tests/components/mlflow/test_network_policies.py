"""mlops_platform.components.mlflow.network_policies: MLflow's namespace is default-deny with narrow allows, as the API sees them."""

from __future__ import annotations

from plain_args import plain

from mlops_platform.components.mlflow.network_policies import (
    default_deny_spec,
    migration_egress_spec,
    server_egress_spec,
    server_ingress_spec,
)

SELECTOR = {"app.kubernetes.io/name": "mlflow", "app.kubernetes.io/instance": "mr"}
DNS = {
    "to": [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ],
    "ports": [{"port": 53, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
}
DB_CIDRS = ["10.10.160.0/22", "10.10.164.0/22"]


def test_default_deny_selects_every_pod_in_both_directions() -> None:
    assert plain(default_deny_spec()) == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_prometheus_reaches_only_the_exporter_and_clients_only_the_api() -> None:
    spec = plain(
        server_ingress_spec(
            SELECTOR, monitoring_namespace="observability", client_namespace_label=("team/mlflow", "yes")
        )
    )
    assert spec == {
        "podSelector": {"matchLabels": SELECTOR},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": "observability"}
                        },
                        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
                    }
                ],
                "ports": [{"port": 9102, "protocol": "TCP"}],
            },
            {
                "from": [{"namespaceSelector": {"matchLabels": {"team/mlflow": "yes"}}}],
                "ports": [{"port": 5000, "protocol": "TCP"}],
            },
        ],
    }


def test_server_egress_is_dns_the_database_subnets_and_https_in_the_vpc() -> None:
    spec = plain(server_egress_spec(SELECTOR, database_cidrs=DB_CIDRS, db_port=5433, vpc_cidr="10.10.0.0/16"))
    assert spec == {
        "podSelector": {"matchLabels": SELECTOR},
        "policyTypes": ["Egress"],
        "egress": [
            DNS,
            {
                "to": [{"ipBlock": {"cidr": "10.10.160.0/22"}}, {"ipBlock": {"cidr": "10.10.164.0/22"}}],
                "ports": [{"port": 5433, "protocol": "TCP"}],
            },
            {"to": [{"ipBlock": {"cidr": "10.10.0.0/16"}}], "ports": [{"port": 443, "protocol": "TCP"}]},
        ],
    }


def test_migration_egress_reaches_only_dns_and_the_database() -> None:
    spec = plain(migration_egress_spec(database_cidrs=DB_CIDRS[:1], db_port=5432))
    assert spec == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/component": "schema-migration"}},
        "policyTypes": ["Egress"],
        "egress": [
            DNS,
            {"to": [{"ipBlock": {"cidr": "10.10.160.0/22"}}], "ports": [{"port": 5432, "protocol": "TCP"}]},
        ],
    }
