"""The platform's configuration, as one import: the public names of the schema, the profiles and the loader.

``mlops``, the stack program and consumers import from here (``from mlops_platform.components.platform.config import
PlatformConfig, ConfigError, build``). Each name is defined in the module that says what it is:

* :mod:`mlops_platform.components.platform.settings`: the schema, one strict pydantic section per concern, and
  :class:`PlatformConfig` (edit a setting there, then run ``mlops schema --write``);
* :mod:`mlops_platform.components.platform.profiles`: the environment profiles, every field's default per environment;
* :mod:`mlops_platform.components.platform.loader`: Pulumi config keys (:data:`KEYS`), parsing and validation
  (:func:`build`, :class:`ConfigError`), the run's checks (:func:`review`) and :func:`from_pulumi`;
* :mod:`mlops_platform.components.governance`: the project name and the governance values, with no dependency.
"""

from __future__ import annotations

from mlops_platform.components.governance import DATA_CLASSIFICATIONS, ENVIRONMENTS, PROJECT
from mlops_platform.components.platform.loader import (
    DOCUMENTATION_ACCOUNT,
    KEYS,
    STRICT_ENVIRONMENTS,
    ConfigError,
    KeySpec,
    build,
    from_pulumi,
    key_specs,
    placeholder_problems,
    review,
    support_problems,
)
from mlops_platform.components.platform.profiles import PROFILES, profile
from mlops_platform.components.platform.settings import (
    LOG_RETENTION_DAYS,
    RDS_MONITORING_INTERVALS,
    SECTIONS,
    ArtifactSettings,
    ClusterSettings,
    DatabaseSettings,
    DataClassification,
    DeploySettings,
    Environment,
    Governance,
    GpuNodes,
    KeySettings,
    LogSettings,
    MlflowSettings,
    MonitoringSettings,
    NetworkSettings,
    NodeGroupSettings,
    PlatformConfig,
    ProtectionSettings,
    RegistrySettings,
    SystemNodes,
    WorkloadNodes,
    key_for,
)

__all__ = [
    "DATA_CLASSIFICATIONS",
    "DOCUMENTATION_ACCOUNT",
    "ENVIRONMENTS",
    "KEYS",
    "LOG_RETENTION_DAYS",
    "PROFILES",
    "PROJECT",
    "RDS_MONITORING_INTERVALS",
    "SECTIONS",
    "STRICT_ENVIRONMENTS",
    "ArtifactSettings",
    "ClusterSettings",
    "ConfigError",
    "DataClassification",
    "DatabaseSettings",
    "DeploySettings",
    "Environment",
    "Governance",
    "GpuNodes",
    "KeySettings",
    "KeySpec",
    "LogSettings",
    "MlflowSettings",
    "MonitoringSettings",
    "NetworkSettings",
    "NodeGroupSettings",
    "PlatformConfig",
    "ProtectionSettings",
    "RegistrySettings",
    "SystemNodes",
    "WorkloadNodes",
    "build",
    "from_pulumi",
    "key_for",
    "key_specs",
    "placeholder_problems",
    "profile",
    "review",
    "support_problems",
]
