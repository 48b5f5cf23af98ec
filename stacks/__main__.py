"""The platform's stack program: config -> MlopsPlatform -> exports."""

import pulumi

from mlops_platform.components.platform.config import ConfigError, from_pulumi
from mlops_platform.components.platform.platform import MlopsPlatform

try:
    config = from_pulumi(source=f"stacks/Pulumi.{pulumi.get_stack()}.yaml")
except ConfigError as err:
    # RunError is reported by the Pulumi CLI without a traceback.
    raise pulumi.RunError(str(err)) from err

# The versioned contract other stacks read through PlatformOutputs.from_stack (docs/outputs.md), then the
# operational outputs beyond it: all declared by MlopsPlatform.
platform = MlopsPlatform("mlops", config)
for name, value in platform.outputs.items():
    pulumi.export(name, value)
