"""The compute half of :class:`~mlops_platform.components.platform.platform.MlopsPlatform`: cluster, registries, model registry.

``MlopsPlatform.__init__`` calls :func:`add_compute` after the network and the data layer (keys, artifact
store, database) exist; ``stacks/__main__.py`` exports the contract (components/platform/outputs.py). The platform is typed
structurally (:class:`PlatformLike`) so this module only depends on the attribute names it reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import pulumi
import pulumi_aws as aws

from mlops_platform.components.aws_context import AwsContext
from mlops_platform.components.cluster.cluster import KubernetesCluster, KubernetesClusterArgs
from mlops_platform.components.cluster.external_secrets import (
    ExternalSecretsOperator,
    install_external_secrets,
)
from mlops_platform.components.cluster.karpenter import KarpenterSpec, NodePoolSpec
from mlops_platform.components.cluster.node_groups import NodeGroupSpec, gpu_node_group
from mlops_platform.components.container_registry import ContainerRegistry, ContainerRegistryArgs
from mlops_platform.components.deploy_runner import DeployRunner, DeployRunnerArgs
from mlops_platform.components.governance import PROJECT
from mlops_platform.components.mlflow.model_registry import ModelRegistry, ModelRegistryArgs
from mlops_platform.components.mlflow.server import IMAGE_REPOSITORY as MLFLOW_REPOSITORY
from mlops_platform.components.mlflow.server import IMAGE_TAG as MLFLOW_IMAGE_TAG
from mlops_platform.components.platform.monitoring import eks_default_service_cidr
from mlops_platform.components.platform.settings import (
    GeneralPool,
    GpuPool,
    NodeGroupSettings,
    PlatformConfig,
)


class _Keys(Protocol):
    @property
    def data_key_arn(self) -> pulumi.Input[str]: ...
    @property
    def logs_key_arn(self) -> pulumi.Input[str]: ...
    @property
    def cluster_key_arn(self) -> pulumi.Input[str]: ...


class _Artifacts(Protocol):
    @property
    def bucket_name(self) -> pulumi.Input[str]: ...
    @property
    def bucket_arn(self) -> pulumi.Input[str]: ...


class _Database(Protocol):
    @property
    def address(self) -> pulumi.Input[str]: ...
    @property
    def port(self) -> pulumi.Input[int]: ...
    @property
    def database_name(self) -> pulumi.Input[str]: ...
    @property
    def master_secret_arn(self) -> pulumi.Input[str]: ...
    @property
    def security_group_id(self) -> pulumi.Input[str]: ...


class _Network(Protocol):
    @property
    def vpc_id(self) -> pulumi.Input[str]: ...
    @property
    def private_subnet_ids(self) -> pulumi.Input[Sequence[pulumi.Input[str]]]: ...
    @property
    def database_subnet_cidrs(self) -> Sequence[str]: ...


class PlatformLike(Protocol):
    """What :func:`add_compute` reads from the platform (attribute names of MlopsPlatform)."""

    @property
    def aws_provider(self) -> aws.Provider: ...
    @property
    def aws_context(self) -> AwsContext: ...
    @property
    def network(self) -> _Network: ...
    @property
    def keys(self) -> _Keys: ...
    @property
    def artifacts(self) -> _Artifacts: ...
    @property
    def database(self) -> _Database: ...


@dataclass(frozen=True)
class Compute:
    cluster: KubernetesCluster
    registry: ContainerRegistry
    model_registry: ModelRegistry
    external_secrets: ExternalSecretsOperator
    database_ingress: aws.vpc.SecurityGroupIngressRule
    deploy_runner: DeployRunner
    runner_api_ingress: aws.vpc.SecurityGroupIngressRule


def node_group(settings: NodeGroupSettings) -> NodeGroupSpec:
    return NodeGroupSpec(
        instance_types=list(settings.instance_types),
        min_size=settings.min_size,
        max_size=settings.max_size,
        desired_size=settings.desired_size,
        disk_size_gib=settings.disk_size_gib,
    )


def _pool(
    name: str, settings: GeneralPool | GpuPool, *, architectures: list[str], gpu_limit: int
) -> NodePoolSpec:
    return NodePoolSpec(
        name=name,
        instance_families=list(settings.instance_families),
        capacity_types=list(settings.capacity_types),
        architectures=architectures,
        cpu_limit=settings.cpu_limit,
        memory_limit_gib=settings.memory_limit_gib,
        gpu_limit=gpu_limit,
        consolidation_policy=settings.consolidation_policy,
        consolidate_after=settings.consolidate_after,
        expire_after=settings.expire_after,
        disruption_budget=settings.disruption_budget,
        disk_size_gib=settings.disk_size_gib,
        expected_nodes=settings.expected_nodes,
    )


def karpenter_spec(config: PlatformConfig) -> KarpenterSpec | None:
    """Karpenter from the ``karpenter*``, ``generalPool*`` and ``gpuPool*`` keys; None when it is off."""
    if not config.karpenter.enabled:
        return None
    general = config.general_pool
    pools = [_pool("general", general, architectures=list(general.architectures), gpu_limit=0)]
    if config.gpu_pool.enabled:
        gpu = config.gpu_pool
        # The EKS AL2023 NVIDIA AMI is x86_64 only (NVIDIA_GPU_FAMILIES are all x86_64 families).
        pools.append(_pool("gpu", gpu, architectures=["amd64"], gpu_limit=gpu.gpu_limit))
    return KarpenterSpec(
        ami_alias=config.karpenter.ami_alias,
        pools=pools,
        node_tags=config.governance_tags,
        controller_replicas=config.karpenter.controller_replicas,
    )


def mlflow_image(registry: ContainerRegistry) -> pulumi.Output[str]:
    """The platform's MLflow image in ``registry``: what the server runs, and the Python (psycopg2, boto3, the
    RDS CA bundle) the platform's small jobs run in."""
    return pulumi.Output.concat(registry.repository_urls[MLFLOW_REPOSITORY], ":", MLFLOW_IMAGE_TAG)


def state_bucket_name(config: PlatformConfig, account_id: str) -> str:
    """The Pulumi state bucket: ``deployStateBucket``, or the name ``mlops bootstrap`` gives it by default."""
    return config.deploy.state_bucket or f"{account_id}-{config.region}-pulumi-state"


def add_deploy_runner(platform: PlatformLike, config: PlatformConfig) -> DeployRunner:
    """The in-VPC deploy runner (CodeBuild in the private subnets) whose role is the cluster's deployer."""
    if not isinstance(platform, pulumi.Resource):
        raise TypeError("add_deploy_runner needs the platform component (a pulumi.Resource) as parent")
    ctx = platform.aws_context
    return DeployRunner(
        f"{config.name}-deploy",
        DeployRunnerArgs(
            environment=config.environment,
            prefix=config.name,
            vpc_id=platform.network.vpc_id,
            subnet_ids=platform.network.private_subnet_ids,
            state_bucket=state_bucket_name(config, ctx.account_id),
            stack_name=f"{pulumi.get_organization() or 'organization'}/{PROJECT}/{pulumi.get_stack()}",
            logs_key_arn=platform.keys.logs_key_arn,
            artifacts_key_arn=platform.keys.data_key_arn,
            aws_context=ctx,
            log_retention_days=config.logs.retention_days,
            timeout_minutes=config.deploy.runner_timeout_minutes,
            image=config.deploy.runner_image,
            compute_type=config.deploy.runner_compute_type,
            policy_pack_config=f"policies/config/{config.environment}.json",
        ),
        opts=pulumi.ResourceOptions(parent=platform, providers={"aws": platform.aws_provider}),
    )


def add_compute(platform: PlatformLike, config: PlatformConfig) -> Compute:
    """Create the cluster, the container registry and the model registry as children of ``platform``."""
    if not isinstance(platform, pulumi.Resource):
        raise TypeError("add_compute needs the platform component (a pulumi.Resource) as parent")
    if MLFLOW_REPOSITORY not in config.registry.repositories:
        raise ValueError(
            f"registryRepositories must include {MLFLOW_REPOSITORY!r}: the platform's MLflow image lives there"
        )
    child = pulumi.ResourceOptions(parent=platform, providers={"aws": platform.aws_provider})

    # The deploy runner's role is the deployer: the admin access entry names it, whoever runs the program.
    runner = add_deploy_runner(platform, config)
    cluster = _cluster(platform, config, runner, child)
    database_ingress, runner_api_ingress = _ingress_rules(platform, config, cluster, runner, child)
    registry = _registry(platform, config, cluster, child)
    external_secrets = _external_secrets(platform, config, cluster)
    model_registry = _model_registry(
        platform, config, cluster, registry, external_secrets, database_ingress, parent=platform
    )
    return Compute(
        cluster=cluster,
        registry=registry,
        model_registry=model_registry,
        external_secrets=external_secrets,
        database_ingress=database_ingress,
        deploy_runner=runner,
        runner_api_ingress=runner_api_ingress,
    )


def _cluster(
    platform: PlatformLike, config: PlatformConfig, runner: DeployRunner, child: pulumi.ResourceOptions
) -> KubernetesCluster:
    return KubernetesCluster(
        f"{config.name}-eks",
        KubernetesClusterArgs(
            vpc_id=platform.network.vpc_id,
            private_subnet_ids=platform.network.private_subnet_ids,
            secrets_key_arn=platform.keys.cluster_key_arn,
            logs_key_arn=platform.keys.logs_key_arn,
            volume_key_arn=platform.keys.cluster_key_arn,
            region=config.region,
            kubernetes_version=config.cluster.kubernetes_version,
            system_nodes=node_group(config.system_nodes),
            workload_nodes=node_group(config.workload_nodes) if config.workload_nodes.enabled else None,
            gpu_nodes=gpu_node_group(node_group(config.gpu_nodes)) if config.gpu_nodes.enabled else None,
            karpenter=karpenter_spec(config),
            vpc_cidr=config.network.vpc_cidr,
            cluster_cidrs=[config.network.vpc_cidr, eks_default_service_cidr(config.network.vpc_cidr)],
            admin_principal_arns=list(config.cluster.admin_principal_arns),
            deployer_principal_arn=runner.role_arn,
            public_access_cidrs=list(config.cluster.public_access_cidrs),
            api_access_cidrs=list(config.cluster.api_access_cidrs),
            partition=platform.aws_context.partition,
            log_retention_days=config.logs.retention_days,
            deletion_protection=config.protection.stateful_resources,
        ),
        opts=child,
    )


def _ingress_rules(
    platform: PlatformLike,
    config: PlatformConfig,
    cluster: KubernetesCluster,
    runner: DeployRunner,
    child: pulumi.ResourceOptions,
) -> tuple[aws.vpc.SecurityGroupIngressRule, aws.vpc.SecurityGroupIngressRule]:
    """The database's rule for the nodes, and the control plane's rule for the deploy runner."""
    # The database admits exactly the node security group (pods run on the nodes' ENIs).
    database_ingress = aws.vpc.SecurityGroupIngressRule(
        f"{config.name}-database-from-nodes",
        security_group_id=platform.database.security_group_id,
        referenced_security_group_id=cluster.node_security_group_id,
        ip_protocol="tcp",
        from_port=platform.database.port,
        to_port=platform.database.port,
        description="PostgreSQL from the EKS nodes",
        opts=child,
    )
    # The runner reaches the API server through the private endpoint (the control-plane ENIs' group).
    runner_api_ingress = aws.vpc.SecurityGroupIngressRule(
        f"{config.name}-cp-from-deploy-runner",
        security_group_id=cluster.control_plane_security_group_id,
        referenced_security_group_id=runner.security_group_id,
        ip_protocol="tcp",
        from_port=443,
        to_port=443,
        description="API server (private endpoint) from the deploy runner",
        opts=child,
    )
    return database_ingress, runner_api_ingress


def _registry(
    platform: PlatformLike, config: PlatformConfig, cluster: KubernetesCluster, child: pulumi.ResourceOptions
) -> ContainerRegistry:
    return ContainerRegistry(
        f"{config.name}-ecr",
        ContainerRegistryArgs(
            repositories=list(config.registry.repositories),
            name_prefix=f"{config.name}/",
            kms_key_arn=platform.keys.data_key_arn,
            puller_role_arn=cluster.node_role_arn,
            additional_puller_role_arns=[cluster.karpenter.node_role.arn] if cluster.karpenter else [],
            keep_tagged_images=config.registry.keep_tagged_images,
            untagged_expiry_days=config.registry.untagged_expiry_days,
            protect=config.protection.stateful_resources,
        ),
        opts=child,
    )


def _external_secrets(
    platform: pulumi.Resource, config: PlatformConfig, cluster: KubernetesCluster
) -> ExternalSecretsOperator:
    """The External Secrets Operator, a cluster add-on. 0.1.0 created it inside ModelRegistry as
    ``<name>-mlflow-eso*``: the aliases name that parent and those names, so a deployed stack keeps it."""
    name = config.name
    cluster_cidrs = [config.network.vpc_cidr, eks_default_service_cidr(config.network.vpc_cidr)]
    return install_external_secrets(
        f"{name}-eks-eso",
        vpc_cidr=config.network.vpc_cidr,
        cluster_cidrs=cluster_cidrs,
        opts=pulumi.ResourceOptions(parent=cluster, provider=cluster.provider),
        aliases=[
            pulumi.Alias(
                name=f"{name}-mlflow-eso",
                parent=pulumi.create_urn(
                    f"{name}-mlflow", "mlops:model_registry:ModelRegistry", parent=platform
                ),
            )
        ],
    )


def _model_registry(
    platform: PlatformLike,
    config: PlatformConfig,
    cluster: KubernetesCluster,
    registry: ContainerRegistry,
    external_secrets: ExternalSecretsOperator,
    database_ingress: aws.vpc.SecurityGroupIngressRule,
    *,
    parent: pulumi.Resource,
) -> ModelRegistry:
    """MLflow (tracking server and model registry) on the system nodes, once the database admits the nodes."""
    return ModelRegistry(
        f"{config.name}-mlflow",
        ModelRegistryArgs(
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_issuer_url=cluster.oidc_issuer_url,
            artifact_bucket_name=platform.artifacts.bucket_name,
            artifact_bucket_arn=platform.artifacts.bucket_arn,
            artifact_key_arn=platform.keys.data_key_arn,
            db_host=platform.database.address,
            db_port=platform.database.port,
            db_name=platform.database.database_name,
            db_master_secret_arn=platform.database.master_secret_arn,
            db_secret_key_arn=platform.keys.data_key_arn,
            database_cidrs=platform.network.database_subnet_cidrs,
            vpc_cidr=config.network.vpc_cidr,
            external_secrets=external_secrets.release,
            image=mlflow_image(registry),
            region=config.region,
            replicas=config.mlflow.replicas,
            await_rollout=config.mlflow.await_rollout,
            node_selector={"mlops.platform/node-group": "system"},
        ),
        opts=pulumi.ResourceOptions(
            parent=parent,
            providers={"aws": platform.aws_provider, "kubernetes": cluster.provider},
            depends_on=[database_ingress],
        ),
    )
