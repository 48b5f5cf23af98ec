"""Argo Workflows as plain values: the pinned chart, its values, the controller namespace's NetworkPolicies and
the controller-wide workflow defaults. Nothing here creates a resource (:mod:`.workflows` does).

* **CRDs from the chart, no download.** ``crds.full=false``: the chart renders its own minimal CRDs as templates.
  The default (``full=true``) renders a hook Job that runs ``kubectl apply`` on files fetched from GitHub at
  install time, which a private cluster cannot reach. The minimal CRDs validate nothing, so ``mlops verify``
  validates every Argo object we create against the full v4.0.6 schemas instead.
* **Server: in-cluster, a Kubernetes token to sign in.** ``authModes: [client]``: every request carries the
  caller's own bearer token and runs with that identity's RBAC; never ``server`` mode (the server's own
  service account for everyone). ClusterIP only; reached with ``kubectl port-forward`` (docs/pipelines.md).
* **Workflow archive in the platform's PostgreSQL**, own database and role (a database tenant), verified TLS:
  ``sslMode: verify-full`` with the RDS CA bundle, copied at pod start from the MLflow image (which bakes it)
  into an ``emptyDir`` and named by ``PGSSLROOTCERT`` (read by Go's PostgreSQL drivers) and ``SSL_CERT_DIR``.
* **Artifacts on the artifact store**: the bucket under its own prefix, ``useSDKCreds`` (IRSA of the pod's
  service account, no access key anywhere: ``useStaticCredentials`` off), SSE-KMS by the bucket's default.
* **Every step compliant by default** (:func:`workflow_defaults` and the ``mainContainer``/``executor``
  defaults): non-root, read-only root file system, every capability dropped, RuntimeDefault seccomp, requests
  and limits for the main and the executor's containers, a deadline, a TTL and pod garbage collection. A
  template brings its own writable scratch (an ``emptyDir`` on ``/tmp``), as the reference pipeline's do; the
  policy pack judges each template as written, so the defaults are a net, not the proof.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlops_platform.components.kubernetes import (
    bounded_resources,
    cidr_egress,
    controller_baseline_policies,
    pods,
    ports,
)
from mlops_platform.components.kubernetes import selector as label_selector

__all__ = [
    "ARCHIVE_SECRET",
    "ARGO_APP_VERSION",
    "ARGO_CHART",
    "ARGO_CHART_VERSION",
    "ARGO_REPOSITORY",
    "ARGO_UID",
    "CA_DIR",
    "CONTROLLER_METRICS_PORT",
    "CONTROLLER_POD_LABELS",
    "CONTROLLER_SA",
    "RELEASE_NAME",
    "SERVER_POD_LABELS",
    "SERVER_PORT",
    "SERVER_SA",
    "ArgoValuesSpec",
    "argo_network_policies",
    "argo_values",
    "workflow_defaults",
]

ARGO_CHART = "argo-workflows"
ARGO_CHART_VERSION = "1.0.18"
ARGO_APP_VERSION = "v4.0.6"
ARGO_REPOSITORY = "https://argoproj.github.io/argo-helm"
RELEASE_NAME = "argo-workflows"
#: The numeric user of Argo's images (controller, server, executor).
ARGO_UID = 8737
SERVER_PORT = 2746
CONTROLLER_METRICS_PORT = 9090
CONTROLLER_SA = f"{RELEASE_NAME}-workflow-controller"
SERVER_SA = f"{RELEASE_NAME}-server"
CONTROLLER_POD_LABELS = {"app.kubernetes.io/name": f"{RELEASE_NAME}-workflow-controller"}
SERVER_POD_LABELS = {"app.kubernetes.io/name": f"{RELEASE_NAME}-server"}
#: The Secret (keys ``username``, ``password``) the archive connects with, synced by External Secrets.
ARCHIVE_SECRET = "argo-archive-db"
#: Where the controller and the server find the RDS CA bundle (an emptyDir filled by an init container).
CA_DIR = "/etc/mlops/rds-ca"
_CA_FILE = "global-bundle.pem"
_RESTRICTED = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _pod_security(uid: int) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


@dataclass(frozen=True)
class ArgoValuesSpec:
    """What :func:`argo_values` needs: plain values, resolved by the caller.

    Attributes:
        workflow_namespaces: Namespaces whose workflows the controller runs (the pipelines namespace).
        workflow_service_account: The service account every workflow runs as unless it names another.
        bucket: The artifact store's bucket; ``artifact_prefix`` is the pipelines' prefix in it.
        region: The bucket's region (the S3 endpoint is ``s3.<region>.amazonaws.com``).
        db_host: The PostgreSQL host (the name its certificate carries).
        db_port: The PostgreSQL port.
        db_name: The archive's database.
        ca_image: An image that carries the RDS CA bundle at ``ca_bundle_path`` (the platform's MLflow image).
        ca_bundle_path: Where that image has it.
        ca_image_uid: The user that image runs as.
        controller_role_arn: IRSA role of the controller (no AWS call today: empty keeps the annotation off).
        server_role_arn: IRSA role of the server (reads the pipelines' artifacts for the UI).
        node_selector: Node labels the controller and the server run on (the system group).
        controller_replicas: Controller replicas (leader election above one).
        server_replicas: Server replicas.
        active_deadline_seconds: The longest a workflow may run (controller default; a workflow may set less).
        ttl_seconds: How long a finished workflow stays in the cluster (the archive keeps it after).
        archive_ttl: How long the archive keeps a workflow (Argo duration, e.g. ``30d``).
        step_uid: The user the steps run as unless their template says otherwise.
    """

    workflow_namespaces: Sequence[str]
    workflow_service_account: str
    bucket: str
    region: str
    db_host: str
    db_port: int
    db_name: str
    ca_image: str
    ca_bundle_path: str
    ca_image_uid: int
    artifact_prefix: str = "pipelines"
    controller_role_arn: str = ""
    server_role_arn: str = ""
    node_selector: Mapping[str, str] = field(default_factory=dict)
    controller_replicas: int = 1
    server_replicas: int = 1
    active_deadline_seconds: int = 6 * 3600
    ttl_seconds: int = 24 * 3600
    archive_ttl: str = "30d"
    step_uid: int = 10001


def workflow_defaults(spec: ArgoValuesSpec) -> dict[str, Any]:
    """The controller's ``workflowDefaults``: merged under every workflow's own spec (the workflow wins)."""
    return {
        "spec": {
            "serviceAccountName": spec.workflow_service_account,
            "activeDeadlineSeconds": spec.active_deadline_seconds,
            "ttlStrategy": {
                "secondsAfterCompletion": spec.ttl_seconds,
                "secondsAfterSuccess": spec.ttl_seconds,
                "secondsAfterFailure": spec.ttl_seconds,
            },
            "podGC": {"strategy": "OnPodCompletion", "deleteDelayDuration": "60s"},
            "securityContext": _pod_security(spec.step_uid),
        }
    }


def _archive(spec: ArgoValuesSpec) -> dict[str, Any]:
    return {
        "archive": True,
        "archiveTTL": spec.archive_ttl,
        # Workflow status stays in the cluster: a database outage delays archiving, never a running workflow.
        "nodeStatusOffLoad": False,
        "connectionPool": {"maxIdleConns": 10, "maxOpenConns": 20, "connMaxLifetime": "300s"},
        "postgresql": {
            "host": spec.db_host,
            "port": spec.db_port,
            "database": spec.db_name,
            "tableName": "argo_workflows",
            "userNameSecret": {"name": ARCHIVE_SECRET, "key": "username"},
            "passwordSecret": {"name": ARCHIVE_SECRET, "key": "password"},
            "ssl": True,
            "sslMode": "verify-full",
        },
    }


def _ca_bundle(spec: ArgoValuesSpec) -> dict[str, Any]:
    """Pod pieces that put the RDS CA bundle at :data:`CA_DIR`: the init container, the volume, the mount, the
    environment."""
    init = {
        "name": "rds-ca",
        "image": spec.ca_image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python", "-c", "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])"],
        "args": [spec.ca_bundle_path, f"{CA_DIR}/{_CA_FILE}"],
        "securityContext": {**_RESTRICTED, "runAsUser": spec.ca_image_uid, "runAsGroup": spec.ca_image_uid},
        "resources": bounded_resources("10m", "32Mi", "100m", "64Mi"),
        "volumeMounts": [{"name": "rds-ca", "mountPath": CA_DIR}],
    }
    return {
        "extraInitContainers": [init],
        "volumes": [{"name": "rds-ca", "emptyDir": {"sizeLimit": "16Mi"}}],
        "volumeMounts": [{"name": "rds-ca", "mountPath": CA_DIR, "readOnly": True}],
        "extraEnv": [
            {"name": "PGSSLROOTCERT", "value": f"{CA_DIR}/{_CA_FILE}"},
            # Go reads every file in these directories as roots, beside the image's system bundle.
            {"name": "SSL_CERT_DIR", "value": f"/etc/ssl/certs:{CA_DIR}"},
        ],
    }


def _service_account(role_arn: str) -> dict[str, Any]:
    annotations = {"eks.amazonaws.com/role-arn": role_arn} if role_arn else {}
    return {"create": True, "annotations": annotations}


def _controller(spec: ArgoValuesSpec) -> dict[str, Any]:
    return {
        "replicas": spec.controller_replicas,
        "workflowNamespaces": list(spec.workflow_namespaces),
        "podSecurityContext": _pod_security(ARGO_UID),
        "securityContext": _RESTRICTED,
        "resources": bounded_resources("100m", "256Mi", "1", "1Gi"),
        "nodeSelector": dict(spec.node_selector),
        "serviceAccount": _service_account(spec.controller_role_arn),
        "persistence": _archive(spec),
        "workflowDefaults": workflow_defaults(spec),
        # Only templates stored in the cluster may run (no inline templates smuggled in a Workflow).
        "workflowRestrictions": {"templateReferencing": "Secure"},
        "metricsConfig": {"enabled": True, "port": CONTROLLER_METRICS_PORT},
        "serviceMonitor": {"enabled": False},
        "pdb": {"enabled": spec.controller_replicas > 1, "minAvailable": 1},
        **_ca_bundle(spec),
    }


def _server(spec: ArgoValuesSpec) -> dict[str, Any]:
    return {
        "enabled": True,
        "replicas": spec.server_replicas,
        "serviceType": "ClusterIP",
        # Each request runs with the caller's own Kubernetes token; never "server" (one identity for all).
        "authModes": ["client"],
        "secure": True,
        "livenessProbe": {"enabled": True, "httpGet": {"port": SERVER_PORT, "path": "/"}},
        "podSecurityContext": _pod_security(ARGO_UID),
        "securityContext": _RESTRICTED,
        "resources": bounded_resources("50m", "128Mi", "500m", "512Mi"),
        "nodeSelector": dict(spec.node_selector),
        "serviceAccount": _service_account(spec.server_role_arn),
        "pdb": {"enabled": spec.server_replicas > 1, "minAvailable": 1},
        **_ca_bundle(spec),
    }


def argo_values(spec: ArgoValuesSpec) -> dict[str, Any]:
    """The argo-workflows chart's values (chart :data:`ARGO_CHART_VERSION`, Argo :data:`ARGO_APP_VERSION`)."""
    return {
        # The chart's own minimal CRDs, rendered as templates: no Job fetching CRDs from the internet.
        "crds": {"install": True, "full": False, "keep": True},
        "images": {"pullPolicy": "IfNotPresent"},
        # The pipelines namespace's service account and its Role are ours (mlops_platform.components.pipelines
        # .workflows), plain objects the policy pack sees.
        "workflow": {"serviceAccount": {"create": False}, "rbac": {"create": False}},
        "controller": _controller(spec),
        "server": _server(spec),
        "executor": {
            "resources": bounded_resources("10m", "64Mi", "500m", "256Mi"),
            "securityContext": {**_RESTRICTED, "runAsUser": ARGO_UID, "runAsGroup": ARGO_UID},
        },
        "mainContainer": {
            "resources": bounded_resources("100m", "256Mi", "1", "1Gi"),
            "securityContext": _RESTRICTED,
        },
        "useStaticCredentials": False,
        "artifactRepository": {
            "archiveLogs": True,
            "s3": {
                "bucket": spec.bucket,
                "endpoint": f"s3.{spec.region}.amazonaws.com",
                "region": spec.region,
                "insecure": False,
                "useSDKCreds": True,
                "keyFormat": spec.artifact_prefix.strip("/")
                + "/{{workflow.namespace}}/{{workflow.name}}/{{pod.name}}",
            },
        },
    }


def argo_network_policies(
    *,
    vpc_cidr: str,
    cluster_cidrs: Sequence[str],
    database_cidrs: Sequence[str],
    db_port: pulumi.Input[int],
    monitoring_namespace: str,
) -> list[tuple[str, k8s.networking.v1.NetworkPolicySpecArgs]]:
    """``(name, spec)`` of the controller namespace's NetworkPolicies: default-deny, DNS and the API server for
    every pod (:func:`~mlops_platform.components.kubernetes.controller_baseline_policies`); PostgreSQL in the
    database subnets for the controller and the server (the archive); HTTPS in the VPC for both (S3 and STS
    through the interface endpoints: the server shows artifacts); Prometheus to the controller's metrics port.
    No ingress to the server: ``kubectl port-forward`` reaches it through the kubelet, not the pod network."""
    V1 = k8s.networking.v1
    both = V1.NetworkPolicySpecArgs(
        pod_selector=k8s.meta.v1.LabelSelectorArgs(
            match_expressions=[
                k8s.meta.v1.LabelSelectorRequirementArgs(
                    key="app.kubernetes.io/name",
                    operator="In",
                    values=[*CONTROLLER_POD_LABELS.values(), *SERVER_POD_LABELS.values()],
                )
            ]
        ),
        policy_types=["Egress"],
        egress=[cidr_egress(database_cidrs, db_port), cidr_egress([vpc_cidr], 443)],
    )
    return [
        *controller_baseline_policies(cluster_cidrs),
        ("archive-and-artifacts", both),
        (
            "controller-metrics-from-prometheus",
            V1.NetworkPolicySpecArgs(
                pod_selector=label_selector(CONTROLLER_POD_LABELS),
                policy_types=["Ingress"],
                ingress=[
                    V1.NetworkPolicyIngressRuleArgs(
                        from_=[pods({"app.kubernetes.io/name": "prometheus"}, monitoring_namespace)],
                        ports=ports(CONTROLLER_METRICS_PORT),
                    )
                ],
            ),
        ),
    ]
