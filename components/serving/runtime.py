"""The serving runtime and the storage initializer, as the manifests the cluster gets.

:func:`serving_runtime` renders our ClusterServingRuntime (MLServer with mlserver-mlflow and request sampling,
from the platform's ECR) and :func:`storage_container` our ClusterStorageContainer (the runtime image's fetch
program for ``models:/`` URIs). The local run (``mlops serve --local``) starts MLServer and the fetch program
with the environment these manifests hold, so what runs locally is what the cluster runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlops_platform.components.serving import names

#: The runtime container's requests and limits when an InferenceService sets none.
DEFAULT_RESOURCES = {
    "requests": {"cpu": "500m", "memory": "1Gi"},
    "limits": {"cpu": "1", "memory": "2Gi"},
}
#: The storage initializer's requests and limits.
FETCH_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"cpu": "1", "memory": "1Gi"},
}


@dataclass(frozen=True)
class RuntimeSpec:
    """What the runtime and the storage initializer need to know of the platform.

    Attributes:
        image: The runtime image reference (``<registry>/mlserver:<tag>`` or a digest reference).
        tracking_uri: MLflow's in-cluster URL.
        artifacts_destination: MLflow's artifacts destination (``s3://<bucket>/<prefix>``): where
            ``mlflow-artifacts:/`` locations live in the artifact store.
        aws_region: The artifact store's region.
        node_selector: Where predictor pods run when the InferenceService says nothing.
        annotations: Extra annotations on the ClusterServingRuntime.
    """

    image: str
    tracking_uri: str
    artifacts_destination: str
    aws_region: str
    node_selector: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


def restricted_security_context() -> dict[str, Any]:
    """The restricted Pod Security container securityContext (the image's numeric non-root user)."""
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": names.IMAGE_UID,
        "runAsGroup": names.IMAGE_UID,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def runtime_env(model_name: str = "{{.Name}}") -> dict[str, str]:
    """MLServer's environment: one model from the mount, our implementation, the ports, metrics under /tmp.

    ``model_name`` is KServe's template placeholder in the ClusterServingRuntime; the local run passes the name.
    """
    return {
        "MLSERVER_MODEL_NAME": model_name,
        "MLSERVER_MODEL_URI": names.MODEL_MOUNT,
        "MLSERVER_MODEL_IMPLEMENTATION": names.RUNTIME_IMPLEMENTATION,
        "MLSERVER_LOAD_MODELS_AT_STARTUP": "true",
        "MLSERVER_HTTP_PORT": str(names.HTTP_PORT),
        "MLSERVER_GRPC_PORT": str(names.GRPC_PORT),
        "MLSERVER_METRICS_PORT": str(names.METRICS_PORT),
        "MLSERVER_METRICS_ENDPOINT": names.METRICS_PATH,
        "MLSERVER_METRICS_DIR": "/tmp/mlserver-metrics",
        "MLSERVER_PARALLEL_WORKERS": "1",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
    }


def fetch_env(spec: RuntimeSpec) -> dict[str, str]:
    """The storage initializer's plain environment (the MLflow credential comes from :data:`names.READER_SECRET`)."""
    return {
        names.TRACKING_URI_ENV: spec.tracking_uri,
        names.ARTIFACTS_DESTINATION_ENV: spec.artifacts_destination,
        "AWS_REGION": spec.aws_region,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
    }


def _env(values: Mapping[str, str]) -> list[dict[str, Any]]:
    return [{"name": key, "value": value} for key, value in values.items()]


def _reader_env() -> list[dict[str, Any]]:
    return [
        {
            "name": env,
            "valueFrom": {"secretKeyRef": {"name": names.READER_SECRET, "key": key}},
        }
        for env, key in (("MLFLOW_TRACKING_USERNAME", "username"), ("MLFLOW_TRACKING_PASSWORD", "password"))
    ]


def _tmp_mount() -> dict[str, str]:
    return {"name": names.TMP_VOLUME, "mountPath": "/tmp"}


def serving_runtime(spec: RuntimeSpec) -> dict[str, Any]:
    """The ClusterServingRuntime for ``modelFormat: mlflow`` over the V2 protocol."""
    container: dict[str, Any] = {
        "name": "kserve-container",
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["mlserver", "start", names.MODEL_MOUNT],
        "env": _env(runtime_env()),
        "ports": [
            {"name": "http", "containerPort": names.HTTP_PORT, "protocol": "TCP"},
            {"name": "grpc", "containerPort": names.GRPC_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": names.METRICS_PORT, "protocol": "TCP"},
        ],
        "readinessProbe": {
            "httpGet": {"path": "/v2/health/ready", "port": names.HTTP_PORT},
            "periodSeconds": 5,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "httpGet": {"path": "/v2/health/live", "port": names.HTTP_PORT},
            "initialDelaySeconds": 30,
            "periodSeconds": 10,
            "failureThreshold": 6,
        },
        "resources": DEFAULT_RESOURCES,
        "securityContext": restricted_security_context(),
        "volumeMounts": [_tmp_mount()],
    }
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "ClusterServingRuntime",
        "metadata": {
            "name": names.RUNTIME_NAME,
            "annotations": {"serving.kserve.io/server-type": "mlserver", **spec.annotations},
            "labels": {"app.kubernetes.io/part-of": "mlops-serving"},
        },
        "spec": {
            "supportedModelFormats": [
                {"name": names.MODEL_FORMAT, "version": "3", "autoSelect": True, "priority": 1},
            ],
            "protocolVersions": [names.PROTOCOL],
            "containers": [container],
            **({"nodeSelector": dict(spec.node_selector)} if spec.node_selector else {}),
        },
    }


def storage_container(spec: RuntimeSpec) -> dict[str, Any]:
    """The ClusterStorageContainer that fetches ``models:/<name>@<alias>`` (or a pinned version) into the mount.

    KServe runs it as the predictor pod's init container with the arguments ``<storage uri> <mount>``.
    """
    version_env = {
        "name": names.MODEL_VERSION_ENV,
        "valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{names.VERSION_ANNOTATION}']"}},
    }
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "ClusterStorageContainer",
        "metadata": {
            "name": names.STORAGE_CONTAINER_NAME,
            "labels": {"app.kubernetes.io/part-of": "mlops-serving"},
        },
        "spec": {
            "container": {
                "name": "storage-initializer",
                "image": spec.image,
                "imagePullPolicy": "IfNotPresent",
                "command": ["python", "-m", names.FETCH_MODULE],
                "env": [*_env(fetch_env(spec)), *_reader_env(), version_env],
                "resources": FETCH_RESOURCES,
                "securityContext": restricted_security_context(),
                "volumeMounts": [_tmp_mount()],
            },
            "supportedUriFormats": [{"prefix": names.STORAGE_URI_PREFIX}],
            "workloadType": "initContainer",
        },
    }
