"""Pipelines on the rendered platform: the two namespaces closed, the identities scoped to the pipelines'
prefix, the executor's minimum RBAC, the archive's own database tenant, and the config around them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from compute_support import plain, policy, render_platform
from config_support import make, problems

from mlops_platform.components.pipelines.workflows import EXECUTOR_RULES, WORKFLOW_SA
from mlops_platform.mlops.graph import Graph, Resource

NAMESPACE = "kubernetes:core/v1:Namespace"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
RELEASE = "kubernetes:helm.sh/v3:Release"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"


@pytest.fixture(scope="module")
def prod() -> Graph:
    return render_platform("prod")[0]


def named(g: Graph, type_: str, name: str) -> Resource:
    (found,) = [r for r in g.of_type(type_) if r.name == name]
    return found


def metadata(r: Resource) -> dict[str, Any]:
    return plain(r, "metadata")


def in_namespace(g: Graph, type_: str, namespace: str) -> list[Resource]:
    return [r for r in g.of_type(type_) if metadata(r).get("namespace") == namespace]


def test_both_namespaces_are_restricted_and_only_the_workflow_one_is_an_mlflow_client(prod: Graph) -> None:
    labels = {metadata(r)["name"]: metadata(r)["labels"] for r in prod.of_type(NAMESPACE)}
    for ns in ("argo", "pipelines"):
        assert labels[ns]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pipelines"]["mlops.platform/mlflow-client"] == "true"
    assert "mlops.platform/mlflow-client" not in labels["argo"]


def test_the_workflow_namespace_denies_by_default_and_admits_no_ingress(prod: Graph) -> None:
    specs = {metadata(r)["name"]: plain(r, "spec") for r in in_namespace(prod, POLICY, "pipelines")}
    assert set(specs) == {"default-deny", "workflow-egress"}
    assert specs["default-deny"]["policyTypes"] == ["Ingress", "Egress"]
    assert not [s for s in specs.values() if s.get("ingress")]
    egress = specs["workflow-egress"]["egress"]
    blocks = [peer["ipBlock"]["cidr"] for rule in egress for peer in rule.get("to", []) if "ipBlock" in peer]
    assert "0.0.0.0/0" not in blocks
    mlflow = [rule for rule in egress if any("namespaceSelector" in p for p in rule.get("to", []))]
    (rule,) = [r for r in mlflow if r["ports"][0]["port"] == 5000]
    assert rule["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "mlflow"}


def test_the_controller_namespace_reaches_only_the_database_the_vpc_and_the_api(prod: Graph) -> None:
    specs = {metadata(r)["name"]: plain(r, "spec") for r in in_namespace(prod, POLICY, "argo")}
    assert {"default-deny", "allow-dns", "allow-api-server", "archive-and-artifacts"} <= set(specs)
    ports = sorted(p["port"] for rule in specs["archive-and-artifacts"]["egress"] for p in rule["ports"])
    assert ports == [443, 5432]


def test_the_workflow_role_reads_and_writes_only_under_the_pipelines_prefix(prod: Graph) -> None:
    doc = policy(named(prod, "aws:iam/rolePolicy:RolePolicy", "mlops-prod-pipelines-workflow"))
    objects = next(s for s in doc["Statement"] if s["Sid"] == "ArtifactObjects")
    assert objects["Resource"].endswith("/pipelines/*")
    assert "s3:PutObject" in objects["Action"]
    trust = policy(named(prod, "aws:iam/role:Role", "mlops-prod-pipelines-workflow"), "assumeRolePolicy")
    conditions = trust["Statement"][0]["Condition"]["StringEquals"]
    assert f"system:serviceaccount:pipelines:{WORKFLOW_SA}" in conditions.values()


def test_the_server_only_reads_there(prod: Graph) -> None:
    doc = policy(named(prod, "aws:iam/rolePolicy:RolePolicy", "mlops-prod-pipelines-server"))
    actions = [
        a for s in doc["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert not [a for a in actions if a.startswith("s3:Put") or a.startswith("s3:Delete")]
    assert "kms:GenerateDataKey" not in actions


def test_the_executor_gets_exactly_its_task_results(prod: Graph) -> None:
    role = named(prod, "kubernetes:rbac.authorization.k8s.io/v1:Role", "mlops-prod-pipelines-runner")
    rules = [(r["apiGroups"], r["resources"], r["verbs"]) for r in plain(role, "rules")]
    assert rules == [([g], [res], list(verbs)) for g, res, verbs in EXECUTOR_RULES]
    sa = named(prod, "kubernetes:core/v1:ServiceAccount", "mlops-prod-pipelines-runner")
    assert metadata(sa)["annotations"]["eks.amazonaws.com/role-arn"]


def test_the_archive_has_its_own_database_role_and_plain_credentials(prod: Graph) -> None:
    secret = named(prod, EXTERNAL_SECRET, "mlops-prod-pipelines-archive-db-credentials")
    assert metadata(secret)["namespace"] == "argo"
    spec = plain(secret, "spec")
    assert spec["target"]["name"] == "argo-archive-db" and "template" not in spec["target"]
    assert [d["secretKey"] for d in spec["data"]] == ["username", "password"]
    job = named(prod, "kubernetes:batch/v1:Job", "mlops-prod-pipelines-archive-db-ensure")
    env = {e["name"]: e.get("value") for e in plain(job, "spec")["template"]["spec"]["containers"][0]["env"]}
    assert "argo_workflows" in json.dumps(env)
    release = named(prod, RELEASE, "mlops-prod-pipelines-argo")
    assert secret.urn in release.dependencies


def test_the_release_runs_on_the_system_group_with_prods_replicas(prod: Graph) -> None:
    values = plain(named(prod, RELEASE, "mlops-prod-pipelines-argo"), "values")
    for part in ("controller", "server"):
        assert values[part]["nodeSelector"] == {"mlops.platform/node-group": "system"}
        assert values[part]["replicas"] == 2
        assert values[part]["pdb"]["enabled"] is True
    assert values["controller"]["persistence"]["archiveTTL"] == "400d"


def test_pipelines_can_be_switched_off() -> None:
    g, _ = render_platform("dev", pipelinesEnabled="false")
    assert not [r for r in g.resources if r.type == "mlops:pipelines:Pipelines"]
    assert "argo" not in [metadata(r)["name"] for r in g.of_type(NAMESPACE)]


def test_config_refuses_a_gpu_train_step_without_the_gpu_pool() -> None:
    found = problems({"mlops-platform:pipelinesTrainOnGpu": "true"})
    assert (
        "mlops-platform:pipelinesTrainOnGpu",
        "true needs gpuPoolEnabled: true (the GPU pool runs the train step)",
    ) in found
    assert make({"mlops-platform:pipelinesTrainOnGpu": "true", "mlops-platform:gpuPoolEnabled": "true"})


def test_config_refuses_a_bad_schedule_and_a_registry_without_the_training_repository() -> None:
    (key, message), *_ = problems({"mlops-platform:pipelinesRetrainSchedule": "every monday"})
    assert key == "mlops-platform:pipelinesRetrainSchedule" and "cron schedule of five fields" in message
    found = problems(
        {
            "mlops-platform:registryRepositories": json.dumps(["mlflow"]),
            "mlops-platform:servingEnabled": "false",
        }
    )
    assert [k for k, _ in found] == ["mlops-platform:registryRepositories"]
    assert "'training'" in found[0][1]
    assert make(
        {
            "mlops-platform:registryRepositories": json.dumps(["mlflow"]),
            "mlops-platform:pipelinesEnabled": "false",
            "mlops-platform:servingEnabled": "false",
        }
    )


def test_prometheus_scrapes_the_controller_and_alerts_when_none_is_up(prod: Graph) -> None:
    monitor = named(
        prod, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "mlops-prod-pipelines-controller-metrics"
    )
    spec = plain(monitor, "spec")
    assert spec["selector"]["matchLabels"] == {"app.kubernetes.io/name": "argo-workflows-workflow-controller"}
    assert spec["endpoints"][0]["port"] == "metrics"
    release = named(prod, RELEASE, "mlops-prod-kube-prometheus-stack")
    assert release.urn in monitor.dependencies
    rule = named(prod, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "mlops-prod-pipelines-rules")
    (alert,) = plain(rule, "spec")["groups"][0]["rules"]
    assert alert["alert"] == "ArgoWorkflowsControllerDown"
    assert alert["expr"] == 'absent(up{job="argo-workflows"} == 1)'


def test_the_pipelines_mlflow_identity_is_their_own_and_generated_in_their_namespace(prod: Graph) -> None:
    credential = named(prod, EXTERNAL_SECRET, "mlops-prod-pipelines-mlflow-user-credential")
    assert metadata(credential)["namespace"] == "pipelines"
    spec = plain(credential, "spec")
    assert spec["refreshPolicy"] == "CreatedOnce"
    assert spec["target"]["template"]["data"]["username"] == "pipelines"
    role = named(
        prod, "kubernetes:rbac.authorization.k8s.io/v1:Role", "mlops-prod-pipelines-mlflow-user-reader"
    )
    assert plain(role, "rules") == [
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["pipelines-mlflow"], "verbs": ["get"]}
    ]
    binding = named(
        prod, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "mlops-prod-pipelines-mlflow-user-reader"
    )
    assert plain(binding, "subjects") == [
        {"kind": "ServiceAccount", "name": "pipelines-user-sync", "namespace": "mlflow"}
    ]
    job = named(prod, "kubernetes:batch/v1:Job", "mlops-prod-pipelines-mlflow-user-sync")
    pod = plain(job, "spec")["template"]["spec"]
    assert metadata(job)["namespace"] == "mlflow"
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["MLFLOW_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "mlflow-auth",
        "key": "admin-password",
    }
    assert env["USER_SECRET_NAMESPACE"]["value"] == "pipelines"
    ingress = named(prod, POLICY, "mlops-prod-pipelines-mlflow-user-to-mlflow")
    (rule,) = plain(ingress, "spec")["ingress"]
    assert rule["from"] == [
        {
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/name": "mlflow-user-sync",
                    "app.kubernetes.io/instance": "pipelines",
                    "app.kubernetes.io/part-of": "mlops-platform",
                }
            }
        }
    ]
    assert (
        plain(ingress, "spec")["podSelector"]["matchLabels"]["app.kubernetes.io/instance"]
        == "mlops-prod-mlflow"
    )
