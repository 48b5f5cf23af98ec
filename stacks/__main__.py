"""The platform's stack program: config -> MlopsPlatform -> exports."""

import pulumi

from components.platform.config import ConfigError, from_pulumi
from components.platform.monitoring import monitoring_exports
from components.platform.outputs import export_platform_outputs
from components.platform.platform import MlopsPlatform

try:
    config = from_pulumi(source=f"stacks/Pulumi.{pulumi.get_stack()}.yaml")
except ConfigError as err:
    # RunError is reported by the Pulumi CLI without a traceback.
    raise pulumi.RunError(str(err)) from err

platform = MlopsPlatform("mlops", config)
network, keys, artifacts, database = platform.network, platform.keys, platform.artifacts, platform.database
cluster, registry, mlflow = platform.cluster, platform.registry, platform.model_registry

# The versioned contract other stacks read through PlatformOutputs.from_stack (docs/outputs.md).
export_platform_outputs(
    {
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
        "alert_topic_arn": platform.monitoring.alert_topic_arn,
        "kms_data_key_arn": keys.data_key_arn,
        "kms_logs_key_arn": keys.logs_key_arn,
        "kms_cluster_key_arn": keys.cluster_key_arn,
        "vpc_id": network.vpc_id,
        "private_subnet_ids": network.private_subnet_ids,
        "node_security_group_id": cluster.node_security_group_id,
        "node_role_arn": cluster.node_role_arn,
        "environment": config.environment,
    }
)

# Operational outputs beyond the contract (not versioned; handy for operators and dashboards).
pulumi.export("vpcCidr", network.vpc_cidr)
pulumi.export("publicSubnetIds", network.public_subnet_ids)
pulumi.export("databaseSubnetIds", network.database_subnet_ids)
pulumi.export("flowLogGroupName", network.flow_log_group_name)
pulumi.export("artifactLogBucketName", artifacts.log_bucket_name)
pulumi.export("databaseName", database.database_name)
pulumi.export("databaseSecurityGroupId", database.security_group_id)
pulumi.export("databaseInstanceIdentifier", database.identifier)
pulumi.export("clusterArn", cluster.cluster_arn)
pulumi.export("storageClassName", cluster.storage_class_name)
pulumi.export("ecrRepositoryArns", registry.repository_arns)
pulumi.export("mlflowNamespace", mlflow.namespace_name)
pulumi.export("mlflowServiceAccountRoleArn", mlflow.service_account_role_arn)
for key, value in monitoring_exports(platform.monitoring).items():
    if key != "alertTopicArn":
        pulumi.export(key, value)
