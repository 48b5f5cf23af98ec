"""Shared kit of the monitoring tests (tests/components/monitoring/, tests/components/platform/test_monitoring.py):
the arguments every test starts from, rendering Monitoring under the recording monitor, and readers of the
rendered graph (release values, the rule groups, the dashboard)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from mlops_platform.components.monitoring.args import MlflowScrape, MonitoringArgs
from mlops_platform.components.monitoring.monitoring import Monitoring
from mlops_platform.components.platform.config import PlatformConfig, build
from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.graph import Graph, Resource, reveal

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER}"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/11111111-2222-4333-8444-555555555555"

RELEASE = "kubernetes:helm.sh/v3:Release"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
SERVICE_MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def base_args(**overrides: Any) -> MonitoringArgs:
    """Every feature on: a database, two NAT gateways, both subscription kinds, GPUs, Karpenter (its
    ServiceMonitor, two EventBridge rules), MLflow with auth."""
    args = MonitoringArgs(
        cluster_name="mlops-test-eks",
        region="eu-west-1",
        oidc_provider_arn=PROVIDER_ARN,
        oidc_issuer_url=ISSUER,
        storage_class_name="gp3-encrypted",
        alert_kms_key_arn=KEY_ARN,
        database_identifier="mlops-test-db",
        nat_gateway_ids=["nat-0aaaaaaaaaaaaaaaa", "nat-0bbbbbbbbbbbbbbbb"],
        alert_emails=["oncall@example.com"],
        alert_https_endpoints=["https://alerts.example.com/hook"],
        prometheus_retention_days=30,
        prometheus_storage_gib=100,
        prometheus_memory_mib=8192,
        prometheus_replicas=2,
        alertmanager_replicas=3,
        gpu_enabled=True,
        karpenter_enabled=True,
        karpenter_namespace="karpenter",
        event_rule_names=["mlops-test-eks-karpenter-spot-interruption", "mlops-test-eks-karpenter-rebalance"],
        mlflow=MlflowScrape(basic_auth_secret="mlflow-metrics-credentials"),
    )
    return dataclasses.replace(args, **overrides)


def render(args: MonitoringArgs) -> Graph:
    """Monitoring ``mon`` with ``args`` under the recording monitor, with its own AWS and Kubernetes providers."""

    def program() -> None:
        aws_provider = aws.Provider("aws", region="eu-west-1")
        k8s_provider = k8s.Provider("k8s", kubeconfig="{}")
        Monitoring(
            "mon",
            args,
            opts=pulumi.ResourceOptions(providers={"aws": aws_provider, "kubernetes": k8s_provider}),
        )

    return run_callable(program, root=REPO)


def inputs(resource: Resource) -> dict[str, Any]:
    return reveal(resource.inputs)


def release(graph: Graph, chart: str = "kube-prometheus-stack") -> Resource:
    (found,) = [r for r in graph.of_type(RELEASE) if inputs(r)["chart"] == chart]
    return found


def values(graph: Graph) -> dict[str, Any]:
    return inputs(release(graph))["values"]


def topic_arn(graph: Graph) -> str:
    return graph.one("aws:sns/topic:Topic").outputs["arn"]


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every ``(path, value)`` of a nested value, paths like ``.grafana.sidecar.resources``."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield f"{path}.{key}", value
            yield from walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}[{i}]")


def rules_by_alert(graph: Graph) -> dict[str, dict[str, Any]]:
    """The rendered PrometheusRule's rules by alert name."""
    spec = inputs(graph.one(RULE))["spec"]
    return {rule["alert"]: rule for group in spec["groups"] for rule in group["rules"]}


def rendered_dashboard(graph: Graph) -> dict[str, Any]:
    """The platform dashboard's JSON model, read from its ConfigMap (whose labels are checked on the way)."""
    cm = inputs(graph.one("kubernetes:core/v1:ConfigMap", "mon-dashboard"))
    assert cm["metadata"]["labels"] == {"grafana_dashboard": "1"}
    assert cm["metadata"]["annotations"] == {"grafana_folder": "MLOps Platform"}
    (text,) = cm["data"].values()
    return json.loads(text)


def platform_config(environment: str) -> PlatformConfig:
    """The validated config of a stack of ``environment`` with one alert e-mail."""
    return build(
        {
            "mlops-platform:environment": environment,
            "mlops-platform:owner": "ml-platform",
            "mlops-platform:costCenter": "cc-1",
            "mlops-platform:dataClassification": "internal",
            "mlops-platform:monitoringAlertEmails": '["oncall@example.com"]',
        },
        region="eu-west-1",
        source=f"stacks/Pulumi.{environment}.yaml",
    )
