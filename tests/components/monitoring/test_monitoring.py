"""Monitoring under the recording monitor: the releases, workload identity, the encrypted alert topic and
its subscriptions, the alarms' actions, Grafana's generated admin, MLflow's and Karpenter's ServiceMonitors,
parents, providers and outputs."""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pytest
from monitoring_support import (
    ACCOUNT,
    ALARM,
    ISSUER,
    KEY_ARN,
    PROVIDER_ARN,
    RELEASE,
    REPO,
    SERVICE_MONITOR,
    base_args,
    inputs,
    release,
    render,
    rules_by_alert,
    topic_arn,
    values,
    walk,
)

from mlops_platform.components.monitoring.args import MlflowScrape
from mlops_platform.components.monitoring.charts import (
    DCGM_EXPORTER_VERSION,
    KARPENTER_JOB,
    KUBE_PROMETHEUS_STACK_REPOSITORY,
    KUBE_PROMETHEUS_STACK_VERSION,
)
from mlops_platform.components.monitoring.monitoring import Monitoring
from mlops_platform.components.platform.monitoring import monitoring_exports
from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.graph import Graph


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


def test_node_exporter_alone_in_a_privileged_namespace(graph: Graph) -> None:
    namespaces = {
        inputs(r)["metadata"]["name"]: inputs(r)["metadata"]["labels"]
        for r in graph.of_type("kubernetes:core/v1:Namespace")
    }
    assert namespaces["monitoring"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert namespaces["monitoring-node-exporter"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert values(graph)["prometheus-node-exporter"]["namespaceOverride"] == "monitoring-node-exporter"


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
        "mon-events-0-failed-invocations",
        "mon-events-1-failed-invocations",
    }
    for alarm in alarms:
        a = inputs(alarm)
        assert a["alarmActions"] == [topic_arn(graph)], alarm.name
        assert a["okActions"] == [topic_arn(graph)], alarm.name
        assert a["actionsEnabled"] is True


def test_without_database_or_nat_no_such_alarms() -> None:
    graph = render(base_args(database_identifier=None, nat_gateway_ids=[], event_rule_names=[]))
    assert {a.name for a in graph.of_type(ALARM)} == {"mon-eks-apiserver-5xx", "mon-eks-etcd-storage-high"}


def test_each_event_rule_alarms_on_any_failed_invocation(graph: Graph) -> None:
    alarm = inputs(graph.one(ALARM, "mon-events-1-failed-invocations"))
    assert alarm["name"] == "mon-events-1-failed-invocations"
    assert (alarm["namespace"], alarm["metricName"], alarm["statistic"]) == (
        "AWS/Events",
        "FailedInvocations",
        "Sum",
    )
    assert alarm["dimensions"] == {"RuleName": "mlops-test-eks-karpenter-rebalance"}
    assert (alarm["comparisonOperator"], alarm["threshold"], alarm["period"]) == (
        "GreaterThanThreshold",
        0,
        300,
    )
    assert (alarm["evaluationPeriods"], alarm["datapointsToAlarm"]) == (1, 1)
    # No failure reported is no data: not an alarm.
    assert alarm["treatMissingData"] == "notBreaching"
    assert "mlops-test-eks-karpenter-rebalance" in alarm["alarmDescription"]
    with pytest.raises(ValueError, match="event_rule_names must be unique"):
        render(base_args(event_rule_names=["a", "a"]))


def test_karpenter_service_monitor_in_its_namespace_after_the_crd(graph: Graph) -> None:
    resource = graph.one(SERVICE_MONITOR, "mon-karpenter")
    sm = inputs(resource)
    assert (sm["metadata"]["name"], sm["metadata"]["namespace"]) == ("karpenter", "karpenter")
    # The karpenter chart's Service for the release karpenter (its selector labels) ...
    assert sm["spec"]["selector"] == {
        "matchLabels": {"app.kubernetes.io/name": "karpenter", "app.kubernetes.io/instance": "karpenter"}
    }
    (endpoint,) = sm["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http-metrics", "/metrics")
    assert "basicAuth" not in endpoint
    # ... as the job the Karpenter rules select.
    assert {"action": "replace", "targetLabel": "job", "replacement": KARPENTER_JOB} in endpoint[
        "relabelings"
    ]
    assert rules_by_alert(graph)["KarpenterDown"]["expr"] == 'absent(up{job="karpenter"} == 1)'
    # Created once kube-prometheus-stack has brought the ServiceMonitor CRD.
    release = graph.one("kubernetes:helm.sh/v3:Release", "mon-kube-prometheus-stack")
    assert release.urn in resource.dependencies
    without = render(base_args(karpenter_namespace=None))
    assert [r.name for r in without.of_type(SERVICE_MONITOR)] == ["mon-mlflow"]


def test_mlflow_service_monitor_with_basic_auth(graph: Graph) -> None:
    sm = inputs(graph.one(SERVICE_MONITOR, "mon-mlflow"))
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
    (endpoint,) = inputs(graph.one(SERVICE_MONITOR, "mon-mlflow"))["spec"]["endpoints"]
    assert "basicAuth" not in endpoint
    # By default the scrape authenticates with the exporter's own credential (mlops_platform.components.mlflow.metrics).
    graph = render(base_args(mlflow=MlflowScrape()))
    (endpoint,) = inputs(graph.one(SERVICE_MONITOR, "mon-mlflow"))["spec"]["endpoints"]
    assert endpoint["basicAuth"]["username"] == {"name": "mlflow-metrics", "key": "username"}
    graph = render(base_args(mlflow=None))
    assert [r.name for r in graph.of_type(SERVICE_MONITOR)] == ["mon-karpenter"]
    assert not any(name.startswith("Mlflow") for name in rules_by_alert(graph))


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
