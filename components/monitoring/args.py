"""What :class:`~mlops_platform.components.monitoring.monitoring.Monitoring` is given: its arguments, the alert thresholds,
how MLflow is scraped, and the checks that reject a bad value before any resource is declared.

Plain values only: the platform wires its config into these (:mod:`mlops_platform.components.platform.monitoring`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields

import pulumi

from mlops_platform.components.cluster.node_groups import GPU_TAINT, TAINT_EFFECTS
from mlops_platform.components.mlflow.metrics import (
    METRICS_PATH,
    METRICS_PORT_NAME,
    METRICS_SECRET,
    PASSWORD_KEY,
    USERNAME_KEY,
)
from mlops_platform.components.monitoring.charts import (
    GPU_NODE_LABEL,
    KUBE_PROMETHEUS_STACK_REPOSITORY,
    KUBE_PROMETHEUS_STACK_VERSION,
)
from mlops_platform.components.monitoring.observability import check_k8s_name
from mlops_platform.components.validation import check_email, check_https_url, check_region, is_private_ipv4

__all__ = [
    "AlertThresholds",
    "KarpenterThresholds",
    "MlflowScrape",
    "MonitoringArgs",
    "check_cluster_cidr",
    "validate",
    "validate_subscriptions",
]


@dataclass(frozen=True)
class AlertThresholds:
    """Thresholds of the CloudWatch alarms and the platform's Prometheus alerts.

    Attributes:
        rds_cpu_percent: Database CPU utilisation (average over 5 minutes, three periods in a row).
        rds_free_storage_gib: Free database storage below which the alarm fires.
        rds_freeable_memory_mib: Freeable database memory below which the alarm fires.
        rds_max_connections: Database connections above which the alarm fires; keep it below the
            instance class's ``max_connections``.
        rds_read_latency_ms: Average read latency in milliseconds.
        rds_write_latency_ms: Average write latency in milliseconds.
        nat_packet_drop_basis_points: Share of packets a NAT gateway may drop, in basis points
            (1 = 0.01 %, AWS's recommended threshold).
        eks_apiserver_5xx_percent: Share of Kubernetes API requests answered with a 5xx.
        eks_etcd_storage_mib: etcd database size; EKS makes the cluster read-only at 8 GiB.
        mlflow_error_percent: Share of MLflow requests answered with a 5xx.
        mlflow_p95_latency_ms: MLflow's 95th-percentile request latency.
        volume_free_percent: Free space left on a persistent volume.
        gpu_idle_percent: GPU utilisation below which a GPU node counts as idle (for an hour).
    """

    rds_cpu_percent: int = 80
    rds_free_storage_gib: int = 10
    rds_freeable_memory_mib: int = 1024
    rds_max_connections: int = 1000
    rds_read_latency_ms: int = 20
    rds_write_latency_ms: int = 20
    nat_packet_drop_basis_points: int = 1
    eks_apiserver_5xx_percent: int = 1
    eks_etcd_storage_mib: int = 6144
    mlflow_error_percent: int = 5
    mlflow_p95_latency_ms: int = 2000
    volume_free_percent: int = 10
    gpu_idle_percent: int = 10


@dataclass(frozen=True)
class KarpenterThresholds:
    """Thresholds of the Karpenter alerts (the platform's profiles do not set them: these defaults hold
    everywhere unless a caller passes others).

    Attributes:
        nodepool_limit_percent: Share of a NodePool's limit (per resource: CPU, memory, GPUs) in use above
            which the pool counts as nearly full: pods that need a new node will soon stay pending.
        launch_failures: Failed instance launches (CreateFleet offerings) of one capacity type and reason
            within 30 minutes above which launching counts as failing.
        interruption_latency_seconds: Average time an interruption message waits on the queue before
            Karpenter handles it; a Spot warning gives two minutes in all.
    """

    nodepool_limit_percent: int = 90
    launch_failures: int = 10
    interruption_latency_seconds: int = 60


@dataclass(frozen=True)
class MlflowScrape:
    """How Prometheus scrapes the MLflow tracking server.

    Attributes:
        namespace: MLflow's namespace; the ServiceMonitor is created there (so it can reference the
            basic-auth Secret, which must live in the same namespace).
        selector: Labels of MLflow's Service.
        port: Name of the Service port serving ``/metrics``: the MLflow pod's metrics exporter
            (:mod:`mlops_platform.components.mlflow.metrics`). MLflow's own ``/metrics`` is behind its basic-auth app, which
            lets only admins read routes it has no authorization rule for, ``/metrics`` included.
        path: Metrics path.
        basic_auth_secret: Secret in ``namespace`` with the scrape credential (the exporter's, generated and
            rotated in the cluster; not an MLflow user). ``None`` scrapes without credentials (the
            ``MlflowDown`` alert then fires when the target answers 401).
        username_key: Key of the user name in ``basic_auth_secret``.
        password_key: Key of the password in ``basic_auth_secret``.
    """

    namespace: pulumi.Input[str] = "mlflow"
    selector: Mapping[str, str] = field(default_factory=lambda: {"app.kubernetes.io/name": "mlflow"})
    port: str = METRICS_PORT_NAME
    path: str = METRICS_PATH
    basic_auth_secret: str | None = METRICS_SECRET
    username_key: str = USERNAME_KEY
    password_key: str = PASSWORD_KEY


@dataclass(frozen=True)
class MonitoringArgs:
    """Arguments of :class:`Monitoring`. The Kubernetes and AWS providers come from the caller's opts
    (``providers={"kubernetes": ..., "aws": ...}``).

    Attributes:
        cluster_name: EKS cluster name (CloudWatch ``ClusterName`` dimension, Prometheus external label).
        region: AWS region (Alertmanager's SigV4 signing, Grafana's CloudWatch default region).
        oidc_provider_arn: ARN of the cluster's IAM OIDC provider (IRSA).
        oidc_issuer_url: The cluster's OIDC issuer without ``https://``
            (``oidc.eks.<region>.amazonaws.com/id/<ID>``); a leading ``https://`` is stripped.
        storage_class_name: StorageClass of Prometheus' and Alertmanager's volumes (encrypted gp3).
        alert_kms_key_arn: Customer-managed KMS key encrypting the alert topic. Its key policy must let
            ``cloudwatch.amazonaws.com`` use it (``kms:GenerateDataKey*``, ``kms:Decrypt``) or alarms
            cannot publish, and must allow IAM policies of the account (the Alertmanager role).
        database_identifier: RDS instance identifier to alarm on; ``None`` creates no RDS alarms.
        nat_gateway_ids: NAT gateways to alarm on (one pair of alarms each).
        alert_emails: E-mail addresses subscribed to the alert topic (each must confirm once).
        alert_https_endpoints: HTTPS endpoints subscribed to the alert topic; plain HTTP is rejected.
        namespace: Namespace of the monitoring stack (Pod Security ``baseline`` enforced).
        node_exporter_namespace: Namespace of node-exporter alone: it needs the host's network and
            PID namespaces, so it runs under Pod Security ``privileged`` there and nowhere else.
        prometheus_retention_days: TSDB retention (also capped at 85 % of the volume).
        prometheus_storage_gib: Size of each Prometheus replica's volume.
        prometheus_memory_mib: Prometheus memory request and limit.
        prometheus_replicas: Prometheus replicas.
        alertmanager_replicas: Alertmanager replicas (clustered, deduplicating notifications).
        thresholds: Alarm and alert thresholds.
        gpu_enabled: The cluster has a GPU node group: installs NVIDIA's DCGM exporter on the GPU nodes
            (chart ``dcgm-exporter`` :data:`DCGM_EXPORTER_VERSION`, in ``node_exporter_namespace``, with its
            ServiceMonitor) and adds the GPU rules and dashboard panels that read its metrics.
        karpenter_enabled: The cluster runs Karpenter: adds the Karpenter rules (controller down, NodePool near
            its limit, cloud-provider errors, failing launches, interruption messages not handled) and a
            dashboard row, which read the series of job :data:`KARPENTER_JOB` (scraped by the ServiceMonitor
            of ``karpenter_namespace``).
        karpenter_thresholds: Thresholds of the Karpenter alerts.
        karpenter_namespace: Karpenter's namespace: Monitoring creates the ServiceMonitor there (after
            kube-prometheus-stack, which brings its CRD) scraping the controller's Service ``karpenter``
            (port ``http-metrics``, ``/metrics``) as job :data:`KARPENTER_JOB`. ``None``: none (no Karpenter,
            or the caller scrapes it).
        karpenter_depends_on: What the Karpenter ServiceMonitor waits for besides kube-prometheus-stack: the
            Karpenter namespace.
        event_rule_names: EventBridge rules to alarm on (one ``events-<i>-failed-invocations`` alarm each:
            any failed delivery to the rule's target in 5 minutes), e.g. the rules feeding Karpenter's
            interruption queue; a lost Spot interruption warning means a node dies with its pods.
        gpu_node_selector: Node labels the DCGM exporter is scheduled by: every GPU node, managed group or
            Karpenter pool, must carry them (default :data:`GPU_NODE_LABEL`).
        gpu_tolerations: Taints of the GPU nodes the exporter tolerates, ``(key, value, effect)`` with the EKS
            effect spelling (default: ``nvidia.com/gpu=true:NoSchedule``); tolerated by key and effect
            (``operator: Exists``), so a GPU pool tainting ``nvidia.com/gpu`` with another value or none is
            covered too.
        cluster_cidrs: Private CIDRs holding the nodes, the API server's endpoint ENIs and the Service
            ClusterIP range: the only destinations of the monitoring pods' API-server (443), kubelet (10250)
            and node-exporter (9100) egress, and the source of the operator's admission-webhook calls. Pass
            the VPC CIDR and the cluster's service CIDR; the default is every private IPv4 range.
        mlflow: How to scrape MLflow; ``None`` creates no MLflow ServiceMonitor, rules or panels.
        platform_namespaces: Namespaces whose crash-looping pods are critical (the monitoring and MLflow
            namespaces are always included).
        chart_version: kube-prometheus-stack chart version (pinned).
        chart_repository: Chart repository (pinned).
        external_secrets_api_version: API version of the External Secrets Operator's ExternalSecret.
        heartbeat_url_secret: Secret in ``namespace`` whose key ``url`` is a dead-man's-switch webhook
            (healthchecks.io, PagerDuty heartbeat...) that receives the always-firing ``Watchdog`` alert
            every 5 minutes; created outside Pulumi (e.g. an ExternalSecret). ``None``: no heartbeat. With
            one, Alertmanager may also reach the internet on 443 (NetworkPolicy :data:`HEARTBEAT_POLICY`),
            which the pack's ``k8s-namespace-egress-restricted`` refuses until the stack's policy config lists
            ``<namespace>/alertmanager-heartbeat`` in ``allowedOpenEgress``.
        depends_on: Resources the in-cluster objects must wait for: the External Secrets Operator's
            release (its CRDs) and anything else the cluster needs first.
    """

    cluster_name: pulumi.Input[str]
    region: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer_url: pulumi.Input[str]
    storage_class_name: pulumi.Input[str]
    alert_kms_key_arn: pulumi.Input[str]
    database_identifier: pulumi.Input[str] | None = None
    nat_gateway_ids: Sequence[pulumi.Input[str]] = ()
    alert_emails: Sequence[str] = ()
    alert_https_endpoints: Sequence[str] = ()
    namespace: str = "monitoring"
    node_exporter_namespace: str = "monitoring-node-exporter"
    prometheus_retention_days: int = 15
    prometheus_storage_gib: int = 50
    prometheus_memory_mib: int = 4096
    prometheus_replicas: int = 1
    alertmanager_replicas: int = 2
    thresholds: AlertThresholds = AlertThresholds()
    gpu_enabled: bool = False
    karpenter_enabled: bool = False
    karpenter_thresholds: KarpenterThresholds = KarpenterThresholds()
    karpenter_namespace: str | None = None
    karpenter_depends_on: Sequence[pulumi.Resource] = ()
    event_rule_names: Sequence[str] = ()
    mlflow: MlflowScrape | None = MlflowScrape()
    platform_namespaces: Sequence[str] = ("kube-system",)
    chart_version: str = KUBE_PROMETHEUS_STACK_VERSION
    chart_repository: str = KUBE_PROMETHEUS_STACK_REPOSITORY
    gpu_node_selector: Mapping[str, str] = field(default_factory=lambda: dict([GPU_NODE_LABEL]))
    gpu_tolerations: Sequence[tuple[str, str, str]] = (GPU_TAINT,)
    cluster_cidrs: Sequence[str] = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
    external_secrets_api_version: str = "external-secrets.io/v1"
    heartbeat_url_secret: str | None = None
    depends_on: Sequence[pulumi.Resource] = ()


def validate_subscriptions(emails: Sequence[str], https_endpoints: Sequence[str]) -> None:
    """Reject anything but e-mail addresses and ``https://`` URLs (no plain HTTP, no credentials), and
    duplicates."""
    for email in emails:
        try:
            check_email(email)
        except ValueError as exc:
            raise ValueError(f"alert e-mail {exc}") from None
    for url in https_endpoints:
        try:
            check_https_url(url)
        except ValueError as exc:
            raise ValueError(f"alert endpoint {exc}") from None
    if len(set(emails)) != len(emails) or len(set(https_endpoints)) != len(https_endpoints):
        raise ValueError("alert subscriptions must be unique")


def check_cluster_cidr(cidr: str) -> str:
    """A private IPv4 CIDR block (RFC 1918, or the 100.64.0.0/10 shared range), written exactly."""
    try:
        network = ipaddress.ip_network(cidr, strict=True)
    except ValueError:
        raise ValueError(f"cluster CIDR {cidr!r} is not a CIDR block") from None
    if not is_private_ipv4(network):
        raise ValueError(f"cluster CIDR {cidr!r} is not a private range")
    return cidr


def _check_names(args: MonitoringArgs) -> None:
    check_k8s_name(args.namespace, "namespace")
    check_k8s_name(args.node_exporter_namespace, "node-exporter namespace")
    if args.heartbeat_url_secret is not None:
        check_k8s_name(args.heartbeat_url_secret, "heartbeat Secret")
    for n in args.platform_namespaces:
        check_k8s_name(n, "platform namespace")
    if args.karpenter_namespace is not None:
        check_k8s_name(args.karpenter_namespace, "Karpenter namespace")
    if len(set(args.event_rule_names)) != len(args.event_rule_names):
        raise ValueError("event_rule_names must be unique (one alarm each)")
    if args.namespace == args.node_exporter_namespace:
        raise ValueError("node-exporter needs its own (privileged) namespace")


def _check_chart(args: MonitoringArgs) -> None:
    if not re.match(r"^\d+\.\d+\.\d+$", args.chart_version):
        raise ValueError(f"chart version {args.chart_version!r} must be pinned to an exact version")
    if not args.chart_repository.startswith("https://"):
        raise ValueError("the chart repository must be an https:// URL")


def _check_gpu(args: MonitoringArgs) -> None:
    if args.gpu_enabled and not args.gpu_node_selector:
        raise ValueError("the DCGM exporter needs a GPU node selector (it must run on GPU nodes only)")
    for key, value, effect in args.gpu_tolerations:
        if effect not in TAINT_EFFECTS:
            raise ValueError(
                f"GPU taint {key}={value}:{effect}: effect must be one of {sorted(TAINT_EFFECTS)}"
            )


def _check_sizes(args: MonitoringArgs) -> None:
    for name, value, low, high in (
        ("prometheus_retention_days", args.prometheus_retention_days, 1, 365),
        ("prometheus_storage_gib", args.prometheus_storage_gib, 5, 4096),
        ("prometheus_memory_mib", args.prometheus_memory_mib, 512, 131072),
        ("prometheus_replicas", args.prometheus_replicas, 1, 3),
        ("alertmanager_replicas", args.alertmanager_replicas, 1, 5),
    ):
        if not low <= value <= high:
            raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    for f in fields(args.thresholds):
        if getattr(args.thresholds, f.name) <= 0:
            raise ValueError(f"threshold {f.name} must be positive")
    for f in fields(args.karpenter_thresholds):
        if getattr(args.karpenter_thresholds, f.name) <= 0:
            raise ValueError(f"Karpenter threshold {f.name} must be positive")
    if args.karpenter_thresholds.nodepool_limit_percent > 100:
        raise ValueError("Karpenter threshold nodepool_limit_percent must be at most 100")


def validate(args: MonitoringArgs) -> None:
    """Raise ``ValueError`` naming the first argument of ``args`` that Monitoring cannot deploy."""
    validate_subscriptions(args.alert_emails, args.alert_https_endpoints)
    _check_names(args)
    try:
        check_region(args.region)
    except ValueError as exc:
        raise ValueError(f"region {exc}") from None
    _check_chart(args)
    _check_gpu(args)
    if not args.cluster_cidrs:
        raise ValueError("cluster_cidrs must name the CIDRs of the nodes and the API server")
    for cidr in args.cluster_cidrs:
        check_cluster_cidr(cidr)
    _check_sizes(args)
