"""mlops-platform components: reusable Pulumi components for an MLOps platform on AWS.

Import what you need from the package itself::

    from components import ArtifactStore, ArtifactStoreArgs, PlatformOutputs

Each name is loaded from its module on first use, so importing the package costs nothing and one
component does not drag in the SDKs of the others. ``__all__`` is the public API: anything else
(including the modules' own helpers) may change between minor versions; see CHANGELOG.md.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("mlops-platform")
except PackageNotFoundError:  # pragma: no cover - imported from a source tree that was never installed
    __version__ = "0.0.0+unknown"

# Public name -> module that defines it. The one list of the public API.
_EXPORTS: dict[str, str] = {
    # building blocks
    "Network": "components.network.network",
    "NetworkArgs": "components.network.network",
    "Keys": "components.keys",
    "KeysArgs": "components.keys",
    "ArtifactStore": "components.artifact_store",
    "ArtifactStoreArgs": "components.artifact_store",
    "MetadataDatabase": "components.database.metadata",
    "MetadataDatabaseArgs": "components.database.metadata",
    "KubernetesCluster": "components.cluster.cluster",
    "KubernetesClusterArgs": "components.cluster.cluster",
    "ContainerRegistry": "components.container_registry",
    "ContainerRegistryArgs": "components.container_registry",
    "ModelRegistry": "components.mlflow.model_registry",
    "ModelRegistryArgs": "components.mlflow.model_registry",
    "Monitoring": "components.monitoring.monitoring",
    "MonitoringArgs": "components.monitoring.monitoring",
    "ModelMonitoring": "components.monitoring.model_monitoring",
    "ModelMonitoringArgs": "components.monitoring.model_monitoring",
    "DeployRunner": "components.deploy_runner",
    "DeployRunnerArgs": "components.deploy_runner",
    # the whole platform and its configuration
    "MlopsPlatform": "components.platform.platform",
    "PlatformConfig": "components.platform.config",
    "ConfigError": "components.platform.config",
    # the stack outputs contract
    "PlatformOutputs": "components.platform.outputs",
    "PlatformContractError": "components.platform.outputs",
    "export_platform_outputs": "components.platform.outputs",
    "OUTPUTS_VERSION": "components.platform.outputs",
}

# The public API (a literal list, so type checkers read it); a test keeps it equal to _EXPORTS.
__all__ = [
    "OUTPUTS_VERSION",
    "ArtifactStore",
    "ArtifactStoreArgs",
    "ConfigError",
    "ContainerRegistry",
    "ContainerRegistryArgs",
    "DeployRunner",
    "DeployRunnerArgs",
    "Keys",
    "KeysArgs",
    "KubernetesCluster",
    "KubernetesClusterArgs",
    "MetadataDatabase",
    "MetadataDatabaseArgs",
    "MlopsPlatform",
    "ModelMonitoring",
    "ModelMonitoringArgs",
    "ModelRegistry",
    "ModelRegistryArgs",
    "Monitoring",
    "MonitoringArgs",
    "Network",
    "NetworkArgs",
    "PlatformConfig",
    "PlatformContractError",
    "PlatformOutputs",
    "__version__",
    "export_platform_outputs",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'components' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


# For type checkers and IDEs: the names whose modules are in this checkout.
# For type checkers and IDEs: the same names, imported eagerly (at run time they load on first use).
if TYPE_CHECKING:  # pragma: no cover
    from components.artifact_store import ArtifactStore, ArtifactStoreArgs
    from components.cluster.cluster import KubernetesCluster, KubernetesClusterArgs
    from components.container_registry import ContainerRegistry, ContainerRegistryArgs
    from components.database.metadata import MetadataDatabase, MetadataDatabaseArgs
    from components.deploy_runner import DeployRunner, DeployRunnerArgs
    from components.keys import Keys, KeysArgs
    from components.mlflow.model_registry import ModelRegistry, ModelRegistryArgs
    from components.monitoring.model_monitoring import ModelMonitoring, ModelMonitoringArgs
    from components.monitoring.monitoring import Monitoring, MonitoringArgs
    from components.network.network import Network, NetworkArgs
    from components.platform.config import ConfigError, PlatformConfig
    from components.platform.outputs import (
        OUTPUTS_VERSION,
        PlatformContractError,
        PlatformOutputs,
        export_platform_outputs,
    )
    from components.platform.platform import MlopsPlatform
