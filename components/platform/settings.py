"""The platform's configuration schema: one strict pydantic model, a section per concern.

Every setting a stack can change is a field here. A Pulumi config key is derived from the section's
``key_prefix`` and the field name (``database`` + ``instance_class`` -> ``databaseInstanceClass``, see
:func:`key_for`); top-level governance fields have no prefix (``cost_center`` -> ``costCenter``). Every key
is a scalar or an array, so every key is declared with its type in ``Pulumi.yaml`` (generated from this
schema by ``mlops schema``; a test fails when the two drift).

The environment profiles (:mod:`mlops_platform.components.platform.profiles`) give every field its default; the loader
(:mod:`mlops_platform.components.platform.loader`) parses a stack's values and validates them against this model.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from mlops_platform.components.cluster.versions import ADDON_VERSIONS
from mlops_platform.components.governance import DATA_CLASSIFICATIONS, ENVIRONMENTS
from mlops_platform.components.network.endpoints import ENDPOINT_SERVICE_PURPOSES, REQUIRED_ENDPOINTS
from mlops_platform.components.platform.node_settings import (
    COMPUTE_PATTERN_WORDS,
    NVIDIA_GPU_FAMILIES,
    GeneralPool,
    GpuNodes,
    GpuPool,
    KarpenterSettings,
    NodeGroupSettings,
    NodePoolSettings,
    SystemNodes,
    WorkloadNodes,
    compute_requirements,
)
from mlops_platform.components.platform.pipeline_settings import (
    PIPELINE_PATTERN_WORDS,
    PipelineSettings,
    pipeline_requirements,
)
from mlops_platform.components.platform.section import Section as _Section
from mlops_platform.components.platform.serving_settings import ServingSettings, serving_requirements
from mlops_platform.components.validation import check_email, check_https_url, check_region

__all__ = [
    "FLOORS",
    "FLOOR_ERROR",
    "NVIDIA_GPU_FAMILIES",
    "PATTERN_WORDS",
    "SECTIONS",
    "Floor",
    "GeneralPool",
    "GpuNodes",
    "GpuPool",
    "KarpenterSettings",
    "NodeGroupSettings",
    "NodePoolSettings",
    "PlatformConfig",
    "SystemNodes",
    "WorkloadNodes",
    "floor_problems",
    "key_for",
]

Environment = Literal["dev", "staging", "prod"]
DataClassification = Literal["public", "internal", "confidential", "restricted"]
NotEnvironment = Literal["", "dev", "staging", "prod"]
# The dependency-free module is the source; these types spell the same values for pydantic and pyright.
assert get_args(Environment) == ENVIRONMENTS and get_args(DataClassification) == DATA_CLASSIFICATIONS
assert get_args(NotEnvironment) == ("", *ENVIRONMENTS)

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
RDS_MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)

_TAG_VALUE = r"^[A-Za-z0-9][A-Za-z0-9 _.:/=+@-]{0,127}$"
# An IAM role or user ARN in any partition (aws, aws-cn, aws-us-gov, aws-iso-b, ...), with an optional path
# (``role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123``): what CreateAccessEntry takes.
_IAM_PRINCIPAL_ARN = r"^arn:aws(?:-[a-z]+)*:iam::\d{12}:(?:role|user)/(?:[!-.0-~]+/)*[\w+=,.@-]{1,64}$"
_ASSUMED_ROLE_ARN = r"^arn:(aws(?:-[a-z]+)*):sts::(\d{12}):assumed-role/([\w+=,.@-]+)/.+$"
_REPO_NAME = r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$"
_ENGINE_VERSION = r"^\d{2}\.\d{1,2}$"
_DB_INSTANCE_CLASS = r"^db\.[a-z0-9]+\.[a-z0-9]+$"
_DB_NAME = r"^[a-z][a-z0-9_]{0,62}$"
_KUBERNETES_VERSION = r"^1\.\d{2}$"
_STATE_BUCKET = r"^$|^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
_RUNNER_IMAGE = r"^[a-z0-9][a-z0-9./_-]*(:[A-Za-z0-9._-]+|@sha256:[a-f0-9]{64})$"

PATTERN_WORDS: dict[str, str] = {
    _TAG_VALUE: "1 to 128 characters: a letter or digit, then letters, digits, spaces and _ . : / = + @ -",
    _ENGINE_VERSION: "a PostgreSQL major.minor version such as 17.6 (two-digit major)",
    _DB_INSTANCE_CLASS: "an RDS instance class such as db.m6g.large (db.<family>.<size>, lowercase)",
    _DB_NAME: "1 to 63 characters: a lowercase letter, then lowercase letters, digits and _",
    _KUBERNETES_VERSION: "a Kubernetes minor version such as 1.33 (quote it in YAML lists)",
    _STATE_BUCKET: (
        "empty (bootstrap's default name) or an S3 bucket name: 3 to 63 characters, lowercase letters, digits, "
        ". and -, beginning and ending with a letter or digit"
    ),
    _RUNNER_IMAGE: (
        "an image reference in lowercase with a version tag (repo/name:1.2) or a digest (repo/name@sha256:<64 hex>)"
    ),
    **COMPUTE_PATTERN_WORDS,
    **PIPELINE_PATTERN_WORDS,
}
"""What each field pattern allows, in words: the loader says this, never the regular expression."""


def _check_cidr(value: str, *, private: bool, min_prefix: int, max_prefix: int) -> str:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"must be an IPv4 CIDR block such as 10.0.0.0/16 ({exc})") from None
    if net.version != 4:
        raise ValueError("must be an IPv4 CIDR block")
    if not min_prefix <= net.prefixlen <= max_prefix:
        raise ValueError(f"prefix length must be between /{min_prefix} and /{max_prefix}")
    if private and not net.is_private:
        raise ValueError("must be a private (RFC 1918) range")
    return str(net)


class Governance(_Section):
    """Who owns the stack and how its data is classified; becomes the governance tag set."""

    environment: Environment = Field(description="Environment profile: dev, staging or prod.")
    owner: str = Field(pattern=_TAG_VALUE, description="Owning team; the `owner` tag.")
    cost_center: str = Field(pattern=_TAG_VALUE, description="Cost center billed; the `cost-center` tag.")
    data_classification: DataClassification = Field(
        description="Highest classification of data the platform holds; the `data-classification` tag."
    )
    not_environment: NotEnvironment = Field(
        default="",
        description=(
            "Optional. A stack named dev, staging or prod must declare that environment, unless this key names "
            "the stack to state that it is not that environment (stack prod, environment dev: notEnvironment: "
            "prod). Empty by default."
        ),
    )


class NetworkSettings(_Section):
    key_prefix: ClassVar[str] = "network"
    vpc_cidr: str = Field(description="VPC IPv4 CIDR (private range, /16 to /20).")
    zone_count: int = Field(ge=2, le=4, description="Availability zones the VPC spans.")
    nat_gateways: Literal["single", "per-zone"] = Field(description="One NAT gateway, or one per zone (HA).")
    interface_endpoints: bool = Field(
        description="Interface VPC endpoints (the services of networkInterfaceEndpointServices)."
    )
    interface_endpoint_services: list[str] = Field(
        description="Interface endpoints to create (each billed per zone-hour): "
        + ", ".join(ENDPOINT_SERVICE_PURPOSES)
        + f". Must include {' and '.join(REQUIRED_ENDPOINTS)}: the platform's egress stays inside the VPC."
    )

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        return _check_cidr(value, private=True, min_prefix=16, max_prefix=20)

    @field_validator("interface_endpoint_services")
    @classmethod
    def _services(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in ENDPOINT_SERVICE_PURPOSES]
        if unknown:
            raise ValueError(f"{unknown} are not offered; allowed: {list(ENDPOINT_SERVICE_PURPOSES)}")
        if len(set(value)) != len(value):
            raise ValueError("lists a service twice")
        return value

    @model_validator(mode="after")
    def _mlflow_endpoints(self) -> NetworkSettings:
        # MLflow's, the monitoring namespace's and the tenant jobs' NetworkPolicies admit HTTPS to the VPC CIDR
        # only: S3, STS, SNS, CloudWatch and Secrets Manager must answer inside the VPC.
        missing = [s for s in REQUIRED_ENDPOINTS if s not in self.interface_endpoint_services]
        if not self.interface_endpoints or missing:
            raise ValueError(
                f"{key_for('network', 'interface_endpoints')} must be true and "
                f"{key_for('network', 'interface_endpoint_services')} must include "
                f"{list(REQUIRED_ENDPOINTS)} (missing: {missing or 'none'}): MLflow's and the monitoring "
                "namespace's egress is closed to the VPC, so they reach S3, STS, SNS, CloudWatch and Secrets Manager only "
                "through interface endpoints"
            )
        return self


class KeySettings(_Section):
    key_prefix: ClassVar[str] = "kms"
    deletion_window_days: int = Field(ge=7, le=30, description="KMS key deletion waiting period in days.")


class LogSettings(_Section):
    key_prefix: ClassVar[str] = "logs"
    retention_days: int = Field(description="Retention of every CloudWatch log group the platform creates.")

    @field_validator("retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"must be one of CloudWatch's retention periods: {list(LOG_RETENTION_DAYS)}")
        return value


class ProtectionSettings(_Section):
    key_prefix: ClassVar[str] = "protection"
    stateful_resources: bool = Field(
        description="Pulumi `protect` and `retain_on_delete` on buckets, the database, keys and repositories."
    )


class ArtifactSettings(_Section):
    key_prefix: ClassVar[str] = "artifacts"
    noncurrent_version_days: int = Field(ge=1, le=3650, description="Days before noncurrent versions expire.")
    intelligent_tiering_days: int = Field(
        ge=0,
        le=3650,
        description="Days before objects move to Intelligent-Tiering; 0 disables the transition.",
    )
    object_lock: bool = Field(description="S3 Object Lock (governance mode) on the artifact bucket.")
    object_lock_days: int = Field(ge=1, le=36500, description="Default Object Lock retention in days.")
    force_destroy: bool = Field(description="Allow deleting non-empty buckets. Never allowed in prod.")


class DatabaseSettings(_Section):
    key_prefix: ClassVar[str] = "database"
    engine_version: str = Field(pattern=_ENGINE_VERSION, description="RDS PostgreSQL version, e.g. 17.6.")
    instance_class: str = Field(pattern=_DB_INSTANCE_CLASS, description="RDS instance class.")
    name: str = Field(pattern=_DB_NAME, description="Database name (MLflow backend store).")
    allocated_storage_gib: int = Field(ge=20, le=65536, description="Initial allocated storage in GiB.")
    max_allocated_storage_gib: int = Field(ge=20, le=65536, description="Storage autoscaling ceiling in GiB.")
    backup_retention_days: int = Field(ge=1, le=35, description="Automated backup retention in days.")
    backup_window: str = Field(description="Daily backup window (UTC).")
    maintenance_window: str = Field(description="Weekly maintenance window (UTC).")
    multi_az: bool = Field(description="Multi-AZ standby.")
    deletion_protection: bool = Field(description="RDS deletion protection.")
    performance_insights: bool = Field(description="Performance Insights, encrypted with the data key.")
    monitoring_interval_seconds: int = Field(description="Enhanced monitoring interval; 0 disables it.")

    @field_validator("monitoring_interval_seconds")
    @classmethod
    def _interval(cls, value: int) -> int:
        if value not in RDS_MONITORING_INTERVALS:
            raise ValueError(f"must be one of {list(RDS_MONITORING_INTERVALS)}")
        return value

    @field_validator("backup_window")
    @classmethod
    def _backup_window(cls, value: str) -> str:
        _window(value, weekly=False)
        return value

    @field_validator("maintenance_window")
    @classmethod
    def _maintenance_window(cls, value: str, info: ValidationInfo) -> str:
        start, end = _window(value, weekly=True)
        backup = info.data.get("backup_window")  # validated before (declared first); absent if it failed
        if backup is None:
            return value
        # RDS refuses a backup window that overlaps the maintenance window (CreateDBInstance
        # PreferredBackupWindow: "Must not conflict with the preferred maintenance window").
        daily = _window(backup, weekly=False)
        if any(_overlap((daily[0] + d * _DAY, daily[1] + d * _DAY), (start, end)) for d in range(7)):
            raise ValueError(
                f"{value!r} overlaps {key_for('database', 'backup_window')} {backup!r}, which runs every "
                "day; RDS needs the two windows apart: move one of them"
            )
        return value

    @model_validator(mode="after")
    def _storage(self) -> DatabaseSettings:
        if self.max_allocated_storage_gib < self.allocated_storage_gib:
            raise ValueError("maxAllocatedStorageGib must be at least allocatedStorageGib")
        return self


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY, _WEEK = 24 * 60, 7 * 24 * 60
_TIME = r"([0-9]{2}):([0-9]{2})"


def _window(value: str, *, weekly: bool) -> tuple[int, int]:
    """``(start, end)`` in minutes (of the week if ``weekly``, else of the day), end past start when it wraps.
    RDS's formats: ``hh24:mi-hh24:mi`` (backup) and ``ddd:hh24:mi-ddd:hh24:mi`` (maintenance), UTC, at least
    30 minutes long (backup windows at most 24 hours)."""
    day = r"(mon|tue|wed|thu|fri|sat|sun):" if weekly else ""
    form = "ddd:hh:mm-ddd:hh:mm, e.g. sun:04:00-sun:05:00" if weekly else "hh:mm-hh:mm, e.g. 02:00-03:00"
    m = re.match(f"^{day}{_TIME}-{day}{_TIME}$", value)
    if not m:
        days = "; ddd is mon, tue, wed, thu, fri, sat or sun" if weekly else ""
        raise ValueError(f"must be a UTC window {form}{days}; got {value!r}")
    parts = list(m.groups())
    points = []
    while parts:
        d = _DAYS.index(parts.pop(0)) if weekly else 0
        hour, minute = int(parts.pop(0)), int(parts.pop(0))
        if hour > 23 or minute > 59:
            raise ValueError(
                f"must be a UTC window {form} with hours 00 to 23 and minutes 00 to 59; got {value!r}"
            )
        points.append(d * _DAY + hour * 60 + minute)
    start, end = points
    period = _WEEK if weekly else _DAY
    if end <= start:
        end += period
    if end - start < 30:
        raise ValueError(f"must be at least 30 minutes long (RDS's minimum); got {value!r}")
    return start, end


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether two windows in minutes of the week (each possibly past the week's end) share a minute."""
    return any(a[0] < b[1] + shift and b[0] + shift < a[1] for shift in (-_WEEK, 0, _WEEK))


def _no_overlaps(cidrs: list[str]) -> list[str]:
    for i, first in enumerate(cidrs):
        for second in cidrs[i + 1 :]:
            a, b = ipaddress.ip_network(first), ipaddress.ip_network(second)
            if a.overlaps(b):
                what = "is listed twice" if a == b else f"and {second!r} overlap"
                raise ValueError(
                    f"{first!r} {what}; list each address range once (a wider block already covers the "
                    "narrower one)"
                )
    return cidrs


class ClusterSettings(_Section):
    key_prefix: ClassVar[str] = "cluster"
    kubernetes_version: str = Field(
        pattern=_KUBERNETES_VERSION,
        description=(
            "EKS Kubernetes version, e.g. 1.36: one with pinned add-ons and support dates in components/cluster/versions.py. "
            "A real update of staging or prod refuses a version past its end of EKS standard support."
        ),
    )
    admin_principal_arns: list[str] = Field(
        description=(
            "IAM role or user ARNs (arn:<partition>:iam::<account>:role/[<path>/]<name> or user/...) granted "
            "cluster admin through EKS access entries; not STS assumed-role session ARNs. A real update of "
            "staging or prod refuses an empty list."
        )
    )
    public_access_cidrs: list[str] = Field(
        description="CIDRs allowed to reach a public API endpoint; empty keeps the endpoint private."
    )
    api_access_cidrs: list[str] = Field(
        description=(
            "Private CIDRs (VPN, peered network) allowed to reach the private API endpoint on 443, for humans; "
            "deploys need none: the in-VPC deploy runner is admitted by its security group."
        )
    )

    @field_validator("kubernetes_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if value not in ADDON_VERSIONS:
            raise ValueError(
                f"no pinned add-on versions for Kubernetes {value!r}; supported: {sorted(ADDON_VERSIONS)}"
            )
        return value

    @field_validator("admin_principal_arns")
    @classmethod
    def _arns(cls, value: list[str]) -> list[str]:
        for arn in value:
            if re.match(_IAM_PRINCIPAL_ARN, arn):
                continue
            session = re.match(_ASSUMED_ROLE_ARN, arn)
            if session:
                partition, account, role = session.groups()
                raise ValueError(
                    f"{arn!r} is an STS assumed-role session ARN, which EKS access entries reject; use the "
                    f"role's IAM ARN, arn:{partition}:iam::{account}:role/{role} (with the role's path if it "
                    "has one, e.g. role/aws-reserved/sso.amazonaws.com/<region>/<name> for IAM Identity "
                    "Center roles: `aws iam get-role --role-name <name>` prints it)"
                )
            raise ValueError(
                f"{arn!r} is not an IAM role or user ARN; allowed: arn:<partition>:iam::<12-digit account>:"
                "role/[<path>/]<name> or arn:<partition>:iam::<12-digit account>:user/[<path>/]<name>"
            )
        return value

    @field_validator("api_access_cidrs")
    @classmethod
    def _private_cidrs(cls, value: list[str]) -> list[str]:
        return _no_overlaps([_check_cidr(c, private=True, min_prefix=8, max_prefix=32) for c in value])

    @field_validator("public_access_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        out = [_check_cidr(c, private=False, min_prefix=0, max_prefix=32) for c in value]
        for c in out:
            if ipaddress.ip_network(c).prefixlen < 16:
                raise ValueError(f"{c} is too wide for an API endpoint allow-list (at most /16)")
        return _no_overlaps(out)


class RegistrySettings(_Section):
    key_prefix: ClassVar[str] = "registry"
    repositories: list[str] = Field(min_length=1, description="ECR repositories to create.")
    keep_tagged_images: int = Field(ge=1, le=1000, description="Tagged images kept per repository.")
    untagged_expiry_days: int = Field(ge=1, le=90, description="Days before untagged images expire.")

    @field_validator("repositories")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.match(_REPO_NAME, name) or len(name) > 200:
                raise ValueError(f"{name!r} is not a valid repository name (lowercase, digits, . _ -)")
        if len(set(value)) != len(value):
            raise ValueError("repository names must be unique")
        return value


class MlflowSettings(_Section):
    key_prefix: ClassVar[str] = "mlflow"
    replicas: int = Field(ge=1, le=20, description="MLflow tracking server replicas.")
    await_rollout: bool = Field(
        description=(
            "Wait for the MLflow rollout during `pulumi up`. Set false for the very first deployment only, "
            "before the image has been pushed to the new ECR repository (docs/operations.md)."
        )
    )


class MonitoringSettings(_Section):
    key_prefix: ClassVar[str] = "monitoring"
    prometheus_retention_days: int = Field(ge=1, le=365, description="Prometheus TSDB retention in days.")
    prometheus_storage_gib: int = Field(ge=5, le=4096, description="Prometheus persistent volume size.")
    alert_emails: list[str] = Field(description="E-mail addresses subscribed to the alert topic.")
    alert_https_endpoints: list[str] = Field(description="HTTPS endpoints subscribed to the alert topic.")
    prometheus_memory_mib: int = Field(
        ge=512,
        le=131072,
        description="Prometheus memory request and limit in MiB (sized to the series count).",
    )
    prometheus_replicas: int = Field(ge=1, le=3, description="Prometheus replicas (each keeps a full copy).")
    alertmanager_replicas: int = Field(
        ge=1, le=5, description="Alertmanager replicas (clustered when above 1)."
    )
    rds_cpu_percent: int = Field(
        ge=1, le=100, description="Alarm when database CPU stays above this percentage."
    )
    rds_free_storage_gib: int = Field(
        ge=1, le=16384, description="Alarm when free database storage drops below this."
    )
    rds_freeable_memory_mib: int = Field(
        ge=16, le=1048576, description="Alarm when freeable database memory drops below this many MiB."
    )
    rds_max_connections: int = Field(
        ge=1,
        le=100000,
        description="Alarm when database connections exceed this (size it to max_connections).",
    )
    rds_read_latency_ms: int = Field(
        ge=1, le=60000, description="Alarm when average database read latency exceeds this."
    )
    rds_write_latency_ms: int = Field(
        ge=1, le=60000, description="Alarm when average database write latency exceeds this."
    )
    nat_packet_drop_basis_points: int = Field(
        ge=1,
        le=10000,
        description="Alarm when a NAT gateway drops more than this share of packets (1 = 0.01 %).",
    )
    eks_apiserver_5xx_percent: int = Field(
        ge=1, le=100, description="Alarm when this percentage of Kubernetes API requests fail with 5xx."
    )
    eks_etcd_storage_mib: int = Field(
        ge=512,
        le=8192,
        description="Alarm when the cluster's etcd database exceeds this size (EKS limit: 8 GiB).",
    )
    mlflow_error_percent: int = Field(
        ge=1, le=100, description="Alert when this percentage of MLflow requests fail with 5xx."
    )
    mlflow_p95_latency_ms: int = Field(
        ge=10, le=600000, description="Alert when MLflow's 95th-percentile request latency exceeds this."
    )
    volume_free_percent: int = Field(
        ge=1, le=50, description="Alert when a persistent volume has less than this percentage free."
    )
    gpu_idle_percent: int = Field(
        ge=1,
        le=100,
        description="Alert when a GPU node's utilisation stays below this for an hour (GPU group only).",
    )

    @field_validator("alert_emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        return [check_email(e) for e in value]

    @field_validator("alert_https_endpoints")
    @classmethod
    def _https(cls, value: list[str]) -> list[str]:
        return [check_https_url(url) for url in value]


class DeploySettings(_Section):
    key_prefix: ClassVar[str] = "deploy"
    state_bucket: str = Field(
        pattern=_STATE_BUCKET,
        description=(
            "Pulumi state bucket (`mlops bootstrap`); the deploy runner reads its build input and the state "
            "there. Empty: bootstrap's default name, <account>-<region>-pulumi-state."
        ),
    )
    runner_image: str = Field(
        pattern=_RUNNER_IMAGE,
        description=(
            "Deploy runner (CodeBuild) image: a curated image with its version tag, or an ECR image by digest."
        ),
    )
    runner_compute_type: Literal["BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"] = (
        Field(description="Deploy runner compute type.")
    )
    runner_timeout_minutes: int = Field(
        ge=5, le=480, description="Deploy runner build timeout in minutes (the whole in-VPC `pulumi up`)."
    )

    @field_validator("runner_image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        if value.endswith(":latest"):
            raise ValueError("must name a version or a digest, not :latest")
        return value


SECTIONS: dict[str, type[_Section]] = {
    "governance": Governance,
    "network": NetworkSettings,
    "kms": KeySettings,
    "logs": LogSettings,
    "protection": ProtectionSettings,
    "artifacts": ArtifactSettings,
    "database": DatabaseSettings,
    "cluster": ClusterSettings,
    "system_nodes": SystemNodes,
    "workload_nodes": WorkloadNodes,
    "gpu_nodes": GpuNodes,
    "karpenter": KarpenterSettings,
    "general_pool": GeneralPool,
    "gpu_pool": GpuPool,
    "registry": RegistrySettings,
    "mlflow": MlflowSettings,
    "pipelines": PipelineSettings,
    "serving": ServingSettings,
    "monitoring": MonitoringSettings,
    "deploy": DeploySettings,
}


def _camel(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def key_for(section: str, field: str) -> str:
    """The Pulumi config key (without the ``mlops-platform:`` namespace) of a section's field."""
    prefix = SECTIONS[section].key_prefix
    camel = _camel(field)
    return prefix + camel[:1].upper() + camel[1:] if prefix else camel


@dataclass(frozen=True)
class Floor:
    """One setting an environment may not be configured below: what the policy pack enforces as mandatory
    there. The profiles meet their environment's floor; a stack file that sets a key below it is refused."""

    section: str
    field: str
    rule: Literal["true", "false", "empty", "at least", "pinned"]
    minimum: int = 0
    """The least value allowed, for ``rule="at least"``."""
    why: str = ""

    @property
    def key(self) -> str:
        return key_for(self.section, self.field)

    @property
    def requirement(self) -> str:
        text = f"at least {self.minimum}" if self.rule == "at least" else self.rule
        return f"must be {text}" + (f" ({self.why})" if self.why else "")

    def holds(self, value: Any) -> bool | None:
        """Whether ``value`` meets the floor; None when it is not of the field's type (its own check says so)."""
        if self.rule in ("true", "false"):
            return value is (self.rule == "true") if isinstance(value, bool) else None
        if self.rule == "empty":
            return not value if isinstance(value, list) else None
        if self.rule == "pinned":
            return not value.endswith("@latest") if isinstance(value, str) else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value >= self.minimum
        return None


_PINNED_AMI = Floor(
    "karpenter", "ami_alias", "pinned", why="a dated AMI release such as al2023@v20260930, never @latest"
)
FLOORS: dict[str, tuple[Floor, ...]] = {
    "staging": (_PINNED_AMI,),
    "prod": (
        Floor("cluster", "public_access_cidrs", "empty", why="a private API endpoint only"),
        Floor("artifacts", "force_destroy", "false"),
        Floor("database", "deletion_protection", "true"),
        Floor("database", "multi_az", "true"),
        Floor("database", "backup_retention_days", "at least", 14),
        Floor("protection", "stateful_resources", "true"),
        Floor("kms", "deletion_window_days", "at least", 14),
        Floor("mlflow", "replicas", "at least", 2),
        _PINNED_AMI,
    ),
}
"""Each environment's floor (dev has none)."""

FLOOR_ERROR = "environment_floor"
"""The pydantic error type of :class:`PlatformConfig`'s floor check."""


def requirement_problems(sections: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    """``(key, message)`` for each requirement across sections that ``sections`` (section -> field -> value)
    does not meet (:func:`~mlops_platform.components.platform.node_settings.compute_requirements`,
    :func:`~mlops_platform.components.platform.pipeline_settings.pipeline_requirements`,
    :func:`~mlops_platform.components.platform.serving_settings.serving_requirements`)."""
    problems = (
        compute_requirements(sections) + pipeline_requirements(sections) + serving_requirements(sections)
    )
    return [(key_for(section, name), message) for (section, name), message in problems]


def floor_problems(environment: str, sections: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    """``(key, message)`` for each setting below ``environment``'s floor, one each in :data:`FLOORS` order.
    ``sections`` maps section -> field -> value (parsed values or a validated config's); a value that is
    absent or not of its field's type is left to the field's own check."""
    problems: list[tuple[str, str]] = []
    for floor in FLOORS.get(environment, ()):
        value = sections.get(floor.section, {}).get(floor.field)
        if floor.holds(value) is False:
            shown = json.dumps(value, default=str)
            problems.append((floor.key, f"{shown} is below {environment}'s floor: {floor.requirement}"))
    return problems


class PlatformConfig(BaseModel):
    """Everything one stack of the platform is built from (profile defaults + the stack's own keys)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    region: str = Field(description="AWS region code (aws:region), e.g. eu-west-1.")
    governance: Governance
    network: NetworkSettings
    kms: KeySettings
    logs: LogSettings
    protection: ProtectionSettings
    artifacts: ArtifactSettings
    database: DatabaseSettings
    cluster: ClusterSettings
    system_nodes: SystemNodes
    workload_nodes: WorkloadNodes
    gpu_nodes: GpuNodes
    karpenter: KarpenterSettings
    general_pool: GeneralPool
    gpu_pool: GpuPool
    registry: RegistrySettings
    mlflow: MlflowSettings
    pipelines: PipelineSettings
    serving: ServingSettings
    monitoring: MonitoringSettings
    deploy: DeploySettings

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        return check_region(value)

    @property
    def environment(self) -> str:
        return self.governance.environment

    @property
    def name(self) -> str:
        """The short name every physical resource name starts with, e.g. ``mlops-prod``."""
        return f"mlops-{self.governance.environment}"

    @property
    def governance_tags(self) -> dict[str, str]:
        g = self.governance
        return {
            "environment": g.environment,
            "owner": g.owner,
            "cost-center": g.cost_center,
            "data-classification": g.data_classification,
            "managed-by": "pulumi",
        }

    @model_validator(mode="after")
    def _environment_floor(self) -> PlatformConfig:
        # No environment may be configured below its floor. The loader reports each violation under its own
        # key (and skips this error, FLOOR_ERROR); this guards a config validated directly.
        sections = {section: getattr(self, section).model_dump() for section in SECTIONS}
        problems = floor_problems(self.environment, sections) + requirement_problems(sections)
        if problems:
            lines = "; ".join(f"{key}: {message}" for key, message in problems)
            raise PydanticCustomError(FLOOR_ERROR, "{lines}", {"lines": lines})
        return self
