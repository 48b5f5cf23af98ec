"""The External Secrets Operator add-on under the recording monitor: a pinned release without AWS
credentials of its own, bounded and probed, in a namespace closed to all but what the operator needs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pulumi
import pytest

from mlops_platform.components.cluster.external_secrets import (
    ESO_CHART_VERSION,
    ESO_REPOSITORY,
    install_external_secrets,
)
from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.graph import Graph

VPC_CIDR = "10.10.0.0/16"


def render(cluster_cidrs: Sequence[str] = ()) -> Graph:
    return run_callable(
        lambda: install_external_secrets(
            "eso", vpc_cidr=VPC_CIDR, cluster_cidrs=cluster_cidrs, opts=pulumi.ResourceOptions()
        ),
        config={"aws:region": "eu-west-1"},
    )


@pytest.fixture(scope="module")
def graph() -> Graph:
    return render()


def test_operator_is_a_pinned_helm_release_without_aws_credentials(graph: Graph) -> None:
    release = graph.one("kubernetes:helm.sh/v3:Release")
    assert release.inputs["chart"] == "external-secrets"
    assert release.inputs["version"] == ESO_CHART_VERSION
    assert release.inputs["repositoryOpts"] == {"repo": ESO_REPOSITORY}
    assert release.inputs["namespace"] == "external-secrets"
    values = release.inputs["values"]
    assert values["serviceAccount"]["annotations"] == {}
    assert values["processClusterStore"] is False
    assert values["processPushSecret"] is False


def test_operator_containers_are_bounded_and_probed(graph: Graph) -> None:
    """The chart leaves resources empty and the liveness probes (and the controller's readiness) off:
    each of its three Deployments gets requests, limits and probes (verify's policy layer found all three)."""
    values = graph.one("kubernetes:helm.sh/v3:Release").inputs["values"]
    for component in (values, values["webhook"], values["certController"]):
        resources = component["resources"]
        assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
        assert component["livenessProbe"] == {"enabled": True}
        assert component["securityContext"]["readOnlyRootFilesystem"] is True
    assert values["readinessProbe"] == {"enabled": True}  # the webhook's and cert-controller's default on


def _eso_policies(graph: Graph) -> dict[str, dict[str, Any]]:
    return {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in graph.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if r.inputs["metadata"]["namespace"] == "external-secrets"
    }


def test_operator_namespace_denies_by_default_and_allows_only_what_the_operator_needs() -> None:
    graph = render(cluster_cidrs=[VPC_CIDR, "172.20.0.0/16"])
    policies = _eso_policies(graph)
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert set(policies) == {
        "default-deny",
        "allow-dns",
        "allow-api-server",
        "controller-aws-apis",
        "webhook-from-api-server",
    }
    api = policies["allow-api-server"]["egress"]
    assert api == [
        {
            "to": [{"ipBlock": {"cidr": VPC_CIDR}}, {"ipBlock": {"cidr": "172.20.0.0/16"}}],
            "ports": [{"port": 443, "protocol": "TCP"}],
        }
    ]
    aws_apis = policies["controller-aws-apis"]
    assert aws_apis["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "external-secrets"}}
    assert aws_apis["egress"] == [
        {"to": [{"ipBlock": {"cidr": VPC_CIDR}}], "ports": [{"port": 443, "protocol": "TCP"}]}
    ]
    webhook = policies["webhook-from-api-server"]
    assert webhook["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "external-secrets-webhook"}}
    assert webhook["ingress"][0]["ports"] == [{"port": 10250, "protocol": "TCP"}]
    # Never the internet.
    assert "0.0.0.0/0" not in json.dumps(policies)
    # Each waits for the namespace it lives in.
    ns = graph.one("kubernetes:core/v1:Namespace", "eso")
    for r in graph.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy"):
        if r.inputs["metadata"]["namespace"] == "external-secrets":
            assert ns.urn in r.dependencies


def test_without_cluster_cidrs_the_api_server_is_reached_in_the_vpc() -> None:
    (rule,) = _eso_policies(render())["allow-api-server"]["egress"]
    assert rule["to"] == [{"ipBlock": {"cidr": VPC_CIDR}}]
