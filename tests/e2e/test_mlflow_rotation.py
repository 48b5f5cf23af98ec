"""The tenant's rotation CronJob gives MLflow's role a new password. What the running server does then.

Rotation here is what happens in the cluster: the CronJob's command (components/database/tenant_job.py, mode
``rotate``) gives the role a new password and writes it to the tenant secret, the synced Secret's mounted
files follow (External Secrets refresh, then the kubelet), environment variables of the running process do
not; and the server's sessions are dropped (a failover, a restart, a network blip), so it must reconnect.

* ``db_credentials="env"`` (PGUSER/PGPASSWORD): the reconnect uses the old password and fails until the
  pod restarts. This test pins that behaviour so the limitation stays documented and visible.
* ``db_credentials="service-file"`` (libpq service file mounted from the Secret): libpq reads the file at
  every connection, so the server keeps working with the new password, without a restart.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import pytest
from local_kit import drop_server_connections, rotate_db_password

from mlops_platform.mlops.local import LocalPlatform, local_platform

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def _create_experiment(platform: LocalPlatform, name: str) -> tuple[int, str]:
    """A request that needs the database (and the auth tables) through a fresh connection."""
    request = urllib.request.Request(
        platform.url + "/api/2.0/mlflow/experiments/create",
        data=json.dumps({"name": name}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    token = f"{platform.mlflow.admin_username}:{platform.mlflow.admin_password}"
    request.add_header("Authorization", "Basic " + base64.b64encode(token.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def _rotate(platform: LocalPlatform) -> None:
    assert _create_experiment(platform, "before-rotation")[0] == 200
    before = platform.pg.password
    run = rotate_db_password(platform)  # the tenant CronJob's command, mode rotate
    assert run.returncode == 0 and '"password_changed": true' in run.output
    assert platform.pg.password != before
    assert drop_server_connections(platform) >= 1


def test_service_file_credentials_survive_rotation() -> None:
    with local_platform(workers=1, db_credentials="service-file") as platform:
        assert "PGPASSWORD" not in platform.mlflow.materialized.env
        _rotate(platform)
        status, body = _create_experiment(platform, "after-rotation")
        assert status == 200, body
        with platform.pg.connect() as conn, conn.cursor() as cur:  # the new password, over TLS
            cur.execute("SELECT name FROM experiments ORDER BY experiment_id")
            assert [row[0] for row in cur.fetchall()][-2:] == ["before-rotation", "after-rotation"]
        conn.close()


def test_env_credentials_fail_after_rotation_until_restart() -> None:
    with local_platform(workers=1, db_credentials="env") as platform:
        _rotate(platform)
        status, body = _create_experiment(platform, "after-rotation")
        assert status >= 500, body
        assert "password authentication failed" in platform.mlflow.process.log_tail(200)
