"""End to end: Prometheus' view of MLflow, against the real local MLflow (mlops/local/).

Shows why the platform scrapes a metrics exporter and not MLflow's own /metrics: MLflow's basic-auth app
refuses /metrics to every non-admin user (fail-closed on routes without an authorization rule), so a
scrape user with no permissions cannot read it - only an admin could. The exporter
(mlops_platform.components.mlflow.metrics_exporter, started with exactly the command and arguments the pod runs) serves
the same metric files to the scrape credential alone, and follows a rotated credential at once.
"""

from __future__ import annotations

import base64
import re
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from local_kit import MetricsExporter, start_metrics_exporter

from mlops_platform.components.mlflow.metrics import exporter_spec
from mlops_platform.mlops.local import LocalPlatform, local_platform
from mlops_platform.mlops.local.processes import LOOPBACK, make_root, random_password

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SCRAPE_USER = "prometheus"


def _get(url: str, auth: tuple[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


@pytest.fixture(scope="module")
def trio() -> Iterator[tuple[LocalPlatform, MetricsExporter, str]]:
    root = make_root("mlops-e2e-metrics-")
    with local_platform(root=root, workers=2) as platform:
        password = random_password(32)
        exporter = start_metrics_exporter(
            root, mlflow=platform.mlflow, username=SCRAPE_USER, password=password
        )
        try:
            yield platform, exporter, password
        finally:
            exporter.stop()
    assert not root.exists()


def _families(text: str) -> set[str]:
    return set(re.findall(r"^# TYPE (\S+) ", text, flags=re.MULTILINE))


def test_mlflow_metrics_are_admin_only_so_a_no_permission_user_cannot_scrape(
    trio: tuple[LocalPlatform, MetricsExporter, str],
) -> None:
    from mlflow.server.auth.client import AuthServiceClient

    platform, _, _ = trio
    admin = (platform.mlflow.admin_username, platform.mlflow.admin_password)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_USERNAME", admin[0])
        mp.setenv("MLFLOW_TRACKING_PASSWORD", admin[1])
        AuthServiceClient(platform.url).create_user("no-permissions", "no-permissions-0123456789")
    assert _get(platform.url + "/metrics")[0] == 401
    assert _get(platform.url + "/metrics", ("no-permissions", "no-permissions-0123456789"))[0] == 403
    assert _get(platform.url + "/metrics", admin)[0] == 200


def test_exporter_runs_the_pods_command(trio: tuple[LocalPlatform, MetricsExporter, str]) -> None:
    platform, exporter, _ = trio
    spec = exporter_spec(image=platform.mlflow.spec.image)
    expected = [*spec.command, *spec.args]
    differs = {expected[i]: exporter.argv[i] for i in range(len(expected)) if expected[i] != exporter.argv[i]}
    assert len(exporter.argv) == len(expected)
    assert set(differs) == {"0.0.0.0", "9102", "/mlflow-tmp/mlflow-metrics", "/etc/mlflow/metrics-auth"}
    assert differs["0.0.0.0"] == LOOPBACK
    assert differs["/mlflow-tmp/mlflow-metrics"] == str(platform.mlflow.materialized.prometheus_dir)


def test_exporter_serves_mlflows_metrics_to_the_scrape_credential_only(
    trio: tuple[LocalPlatform, MetricsExporter, str],
) -> None:
    platform, exporter, password = trio
    admin = (platform.mlflow.admin_username, platform.mlflow.admin_password)
    for _ in range(3):  # traffic, so the request counters exist
        assert _get(platform.url + "/api/2.0/mlflow/experiments/search?max_results=5", admin)[0] == 200
    url = exporter.url + "/metrics"
    assert _get(url)[0] == 401
    assert _get(url, (SCRAPE_USER, password + "x"))[0] == 401
    assert _get(url, ("admin", password))[0] == 401
    # The scrape credential is no MLflow user: it opens nothing on the server.
    assert _get(platform.url + "/api/2.0/mlflow/experiments/search", (SCRAPE_USER, password))[0] == 401
    status, body = _get(url, (SCRAPE_USER, password))
    assert status == 200
    assert "mlflow_http_request_total" in body
    _, mlflow_body = _get(platform.url + "/metrics", admin)
    # The same metric families MLflow's own endpoint serves, read from the same multiprocess files.
    assert {f for f in _families(mlflow_body) if f.startswith("mlflow_")} <= _families(body)
    assert _get(exporter.url + "/healthz") == (200, "OK")
    assert _get(exporter.url + "/other", (SCRAPE_USER, password))[0] == 404


def test_rotated_credential_applies_at_the_next_scrape(
    trio: tuple[LocalPlatform, MetricsExporter, str],
) -> None:
    _, exporter, password = trio
    url = exporter.url + "/metrics"
    assert _get(url, (SCRAPE_USER, password))[0] == 200
    new = random_password(32)
    exporter.set_credential(SCRAPE_USER, new)
    assert _get(url, (SCRAPE_USER, password))[0] == 401
    assert _get(url, (SCRAPE_USER, new))[0] == 200
    exporter.set_credential(SCRAPE_USER, password)  # leave the fixture as it was
