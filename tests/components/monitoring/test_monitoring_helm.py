"""Monitoring's Helm releases rendered by the real helm from the pinned charts, with exactly the values the
shipped dev and prod stacks pass: what the API server would receive on the first ``pulumi up``.

helm comes from ``MLOPS_HELM``, then the repository's pinned helm (``.ci/helm/bin/helm``, which ``make helm``
installs before pytest), then ``PATH``. Charts come from ``MLOPS_CHARTS``, else ``../shared/charts`` beside
the repository. Both missing is a failure with the reason, never a skip.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml
from monitoring_support import base_args

from mlops_platform.components.monitoring.charts import (
    DCGM_EXPORTER_CHART,
    DCGM_EXPORTER_PORT,
    DCGM_EXPORTER_VERSION,
    GPU_NODE_LABEL,
    KUBE_PROMETHEUS_STACK_CHART,
    KUBE_PROMETHEUS_STACK_VERSION,
    RELEASE_NAME,
)
from mlops_platform.components.monitoring.dashboards import platform_dashboard
from mlops_platform.components.monitoring.model_monitoring import ModelMonitoring, ModelMonitoringArgs
from mlops_platform.components.monitoring.network_policies import (
    ALERTMANAGER_POD_LABELS,
    GRAFANA_POD_LABELS,
    KUBE_STATE_METRICS_NAME,
    OPERATOR_NAME_LABEL,
    OPERATOR_POD_LABELS,
    PROMETHEUS_POD_LABELS,
)
from mlops_platform.components.monitoring.rules import gpu_rules
from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.graph import Graph, reveal
from mlops_platform.mlops.verify.helm import LOCAL_HELM

REPO = Path(__file__).resolve().parents[3]
RELEASE = "kubernetes:helm.sh/v3:Release"
KUBE_VERSION = "1.34.0"


def _executable(path: str | None) -> bool:
    return bool(path) and Path(str(path)).is_file() and os.access(str(path), os.X_OK)


def helm_binary() -> str:
    """``MLOPS_HELM`` when set (it must then be an executable), else the pinned helm ``make helm`` installs,
    else PATH."""
    configured = os.environ.get("MLOPS_HELM")
    if configured:
        if not _executable(configured):
            pytest.fail(f"MLOPS_HELM={configured!r} is not an executable helm binary", pytrace=False)
        return configured
    for candidate in (str(LOCAL_HELM), shutil.which("helm")):
        if candidate and _executable(candidate):
            return candidate
    pytest.fail(
        "no helm binary: set MLOPS_HELM to a helm binary or put helm on PATH (make installs it)",
        pytrace=False,
    )


def charts_dir() -> Path:
    env = os.environ.get("MLOPS_CHARTS")
    candidates = (
        [Path(env)] if env else [REPO.parent / "shared" / "charts", REPO.parents[1] / "shared" / "charts"]
    )
    for candidate in candidates:
        if (candidate / "README.md").is_file():
            return candidate
    pytest.fail(
        f"no chart directory: set MLOPS_CHARTS (looked in {', '.join(map(str, candidates))})", pytrace=False
    )


def chart_path(chart: str, version: str) -> Path:
    path = charts_dir() / f"{chart}-{version}"
    if not (path / "Chart.yaml").is_file():
        pytest.fail(f"pinned chart {chart} {version} has no unpacked chart at {path}", pytrace=False)
    return path


def helm_template(
    chart: Path, release: str, namespace: str, values: dict[str, Any], tmp_path: Path
) -> list[dict[str, Any]]:
    values_file = tmp_path / f"{release}-values.yaml"
    values_file.write_text(yaml.safe_dump(values), encoding="utf-8")
    result = subprocess.run(
        [
            helm_binary(),
            "template",
            release,
            str(chart),
            "--namespace",
            namespace,
            "--kube-version",
            KUBE_VERSION,
            "--api-versions",
            "monitoring.coreos.com/v1",
            "-f",
            str(values_file),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "HELM_CACHE_HOME": str(tmp_path / "cache"),
            "HELM_CONFIG_HOME": str(tmp_path / "cfg"),
        },
    )
    assert result.returncode == 0, f"helm template {chart.name} failed:\n{result.stderr}"
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def release_inputs(graph: Graph, chart: str) -> dict[str, Any]:
    (found,) = [reveal(r.inputs) for r in graph.of_type(RELEASE) if reveal(r.inputs)["chart"] == chart]
    return found


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack(request: pytest.FixtureRequest, stacks: dict[str, Graph]) -> tuple[str, Graph]:
    return request.param, stacks[request.param]


@pytest.fixture(scope="module")
def kps_manifests(stack: tuple[str, Graph], tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    _, graph = stack
    release = release_inputs(graph, KUBE_PROMETHEUS_STACK_CHART)
    assert release["version"] == KUBE_PROMETHEUS_STACK_VERSION
    return helm_template(
        chart_path(KUBE_PROMETHEUS_STACK_CHART, release["version"]),
        release["name"],
        release["namespace"],
        release["values"],
        tmp_path_factory.mktemp("kps"),
    )


def of_kind(manifests: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in manifests if m.get("kind") == kind]


def pod_labels(manifest: dict[str, Any]) -> dict[str, str]:
    return manifest["spec"]["template"]["metadata"]["labels"]


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_a_missing_helm_fails_with_the_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLOPS_HELM", str(tmp_path / "no-helm"))
    with pytest.raises(pytest.fail.Exception, match=r"MLOPS_HELM=.*no-helm.*not an executable"):
        helm_binary()


def test_pinned_charts_exist_where_ci_renders_them() -> None:
    chart_path(KUBE_PROMETHEUS_STACK_CHART, KUBE_PROMETHEUS_STACK_VERSION)
    chart_path(DCGM_EXPORTER_CHART, DCGM_EXPORTER_VERSION)


def test_every_disruption_budget_has_exactly_one_non_empty_bound(
    stack: tuple[str, Graph], kps_manifests: list[dict[str, Any]]
) -> None:
    env, _ = stack
    pdbs = of_kind(kps_manifests, "PodDisruptionBudget")
    if env == "prod":  # two Prometheus and three Alertmanager replicas
        assert {p["metadata"]["name"] for p in pdbs} >= {
            f"{RELEASE_NAME}-prometheus",
            f"{RELEASE_NAME}-alertmanager",
        }
    for pdb in pdbs:
        bounds = {k: pdb["spec"][k] for k in ("minAvailable", "maxUnavailable") if k in pdb["spec"]}
        assert len(bounds) == 1, (pdb["metadata"]["name"], bounds)
        (value,) = bounds.values()
        assert value not in ("", None), (pdb["metadata"]["name"], bounds)
        assert isinstance(value, int) or str(value).endswith("%"), (pdb["metadata"]["name"], bounds)


def test_no_ui_is_exposed_outside_the_cluster(kps_manifests: list[dict[str, Any]]) -> None:
    assert of_kind(kps_manifests, "Ingress") == []
    for service in of_kind(kps_manifests, "Service"):
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", service["metadata"]["name"]
    for kind in ("Prometheus", "Alertmanager"):
        (cr,) = of_kind(kps_manifests, kind)
        assert not cr["spec"].get("externalUrl", "").startswith("https://"), kind


def test_network_policy_selectors_match_the_rendered_pods(kps_manifests: list[dict[str, Any]]) -> None:
    services = {s["metadata"]["name"]: s for s in of_kind(kps_manifests, "Service")}
    # Prometheus and Alertmanager pods are created by the operator; their Services select them.
    assert services[f"{RELEASE_NAME}-prometheus"]["spec"]["selector"] == PROMETHEUS_POD_LABELS
    assert services[f"{RELEASE_NAME}-alertmanager"]["spec"]["selector"] == ALERTMANAGER_POD_LABELS
    deployments = {d["metadata"]["name"]: d for d in of_kind(kps_manifests, "Deployment")}
    assert matches(GRAFANA_POD_LABELS, pod_labels(deployments["grafana"]))
    operator = pod_labels(deployments[f"{RELEASE_NAME}-operator"])
    assert matches(OPERATOR_POD_LABELS, operator)
    assert operator[OPERATOR_NAME_LABEL[0]] == OPERATOR_NAME_LABEL[1]
    (ksm,) = [d for d in deployments.values() if d["metadata"]["name"].endswith("kube-state-metrics")]
    assert pod_labels(ksm)["app.kubernetes.io/name"] == KUBE_STATE_METRICS_NAME
    # The webhook-certificate hook Jobs reach the API server through the operator's label.
    jobs = of_kind(kps_manifests, "Job")
    assert jobs, "the admission webhook certificate Jobs"
    for job in jobs:
        assert pod_labels(job)[OPERATOR_NAME_LABEL[0]] == OPERATOR_NAME_LABEL[1], job["metadata"]["name"]
    # The operator serves its webhook on the port the NetworkPolicy admits from the control plane.
    (container,) = deployments[f"{RELEASE_NAME}-operator"]["spec"]["template"]["spec"]["containers"]
    assert [p["containerPort"] for p in container["ports"]] == [10250]


def test_release_values_have_no_key_the_chart_lacks(stack: tuple[str, Graph]) -> None:
    """Every key path we pass exists in 88.5.3's values.yaml or its subcharts' (free-form maps excepted)."""
    _, graph = stack
    values = release_inputs(graph, KUBE_PROMETHEUS_STACK_CHART)["values"]
    chart = chart_path(KUBE_PROMETHEUS_STACK_CHART, KUBE_PROMETHEUS_STACK_VERSION)
    defaults = yaml.safe_load((chart / "values.yaml").read_text(encoding="utf-8"))
    for sub in ("grafana", "kube-state-metrics", "prometheus-node-exporter"):
        sub_defaults = yaml.safe_load((chart / "charts" / sub / "values.yaml").read_text(encoding="utf-8"))
        defaults[sub] = _merge(sub_defaults, defaults.get(sub) or {})
    # Free-form by the chart's own documentation: maps of labels/annotations/config/environment variables,
    # Kubernetes objects (probes included),
    # and keys the chart documents commented out (fullnameOverride, serviceAccount.annotations,
    # alertmanagerConfigMatcherStrategy.type).
    free = {
        "config",
        "grafana.ini",
        "annotations",
        "externalLabels",
        "resources",
        "securityContext",
        "containerSecurityContext",
        "livenessProbe",
        "readinessProbe",
        "env",
        "jsonData",
        "storageSpec",
        "storage",
        "alertmanagerConfigMatcherStrategy",
        "serviceMonitorSelector",
        "podMonitorSelector",
        "ruleSelector",
        "probeSelector",
        "scrapeConfigSelector",
        "serviceMonitorNamespaceSelector",
        "podMonitorNamespaceSelector",
        "ruleNamespaceSelector",
        "probeNamespaceSelector",
        "scrapeConfigNamespaceSelector",
        "alertmanagerConfigSelector",
        "alertmanagerConfigNamespaceSelector",
    }
    documented_commented = {".grafana.fullnameOverride", ".grafana.serviceAccount.annotations"}
    missing = [p for p in _unknown_keys(values, defaults, "", free) if p not in documented_commented]
    assert missing == []


def test_dcgm_values_have_no_key_the_chart_lacks(stacks: dict[str, Graph]) -> None:
    values = release_inputs(stacks["prod"], DCGM_EXPORTER_CHART)["values"]
    chart = chart_path(DCGM_EXPORTER_CHART, DCGM_EXPORTER_VERSION)
    defaults = yaml.safe_load((chart / "values.yaml").read_text(encoding="utf-8"))
    assert list(_unknown_keys(values, defaults, "", {"resources", "nodeSelector"})) == []
    # The check finds a misspelt key (Helm would silently ignore it).
    planted = {**values, "serviceMonitor": {**values["serviceMonitor"], "enable": True}}
    assert list(_unknown_keys(planted, defaults, "", {"resources", "nodeSelector"})) == [
        ".serviceMonitor.enable"
    ]


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = (
            _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def _unknown_keys(values: dict[str, Any], defaults: Any, path: str, free: set[str]) -> Iterator[str]:
    for key, value in values.items():
        here = f"{path}.{key}"
        if not isinstance(defaults, dict) or key not in defaults:
            yield here
        elif key not in free and isinstance(value, dict):
            yield from _unknown_keys(value, defaults[key], here, free)


def test_the_planted_pdb_defect_is_what_the_render_catches(tmp_path: Path) -> None:
    """The values as they were (``maxUnavailable: ""`` beside ``minAvailable``) render both fields."""
    values = {
        "alertmanager": {"podDisruptionBudget": {"enabled": True, "minAvailable": 1, "maxUnavailable": ""}}
    }
    manifests = helm_template(
        chart_path(KUBE_PROMETHEUS_STACK_CHART, KUBE_PROMETHEUS_STACK_VERSION),
        RELEASE_NAME,
        "monitoring",
        values,
        tmp_path,
    )
    (pdb,) = of_kind(manifests, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == "" and pdb["spec"]["minAvailable"] == 1


# ---- CRDs of 88.5.3 against the objects the platform creates ------------------------------------------------


def _crd_schema(kind: str) -> dict[str, Any]:
    crds = chart_path(KUBE_PROMETHEUS_STACK_CHART, KUBE_PROMETHEUS_STACK_VERSION) / "charts" / "crds" / "crds"
    for path in crds.glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc and doc["spec"]["names"]["kind"] == kind:
                (version,) = [v for v in doc["spec"]["versions"] if v["name"] == "v1"]
                return _strict(version["schema"]["openAPIV3Schema"])
    raise AssertionError(f"no CRD for {kind}")


def _strict(schema: Any) -> Any:
    """Unknown fields are errors (the API server would prune them silently); Go's inline ``(?i)`` flag
    moves to the front of a pattern, where Python's re accepts it."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        pattern = out.get("pattern")
        if isinstance(pattern, str) and "(?i)" in pattern:
            out["pattern"] = "(?i)" + pattern.replace("(?i)", "")
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def _validate(kind: str, obj: dict[str, Any]) -> None:
    jsonschema.validate({"apiVersion": "monitoring.coreos.com/v1", "kind": kind, **obj}, _crd_schema(kind))


def test_platform_service_monitors_and_rules_fit_the_88_crds(stack: tuple[str, Graph]) -> None:
    _, graph = stack
    kinds = {
        "kubernetes:monitoring.coreos.com/v1:ServiceMonitor": "ServiceMonitor",
        "kubernetes:monitoring.coreos.com/v1:PrometheusRule": "PrometheusRule",
        "kubernetes:monitoring.coreos.com/v1:PodMonitor": "PodMonitor",
    }
    seen = set()
    for r in graph.resources:
        if r.type in kinds:
            i = reveal(r.inputs)
            _validate(kinds[r.type], {"metadata": i["metadata"], "spec": i["spec"]})
            seen.add(kinds[r.type])
    assert {"ServiceMonitor", "PrometheusRule"} <= seen


def test_model_monitoring_objects_fit_the_88_crds() -> None:
    """ModelMonitoring (serving stacks) builds its ServiceMonitor and PrometheusRule with the same helpers."""

    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        ModelMonitoring(
            "fraud-detector",
            ModelMonitoringArgs(
                model_name="fraud-detector", namespace="fraud-scoring", selector={"app": "fraud"}
            ),
            opts=pulumi.ResourceOptions(providers={"kubernetes": provider}),
        )

    graph = run_callable(program, root=REPO)
    checked = 0
    for r in graph.resources:
        kind = r.type.rsplit(":", 1)[-1]
        if r.type.startswith("kubernetes:monitoring.coreos.com/v1:"):
            i = reveal(r.inputs)
            _validate(kind, {"metadata": i["metadata"], "spec": i["spec"]})
            checked += 1
    assert checked >= 2


def test_a_misspelt_service_monitor_field_is_caught_by_the_crd_schema() -> None:
    with pytest.raises(jsonschema.ValidationError, match="scrapeTimout"):
        _validate(
            "ServiceMonitor",
            {
                "metadata": {"name": "x"},
                "spec": {"selector": {}, "endpoints": [{"port": "http", "scrapeTimout": "5s"}]},
            },
        )


# ---- NVIDIA DCGM exporter -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dcgm_manifests(
    stacks: dict[str, Graph], tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    release = release_inputs(stacks["prod"], DCGM_EXPORTER_CHART)  # prod has the GPU group
    assert release["version"] == DCGM_EXPORTER_VERSION
    return helm_template(
        chart_path(DCGM_EXPORTER_CHART, release["version"]),
        release["name"],
        release["namespace"],
        release["values"],
        tmp_path_factory.mktemp("dcgm"),
    )


def test_dcgm_exporter_runs_on_gpu_nodes_only(dcgm_manifests: list[dict[str, Any]]) -> None:
    (ds,) = of_kind(dcgm_manifests, "DaemonSet")
    assert ds["metadata"]["namespace"] == "monitoring-node-exporter"
    spec = ds["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == dict([GPU_NODE_LABEL])
    assert spec["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    (container,) = spec["containers"]
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}
    assert [p["containerPort"] for p in container["ports"]] == [DCGM_EXPORTER_PORT]
    # What the pod needs (and the policy exemption lists): root, SYS_ADMIN, the pod-resources hostPath.
    assert container["securityContext"]["runAsUser"] == 0
    assert container["securityContext"]["capabilities"] == {"add": ["SYS_ADMIN"], "drop": ["ALL"]}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert "readOnlyRootFilesystem" not in container["securityContext"]  # the entrypoint runs ldconfig
    host_paths = [v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v]
    assert host_paths == ["/var/lib/kubelet/pod-resources"]
    assert spec["automountServiceAccountToken"] is False
    assert not spec.get("hostNetwork") and not spec.get("hostPID")
    # No cluster-wide RBAC; the chart's one (unconditional) Role reads only its own counters ConfigMap.
    assert of_kind(dcgm_manifests, "ClusterRole") == []
    for role in of_kind(dcgm_manifests, "Role"):
        assert role["rules"] == [
            {
                "apiGroups": [""],
                "resources": ["configmaps"],
                "resourceNames": ["exporter-metrics-config-map"],
                "verbs": ["get"],
            }
        ]


def test_dcgm_service_monitor_is_picked_up_and_labels_the_node(
    stacks: dict[str, Graph], dcgm_manifests: list[dict[str, Any]]
) -> None:
    (sm,) = of_kind(dcgm_manifests, "ServiceMonitor")
    (service,) = of_kind(dcgm_manifests, "Service")
    (ds,) = of_kind(dcgm_manifests, "DaemonSet")
    assert matches(sm["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    assert matches(service["spec"]["selector"], pod_labels(ds))
    (endpoint,) = sm["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"]
    relabel = {r["targetLabel"]: r for r in endpoint["relabelings"]}
    assert relabel["job"]["replacement"] == "dcgm-exporter"
    assert relabel["node"]["sourceLabels"] == ["__meta_kubernetes_pod_node_name"]
    _validate("ServiceMonitor", {"metadata": sm["metadata"], "spec": sm["spec"]})
    # Our Prometheus selects ServiceMonitors of every namespace with any labels.
    prometheus = release_inputs(stacks["prod"], KUBE_PROMETHEUS_STACK_CHART)["values"]["prometheus"]
    assert prometheus["prometheusSpec"]["serviceMonitorSelector"] == {}
    assert prometheus["prometheusSpec"]["serviceMonitorNamespaceSelector"] == {}


def test_no_dcgm_exporter_without_a_gpu_group(stacks: dict[str, Graph]) -> None:
    assert not [r for r in stacks["dev"].of_type(RELEASE) if reveal(r.inputs)["chart"] == DCGM_EXPORTER_CHART]


def _default_counters(manifests: list[dict[str, Any]]) -> set[str]:
    """The DCGM fields the exporter reads: the counters file its ``-f`` argument names, which the chart
    mounts from its ``exporter-metrics-config-map`` (the chart's default list unless ``customMetrics``)."""
    (ds,) = of_kind(manifests, "DaemonSet")
    spec = ds["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    args = container.get("args", [])
    counters_file = args[args.index("-f") + 1]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == counters_file]
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    (cm,) = [
        c for c in of_kind(manifests, "ConfigMap") if c["metadata"]["name"] == volume["configMap"]["name"]
    ]
    (item,) = [i for i in volume["configMap"]["items"] if i["path"] == mount["subPath"]]
    fields = set()
    for line in cm["data"][item["key"]].splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            fields.add(line.split(",")[0].strip())
    return fields


def test_gpu_rules_and_panels_read_only_metrics_the_exporter_exports(
    dcgm_manifests: list[dict[str, Any]],
) -> None:
    exported = _default_counters(dcgm_manifests)
    assert {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED"} <= exported
    assert "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL" not in exported  # commented out in the chart's default list
    args = base_args()
    texts = [json.dumps(gpu_rules(args.thresholds)), json.dumps(platform_dashboard(args, None))]
    referenced = {m for text in texts for m in re.findall(r"\bDCGM_FI_[A-Z0-9_]+", text)}
    assert referenced, "the GPU rules and panels read no DCGM metric"
    assert referenced <= exported, f"not exported by default: {sorted(referenced - exported)}"


def test_karpenter_gpu_pool_nodes_run_the_exporter(
    stacks: dict[str, Graph], dcgm_manifests: list[dict[str, Any]]
) -> None:
    """Every GPU NodePool a shipped stack renders (taint or limit on nvidia.com/gpu) gets the DaemonSet."""
    (ds,) = of_kind(dcgm_manifests, "DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    pools = [
        reveal(r.inputs)
        for graph in stacks.values()
        for r in graph.of_type("kubernetes:karpenter.sh/v1:NodePool")
        if "nvidia.com/gpu" in json.dumps(reveal(r.inputs)["spec"])
    ]
    # staging and prod have the GPU pool (profiles), dev not.
    assert {p["metadata"]["name"] for p in pools} == {"gpu"} and len(pools) == 2
    for pool in pools:
        template = pool["spec"]["template"]
        labels = template["metadata"]["labels"]
        assert all(labels.get(k) == v for k, v in pod["nodeSelector"].items()), pool["metadata"]
        for taint in template["spec"].get("taints", []):
            if taint["effect"] in ("NoSchedule", "NoExecute"):
                assert any(
                    t["key"] == taint["key"]
                    and t["operator"] == "Exists"
                    and t.get("effect") in (None, taint["effect"])
                    for t in pod["tolerations"]
                ), (pool["metadata"], taint)
