"""mlops_platform.components.monitoring.values: the kube-prometheus-stack values, as the release receives them and as the
pure builders return them."""

from __future__ import annotations

import json
from typing import Any

from monitoring_support import base_args, render, values, walk

from mlops_platform.components.monitoring.alerting import alertmanager_config
from mlops_platform.components.monitoring.values import (
    dcgm_exporter_values,
    helm_values,
    open_selectors,
    pdb,
    pod_security,
    retention_size_gb,
)
from mlops_platform.mlops.graph import Graph


def test_prometheus_retention_and_storage_on_the_storage_class(graph: Graph) -> None:
    spec = values(graph)["prometheus"]["prometheusSpec"]
    assert spec["retention"] == "30d"
    assert spec["retentionSize"] == "85GB"
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == "gp3-encrypted"
    assert claim["resources"]["requests"]["storage"] == "100Gi"
    assert spec["replicas"] == 2
    assert spec["resources"]["limits"]["memory"] == "8192Mi"
    am = values(graph)["alertmanager"]["alertmanagerSpec"]
    assert am["storage"]["volumeClaimTemplate"]["spec"]["storageClassName"] == "gp3-encrypted"
    assert am["replicas"] == 3


def test_selectors_pick_up_objects_from_every_namespace(graph: Graph) -> None:
    spec = values(graph)["prometheus"]["prometheusSpec"]
    for kind in ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False, kind
        assert spec[f"{kind}Selector"] == {}, kind
        assert spec[f"{kind}NamespaceSelector"] == {}, kind
    am = values(graph)["alertmanager"]["alertmanagerSpec"]
    assert am["alertmanagerConfigNamespaceSelector"] == {}


def test_every_component_has_requests_and_limits(graph: Graph) -> None:
    v = values(graph)
    expected = {
        ".prometheus.prometheusSpec.resources",
        ".alertmanager.alertmanagerSpec.resources",
        ".grafana.resources",
        ".grafana.sidecar.resources",
        ".grafana.downloadDashboards.resources",
        ".prometheusOperator.resources",
        ".prometheusOperator.prometheusConfigReloader.resources",
        ".prometheusOperator.admissionWebhooks.patch.resources",
        ".kube-state-metrics.resources",
        ".prometheus-node-exporter.resources",
    }
    found = {path for path, _ in walk(v) if path.endswith(".resources")}
    assert expected <= found
    for path, node in walk(v):
        if path.endswith(".resources") and "volumeClaimTemplate" not in path and isinstance(node, dict):
            for kind in ("requests", "limits"):
                assert set(node[kind]) == {"cpu", "memory"}, f"{path}.{kind}"


def test_every_pod_runs_as_non_root(graph: Graph) -> None:
    v = values(graph)
    pods = [
        v["prometheus"]["prometheusSpec"]["securityContext"],
        v["alertmanager"]["alertmanagerSpec"]["securityContext"],
        v["grafana"]["securityContext"],
        v["prometheusOperator"]["securityContext"],
        v["prometheusOperator"]["admissionWebhooks"]["patch"]["securityContext"],
        v["kube-state-metrics"]["securityContext"],
        v["prometheus-node-exporter"]["securityContext"],
    ]
    for ctx in pods:
        assert ctx["runAsNonRoot"] is True
        assert ctx["runAsUser"] > 0
    for path, node in walk(v):
        if path.endswith("ecurityContext") and isinstance(node, dict) and "allowPrivilegeEscalation" in node:
            assert node["allowPrivilegeEscalation"] is False, path
            assert node["capabilities"] == {"drop": ["ALL"]}, path
    # Grafana's chown init container would run as root.
    assert v["grafana"]["initChownData"]["enabled"] is False


def test_eks_managed_control_plane_targets_are_off(graph: Graph) -> None:
    v = values(graph)
    for component in ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy"):
        assert v[component]["enabled"] is False


def test_disruption_budgets_only_for_replicated_components(graph: Graph) -> None:
    v = values(graph)
    # Only minAvailable: the chart renders every key of the block into the PDB (see the helm test).
    assert v["prometheus"]["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}
    assert v["alertmanager"]["podDisruptionBudget"] == {"enabled": True, "minAvailable": 2}
    single = values(render(base_args(prometheus_replicas=1, alertmanager_replicas=1)))
    assert single["prometheus"]["podDisruptionBudget"]["enabled"] is False
    assert single["alertmanager"]["podDisruptionBudget"]["enabled"] is False


def test_grafana_cloudwatch_datasource_uses_workload_identity(graph: Graph) -> None:
    (cloudwatch,) = values(graph)["grafana"]["additionalDataSources"]
    assert cloudwatch["type"] == "cloudwatch" and cloudwatch["uid"] == "cloudwatch"
    assert cloudwatch["jsonData"] == {"authType": "default", "defaultRegion": "eu-west-1"}
    sidecar = values(graph)["grafana"]["sidecar"]["dashboards"]
    assert sidecar["enabled"] is True
    assert (sidecar["label"], sidecar["labelValue"]) == ("grafana_dashboard", "1")


def test_grafana_has_a_read_only_root_filesystem_with_writable_scratch(graph: Graph) -> None:
    """Verify's policy layer found Grafana's root file system writable: it is read-only, and what Grafana
    writes outside its chart-mounted data (/var/lib/grafana, /var/lib/grafana-search) gets an emptyDir."""
    grafana = values(graph)["grafana"]
    assert grafana["containerSecurityContext"]["readOnlyRootFilesystem"] is True
    assert {m["mountPath"] for m in grafana["extraEmptyDirMounts"]} == {"/tmp", "/var/log/grafana"}
    assert grafana.get("persistence", {}).get("enabled", False) is False  # /var/lib/grafana: an emptyDir


def test_grafana_sidecars_are_probed_each_on_its_own_health_port(graph: Graph) -> None:
    sidecar = values(graph)["grafana"]["sidecar"]
    ports = {name: sidecar[name]["env"]["HEALTH_PORT"] for name in ("dashboards", "datasources")}
    # Left unset, both sidecars would bind the image's default 8080 in the one pod.
    assert len(set(ports.values())) == 2 and "8080" not in ports.values()
    for kind in ("livenessProbe", "readinessProbe"):
        command = sidecar[kind]["exec"]["command"]
        assert command[:2] == ["python", "-c"]
        assert "os.environ['HEALTH_PORT']" in command[2] and "/healthz" in command[2]


# ---- the pure builders -----------------------------------------------------------------------------------


def test_retention_keeps_15_percent_of_the_volume_free() -> None:
    assert retention_size_gb(100) == 85
    assert retention_size_gb(50) == 42
    assert retention_size_gb(5) == 4
    assert retention_size_gb(1) == 1  # never 0 (no size limit at all)


def test_disruption_budget_blocks() -> None:
    assert pdb(1) == {"enabled": False, "minAvailable": 1}
    assert pdb(2) == {"enabled": True, "minAvailable": 1}
    assert pdb(5) == {"enabled": True, "minAvailable": 4}


def test_pod_security_contexts() -> None:
    assert pod_security(472) == {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
        "runAsUser": 472,
        "runAsGroup": 472,
        "fsGroup": 472,
    }
    assert (pod_security(1000, 2000)["runAsGroup"], pod_security(1000, 2000)["fsGroup"]) == (2000, 2000)


def test_open_selectors_cover_every_object_kind_prometheus_loads() -> None:
    selectors = open_selectors()
    assert len(selectors) == 15
    assert selectors["ruleSelectorNilUsesHelmValues"] is False
    assert selectors["scrapeConfigNamespaceSelector"] == {}


def test_helm_values_place_the_roles_and_the_topic() -> None:
    args = base_args(heartbeat_url_secret="heartbeat")
    v = helm_values(
        args, alertmanager_role_arn="arn:am", grafana_role_arn="arn:grafana", topic_arn="arn:topic"
    )
    assert v["alertmanager"]["serviceAccount"] == {
        "create": True,
        "name": "alertmanager",
        "annotations": {"eks.amazonaws.com/role-arn": "arn:am"},
    }
    assert v["grafana"]["serviceAccount"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:grafana"}
    assert v["alertmanager"]["config"] == alertmanager_config("arn:topic", "eu-west-1", "heartbeat")
    assert v["prometheus"]["prometheusSpec"]["externalLabels"] == {"cluster": "mlops-test-eks"}
    assert list(v)[:2] == ["fullnameOverride", "crds"] and v["thanosRuler"] == {"enabled": False}
    json.dumps(v)  # plain values only: no Output with plain ARNs


def test_dcgm_tolerates_each_gpu_taint_once_by_key_and_effect() -> None:
    v = dcgm_exporter_values(
        base_args(
            gpu_tolerations=[
                ("nvidia.com/gpu", "true", "NO_SCHEDULE"),
                ("nvidia.com/gpu", "false", "NO_SCHEDULE"),
                ("gpu-pool", "a100", "NO_EXECUTE"),
            ]
        )
    )
    assert v["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "gpu-pool", "operator": "Exists", "effect": "NoExecute"},
    ]
    assert v["service"] == {"enable": True, "type": "ClusterIP", "port": 9400}
    assert v["kubernetes"]["rbac"] == {"create": False}


# The GPU NodePool's node template as issue 14 specifies it (docs/components-compute.md, "Karpenter"):
# the labels and taint every node Karpenter launches for the pool carries.
KARPENTER_GPU_TEMPLATE: dict[str, Any] = {
    "metadata": {
        "labels": {
            "mlops.platform/node-pool": "gpu",
            "nvidia.com/gpu.present": "true",
            "mlops.platform/accelerator": "nvidia",
        }
    },
    "spec": {"taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]},
}


def _tolerates(toleration: dict[str, str], taint: dict[str, str]) -> bool:
    """Kubernetes' rule: same key (or none with Exists), same effect (or none), and Exists or an equal value."""
    if toleration.get("key", "") not in ("", taint["key"]):
        return False
    if toleration.get("effect", "") not in ("", taint["effect"]):
        return False
    if toleration.get("operator", "Equal") == "Exists":
        return True
    return toleration.get("value", "") == taint.get("value", "")


def _schedulable(values: dict[str, Any], template: dict[str, Any]) -> bool:
    """A pod with the exporter's node selector and tolerations fits a node made from ``template``."""
    labels = template["metadata"]["labels"]
    selected = all(labels.get(k) == v for k, v in values["nodeSelector"].items())
    repelled = [
        t
        for t in template["spec"]["taints"]
        if t["effect"] in ("NoSchedule", "NoExecute")
        and not any(_tolerates(tol, t) for tol in values["tolerations"])
    ]
    return selected and not repelled


def test_dcgm_exporter_runs_on_the_karpenter_gpu_pool_nodes() -> None:
    v = dcgm_exporter_values(base_args())
    assert _schedulable(v, KARPENTER_GPU_TEMPLATE)
    # Tolerated by key: a pool tainting nvidia.com/gpu with another value, or none, is still covered.
    for value in ("false", ""):
        other = {
            **KARPENTER_GPU_TEMPLATE,
            "spec": {"taints": [{"key": "nvidia.com/gpu", "value": value, "effect": "NoSchedule"}]},
        }
        assert _schedulable(v, other)
    # The check itself can fail: a pool without the accelerator label, or with another NoSchedule taint.
    unlabelled = {
        **KARPENTER_GPU_TEMPLATE,
        "metadata": {"labels": {"mlops.platform/node-pool": "gpu", "nvidia.com/gpu.present": "true"}},
    }
    assert not _schedulable(v, unlabelled)
    tainted = {
        **KARPENTER_GPU_TEMPLATE,
        "spec": {
            "taints": [
                *KARPENTER_GPU_TEMPLATE["spec"]["taints"],
                {"key": "team", "value": "a", "effect": "NoSchedule"},
            ]
        },
    }
    assert not _schedulable(v, tainted)
