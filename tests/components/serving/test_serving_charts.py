"""cert-manager's and KServe's charts rendered by the real helm from the pinned charts with exactly the values the
platform passes: Standard mode, no ingress objects, no runtimes or storage containers of the chart's own, and
every pod restricted, bounded and on the system group."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from verify_kit import project_helm, shared_charts

from mlops_platform.components.serving import cert_manager as cm
from mlops_platform.components.serving import kserve_values as ks

SYSTEM = {"mlops.platform/node-group": "system"}
POD_KINDS = ("Deployment", "Job", "DaemonSet", "StatefulSet")


def render(
    chart: str, version: str, namespace: str, values: dict[str, Any], tmp_path: Path
) -> list[dict[str, Any]]:
    values_file = tmp_path / f"{chart}.yaml"
    values_file.write_text(yaml.safe_dump(values), encoding="utf-8")
    done = project_helm().run(
        [
            "template",
            chart,
            str(shared_charts() / f"{chart}-{version}"),
            "--namespace",
            namespace,
            "--kube-version",
            "1.36.0",
            "--include-crds",
            "-f",
            str(values_file),
        ]
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def pods(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        f"{o['kind']}/{o['metadata']['name']}": o["spec"]["template"]["spec"]
        for o in objects
        if o["kind"] in POD_KINDS
    }


def assert_restricted(name: str, pod: dict[str, Any]) -> None:
    assert pod["securityContext"]["runAsNonRoot"] is True, name
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
    assert not pod.get("hostNetwork"), name
    for c in [*pod.get("initContainers", []), *pod["containers"]]:
        sc = c["securityContext"]
        where = f"{name} {c['name']}"
        assert sc["allowPrivilegeEscalation"] is False, where
        assert sc["readOnlyRootFilesystem"] is True, where
        assert sc["capabilities"] == {"drop": ["ALL"]}, where
        for kind in ("requests", "limits"):
            assert set(c["resources"][kind]) == {"cpu", "memory"}, where


@pytest.fixture(scope="module")
def cert_manager_ha(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    spec = cm.CertManagerValuesSpec(node_selector=SYSTEM, replicas=2)
    return render(
        cm.CERT_MANAGER_CHART,
        cm.CERT_MANAGER_CHART_VERSION,
        "cert-manager",
        cm.cert_manager_values(spec),
        tmp_path_factory.mktemp("cm"),
    )


@pytest.fixture(scope="module")
def kserve(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return render(
        ks.RESOURCES_CHART,
        ks.KSERVE_VERSION,
        "kserve",
        ks.kserve_values(ks.KServeValuesSpec(node_selector=SYSTEM)),
        tmp_path_factory.mktemp("ks"),
    )


def test_cert_manager_pods_are_restricted_bounded_and_on_the_system_group(
    cert_manager_ha: list[dict[str, Any]],
) -> None:
    found = pods(cert_manager_ha)
    assert set(found) == {
        "Deployment/cert-manager",
        "Deployment/cert-manager-webhook",
        "Deployment/cert-manager-cainjector",
        "Job/cert-manager-startupapicheck",
    }
    for name, pod in found.items():
        assert_restricted(name, pod)
        assert pod["nodeSelector"] == {"kubernetes.io/os": "linux", **SYSTEM}, name


def test_cert_manager_is_highly_available_with_two_replicas_and_brings_its_crds(
    cert_manager_ha: list[dict[str, Any]],
) -> None:
    deployments = {o["metadata"]["name"]: o for o in cert_manager_ha if o["kind"] == "Deployment"}
    assert {d["spec"]["replicas"] for d in deployments.values()} == {2}
    budgets = [o for o in cert_manager_ha if o["kind"] == "PodDisruptionBudget"]
    assert len(budgets) == 3 and {b["spec"]["minAvailable"] for b in budgets} == {1}
    crds = {o["spec"]["names"]["kind"] for o in cert_manager_ha if o["kind"] == "CustomResourceDefinition"}
    assert {"Certificate", "Issuer", "ClusterIssuer"} <= crds
    # Leader election leases in its own namespace, not kube-system.
    roles = [o for o in cert_manager_ha if o["kind"] == "Role"]
    assert {r["metadata"]["namespace"] for r in roles} == {"cert-manager"}
    webhook = deployments["cert-manager-webhook"]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "https", "protocol": "TCP", "containerPort": cm.WEBHOOK_PORT} in webhook["ports"]


def test_cert_manager_with_one_replica_has_no_disruption_budget(tmp_path: Path) -> None:
    objects = render(
        cm.CERT_MANAGER_CHART,
        cm.CERT_MANAGER_CHART_VERSION,
        "cert-manager",
        cm.cert_manager_values(cm.CertManagerValuesSpec(node_selector=SYSTEM)),
        tmp_path,
    )
    assert not [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    assert {o["spec"]["replicas"] for o in objects if o["kind"] == "Deployment"} == {1}


def test_cert_manager_pod_labels_are_the_ones_the_network_policies_select(
    cert_manager_ha: list[dict[str, Any]],
) -> None:
    labels = {
        o["metadata"]["name"]: o["spec"]["template"]["metadata"]["labels"]
        for o in cert_manager_ha
        if o["kind"] == "Deployment"
    }
    for name, wanted in (
        ("cert-manager", cm.CONTROLLER_POD_LABELS),
        ("cert-manager-webhook", cm.WEBHOOK_POD_LABELS),
        ("cert-manager-cainjector", cm.CAINJECTOR_POD_LABELS),
    ):
        assert wanted.items() <= labels[name].items(), name


def _config(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (configmap,) = [
        o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "inferenceservice-config"
    ]
    return ks.config_sections(configmap["data"])


def test_kserve_runs_in_standard_mode_and_creates_no_ingress_objects(kserve: list[dict[str, Any]]) -> None:
    config = _config(kserve)
    assert config["deploy"] == {"defaultDeploymentMode": "Standard"}
    ingress = config["ingress"]
    assert ingress["disableIngressCreation"] is True and ingress["enableGatewayApi"] is False
    assert ingress["disableIstioVirtualHost"] is True
    # The status URL is the predictor Service's in-cluster name.
    assert ingress["ingressDomain"] == "cluster.local"
    assert ingress["domainTemplate"] == "{{ .Name }}-predictor.{{ .Namespace }}.svc.{{ .IngressDomain }}"
    assert config["security"] == {"autoMountServiceAccountToken": False}
    assert config["localModel"]["enabled"] is False
    assert config["metricsAggregator"]["enableMetricAggregation"] == "false"


def test_kserve_installs_no_runtime_storage_container_or_gateway_of_its_own(
    kserve: list[dict[str, Any]],
) -> None:
    kinds = {o["kind"] for o in kserve}
    assert not kinds & {"ClusterServingRuntime", "ServingRuntime", "ClusterStorageContainer", "Gateway"}
    assert not kinds & {"Ingress", "VirtualService", "HTTPRoute"}
    # cert-manager issues the webhook's certificate, and injects its CA into the webhook configurations.
    (cert,) = [o for o in kserve if o["kind"] == "Certificate"]
    assert cert["spec"]["dnsNames"] == ["kserve-webhook-server-service.kserve.svc"]
    hooks = [o for o in kserve if o["kind"].endswith("WebhookConfiguration")]
    assert hooks and {h["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] for h in hooks} == {
        "kserve/serving-cert"
    }


def test_injected_containers_are_bounded_by_the_config(kserve: list[dict[str, Any]]) -> None:
    """The storage initializer and the agent get requests and limits from the ConfigMap (their
    securityContext comes from our ClusterStorageContainer and from the predictor container)."""
    config = _config(kserve)
    for section in ("storageInitializer", "agent", "logger"):
        values = config[section]
        assert {"cpuRequest", "cpuLimit", "memoryRequest", "memoryLimit"} <= set(values), section
        assert values["image"].endswith(f":{ks.KSERVE_VERSION}"), section


def test_the_kserve_controller_is_restricted_bounded_and_on_the_system_group(
    kserve: list[dict[str, Any]],
) -> None:
    (name, pod), *_ = pods(kserve).items()
    assert name == "Deployment/kserve-controller-manager" and len(pods(kserve)) == 1
    assert_restricted(name, pod)
    assert pod["nodeSelector"] == SYSTEM
    (deployment,) = [o for o in kserve if o["kind"] == "Deployment"]
    assert ks.CONTROLLER_POD_LABELS.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    manager = next(c for c in pod["containers"] if c["name"] == "manager")
    assert manager["image"] == f"kserve/kserve-controller:{ks.KSERVE_VERSION}"
    assert {"containerPort": ks.WEBHOOK_PORT, "name": "webhook-server", "protocol": "TCP"} in manager["ports"]
    proxy = next(c for c in pod["containers"] if c["name"] == "kube-rbac-proxy")
    assert {"containerPort": ks.METRICS_PORT, "name": "https", "protocol": "TCP"} in proxy["ports"]


def test_the_charts_default_would_install_knative_mode_and_the_default_storage_container(
    tmp_path: Path,
) -> None:
    """What the values change: with the chart's defaults, KServe would run in Knative mode and install the
    docker.io storage initializer for s3:// and friends."""
    objects = render(ks.RESOURCES_CHART, ks.KSERVE_VERSION, "kserve", {}, tmp_path)
    assert _config(objects)["deploy"] == {"defaultDeploymentMode": "Knative"}
    (storage,) = [o for o in objects if o["kind"] == "ClusterStorageContainer"]
    assert storage["spec"]["container"]["image"].startswith("kserve/storage-initializer:")


def test_config_sections_skip_what_is_not_json() -> None:
    assert ks.config_sections({"deploy": json.dumps({"a": 1}), "_example": "# prose"}) == {"deploy": {"a": 1}}
