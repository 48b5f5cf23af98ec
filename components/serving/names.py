"""Model serving's names and contracts, defined once: what the cluster side (KServe, the serving runtime, the
storage initializer, ModelDeployment) and the runtime image (docker/serving/) agree on.

The runtime image's programs cannot import this package; tests keep the two equal where both name a value.

* **Runtime**: our MLServer image (docker/serving/), installed as the ClusterServingRuntime
  :data:`RUNTIME_NAME` for ``modelFormat: mlflow`` and the V2 protocol. MLServer listens on
  :data:`HTTP_PORT` (REST, V2), :data:`GRPC_PORT` and exports Prometheus metrics on :data:`METRICS_PORT`
  at :data:`METRICS_PATH`.
* **Storage initializer**: a ClusterStorageContainer (:data:`STORAGE_CONTAINER_NAME`) for storage URIs
  starting with :data:`STORAGE_URI_PREFIX` (``models:/<registered model>@<alias>``). It runs the runtime
  image's :data:`FETCH_MODULE`: it resolves the alias (or the version the rollout trigger pinned in the pod's
  :data:`VERSION_ANNOTATION`) through MLflow's API as the deployment's read-only MLflow user (the Secret
  :data:`READER_SECRET`, keys ``username``/``password``, in the model's namespace), maps the version's
  ``mlflow-artifacts:/`` location onto the artifact store (:data:`ARTIFACTS_DESTINATION_ENV`), downloads it
  from S3 with the pod's IRSA role, checks the ``lineage.model_digest`` tag, and writes the model to the
  KServe model mount.
* **Model prefix**: one MLflow experiment per model, created with the artifact location
  ``mlflow-artifacts:/`` + :func:`experiment_artifact_path`; its logged models then live under
  ``<artifacts destination>/experiments/<experiment>/models/<model_id>/artifacts``, a prefix the
  deployment's role can be limited to.
* **Request sampling**: the runtime writes a sample of inference inputs as CSV files (header: the input
  names) under :data:`SAMPLE_URI_ENV` (``s3://<bucket>/`` + :func:`sample_prefix`) + ``<YYYY-MM-DD>/<unix
  ms>-<8 hex>.csv``; the drift job reads them.
* **Drift**: a scheduled job compares the samples with the training data the version's lineage names and
  pushes :data:`DRIFT_METRIC` (0..1) to the Pushgateway, grouped by ``namespace`` and ``model``.
"""

from __future__ import annotations

#: The serving runtime image: ECR repository and tag (docker/serving/Dockerfile's version label).
IMAGE_REPOSITORY = "mlserver"
MLSERVER_VERSION = "1.7.1"
IMAGE_TAG = f"{MLSERVER_VERSION}-platform.1"
#: The UID/GID the runtime image runs as.
IMAGE_UID = 10002

#: The ClusterServingRuntime and the model format it serves.
RUNTIME_NAME = "mlops-mlserver"
MODEL_FORMAT = "mlflow"
PROTOCOL = "v2"
HTTP_PORT = 8080
GRPC_PORT = 8081
METRICS_PORT = 8082
METRICS_PATH = "/metrics"
#: The metric names MLServer (with our runtime) exports on METRICS_PORT that ModelMonitoring's alert rules and
#: dashboard may use (the local end-to-end test scrapes a running MLServer and asserts every one is present).
RUNTIME_METRICS = (
    "rest_server_requests_total",
    "rest_server_request_duration_seconds_bucket",
    "rest_server_request_duration_seconds_count",
    "rest_server_request_duration_seconds_sum",
)
#: The python module MLServer loads as the model implementation (request sampling around mlserver-mlflow).
RUNTIME_IMPLEMENTATION = "mlops_serving.runtime.SampledMLflowRuntime"

#: The storage initializer.
STORAGE_CONTAINER_NAME = "mlops-mlflow-models"
STORAGE_URI_PREFIX = "models:/"
FETCH_MODULE = "mlops_serving.fetch"
#: Where KServe mounts the fetched model in the predictor container.
MODEL_MOUNT = "/mnt/models"
#: The predictor pod's writable scratch volume (an emptyDir ModelDeployment defines): the runtime and the
#: storage initializer mount it on /tmp (both run with a read-only root filesystem).
TMP_VOLUME = "mlops-tmp"
#: The Secret (in the model's namespace) with the deployment's read-only MLflow user.
READER_SECRET = "mlops-model-reader"
#: Environment of the storage initializer, the rollout trigger and the drift job.
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
ARTIFACTS_DESTINATION_ENV = "MLOPS_ARTIFACTS_DESTINATION"
MODEL_VERSION_ENV = "MLOPS_MODEL_VERSION"

#: Pod label and annotation naming the served registered-model version (the rollout trigger sets them; the
#: ServiceMonitor copies the label onto every series as ``model_version``).
VERSION_LABEL = "serving.mlops.dev/model-version"
VERSION_ANNOTATION = "serving.mlops.dev/model-version"
ROLLOUT_MODULE = "mlops_serving.rollout"

#: Request sampling (the runtime's environment).
SAMPLE_URI_ENV = "MLOPS_SAMPLE_URI"
SAMPLE_RATE_ENV = "MLOPS_SAMPLE_RATE"
SAMPLE_FLUSH_ROWS_ENV = "MLOPS_SAMPLE_FLUSH_ROWS"
SAMPLE_FLUSH_SECONDS_ENV = "MLOPS_SAMPLE_FLUSH_SECONDS"

#: Drift.
DRIFT_MODULE = "mlops_serving.drift"
DRIFT_METRIC = "model_drift_score"
DRIFT_PUSH_JOB = "model-drift"

#: Namespaces of the serving control plane.
CERT_MANAGER_NAMESPACE = "cert-manager"
KSERVE_NAMESPACE = "kserve"


def experiment_artifact_path(experiment: str) -> str:
    """The artifact location of a model's experiment, under the artifacts destination: ``experiments/<name>``."""
    return f"experiments/{experiment}"


def model_prefix(artifact_prefix: str, experiment: str) -> str:
    """The S3 key prefix of the experiment's logged models: ``<prefix>/experiments/<name>/models/``."""
    return f"{artifact_prefix.strip('/')}/{experiment_artifact_path(experiment)}/models/"


def sample_prefix(namespace: str, model: str) -> str:
    """The S3 key prefix of a deployment's request samples: ``serving/<namespace>/<model>/inputs/``."""
    return f"serving/{namespace}/{model}/inputs/"
