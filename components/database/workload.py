"""The tenant job's pod as plain Kubernetes specs: the program (:mod:`mlops_platform.components.database.tenant_job`, shipped in a
ConfigMap), its argv, its environment, and the pod the one-off Job and the rotation CronJob both run.

Nothing here creates a resource; the end-to-end test and ``mlops local`` run the same program with the same argv
and environment (:func:`job_command`, :func:`job_env`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from mlops_platform.components.database import tenant_job as db_tenant_job
from mlops_platform.components.kubernetes import restricted_container, restricted_pod

__all__ = [
    "JOB_SCRIPT_KEY",
    "JOB_SCRIPT_MOUNT",
    "JOB_SCRIPT_SOURCE",
    "content_hash",
    "job_command",
    "job_env",
    "job_pod_spec",
]

#: Where the job's program is mounted in the pod.
JOB_SCRIPT_MOUNT = "/etc/db-tenant"
JOB_SCRIPT_KEY = "db_tenant_job.py"
JOB_SCRIPT_SOURCE = Path(db_tenant_job.__file__)


def content_hash(*parts: object) -> str:
    """Eight hex digits of the SHA-256 of ``parts`` (as JSON): names that change when the content does."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:8]


def job_command(mode: str, *, script_path: str = f"{JOB_SCRIPT_MOUNT}/{JOB_SCRIPT_KEY}") -> list[str]:
    """The tenant job's argv (``ensure`` for the one-off Job, ``rotate`` for the CronJob); the end-to-end test runs
    it with ``script_path`` pointing at this repository's copy of the same file."""
    if mode not in db_tenant_job.MODES:
        raise ValueError(f"mode {mode!r} is not one of {db_tenant_job.MODES}")
    # -P: nothing is imported from the program's own directory (a mounted ConfigMap, or this package).
    return ["python", "-P", script_path, mode]


def job_env(
    *,
    host: str,
    port: int,
    database: str,
    role: str,
    master_secret_id: str,
    tenant_secret_id: str,
    region: str,
    ca_bundle_path: str,
    maintenance_database: str = "postgres",
) -> dict[str, str]:
    """The tenant job's environment: libpq's connection and TLS settings and the tenant's names; no secret."""
    return {
        "PGHOST": host,
        "PGPORT": str(port),
        "PGSSLMODE": "verify-full",
        "PGSSLROOTCERT": ca_bundle_path,
        "PGCONNECT_TIMEOUT": "10",
        "TENANT_DATABASE": database,
        "TENANT_ROLE": role,
        "TENANT_MAINTENANCE_DATABASE": maintenance_database,
        "TENANT_MASTER_SECRET_ID": master_secret_id,
        "TENANT_SECRET_ID": tenant_secret_id,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "HOME": "/tmp",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def job_pod_spec(
    mode: str,
    *,
    service_account: str,
    image: pulumi.Input[str],
    env: pulumi.Output[dict[str, str]],
    script_config_map: pulumi.Input[str],
    run_as_user: int,
    node_selector: Mapping[str, str] | None,
) -> k8s.core.v1.PodSpecArgs:
    """The pod of the tenant job in ``mode``: the program from the ConfigMap ``script_config_map``, run restricted
    as ``run_as_user`` with the environment ``env`` (:func:`job_env`)."""
    return k8s.core.v1.PodSpecArgs(
        service_account_name=service_account,
        restart_policy="Never",
        enable_service_links=False,
        node_selector=dict(node_selector or {}) or None,
        security_context=restricted_pod(run_as_user),
        containers=[
            k8s.core.v1.ContainerArgs(
                name="tenant",
                image=image,
                image_pull_policy="IfNotPresent",
                command=job_command(mode),
                env=env.apply(lambda e: [k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in e.items()]),
                resources=k8s.core.v1.ResourceRequirementsArgs(
                    requests={"cpu": "50m", "memory": "128Mi", "ephemeral-storage": "64Mi"},
                    limits={"cpu": "500m", "memory": "256Mi", "ephemeral-storage": "256Mi"},
                ),
                security_context=restricted_container(run_as_user),
                volume_mounts=[
                    k8s.core.v1.VolumeMountArgs(name="program", mount_path=JOB_SCRIPT_MOUNT, read_only=True),
                    k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
                ],
            )
        ],
        volumes=[
            k8s.core.v1.VolumeArgs(
                name="program",
                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=script_config_map, default_mode=0o444),
            ),
            k8s.core.v1.VolumeArgs(
                name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="64Mi")
            ),
        ],
    )
