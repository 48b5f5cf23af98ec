"""The environment profiles: the one place where environments differ.

:func:`profile` gives every field of every section of :class:`~mlops_platform.components.platform.settings.PlatformConfig`
its default for one environment (the settings all environments share, overlaid with the environment's own);
a stack file sets only what differs. The loader (:func:`mlops_platform.components.platform.loader.build`) overlays the stack's
values on them.
"""

from __future__ import annotations

from typing import Any

from mlops_platform.components.cluster.versions import DEFAULT_KUBERNETES_VERSION, KARPENTER_AMI_ALIAS
from mlops_platform.components.network.endpoints import (
    INTERFACE_ENDPOINT_SERVICES,
    KARPENTER_ENDPOINTS,
    REQUIRED_ENDPOINTS,
)
from mlops_platform.components.pipelines.reference import IMAGE_TAG as STEP_IMAGE_TAG
from mlops_platform.components.platform.settings import SECTIONS
from mlops_platform.components.serving.names import IMAGE_REPOSITORY as SERVING_REPOSITORY

# What every environment shares.
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
    "karpenter": {"enabled": True, "ami_alias": KARPENTER_AMI_ALIAS},
    "general_pool": {
        "instance_families": ["m6i", "m7i", "c6i", "c7i", "r6i", "r7i"],
        "architectures": ["amd64"],
        "consolidation_policy": "WhenEmptyOrUnderutilized",
        "expire_after": "720h",
        "disruption_budget": "10%",
    },
    "gpu_pool": {
        "capacity_types": ["on-demand"],
        "consolidation_policy": "WhenEmpty",
        "consolidate_after": "15m",
        "expire_after": "720h",
        "disruption_budget": "1",
    },
    # mlserver: the serving runtime image (mlops_platform.components.serving.names.IMAGE_REPOSITORY).
    "registry": {"repositories": ["mlflow", "training", "serving", SERVING_REPOSITORY]},
    "mlflow": {"await_rollout": True},
    "pipelines": {
        "enabled": True,
        "deadline_hours": 6,
        "retrain_schedule": "",
        "step_image_tag": STEP_IMAGE_TAG,
        "train_on_gpu": False,
    },
    # Serving's control plane (cert-manager, the KServe controller) requests about 0.3 vCPU and 0.6 GiB per
    # replica set on the system group: every profile's system nodes have room for it.
    "serving": {"enabled": True},
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
            # Only what the closed egress of MLflow, monitoring, the tenant jobs and Karpenter needs (x 2 zones);
            # the rest (image pulls, log shipping) goes through the NAT.
            "interface_endpoints": True,
            "interface_endpoint_services": list(dict.fromkeys([*REQUIRED_ENDPOINTS, *KARPENTER_ENDPOINTS])),
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
            "enabled": False,
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
        "karpenter": {"controller_replicas": 1},
        "general_pool": {
            "capacity_types": ["spot", "on-demand"],
            "cpu_limit": 32,
            "memory_limit_gib": 128,
            "expected_nodes": 1,
            "consolidate_after": "1m",
            "disk_size_gib": 100,
        },
        "gpu_pool": {
            "enabled": False,
            "instance_families": ["g5", "g6"],
            "cpu_limit": 16,
            "memory_limit_gib": 64,
            "gpu_limit": 2,
            "expected_nodes": 0,
            "disk_size_gib": 200,
        },
        "registry": {"keep_tagged_images": 30, "untagged_expiry_days": 7},
        "mlflow": {"replicas": 1},
        "pipelines": {
            "controller_replicas": 1,
            "server_replicas": 1,
            "workflow_ttl_hours": 24,
            "archive_ttl_days": 14,
        },
        "serving": {"replicas": 1},
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
            "enabled": False,
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
        "karpenter": {"controller_replicas": 2},
        "general_pool": {
            "capacity_types": ["spot", "on-demand"],
            "cpu_limit": 64,
            "memory_limit_gib": 256,
            "expected_nodes": 2,
            "consolidate_after": "5m",
            "disk_size_gib": 100,
        },
        "gpu_pool": {
            "enabled": True,
            "instance_families": ["g5", "g6"],
            "cpu_limit": 32,
            "memory_limit_gib": 128,
            "gpu_limit": 4,
            "expected_nodes": 0,
            "disk_size_gib": 200,
        },
        "registry": {"keep_tagged_images": 50, "untagged_expiry_days": 7},
        "mlflow": {"replicas": 2},
        "pipelines": {
            "controller_replicas": 2,
            "server_replicas": 2,
            "workflow_ttl_hours": 48,
            "archive_ttl_days": 90,
        },
        "serving": {"replicas": 2},
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
            "enabled": False,
            "instance_types": ["m6i.2xlarge", "m6i.4xlarge"],
            "min_size": 2,
            "max_size": 20,
            "desired_size": 3,
            "disk_size_gib": 200,
        },
        "gpu_nodes": {
            "enabled": False,
            "instance_types": ["g5.2xlarge"],
            "min_size": 0,
            "max_size": 4,
            "desired_size": 1,
            "disk_size_gib": 300,
        },
        "karpenter": {"controller_replicas": 2},
        "general_pool": {
            "capacity_types": ["on-demand"],
            "cpu_limit": 256,
            "memory_limit_gib": 1024,
            "expected_nodes": 3,
            "consolidate_after": "10m",
            "disk_size_gib": 200,
        },
        "gpu_pool": {
            "enabled": True,
            "instance_families": ["g5", "g6", "g6e"],
            "cpu_limit": 192,
            "memory_limit_gib": 768,
            "gpu_limit": 16,
            "expected_nodes": 1,
            "disk_size_gib": 300,
        },
        "registry": {"keep_tagged_images": 100, "untagged_expiry_days": 3},
        "mlflow": {"replicas": 3},
        "pipelines": {
            "controller_replicas": 2,
            "server_replicas": 2,
            "workflow_ttl_hours": 72,
            "archive_ttl_days": 400,
        },
        "serving": {"replicas": 2},
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
