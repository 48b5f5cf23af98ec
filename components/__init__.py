"""mlops-platform components: reusable Pulumi components for an MLOps platform on AWS.

Import what you need from the package itself::

    from mlops_platform.components import ArtifactStore, ArtifactStoreArgs, PlatformOutputs

The public API is the one block of re-exports below, ``from <module> import <Name> as <Name>``: type checkers
and IDEs read it as written; at run time it is not executed but read (:func:`_exports`), and each name is
loaded from its module on first use, so importing the package costs nothing and one component does not drag
in the SDKs of the others. ``__all__`` is derived from the same block. Anything else (including the modules'
own helpers) may change between minor versions; see CHANGELOG.md.
"""

from __future__ import annotations

import ast
import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("mlops-platform")
except PackageNotFoundError:  # pragma: no cover - imported from a source tree that was never installed
    __version__ = "0.0.0+unknown"

if TYPE_CHECKING:  # THE public API, one name a line: pyright reads it, the run time reads it (_exports)
    from mlops_platform.components.artifact_store import ArtifactStore as ArtifactStore
    from mlops_platform.components.artifact_store import ArtifactStoreArgs as ArtifactStoreArgs
    from mlops_platform.components.cluster.cluster import KubernetesCluster as KubernetesCluster
    from mlops_platform.components.cluster.cluster import KubernetesClusterArgs as KubernetesClusterArgs
    from mlops_platform.components.cluster.karpenter import KarpenterSpec as KarpenterSpec
    from mlops_platform.components.cluster.karpenter import NodePoolSpec as NodePoolSpec
    from mlops_platform.components.cluster.node_groups import NodeGroupSpec as NodeGroupSpec
    from mlops_platform.components.container_registry import ContainerRegistry as ContainerRegistry
    from mlops_platform.components.container_registry import ContainerRegistryArgs as ContainerRegistryArgs
    from mlops_platform.components.database.metadata import MetadataDatabase as MetadataDatabase
    from mlops_platform.components.database.metadata import MetadataDatabaseArgs as MetadataDatabaseArgs
    from mlops_platform.components.deploy_runner import DeployRunner as DeployRunner
    from mlops_platform.components.deploy_runner import DeployRunnerArgs as DeployRunnerArgs
    from mlops_platform.components.governance import DATA_CLASSIFICATIONS as DATA_CLASSIFICATIONS
    from mlops_platform.components.governance import ENVIRONMENTS as ENVIRONMENTS
    from mlops_platform.components.iam import irsa_trust_policy as irsa_trust_policy
    from mlops_platform.components.keys import Keys as Keys
    from mlops_platform.components.keys import KeysArgs as KeysArgs
    from mlops_platform.components.kubernetes import pod_security_labels as pod_security_labels
    from mlops_platform.components.mlflow.model_registry import ModelRegistry as ModelRegistry
    from mlops_platform.components.mlflow.model_registry import ModelRegistryArgs as ModelRegistryArgs
    from mlops_platform.components.mlflow.workload_user import MlflowWorkloadUser as MlflowWorkloadUser
    from mlops_platform.components.mlflow.workload_user import (
        MlflowWorkloadUserArgs as MlflowWorkloadUserArgs,
    )
    from mlops_platform.components.monitoring.model_monitoring import ModelMonitoring as ModelMonitoring
    from mlops_platform.components.monitoring.model_monitoring import (
        ModelMonitoringArgs as ModelMonitoringArgs,
    )
    from mlops_platform.components.monitoring.monitoring import Monitoring as Monitoring
    from mlops_platform.components.monitoring.monitoring import MonitoringArgs as MonitoringArgs
    from mlops_platform.components.network.network import Network as Network
    from mlops_platform.components.network.network import NetworkArgs as NetworkArgs
    from mlops_platform.components.pipelines.reference import ReferencePipelineSpec as ReferencePipelineSpec
    from mlops_platform.components.pipelines.reference import cron_workflow as cron_workflow
    from mlops_platform.components.pipelines.reference import workflow_template as workflow_template
    from mlops_platform.components.pipelines.workflows import ArgoObject as ArgoObject
    from mlops_platform.components.pipelines.workflows import Pipelines as Pipelines
    from mlops_platform.components.pipelines.workflows import PipelinesArgs as PipelinesArgs
    from mlops_platform.components.platform.config import ConfigError as ConfigError
    from mlops_platform.components.platform.config import PlatformConfig as PlatformConfig
    from mlops_platform.components.platform.outputs import OUTPUTS_VERSION as OUTPUTS_VERSION
    from mlops_platform.components.platform.outputs import PlatformContractError as PlatformContractError
    from mlops_platform.components.platform.outputs import PlatformOutputs as PlatformOutputs
    from mlops_platform.components.platform.outputs import export_platform_outputs as export_platform_outputs
    from mlops_platform.components.platform.platform import MlopsPlatform as MlopsPlatform
    from mlops_platform.components.serving.kserve import Serving as Serving
    from mlops_platform.components.serving.kserve import ServingArgs as ServingArgs


def _exports(source: str) -> dict[str, str]:
    """Public name -> its module, from the ``if TYPE_CHECKING:`` block of ``source`` (this file), every
    statement of which must be ``from <module> import <Name> as <Name>``."""
    block = next(
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
    )
    exports: dict[str, str] = {}
    for statement in block.body:
        if not isinstance(statement, ast.ImportFrom) or not statement.module:
            raise ImportError(f"components/__init__.py:{statement.lineno}: not `from <module> import ...`")
        for alias in statement.names:
            if alias.asname != alias.name:
                raise ImportError(
                    f"components/__init__.py:{statement.lineno}: write `{alias.name} as {alias.name}`"
                )
            exports[alias.name] = statement.module
    return exports


def _load(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mlops_platform.components' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


_EXPORTS: dict[str, str] = _exports(__loader__.get_source(__name__) or "")
__all__: list[str]  # "__version__" and the names of the block above (type checkers read the block itself)

if not TYPE_CHECKING:  # for type checkers the block above is the module's namespace, with no __getattr__
    __all__ = ["__version__", *_EXPORTS]

    def __getattr__(name: str) -> Any:
        return _load(name)

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(__all__))
