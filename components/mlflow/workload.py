"""The pods of MLflow's namespace as plain Kubernetes specs: the tracking server's pod (server and metrics
exporter containers, the schema gate in front of them) and the schema migration Job's pod.

Every value comes from the one definition of the server (:func:`mlops_platform.components.mlflow.server.server_spec`,
:func:`mlops_platform.components.mlflow.server.migration_spec`) and of the exporter (:func:`mlops_platform.components.mlflow.metrics.exporter_spec`);
the pods run restricted (:mod:`mlops_platform.components.kubernetes`). Nothing here creates a resource.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from mlops_platform.components.kubernetes import restricted_container, restricted_pod
from mlops_platform.components.mlflow.metrics import (
    CREDENTIALS_MOUNT,
    METRICS_PORT,
    METRICS_PORT_NAME,
    METRICS_SECRET,
    PASSWORD_SHA256_KEY,
    SHARED_TMP_MOUNT,
    USERNAME_KEY,
    exporter_spec,
)
from mlops_platform.components.mlflow.names import AUTH_SECRET, DB_SECRET, MIGRATE_SA, SERVER_SA
from mlops_platform.components.mlflow.server import (
    DB_SERVICE_FILE_KEY,
    DB_SERVICE_MOUNT,
    MigrationSpec,
    MlflowServerSpec,
)

__all__ = [
    "ServerResources",
    "db_volume",
    "metrics_exporter_container",
    "migration_container",
    "migration_job_name",
    "migration_labels",
    "migration_pod_spec",
    "server_container",
    "server_env",
    "server_labels",
    "server_pod_spec",
    "server_selector",
    "server_volumes",
]


def server_labels(instance: str) -> dict[str, str]:
    """The labels of the server's objects and pods."""
    return {
        "app.kubernetes.io/name": "mlflow",
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": "tracking-server",
        "app.kubernetes.io/part-of": "mlops-platform",
    }


def server_selector(instance: str) -> dict[str, str]:
    """The labels that select the server's pods (the Deployment, the Service, the PDB, the policies)."""
    return {"app.kubernetes.io/name": "mlflow", "app.kubernetes.io/instance": instance}


def migration_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """The migration Job's labels: not the server's selector labels, so the Service, the PDB and the server's
    policies do not pick its pods up."""
    return {
        **labels,
        "app.kubernetes.io/name": "mlflow-schema-migration",
        "app.kubernetes.io/component": "schema-migration",
    }


def db_volume() -> k8s.core.v1.VolumeArgs:
    """The libpq service file from the synced database Secret.

    A Secret volume without subPath: the kubelet refreshes the file after rotation."""
    return k8s.core.v1.VolumeArgs(
        name="db",
        secret=k8s.core.v1.SecretVolumeSourceArgs(
            secret_name=DB_SECRET,
            default_mode=0o440,
            items=[k8s.core.v1.KeyToPathArgs(key=DB_SERVICE_FILE_KEY, path=DB_SERVICE_FILE_KEY)],
        ),
    )


def migration_container(
    step: str, argv: list[str], env: dict[str, str], *, image: pulumi.Input[str], run_as_user: int
) -> k8s.core.v1.ContainerArgs:
    """One step of the schema migration (or the server's schema gate): ``argv`` in the server's image."""
    return k8s.core.v1.ContainerArgs(
        name=step,
        image=image,
        image_pull_policy="IfNotPresent",
        command=argv[:1],
        args=argv[1:],
        env=[k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in env.items()],
        resources=k8s.core.v1.ResourceRequirementsArgs(
            requests={"cpu": "100m", "memory": "512Mi", "ephemeral-storage": "64Mi"},
            limits={"cpu": "1", "memory": "1Gi", "ephemeral-storage": "512Mi"},
        ),
        security_context=restricted_container(run_as_user),
        volume_mounts=[
            k8s.core.v1.VolumeMountArgs(name="db", mount_path=DB_SERVICE_MOUNT, read_only=True),
            k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
        ],
    )


def migration_job_name(image: str, migration: MigrationSpec) -> str:
    """Job specs are immutable: the name carries a hash of the image and the commands, so a new image is a new
    Job (created, awaited, then the old one deleted), never an update the API server refuses."""
    digest = hashlib.sha256(json.dumps([image, migration.steps, migration.env], sort_keys=True).encode())
    return "mlflow-db-upgrade-" + digest.hexdigest()[:8]


def migration_pod_spec(
    migration: pulumi.Output[MigrationSpec],
    *,
    image: pulumi.Input[str],
    run_as_user: int,
    node_selector: Mapping[str, str],
) -> k8s.core.v1.PodSpecArgs:
    """The migration Job's pod: every step but the last as init containers, in order, then the last."""

    def container(step: str, argv: list[str], env: dict[str, str]) -> k8s.core.v1.ContainerArgs:
        return migration_container(step, argv, env, image=image, run_as_user=run_as_user)

    return k8s.core.v1.PodSpecArgs(
        service_account_name=MIGRATE_SA,
        automount_service_account_token=False,
        restart_policy="Never",
        enable_service_links=False,
        node_selector=dict(node_selector) or None,
        security_context=restricted_pod(run_as_user),
        init_containers=migration.apply(
            lambda m: [container(step, argv, m.env) for step, argv in m.steps[:-1]]
        ),
        containers=migration.apply(lambda m: [container(m.steps[-1][0], m.steps[-1][1], m.env)]),
        volumes=[
            db_volume(),
            k8s.core.v1.VolumeArgs(
                name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="512Mi")
            ),
        ],
    )


def server_env(spec: MlflowServerSpec, auth_path: str) -> list[k8s.core.v1.EnvVarArgs]:
    """The server container's environment: the spec's plain variables, the auth config's path, and the
    variables read from Secrets (``valueFrom.secretKeyRef``)."""
    env = [k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in spec.env.items()]
    if "MLFLOW_AUTH_CONFIG_PATH" not in spec.env:
        env.append(k8s.core.v1.EnvVarArgs(name="MLFLOW_AUTH_CONFIG_PATH", value=auth_path))
    env += [
        k8s.core.v1.EnvVarArgs(
            name=k,
            value_from=k8s.core.v1.EnvVarSourceArgs(
                secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=s, key=key)
            ),
        )
        for k, (s, key) in spec.secret_env.items()
    ]
    return env


@dataclass(frozen=True)
class ServerResources:
    """The server container's requests and limits.

    Attributes:
        cpu_request: CPU request per replica.
        cpu_limit: CPU limit per replica.
        memory_request: Memory request per replica.
        memory_limit: Memory limit per replica.
        tmp_size_limit: Size of the /tmp emptyDir, and the container's ephemeral-storage limit.
    """

    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str
    tmp_size_limit: str


def server_container(
    spec: pulumi.Output[MlflowServerSpec],
    auth_path: pulumi.Output[str],
    *,
    resources: ServerResources,
    run_as_user: int,
) -> k8s.core.v1.ContainerArgs:
    """The MLflow server container: the spec's image, command, arguments and environment, probed on its health
    path, the auth config and the libpq service file mounted read-only."""

    def probe(period: int, failures: int) -> k8s.core.v1.ProbeArgs:
        return k8s.core.v1.ProbeArgs(
            http_get=k8s.core.v1.HTTPGetActionArgs(path=spec.apply(lambda s: s.health_path), port="http"),
            timeout_seconds=5,
            period_seconds=period,
            failure_threshold=failures,
        )

    return k8s.core.v1.ContainerArgs(
        name="mlflow",
        image=spec.apply(lambda s: s.image),
        image_pull_policy="IfNotPresent",
        command=spec.apply(lambda s: s.command),
        args=spec.apply(lambda s: s.args),
        env=pulumi.Output.all(spec, auth_path).apply(lambda a: server_env(a[0], a[1])),
        ports=[
            k8s.core.v1.ContainerPortArgs(
                name="http", container_port=spec.apply(lambda s: s.port), protocol="TCP"
            )
        ],
        # The schema is migrated before (the Job; the init container waits for it); start-up still loads
        # the app and opens the first connections: allow it five minutes on a loaded node.
        startup_probe=probe(10, 30),
        liveness_probe=probe(20, 3),
        readiness_probe=probe(10, 3),
        resources=k8s.core.v1.ResourceRequirementsArgs(
            requests={
                "cpu": resources.cpu_request,
                "memory": resources.memory_request,
                "ephemeral-storage": "1Gi",
            },
            limits={
                "cpu": resources.cpu_limit,
                "memory": resources.memory_limit,
                "ephemeral-storage": resources.tmp_size_limit,
            },
        ),
        security_context=restricted_container(run_as_user),
        volume_mounts=[
            k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
            k8s.core.v1.VolumeMountArgs(
                name="auth", mount_path=auth_path.apply(posixpath.dirname), read_only=True
            ),
            k8s.core.v1.VolumeMountArgs(name="db", mount_path=DB_SERVICE_MOUNT, read_only=True),
        ],
    )


def metrics_exporter_container(
    spec: pulumi.Output[MlflowServerSpec], *, run_as_user: int
) -> k8s.core.v1.ContainerArgs:
    """The pod's second container: MLflow's metrics behind the scrape credential (mlops_platform.components.mlflow.metrics)."""
    exporter = spec.apply(lambda s: exporter_spec(image=s.image))

    def probe(period: int) -> k8s.core.v1.ProbeArgs:
        return k8s.core.v1.ProbeArgs(
            http_get=k8s.core.v1.HTTPGetActionArgs(
                path=exporter.apply(lambda e: e.health_path), port=METRICS_PORT_NAME
            ),
            timeout_seconds=3,
            period_seconds=period,
            failure_threshold=3,
        )

    return k8s.core.v1.ContainerArgs(
        name="metrics",
        image=exporter.apply(lambda e: e.image),
        image_pull_policy="IfNotPresent",
        command=exporter.apply(lambda e: e.command),
        args=exporter.apply(lambda e: e.args),
        env=exporter.apply(lambda e: [k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in e.env.items()]),
        ports=[
            k8s.core.v1.ContainerPortArgs(name=METRICS_PORT_NAME, container_port=METRICS_PORT, protocol="TCP")
        ],
        liveness_probe=probe(20),
        readiness_probe=probe(10),
        resources=k8s.core.v1.ResourceRequirementsArgs(
            requests={"cpu": "10m", "memory": "64Mi", "ephemeral-storage": "16Mi"},
            limits={"cpu": "200m", "memory": "128Mi", "ephemeral-storage": "64Mi"},
        ),
        security_context=restricted_container(run_as_user),
        volume_mounts=[
            # MLflow's prometheus_client multiprocess files live on the pod's /tmp emptyDir.
            k8s.core.v1.VolumeMountArgs(name="tmp", mount_path=SHARED_TMP_MOUNT, read_only=True),
            k8s.core.v1.VolumeMountArgs(name="metrics-auth", mount_path=CREDENTIALS_MOUNT, read_only=True),
        ],
    )


def server_volumes(auth_path: pulumi.Output[str], *, tmp_size_limit: str) -> list[k8s.core.v1.VolumeArgs]:
    """The server pod's volumes: /tmp, the auth config, the exporter's credential hash, the database service file."""
    auth_file = auth_path.apply(posixpath.basename)
    return [
        k8s.core.v1.VolumeArgs(
            name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=tmp_size_limit)
        ),
        k8s.core.v1.VolumeArgs(
            name="auth",
            secret=k8s.core.v1.SecretVolumeSourceArgs(
                secret_name=AUTH_SECRET,
                default_mode=0o440,
                items=[k8s.core.v1.KeyToPathArgs(key=auth_file, path=auth_file)],
            ),
        ),
        # Only the user name and the password's hash: the exporter never holds the password.
        k8s.core.v1.VolumeArgs(
            name="metrics-auth",
            secret=k8s.core.v1.SecretVolumeSourceArgs(
                secret_name=METRICS_SECRET,
                default_mode=0o440,
                items=[k8s.core.v1.KeyToPathArgs(key=k, path=k) for k in (USERNAME_KEY, PASSWORD_SHA256_KEY)],
            ),
        ),
        db_volume(),
    ]


def server_pod_spec(
    spec: pulumi.Output[MlflowServerSpec],
    auth_path: pulumi.Output[str],
    migration: pulumi.Output[MigrationSpec],
    *,
    selector: Mapping[str, str],
    resources: ServerResources,
    run_as_user: int,
    node_selector: Mapping[str, str],
) -> k8s.core.v1.PodSpecArgs:
    """The server's pod: spread over zones and nodes, the schema gate first, then the server and its exporter."""
    image = spec.apply(lambda s: s.image)
    return k8s.core.v1.PodSpecArgs(
        service_account_name=SERVER_SA,
        enable_service_links=False,
        security_context=restricted_pod(run_as_user),
        node_selector=dict(node_selector) or None,
        topology_spread_constraints=[
            k8s.core.v1.TopologySpreadConstraintArgs(
                max_skew=1,
                topology_key=key,
                when_unsatisfiable="ScheduleAnyway",
                label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
            )
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
        ],
        termination_grace_period_seconds=30,
        # No replica starts on an empty or old schema (nor migrates it): wait for the Job.
        init_containers=[
            migration.apply(
                lambda m: migration_container(
                    "wait-for-schema", m.gate, m.env, image=image, run_as_user=run_as_user
                )
            )
        ],
        containers=[
            server_container(spec, auth_path, resources=resources, run_as_user=run_as_user),
            metrics_exporter_container(spec, run_as_user=run_as_user),
        ],
        volumes=server_volumes(auth_path, tmp_size_limit=resources.tmp_size_limit),
    )
