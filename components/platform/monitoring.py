"""Wiring of :class:`~mlops_platform.components.monitoring.monitoring.Monitoring` into :class:`~mlops_platform.components.platform.platform.MlopsPlatform`.

``MlopsPlatform`` calls :func:`add_monitoring` once the cluster, the keys, the database, the network
and MLflow exist; ``stacks/__main__.py`` exports :func:`monitoring_exports`. This module alone reads the
platform's config (:func:`alert_thresholds`): :mod:`mlops_platform.components.monitoring` takes plain values. The platform
is typed structurally (:class:`PlatformParts`), so this module names exactly what it reads from it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import fields
from typing import Protocol

import pulumi
import pulumi_aws as aws

from mlops_platform.components.monitoring.args import AlertThresholds, MlflowScrape, MonitoringArgs
from mlops_platform.components.monitoring.monitoring import Monitoring
from mlops_platform.components.platform.config import MonitoringSettings, PlatformConfig


class _Karpenter(Protocol):
    @property
    def namespace(self) -> str: ...
    @property
    def namespace_resource(self) -> pulumi.Resource: ...
    @property
    def event_rule_names(self) -> Sequence[str]: ...


class _Cluster(Protocol):
    @property
    def oidc_provider_arn(self) -> pulumi.Input[str]: ...
    @property
    def oidc_issuer_url(self) -> pulumi.Input[str]: ...  # a leading https:// is stripped by Monitoring
    @property
    def cluster_name(self) -> pulumi.Input[str]: ...
    @property
    def storage_class_name(self) -> pulumi.Input[str]: ...
    @property
    def karpenter(self) -> _Karpenter | None: ...  # what install_karpenter created; None without it


class _Keys(Protocol):
    @property
    def data_key_arn(self) -> pulumi.Input[str]: ...


class _Database(Protocol):
    @property
    def identifier(self) -> pulumi.Input[str]: ...


class _Network(Protocol):
    @property
    def nat_gateways(self) -> Sequence[aws.ec2.NatGateway]: ...


class _ModelRegistry(Protocol):
    @property
    def namespace_name(self) -> pulumi.Input[str]: ...


class PlatformParts(Protocol):
    """What :func:`add_monitoring` needs from the platform."""

    @property
    def aws_provider(self) -> pulumi.ProviderResource: ...
    @property
    def k8s_provider(self) -> pulumi.ProviderResource: ...
    @property
    def cluster(self) -> _Cluster: ...
    @property
    def keys(self) -> _Keys: ...
    @property
    def database(self) -> _Database: ...
    @property
    def network(self) -> _Network: ...
    @property
    def model_registry(self) -> _ModelRegistry: ...


def eks_default_service_cidr(vpc_cidr: str) -> str:
    """The Service ClusterIP range EKS assigns when the cluster sets none (the platform sets none):
    ``172.20.0.0/16`` for a VPC inside 10.0.0.0/8, ``10.100.0.0/16`` otherwise (so the two never overlap)."""
    vpc = ipaddress.ip_network(vpc_cidr)
    return "172.20.0.0/16" if vpc.overlaps(ipaddress.ip_network("10.0.0.0/8")) else "10.100.0.0/16"


def alert_thresholds(settings: MonitoringSettings) -> AlertThresholds:
    """The alert thresholds of a stack's profile: each field of :class:`AlertThresholds` from the
    ``monitoring*`` config key of the same name."""
    return AlertThresholds(**{f.name: getattr(settings, f.name) for f in fields(AlertThresholds)})


def add_monitoring(
    platform: PlatformParts,
    config: PlatformConfig,
    *,
    parent: pulumi.Resource | None = None,
    mlflow_metrics_secret: str | None = None,
    mlflow_metrics_keys: tuple[str, str] = ("username", "password"),
    depends_on: Sequence[pulumi.Resource] = (),
) -> Monitoring:
    """Create the platform's Monitoring from its config.

    Args:
        platform: The platform (its providers, cluster, keys, database, network and MLflow).
        config: The stack's validated config.
        parent: The component that owns Monitoring; defaults to ``platform`` when it is a resource
            (``add_monitoring(self, config)`` from ``MlopsPlatform.__init__``).
        mlflow_metrics_secret: Secret in MLflow's namespace with ``username``/``password`` of an MLflow
            user for scraping ``/metrics`` (needed when MLflow's basic-auth app is on).
        depends_on: What in-cluster objects must wait for, at least the External Secrets Operator
            release (Grafana's admin password is generated through it).
    """
    m = config.monitoring
    karpenter = platform.cluster.karpenter
    owner = parent if parent is not None else platform if isinstance(platform, pulumi.Resource) else None
    return Monitoring(
        config.name,
        MonitoringArgs(
            cluster_name=platform.cluster.cluster_name,
            region=config.region,
            oidc_provider_arn=platform.cluster.oidc_provider_arn,
            oidc_issuer_url=platform.cluster.oidc_issuer_url,
            storage_class_name=platform.cluster.storage_class_name,
            # The data key: the alerts may quote resource names and metric values from the platform.
            alert_kms_key_arn=platform.keys.data_key_arn,
            database_identifier=platform.database.identifier,
            nat_gateway_ids=[nat.id for nat in platform.network.nat_gateways],
            alert_emails=list(m.alert_emails),
            alert_https_endpoints=list(m.alert_https_endpoints),
            prometheus_retention_days=m.prometheus_retention_days,
            prometheus_storage_gib=m.prometheus_storage_gib,
            prometheus_memory_mib=m.prometheus_memory_mib,
            prometheus_replicas=m.prometheus_replicas,
            alertmanager_replicas=m.alertmanager_replicas,
            thresholds=alert_thresholds(m),
            gpu_enabled=config.gpu_nodes.enabled or (config.karpenter.enabled and config.gpu_pool.enabled),
            karpenter_enabled=config.karpenter.enabled,
            # Karpenter's ServiceMonitor (in its namespace) and an alarm on each rule feeding its queue.
            karpenter_namespace=karpenter.namespace if karpenter is not None else None,
            karpenter_depends_on=[karpenter.namespace_resource] if karpenter is not None else [],
            event_rule_names=list(karpenter.event_rule_names) if karpenter is not None else [],
            # Nodes and the API server's ENIs live in the VPC; the API server's ClusterIP in the service range.
            cluster_cidrs=[config.network.vpc_cidr, eks_default_service_cidr(config.network.vpc_cidr)],
            mlflow=MlflowScrape(
                namespace=platform.model_registry.namespace_name,
                basic_auth_secret=mlflow_metrics_secret,
                username_key=mlflow_metrics_keys[0],
                password_key=mlflow_metrics_keys[1],
            ),
            depends_on=list(depends_on),
        ),
        opts=pulumi.ResourceOptions(
            parent=owner,
            providers={"aws": platform.aws_provider, "kubernetes": platform.k8s_provider},
        ),
    )


def monitoring_exports(monitoring: Monitoring) -> dict[str, pulumi.Output[str]]:
    """Stack outputs of the monitoring stack (``pulumi.export`` each in stacks/__main__.py)."""
    return {
        "alertTopicArn": monitoring.alert_topic_arn,
        "prometheusUrl": monitoring.prometheus_url,
        "alertmanagerUrl": monitoring.alertmanager_url,
        "grafanaUrl": monitoring.grafana_url,
        "grafanaAdminSecret": monitoring.grafana_admin_secret,
    }
