"""MlopsPlatform: the whole platform of one environment, composed from the building blocks."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from mlops_platform.components.artifact_store import ArtifactStore, ArtifactStoreArgs
from mlops_platform.components.aws_context import AwsContext
from mlops_platform.components.database.metadata import MetadataDatabase, MetadataDatabaseArgs
from mlops_platform.components.keys import Keys, KeysArgs
from mlops_platform.components.mlflow.metrics import METRICS_SECRET, PASSWORD_KEY, USERNAME_KEY
from mlops_platform.components.monitoring.monitoring import Monitoring
from mlops_platform.components.network.network import Network, NetworkArgs
from mlops_platform.components.platform.compute import add_compute
from mlops_platform.components.platform.monitoring import add_monitoring, monitoring_exports
from mlops_platform.components.platform.outputs import stack_outputs
from mlops_platform.components.platform.pipelines import add_pipelines, pipelines_exports
from mlops_platform.components.platform.serving import add_serving, serving_exports
from mlops_platform.components.platform.settings import PlatformConfig


class MlopsPlatform(pulumi.ComponentResource):
    """Composes the platform's components for one environment from a validated :class:`PlatformConfig`.

    Every AWS resource below it uses one explicit AWS provider whose default tags carry the
    governance tag set, so no resource can be created untagged.

    ``outputs`` holds every output of the platform's stack by export name, declared here once: the versioned
    contract (:class:`~mlops_platform.components.platform.outputs.PlatformOutputs`, ``contractVersion`` included), then the
    operational outputs beyond it (monitoring's from :func:`~mlops_platform.components.platform.monitoring.monitoring_exports`).
    ``stacks/__main__.py`` exports each.
    """

    def __init__(self, name: str, config: PlatformConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:platform:MlopsPlatform", name, None, opts)
        self.config = config
        self.aws_provider = aws.Provider(
            f"{name}-aws",
            region=config.region,
            default_tags=aws.ProviderDefaultTagsArgs(tags=config.governance_tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        zones = self._availability_zones()
        self.aws_context = self._aws_context()

        # The data layer: KMS keys, the network, the artifact store and the metadata database.
        self.keys = self._keys()
        self.network = self._network(zones)
        self.artifacts = self._artifacts()
        self.database = self._database()

        # Compute and registries: the EKS cluster (and the Kubernetes provider every in-cluster object
        # uses), ECR repositories, MLflow with the External Secrets Operator.
        self.compute = add_compute(self, config)
        self.cluster = self.compute.cluster
        self.k8s_provider = self.cluster.provider
        self.registry = self.compute.registry
        self.model_registry = self.compute.model_registry

        self.monitoring = self._monitoring()
        # Pipelines: Argo Workflows, the pipelines namespace, the reference pipeline (pipelinesEnabled),
        # scraped by the monitoring stack's Prometheus.
        self.pipelines = add_pipelines(self, config, self.compute, prometheus=self.monitoring.release)
        # Serving: cert-manager, KServe (Standard mode), the platform's serving runtime (servingEnabled).
        self.serving = add_serving(self, config, self.compute, prometheus=self.monitoring.release)

        self.outputs: dict[str, pulumi.Input[Any]] = stack_outputs(
            self._contract(),
            {
                **self._operational_outputs(),
                **monitoring_exports(self.monitoring),
                **pipelines_exports(self.pipelines),
                **serving_exports(self.serving),
            },
        )

        self.register_outputs(
            {
                "vpc_id": self.network.vpc_id,
                "artifact_bucket_name": self.artifacts.bucket_name,
                "database_endpoint": self.database.endpoint,
                "kms_data_key_arn": self.keys.data_key_arn,
            }
        )

    def _child(self) -> pulumi.ResourceOptions:
        """Options of a direct child: parented here, on the platform's AWS provider."""
        return pulumi.ResourceOptions(parent=self, providers={"aws": self.aws_provider})

    def _availability_zones(self) -> list[str]:
        """Zones in this account and region, without Local or Wavelength zones; at least networkZoneCount."""
        config = self.config
        zones = aws.get_availability_zones(
            state="available",
            filters=[
                aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])
            ],
            opts=pulumi.InvokeOptions(provider=self.aws_provider, parent=self),
        ).names
        if len(zones) < config.network.zone_count:
            raise ValueError(
                f"{config.region} offers {len(zones)} availability zones; networkZoneCount asks for "
                f"{config.network.zone_count}"
            )
        return list(zones)

    def _aws_context(self) -> AwsContext:
        """The account, region, partition and DNS suffix, looked up once for every component."""
        invoke = pulumi.InvokeOptions(provider=self.aws_provider, parent=self)
        partition = aws.get_partition(opts=invoke)
        return AwsContext(
            account_id=aws.get_caller_identity(opts=invoke).account_id,
            region=self.config.region,
            partition=partition.partition,
            dns_suffix=partition.dns_suffix,
        )

    def _keys(self) -> Keys:
        config = self.config
        return Keys(
            config.name,
            KeysArgs(
                prefix=config.name,
                deletion_window_days=config.kms.deletion_window_days,
                protect=config.protection.stateful_resources,
                aws_context=self.aws_context,
                # Karpenter's interruption queue is encrypted with the cluster key (None: the default name).
                interruption_queue_name=None if config.karpenter.enabled else "",
            ),
            opts=self._child(),
        )

    def _network(self, zones: list[str]) -> Network:
        config = self.config
        return Network(
            f"{config.name}",
            NetworkArgs(
                cidr=config.network.vpc_cidr,
                availability_zones=list(zones[: config.network.zone_count]),
                nat_gateways=config.network.nat_gateways,
                cluster_name=f"{config.name}-eks",
                flow_logs=True,
                flow_logs_kms_key_arn=self.keys.logs_key_arn,
                flow_logs_retention_days=config.logs.retention_days,
                flow_logs_protect=config.protection.stateful_resources,
                s3_gateway_endpoint=True,
                interface_endpoints=config.network.interface_endpoints,
                interface_endpoint_services=tuple(config.network.interface_endpoint_services),
                aws_context=self.aws_context,
            ),
            opts=self._child(),
        )

    def _artifacts(self) -> ArtifactStore:
        config, artifacts, account = self.config, self.config.artifacts, self.aws_context.account_id
        return ArtifactStore(
            f"{config.name}-artifacts",
            ArtifactStoreArgs(
                # Bucket names are global: the account and region make ours unique and recognisable.
                bucket_name=f"{config.name}-artifacts-{account}-{config.region}",
                log_bucket_name=f"{config.name}-s3-logs-{account}-{config.region}",
                kms_key_arn=self.keys.data_key_arn,
                noncurrent_version_days=artifacts.noncurrent_version_days,
                intelligent_tiering_days=artifacts.intelligent_tiering_days,
                object_lock=artifacts.object_lock,
                object_lock_days=artifacts.object_lock_days,
                access_log_retention_days=config.logs.retention_days,
                force_destroy=artifacts.force_destroy,
                protect=config.protection.stateful_resources,
                aws_context=self.aws_context,
            ),
            opts=self._child(),
        )

    def _database(self) -> MetadataDatabase:
        config, db = self.config, self.config.database
        return MetadataDatabase(
            f"{config.name}-metadata",
            MetadataDatabaseArgs(
                vpc_id=self.network.vpc_id,
                subnet_ids=self.network.database_subnet_ids,
                kms_key_arn=self.keys.data_key_arn,
                # The cluster's node security group is admitted by add_compute (a separate ingress rule,
                # so the database does not depend on the cluster); no CIDR is ever admitted.
                allowed_security_group_ids=[],
                identifier=f"{config.name}-metadata",
                engine_version=db.engine_version,
                instance_class=db.instance_class,
                database_name=db.name,
                allocated_storage_gib=db.allocated_storage_gib,
                max_allocated_storage_gib=db.max_allocated_storage_gib,
                backup_retention_days=db.backup_retention_days,
                backup_window=db.backup_window,
                maintenance_window=db.maintenance_window,
                multi_az=db.multi_az,
                deletion_protection=db.deletion_protection,
                final_snapshot=True,
                performance_insights=db.performance_insights,
                monitoring_interval_seconds=db.monitoring_interval_seconds,
                log_groups=True,
                log_retention_days=config.logs.retention_days,
                log_kms_key_arn=self.keys.logs_key_arn,
                protect=config.protection.stateful_resources,
                aws_context=self.aws_context,
            ),
            opts=self._child(),
        )

    def _monitoring(self) -> Monitoring:
        """kube-prometheus-stack, platform rules and dashboards, CloudWatch alarms, the SNS topic.

        Prometheus scrapes MLflow's metrics exporter with its own in-cluster generated, rotated credential
        (mlops_platform.components.mlflow.metrics), never MLflow's admin; Grafana's admin password is generated through the
        External Secrets Operator."""
        return add_monitoring(
            self,
            self.config,
            mlflow_metrics_secret=METRICS_SECRET,
            mlflow_metrics_keys=(USERNAME_KEY, PASSWORD_KEY),
            depends_on=[self.compute.external_secrets.release],
        )

    def _contract(self) -> dict[str, pulumi.Input[Any]]:
        """The values of the versioned outputs contract, by field of
        :class:`~mlops_platform.components.platform.outputs.PlatformOutputs` (docs/outputs.md)."""
        network, keys, artifacts, database = self.network, self.keys, self.artifacts, self.database
        cluster, registry, mlflow = self.cluster, self.registry, self.model_registry
        return {
            "artifact_bucket_name": artifacts.bucket_name,
            "artifact_bucket_arn": artifacts.bucket_arn,
            "database_endpoint": database.address,
            "database_port": database.port,
            "database_secret_arn": database.master_secret_arn,
            "cluster_name": cluster.cluster_name,
            "cluster_endpoint": cluster.endpoint,
            "oidc_provider_arn": cluster.oidc_provider_arn,
            "oidc_issuer": cluster.oidc_issuer_url,
            "kubeconfig": cluster.kubeconfig,
            "ecr_repository_urls": registry.repository_urls,
            "mlflow_url": mlflow.url,
            "alert_topic_arn": self.monitoring.alert_topic_arn,
            "kms_data_key_arn": keys.data_key_arn,
            "kms_logs_key_arn": keys.logs_key_arn,
            "kms_cluster_key_arn": keys.cluster_key_arn,
            "vpc_id": network.vpc_id,
            "private_subnet_ids": network.private_subnet_ids,
            "node_security_group_id": cluster.node_security_group_id,
            "node_role_arn": cluster.node_role_arn,
            "environment": self.config.environment,
        }

    def _operational_outputs(self) -> dict[str, pulumi.Input[Any]]:
        """Outputs beyond the contract, by export name (not versioned; handy for operators and dashboards).
        Monitoring's come from :func:`~mlops_platform.components.platform.monitoring.monitoring_exports`."""
        network, artifacts, database = self.network, self.artifacts, self.database
        cluster, registry, mlflow = self.cluster, self.registry, self.model_registry
        return {
            "vpcCidr": network.vpc_cidr,
            "publicSubnetIds": network.public_subnet_ids,
            "databaseSubnetIds": network.database_subnet_ids,
            "flowLogGroupName": network.flow_log_group_name,
            "artifactLogBucketName": artifacts.log_bucket_name,
            "databaseName": database.database_name,
            "databaseSecurityGroupId": database.security_group_id,
            "databaseInstanceIdentifier": database.identifier,
            "clusterArn": cluster.cluster_arn,
            "storageClassName": cluster.storage_class_name,
            "ecrRepositoryArns": registry.repository_arns,
            "mlflowNamespace": mlflow.namespace_name,
            "mlflowServiceAccountRoleArn": mlflow.service_account_role_arn,
        }
