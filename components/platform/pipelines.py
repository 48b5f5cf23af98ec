"""The pipelines of :class:`~mlops_platform.components.platform.platform.MlopsPlatform`: Argo Workflows, the
pipelines namespace and the reference pipeline's Argo objects (:mod:`mlops_platform.components.pipelines`),
wired from the ``pipelines*`` keys. Called after :func:`~mlops_platform.components.platform.compute.add_compute`:
it needs the cluster, the registry, MLflow and the External Secrets Operator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from mlops_platform.components.mlflow.names import AUTH_SECRET
from mlops_platform.components.mlflow.server import IMAGE_UID as MLFLOW_UID
from mlops_platform.components.mlflow.server import PORT as MLFLOW_PORT
from mlops_platform.components.mlflow.server import RDS_CA_BUNDLE_PATH
from mlops_platform.components.mlflow.workload import server_selector
from mlops_platform.components.mlflow.workload_user import MlflowWorkloadUser, MlflowWorkloadUserArgs
from mlops_platform.components.pipelines.reference import IMAGE_REPOSITORY as STEP_IMAGE_REPOSITORY
from mlops_platform.components.pipelines.reference import (
    ReferencePipelineSpec,
    cron_workflow,
    workflow_template,
)
from mlops_platform.components.pipelines.workflows import WORKFLOW_SA, ArgoObject, Pipelines, PipelinesArgs
from mlops_platform.components.platform.compute import Compute, PlatformLike, mlflow_image
from mlops_platform.components.platform.monitoring import eks_default_service_cidr
from mlops_platform.components.platform.settings import PlatformConfig

__all__ = [
    "MLFLOW_CREDENTIALS_SECRET",
    "STEP_IMAGE_REPOSITORY",
    "add_pipelines",
    "pipelines_exports",
    "reference_objects",
    "step_image",
]

#: The Secret (keys ``username``, ``password``) with the pipelines' own MLflow identity, in their namespace.
MLFLOW_CREDENTIALS_SECRET = "pipelines-mlflow"


def step_image(compute: Compute, config: PlatformConfig) -> pulumi.Output[str]:
    """The step image's reference: the training repository at ``pipelinesStepImageTag``."""
    return pulumi.Output.concat(
        compute.registry.repository_urls[STEP_IMAGE_REPOSITORY], ":", config.pipelines.step_image_tag
    )


def reference_objects(
    config: PlatformConfig,
    *,
    image: pulumi.Input[str],
    bucket: pulumi.Input[str],
    mlflow_url: pulumi.Input[str],
) -> list[ArgoObject]:
    """The reference pipeline's WorkflowTemplate, and its CronWorkflow when ``pipelinesRetrainSchedule`` is set,
    rendered with the stack's step image, bucket and MLflow."""
    settings = config.pipelines

    def spec(values: list[Any]) -> ReferencePipelineSpec:
        return ReferencePipelineSpec(
            namespace="pipelines",
            image=values[0],
            service_account=WORKFLOW_SA,
            mlflow_tracking_uri=values[2],
            mlflow_credentials_secret=MLFLOW_CREDENTIALS_SECRET,
            artifact_bucket=values[1],
            artifact_prefix="pipelines/",
            region=config.region,
            data_classification=config.governance.data_classification,
            gpu=settings.train_on_gpu,
            active_deadline_seconds=settings.deadline_hours * 3600,
            ttl_seconds_after_success=settings.workflow_ttl_hours * 3600,
            ttl_seconds_after_failure=settings.workflow_ttl_hours * 3600,
        )

    specs = pulumi.Output.all(image, bucket, mlflow_url).apply(spec)
    template = ArgoObject("WorkflowTemplate", "reference-training", specs.apply(workflow_template))
    if not settings.retrain_schedule:
        return [template]
    cron = specs.apply(lambda s: cron_workflow(s, [settings.retrain_schedule], timezone="Etc/UTC"))
    return [template, ArgoObject("CronWorkflow", "reference-training-scheduled", cron)]


def add_pipelines(
    platform: PlatformLike,
    config: PlatformConfig,
    compute: Compute,
    *,
    workflow_templates: Sequence[ArgoObject] | None = None,
    prometheus: pulumi.Resource | None = None,
) -> Pipelines | None:
    """Argo Workflows, the pipelines namespace and the Argo objects (default: the reference pipeline's) as children
    of ``platform``; None when pipelines are off."""
    if not config.pipelines.enabled:
        return None
    if not isinstance(platform, pulumi.Resource):
        raise TypeError("add_pipelines needs the platform component (a pulumi.Resource) as parent")
    settings, cluster, mlflow = config.pipelines, compute.cluster, compute.model_registry
    vpc_cidr = config.network.vpc_cidr
    if workflow_templates is None:
        workflow_templates = reference_objects(
            config,
            image=step_image(compute, config),
            bucket=platform.artifacts.bucket_name,
            mlflow_url=mlflow.url,
        )
    pipelines = Pipelines(
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
            tenant_image=mlflow_image(compute.registry),
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
    _mlflow_user(config, compute, pipelines)
    return pipelines


def _mlflow_user(config: PlatformConfig, compute: Compute, pipelines: Pipelines) -> MlflowWorkloadUser:
    """The pipelines' own MLflow user ``pipelines``: its password generated in their namespace into
    :data:`MLFLOW_CREDENTIALS_SECRET`, set in MLflow by a sync Job in MLflow's namespace."""
    mlflow, cluster = compute.model_registry, compute.cluster
    vpc_cidr = config.network.vpc_cidr
    return MlflowWorkloadUser(
        f"{config.name}-pipelines-mlflow-user",
        MlflowWorkloadUserArgs(
            username="pipelines",
            namespace="pipelines",
            secret_name=MLFLOW_CREDENTIALS_SECRET,
            mlflow_namespace="mlflow",
            mlflow_url=mlflow.url,
            mlflow_port=MLFLOW_PORT,
            mlflow_server_selector=server_selector(f"{config.name}-mlflow"),
            admin_secret=(AUTH_SECRET, "admin-username", "admin-password"),
            image=mlflow_image(compute.registry),
            run_as_user=MLFLOW_UID,
            cluster_cidrs=[vpc_cidr, eks_default_service_cidr(vpc_cidr)],
            node_selector={"mlops.platform/node-group": "system"},
            depends_on=[
                pipelines.workflow_ns,
                mlflow.namespace,
                mlflow.deployment,
                compute.external_secrets.release,
            ],
        ),
        opts=pulumi.ResourceOptions(parent=pipelines, provider=cluster.provider),
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
