"""Monitoring under the recording monitor: the Helm release and its values, Alertmanager routing,
workload identity, the encrypted alert topic, CloudWatch alarms, rules, dashboard and wiring."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser
import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
from promql_eval import evaluate

from components.cluster.node_groups import NodeGroupSpec, gpu_node_group
from components.monitoring.monitoring import (
    ALERTMANAGER_POD_LABELS,
    DCGM_EXPORTER_VERSION,
    GPU_NODE_LABEL,
    KUBE_PROMETHEUS_STACK_REPOSITORY,
    KUBE_PROMETHEUS_STACK_VERSION,
    OPERATOR_NAME_LABEL,
    PROMETHEUS_POD_LABELS,
    AlertThresholds,
    MlflowScrape,
    Monitoring,
    MonitoringArgs,
    platform_rules,
)
from components.monitoring.observability import validate_dashboard
from components.platform.config import ConfigError, PlatformConfig, build
from components.platform.monitoring import (
    PlatformParts,
    add_monitoring,
    eks_default_service_cidr,
    monitoring_exports,
)
from mlops.engine import run_callable
from mlops.graph import Graph, Resource, reveal

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER}"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/11111111-2222-4333-8444-555555555555"

RELEASE = "kubernetes:helm.sh/v3:Release"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
SERVICE_MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"


def base_args(**overrides: Any) -> MonitoringArgs:
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
        mlflow=MlflowScrape(basic_auth_secret="mlflow-metrics-credentials"),
    )
    return dataclasses.replace(args, **overrides)


def render(args: MonitoringArgs) -> Graph:
    def program() -> None:
        aws_provider = aws.Provider("aws", region="eu-west-1")
        k8s_provider = k8s.Provider("k8s", kubeconfig="{}")
        Monitoring(
            "mon",
            args,
            opts=pulumi.ResourceOptions(providers={"aws": aws_provider, "kubernetes": k8s_provider}),
        )

    return run_callable(program, root=REPO)


@pytest.fixture(scope="module")
def graph() -> Graph:
    return render(base_args())


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
    if isinstance(node, dict):
        for key, value in node.items():
            yield f"{path}.{key}", value
            yield from walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}[{i}]")


# ---- Helm release ----------------------------------------------------------------------------------


def test_release_is_pinned_to_chart_version_and_repository(graph: Graph) -> None:
    kps = inputs(release(graph))
    assert kps["chart"] == "kube-prometheus-stack"
    assert re.fullmatch(r"\d+\.\d+\.\d+", kps["version"])
    assert kps["version"] == KUBE_PROMETHEUS_STACK_VERSION
    assert kps["repositoryOpts"]["repo"] == KUBE_PROMETHEUS_STACK_REPOSITORY
    assert KUBE_PROMETHEUS_STACK_REPOSITORY == "https://prometheus-community.github.io/helm-charts"
    # The version CI renders (../shared/charts has 88.5.3; nothing here can render 91.5.0).
    assert KUBE_PROMETHEUS_STACK_VERSION == "88.5.3"
    assert kps["namespace"] == "monitoring"
    assert kps["name"] == "kube-prometheus-stack"
    assert kps["atomic"] is True


def test_unpinned_chart_or_plain_http_repository_is_rejected() -> None:
    with pytest.raises(ValueError, match="pinned"):
        render(base_args(chart_version="91.x"))
    with pytest.raises(ValueError, match="https"):
        render(base_args(chart_repository="http://prometheus-community.github.io/helm-charts"))


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


def test_node_exporter_alone_in_a_privileged_namespace(graph: Graph) -> None:
    namespaces = {
        inputs(r)["metadata"]["name"]: inputs(r)["metadata"]["labels"]
        for r in graph.of_type("kubernetes:core/v1:Namespace")
    }
    assert namespaces["monitoring"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert namespaces["monitoring-node-exporter"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert values(graph)["prometheus-node-exporter"]["namespaceOverride"] == "monitoring-node-exporter"


# ---- Alertmanager ----------------------------------------------------------------------------------


def test_alertmanager_routes_by_severity_to_sns_and_never_to_null(graph: Graph) -> None:
    config = values(graph)["alertmanager"]["config"]
    receivers = {r["name"]: r for r in config["receivers"]}
    assert "null" not in receivers
    route = config["route"]
    assert route["receiver"] == "sns"
    for sub in route["routes"]:
        assert sub["receiver"] in receivers
    by_matcher = {m: sub["receiver"] for sub in route["routes"] for m in sub["matchers"]}
    assert by_matcher['severity = "critical"'] == "sns"
    assert by_matcher['severity = "warning"'] == "sns"
    assert by_matcher['alertname = "Watchdog"'] == "heartbeat"
    sns = receivers["sns"]["sns_configs"][0]
    assert sns["topic_arn"] == topic_arn(graph)
    # Credentials come from the IRSA token: no keys, no role to assume on top of it.
    assert sns["sigv4"] == {"region": "eu-west-1"}
    assert sns["send_resolved"] is True
    assert values(graph)["alertmanager"]["tplConfig"] is False
    # Without a dead-man's switch, the heartbeat has no integration (and nothing is mounted).
    assert receivers["heartbeat"] == {"name": "heartbeat"}
    assert values(graph)["alertmanager"]["alertmanagerSpec"]["secrets"] == []


def test_heartbeat_posts_to_a_url_read_from_a_mounted_secret() -> None:
    v = values(render(base_args(heartbeat_url_secret="deadmans-switch")))
    receivers = {r["name"]: r for r in v["alertmanager"]["config"]["receivers"]}
    assert receivers["heartbeat"]["webhook_configs"] == [
        {"url_file": "/etc/alertmanager/secrets/deadmans-switch/url", "send_resolved": False}
    ]
    assert v["alertmanager"]["alertmanagerSpec"]["secrets"] == ["deadmans-switch"]


def test_disruption_budgets_only_for_replicated_components(graph: Graph) -> None:
    v = values(graph)
    # Only minAvailable: the chart renders every key of the block into the PDB (see the helm test).
    assert v["prometheus"]["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}
    assert v["alertmanager"]["podDisruptionBudget"] == {"enabled": True, "minAvailable": 2}
    single = values(render(base_args(prometheus_replicas=1, alertmanager_replicas=1)))
    assert single["prometheus"]["podDisruptionBudget"]["enabled"] is False
    assert single["alertmanager"]["podDisruptionBudget"]["enabled"] is False


def test_alertmanager_and_grafana_use_irsa_roles(graph: Graph) -> None:
    v = values(graph)
    roles = {r.name: r for r in graph.of_type("aws:iam/role:Role")}
    am_role, grafana_role = roles["mon-alertmanager"], roles["mon-grafana"]
    assert (
        v["alertmanager"]["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
        == am_role.outputs["arn"]
    )
    assert (
        v["grafana"]["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
        == grafana_role.outputs["arn"]
    )
    for role, account in ((am_role, "alertmanager"), (grafana_role, "grafana")):
        trust = json.loads(inputs(role)["assumeRolePolicy"])
        (statement,) = trust["Statement"]
        assert statement["Principal"] == {"Federated": PROVIDER_ARN}
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Condition"]["StringEquals"] == {
            f"{ISSUER}:sub": f"system:serviceaccount:monitoring:{account}",
            f"{ISSUER}:aud": "sts.amazonaws.com",
        }


def test_alertmanager_may_publish_only_to_the_topic(graph: Graph) -> None:
    policy = json.loads(
        inputs(graph.one("aws:iam/rolePolicy:RolePolicy", "mon-alertmanager-publish"))["policy"]
    )
    publish, kms = policy["Statement"]
    assert publish["Action"] == "sns:Publish" and publish["Resource"] == topic_arn(graph)
    assert kms["Resource"] == KEY_ARN
    assert kms["Condition"]["StringEquals"]["kms:ViaService"] == "sns.eu-west-1.amazonaws.com"
    grafana = json.loads(
        inputs(graph.one("aws:iam/rolePolicy:RolePolicy", "mon-grafana-cloudwatch"))["policy"]
    )
    actions = grafana["Statement"][0]["Action"]
    assert all(a.split(":")[1].startswith(("Describe", "List", "Get")) for a in actions)


# ---- Grafana ---------------------------------------------------------------------------------------


def test_grafana_admin_from_in_cluster_generated_secret(graph: Graph) -> None:
    grafana = values(graph)["grafana"]
    assert grafana["admin"] == {
        "existingSecret": "grafana-admin",
        "userKey": "admin-user",
        "passwordKey": "admin-password",
    }
    assert "adminPassword" not in grafana
    external = inputs(graph.one("kubernetes:external-secrets.io/v1:ExternalSecret"))
    assert external["spec"]["target"]["name"] == "grafana-admin"
    assert external["spec"]["refreshInterval"] == "0s"
    generator_ref = external["spec"]["dataFrom"][0]["sourceRef"]["generatorRef"]
    generator = inputs(graph.one("kubernetes:generators.external-secrets.io/v1alpha1:Password"))
    assert generator_ref["name"] == generator["metadata"]["name"]
    assert generator["spec"]["length"] >= 32
    # The release waits for the secret's ExternalSecret.
    kps = release(graph)
    assert graph.one("kubernetes:external-secrets.io/v1:ExternalSecret").urn in kps.dependencies
    # Nothing in the program carries a password value.
    for r in graph.resources:
        for path, node in walk(r.inputs):
            if (
                "password" in path.lower()
                and isinstance(node, str)
                and not path.endswith((".name", ".key", "Key"))
            ):
                assert node == "{{ .password }}", (r.name, path)  # the in-cluster template, not a value
    assert not graph.of_type("kubernetes:core/v1:Secret")


def test_grafana_cloudwatch_datasource_uses_workload_identity(graph: Graph) -> None:
    (cloudwatch,) = values(graph)["grafana"]["additionalDataSources"]
    assert cloudwatch["type"] == "cloudwatch" and cloudwatch["uid"] == "cloudwatch"
    assert cloudwatch["jsonData"] == {"authType": "default", "defaultRegion": "eu-west-1"}
    sidecar = values(graph)["grafana"]["sidecar"]["dashboards"]
    assert sidecar["enabled"] is True
    assert (sidecar["label"], sidecar["labelValue"]) == ("grafana_dashboard", "1")


# ---- SNS -------------------------------------------------------------------------------------------


def test_topic_is_kms_encrypted_and_only_cloudwatch_and_alertmanager_publish(graph: Graph) -> None:
    topic = inputs(graph.one("aws:sns/topic:Topic"))
    assert topic["kmsMasterKeyId"] == KEY_ARN
    assert topic["signatureVersion"] == 2
    policy = json.loads(inputs(graph.one("aws:sns/topicPolicy:TopicPolicy"))["policy"])
    allows = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert {json.dumps(s["Principal"], sort_keys=True) for s in allows} == {
        json.dumps({"Service": "cloudwatch.amazonaws.com"}),
        json.dumps({"AWS": graph.one("aws:iam/role:Role", "mon-alertmanager").outputs["arn"]}),
    }
    assert all(s["Action"] == "sns:Publish" for s in allows)
    cloudwatch = next(s for s in allows if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"})
    assert cloudwatch["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    deny = next(s for s in policy["Statement"] if s["Effect"] == "Deny")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_subscriptions_are_email_and_https_only(graph: Graph) -> None:
    subs = [inputs(r) for r in graph.of_type("aws:sns/topicSubscription:TopicSubscription")]
    assert sorted((s["protocol"], s["endpoint"]) for s in subs) == [
        ("email", "oncall@example.com"),
        ("https", "https://alerts.example.com/hook"),
    ]
    assert all(s["topic"] == topic_arn(graph) for s in subs)


@pytest.mark.parametrize(
    "endpoint",
    ["http://alerts.example.com/hook", "ftp://x.example.com", "https://", "https://u:p@x.example.com/"],
)
def test_plain_http_or_malformed_endpoints_are_rejected(endpoint: str) -> None:
    with pytest.raises(ValueError, match=r"https|credentials"):
        render(base_args(alert_https_endpoints=[endpoint]))


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


# ---- CloudWatch alarms -----------------------------------------------------------------------------


def test_every_alarm_notifies_the_topic_on_alarm_and_ok(graph: Graph) -> None:
    alarms = graph.of_type(ALARM)
    assert {a.name for a in alarms} == {
        "mon-rds-cpu-high",
        "mon-rds-free-storage-low",
        "mon-rds-freeable-memory-low",
        "mon-rds-connections-high",
        "mon-rds-read-latency-high",
        "mon-rds-write-latency-high",
        "mon-nat-0-port-allocation-errors",
        "mon-nat-0-packets-dropped",
        "mon-nat-1-port-allocation-errors",
        "mon-nat-1-packets-dropped",
        "mon-eks-apiserver-5xx",
        "mon-eks-etcd-storage-high",
    }
    for alarm in alarms:
        a = inputs(alarm)
        assert a["alarmActions"] == [topic_arn(graph)], alarm.name
        assert a["okActions"] == [topic_arn(graph)], alarm.name
        assert a["actionsEnabled"] is True


def test_alarm_thresholds_come_from_the_profile() -> None:
    config = _config("prod")
    t = AlertThresholds.from_settings(config.monitoring)
    graph = render(base_args(thresholds=t))
    alarms = {a.name: inputs(a) for a in graph.of_type(ALARM)}
    rds = alarms["mon-rds-cpu-high"]
    assert (rds["namespace"], rds["metricName"], rds["threshold"]) == ("AWS/RDS", "CPUUtilization", 80)
    assert rds["dimensions"] == {"DBInstanceIdentifier": "mlops-test-db"}
    assert alarms["mon-rds-free-storage-low"]["threshold"] == 10 * 1024**3
    assert alarms["mon-rds-freeable-memory-low"]["threshold"] == 1024 * 1024**2
    assert alarms["mon-rds-connections-high"]["threshold"] == config.monitoring.rds_max_connections
    assert alarms["mon-rds-read-latency-high"]["threshold"] == pytest.approx(0.02)
    assert alarms["mon-rds-write-latency-high"]["threshold"] == pytest.approx(0.02)
    port = alarms["mon-nat-0-port-allocation-errors"]
    assert (port["metricName"], port["dimensions"], port["threshold"]) == (
        "ErrorPortAllocation",
        {"NatGatewayId": "nat-0aaaaaaaaaaaaaaaa"},
        0,
    )
    dropped = alarms["mon-nat-1-packets-dropped"]
    queries = {q["id"]: q for q in dropped["metricQueries"]}
    assert queries["dropped"]["metric"]["metricName"] == "PacketsDropCount"
    assert queries["dropped"]["metric"]["dimensions"] == {"NatGatewayId": "nat-0bbbbbbbbbbbbbbbb"}
    assert dropped["threshold"] == config.monitoring.nat_packet_drop_basis_points
    eks = alarms["mon-eks-apiserver-5xx"]
    eks_queries = {q["id"]: q for q in eks["metricQueries"]}
    assert eks_queries["errors"]["metric"]["metricName"] == "apiserver_request_total_5XX"
    assert eks_queries["errors"]["metric"]["namespace"] == "AWS/EKS"
    assert eks_queries["errors"]["metric"]["dimensions"] == {"ClusterName": "mlops-test-eks"}
    assert [q["id"] for q in eks["metricQueries"] if q.get("returnData")] == ["error_pct"]
    etcd = alarms["mon-eks-etcd-storage-high"]
    assert etcd["metricName"] == "apiserver_storage_size_bytes"
    assert etcd["threshold"] == 6144 * 1024**2


def test_without_database_or_nat_no_such_alarms() -> None:
    graph = render(base_args(database_identifier=None, nat_gateway_ids=[]))
    assert {a.name for a in graph.of_type(ALARM)} == {"mon-eks-apiserver-5xx", "mon-eks-etcd-storage-high"}


def test_profiles_differ_in_thresholds() -> None:
    dev, prod = (AlertThresholds.from_settings(_config(e).monitoring) for e in ("dev", "prod"))
    assert dev.rds_cpu_percent > prod.rds_cpu_percent
    assert dev.mlflow_p95_latency_ms > prod.mlflow_p95_latency_ms


# ---- rules, ServiceMonitor, dashboard ----------------------------------------------------------------


def _rules(graph: Graph) -> dict[str, dict[str, Any]]:
    spec = inputs(graph.one(RULE))["spec"]
    return {rule["alert"]: rule for group in spec["groups"] for rule in group["rules"]}


def test_platform_rules_present_and_valid_promql(graph: Graph) -> None:
    rules = _rules(graph)
    assert set(rules) == {
        "MlflowDown",
        "MlflowHighErrorRate",
        "MlflowHighLatency",
        "PlatformPodCrashLooping",
        "PersistentVolumeFilling",
        "GpuNodeIdle",
        "GpuMetricsMissing",
    }
    for name, rule in rules.items():
        promql_parser.parse(rule["expr"])  # raises on invalid PromQL
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert rule["annotations"]["summary"], name
    assert "kube_pod_container_status_restarts_total" in rules["PlatformPodCrashLooping"]["expr"]
    assert 'reason="CrashLoopBackOff"' in rules["PlatformPodCrashLooping"]["expr"]
    assert "kubelet_volume_stats_available_bytes" in rules["PersistentVolumeFilling"]["expr"]
    assert "DCGM_FI_DEV_GPU_UTIL" in rules["GpuNodeIdle"]["expr"]
    assert rules["MlflowHighErrorRate"]["expr"].endswith("> 5")
    assert rules["MlflowHighLatency"]["expr"].endswith("> 2")
    rule = graph.one(RULE)
    assert release(graph).urn in rule.dependencies  # the CRDs come with the release


def test_gpu_rules_only_with_a_gpu_group() -> None:
    graph = render(base_args(gpu_enabled=False))
    assert not {"GpuNodeIdle", "GpuMetricsMissing"} & set(_rules(graph))
    dashboard = _dashboard(graph)
    assert not any("DCGM" in json.dumps(p.get("targets", [])) for p in dashboard["panels"])


def test_mlflow_service_monitor_with_basic_auth(graph: Graph) -> None:
    sm = inputs(graph.one(SERVICE_MONITOR))
    assert sm["metadata"]["namespace"] == "mlflow"
    assert sm["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "mlflow"}}
    (endpoint,) = sm["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == (
        "metrics",
        "/metrics",
    )  # the exporter, not MLflow's API port
    assert endpoint["basicAuth"]["password"] == {"name": "mlflow-metrics-credentials", "key": "password"}
    assert {"action": "replace", "targetLabel": "job", "replacement": "mlflow"} in endpoint["relabelings"]


def test_mlflow_without_auth_and_without_mlflow() -> None:
    graph = render(base_args(mlflow=MlflowScrape(basic_auth_secret=None)))
    (endpoint,) = inputs(graph.one(SERVICE_MONITOR))["spec"]["endpoints"]
    assert "basicAuth" not in endpoint
    # By default the scrape authenticates with the exporter's own credential (components.mlflow.metrics).
    graph = render(base_args(mlflow=MlflowScrape()))
    (endpoint,) = inputs(graph.one(SERVICE_MONITOR))["spec"]["endpoints"]
    assert endpoint["basicAuth"]["username"] == {"name": "mlflow-metrics", "key": "username"}
    graph = render(base_args(mlflow=None))
    assert not graph.of_type(SERVICE_MONITOR)
    assert not any(name.startswith("Mlflow") for name in _rules(graph))


def _dashboard(graph: Graph) -> dict[str, Any]:
    cm = inputs(graph.one("kubernetes:core/v1:ConfigMap", "mon-dashboard"))
    assert cm["metadata"]["labels"] == {"grafana_dashboard": "1"}
    assert cm["metadata"]["annotations"] == {"grafana_folder": "MLOps Platform"}
    (text,) = cm["data"].values()
    return json.loads(text)


def test_platform_dashboard_is_valid_grafana_json(graph: Graph) -> None:
    dashboard = _dashboard(graph)
    assert validate_dashboard(dashboard) == []
    titles = {p["title"] for p in dashboard["panels"]}
    assert {
        "Request rate by status",
        "Server error ratio",
        "Latency",
        "CPU utilisation by node",
        "GPU utilisation",
        "Database connections",
        "Free storage",
    } <= titles
    cloudwatch = [
        t for p in dashboard["panels"] for t in p.get("targets", []) if t["datasource"]["uid"] == "cloudwatch"
    ]
    assert {t["metricName"] for t in cloudwatch} >= {"DatabaseConnections", "FreeStorageSpace"}
    assert all(t["dimensions"] == {"DBInstanceIdentifier": "mlops-test-db"} for t in cloudwatch)
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            if target["datasource"]["uid"] == "prometheus":
                promql_parser.parse(target["expr"])


# ---- structure ---------------------------------------------------------------------------------------


def test_children_are_parented_and_use_the_callers_providers(graph: Graph) -> None:
    component = graph.one("mlops:monitoring:Monitoring")
    providers = {r.type: r.urn for r in graph.resources if r.is_provider}
    for r in graph.resources:
        if r.is_provider or r is component:
            continue
        assert r.parent == component.urn, r.name
        expected = providers[
            "pulumi:providers:kubernetes" if r.type.startswith("kubernetes:") else "pulumi:providers:aws"
        ]
        assert r.provider == expected, r.name
        assert r.name.startswith("mon-"), r.name


def test_creates_no_log_group(graph: Graph) -> None:
    # Monitoring writes no CloudWatch log group; the ones the platform creates carry retention and KMS
    # (their components' tests).
    assert not graph.of_type("aws:cloudwatch/logGroup:LogGroup")


def test_outputs() -> None:
    captured: dict[str, Any] = {}

    def program() -> None:
        mon = Monitoring("mon", base_args())
        for key, value in monitoring_exports(mon).items():
            pulumi.export(key, value)
        captured["mon"] = mon

    graph = run_callable(program, root=REPO)
    assert graph.outputs["alertTopicArn"].startswith("arn:aws:sns:eu-west-1:123456789012:")
    assert (
        graph.outputs["prometheusUrl"]
        == "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090"
    )
    assert graph.outputs["alertmanagerUrl"] == (
        "http://kube-prometheus-stack-alertmanager.monitoring.svc.cluster.local:9093"
    )
    assert graph.outputs["grafanaUrl"] == "http://grafana.monitoring.svc.cluster.local:80"
    assert graph.outputs["grafanaAdminSecret"] == "monitoring/grafana-admin"


# ---- platform wiring ---------------------------------------------------------------------------------


def _config(environment: str) -> PlatformConfig:
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


@dataclass
class _Cluster:
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer_url: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    storage_class_name: str


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

    def __init__(self) -> None:
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
        )
        self.keys = _Keys(pulumi.Output.from_input(KEY_ARN))
        self.database = _Database(pulumi.Output.from_input("mlops-prod-db"))
        self.network = _Network(nats)
        self.model_registry = _Registry(pulumi.Output.from_input("mlflow"))


def test_add_monitoring_wires_the_platform_from_config() -> None:
    config = _config("prod")

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
    assert {"GpuNodeIdle", "GpuMetricsMissing"} <= set(_rules(graph))  # prod has the GPU group
    assert sorted(graph.outputs) == [
        "alertTopicArn",
        "alertmanagerUrl",
        "grafanaAdminSecret",
        "grafanaUrl",
        "prometheusUrl",
    ]
    (sub,) = graph.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert inputs(sub)["endpoint"] == "oncall@example.com"


# ---- alert logic: which situations fire (steady-state evaluation of the real expressions) ---------------


def _exprs(args: MonitoringArgs | None = None) -> dict[str, str]:
    groups = platform_rules(args or base_args(), "mlflow")
    return {r["alert"]: r["expr"] for g in groups for r in g["rules"]}


def _capacity(node: str, gpus: int) -> dict[str, Any]:
    return {
        "__name__": "kube_node_status_capacity",
        "job": "kube-state-metrics",
        "node": node,
        "resource": "nvidia_com_gpu",
        "unit": "integer",
        "value": gpus,
    }


def _util(node: str, value: float, gpu: str = "0") -> dict[str, Any]:
    return {
        "__name__": "DCGM_FI_DEV_GPU_UTIL",
        "job": "dcgm-exporter",
        "node": node,
        "gpu": gpu,
        "value": value,
    }


def _fires(expr: str, samples: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [labels for labels, _ in evaluate(expr, samples)]


def test_every_platform_rule_parses() -> None:
    for args in (base_args(), base_args(gpu_enabled=False, mlflow=None)):
        for groups in (platform_rules(args, "mlflow"), platform_rules(args, None)):
            for group in groups:
                for rule in group["rules"]:
                    promql_parser.parse(rule["expr"])


def test_gpu_metrics_missing_needs_gpu_nodes_and_names_the_blind_one() -> None:
    expr = _exprs()["GpuMetricsMissing"]
    cpu_node = {**_capacity("cpu-1", 0), "resource": "cpu", "value": 4}
    # No GPU group, or the group scaled to zero: no node advertises GPUs, nothing fires (ever).
    assert _fires(expr, []) == []
    assert _fires(expr, [cpu_node]) == []
    # A GPU node still registering its device plugin advertises 0 GPUs: nothing fires yet.
    assert _fires(expr, [_capacity("gpu-1", 0)]) == []
    # Every GPU node reports: quiet.
    assert _fires(expr, [_capacity("gpu-1", 1), _util("gpu-1", 40)]) == []
    # One of two GPU nodes sends nothing (exporter missing there): that node, and only it.
    assert _fires(expr, [_capacity("gpu-1", 1), _capacity("gpu-2", 4), _util("gpu-1", 40)]) == [
        {"node": "gpu-2"}
    ]
    # The whole exporter is missing.
    assert _fires(expr, [_capacity("gpu-1", 1)]) == [{"node": "gpu-1"}]


def test_gpu_node_idle_per_node_and_silent_without_gpus() -> None:
    expr = _exprs()["GpuNodeIdle"]
    assert _fires(expr, []) == []
    assert _fires(expr, [_util("gpu-1", 80), _util("gpu-1", 60, gpu="1")]) == []
    assert _fires(expr, [_util("gpu-1", 80), _util("gpu-2", 2), _util("gpu-2", 4, gpu="1")]) == [
        {"node": "gpu-2"}
    ]


def test_mlflow_alerts_fire_on_outage_and_errors_not_on_silence() -> None:
    rules = _exprs()
    up = {"__name__": "up", "job": "mlflow", "instance": "a"}
    assert _fires(rules["MlflowDown"], [{**up, "value": 1}]) == []
    assert _fires(rules["MlflowDown"], [{**up, "value": 0}]) == [{}]
    assert _fires(rules["MlflowDown"], []) == [{}]  # no replica scraped at all is an outage

    def requests(status: str, rate: float) -> dict[str, Any]:
        return {"__name__": "mlflow_http_request_total", "job": "mlflow", "status": status, "value": rate}

    errors = rules["MlflowHighErrorRate"]
    assert _fires(errors, []) == []  # no traffic: 0/0, no alert
    assert _fires(errors, [requests("200", 0), requests("500", 0)]) == []
    assert _fires(errors, [requests("200", 99), requests("500", 1)]) == []
    assert _fires(errors, [requests("200", 90), requests("503", 10)]) == [{}]


def test_crash_loop_and_volume_rules_are_scoped_and_quiet_on_fresh_volumes() -> None:
    rules = _exprs()
    waiting = {
        "__name__": "kube_pod_container_status_waiting_reason",
        "job": "kube-state-metrics",
        "reason": "CrashLoopBackOff",
        "pod": "p",
        "container": "c",
        "value": 1,
    }
    crash = rules["PlatformPodCrashLooping"]
    assert _fires(crash, [{**waiting, "namespace": "monitoring"}]) == [
        {"namespace": "monitoring", "pod": "p", "container": "c"}
    ]
    assert _fires(crash, [{**waiting, "namespace": "team-a"}]) == []

    def volume(available: float, used: float) -> list[dict[str, Any]]:
        base = {"job": "kubelet", "namespace": "monitoring", "persistentvolumeclaim": "data"}
        return [
            {**base, "__name__": "kubelet_volume_stats_available_bytes", "value": available},
            {**base, "__name__": "kubelet_volume_stats_capacity_bytes", "value": 100},
            {**base, "__name__": "kubelet_volume_stats_used_bytes", "value": used},
        ]

    filling = rules["PersistentVolumeFilling"]
    assert _fires(filling, volume(50, 50)) == []
    assert len(_fires(filling, volume(5, 95))) == 1


def test_gpu_nodes_carry_the_label_the_exporter_selects() -> None:
    """The managed GPU group sets the exporter's node label (a Karpenter GPU pool sets the same one)."""
    spec = gpu_node_group(NodeGroupSpec(instance_types=["g5.xlarge"], min_size=0, max_size=2, desired_size=0))
    key, value = GPU_NODE_LABEL
    assert spec.labels[key] == value
    assert dict(base_args().gpu_node_selector) == {key: value}
    (taint,) = [t for t in spec.taints if t[0] == "nvidia.com/gpu"]
    assert taint in base_args().gpu_tolerations


def test_dcgm_exporter_release_only_with_a_gpu_group(graph: Graph) -> None:
    dcgm = inputs(release(graph, "dcgm-exporter"))
    assert (dcgm["version"], dcgm["repositoryOpts"]["repo"]) == (
        DCGM_EXPORTER_VERSION,
        "https://nvidia.github.io/dcgm-exporter/helm-charts",
    )
    assert dcgm["namespace"] == "monitoring-node-exporter"  # root + SYS_ADMIN + hostPath: privileged PSS
    v = dcgm["values"]
    assert v["nodeSelector"] == {"mlops.platform/accelerator": "nvidia"}
    assert v["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert v["serviceMonitor"]["enabled"] is True
    assert set(v["resources"]["limits"]) == {"cpu", "memory"}
    # It waits for kube-prometheus-stack (the ServiceMonitor CRD).
    assert release(graph).urn in release(graph, "dcgm-exporter").dependencies
    assert not [
        r
        for r in render(base_args(gpu_enabled=False)).of_type(RELEASE)
        if inputs(r)["chart"] == "dcgm-exporter"
    ]


# ---- NetworkPolicies ------------------------------------------------------------------------------------

NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def _policies(graph: Graph) -> list[dict[str, Any]]:
    return [inputs(r) for r in graph.of_type(NETWORK_POLICY)]


def _selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in ((selector or {}).get("matchLabels") or {}).items()) and all(
        labels.get(e["key"]) in e["values"] for e in (selector or {}).get("matchExpressions") or []
    )


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: dict[str, str]
    ip: str = "10.10.1.10"


def _peer_admits(peer: dict[str, Any], pod: Pod | None, ip: str, own_namespace: str) -> bool:
    if "ipBlock" in peer:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(peer["ipBlock"]["cidr"])
    if pod is None:
        return False
    if "namespaceSelector" in peer:
        ns_ok = _selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": pod.namespace})
    else:
        ns_ok = pod.namespace == own_namespace
    return ns_ok and ("podSelector" not in peer or _selects(peer["podSelector"], pod.labels))


def _port_ok(rule: dict[str, Any], port: int, protocol: str) -> bool:
    ports = rule.get("ports")
    return not ports or any(p["port"] == port and p.get("protocol", "TCP") == protocol for p in ports)


def _side_allows(
    policies: list[dict[str, Any]],
    subject: Pod,
    direction: str,
    other: Pod | None,
    ip: str,
    port: int,
    protocol: str,
) -> bool:
    """Kubernetes semantics: isolated if any policy of that direction selects the pod; then some rule must allow."""
    kind, key, peers = ("Ingress", "ingress", "from") if direction == "in" else ("Egress", "egress", "to")
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == subject.namespace
        and _selects(p["spec"].get("podSelector"), subject.labels)
        and kind in p["spec"]["policyTypes"]
    ]
    if not selecting:
        return True
    return any(
        _port_ok(rule, port, protocol)
        and (
            not rule.get(peers)
            or any(_peer_admits(peer, other, ip, subject.namespace) for peer in rule[peers])
        )
        for p in selecting
        for rule in p["spec"].get(key) or []
    )


def connects(graph: Graph, src: Pod | str, dst: Pod | str, port: int, protocol: str = "TCP") -> bool:
    """Whether ``src`` may open a connection to ``dst`` (a pod, or an IP outside the pod network)."""
    policies = _policies(graph)
    src_pod = src if isinstance(src, Pod) else None
    dst_pod = dst if isinstance(dst, Pod) else None
    src_ip = src.ip if isinstance(src, Pod) else src
    dst_ip = dst.ip if isinstance(dst, Pod) else dst
    egress_ok = src_pod is None or _side_allows(policies, src_pod, "out", dst_pod, dst_ip, port, protocol)
    ingress_ok = dst_pod is None or _side_allows(policies, dst_pod, "in", src_pod, src_ip, port, protocol)
    return egress_ok and ingress_ok


PROMETHEUS = Pod("monitoring", dict(PROMETHEUS_POD_LABELS))
ALERTMANAGER = Pod("monitoring", dict(ALERTMANAGER_POD_LABELS))
GRAFANA = Pod(
    "monitoring", {"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": "kube-prometheus-stack"}
)
OPERATOR = Pod(
    "monitoring", {"app": "kube-prometheus-stack-operator", "app.kubernetes.io/name": OPERATOR_NAME_LABEL[1]}
)
WEBHOOK_JOB = Pod(
    "monitoring",
    {"app.kubernetes.io/name": OPERATOR_NAME_LABEL[1], "app": "kube-prometheus-stack-admission-create"},
)
KSM = Pod("monitoring", {"app.kubernetes.io/name": "kube-state-metrics"})
DCGM = Pod("monitoring-node-exporter", {"app.kubernetes.io/name": "dcgm-exporter"})
KUBE_DNS = Pod("kube-system", {"k8s-app": "kube-dns"})
TEAM_POD = Pod("fraud-scoring", {"app": "model"})
MLFLOW_POD = Pod("mlflow", {"app.kubernetes.io/name": "mlflow"})
API_SERVER_ENI = "10.10.2.15"  # in the VPC (cluster CIDRs)
DATABASE = "10.10.200.5"
SNS = "52.94.0.10"  # a public AWS address
ENDPOINT_ENI = "10.10.3.40"  # an interface endpoint (sns, monitoring, sts) in the private subnets


@pytest.fixture(scope="module")
def netgraph() -> Graph:
    return render(base_args(cluster_cidrs=["10.10.0.0/16", "172.20.0.0/16"]))


def test_monitoring_namespaces_deny_everything_by_default(netgraph: Graph) -> None:
    defaults = [p for p in _policies(netgraph) if p["metadata"]["name"] == "default-deny"]
    assert {p["metadata"]["namespace"] for p in defaults} == {"monitoring", "monitoring-node-exporter"}
    for p in defaults:
        assert p["spec"]["podSelector"] == {}
        assert sorted(p["spec"]["policyTypes"]) == ["Egress", "Ingress"]
        assert not p["spec"].get("ingress") and not p["spec"].get("egress")
    # Nothing in the monitoring namespaces accepts every source or reaches every port everywhere.
    for p in _policies(netgraph):
        for rule in p["spec"].get("ingress") or []:
            assert rule.get("from"), p["metadata"]["name"]
        for rule in p["spec"].get("egress") or []:
            assert rule.get("to") or rule.get("ports"), p["metadata"]["name"]
    # The policies exist before any pod of the chart starts.
    policy_urns = {r.urn for r in netgraph.of_type(NETWORK_POLICY)}
    assert policy_urns <= set(release(netgraph).dependencies)


def test_prometheus_and_alertmanager_are_reachable_only_from_who_needs_them(netgraph: Graph) -> None:
    assert connects(netgraph, GRAFANA, PROMETHEUS, 9090)
    assert not connects(netgraph, TEAM_POD, PROMETHEUS, 9090)
    assert not connects(netgraph, KSM, PROMETHEUS, 9090)
    assert connects(netgraph, PROMETHEUS, ALERTMANAGER, 9093)
    assert connects(netgraph, GRAFANA, ALERTMANAGER, 9093)
    assert not connects(netgraph, TEAM_POD, ALERTMANAGER, 9093)
    assert not connects(netgraph, MLFLOW_POD, ALERTMANAGER, 9093)
    assert connects(netgraph, ALERTMANAGER, ALERTMANAGER, 9094, "UDP")  # cluster gossip
    assert not connects(netgraph, TEAM_POD, GRAFANA, 3000)  # users come through kubectl port-forward


def test_prometheus_scrapes_targets_everywhere(netgraph: Graph) -> None:
    for target, port in (
        (MLFLOW_POD, 5000),
        (TEAM_POD, 8080),
        (KSM, 8080),
        (GRAFANA, 3000),
        (ALERTMANAGER, 8080),
        (DCGM, 9400),
        (OPERATOR, 10250),
    ):
        assert connects(netgraph, PROMETHEUS, target, port), (target, port)
    for port in (443, 10250, 9100):  # API server, kubelet, node-exporter on the host network
        assert connects(netgraph, PROMETHEUS, API_SERVER_ENI, port)
    assert not connects(netgraph, PROMETHEUS, DATABASE, 5432)
    assert not connects(netgraph, PROMETHEUS, SNS, 443)
    assert not connects(netgraph, TEAM_POD, DCGM, 9400)


def test_components_reach_the_api_server_dns_and_aws_only(netgraph: Graph) -> None:
    for pod in (PROMETHEUS, ALERTMANAGER, GRAFANA, OPERATOR, KSM, WEBHOOK_JOB):
        assert connects(netgraph, pod, KUBE_DNS, 53, "UDP"), pod
    for pod in (OPERATOR, KSM, WEBHOOK_JOB, GRAFANA):
        assert connects(netgraph, pod, API_SERVER_ENI, 443), pod
        assert connects(netgraph, pod, "172.20.0.1", 443), pod  # the kubernetes Service's ClusterIP
    for pod in (OPERATOR, KSM, WEBHOOK_JOB, PROMETHEUS, ALERTMANAGER, GRAFANA):
        assert not connects(netgraph, pod, SNS, 443), pod  # nothing reaches the internet
    # SNS, CloudWatch and STS answer on the VPC's interface endpoints.
    assert connects(netgraph, ALERTMANAGER, ENDPOINT_ENI, 443)
    assert connects(netgraph, GRAFANA, ENDPOINT_ENI, 443)
    assert not connects(netgraph, ALERTMANAGER, DATABASE, 5432)
    assert not connects(netgraph, GRAFANA, DATABASE, 5432)
    assert not connects(netgraph, KSM, TEAM_POD, 8080)
    # The control plane calls the operator's admission webhook from its ENIs in the VPC.
    assert connects(netgraph, API_SERVER_ENI, OPERATOR, 10250)
    assert not connects(netgraph, SNS, OPERATOR, 10250)
    # With the VPC CNI, pods draw their addresses from the VPC, so the webhook's ipBlock admits them too
    # (documented; the webhook serves TLS and only reviews PrometheusRules); no other port is open.
    assert connects(netgraph, TEAM_POD, OPERATOR, 10250)
    assert not connects(netgraph, TEAM_POD, OPERATOR, 8080)


def test_cluster_cidrs_must_be_private_cidr_blocks() -> None:
    for bad in (["0.0.0.0/0"], ["10.10.0.1/16"], ["not-a-cidr"], []):
        with pytest.raises(ValueError, match=r"CIDR|cidr"):
            render(base_args(cluster_cidrs=bad))


def test_platform_passes_the_vpc_and_service_cidrs() -> None:
    assert eks_default_service_cidr("10.10.0.0/16") == "172.20.0.0/16"
    assert eks_default_service_cidr("192.168.0.0/16") == "10.100.0.0/16"


def test_a_heartbeat_opens_alertmanagers_https_egress_alone_in_its_own_policy() -> None:
    graph = render(
        base_args(cluster_cidrs=["10.10.0.0/16", "172.20.0.0/16"], heartbeat_url_secret="heartbeat")
    )
    assert connects(graph, ALERTMANAGER, SNS, 443)  # the dead-man's-switch lives outside AWS
    assert not connects(graph, GRAFANA, SNS, 443)
    assert not connects(graph, ALERTMANAGER, SNS, 80)
    heartbeat = [
        p
        for p in graph.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if p.inputs["metadata"]["name"] == "alertmanager-heartbeat"
    ]
    assert len(heartbeat) == 1
    assert heartbeat[0].inputs["spec"]["egress"][0]["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0"}}]


def test_without_a_heartbeat_no_policy_opens_the_internet(netgraph: Graph) -> None:
    names = [
        p.inputs["metadata"]["name"]
        for p in netgraph.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    ]
    assert "alertmanager-heartbeat" not in names


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
