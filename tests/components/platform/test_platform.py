"""MlopsPlatform: the stack outputs it declares once (the contract, then the operational outputs)."""

from __future__ import annotations

from typing import Any

import pulumi
from compute_support import REGION, config

from mlops_platform.components.platform.monitoring import monitoring_exports
from mlops_platform.components.platform.outputs import EXPORT_NAMES
from mlops_platform.components.platform.platform import MlopsPlatform
from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.graph import Secret

OPERATIONAL = [
    "vpcCidr",
    "publicSubnetIds",
    "databaseSubnetIds",
    "flowLogGroupName",
    "artifactLogBucketName",
    "databaseName",
    "databaseSecurityGroupId",
    "databaseInstanceIdentifier",
    "clusterArn",
    "storageClassName",
    "ecrRepositoryArns",
    "mlflowNamespace",
    "mlflowServiceAccountRoleArn",
    "prometheusUrl",
    "alertmanagerUrl",
    "grafanaUrl",
    "grafanaAdminSecret",
    "argoNamespace",
    "argoServerService",
    "pipelinesNamespace",
    "pipelinesServiceAccount",
    "pipelinesWorkflowRoleArn",
    "servingNamespace",
    "certManagerNamespace",
    "servingRuntimeName",
    "servingStorageContainerName",
]
"""The outputs beyond the contract, in export order (then monitoring_exports', pipelines_exports', then
serving_exports')."""


def test_outputs_are_the_contract_then_the_operational_outputs() -> None:
    holder: dict[str, Any] = {}

    def program() -> None:
        platform = MlopsPlatform("mlops", config("dev"))
        holder["platform"] = platform
        for name, value in platform.outputs.items():
            pulumi.export(name, value)

    graph = run_callable(program, project="mlops-platform", stack="dev", config={"aws:region": REGION})
    platform: MlopsPlatform = holder["platform"]
    assert list(platform.outputs) == [*EXPORT_NAMES.values(), *OPERATIONAL]
    assert set(monitoring_exports(platform.monitoring)) <= set(platform.outputs)
    assert platform.outputs["alertTopicArn"] is platform.monitoring.alert_topic_arn
    assert list(graph.outputs) == list(platform.outputs)
    assert graph.outputs["environment"] == "dev" and graph.outputs["contractVersion"] == "1"
    assert isinstance(graph.outputs["kubeconfig"], Secret)
    assert graph.outputs["mlflowNamespace"] == "mlflow"
    assert graph.outputs["pipelinesNamespace"] == "pipelines"
    assert graph.outputs["servingNamespace"] == "kserve"
    assert graph.outputs["servingRuntimeName"] == "mlops-mlserver"
    assert graph.outputs["argoServerService"] == "argo-workflows-server.argo.svc.cluster.local:2746"
