"""MlopsPlatform: the whole platform of one environment, composed from the building blocks."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.artifact_store import ArtifactStore, ArtifactStoreArgs
from components.aws_context import AwsContext
from components.database.metadata import MetadataDatabase, MetadataDatabaseArgs
from components.keys import Keys, KeysArgs
from components.mlflow.metrics import METRICS_SECRET, PASSWORD_KEY, USERNAME_KEY
from components.network.network import Network, NetworkArgs
from components.platform.compute import add_compute
from components.platform.config import PlatformConfig
from components.platform.monitoring import add_monitoring


class MlopsPlatform(pulumi.ComponentResource):
    """Composes the platform's components for one environment from a validated :class:`PlatformConfig`.

    Every AWS resource below it uses one explicit AWS provider whose default tags carry the
    governance tag set, so no resource can be created untagged.
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
        child = pulumi.ResourceOptions(parent=self, providers={"aws": self.aws_provider})

        # Zones in this account and region, without Local or Wavelength zones.
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

        invoke = pulumi.InvokeOptions(provider=self.aws_provider, parent=self)
        partition = aws.get_partition(opts=invoke)
        self.aws_context = AwsContext(
            account_id=aws.get_caller_identity(opts=invoke).account_id,
            region=config.region,
            partition=partition.partition,
            dns_suffix=partition.dns_suffix,
        )
        protect = config.protection.stateful_resources

        self.keys = Keys(
            config.name,
            KeysArgs(
                prefix=config.name,
                deletion_window_days=config.kms.deletion_window_days,
                protect=protect,
                aws_context=self.aws_context,
            ),
            opts=child,
        )

        self.network = Network(
            f"{config.name}",
            NetworkArgs(
                cidr=config.network.vpc_cidr,
                availability_zones=list(zones[: config.network.zone_count]),
                nat_gateways=config.network.nat_gateways,
                cluster_name=f"{config.name}-eks",
                flow_logs=True,
                flow_logs_kms_key_arn=self.keys.logs_key_arn,
                flow_logs_retention_days=config.logs.retention_days,
                flow_logs_protect=protect,
                s3_gateway_endpoint=True,
                interface_endpoints=config.network.interface_endpoints,
                interface_endpoint_services=tuple(config.network.interface_endpoint_services),
                aws_context=self.aws_context,
            ),
            opts=child,
        )

        artifacts = config.artifacts
        self.artifacts = ArtifactStore(
            f"{config.name}-artifacts",
            ArtifactStoreArgs(
                # Bucket names are global: the account and region make ours unique and recognisable.
                bucket_name=f"{config.name}-artifacts-{self.aws_context.account_id}-{config.region}",
                log_bucket_name=f"{config.name}-s3-logs-{self.aws_context.account_id}-{config.region}",
                kms_key_arn=self.keys.data_key_arn,
                noncurrent_version_days=artifacts.noncurrent_version_days,
                intelligent_tiering_days=artifacts.intelligent_tiering_days,
                object_lock=artifacts.object_lock,
                object_lock_days=artifacts.object_lock_days,
                access_log_retention_days=config.logs.retention_days,
                force_destroy=artifacts.force_destroy,
                protect=protect,
                aws_context=self.aws_context,
            ),
            opts=child,
        )

        db = config.database
        self.database = MetadataDatabase(
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
                protect=protect,
                aws_context=self.aws_context,
            ),
            opts=child,
        )

        # Compute and registries: the EKS cluster (and the Kubernetes provider every in-cluster object
        # uses), ECR repositories, MLflow with the External Secrets Operator.
        self.compute = add_compute(self, config)
        self.cluster = self.compute.cluster
        self.k8s_provider = self.cluster.provider
        self.registry = self.compute.registry
        self.model_registry = self.compute.model_registry

        # Monitoring: kube-prometheus-stack, platform rules and dashboards, CloudWatch alarms, the SNS topic.
        # Prometheus scrapes MLflow's metrics exporter with its own in-cluster generated, rotated credential
        # (components.mlflow.metrics), never MLflow's admin; Grafana's admin password is generated through the
        # External Secrets Operator.
        self.monitoring = add_monitoring(
            self,
            config,
            mlflow_metrics_secret=METRICS_SECRET,
            mlflow_metrics_keys=(USERNAME_KEY, PASSWORD_KEY),
            depends_on=[self.compute.external_secrets.release],
        )

        self.register_outputs(
            {
                "vpc_id": self.network.vpc_id,
                "artifact_bucket_name": self.artifacts.bucket_name,
                "database_endpoint": self.database.endpoint,
                "kms_data_key_arn": self.keys.data_key_arn,
            }
        )
