"""Helm values of the charts Monitoring installs: kube-prometheus-stack (:func:`helm_values`, one builder per
sub-chart) and NVIDIA's DCGM exporter (:func:`dcgm_exporter_values`). Pure functions of the arguments and the
ARNs the component passes in.
"""

from __future__ import annotations

from typing import Any

import pulumi

from mlops_platform.components.cluster.node_groups import TAINT_EFFECTS
from mlops_platform.components.monitoring.alerting import alertmanager_config
from mlops_platform.components.monitoring.args import MonitoringArgs
from mlops_platform.components.monitoring.charts import (
    ALERTMANAGER_SERVICE_ACCOUNT,
    DCGM_EXPORTER_PORT,
    DCGM_EXPORTER_RELEASE,
    GRAFANA_ADMIN_SECRET,
    GRAFANA_SERVICE_ACCOUNT,
    RELEASE_NAME,
)

__all__ = [
    "GRAFANA_SIDECAR_HEALTH_PORTS",
    "dcgm_exporter_values",
    "helm_values",
    "open_selectors",
    "pdb",
    "pod_security",
    "resources",
    "retention_size_gb",
]


def resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict[str, dict[str, str]]:
    """A container's requests and limits."""
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


def pdb(replicas: int) -> dict[str, Any]:
    """A sub-chart's PodDisruptionBudget block: on only when replicated, keeping all replicas but one."""
    # The chart renders every key of this block into the PDB's spec (toYaml of the block without
    # "enabled"), so only minAvailable is given: the API server rejects a PDB carrying both
    # minAvailable and maxUnavailable, and an empty int-or-string.
    return {"enabled": replicas > 1, "minAvailable": max(1, replicas - 1)}


# No UI leaves the cluster: ClusterIP Services and no Ingress; users reach Prometheus, Alertmanager and
# Grafana with `kubectl port-forward` (authenticated by EKS with IAM and authorised by RBAC), and the
# NetworkPolicies of the monitoring namespace admit in-cluster callers only where they are needed.
_INTERNAL_ONLY: dict[str, Any] = {"service": {"type": "ClusterIP"}, "ingress": {"enabled": False}}


def pod_security(uid: int, gid: int | None = None) -> dict[str, Any]:
    """A non-root pod security context as ``uid`` (group and volume group ``gid``, default ``uid``)."""
    g = uid if gid is None else gid
    return {**_POD_SECURITY, "runAsUser": uid, "runAsGroup": g, "fsGroup": g}


def retention_size_gb(storage_gib: int) -> int:
    """Prometheus' size-based retention: 85 % of its volume, at least 1 GB."""
    return max(1, int(storage_gib * 0.85))


def open_selectors() -> dict[str, Any]:
    """Prometheus selectors open to every object of every namespace (not only the release's own)."""
    selectors: dict[str, Any] = {}
    for kind in ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig"):
        selectors[f"{kind}SelectorNilUsesHelmValues"] = False
        selectors[f"{kind}Selector"] = {}
        selectors[f"{kind}NamespaceSelector"] = {}
    return selectors


def _volume(storage_class_name: pulumi.Input[str], size: str) -> dict[str, Any]:
    return {
        "volumeClaimTemplate": {
            "spec": {
                "storageClassName": storage_class_name,
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": size}},
            }
        }
    }


def _eks_managed_control_plane() -> dict[str, Any]:
    # EKS runs the control plane: its scheduler, controller manager, etcd and kube-proxy metrics are
    # not scrapeable from the cluster, so their targets and rules would only ever fire TargetDown.
    return {
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
    }


def _prometheus_operator() -> dict[str, Any]:
    return {
        "resources": resources("100m", "128Mi", "500m", "512Mi"),
        "securityContext": pod_security(65534),
        "containerSecurityContext": _CONTAINER_SECURITY,
        "prometheusConfigReloader": {"resources": resources("10m", "32Mi", "100m", "64Mi")},
        "admissionWebhooks": {
            "patch": {
                "resources": resources("10m", "32Mi", "100m", "128Mi"),
                "securityContext": pod_security(2000),
            },
        },
    }


def _prometheus(args: MonitoringArgs) -> dict[str, Any]:
    memory = f"{args.prometheus_memory_mib}Mi"
    return {
        "prometheusSpec": {
            "replicas": args.prometheus_replicas,
            "podAntiAffinity": "soft",
            "retention": f"{args.prometheus_retention_days}d",
            "retentionSize": f"{retention_size_gb(args.prometheus_storage_gib)}GB",
            "externalLabels": {"cluster": args.cluster_name},
            "storageSpec": _volume(args.storage_class_name, f"{args.prometheus_storage_gib}Gi"),
            "resources": resources("500m", memory, "2", memory),
            "securityContext": pod_security(1000, 2000),
            **open_selectors(),
        },
        "podDisruptionBudget": pdb(args.prometheus_replicas),
        **_INTERNAL_ONLY,
    }


def _alertmanager(
    args: MonitoringArgs, role_arn: pulumi.Input[str], topic_arn: pulumi.Input[str]
) -> dict[str, Any]:
    return {
        "tplConfig": False,
        "config": alertmanager_config(topic_arn, args.region, args.heartbeat_url_secret),
        "serviceAccount": {
            "create": True,
            "name": ALERTMANAGER_SERVICE_ACCOUNT,
            "annotations": {"eks.amazonaws.com/role-arn": role_arn},
        },
        "alertmanagerSpec": {
            "replicas": args.alertmanager_replicas,
            "podAntiAffinity": "soft",
            "retention": "120h",
            "storage": _volume(args.storage_class_name, "2Gi"),
            "resources": resources("50m", "128Mi", "200m", "256Mi"),
            "securityContext": pod_security(1000, 2000),
            # Teams add their own routes with AlertmanagerConfig objects in their namespaces;
            # the operator scopes each one to alerts from its namespace.
            "alertmanagerConfigSelector": {},
            "alertmanagerConfigNamespaceSelector": {},
            "alertmanagerConfigMatcherStrategy": {"type": "OnNamespace"},
            "secrets": [args.heartbeat_url_secret] if args.heartbeat_url_secret else [],
        },
        "podDisruptionBudget": pdb(args.alertmanager_replicas),
        **_INTERNAL_ONLY,
    }


def _grafana_sidecar() -> dict[str, Any]:
    return {
        "resources": resources("50m", "64Mi", "200m", "256Mi"),
        "securityContext": _CONTAINER_SECURITY,
        # The chart has one probe for every sidecar, and each serves its health on its own port
        # (HEALTH_PORT, set per sidecar below: left unset, both would bind 8080 in the one pod):
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
    }


def _grafana(args: MonitoringArgs, role_arn: pulumi.Input[str]) -> dict[str, Any]:
    return {
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
            "annotations": {"eks.amazonaws.com/role-arn": role_arn},
        },
        "resources": resources("100m", "256Mi", "500m", "512Mi"),
        "securityContext": pod_security(472),
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
        "downloadDashboards": {"resources": resources("10m", "32Mi", "100m", "64Mi")},
        "grafana.ini": {
            "analytics": {"reporting_enabled": False, "check_for_updates": False},
            "users": {"allow_sign_up": False},
            "auth.anonymous": {"enabled": False},
            "security": {"disable_gravatar": True, "cookie_samesite": "strict"},
        },
        "sidecar": _grafana_sidecar(),
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
    }


def _exporters(args: MonitoringArgs) -> dict[str, Any]:
    return {
        "kube-state-metrics": {
            "resources": resources("50m", "128Mi", "500m", "512Mi"),
            "securityContext": {"enabled": True, **pod_security(65534)},
            "containerSecurityContext": _CONTAINER_SECURITY,
        },
        "prometheus-node-exporter": {
            "namespaceOverride": args.node_exporter_namespace,
            "resources": resources("50m", "64Mi", "250m", "128Mi"),
            "securityContext": pod_security(65534),
            "containerSecurityContext": {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            },
        },
    }


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
    return {
        "fullnameOverride": RELEASE_NAME,
        "crds": {"enabled": True},
        **_eks_managed_control_plane(),
        "prometheusOperator": _prometheus_operator(),
        "prometheus": _prometheus(args),
        "alertmanager": _alertmanager(args, alertmanager_role_arn, topic_arn),
        "grafana": _grafana(args, grafana_role_arn),
        **_exporters(args),
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
        "resources": resources("100m", "256Mi", "500m", "512Mi"),
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
