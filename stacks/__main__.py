"""The platform's stack program: config -> MlopsPlatform -> exports."""

import pulumi

from components.config import ConfigError, from_pulumi
from components.platform import MlopsPlatform

try:
    config = from_pulumi(source=f"stacks/Pulumi.{pulumi.get_stack()}.yaml")
except ConfigError as err:
    # RunError is reported by the Pulumi CLI without a traceback.
    raise pulumi.RunError(str(err)) from err

platform = MlopsPlatform("mlops", config)

pulumi.export("environment", config.environment)
pulumi.export("vpcId", platform.network.vpc_id)
pulumi.export("privateSubnetIds", platform.network.private_subnet_ids)
pulumi.export("databaseSubnetIds", platform.network.database_subnet_ids)
pulumi.export("publicSubnetIds", platform.network.public_subnet_ids)
pulumi.export("vpcCidr", platform.network.vpc_cidr)
pulumi.export("flowLogGroupName", platform.network.flow_log_group_name)

pulumi.export("kmsDataKeyArn", platform.keys.data_key_arn)
pulumi.export("kmsLogsKeyArn", platform.keys.logs_key_arn)
pulumi.export("kmsClusterKeyArn", platform.keys.cluster_key_arn)

pulumi.export("artifactBucketName", platform.artifacts.bucket_name)
pulumi.export("artifactBucketArn", platform.artifacts.bucket_arn)
pulumi.export("artifactLogBucketName", platform.artifacts.log_bucket_name)

pulumi.export("databaseEndpoint", platform.database.endpoint)
pulumi.export("databaseAddress", platform.database.address)
pulumi.export("databasePort", platform.database.port)
pulumi.export("databaseName", platform.database.database_name)
pulumi.export("databaseSecretArn", platform.database.master_secret_arn)
pulumi.export("databaseSecurityGroupId", platform.database.security_group_id)
pulumi.export("databaseInstanceIdentifier", platform.database.identifier)
