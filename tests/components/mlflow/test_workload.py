"""mlops_platform.components.mlflow.workload: the server's pod and the migration Job's pod, as the API server receives them."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from plain_args import plain

from mlops_platform.components.mlflow.server import AUTH_CONFIG_PATH, migration_spec, server_spec
from mlops_platform.components.mlflow.workload import (
    ServerResources,
    db_volume,
    metrics_exporter_container,
    migration_container,
    migration_job_name,
    migration_labels,
    migration_pod_spec,
    server_labels,
    server_pod_spec,
    server_selector,
)

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlflow:3.17.2-platform.2"
RESOURCES = ServerResources(
    cpu_request="500m", cpu_limit="2", memory_request="1Gi", memory_limit="2Gi", tmp_size_limit="20Gi"
)
UID = 10001


def _server(image: str = IMAGE):
    return server_spec(
        db_host="db.internal",
        db_port=5432,
        db_name="mlflow",
        artifact_bucket="mlops-dev-artifacts",
        db_secret_name="mlflow-db",
        auth_secret_name="mlflow-auth",
        image=image,
        region="eu-west-1",
        db_credentials="service-file",
    )


def _pod(**overrides: Any) -> dict[str, Any]:
    spec = _server()
    args: dict[str, Any] = {
        "selector": server_selector("mr"),
        "resources": RESOURCES,
        "run_as_user": UID,
        "node_selector": {},
    }
    args.update(overrides)
    return plain(
        server_pod_spec(
            pulumi.Output.from_input(spec),
            pulumi.Output.from_input(AUTH_CONFIG_PATH),
            pulumi.Output.from_input(migration_spec(spec)),
            **args,
        )
    )


def test_labels_select_the_server_but_not_the_migration() -> None:
    labels = server_labels("mr")
    assert labels == {
        "app.kubernetes.io/name": "mlflow",
        "app.kubernetes.io/instance": "mr",
        "app.kubernetes.io/component": "tracking-server",
        "app.kubernetes.io/part-of": "mlops-platform",
    }
    selector = server_selector("mr")
    assert selector.items() <= labels.items()
    job = migration_labels(labels)
    assert job["app.kubernetes.io/name"] == "mlflow-schema-migration"
    assert job["app.kubernetes.io/component"] == "schema-migration"
    assert not selector.items() <= job.items()


def test_the_database_volume_holds_only_the_service_file() -> None:
    assert plain(db_volume()) == {
        "name": "db",
        "secret": {
            "secretName": "mlflow-db",
            "defaultMode": 0o440,
            "items": [{"key": "pg_service.conf", "path": "pg_service.conf"}],
        },
    }


def test_a_migration_step_runs_its_argv_in_the_servers_image_restricted() -> None:
    c = plain(
        migration_container(
            "db-upgrade", ["mlflow", "db", "upgrade", "uri"], {"A": "1"}, image=IMAGE, run_as_user=UID
        )
    )
    assert (c["name"], c["image"], c["command"], c["args"]) == (
        "db-upgrade",
        IMAGE,
        ["mlflow"],
        ["db", "upgrade", "uri"],
    )
    assert c["env"] == [{"name": "A", "value": "1"}]
    assert c["resources"] == {
        "requests": {"cpu": "100m", "memory": "512Mi", "ephemeral-storage": "64Mi"},
        "limits": {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "512Mi"},
    }
    assert c["securityContext"]["readOnlyRootFilesystem"] and c["securityContext"]["runAsUser"] == UID
    assert c["volumeMounts"] == [
        {"name": "db", "mountPath": "/etc/mlflow/db", "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
    ]


def test_the_migration_job_name_changes_with_the_image_only_when_it_changes() -> None:
    spec = _server()
    name = migration_job_name(IMAGE, migration_spec(spec))
    assert name.startswith("mlflow-db-upgrade-") and len(name) == len("mlflow-db-upgrade-") + 8
    assert name == migration_job_name(IMAGE, migration_spec(_server()))
    other = IMAGE.replace("platform.2", "platform.3")
    assert migration_job_name(other, migration_spec(_server(other))) != name


def test_the_migration_pod_runs_the_steps_in_order_without_a_token() -> None:
    spec = _server()
    migration = migration_spec(spec)
    pod = plain(
        migration_pod_spec(
            pulumi.Output.from_input(migration),
            image=IMAGE,
            run_as_user=UID,
            node_selector={"role": "system"},
        )
    )
    steps = [*pod["initContainers"], *pod["containers"]]
    assert [(s["name"], [*s["command"], *s["args"]]) for s in steps] == migration.steps
    assert (pod["serviceAccountName"], pod["automountServiceAccountToken"]) == ("mlflow-migrate", False)
    assert (pod["restartPolicy"], pod["nodeSelector"]) == ("Never", {"role": "system"})
    assert [v["name"] for v in pod["volumes"]] == ["db", "tmp"]
    assert pod["volumes"][1]["emptyDir"] == {"sizeLimit": "512Mi"}


def test_the_server_pod_waits_for_the_schema_then_runs_server_and_exporter() -> None:
    pod = _pod()
    spec = _server()
    (gate,) = pod["initContainers"]
    assert (
        gate["name"] == "wait-for-schema" and [*gate["command"], *gate["args"]] == migration_spec(spec).gate
    )
    assert [c["name"] for c in pod["containers"]] == ["mlflow", "metrics"]
    assert pod["serviceAccountName"] == "mlflow" and "nodeSelector" not in pod
    assert [t["topologyKey"] for t in pod["topologySpreadConstraints"]] == [
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    ]
    assert {
        t["labelSelector"]["matchLabels"]["app.kubernetes.io/instance"]
        for t in pod["topologySpreadConstraints"]
    } == {"mr"}


def test_the_server_container_reads_secrets_only_by_reference() -> None:
    server = _pod()["containers"][0]
    plain_env = {e["name"]: e["value"] for e in server["env"] if "value" in e}
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in server["env"] if "valueFrom" in e}
    assert plain_env["MLFLOW_AUTH_CONFIG_PATH"] == AUTH_CONFIG_PATH
    assert plain_env["PGSERVICEFILE"] == "/etc/mlflow/db/pg_service.conf"
    assert refs == {"MLFLOW_FLASK_SERVER_SECRET_KEY": {"name": "mlflow-auth", "key": "flask-secret-key"}}
    assert server["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "1Gi"},
        "limits": {"cpu": "2", "memory": "2Gi", "ephemeral-storage": "20Gi"},
    }
    assert [
        p["periodSeconds"]
        for p in (server["startupProbe"], server["livenessProbe"], server["readinessProbe"])
    ] == [10, 20, 10]
    assert server["startupProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert {m["name"]: m["mountPath"] for m in server["volumeMounts"]} == {
        "tmp": "/tmp",
        "auth": "/etc/mlflow/auth",
        "db": "/etc/mlflow/db",
    }


@pytest.mark.parametrize("tmp", ["1Gi", "50Gi"])
def test_the_tmp_volume_bounds_the_uploads_a_replica_spools(tmp: str) -> None:
    pod = _pod(resources=ServerResources("1", "2", "1Gi", "2Gi", tmp))
    (volume,) = [v for v in pod["volumes"] if v["name"] == "tmp"]
    assert volume["emptyDir"] == {"sizeLimit": tmp}
    assert pod["containers"][0]["resources"]["limits"]["ephemeral-storage"] == tmp


def test_the_exporter_mounts_only_the_credential_hash_and_the_metric_files() -> None:
    pod = _pod()
    (auth,) = [v for v in pod["volumes"] if v["name"] == "metrics-auth"]
    assert [i["key"] for i in auth["secret"]["items"]] == ["username", "password.sha256"]
    exporter = plain(metrics_exporter_container(pulumi.Output.from_input(_server()), run_as_user=UID))
    assert exporter == pod["containers"][1]
    assert exporter["volumeMounts"] == [
        {"name": "tmp", "mountPath": "/mlflow-tmp", "readOnly": True},
        {"name": "metrics-auth", "mountPath": "/etc/mlflow/metrics-auth", "readOnly": True},
    ]
    assert exporter["ports"] == [{"name": "metrics", "containerPort": 9102, "protocol": "TCP"}]
    assert exporter["resources"]["limits"] == {"cpu": "200m", "memory": "128Mi", "ephemeral-storage": "64Mi"}
