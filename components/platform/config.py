"""The platform's configuration schema: one strict pydantic model, environment profiles, and the
mapping between the model and Pulumi config keys.

Every setting a stack can change is a field here. A Pulumi config key is derived from the section's
``key_prefix`` and the field name (``database`` + ``instance_class`` -> ``databaseInstanceClass``);
top-level governance fields have no prefix (``cost_center`` -> ``costCenter``). Every key is a
scalar or an array, so every key is declared with its type in ``Pulumi.yaml`` (generated from this
module by ``mlops schema``; a test fails when the two drift).

Values arrive the way Pulumi passes them to a program: strings, with arrays JSON-encoded. They are
parsed to exactly the field's type (``"3"`` -> ``3``; ``"3.5"`` for an integer is an error), then the
profile of the stack's ``environment`` supplies every value the stack does not set.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import json
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from components.cluster.versions import (
    ADDON_VERSIONS,
    DEFAULT_KUBERNETES_VERSION,
    SUPPORT_CALENDAR,
    support_status,
)
from components.governance import DATA_CLASSIFICATIONS, ENVIRONMENTS, PROJECT
from components.network.endpoints import (
    ENDPOINT_SERVICE_PURPOSES,
    INTERFACE_ENDPOINT_SERVICES,
    REQUIRED_ENDPOINTS,
)

Environment = Literal["dev", "staging", "prod"]
DataClassification = Literal["public", "internal", "confidential", "restricted"]
# The dependency-free module is the source; these types spell the same values for pydantic and pyright.
assert get_args(Environment) == ENVIRONMENTS and get_args(DataClassification) == DATA_CLASSIFICATIONS

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
_INSTANCE_TYPE = r"^[a-z][a-z0-9-]*\.[a-z0-9]+$"
_EMAIL = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    key_prefix: ClassVar[str] = ""


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
    engine_version: str = Field(pattern=r"^\d{2}\.\d{1,2}$", description="RDS PostgreSQL version, e.g. 17.6.")
    instance_class: str = Field(pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$", description="RDS instance class.")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$", description="Database name (MLflow backend store).")
    allocated_storage_gib: int = Field(ge=20, le=65536, description="Initial allocated storage in GiB.")
    max_allocated_storage_gib: int = Field(ge=20, le=65536, description="Storage autoscaling ceiling in GiB.")
    backup_retention_days: int = Field(ge=1, le=35, description="Automated backup retention in days.")
    backup_window: str = Field(pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$", description="Daily backup window (UTC).")
    maintenance_window: str = Field(
        pattern=r"^(mon|tue|wed|thu|fri|sat|sun):\d{2}:\d{2}-(mon|tue|wed|thu|fri|sat|sun):\d{2}:\d{2}$",
        description="Weekly maintenance window (UTC).",
    )
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

    @model_validator(mode="after")
    def _storage(self) -> DatabaseSettings:
        if self.max_allocated_storage_gib < self.allocated_storage_gib:
            raise ValueError("maxAllocatedStorageGib must be at least allocatedStorageGib")
        return self


class ClusterSettings(_Section):
    key_prefix: ClassVar[str] = "cluster"
    kubernetes_version: str = Field(
        pattern=r"^1\.\d{2}$",
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
                f"no pinned add-on versions for Kubernetes {value}; supported: {sorted(ADDON_VERSIONS)}"
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
        return [_check_cidr(c, private=True, min_prefix=8, max_prefix=32) for c in value]

    @field_validator("public_access_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        out = [_check_cidr(c, private=False, min_prefix=0, max_prefix=32) for c in value]
        for c in out:
            if ipaddress.ip_network(c).prefixlen < 16:
                raise ValueError(f"{c} is too wide for an API endpoint allow-list (at most /16)")
        return out


class NodeGroupSettings(_Section):
    instance_types: list[str] = Field(min_length=1, description="EC2 instance types.")
    min_size: int = Field(ge=0, le=100, description="Minimum node count.")
    max_size: int = Field(ge=1, le=100, description="Maximum node count.")
    desired_size: int = Field(ge=0, le=100, description="Initial node count.")
    disk_size_gib: int = Field(ge=20, le=2000, description="Encrypted gp3 root volume size in GiB.")

    @field_validator("instance_types")
    @classmethod
    def _types(cls, value: list[str]) -> list[str]:
        for t in value:
            if not re.match(_INSTANCE_TYPE, t):
                raise ValueError(f"{t!r} is not an EC2 instance type such as m6i.large")
        return value

    @model_validator(mode="after")
    def _sizes(self) -> NodeGroupSettings:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError("sizes must satisfy minSize <= desiredSize <= maxSize")
        return self


class SystemNodes(NodeGroupSettings):
    key_prefix: ClassVar[str] = "systemNodes"


class WorkloadNodes(NodeGroupSettings):
    key_prefix: ClassVar[str] = "workloadNodes"


class GpuNodes(NodeGroupSettings):
    key_prefix: ClassVar[str] = "gpuNodes"
    enabled: bool = Field(description="Create the GPU node group (tainted nvidia.com/gpu=true:NoSchedule).")


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
        for e in value:
            if not re.match(_EMAIL, e):
                raise ValueError(f"{e!r} is not an e-mail address")
        return value

    @field_validator("alert_https_endpoints")
    @classmethod
    def _https(cls, value: list[str]) -> list[str]:
        for url in value:
            if not re.match(r"^https://[A-Za-z0-9.-]+(:\d+)?(/\S*)?$", url):
                raise ValueError(f"{url!r} is not an https:// URL (plain HTTP is not allowed)")
        return value


class DeploySettings(_Section):
    key_prefix: ClassVar[str] = "deploy"
    state_bucket: str = Field(
        pattern=r"^$|^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description=(
            "Pulumi state bucket (`mlops bootstrap`); the deploy runner reads its build input and the state "
            "there. Empty: bootstrap's default name, <account>-<region>-pulumi-state."
        ),
    )
    runner_image: str = Field(
        pattern=r"^[a-z0-9][a-z0-9./_-]*(:[A-Za-z0-9._-]+|@sha256:[a-f0-9]{64})$",
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
    "registry": RegistrySettings,
    "mlflow": MlflowSettings,
    "monitoring": MonitoringSettings,
    "deploy": DeploySettings,
}


class PlatformConfig(BaseModel):
    """Everything one stack of the platform is built from (profile defaults + the stack's own keys)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
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
    registry: RegistrySettings
    mlflow: MlflowSettings
    monitoring: MonitoringSettings
    deploy: DeploySettings

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
    def _prod_guardrails(self) -> PlatformConfig:
        # Prod may not be configured below the floor the policy pack enforces as mandatory.
        if self.environment != "prod":
            return self
        problems: list[tuple[str, str]] = []
        if self.cluster.public_access_cidrs:
            problems.append(
                (key_for("cluster", "public_access_cidrs"), "must be empty in prod (private endpoint)")
            )
        if self.artifacts.force_destroy:
            problems.append((key_for("artifacts", "force_destroy"), "must be false in prod"))
        if not self.database.deletion_protection:
            problems.append((key_for("database", "deletion_protection"), "must be true in prod"))
        if not self.database.multi_az:
            problems.append((key_for("database", "multi_az"), "must be true in prod"))
        if self.database.backup_retention_days < 14:
            problems.append((key_for("database", "backup_retention_days"), "must be at least 14 in prod"))
        if not self.protection.stateful_resources:
            problems.append((key_for("protection", "stateful_resources"), "must be true in prod"))
        if self.kms.deletion_window_days < 14:
            problems.append((key_for("kms", "deletion_window_days"), "must be at least 14 in prod"))
        if self.mlflow.replicas < 2:
            problems.append((key_for("mlflow", "replicas"), "must be at least 2 in prod"))
        if problems:
            raise ValueError("; ".join(f"{k} {why}" for k, why in problems))
        return self


# --------------------------------------------------------------------------------------------------
# Environment profiles: the one place where environments differ. A stack file sets only what differs.
# --------------------------------------------------------------------------------------------------

_COMMON: dict[str, dict[str, Any]] = {
    "database": {
        "engine_version": "17.6",
        "name": "mlflow",
        "backup_window": "02:00-03:00",
        "maintenance_window": "sun:04:00-sun:05:00",
    },
    "cluster": {
        "kubernetes_version": DEFAULT_KUBERNETES_VERSION,
        "admin_principal_arns": [],
        "public_access_cidrs": [],
        "api_access_cidrs": [],
    },
    "registry": {"repositories": ["mlflow", "training", "serving"]},
    "mlflow": {"await_rollout": True},
    "monitoring": {"alert_emails": [], "alert_https_endpoints": []},
    "artifacts": {"force_destroy": False, "object_lock_days": 30},
    "deploy": {
        "state_bucket": "",
        "runner_image": "aws/codebuild/amazonlinux-x86_64-standard:5.0",
        "runner_compute_type": "BUILD_GENERAL1_MEDIUM",
        "runner_timeout_minutes": 120,
    },
}

PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "dev": {
        "network": {
            "vpc_cidr": "10.10.0.0/16",
            "zone_count": 2,
            "nat_gateways": "single",
            # Only what MLflow's closed egress needs (2 endpoints x 2 zones); the rest goes through the NAT.
            "interface_endpoints": True,
            "interface_endpoint_services": list(REQUIRED_ENDPOINTS),
        },
        "kms": {"deletion_window_days": 7},
        "logs": {"retention_days": 30},
        "protection": {"stateful_resources": False},
        "artifacts": {"noncurrent_version_days": 30, "intelligent_tiering_days": 0, "object_lock": False},
        "database": {
            "instance_class": "db.t4g.medium",
            "allocated_storage_gib": 20,
            "max_allocated_storage_gib": 100,
            "backup_retention_days": 7,
            "multi_az": False,
            "deletion_protection": False,
            "performance_insights": False,
            "monitoring_interval_seconds": 60,
        },
        "system_nodes": {
            "instance_types": ["m6i.large"],
            "min_size": 2,
            "max_size": 3,
            "desired_size": 2,
            "disk_size_gib": 50,
        },
        "workload_nodes": {
            "instance_types": ["m6i.xlarge"],
            "min_size": 0,
            "max_size": 4,
            "desired_size": 1,
            "disk_size_gib": 100,
        },
        "gpu_nodes": {
            "enabled": False,
            "instance_types": ["g5.xlarge"],
            "min_size": 0,
            "max_size": 1,
            "desired_size": 0,
            "disk_size_gib": 200,
        },
        "registry": {"keep_tagged_images": 30, "untagged_expiry_days": 7},
        "mlflow": {"replicas": 1},
        "monitoring": {
            "prometheus_retention_days": 7,
            "prometheus_storage_gib": 20,
            "prometheus_memory_mib": 2048,
            "prometheus_replicas": 1,
            "alertmanager_replicas": 1,
            "rds_cpu_percent": 90,
            "rds_free_storage_gib": 2,
            "rds_freeable_memory_mib": 256,
            "rds_max_connections": 300,
            "rds_read_latency_ms": 50,
            "rds_write_latency_ms": 50,
            "nat_packet_drop_basis_points": 10,
            "eks_apiserver_5xx_percent": 5,
            "eks_etcd_storage_mib": 6144,
            "mlflow_error_percent": 10,
            "mlflow_p95_latency_ms": 3000,
            "volume_free_percent": 10,
            "gpu_idle_percent": 5,
        },
    },
    "staging": {
        "network": {
            "vpc_cidr": "10.20.0.0/16",
            "zone_count": 3,
            "nat_gateways": "single",
            "interface_endpoints": True,
            "interface_endpoint_services": list(INTERFACE_ENDPOINT_SERVICES),
        },
        "kms": {"deletion_window_days": 14},
        "logs": {"retention_days": 90},
        "protection": {"stateful_resources": True},
        "artifacts": {"noncurrent_version_days": 90, "intelligent_tiering_days": 0, "object_lock": False},
        "database": {
            "instance_class": "db.m7g.large",
            "allocated_storage_gib": 50,
            "max_allocated_storage_gib": 200,
            "backup_retention_days": 14,
            "multi_az": True,
            "deletion_protection": True,
            "performance_insights": True,
            "monitoring_interval_seconds": 30,
        },
        "system_nodes": {
            "instance_types": ["m6i.large"],
            "min_size": 2,
            "max_size": 4,
            "desired_size": 2,
            "disk_size_gib": 50,
        },
        "workload_nodes": {
            "instance_types": ["m6i.xlarge", "m6i.2xlarge"],
            "min_size": 1,
            "max_size": 6,
            "desired_size": 2,
            "disk_size_gib": 100,
        },
        "gpu_nodes": {
            "enabled": False,
            "instance_types": ["g5.xlarge"],
            "min_size": 0,
            "max_size": 2,
            "desired_size": 0,
            "disk_size_gib": 200,
        },
        "registry": {"keep_tagged_images": 50, "untagged_expiry_days": 7},
        "mlflow": {"replicas": 2},
        "monitoring": {
            "prometheus_retention_days": 15,
            "prometheus_storage_gib": 50,
            "prometheus_memory_mib": 4096,
            "prometheus_replicas": 1,
            "alertmanager_replicas": 2,
            "rds_cpu_percent": 85,
            "rds_free_storage_gib": 5,
            "rds_freeable_memory_mib": 512,
            "rds_max_connections": 600,
            "rds_read_latency_ms": 25,
            "rds_write_latency_ms": 25,
            "nat_packet_drop_basis_points": 1,
            "eks_apiserver_5xx_percent": 2,
            "eks_etcd_storage_mib": 6144,
            "mlflow_error_percent": 5,
            "mlflow_p95_latency_ms": 2000,
            "volume_free_percent": 10,
            "gpu_idle_percent": 5,
        },
    },
    "prod": {
        "network": {
            "vpc_cidr": "10.30.0.0/16",
            "zone_count": 3,
            "nat_gateways": "per-zone",
            "interface_endpoints": True,
            "interface_endpoint_services": list(INTERFACE_ENDPOINT_SERVICES),
        },
        "kms": {"deletion_window_days": 30},
        "logs": {"retention_days": 365},
        "protection": {"stateful_resources": True},
        "artifacts": {"noncurrent_version_days": 365, "intelligent_tiering_days": 90, "object_lock": False},
        "database": {
            "instance_class": "db.r7g.large",
            "allocated_storage_gib": 100,
            "max_allocated_storage_gib": 1000,
            "backup_retention_days": 30,
            "multi_az": True,
            "deletion_protection": True,
            "performance_insights": True,
            "monitoring_interval_seconds": 15,
        },
        "system_nodes": {
            "instance_types": ["m6i.large"],
            "min_size": 3,
            "max_size": 5,
            "desired_size": 3,
            "disk_size_gib": 50,
        },
        "workload_nodes": {
            "instance_types": ["m6i.2xlarge", "m6i.4xlarge"],
            "min_size": 2,
            "max_size": 20,
            "desired_size": 3,
            "disk_size_gib": 200,
        },
        "gpu_nodes": {
            "enabled": True,
            "instance_types": ["g5.2xlarge"],
            "min_size": 0,
            "max_size": 4,
            "desired_size": 1,
            "disk_size_gib": 300,
        },
        "registry": {"keep_tagged_images": 100, "untagged_expiry_days": 3},
        "mlflow": {"replicas": 3},
        "monitoring": {
            "prometheus_retention_days": 30,
            "prometheus_storage_gib": 100,
            "prometheus_memory_mib": 8192,
            "prometheus_replicas": 2,
            "alertmanager_replicas": 3,
            "rds_cpu_percent": 80,
            "rds_free_storage_gib": 10,
            "rds_freeable_memory_mib": 1024,
            "rds_max_connections": 1200,
            "rds_read_latency_ms": 20,
            "rds_write_latency_ms": 20,
            "nat_packet_drop_basis_points": 1,
            "eks_apiserver_5xx_percent": 1,
            "eks_etcd_storage_mib": 6144,
            "mlflow_error_percent": 2,
            "mlflow_p95_latency_ms": 1000,
            "volume_free_percent": 15,
            "gpu_idle_percent": 10,
        },
    },
}


def profile(environment: str) -> dict[str, dict[str, Any]]:
    """The defaults of one environment: common settings overlaid with the environment's own."""
    merged: dict[str, dict[str, Any]] = {}
    for section in SECTIONS:
        merged[section] = {**_COMMON.get(section, {}), **PROFILES[environment].get(section, {})}
    return merged


# --------------------------------------------------------------------------------------------------
# Key mapping and parsing
# --------------------------------------------------------------------------------------------------


def _camel(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def key_for(section: str, field: str) -> str:
    """The Pulumi config key (without the ``mlops-platform:`` namespace) of a section's field."""
    prefix = SECTIONS[section].key_prefix
    camel = _camel(field)
    return prefix + camel[:1].upper() + camel[1:] if prefix else camel


@dataclass(frozen=True)
class KeySpec:
    key: str
    section: str
    field: str
    kind: Literal["string", "integer", "boolean", "array"]
    description: str
    required: bool


def _kind(annotation: Any) -> Literal["string", "integer", "boolean", "array"]:
    origin = get_origin(annotation)
    if annotation is bool:
        return "boolean"
    if annotation is int:
        return "integer"
    if origin is list:
        return "array"
    if annotation is str or origin is Literal:
        return "string"
    if origin in (typing.Union, types.UnionType):  # pragma: no cover - no optional keys today
        raise TypeError("config fields must not be optional; use a profile default")
    raise TypeError(f"unsupported config field type {annotation!r}")


def key_specs() -> list[KeySpec]:
    """Every config key of the project, in schema order."""
    specs = []
    for section, model in SECTIONS.items():
        for name, info in model.model_fields.items():
            specs.append(
                KeySpec(
                    key=key_for(section, name),
                    section=section,
                    field=name,
                    kind=_kind(info.annotation),
                    description=info.description or "",
                    required=section == "governance",
                )
            )
    return specs


KEYS: dict[str, KeySpec] = {s.key: s for s in key_specs()}


class ConfigError(Exception):
    """A stack configuration that did not validate. ``problems`` holds one ``(key, message)`` each."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [f"{self.source}: {key}: {message}" for key, message in self.problems]


_INT = re.compile(r"^-?\d+$")


def _parse(spec: KeySpec, raw: Any) -> Any:
    """Parse one value as Pulumi hands it to a program (a string; arrays JSON-encoded)."""
    if not isinstance(raw, str):
        raw = (
            json.dumps(raw)
            if isinstance(raw, list | dict)
            else str(raw).lower()
            if isinstance(raw, bool)
            else str(raw)
        )
    if spec.kind == "string":
        return raw
    if spec.kind == "integer":
        if not _INT.match(raw.strip()):
            raise ValueError(f"must be an integer, got {raw!r}")
        return int(raw)
    if spec.kind == "boolean":
        if raw not in ("true", "false"):
            raise ValueError(f"must be true or false, got {raw!r}")
        return raw == "true"
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise ValueError(f"must be a list, got {raw!r}") from None
    if not isinstance(value, list):
        raise ValueError(f"must be a list, got {raw!r}")
    return value


def _message(err: Mapping[str, Any]) -> str:
    msg = str(err.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    ctx = err.get("ctx") or {}
    if err.get("type") == "literal_error" and "expected" in ctx:
        msg = f"must be one of {ctx['expected']}"
    elif err.get("type") == "string_pattern_mismatch":
        msg = f"does not match the allowed pattern {ctx.get('pattern')}"
    return msg


def build(
    values: Mapping[str, Any],
    *,
    region: str | None,
    source: str,
    namespace: str = PROJECT,
    today: _dt.date | None = None,
) -> PlatformConfig:
    """Validate a stack's config (``{"mlops-platform:owner": "...", "aws:region": "..."}``) and overlay it
    on its environment profile. Raises :class:`ConfigError` naming every problem at once.

    With ``today`` the Kubernetes version is also checked against the EKS support calendar on that date: in
    staging and prod a version past its end of standard support is refused (:func:`support_problems`)."""
    problems: list[tuple[str, str]] = []
    parsed: dict[str, Any] = {}
    prefix = f"{namespace}:"
    for full_key, raw in values.items():
        if not isinstance(full_key, str) or not full_key.startswith(prefix):
            continue
        key = full_key[len(prefix) :]
        spec = KEYS.get(key)
        if spec is None:
            close = [k for k in KEYS if k.lower().startswith(key[:4].lower())][:5]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            problems.append((full_key, f"unknown key{hint}; allowed keys are listed in Pulumi.yaml"))
            continue
        try:
            parsed[key] = _parse(spec, raw)
        except ValueError as exc:
            problems.append((full_key, str(exc)))

    for spec in KEYS.values():
        if (
            spec.required
            and spec.key not in parsed
            and not any(k == f"{prefix}{spec.key}" for k, _ in problems)
        ):
            problems.append((f"{prefix}{spec.key}", "is required: " + spec.description))
    if region is None:
        problems.append(("aws:region", "is required, e.g. eu-west-1"))

    environment = parsed.get("environment")
    if environment is not None and environment not in ENVIRONMENTS:
        problems.append((f"{prefix}environment", f"must be one of {list(ENVIRONMENTS)}"))
        environment = None
    if environment is None:
        # Without a profile nothing else can be checked meaningfully.
        raise ConfigError(source, problems)

    data: dict[str, Any] = {"region": region}
    defaults = profile(environment)
    for section in SECTIONS:
        data[section] = dict(defaults[section])
    for key, value in parsed.items():
        spec = KEYS[key]
        data[spec.section][spec.field] = value

    try:
        config = PlatformConfig.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            if loc and loc[0] == "region":
                problems.append(("aws:region", _message(err)))
            elif len(loc) >= 2 and loc[0] in SECTIONS and loc[1] in SECTIONS[loc[0]].model_fields:
                problems.append((f"{prefix}{key_for(loc[0], loc[1])}", _message(err)))
            elif len(loc) >= 1 and loc[0] in SECTIONS:
                keys = ", ".join(f"{prefix}{s.key}" for s in KEYS.values() if s.section == loc[0])
                problems.append((keys, _message(err)))
            else:
                problems.append((f"{prefix}environment", _message(err)))
        raise ConfigError(source, problems) from None
    if today is not None:
        refused, _ = support_problems(config, today, namespace=namespace)
        problems.extend(refused)
    if problems:
        raise ConfigError(source, problems)
    return config


# --------------------------------------------------------------------------------------------------
# Checks over a validated config that depend on the day or on what the run is (a real update or not)
# --------------------------------------------------------------------------------------------------

STRICT_ENVIRONMENTS = ("staging", "prod")
"""Environments in which a real update refuses placeholders and an out-of-support Kubernetes version."""


def support_problems(
    config: PlatformConfig, today: _dt.date, *, namespace: str = PROJECT
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(refusals, warnings)`` of the cluster's Kubernetes version against the EKS support calendar
    (:data:`components.cluster.versions.SUPPORT_CALENDAR`) on ``today``, each ``(key, message)``.

    Past the end of standard support: refused in staging and prod, a warning in dev. Within
    :data:`components.cluster.versions.SUPPORT_WARNING_DAYS` of it: a warning everywhere."""
    key = f"{namespace}:{key_for('cluster', 'kubernetes_version')}"
    version = config.cluster.kubernetes_version
    state, message = support_status(version, today)
    if state == "unknown":
        known = sorted(SUPPORT_CALENDAR)
        return [(key, f"{message} (known: {known}); add its release and support dates")], []
    if state == "extended":
        if config.environment in STRICT_ENVIRONMENTS:
            return [(key, f"{message}; {config.environment} runs standard support only")], []
        return [], [(key, message)]
    if state == "ending":
        return [], [(key, message)]
    return [], []


# Reserved for documentation and testing (RFC 2606, RFC 6761): nothing there reads e-mail or answers HTTPS.
_RESERVED_TLDS = frozenset({"test", "invalid", "example", "localhost"})
DOCUMENTATION_ACCOUNT = "123456789012"
"""The AWS account ID of the documentation's examples: an ARN in it never names a real principal."""
_HOST = re.compile(r"^[a-z][a-z0-9+.-]*://(?:[^@/\s]*@)?([^/:?#\s]+)", re.IGNORECASE)


def _reserved_domain(host: str) -> bool:
    labels = host.lower().rstrip(".").split(".")
    if labels[-1] in _RESERVED_TLDS:
        return True
    # example.com / example.org / example.net (RFC 2606) and their look-alikes (example.co.uk), any subdomain
    return len(labels) >= 2 and (labels[-2] == "example" or (len(labels) >= 3 and labels[-3] == "example"))


def _config_strings(config: PlatformConfig, namespace: str) -> list[tuple[str, str]]:
    """Every string value of the config (list items included) with its Pulumi config key."""
    out: list[tuple[str, str]] = []
    for section in SECTIONS:
        model = getattr(config, section)
        for field in type(model).model_fields:
            value = getattr(model, field)
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str):
                    out.append((f"{namespace}:{key_for(section, field)}", item))
    return out


def placeholder_problems(config: PlatformConfig, *, namespace: str = PROJECT) -> list[str]:
    """What in a validated config is still a placeholder, one ``"<key>: <what is wrong and what to set>"``
    line each: an address or URL on a reserved domain (``example.*``, ``*.test``, ``*.invalid``,
    ``*.example``) in any key, an ARN in the documentation account 123456789012, no cluster administrator,
    and (prod) no alert subscription.

    A real update of staging or prod refuses them; every other run prints them as warnings
    (:func:`review`). Keys added to the schema are covered by the address and ARN scan without change."""
    lines: list[str] = []
    for key, value in _config_strings(config, namespace):
        host = ""
        url = _HOST.match(value)
        if url:
            host = url.group(1)
        elif not value.startswith("arn:") and re.match(r"^[^@\s]+@[^@\s]+$", value):
            host = value.rsplit("@", 1)[1]
        if host and _reserved_domain(host):
            what = "e-mail address" if "@" in value and not url else "URL"
            lines.append(
                f"{key}: {value!r} is a placeholder {what} on a reserved domain ({host}); set the real "
                "address alerts and notifications must reach"
            )
        if value.startswith("arn:") and value.split(":")[4:5] == [DOCUMENTATION_ACCOUNT]:
            lines.append(
                f"{key}: {value!r} is in the documentation account {DOCUMENTATION_ACCOUNT}; set the ARN in "
                "your own account"
            )
    if not config.cluster.admin_principal_arns:
        lines.append(
            f"{namespace}:{key_for('cluster', 'admin_principal_arns')}: empty, so no human can reach the "
            "cluster; set the IAM role ARN(s) of the platform administrators (e.g. "
            "arn:aws:iam::<account>:role/aws-reserved/sso.amazonaws.com/<region>/AWSReservedSSO_<name>)"
        )
    monitoring = config.monitoring
    if config.environment == "prod" and not (monitoring.alert_emails or monitoring.alert_https_endpoints):
        lines.append(
            f"{namespace}:{key_for('monitoring', 'alert_emails')}: no alert subscription, so prod alerts "
            f"reach nobody; set monitoringAlertEmails (the on-call address) or monitoringAlertHttpsEndpoints"
        )
    return lines


def review(
    config: PlatformConfig, *, source: str, today: _dt.date, real_update: bool, namespace: str = PROJECT
) -> list[str]:
    """The checks a run makes once the config validated; returns the warning lines to print.

    On a real update (``pulumi up``) of staging or prod, placeholders (:func:`placeholder_problems`) and a
    Kubernetes version past its end of standard support raise :class:`ConfigError`. Previews, offline runs
    (``mlops plan/check/verify``) and dev get the same lines as warnings."""
    placeholders = placeholder_problems(config, namespace=namespace)
    refused, warned = support_problems(config, today, namespace=namespace)
    if real_update and config.environment in STRICT_ENVIRONMENTS:
        problems = [tuple(line.split(": ", 1)) for line in placeholders] + refused
        if problems:
            raise ConfigError(source, [(k, m) for k, m in problems])
        return [f"{source}: {k}: {m}" for k, m in warned]
    lines = [f"{source}: {line}" for line in placeholders]
    lines += [f"{source}: {k}: {m}" for k, m in refused + warned]
    return lines


def from_pulumi(source: str = "stack config", *, today: _dt.date | None = None) -> PlatformConfig:
    """Build the config inside a running Pulumi program (the real engine or the offline one).

    A real update (``pulumi up``: ``pulumi.runtime.is_dry_run()`` is False) of staging or prod refuses
    placeholders and an out-of-support Kubernetes version (:func:`review`); a preview, an offline render and
    dev log the same lines as warnings. ``today`` defaults to the current UTC date."""
    import pulumi

    values: dict[str, Any] = {}
    cfg = pulumi.Config(PROJECT)
    for key in KEYS:
        raw = cfg.get(key)
        if raw is not None:
            values[f"{PROJECT}:{key}"] = raw
    present = {**pulumi.runtime.config.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    for k in present:
        if k.startswith(f"{PROJECT}:") and k not in values:
            values[k] = pulumi.runtime.config.get_config(k)
    region = pulumi.Config("aws").get("region")
    config = build(values, region=region, source=source)
    day = today or _dt.datetime.now(_dt.timezone.utc).date()
    for line in review(config, source=source, today=day, real_update=not pulumi.runtime.is_dry_run()):
        pulumi.log.warn(line)
    return config
