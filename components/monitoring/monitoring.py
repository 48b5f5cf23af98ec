"""Monitoring: Prometheus, Alertmanager and Grafana on the cluster (kube-prometheus-stack), the
platform's alerting rules and dashboard, an encrypted SNS alert topic and CloudWatch alarms for the
managed services (RDS, NAT gateways, the EKS control plane).

Where alerts go::

    Prometheus rules ──► Alertmanager ──(IRSA role, sns:Publish)──┐
                                                                  ├──► SNS topic (KMS) ──► e-mail / HTTPS
    CloudWatch alarms (ALARM and OK) ─(cloudwatch.amazonaws.com)──┘

Workload identity is IAM Roles for Service Accounts (IRSA): the caller passes the cluster's OIDC
provider ARN and issuer (host/path, no ``https://``); Alertmanager's and Grafana's service accounts
are annotated with roles whose trust policy admits exactly those service accounts. (EKS Pod
Identity would need ``aws.eks.PodIdentityAssociation`` resources instead; the compute component
provides IRSA, so this component uses it.)

The monitoring namespaces deny all traffic by default (:func:`network_policies` opens what each component
needs). Prometheus and Alertmanager have no login of their own: they stay behind ClusterIP Services, reached
with ``kubectl port-forward`` (IAM authentication and RBAC by EKS) and, in the cluster, only by Grafana and
each other. With a GPU group, NVIDIA's DCGM exporter runs on the GPU nodes (:func:`dcgm_exporter_values`).

Grafana's admin credentials never pass through Pulumi: an External Secrets Operator ``Password``
generator creates them inside the cluster, once, into the Secret Grafana reads
(``grafana.admin.existingSecret``). Read them with
``kubectl -n monitoring get secret grafana-admin -o jsonpath='{.data.admin-password}' | base64 -d``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlparse

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.cluster.node_groups import GPU_TAINT, TAINT_EFFECTS
from components.iam import irsa_trust_policy
from components.kubernetes import cidrs, dns_egress, pods, ports, selector
from components.mlflow.metrics import (
    METRICS_PATH,
    METRICS_PORT_NAME,
    METRICS_SECRET,
    PASSWORD_KEY,
    USERNAME_KEY,
)
from components.monitoring.observability import (
    Dashboard,
    alert_rule,
    check_k8s_name,
    cloudwatch_target,
    dashboard_config_map,
    http_service_panels,
    prom_target,
    prometheus_rule,
    service_monitor,
    to_json,
)
from components.platform.config import MonitoringSettings

KUBE_PROMETHEUS_STACK_CHART = "kube-prometheus-stack"
KUBE_PROMETHEUS_STACK_VERSION = "88.5.3"
"""Pinned chart version (prometheus-community, tag ``kube-prometheus-stack-88.5.3``, August 2026: Prometheus
Operator v0.93.1, Grafana chart 12.11.1, kube-state-metrics 8.4.0, node-exporter 4.56.1), the newest
version CI renders offline. Moving across a major version needs the chart's CRDs applied first (Helm
never upgrades, nor downgrades, CRDs): see docs/monitoring.md."""
KUBE_PROMETHEUS_STACK_REPOSITORY = "https://prometheus-community.github.io/helm-charts"

DCGM_EXPORTER_CHART = "dcgm-exporter"
DCGM_EXPORTER_VERSION = "4.8.2"
"""NVIDIA's DCGM exporter chart (github.com/NVIDIA/dcgm-exporter, tag ``4.5.3-4.8.2``: DCGM 4.5.3,
exporter 4.8.2, image ``nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless``)."""
DCGM_EXPORTER_REPOSITORY = "https://nvidia.github.io/dcgm-exporter/helm-charts"
DCGM_EXPORTER_RELEASE = "dcgm-exporter"
DCGM_EXPORTER_PORT = 9400

GPU_NODE_LABEL = ("mlops.platform/accelerator", "nvidia")
"""The label every GPU node carries, whoever launched it: :func:`components.cluster.node_groups.gpu_node_group` sets
it on the managed GPU group, and a Karpenter GPU NodePool sets it in ``spec.template.metadata.labels``.
(An AL2023 NVIDIA node does not label itself ``nvidia.com/gpu.present``: that label comes from NVIDIA's
GPU feature discovery, which the platform does not run.)"""

RELEASE_NAME = "kube-prometheus-stack"
GRAFANA_ADMIN_SECRET = "grafana-admin"
ALERTMANAGER_SERVICE_ACCOUNT = "alertmanager"
GRAFANA_SERVICE_ACCOUNT = "grafana"
PLATFORM_DASHBOARD_FOLDER = "MLOps Platform"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")

# Read-only CloudWatch access for Grafana's CloudWatch data source (metrics only: Logs Insights
# would let dashboard users read log contents, so it is left out on purpose).
GRAFANA_CLOUDWATCH_ACTIONS = [
    "cloudwatch:DescribeAlarmsForMetric",
    "cloudwatch:DescribeAlarmHistory",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:ListMetrics",
    "cloudwatch:GetMetricData",
    "cloudwatch:GetInsightRuleReport",
    "ec2:DescribeTags",
    "ec2:DescribeInstances",
    "ec2:DescribeRegions",
    "tag:GetResources",
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

    @classmethod
    def from_settings(cls, settings: MonitoringSettings) -> AlertThresholds:
        """The thresholds of a stack's profile (``monitoring*`` config keys)."""
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})


@dataclass(frozen=True)
class MlflowScrape:
    """How Prometheus scrapes the MLflow tracking server.

    Attributes:
        namespace: MLflow's namespace; the ServiceMonitor is created there (so it can reference the
            basic-auth Secret, which must live in the same namespace).
        selector: Labels of MLflow's Service.
        port: Name of the Service port serving ``/metrics``: the MLflow pod's metrics exporter
            (:mod:`components.mlflow.metrics`). MLflow's own ``/metrics`` is behind its basic-auth app, which
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
    """Reject anything but e-mail addresses and ``https://`` URLs (no plain HTTP, no credentials)."""
    for email in emails:
        if not _EMAIL.match(email):
            raise ValueError(f"alert e-mail {email!r} is not an e-mail address")
    for url in https_endpoints:
        parsed = urlparse(url)
        if parsed.scheme != "https" or not parsed.hostname:
            raise ValueError(f"alert endpoint {url!r} must be an https:// URL (plain HTTP is not allowed)")
        if parsed.username or parsed.password:
            raise ValueError(f"alert endpoint {url!r} must not embed credentials (they would sit in state)")
    if len(set(emails)) != len(emails) or len(set(https_endpoints)) != len(https_endpoints):
        raise ValueError("alert subscriptions must be unique")


def _validate(args: MonitoringArgs) -> None:
    validate_subscriptions(args.alert_emails, args.alert_https_endpoints)
    check_k8s_name(args.namespace, "namespace")
    check_k8s_name(args.node_exporter_namespace, "node-exporter namespace")
    if args.heartbeat_url_secret is not None:
        check_k8s_name(args.heartbeat_url_secret, "heartbeat Secret")
    for n in args.platform_namespaces:
        check_k8s_name(n, "platform namespace")
    if args.namespace == args.node_exporter_namespace:
        raise ValueError("node-exporter needs its own (privileged) namespace")
    if not re.match(r"^[a-z]{2}(-gov)?-[a-z]+-\d$", args.region):
        raise ValueError(f"region {args.region!r} is not an AWS region")
    if not re.match(r"^\d+\.\d+\.\d+$", args.chart_version):
        raise ValueError(f"chart version {args.chart_version!r} must be pinned to an exact version")
    if not args.chart_repository.startswith("https://"):
        raise ValueError("the chart repository must be an https:// URL")
    if args.gpu_enabled and not args.gpu_node_selector:
        raise ValueError("the DCGM exporter needs a GPU node selector (it must run on GPU nodes only)")
    for key, value, effect in args.gpu_tolerations:
        if effect not in TAINT_EFFECTS:
            raise ValueError(
                f"GPU taint {key}={value}:{effect}: effect must be one of {sorted(TAINT_EFFECTS)}"
            )
    if not args.cluster_cidrs:
        raise ValueError("cluster_cidrs must name the CIDRs of the nodes and the API server")
    for cidr in args.cluster_cidrs:
        try:
            network = ipaddress.ip_network(cidr, strict=True)
        except ValueError:
            raise ValueError(f"cluster CIDR {cidr!r} is not a CIDR block") from None
        if not isinstance(network, ipaddress.IPv4Network) or not (
            network.is_private or network.subnet_of(ipaddress.IPv4Network("100.64.0.0/10"))
        ):
            raise ValueError(f"cluster CIDR {cidr!r} is not a private range")
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


def _issuer_host(issuer: str) -> str:
    return issuer.removeprefix("https://").rstrip("/")


def _arn_parts(arn: str) -> tuple[str, str]:
    """(partition, account) of an ARN such as arn:aws:iam::123456789012:oidc-provider/..."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or not re.match(r"^\d{12}$", parts[4]):
        raise ValueError(f"{arn!r} is not an account-scoped ARN")
    return parts[1], parts[4]


def topic_policy(topic_arn: str, publisher_role_arn: str, provider_arn: str, region: str) -> str:
    """Only CloudWatch alarms of this account and the Alertmanager role may publish; TLS only."""
    partition, account = _arn_parts(provider_arn)
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "CloudWatchAlarmsPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {
                            "aws:SourceArn": f"arn:{partition}:cloudwatch:{region}:{account}:alarm:*"
                        },
                    },
                },
                {
                    "Sid": "AlertmanagerPublish",
                    "Effect": "Allow",
                    "Principal": {"AWS": publisher_role_arn},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                },
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        }
    )


def alertmanager_config(
    topic_arn: pulumi.Input[str], region: str, heartbeat_url_secret: str | None = None
) -> dict[str, Any]:
    """Alertmanager's routing: everything reaches the SNS topic except ``Watchdog`` (the always-firing
    heartbeat), which goes to ``heartbeat``: a dead-man's-switch URL read from a mounted Secret when
    ``heartbeat_url_secret`` is given, no integration otherwise (so it does not mail anyone every few
    hours). There is no ``null`` receiver. ``InfoInhibitor`` (a meta-alert) is silenced by the last
    inhibition rule, as in the chart's own configuration.

    SigV4 gets only the region: with no keys and no ``role_arn``, Alertmanager's AWS SDK uses the
    default credential chain, i.e. the IRSA web-identity token of its service account.
    """
    sns = {
        "topic_arn": topic_arn,
        "sigv4": {"region": region},
        "send_resolved": True,
        # SNS subjects are limited to 100 printable ASCII characters; attributes must be non-empty.
        "subject": '[{{ .Status | toUpper }}] {{ .GroupLabels.alertname }} ({{ or .CommonLabels.severity "mixed" }})',
        "attributes": {
            "severity": '{{ or .CommonLabels.severity "mixed" }}',
            "status": "{{ .Status }}",
            "source": "alertmanager",
        },
    }
    heartbeat: dict[str, Any] = {"name": "heartbeat"}
    if heartbeat_url_secret:
        # The URL stays in the cluster: Alertmanager reads it from the Secret mounted by the operator.
        heartbeat["webhook_configs"] = [
            {
                "url_file": f"/etc/alertmanager/secrets/{heartbeat_url_secret}/url",
                "send_resolved": False,
            }
        ]
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": "sns",
            "group_by": ["alertname", "namespace", "severity"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "24h",
            "routes": [
                {"matchers": ['alertname = "Watchdog"'], "receiver": "heartbeat", "repeat_interval": "5m"},
                {
                    "matchers": ['severity = "critical"'],
                    "receiver": "sns",
                    "group_wait": "10s",
                    "repeat_interval": "4h",
                },
                {"matchers": ['severity = "warning"'], "receiver": "sns", "repeat_interval": "12h"},
            ],
        },
        "receivers": [
            {"name": "sns", "sns_configs": [sns]},
            heartbeat,
        ],
        "inhibit_rules": [
            {
                "source_matchers": ['severity = "critical"'],
                "target_matchers": ['severity =~ "warning|info"'],
                "equal": ["namespace", "alertname"],
            },
            {
                "source_matchers": ['severity = "warning"'],
                "target_matchers": ['severity = "info"'],
                "equal": ["namespace", "alertname"],
            },
            {
                "source_matchers": ['alertname = "InfoInhibitor"'],
                "target_matchers": ['severity = "info"'],
                "equal": ["namespace"],
            },
            {"target_matchers": ['alertname = "InfoInhibitor"']},
        ],
        "templates": ["/etc/alertmanager/config/*.tmpl"],
    }


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict[str, dict[str, str]]:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory_limit}}


_POD_SECURITY = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
_CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


GRAFANA_SIDECAR_HEALTH_PORTS = {"datasources": 8082, "dashboards": 8084}
"""The health port of each Grafana sidecar (the ports the chart itself gives its native sidecars)."""
_SIDECAR_HEALTH_CHECK = (
    "import os, urllib.request; "
    "urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['HEALTH_PORT'], timeout=4)"
)
_SIDECAR_PROBE = {
    # kiwigrid/k8s-sidecar (the chart's 2.x image, Python) serves /healthz on $HEALTH_PORT: 503 until the
    # first sync and when the API server has not answered for a minute (urlopen raises on any non-2xx).
    "exec": {"command": ["python", "-c", _SIDECAR_HEALTH_CHECK]},
    "initialDelaySeconds": 10,
    "periodSeconds": 20,
    "timeoutSeconds": 5,
    "failureThreshold": 3,
}


def _pdb(replicas: int) -> dict[str, Any]:
    # The chart renders every key of this block into the PDB's spec (toYaml of the block without
    # "enabled"), so only minAvailable is given: the API server rejects a PDB carrying both
    # minAvailable and maxUnavailable, and an empty int-or-string.
    return {"enabled": replicas > 1, "minAvailable": max(1, replicas - 1)}


# No UI leaves the cluster: ClusterIP Services and no Ingress; users reach Prometheus, Alertmanager and
# Grafana with `kubectl port-forward` (authenticated by EKS with IAM and authorised by RBAC), and the
# NetworkPolicies of the monitoring namespace admit in-cluster callers only where they are needed.
_INTERNAL_ONLY: dict[str, Any] = {"service": {"type": "ClusterIP"}, "ingress": {"enabled": False}}


def _pod_security(uid: int, gid: int | None = None) -> dict[str, Any]:
    g = uid if gid is None else gid
    return {**_POD_SECURITY, "runAsUser": uid, "runAsGroup": g, "fsGroup": g}


def helm_values(
    args: MonitoringArgs,
    *,
    alertmanager_role_arn: pulumi.Input[str],
    grafana_role_arn: pulumi.Input[str],
    topic_arn: pulumi.Input[str],
) -> dict[str, Any]:
    """kube-prometheus-stack values: every selector open to every namespace, storage on the given
    class, resources and non-root security contexts on every container, IRSA for Alertmanager and
    Grafana, Grafana admin from an existing Secret, and EKS-appropriate scrape targets."""
    retention_size_gb = max(1, int(args.prometheus_storage_gib * 0.85))
    memory = f"{args.prometheus_memory_mib}Mi"

    def volume(size: str) -> dict[str, Any]:
        return {
            "volumeClaimTemplate": {
                "spec": {
                    "storageClassName": args.storage_class_name,
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": size}},
                }
            }
        }

    open_selectors: dict[str, Any] = {}
    for kind in ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig"):
        open_selectors[f"{kind}SelectorNilUsesHelmValues"] = False
        open_selectors[f"{kind}Selector"] = {}
        open_selectors[f"{kind}NamespaceSelector"] = {}

    return {
        "fullnameOverride": RELEASE_NAME,
        "crds": {"enabled": True},
        # EKS runs the control plane: its scheduler, controller manager, etcd and kube-proxy metrics are
        # not scrapeable from the cluster, so their targets and rules would only ever fire TargetDown.
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeEtcd": {"enabled": False},
        "kubeProxy": {"enabled": False},
        "windowsMonitoring": {"enabled": False},
        "defaultRules": {
            "create": True,
            "rules": {
                "etcd": False,
                "kubeControllerManager": False,
                "kubeProxy": False,
                "kubeSchedulerAlerting": False,
                "kubeSchedulerRecording": False,
                "windows": False,
            },
        },
        "prometheusOperator": {
            "resources": _resources("100m", "128Mi", "500m", "512Mi"),
            "securityContext": _pod_security(65534),
            "containerSecurityContext": _CONTAINER_SECURITY,
            "prometheusConfigReloader": {"resources": _resources("10m", "32Mi", "100m", "64Mi")},
            "admissionWebhooks": {
                "patch": {
                    "resources": _resources("10m", "32Mi", "100m", "128Mi"),
                    "securityContext": _pod_security(2000),
                },
            },
        },
        "prometheus": {
            "prometheusSpec": {
                "replicas": args.prometheus_replicas,
                "podAntiAffinity": "soft",
                "retention": f"{args.prometheus_retention_days}d",
                "retentionSize": f"{retention_size_gb}GB",
                "externalLabels": {"cluster": args.cluster_name},
                "storageSpec": volume(f"{args.prometheus_storage_gib}Gi"),
                "resources": _resources("500m", memory, "2", memory),
                "securityContext": _pod_security(1000, 2000),
                **open_selectors,
            },
            "podDisruptionBudget": _pdb(args.prometheus_replicas),
            **_INTERNAL_ONLY,
        },
        "alertmanager": {
            "tplConfig": False,
            "config": alertmanager_config(topic_arn, args.region, args.heartbeat_url_secret),
            "serviceAccount": {
                "create": True,
                "name": ALERTMANAGER_SERVICE_ACCOUNT,
                "annotations": {"eks.amazonaws.com/role-arn": alertmanager_role_arn},
            },
            "alertmanagerSpec": {
                "replicas": args.alertmanager_replicas,
                "podAntiAffinity": "soft",
                "retention": "120h",
                "storage": volume("2Gi"),
                "resources": _resources("50m", "128Mi", "200m", "256Mi"),
                "securityContext": _pod_security(1000, 2000),
                # Teams add their own routes with AlertmanagerConfig objects in their namespaces;
                # the operator scopes each one to alerts from its namespace.
                "alertmanagerConfigSelector": {},
                "alertmanagerConfigNamespaceSelector": {},
                "alertmanagerConfigMatcherStrategy": {"type": "OnNamespace"},
                "secrets": [args.heartbeat_url_secret] if args.heartbeat_url_secret else [],
            },
            "podDisruptionBudget": _pdb(args.alertmanager_replicas),
            **_INTERNAL_ONLY,
        },
        "grafana": {
            "fullnameOverride": "grafana",
            **_INTERNAL_ONLY,
            "admin": {
                "existingSecret": GRAFANA_ADMIN_SECRET,
                "userKey": "admin-user",
                "passwordKey": "admin-password",
            },
            "serviceAccount": {
                "create": True,
                "name": GRAFANA_SERVICE_ACCOUNT,
                "annotations": {"eks.amazonaws.com/role-arn": grafana_role_arn},
            },
            "resources": _resources("100m", "256Mi", "500m", "512Mi"),
            "securityContext": _pod_security(472),
            # A read-only root file system: Grafana writes its database and plugins under /var/lib/grafana
            # and its search index under /var/lib/grafana-search (both emptyDirs of the chart, persistence
            # being off), temporary files under /tmp and, if ever switched from console logging, its log
            # file under /var/log/grafana (emptyDirs here).
            "containerSecurityContext": _CONTAINER_SECURITY,
            "extraEmptyDirMounts": [
                {"name": "tmp", "mountPath": "/tmp"},
                {"name": "logs", "mountPath": "/var/log/grafana"},
            ],
            # The chown init container runs as root; fsGroup already gives Grafana its volume.
            "initChownData": {"enabled": False},
            "testFramework": {"enabled": False},
            "downloadDashboards": {"resources": _resources("10m", "32Mi", "100m", "64Mi")},
            "grafana.ini": {
                "analytics": {"reporting_enabled": False, "check_for_updates": False},
                "users": {"allow_sign_up": False},
                "auth.anonymous": {"enabled": False},
                "security": {"disable_gravatar": True, "cookie_samesite": "strict"},
            },
            "sidecar": {
                "resources": _resources("50m", "64Mi", "200m", "256Mi"),
                "securityContext": _CONTAINER_SECURITY,
                # The chart has one probe for every sidecar, and each serves its health on its own port
                # (HEALTH_PORT, set per sidecar above: left unset, both would bind 8080 in the one pod):
                # an exec probe reads the container's own port.
                "livenessProbe": _SIDECAR_PROBE,
                "readinessProbe": _SIDECAR_PROBE,
                "dashboards": {
                    "enabled": True,
                    "label": "grafana_dashboard",
                    "labelValue": "1",
                    "searchNamespace": "ALL",
                    "folderAnnotation": "grafana_folder",
                    "provider": {"foldersFromFilesStructure": True},
                    "env": {"HEALTH_PORT": str(GRAFANA_SIDECAR_HEALTH_PORTS["dashboards"])},
                },
                "datasources": {
                    "enabled": True,
                    "uid": "prometheus",
                    "env": {"HEALTH_PORT": str(GRAFANA_SIDECAR_HEALTH_PORTS["datasources"])},
                },
            },
            "additionalDataSources": [
                {
                    "name": "CloudWatch",
                    "type": "cloudwatch",
                    "uid": "cloudwatch",
                    "access": "proxy",
                    "editable": False,
                    # "default" = the AWS SDK credential chain, i.e. the IRSA token of Grafana's service account.
                    "jsonData": {"authType": "default", "defaultRegion": args.region},
                }
            ],
        },
        "kube-state-metrics": {
            "resources": _resources("50m", "128Mi", "500m", "512Mi"),
            "securityContext": {"enabled": True, **_pod_security(65534)},
            "containerSecurityContext": _CONTAINER_SECURITY,
        },
        "prometheus-node-exporter": {
            "namespaceOverride": args.node_exporter_namespace,
            "resources": _resources("50m", "64Mi", "250m", "128Mi"),
            "securityContext": _pod_security(65534),
            "containerSecurityContext": {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            },
        },
        "thanosRuler": {"enabled": False},
    }


def dcgm_exporter_values(args: MonitoringArgs) -> dict[str, Any]:
    """NVIDIA DCGM exporter values: a DaemonSet on the GPU nodes only (``gpu_node_selector``, tolerating
    ``gpu_tolerations``), bounded resources, and the chart's ServiceMonitor, which the open selectors of
    our Prometheus pick up; every series gets ``job="dcgm-exporter"`` and the ``node`` it was read on.

    The pod keeps what the chart needs to read the GPUs: it runs as root with ``SYS_ADMIN`` added (the
    profiling counters, ``DCGM_FI_PROF_*``, of the default counter set) and mounts the kubelet's
    pod-resources directory (``hostPath /var/lib/kubelet/pod-resources``, read-only) to map GPUs to pods,
    with a writable root file system (the image's entrypoint runs ``ldconfig``); hence it runs in the
    privileged ``node_exporter_namespace``. It needs no Kubernetes API access (no
    pod labels), so its service-account token is not mounted and no ClusterRole is created (the chart's
    one Role, always rendered, may only read the exporter's own counters ConfigMap)."""
    return {
        "fullnameOverride": DCGM_EXPORTER_RELEASE,
        "nodeSelector": dict(args.gpu_node_selector),
        # Replaces the chart's default (a control-plane toleration). The taint's key and effect, whatever
        # its value: the managed group sets nvidia.com/gpu=true, a Karpenter pool may set the key alone.
        "tolerations": [
            {"key": key, "operator": "Exists", "effect": TAINT_EFFECTS[effect]}
            for key, effect in dict.fromkeys((key, effect) for key, _value, effect in args.gpu_tolerations)
        ],
        "resources": _resources("100m", "256Mi", "500m", "512Mi"),
        "priorityClassName": "system-node-critical",
        "service": {"enable": True, "type": "ClusterIP", "port": DCGM_EXPORTER_PORT},
        "serviceMonitor": {
            "enabled": True,
            "interval": "30s",
            "scrapeTimeout": "10s",
            "honorLabels": False,
            "relabelings": [
                {"action": "replace", "targetLabel": "job", "replacement": DCGM_EXPORTER_RELEASE},
                {
                    "action": "replace",
                    "sourceLabels": ["__meta_kubernetes_pod_node_name"],
                    "targetLabel": "node",
                },
            ],
        },
        "kubernetes": {"enablePodLabels": False, "enablePodUID": False, "rbac": {"create": False}},
    }


# ---- NetworkPolicies of the monitoring namespaces ---------------------------------------------------------

PROMETHEUS_POD_LABELS = {
    "app.kubernetes.io/name": "prometheus",
    "operator.prometheus.io/name": f"{RELEASE_NAME}-prometheus",
}
ALERTMANAGER_POD_LABELS = {
    "app.kubernetes.io/name": "alertmanager",
    "alertmanager": f"{RELEASE_NAME}-alertmanager",
}
GRAFANA_POD_LABELS = {"app.kubernetes.io/name": "grafana"}
OPERATOR_POD_LABELS = {"app": f"{RELEASE_NAME}-operator"}
# The operator and its admission-webhook certificate Jobs (pre-install/upgrade hooks) share this label.
OPERATOR_NAME_LABEL = ("app.kubernetes.io/name", "kube-prometheus-stack-prometheus-operator")
KUBE_STATE_METRICS_NAME = "kube-state-metrics"
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
ALERTMANAGER_CLUSTER_PORT = 9094
OPERATOR_WEBHOOK_PORT = 10250
NODE_EXPORTER_PORT = 9100
KUBELET_PORT = 10250
API_SERVER_PORT = 443


HEARTBEAT_POLICY = "alertmanager-heartbeat"
"""The NetworkPolicy opening Alertmanager's HTTPS egress to the internet, created only with a heartbeat."""


def network_policies(args: MonitoringArgs) -> list[tuple[str, str, k8s.networking.v1.NetworkPolicySpecArgs]]:
    """``(namespace, name, spec)`` of the NetworkPolicies of the monitoring namespaces: default deny of
    all ingress and egress, then the narrow allows each component needs.

    ``kubectl port-forward`` reaches a pod over its loopback interface (the kubelet enters the pod's
    network namespace), so it is not subject to NetworkPolicy: users reach Grafana, Prometheus and
    Alertmanager that way, authenticated by EKS (IAM) and authorised by RBAC (``pods/portforward``).
    Kubelet probes from the pod's own node are always admitted."""
    ns, node_ns = args.namespace, args.node_exporter_namespace
    V1 = k8s.networking.v1
    dns = dns_egress()
    api_server = V1.NetworkPolicyEgressRuleArgs(to=cidrs(args.cluster_cidrs), ports=ports(API_SERVER_PORT))
    # AWS APIs (SNS, STS for IRSA, CloudWatch) answer on the VPC's interface endpoints (the platform creates
    # sns, monitoring and sts in every profile), and the API server's ENIs sit in the VPC too: HTTPS to the
    # cluster CIDRs covers both, and nothing reaches the internet.
    aws_apis = api_server
    deny_all = V1.NetworkPolicySpecArgs(pod_selector=selector(), policy_types=["Ingress", "Egress"])
    prometheus = pods(PROMETHEUS_POD_LABELS)
    grafana = pods(GRAFANA_POD_LABELS)
    alertmanager = pods(ALERTMANAGER_POD_LABELS)
    policies: list[tuple[str, str, V1.NetworkPolicySpecArgs]] = [
        (ns, "default-deny", deny_all),
        (
            ns,
            "allow-dns",
            V1.NetworkPolicySpecArgs(pod_selector=selector(), policy_types=["Egress"], egress=[dns]),
        ),
        # Prometheus scrapes every component of the stack (metrics and config-reloader ports).
        (
            ns,
            "allow-scrape-from-prometheus",
            V1.NetworkPolicySpecArgs(
                pod_selector=selector(),
                policy_types=["Ingress"],
                ingress=[V1.NetworkPolicyIngressRuleArgs(from_=[prometheus])],
            ),
        ),
        (
            ns,
            "prometheus",
            V1.NetworkPolicySpecArgs(
                pod_selector=selector(PROMETHEUS_POD_LABELS),
                policy_types=["Ingress", "Egress"],
                ingress=[V1.NetworkPolicyIngressRuleArgs(from_=[grafana], ports=ports(PROMETHEUS_PORT))],
                egress=[
                    # Scrape targets are pods in any namespace (ServiceMonitors and PodMonitors anywhere),
                    # Alertmanager included.
                    V1.NetworkPolicyEgressRuleArgs(
                        to=[V1.NetworkPolicyPeerArgs(namespace_selector=selector())]
                    ),
                    # Node-level targets (kubelet and cAdvisor, node-exporter on the host network) and the
                    # API server (service discovery, and its own metrics).
                    V1.NetworkPolicyEgressRuleArgs(
                        to=cidrs(args.cluster_cidrs),
                        ports=ports(API_SERVER_PORT, KUBELET_PORT, NODE_EXPORTER_PORT),
                    ),
                ],
            ),
        ),
        (
            ns,
            "alertmanager",
            V1.NetworkPolicySpecArgs(
                pod_selector=selector(ALERTMANAGER_POD_LABELS),
                policy_types=["Ingress", "Egress"],
                ingress=[
                    V1.NetworkPolicyIngressRuleArgs(
                        from_=[prometheus, grafana], ports=ports(ALERTMANAGER_PORT)
                    ),
                    V1.NetworkPolicyIngressRuleArgs(
                        from_=[alertmanager], ports=ports(ALERTMANAGER_CLUSTER_PORT, udp=True)
                    ),
                ],
                egress=[
                    V1.NetworkPolicyEgressRuleArgs(
                        to=[alertmanager], ports=ports(ALERTMANAGER_CLUSTER_PORT, udp=True)
                    ),
                    aws_apis,  # SNS and STS (IRSA) through the VPC's interface endpoints
                ],
            ),
        ),
        (
            ns,
            "grafana",
            V1.NetworkPolicySpecArgs(
                pod_selector=selector(GRAFANA_POD_LABELS),
                policy_types=["Egress"],
                egress=[
                    V1.NetworkPolicyEgressRuleArgs(to=[prometheus], ports=ports(PROMETHEUS_PORT)),
                    V1.NetworkPolicyEgressRuleArgs(to=[alertmanager], ports=ports(ALERTMANAGER_PORT)),
                    aws_apis,  # CloudWatch and STS (endpoints), the API server for the dashboard sidecars
                ],
            ),
        ),
        (
            ns,
            "prometheus-operator",
            V1.NetworkPolicySpecArgs(
                pod_selector=selector(OPERATOR_POD_LABELS),
                policy_types=["Ingress"],
                # The API server calls the PrometheusRule admission webhook from the control plane's ENIs.
                ingress=[
                    V1.NetworkPolicyIngressRuleArgs(
                        from_=cidrs(args.cluster_cidrs), ports=ports(OPERATOR_WEBHOOK_PORT)
                    )
                ],
            ),
        ),
        (
            ns,
            "allow-api-server",
            V1.NetworkPolicySpecArgs(
                # The operator, its webhook-certificate Jobs and kube-state-metrics watch the API server.
                pod_selector=k8s.meta.v1.LabelSelectorArgs(
                    match_expressions=[
                        k8s.meta.v1.LabelSelectorRequirementArgs(
                            key="app.kubernetes.io/name",
                            operator="In",
                            values=[OPERATOR_NAME_LABEL[1], KUBE_STATE_METRICS_NAME],
                        )
                    ]
                ),
                policy_types=["Egress"],
                egress=[api_server],
            ),
        ),
        (node_ns, "default-deny", deny_all),
        (
            node_ns,
            "allow-scrape-from-prometheus",
            V1.NetworkPolicySpecArgs(
                pod_selector=selector(),
                policy_types=["Ingress"],
                ingress=[
                    V1.NetworkPolicyIngressRuleArgs(
                        from_=[pods(PROMETHEUS_POD_LABELS, ns)],
                        ports=ports(NODE_EXPORTER_PORT, DCGM_EXPORTER_PORT),
                    )
                ],
            ),
        ),
    ]
    if args.heartbeat_url_secret:
        # The dead-man's-switch webhook lives outside AWS: the one open egress of the namespace, in a policy of
        # its own so a stack's policy config can allow-list exactly it (allowedOpenEgress:
        # "<namespace>/alertmanager-heartbeat").
        policies.append(
            (
                ns,
                HEARTBEAT_POLICY,
                V1.NetworkPolicySpecArgs(
                    pod_selector=selector(ALERTMANAGER_POD_LABELS),
                    policy_types=["Egress"],
                    egress=[
                        V1.NetworkPolicyEgressRuleArgs(
                            to=[V1.NetworkPolicyPeerArgs(ip_block=V1.IPBlockArgs(cidr="0.0.0.0/0"))],
                            ports=ports(443),
                        )
                    ],
                ),
            )
        )
    return policies


def platform_rules(args: MonitoringArgs, mlflow_namespace: str | None) -> list[dict[str, Any]]:
    """The platform's alerting rule groups (MLflow, workloads, storage and, with GPUs, GPU nodes)."""
    t = args.thresholds
    groups: list[dict[str, Any]] = []
    if args.mlflow is not None:
        sel = 'job="mlflow"'
        groups.append(
            {
                "name": "mlflow",
                "rules": [
                    alert_rule(
                        "MlflowDown",
                        f"absent(up{{{sel}}} == 1)",
                        duration="5m",
                        severity="critical",
                        summary="MLflow tracking server is down or cannot be scraped",
                        description="No MLflow replica has answered Prometheus' scrape of /metrics for 5 minutes "
                        "(pods down, or the scrape credentials are missing or wrong).",
                    ),
                    alert_rule(
                        "MlflowHighErrorRate",
                        f'100 * sum(rate(mlflow_http_request_total{{{sel},status=~"5.."}}[5m])) '
                        f"/ sum(rate(mlflow_http_request_total{{{sel}}}[5m])) > {t.mlflow_error_percent}",
                        duration="10m",
                        severity="critical",
                        summary="MLflow is answering with server errors",
                        description=f"More than {t.mlflow_error_percent} % of MLflow requests failed with 5xx "
                        'over the last 10 minutes (value: {{ $value | printf "%.1f" }} %).',
                    ),
                    alert_rule(
                        "MlflowHighLatency",
                        "histogram_quantile(0.95, sum by (le) "
                        f"(rate(mlflow_http_request_duration_seconds_bucket{{{sel}}}[5m]))) "
                        f"> {t.mlflow_p95_latency_ms / 1000:g}",
                        duration="15m",
                        severity="warning",
                        summary="MLflow is slow",
                        description=f"MLflow's 95th-percentile latency has been above {t.mlflow_p95_latency_ms} ms "
                        "for 15 minutes (value: {{ $value | humanizeDuration }}).",
                    ),
                ],
            }
        )
    namespaces = [
        args.namespace,
        *([mlflow_namespace] if mlflow_namespace else []),
        *args.platform_namespaces,
    ]
    # Kubernetes names hold only [a-z0-9-]: no regex metacharacters, and no escapes (PromQL strings
    # reject unknown escape sequences such as "\-").
    ns_re = "|".join(check_k8s_name(n, "namespace") for n in dict.fromkeys(namespaces))
    groups.append(
        {
            "name": "platform-workloads",
            "rules": [
                alert_rule(
                    "PlatformPodCrashLooping",
                    f"max by (namespace, pod, container) (max_over_time(kube_pod_container_status_waiting_reason"
                    f'{{job="kube-state-metrics",reason="CrashLoopBackOff",namespace=~"{ns_re}"}}[5m])) >= 1 '
                    f"or max by (namespace, pod, container) (increase(kube_pod_container_status_restarts_total"
                    f'{{job="kube-state-metrics",namespace=~"{ns_re}"}}[30m])) > 5',
                    duration="10m",
                    severity="critical",
                    summary="A platform pod is crash-looping",
                    description="{{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.container }}) is in "
                    "CrashLoopBackOff or restarted more than 5 times in 30 minutes.",
                ),
                alert_rule(
                    "PersistentVolumeFilling",
                    '100 * kubelet_volume_stats_available_bytes{job="kubelet"} '
                    '/ kubelet_volume_stats_capacity_bytes{job="kubelet"} '
                    f"< {t.volume_free_percent} "
                    'and kubelet_volume_stats_used_bytes{job="kubelet"} > 0',
                    duration="15m",
                    severity="warning",
                    summary="A persistent volume is filling up",
                    description="{{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} has "
                    '{{ $value | printf "%.1f" }} % free '
                    f"(threshold {t.volume_free_percent} %).",
                ),
            ],
        }
    )
    if args.gpu_enabled:
        dcgm = f'job="{DCGM_EXPORTER_RELEASE}"'
        groups.append(
            {
                "name": "gpu-nodes",
                "rules": [
                    # Per node; no series (no GPU node, group scaled to zero) is no alert.
                    alert_rule(
                        "GpuNodeIdle",
                        f"avg by (node) (avg_over_time(DCGM_FI_DEV_GPU_UTIL{{{dcgm}}}[30m])) < {t.gpu_idle_percent}",
                        duration="1h",
                        severity="warning",
                        summary="A GPU node is idle",
                        description='GPUs on {{ $labels.node }} averaged {{ $value | printf "%.0f" }} % '
                        f"utilisation (below {t.gpu_idle_percent} %) for over an hour: scale the GPU group down "
                        "or schedule work on it.",
                    ),
                    # Only nodes that advertise GPUs count: no GPU group, or a group scaled to zero, has
                    # no such node; a new node's exporter gets 30 minutes to start.
                    alert_rule(
                        "GpuMetricsMissing",
                        "max by (node) "
                        '(kube_node_status_capacity{job="kube-state-metrics",resource="nvidia_com_gpu"}) > 0 '
                        f"unless on (node) max by (node) (DCGM_FI_DEV_GPU_UTIL{{{dcgm}}})",
                        duration="30m",
                        severity="warning",
                        summary="A GPU node reports no DCGM metrics",
                        description="{{ $labels.node }} advertises GPUs but Prometheus receives no DCGM_FI_DEV_GPU_UTIL "
                        "from it: the DCGM exporter is not running there (is the node labelled "
                        f"{GPU_NODE_LABEL[0]}={GPU_NODE_LABEL[1]}?) or cannot be scraped, so GPU alerts are blind.",
                    ),
                ],
            }
        )
    return groups


def platform_dashboard(args: MonitoringArgs, database_identifier: str | None) -> dict[str, Any]:
    """The platform dashboard: MLflow traffic, errors and latency; nodes (and GPUs); the database."""
    d = Dashboard("mlops-platform", "MLOps platform", tags=["mlops", "platform"])
    if args.mlflow is not None:
        d.row("MLflow tracking server")
        http_service_panels(
            d,
            requests_metric="mlflow_http_request_total",
            duration_metric="mlflow_http_request_duration_seconds",
            selector='job="mlflow"',
            error_ratio_threshold=args.thresholds.mlflow_error_percent / 100,
            latency_threshold_seconds=args.thresholds.mlflow_p95_latency_ms / 1000,
        )
    d.row("Nodes")
    d.panel(
        "timeseries",
        "CPU utilisation by node",
        [
            prom_target(
                '1 - avg by (instance) (rate(node_cpu_seconds_total{job="node-exporter",mode="idle"}[5m]))',
                "{{instance}}",
            ),
        ],
        unit="percentunit",
        max_value=1,
    )
    d.panel(
        "timeseries",
        "Memory utilisation by node",
        [
            prom_target(
                '1 - node_memory_MemAvailable_bytes{job="node-exporter"} '
                '/ node_memory_MemTotal_bytes{job="node-exporter"}',
                "{{instance}}",
            ),
        ],
        unit="percentunit",
        max_value=1,
    )
    if args.gpu_enabled:
        d.row("GPUs")
        d.panel(
            "timeseries",
            "GPU utilisation",
            [
                prom_target("avg by (node, gpu) (DCGM_FI_DEV_GPU_UTIL)", "{{node}} GPU {{gpu}}"),
            ],
            unit="percent",
            max_value=100,
        )
        d.panel(
            "timeseries",
            "GPU memory used",
            [
                prom_target("sum by (node) (DCGM_FI_DEV_FB_USED) * 1024 * 1024", "{{node}}"),
            ],
            unit="bytes",
        )
    if database_identifier is not None:
        dims = {"DBInstanceIdentifier": database_identifier}
        d.row("Database (CloudWatch)")
        d.panel(
            "timeseries",
            "Database connections",
            [
                cloudwatch_target("AWS/RDS", "DatabaseConnections", dims, "Maximum", label="connections"),
            ],
            width=8,
            thresholds=[(None, "green"), (args.thresholds.rds_max_connections, "red")],
        )
        d.panel(
            "timeseries",
            "Free storage",
            [
                cloudwatch_target("AWS/RDS", "FreeStorageSpace", dims, "Minimum", label="free"),
            ],
            unit="bytes",
            width=8,
        )
        d.panel(
            "timeseries",
            "CPU utilisation",
            [
                cloudwatch_target("AWS/RDS", "CPUUtilization", dims, "Average", label="cpu"),
            ],
            unit="percent",
            width=8,
            max_value=100,
        )
    return d.build()


class Monitoring(pulumi.ComponentResource):
    """kube-prometheus-stack with the platform's rules and dashboard, an encrypted SNS alert topic
    and CloudWatch alarms. See the module docstring for where alerts go.

    Outputs: ``alert_topic_arn``, ``namespace``, ``prometheus_url``, ``alertmanager_url``,
    ``grafana_url`` (in-cluster URLs), ``grafana_admin_secret``, ``alertmanager_role_arn``,
    ``grafana_role_arn``, ``alarm_names``.
    """

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:monitoring:Monitoring", name, None, opts)
        _validate(args)
        child = pulumi.ResourceOptions(parent=self)
        ns = args.namespace
        issuer = pulumi.Output.from_input(args.oidc_issuer_url).apply(_issuer_host)
        provider_arn = pulumi.Output.from_input(args.oidc_provider_arn)

        # ---- namespaces ----------------------------------------------------------------------------
        self.namespace_resource = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=ns,
                labels={
                    "app.kubernetes.io/part-of": "mlops-platform",
                    "pod-security.kubernetes.io/enforce": "baseline",
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                },
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        node_exporter_ns = k8s.core.v1.Namespace(
            f"{name}-node-exporter-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.node_exporter_namespace,
                labels={
                    "app.kubernetes.io/part-of": "mlops-platform",
                    # node-exporter reads the host's /proc and /sys with hostNetwork and hostPID.
                    "pod-security.kubernetes.io/enforce": "privileged",
                    "pod-security.kubernetes.io/warn": "baseline",
                    "pod-security.kubernetes.io/audit": "baseline",
                },
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace_resource, *args.depends_on])

        # ---- NetworkPolicies: default deny, then the narrow allows (before any pod starts) -------------
        namespaces = {ns: self.namespace_resource, args.node_exporter_namespace: node_exporter_ns}
        self.network_policies: list[k8s.networking.v1.NetworkPolicy] = [
            k8s.networking.v1.NetworkPolicy(
                f"{name}-netpol-{'node-' if policy_ns != ns else ''}{policy_name}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=policy_name,
                    namespace=policy_ns,
                    labels={"app.kubernetes.io/part-of": "mlops-platform"},
                ),
                spec=spec,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[namespaces[policy_ns]]),
            )
            for policy_ns, policy_name, spec in network_policies(args)
        ]

        # ---- workload identity roles ----------------------------------------------------------------
        def trust(service_account: str) -> pulumi.Output[str]:
            return pulumi.Output.all(provider_arn, issuer).apply(
                lambda a: irsa_trust_policy(a[0], a[1], ns, service_account)
            )

        self.alertmanager_role = aws.iam.Role(
            f"{name}-alertmanager",
            assume_role_policy=trust(ALERTMANAGER_SERVICE_ACCOUNT),
            description="Alertmanager (IRSA): publish alerts to the platform's SNS topic",
            max_session_duration=3600,
            opts=child,
        )
        self.grafana_role = aws.iam.Role(
            f"{name}-grafana",
            assume_role_policy=trust(GRAFANA_SERVICE_ACCOUNT),
            description="Grafana (IRSA): read CloudWatch metrics for the CloudWatch data source",
            max_session_duration=3600,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-grafana-cloudwatch",
            role=self.grafana_role.id,
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "ReadMetrics",
                            "Effect": "Allow",
                            "Action": GRAFANA_CLOUDWATCH_ACTIONS,
                            # These read-only actions support no resource-level permissions.
                            "Resource": "*",
                        }
                    ],
                }
            ),
            opts=child,
        )

        # ---- alert topic ---------------------------------------------------------------------------
        self.topic = aws.sns.Topic(
            f"{name}-alerts",
            display_name="MLOps platform alerts",
            kms_master_key_id=args.alert_kms_key_arn,
            # HTTPS subscribers verify messages signed with SHA256 rather than SHA1.
            signature_version=2,
            tags={"Name": f"{name}-alerts"},
            opts=child,
        )
        aws.sns.TopicPolicy(
            f"{name}-alerts",
            arn=self.topic.arn,
            policy=pulumi.Output.all(self.topic.arn, self.alertmanager_role.arn, provider_arn).apply(
                lambda a: topic_policy(a[0], a[1], a[2], args.region)
            ),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-alertmanager-publish",
            role=self.alertmanager_role.id,
            policy=pulumi.Output.all(self.topic.arn, args.alert_kms_key_arn).apply(
                lambda a: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Sid": "Publish", "Effect": "Allow", "Action": "sns:Publish", "Resource": a[0]},
                            {
                                "Sid": "EncryptForTopic",
                                "Effect": "Allow",
                                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                                "Resource": a[1],
                                "Condition": {
                                    "StringEquals": {"kms:ViaService": f"sns.{args.region}.amazonaws.com"}
                                },
                            },
                        ],
                    }
                )
            ),
            opts=child,
        )
        for i, email in enumerate(args.alert_emails):
            aws.sns.TopicSubscription(
                f"{name}-alerts-email-{i}", topic=self.topic.arn, protocol="email", endpoint=email, opts=child
            )
        for i, url in enumerate(args.alert_https_endpoints):
            aws.sns.TopicSubscription(
                f"{name}-alerts-https-{i}",
                topic=self.topic.arn,
                protocol="https",
                endpoint=url,
                endpoint_auto_confirms=False,
                confirmation_timeout_in_minutes=5,
                opts=child,
            )

        # ---- Grafana admin credentials, generated in the cluster (External Secrets Operator) ----------
        generator = k8s.apiextensions.CustomResource(
            f"{name}-grafana-admin-generator",
            api_version="generators.external-secrets.io/v1alpha1",
            kind="Password",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{GRAFANA_ADMIN_SECRET}-password", namespace=ns),
            spec={"length": 32, "digits": 6, "symbols": 0, "noUpper": False, "allowRepeat": True},
            opts=in_ns,
        )
        admin_secret = k8s.apiextensions.CustomResource(
            f"{name}-grafana-admin",
            api_version=args.external_secrets_api_version,
            kind="ExternalSecret",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=GRAFANA_ADMIN_SECRET, namespace=ns),
            spec={
                # Generate once; a new password on every refresh would lock administrators out.
                "refreshInterval": "0s",
                "refreshPolicy": "CreatedOnce",
                "target": {
                    "name": GRAFANA_ADMIN_SECRET,
                    "creationPolicy": "Owner",
                    "template": {
                        "engineVersion": "v2",
                        "type": "Opaque",
                        "data": {"admin-user": "admin", "admin-password": "{{ .password }}"},
                    },
                },
                "dataFrom": [
                    {
                        "sourceRef": {
                            "generatorRef": {
                                "apiVersion": "generators.external-secrets.io/v1alpha1",
                                "kind": "Password",
                                "name": f"{GRAFANA_ADMIN_SECRET}-password",
                            }
                        }
                    }
                ],
            },
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.namespace_resource, generator, *args.depends_on]
            ),
        )

        # ---- kube-prometheus-stack -------------------------------------------------------------------
        self.values = helm_values(
            args,
            alertmanager_role_arn=self.alertmanager_role.arn,
            grafana_role_arn=self.grafana_role.arn,
            topic_arn=self.topic.arn,
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-kube-prometheus-stack",
            k8s.helm.v3.ReleaseArgs(
                name=RELEASE_NAME,
                chart=KUBE_PROMETHEUS_STACK_CHART,
                version=args.chart_version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=args.chart_repository),
                namespace=ns,
                create_namespace=False,
                atomic=True,
                cleanup_on_fail=True,
                max_history=10,
                timeout=900,
                values=self.values,
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[
                    self.namespace_resource,
                    node_exporter_ns,
                    admin_secret,
                    *self.network_policies,
                    *args.depends_on,
                ],
            ),
        )
        after_release = pulumi.ResourceOptions(parent=self, depends_on=[self.release])

        # ---- NVIDIA DCGM exporter on the GPU nodes (the GPU rules and panels read its metrics) ---------
        self.dcgm_exporter: k8s.helm.v3.Release | None = None
        if args.gpu_enabled:
            self.dcgm_exporter = k8s.helm.v3.Release(
                f"{name}-dcgm-exporter",
                k8s.helm.v3.ReleaseArgs(
                    name=DCGM_EXPORTER_RELEASE,
                    chart=DCGM_EXPORTER_CHART,
                    version=DCGM_EXPORTER_VERSION,
                    repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=DCGM_EXPORTER_REPOSITORY),
                    # Root, SYS_ADMIN and a hostPath: Pod Security "privileged", like node-exporter.
                    namespace=args.node_exporter_namespace,
                    create_namespace=False,
                    atomic=True,
                    cleanup_on_fail=True,
                    max_history=10,
                    # A DaemonSet on a GPU group scaled to zero is ready with no pods: nothing waits on GPUs.
                    timeout=600,
                    values=dcgm_exporter_values(args),
                ),
                # Its ServiceMonitor needs the operator's CRDs, which come with kube-prometheus-stack.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.release, node_exporter_ns]),
            )

        # ---- platform observability ------------------------------------------------------------------
        mlflow_ns: pulumi.Output[str] | None = None
        if args.mlflow is not None:
            m = args.mlflow
            mlflow_ns = pulumi.Output.from_input(m.namespace)
            self.mlflow_service_monitor: k8s.apiextensions.CustomResource | None = service_monitor(
                f"{name}-mlflow",
                name="mlflow",
                namespace=mlflow_ns,
                selector=m.selector,
                port=m.port,
                path=m.path,
                job="mlflow",
                basic_auth_secret=(m.basic_auth_secret, m.username_key, m.password_key)
                if m.basic_auth_secret
                else None,
                labels={"app.kubernetes.io/part-of": "mlops-platform"},
                opts=after_release,
            )
        else:
            self.mlflow_service_monitor = None

        rule_groups = (mlflow_ns if mlflow_ns is not None else pulumi.Output.from_input("")).apply(
            lambda n: platform_rules(args, n or None)
        )
        self.rules = prometheus_rule(
            f"{name}-platform-rules",
            name="mlops-platform",
            namespace=ns,
            groups=rule_groups,
            labels={"app.kubernetes.io/part-of": "mlops-platform"},
            opts=after_release,
        )

        database = args.database_identifier
        dashboard_json = pulumi.Output.all(
            pulumi.Output.from_input(database) if database is not None else pulumi.Output.from_input("")
        ).apply(lambda a: to_json(platform_dashboard(args, a[0] if database is not None else None)))
        self.dashboard = dashboard_config_map(
            f"{name}-dashboard",
            name="mlops-platform-dashboard",
            namespace=ns,
            folder=PLATFORM_DASHBOARD_FOLDER,
            dashboard=dashboard_json,
            opts=in_ns,
        )

        # ---- CloudWatch alarms ---------------------------------------------------------------------
        self.alarms = self._alarms(name, args, child)

        # ---- outputs -------------------------------------------------------------------------------
        svc = f"{ns}.svc.cluster.local"
        self.alert_topic_arn = self.topic.arn
        self.namespace = pulumi.Output.from_input(ns)
        self.prometheus_url = pulumi.Output.from_input(f"http://{RELEASE_NAME}-prometheus.{svc}:9090")
        self.alertmanager_url = pulumi.Output.from_input(f"http://{RELEASE_NAME}-alertmanager.{svc}:9093")
        self.grafana_url = pulumi.Output.from_input(f"http://grafana.{svc}:80")
        self.grafana_admin_secret = pulumi.Output.from_input(f"{ns}/{GRAFANA_ADMIN_SECRET}")
        self.alertmanager_role_arn = self.alertmanager_role.arn
        self.grafana_role_arn = self.grafana_role.arn
        self.alarm_names = pulumi.Output.all(*[a.name for a in self.alarms])
        self.register_outputs(
            {
                "alert_topic_arn": self.alert_topic_arn,
                "namespace": self.namespace,
                "prometheus_url": self.prometheus_url,
                "alertmanager_url": self.alertmanager_url,
                "grafana_url": self.grafana_url,
                "grafana_admin_secret": self.grafana_admin_secret,
                "alertmanager_role_arn": self.alertmanager_role_arn,
                "grafana_role_arn": self.grafana_role_arn,
                "alarm_names": self.alarm_names,
            }
        )

    # ---- CloudWatch alarms -----------------------------------------------------------------------------
    def _alarms(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions
    ) -> list[aws.cloudwatch.MetricAlarm]:
        t = args.thresholds
        alarms: list[aws.cloudwatch.MetricAlarm] = []
        actions = [self.topic.arn]

        def alarm(suffix: str, description: str, **kwargs: Any) -> None:
            kwargs.setdefault("treat_missing_data", "missing")
            alarms.append(
                aws.cloudwatch.MetricAlarm(
                    f"{name}-{suffix}",
                    name=f"{name}-{suffix}",
                    alarm_description=description,
                    actions_enabled=True,
                    alarm_actions=actions,
                    ok_actions=actions,
                    opts=opts,
                    **kwargs,
                )
            )

        if args.database_identifier is not None:
            db = {"DBInstanceIdentifier": args.database_identifier}
            rds: list[tuple[str, str, str, str, float, str]] = [
                (
                    "rds-cpu-high",
                    "CPUUtilization",
                    "Average",
                    "GreaterThanThreshold",
                    t.rds_cpu_percent,
                    f"Database CPU above {t.rds_cpu_percent} % for 15 minutes.",
                ),
                (
                    "rds-free-storage-low",
                    "FreeStorageSpace",
                    "Minimum",
                    "LessThanThreshold",
                    t.rds_free_storage_gib * 1024**3,
                    f"Database free storage below {t.rds_free_storage_gib} GiB (storage autoscaling may be at its "
                    "ceiling).",
                ),
                (
                    "rds-freeable-memory-low",
                    "FreeableMemory",
                    "Average",
                    "LessThanThreshold",
                    t.rds_freeable_memory_mib * 1024**2,
                    f"Database freeable memory below {t.rds_freeable_memory_mib} MiB for 15 minutes.",
                ),
                (
                    "rds-connections-high",
                    "DatabaseConnections",
                    "Maximum",
                    "GreaterThanThreshold",
                    t.rds_max_connections,
                    f"More than {t.rds_max_connections} database connections for 15 minutes.",
                ),
                (
                    "rds-read-latency-high",
                    "ReadLatency",
                    "Average",
                    "GreaterThanThreshold",
                    t.rds_read_latency_ms / 1000,
                    f"Database read latency above {t.rds_read_latency_ms} ms.",
                ),
                (
                    "rds-write-latency-high",
                    "WriteLatency",
                    "Average",
                    "GreaterThanThreshold",
                    t.rds_write_latency_ms / 1000,
                    f"Database write latency above {t.rds_write_latency_ms} ms.",
                ),
            ]
            for suffix, metric, stat, op, threshold, description in rds:
                alarm(
                    suffix,
                    description,
                    namespace="AWS/RDS",
                    metric_name=metric,
                    dimensions=db,
                    statistic=stat,
                    comparison_operator=op,
                    threshold=threshold,
                    period=300,
                    evaluation_periods=3,
                    datapoints_to_alarm=3,
                )

        for i, nat in enumerate(args.nat_gateway_ids):
            dims = {"NatGatewayId": nat}
            # AWS's recommended alarms: any port allocation error for 15 minutes; more than 0.01 % of
            # packets dropped for 5 minutes.
            alarm(
                f"nat-{i}-port-allocation-errors",
                "NAT gateway could not allocate source ports (too many concurrent connections to one "
                "destination).",
                namespace="AWS/NATGateway",
                metric_name="ErrorPortAllocation",
                dimensions=dims,
                statistic="Sum",
                comparison_operator="GreaterThanThreshold",
                threshold=0,
                period=60,
                evaluation_periods=15,
                datapoints_to_alarm=15,
                treat_missing_data="notBreaching",
            )

            def nat_metric(
                metric: str, dims: dict[str, Any] = dims
            ) -> aws.cloudwatch.MetricAlarmMetricQueryMetricArgs:
                return aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                    namespace="AWS/NATGateway", metric_name=metric, dimensions=dims, stat="Sum", period=60
                )

            alarm(
                f"nat-{i}-packets-dropped",
                f"NAT gateway dropped more than {t.nat_packet_drop_basis_points / 100:g} % of packets.",
                comparison_operator="GreaterThanThreshold",
                threshold=t.nat_packet_drop_basis_points,
                evaluation_periods=5,
                datapoints_to_alarm=5,
                treat_missing_data="notBreaching",
                metric_queries=[
                    aws.cloudwatch.MetricAlarmMetricQueryArgs(
                        id="drop_bp",
                        label="Dropped packets (basis points)",
                        return_data=True,
                        expression="IF((src + dst) > 0, 10000 * dropped / (src + dst), 0)",
                    ),
                    aws.cloudwatch.MetricAlarmMetricQueryArgs(
                        id="dropped", metric=nat_metric("PacketsDropCount")
                    ),
                    aws.cloudwatch.MetricAlarmMetricQueryArgs(
                        id="src", metric=nat_metric("PacketsInFromSource")
                    ),
                    aws.cloudwatch.MetricAlarmMetricQueryArgs(
                        id="dst", metric=nat_metric("PacketsInFromDestination")
                    ),
                ],
            )

        # EKS vends control-plane metrics to CloudWatch (AWS/EKS, Kubernetes 1.28+, free): API server
        # errors and the etcd database size are the two that signal a control plane in trouble.
        cluster = {"ClusterName": args.cluster_name}

        def eks_metric(metric: str) -> aws.cloudwatch.MetricAlarmMetricQueryMetricArgs:
            return aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                namespace="AWS/EKS", metric_name=metric, dimensions=cluster, stat="Sum", period=60
            )

        alarm(
            "eks-apiserver-5xx",
            f"More than {t.eks_apiserver_5xx_percent} % of Kubernetes API requests failed with 5xx for 5 minutes.",
            comparison_operator="GreaterThanThreshold",
            threshold=t.eks_apiserver_5xx_percent,
            evaluation_periods=5,
            datapoints_to_alarm=5,
            treat_missing_data="notBreaching",
            metric_queries=[
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="error_pct",
                    label="API server 5xx (%)",
                    return_data=True,
                    expression="IF(total > 0, 100 * errors / total, 0)",
                ),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="errors", metric=eks_metric("apiserver_request_total_5XX")
                ),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="total", metric=eks_metric("apiserver_request_total")
                ),
            ],
        )
        alarm(
            "eks-etcd-storage-high",
            f"The cluster's etcd database exceeds {t.eks_etcd_storage_mib} MiB; at 8 GiB EKS stops accepting "
            "writes. Delete unused objects (old ReplicaSets, Events, large ConfigMaps).",
            namespace="AWS/EKS",
            metric_name="apiserver_storage_size_bytes",
            dimensions=cluster,
            statistic="Maximum",
            comparison_operator="GreaterThanThreshold",
            threshold=t.eks_etcd_storage_mib * 1024**2,
            period=300,
            evaluation_periods=1,
            datapoints_to_alarm=1,
        )
        return alarms
