"""The pipelines of :class:`~mlops_platform.components.platform.platform.MlopsPlatform`: Argo Workflows, the
pipelines namespace and the reference pipeline's Argo objects (:mod:`mlops_platform.components.pipelines`),
wired from the ``pipelines*`` keys. Called after :func:`~mlops_platform.components.platform.compute.add_compute`:
it needs the cluster, the registry, MLflow and the External Secrets Operator."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

from mlops_platform.components.mlflow.server import IMAGE_REPOSITORY as MLFLOW_REPOSITORY
from mlops_platform.components.mlflow.server import IMAGE_TAG as MLFLOW_IMAGE_TAG
from mlops_platform.components.mlflow.server import IMAGE_UID as MLFLOW_UID
from mlops_platform.components.mlflow.server import PORT as MLFLOW_PORT
from mlops_platform.components.mlflow.server import RDS_CA_BUNDLE_PATH
from mlops_platform.components.pipelines.workflows import Pipelines, PipelinesArgs
from mlops_platform.components.platform.compute import Compute, PlatformLike
from mlops_platform.components.platform.monitoring import eks_default_service_cidr
from mlops_platform.components.platform.settings import PlatformConfig

__all__ = ["STEP_IMAGE_REPOSITORY", "add_pipelines", "pipelines_exports", "step_image"]

#: The ECR repository of the pipeline step image (docker/pipeline).
STEP_IMAGE_REPOSITORY = "training"


def step_image(compute: Compute, config: PlatformConfig) -> pulumi.Output[str]:
    """The step image's reference: the training repository at ``pipelinesStepImageTag``."""
    return pulumi.Output.concat(
        compute.registry.repository_urls[STEP_IMAGE_REPOSITORY], ":", config.pipelines.step_image_tag
    )


def add_pipelines(
    platform: PlatformLike,
    config: PlatformConfig,
    compute: Compute,
    *,
    workflow_templates: Sequence[pulumi.Input[Mapping[str, Any]]] = (),
    prometheus: pulumi.Resource | None = None,
) -> Pipelines | None:
    """Argo Workflows and the pipelines namespace as children of ``platform``; None when pipelines are off."""
    if not config.pipelines.enabled:
        return None
    if not isinstance(platform, pulumi.Resource):
        raise TypeError("add_pipelines needs the platform component (a pulumi.Resource) as parent")
    settings, cluster, mlflow = config.pipelines, compute.cluster, compute.model_registry
    vpc_cidr = config.network.vpc_cidr
    return Pipelines(
        f"{config.name}-pipelines",
        PipelinesArgs(
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_issuer_url=cluster.oidc_issuer_url,
            artifact_bucket_name=platform.artifacts.bucket_name,
            artifact_bucket_arn=platform.artifacts.bucket_arn,
            artifact_key_arn=platform.keys.data_key_arn,
            region=config.region,
            vpc_cidr=vpc_cidr,
            cluster_cidrs=[vpc_cidr, eks_default_service_cidr(vpc_cidr)],
            database_cidrs=platform.network.database_subnet_cidrs,
            db_host=platform.database.address,
            db_port=platform.database.port,
            db_master_secret_arn=platform.database.master_secret_arn,
            db_secret_key_arn=platform.keys.data_key_arn,
            db_admin_namespace="db-admin",
            db_admin_depends_on=mlflow.db_admin_ready,
            tenant_image=pulumi.Output.concat(
                compute.registry.repository_urls[MLFLOW_REPOSITORY], ":", MLFLOW_IMAGE_TAG
            ),
            tenant_ca_bundle_path=RDS_CA_BUNDLE_PATH,
            tenant_image_uid=MLFLOW_UID,
            mlflow_namespace="mlflow",
            mlflow_port=MLFLOW_PORT,
            mlflow_client_label=("mlops.platform/mlflow-client", "true"),
            external_secrets=compute.external_secrets.release,
            node_selector={"mlops.platform/node-group": "system"},
            controller_replicas=settings.controller_replicas,
            server_replicas=settings.server_replicas,
            active_deadline_seconds=settings.deadline_hours * 3600,
            ttl_seconds=settings.workflow_ttl_hours * 3600,
            archive_ttl=f"{settings.archive_ttl_days}d",
            workflow_templates=workflow_templates,
            prometheus=prometheus,
            await_job=config.mlflow.await_rollout,
        ),
        opts=pulumi.ResourceOptions(
            parent=platform,
            providers={"aws": platform.aws_provider, "kubernetes": cluster.provider},
            depends_on=[compute.database_ingress],
        ),
    )


def pipelines_exports(pipelines: Pipelines | None) -> dict[str, pulumi.Input[Any]]:
    """The pipelines' operational outputs by export name (none when pipelines are off)."""
    if pipelines is None:
        return {}
    return {
        "argoNamespace": pipelines.namespace_name,
        "argoServerService": pipelines.server_service,
        "pipelinesNamespace": pipelines.workflow_namespace_name,
        "pipelinesServiceAccount": pipelines.workflow_service_account,
        "pipelinesWorkflowRoleArn": pipelines.workflow_role_arn,
    }
