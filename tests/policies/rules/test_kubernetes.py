"""Kubernetes rules (policies/rules/kubernetes.py): each rule quiet on the baseline and caught once its setting is broken,
through the real analyzer protocol; then precision cases: what must not fire, and the other ways to break it."""

from __future__ import annotations

from typing import Any

import pytest
from policybaseline import ACCOUNT, container
from policycases import (
    C0,
    CASE_FIELDS,
    CRONJOB,
    DEPLOYMENT,
    HELM,
    Case,
    assert_case_caught,
    case_ids,
    case_rules,
    rule_names,
)
from policytest import Checker, Mutation, Selector, aws_provider, drop_input, resource, select, set_input

from mlops_platform.policies.rules import kubernetes

CASES: list[Case] = [
    ("k8s-no-privileged", DEPLOYMENT, set_input(f"{C0}.securityContext.privileged", True), {}),
    (
        "k8s-no-privilege-escalation",
        DEPLOYMENT,
        drop_input(f"{C0}.securityContext.allowPrivilegeEscalation"),
        {},
    ),
    ("k8s-run-as-non-root", DEPLOYMENT, set_input(f"{C0}.securityContext.runAsUser", 0), {}),
    ("k8s-no-host-namespaces", DEPLOYMENT, set_input("spec.template.spec.hostNetwork", True), {}),
    (
        "k8s-no-host-path",
        DEPLOYMENT,
        set_input(
            "spec.template.spec.volumes.0", {"name": "h", "hostPath": {"path": "/var/run/docker.sock"}}
        ),
        {},
    ),
    ("k8s-no-host-port", DEPLOYMENT, set_input(f"{C0}.ports.0.hostPort", 5000), {}),
    (
        "k8s-resources",
        CRONJOB,
        drop_input("spec.jobTemplate.spec.template.spec.containers.0.resources.limits"),
        {},
    ),
    (
        "k8s-image-pinned",
        DEPLOYMENT,
        set_input(f"{C0}.image", f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/x:latest"),
        {},
    ),
    ("k8s-allowed-registries", DEPLOYMENT, set_input(f"{C0}.image", "evil.example.com/miner:1.0.0"), {}),
    (
        "k8s-read-only-root-fs",
        DEPLOYMENT,
        set_input(f"{C0}.securityContext.readOnlyRootFilesystem", False),
        {},
    ),
    (
        "k8s-drop-all-capabilities",
        DEPLOYMENT,
        set_input(f"{C0}.securityContext.capabilities", {"drop": ["NET_RAW"]}),
        {},
    ),
    ("k8s-probes", DEPLOYMENT, drop_input(f"{C0}.readinessProbe"), {}),
    ("k8s-no-default-namespace", DEPLOYMENT, drop_input("metadata.namespace"), {}),
    (
        "k8s-internal-load-balancer",
        select("kubernetes:core/v1:Service", "serving-lb"),
        set_input("metadata.annotations", {}),
        {},
    ),
    (
        "k8s-namespace-default-deny",
        select("kubernetes:networking.k8s.io/v1:NetworkPolicy"),
        set_input("spec.podSelector", {"matchLabels": {"app": "x"}}),
        {},
    ),
    (
        "k8s-namespace-egress-restricted",
        select("kubernetes:networking.k8s.io/v1:NetworkPolicy"),
        set_input("spec.egress", [{"ports": [{"port": 443, "protocol": "TCP"}]}]),
        {},
    ),
    (
        "k8s-monitoring-default-deny",
        select("kubernetes:networking.k8s.io/v1:NetworkPolicy", "monitoring-default-deny"),
        set_input("spec.policyTypes", ["Ingress"]),
        {},
    ),
    ("k8s-monitoring-ui-internal", HELM, set_input("values.grafana.ingress.enabled", True), {}),
    (
        "k8s-postgres-tls-verified",
        DEPLOYMENT,
        set_input(
            f"{C0}.args",
            ["server", "--backend-store-uri", "postgresql+psycopg2://db:5432/mlflow?sslmode=require"],
        ),
        {},
    ),
]


def test_every_rule_has_a_case() -> None:
    assert case_rules(CASES) == rule_names(kubernetes)


@pytest.mark.parametrize(CASE_FIELDS, CASES, ids=case_ids(CASES))
def test_rule_catches_its_violation(
    checker: Checker, rule: str, selector: Selector, mutation: Mutation | None, options: dict[str, Any]
) -> None:
    assert_case_caught(checker, rule, selector, mutation, options)


def test_cpu_limit_can_be_waived_by_config(checker: Checker) -> None:
    c = container()
    del c["resources"]["limits"]["cpu"]
    dep = resource(
        "kubernetes:apps/v1:Deployment",
        "d",
        {
            "metadata": {"namespace": "apps"},
            "spec": {"template": {"spec": {"securityContext": {"runAsNonRoot": True}, "containers": [c]}}},
        },
    )
    assert checker.run([dep], "prod").by_policy("k8s-resources")
    from policytest import config_for, graph_of

    from mlops_platform.mlops.analyzer import analyze_with

    config = config_for("prod")
    config["k8s-resources"]["requireCpuLimits"] = False
    assert not analyze_with(checker.stub, graph_of([dep]), config=config).by_policy("k8s-resources")


def test_helm_release_without_namespace_lands_in_default(checker: Checker) -> None:
    release = resource(
        "kubernetes:helm.sh/v3:Release",
        "r",
        {
            "chart": "kube-prometheus-stack",
            "version": "77.0.0",
            "repositoryOpts": {"repo": "https://prometheus-community.github.io/helm-charts"},
        },
    )
    assert checker.run([release], "prod").by_policy("k8s-no-default-namespace")
    release.inputs["namespace"] = "monitoring"
    assert not checker.run([release, _deny("monitoring", ["Ingress", "Egress"])], "prod").violations


# ---- egress and endpoint policies: what fires and what does not --------------------------------------------


def _network_policy(name: str, spec: dict[str, Any]) -> Any:
    return resource(
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        name,
        {"metadata": {"name": name, "namespace": "mlflow"}, "spec": spec},
    )


def _egress_findings(checker: Checker, *policies: Any) -> list[str]:
    ns = resource("kubernetes:core/v1:Namespace", "mlflow-ns", {"metadata": {"name": "mlflow"}})
    deployment = resource(
        "kubernetes:apps/v1:Deployment",
        "mlflow",
        {"metadata": {"name": "mlflow", "namespace": "mlflow"}, "spec": {"template": {"spec": {}}}},
    )
    result = checker.run([aws_provider("prod"), ns, deployment, *policies], "prod")
    return [v.message for v in result.by_policy("k8s-namespace-egress-restricted")]


DENY_ALL = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_egress_to_the_vpc_cidr_and_named_peers_is_fine(checker: Checker) -> None:
    narrow = {
        "podSelector": {"matchLabels": {"app": "mlflow"}},
        "policyTypes": ["Egress"],
        "egress": [
            {"to": [{"ipBlock": {"cidr": "10.30.0.0/16"}}], "ports": [{"port": 443, "protocol": "TCP"}]},
            {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]},
        ],
    }
    assert (
        _egress_findings(checker, _network_policy("deny", DENY_ALL), _network_policy("narrow", narrow)) == []
    )


@pytest.mark.parametrize(
    ("egress", "expect"),
    [
        (
            [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}]}],
            "allows 0.0.0.0/0",
        ),
        ([{"to": [{"ipBlock": {"cidr": "::/0"}}], "ports": [{"port": 443}]}], "allows ::/0"),
        ([{"ports": [{"port": 443, "protocol": "TCP"}]}], "names no destination"),
    ],
)
def test_open_egress_is_caught(checker: Checker, egress: list[dict[str, Any]], expect: str) -> None:
    open_ = {"podSelector": {"matchLabels": {"app": "mlflow"}}, "policyTypes": ["Egress"], "egress": egress}
    found = _egress_findings(checker, _network_policy("deny", DENY_ALL), _network_policy("open", open_))
    assert any("mlflow/open" in m and expect in m for m in found), found


def test_namespace_without_default_deny_egress_is_caught(checker: Checker) -> None:
    ingress_only = {"podSelector": {}, "policyTypes": ["Ingress"]}
    found = _egress_findings(checker, _network_policy("deny", ingress_only))
    assert found == ["namespace 'mlflow' runs workloads without a default-deny egress NetworkPolicy"]


# ---- monitoring isolation: precision and the other ways to break it -------------------------------------


def _kps(values: dict[str, Any], namespace: str = "monitoring") -> Any:
    return resource(
        "kubernetes:helm.sh/v3:Release",
        "kps",
        {
            "chart": "kube-prometheus-stack",
            "version": "88.5.3",
            "namespace": namespace,
            "repositoryOpts": {"repo": "https://prometheus-community.github.io/helm-charts"},
            "values": values,
        },
    )


def _deny(namespace: str, types: list[str], **rules: Any) -> Any:
    return resource(
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        f"{namespace}-deny",
        {
            "metadata": {"name": "default-deny", "namespace": namespace},
            "spec": {"podSelector": {}, "policyTypes": types, **rules},
        },
    )


def _monitoring_findings(checker: Checker, *resources: Any) -> list[tuple[str, str]]:
    result = checker.run([aws_provider("prod"), *resources], "prod")
    return [
        (v.policy, v.message)
        for v in result.violations
        if v.policy in ("k8s-monitoring-default-deny", "k8s-monitoring-ui-internal")
    ]


def test_monitoring_isolation_compliant_as_the_platform_configures_it(checker: Checker) -> None:
    values = {
        "prometheus": {"service": {"type": "ClusterIP"}, "ingress": {"enabled": False}},
        "alertmanager": {"service": {"type": "ClusterIP"}, "ingress": {"enabled": False}},
        "grafana": {"service": {"type": "ClusterIP"}, "grafana.ini": {"auth.anonymous": {"enabled": False}}},
        "prometheus-node-exporter": {"namespaceOverride": "monitoring-node-exporter"},
    }
    both = ["Ingress", "Egress"]
    assert (
        _monitoring_findings(
            checker, _kps(values), _deny("monitoring", both), _deny("monitoring-node-exporter", both)
        )
        == []
    )


def test_monitoring_isolation_violations(checker: Checker) -> None:
    both = ["Ingress", "Egress"]
    node_ns = {"prometheus-node-exporter": {"namespaceOverride": "monitoring-node-exporter"}}
    # The node-exporter namespace without its default deny.
    found = _monitoring_findings(checker, _kps(node_ns), _deny("monitoring", both))
    assert [p for p, m in found if "monitoring-node-exporter" in m] == ["k8s-monitoring-default-deny"]
    # A "deny" that allows everything out is no default deny.
    found = _monitoring_findings(checker, _kps({}), _deny("monitoring", both, egress=[{}]))
    assert [p for p, _ in found] == ["k8s-monitoring-default-deny"]
    # dcgm-exporter's namespace counts too.
    dcgm = resource(
        "kubernetes:helm.sh/v3:Release",
        "dcgm",
        {
            "chart": "dcgm-exporter",
            "version": "4.8.2",
            "namespace": "gpu-agents",
            "repositoryOpts": {"repo": "https://nvidia.github.io/dcgm-exporter/helm-charts"},
        },
    )
    assert [p for p, _ in _monitoring_findings(checker, dcgm)] == ["k8s-monitoring-default-deny"]
    # Each way out of the cluster.
    for values in (
        {"prometheus": {"service": {"type": "LoadBalancer"}}},
        {"alertmanager": {"ingress": {"enabled": True}}},
        {"grafana": {"service": {"type": "NodePort"}}},
        {"prometheus": {"servicePerReplica": {"enabled": True, "type": "LoadBalancer"}}},
        {"grafana": {"grafana.ini": {"auth.anonymous": {"enabled": True}}}},
    ):
        found = _monitoring_findings(checker, _kps(values), _deny("monitoring", both))
        assert [p for p, _ in found] == ["k8s-monitoring-ui-internal"], values


def test_postgres_tls_rule_reads_uris_env_and_ca_bundle() -> None:
    """verify-full in the URI with a CA bundle passes; PGSSLMODE below verify-full or no CA bundle does not."""
    from mlops_platform.policies.rules._common import Ctx, Res
    from mlops_platform.policies.rules.kubernetes import postgres_tls_verified

    def messages(c: dict[str, Any]) -> list[str]:
        res = Res(
            "kubernetes:apps/v1:Deployment",
            "x",
            "urn:x",
            {"spec": {"template": {"spec": {"containers": [c]}}}},
        )
        return list(postgres_tls_verified.check(res, Ctx(config={}, environment="prod")))

    uri = "postgresql+psycopg2://db:5432/mlflow?sslmode=verify-full"
    ca = {"name": "PGSSLROOTCERT", "value": "/opt/mlflow/share/rds-ca/global-bundle.pem"}
    assert messages({"name": "a", "args": ["--backend-store-uri", uri], "env": [ca]}) == []
    assert messages({"name": "b", "env": [{"name": "PGSSLMODE", "value": "verify-full"}, ca]}) == []
    assert messages({"name": "c", "args": ["server"]}) == []  # no PostgreSQL: nothing to judge
    assert messages({"name": "d", "args": [uri]}) == [
        "container 'd' names no CA bundle (PGSSLROOTCERT or sslrootcert) to verify PostgreSQL with"
    ]
    assert messages({"name": "e", "env": [{"name": "PGSSLMODE", "value": "require"}, ca]}) == [
        "container 'e' sets PGSSLMODE=require, not verify-full"
    ]
    assert messages({"name": "f", "args": ["postgresql://db/x"], "env": [ca]}) == [
        "container 'f' connects to postgresql://db/x with sslmode=prefer, not verify-full"
    ]
