"""How Prometheus scrapes MLflow, defined once: the exporter container and its own scrape credential.

* **The exporter** (:mod:`mlops_platform.components.mlflow.metrics_exporter`, run by :func:`exporter_spec`) is a second
  container of the MLflow pod, same image, on port :data:`METRICS_PORT`. MLflow's ``/metrics`` stays behind
  MLflow's basic-auth app, where only an admin may read it (the app denies non-admins every route without an
  authorization rule, ``/metrics`` included; tests/e2e/test_mlflow_metrics.py shows the 403).
* **The credential** is not an MLflow user: a password generated in the cluster by the External Secrets
  Operator's Password generator into the Secret :data:`METRICS_SECRET` (:func:`credential_secret_spec`),
  with ``username``/``password`` for the ServiceMonitor's ``basicAuth`` and ``password.sha256`` for the
  exporter. The exporter container mounts only the user name and the hash; the MLflow server container
  mounts nothing of it. Prometheus never reads the Secret itself: the Prometheus operator (cluster-wide
  Secret read, from its chart's ClusterRole) copies it into the generated scrape configuration; no Role in
  MLflow's namespace grants Secret access to anyone else.
* **Rotation**: ESO re-runs the generator every :data:`ROTATION_INTERVAL` (``refreshPolicy: Periodic``).
  The Secret changes; the kubelet refreshes the exporter's mounted files (about a minute) while the operator
  re-renders Prometheus' configuration; the exporter reads the files at every request, so scrapes fail for
  at most that minute - shorter than ``MlflowDown``'s five minutes. A forced rotation is the same
  ``kubectl annotate externalsecret mlflow-metrics force-sync=$(date +%s) --overwrite``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_platform.components.mlflow.metrics_exporter import PASSWORD_SHA256_FILE, USERNAME_FILE
from mlops_platform.components.mlflow.server import PROMETHEUS_DIR

METRICS_PORT = 9102
METRICS_PORT_NAME = "metrics"
METRICS_PATH = "/metrics"
HEALTH_PATH = "/healthz"
#: The Secret with the scrape credential (in MLflow's namespace, beside the ServiceMonitor).
METRICS_SECRET = "mlflow-metrics"
#: The ESO Password generator of the scrape password.
METRICS_PASSWORD_GENERATOR = "mlflow-metrics-password"
METRICS_USERNAME = "prometheus"
USERNAME_KEY = USERNAME_FILE
PASSWORD_KEY = "password"
PASSWORD_SHA256_KEY = PASSWORD_SHA256_FILE
#: How often ESO generates a new scrape password.
ROTATION_INTERVAL = "720h"
#: Where the exporter container mounts the user name and password hash.
CREDENTIALS_MOUNT = "/etc/mlflow/metrics-auth"
#: Where the exporter container mounts the pod's /tmp emptyDir (read-only) to read MLflow's metric files.
SHARED_TMP_MOUNT = "/mlflow-tmp"
EXPORTER_SOURCE_FILE = Path(__file__).with_name("metrics_exporter.py")


@dataclass(frozen=True)
class MetricsExporterSpec:
    """The exporter container: image, command, arguments, environment, port and paths."""

    image: str
    command: list[str]
    args: list[str]
    env: dict[str, str]
    port: int = METRICS_PORT
    metrics_path: str = METRICS_PATH
    health_path: str = HEALTH_PATH


def exporter_spec(*, image: str) -> MetricsExporterSpec:
    """The exporter as the pod runs it: the image's Python running :mod:`mlops_platform.components.mlflow.metrics_exporter`'s
    source (the image has prometheus_client, not our packages), reading MLflow's metric files from the
    shared emptyDir and the credential from :data:`CREDENTIALS_MOUNT`."""
    if not image.strip() or image.endswith(":latest"):
        raise ValueError("image must be a pinned reference")
    multiproc = f"{SHARED_TMP_MOUNT}/{Path(PROMETHEUS_DIR).relative_to('/tmp')}"
    return MetricsExporterSpec(
        image=image,
        command=["python", "-c", EXPORTER_SOURCE_FILE.read_text()],
        args=[
            "--bind",
            "0.0.0.0",
            "--port",
            str(METRICS_PORT),
            "--multiproc-dir",
            multiproc,
            "--credentials-dir",
            CREDENTIALS_MOUNT,
            "--metrics-path",
            METRICS_PATH,
            "--health-path",
            HEALTH_PATH,
        ],
        env={"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"},
    )


def password_generator_spec() -> dict[str, Any]:
    """ESO Password generator: 32 letters and digits (no symbols: the value goes into HTTP basic auth)."""
    return {"length": 32, "digits": 8, "symbols": 0, "noUpper": False, "allowRepeat": True}


def credential_secret_spec(generators_api: str) -> dict[str, Any]:
    """The ExternalSecret that generates the scrape credential and rotates it every :data:`ROTATION_INTERVAL`."""
    return {
        "refreshPolicy": "Periodic",
        "refreshInterval": ROTATION_INTERVAL,
        "target": {
            "name": METRICS_SECRET,
            "creationPolicy": "Owner",
            "deletionPolicy": "Retain",
            "template": {
                "engineVersion": "v2",
                "data": {
                    USERNAME_KEY: METRICS_USERNAME,
                    PASSWORD_KEY: "{{ .password }}",
                    # What the exporter compares with; sprig's sha256sum gives lower-case hex.
                    PASSWORD_SHA256_KEY: "{{ .password | sha256sum }}",
                },
            },
        },
        "dataFrom": [
            {
                "sourceRef": {
                    "generatorRef": {
                        "apiVersion": generators_api,
                        "kind": "Password",
                        "name": METRICS_PASSWORD_GENERATOR,
                    }
                }
            }
        ],
    }
