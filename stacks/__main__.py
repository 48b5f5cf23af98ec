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
