"""mlops_platform.components.database.workload: the tenant job's argv, environment and pod, as the API server receives them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pulumi
import pytest
from plain_args import plain

from mlops_platform.components.database import tenant_job
from mlops_platform.components.database.workload import (
    JOB_SCRIPT_KEY,
    JOB_SCRIPT_MOUNT,
    JOB_SCRIPT_SOURCE,
    content_hash,
    job_command,
    job_env,
    job_pod_spec,
)


def test_the_program_is_the_tenant_job_module_mounted_under_its_key() -> None:
    assert Path(tenant_job.__file__) == JOB_SCRIPT_SOURCE
    assert job_command("ensure") == ["python", "-P", f"{JOB_SCRIPT_MOUNT}/{JOB_SCRIPT_KEY}", "ensure"]
    assert job_command("rotate", script_path="/src/job.py") == ["python", "-P", "/src/job.py", "rotate"]


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="mode 'drop'"):
        job_command("drop")


def test_the_environment_verifies_the_server_and_holds_no_secret() -> None:
    env = job_env(
        host="db.internal",
        port=5433,
        database="mlflow",
        role="mlflow",
        master_secret_id="arn:master",
        tenant_secret_id="arn:tenant",
        region="eu-central-1",
        ca_bundle_path="/opt/ca.pem",
    )
    assert env == {
        "PGHOST": "db.internal",
        "PGPORT": "5433",
        "PGSSLMODE": "verify-full",
        "PGSSLROOTCERT": "/opt/ca.pem",
        "PGCONNECT_TIMEOUT": "10",
        "TENANT_DATABASE": "mlflow",
        "TENANT_ROLE": "mlflow",
        "TENANT_MAINTENANCE_DATABASE": "postgres",
        "TENANT_MASTER_SECRET_ID": "arn:master",
        "TENANT_SECRET_ID": "arn:tenant",
        "AWS_REGION": "eu-central-1",
        "AWS_DEFAULT_REGION": "eu-central-1",
        "HOME": "/tmp",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def test_content_hash_is_eight_hex_digits_of_the_parts_as_json() -> None:
    parts = ("img:1", {"B": "2", "A": "1"}, "source")
    expected = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:8]
    assert content_hash(*parts) == expected
    assert content_hash("img:2", {"A": "1", "B": "2"}, "source") != expected


@pytest.mark.parametrize("mode", ["ensure", "rotate"])
def test_the_job_pod_runs_the_mounted_program_restricted(mode: str) -> None:
    pod = plain(
        job_pod_spec(
            mode,
            service_account="mlflow-db-tenant",
            image="img:1",
            env=pulumi.Output.from_input({"PGHOST": "db.internal"}),
            script_config_map="mlflow-db-tenant-0123abcd",
            run_as_user=10001,
            node_selector={"role": "system"},
        )
    )
    (c,) = pod["containers"]
    assert (c["name"], c["image"], c["command"]) == ("tenant", "img:1", job_command(mode))
    assert c["env"] == [{"name": "PGHOST", "value": "db.internal"}]
    assert c["resources"] == {
        "requests": {"cpu": "50m", "memory": "128Mi", "ephemeral-storage": "64Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi", "ephemeral-storage": "256Mi"},
    }
    assert (
        c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        and c["securityContext"]["runAsUser"] == 10001
    )
    assert c["volumeMounts"] == [
        {"name": "program", "mountPath": JOB_SCRIPT_MOUNT, "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    assert pod["volumes"] == [
        {"name": "program", "configMap": {"name": "mlflow-db-tenant-0123abcd", "defaultMode": 0o444}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
    ]
    assert (pod["serviceAccountName"], pod["restartPolicy"], pod["enableServiceLinks"]) == (
        "mlflow-db-tenant",
        "Never",
        False,
    )
    assert pod["nodeSelector"] == {"role": "system"}
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_no_node_selector_is_left_out() -> None:
    pod = plain(
        job_pod_spec(
            "ensure",
            service_account="sa",
            image="img:1",
            env=pulumi.Output.from_input({}),
            script_config_map="cm",
            run_as_user=10001,
            node_selector=None,
        )
    )
    assert "nodeSelector" not in pod
