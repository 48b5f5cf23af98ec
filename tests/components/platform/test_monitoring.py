"""mlops_platform.components.platform.monitoring: the platform's config wired into Monitoring (thresholds from the
profile, the VPC and service CIDRs, MLflow's namespace) and the stack outputs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
from monitoring_support import (
    ALARM,
    ISSUER,
    KEY_ARN,
    PROVIDER_ARN,
    REPO,
    SERVICE_MONITOR,
    inputs,
    platform_config,
    rules_by_alert,
    values,
)

from mlops_platform.components.monitoring.args import AlertThresholds
from mlops_platform.components.platform.config import ConfigError, build
from mlops_platform.components.platform.monitoring import (
    PlatformParts,
    add_monitoring,
    alert_thresholds,
    eks_default_service_cidr,
    monitoring_exports,
)
from mlops_platform.mlops.engine import run_callable


def test_stack_config_with_plain_http_endpoint_is_rejected() -> None:
    values_ = {
        "mlops-platform:environment": "dev",
        "mlops-platform:owner": "ml-platform",
        "mlops-platform:costCenter": "cc-1",
        "mlops-platform:dataClassification": "internal",
        "mlops-platform:monitoringAlertHttpsEndpoints": '["http://alerts.example.com/hook"]',
    }
    with pytest.raises(ConfigError) as err:
        build(values_, region="eu-west-1", source="stacks/Pulumi.dev.yaml")
    assert any(key.endswith("monitoringAlertHttpsEndpoints") for key, _ in err.value.problems)


def test_profiles_differ_in_thresholds() -> None:
    dev, prod = (alert_thresholds(platform_config(e).monitoring) for e in ("dev", "prod"))
    assert dev.rds_cpu_percent > prod.rds_cpu_percent
    assert dev.mlflow_p95_latency_ms > prod.mlflow_p95_latency_ms


@dataclass
class _Karpenter:
    namespace: str
    namespace_resource: pulumi.Resource
    event_rule_names: list[str]


@dataclass
class _Cluster:
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer_url: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    storage_class_name: str
    karpenter: _Karpenter | None = None


@dataclass
class _Keys:
    data_key_arn: pulumi.Output[str]


@dataclass
class _Database:
    identifier: pulumi.Output[str]


@dataclass
class _Network:
    nat_gateways: list[aws.ec2.NatGateway]


@dataclass
class _Registry:
    namespace_name: pulumi.Output[str]


class _Platform(pulumi.ComponentResource):
    """Stand-in for MlopsPlatform with the attributes the compute, data and MLflow work provides."""

    def __init__(self, karpenter: bool = True) -> None:
        super().__init__("mlops:platform:MlopsPlatform", "mlops")
        self.aws_provider = aws.Provider("aws", region="eu-west-1", opts=pulumi.ResourceOptions(parent=self))
        self.k8s_provider = k8s.Provider("k8s", kubeconfig="{}", opts=pulumi.ResourceOptions(parent=self))
        nats = [
            aws.ec2.NatGateway(
                f"nat-{i}",
                subnet_id=f"subnet-{i}",
                allocation_id=f"eipalloc-{i}",
                opts=pulumi.ResourceOptions(parent=self, provider=self.aws_provider),
            )
            for i in range(3)
        ]
        self.cluster = _Cluster(
            pulumi.Output.from_input(PROVIDER_ARN),
            pulumi.Output.from_input(ISSUER),
            pulumi.Output.from_input("mlops-prod-eks"),
            "gp3-encrypted",
            _Karpenter(
                "karpenter",
                k8s.core.v1.Namespace(
                    "karpenter-ns",
                    metadata=k8s.meta.v1.ObjectMetaArgs(name="karpenter"),
                    opts=pulumi.ResourceOptions(parent=self, provider=self.k8s_provider),
                ),
                ["mlops-prod-eks-karpenter-spot-interruption", "mlops-prod-eks-karpenter-rebalance"],
            )
            if karpenter
            else None,
        )
        self.keys = _Keys(pulumi.Output.from_input(KEY_ARN))
        self.database = _Database(pulumi.Output.from_input("mlops-prod-db"))
        self.network = _Network(nats)
        self.model_registry = _Registry(pulumi.Output.from_input("mlflow"))


def test_add_monitoring_wires_the_platform_fromplatform_config() -> None:
    config = platform_config("prod")

    def program() -> None:
        platform: PlatformParts = _Platform()
        mon = add_monitoring(platform, config, mlflow_metrics_secret="mlflow-metrics")
        for key, value in monitoring_exports(mon).items():
            pulumi.export(key, value)

    graph = run_callable(program, root=REPO)
    component = graph.one("mlops:monitoring:Monitoring", "mlops-prod")
    assert component.parent == graph.one("mlops:platform:MlopsPlatform").urn
    v = values(graph)
    assert v["prometheus"]["prometheusSpec"]["retention"] == f"{config.monitoring.prometheus_retention_days}d"
    assert v["alertmanager"]["alertmanagerSpec"]["replicas"] == config.monitoring.alertmanager_replicas
    nat_alarms = [a for a in graph.of_type(ALARM) if "-nat-" in a.name]
    assert len(nat_alarms) == 2 * 3  # prod: one NAT gateway per zone
    assert {"GpuNodeIdle", "GpuMetricsMissing"} <= set(rules_by_alert(graph))  # prod has the GPU group
    assert sorted(graph.outputs) == [
        "alertTopicArn",
        "alertmanagerUrl",
        "grafanaAdminSecret",
        "grafanaUrl",
        "prometheusUrl",
    ]
    (sub,) = graph.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert inputs(sub)["endpoint"] == "oncall@example.com"


def test_karpenter_is_scraped_and_its_rules_alarmed_only_when_installed() -> None:
    config = platform_config("prod")

    def program(karpenter: bool) -> None:
        add_monitoring(_Platform(karpenter), config)

    graph = run_callable(lambda: program(True), root=REPO)
    monitor = graph.one(SERVICE_MONITOR, "mlops-prod-karpenter")
    assert inputs(monitor)["metadata"]["namespace"] == "karpenter"
    namespace = graph.one("kubernetes:core/v1:Namespace", "karpenter-ns")
    release = graph.one("kubernetes:helm.sh/v3:Release", "mlops-prod-kube-prometheus-stack")
    assert {namespace.urn, release.urn} <= set(monitor.dependencies)
    alarms = {a.name: inputs(a) for a in graph.of_type(ALARM) if "-events-" in a.name}
    assert sorted(alarms) == [
        "mlops-prod-events-0-failed-invocations",
        "mlops-prod-events-1-failed-invocations",
    ]
    assert alarms["mlops-prod-events-1-failed-invocations"]["dimensions"] == {
        "RuleName": "mlops-prod-eks-karpenter-rebalance"
    }
    without = run_callable(lambda: program(False), root=REPO)
    assert [m.name for m in without.of_type(SERVICE_MONITOR)] == ["mlops-prod-mlflow"]
    assert not [a for a in without.of_type(ALARM) if "-events-" in a.name]


def test_platform_passes_the_vpc_and_service_cidrs() -> None:
    assert eks_default_service_cidr("10.10.0.0/16") == "172.20.0.0/16"
    assert eks_default_service_cidr("192.168.0.0/16") == "10.100.0.0/16"


def test_alert_thresholds_read_every_field_from_the_profile() -> None:
    for environment in ("dev", "staging", "prod"):
        settings = platform_config(environment).monitoring
        thresholds = alert_thresholds(settings)
        assert isinstance(thresholds, AlertThresholds)
        for f in dataclasses.fields(AlertThresholds):
            assert getattr(thresholds, f.name) == getattr(settings, f.name), (environment, f.name)
