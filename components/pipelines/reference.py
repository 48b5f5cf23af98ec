"""The reference training pipeline, defined once with Hera and rendered to the WorkflowTemplate the platform
installs (and a CronWorkflow for scheduled retraining).

``prepare-data -> train -> evaluate -> register``: each step is a container of the step image
(docker/pipeline/) running ``python -m reference_pipeline <step> ...`` as :mod:`.steps` defines it. A model
team copies this module and docker/pipeline/, changes the steps, runs the rendered template locally first
(``make pipeline-local``, mlops/local/pipeline.py walks the rendered DAG) and submits it
(docs/pipelines.md).

Design decisions:

* **Every pod compliant on its own**, whatever the controller's workflow defaults: non-root with a numeric
  UID/GID and fsGroup, RuntimeDefault seccomp, a read-only root filesystem with an emptyDir on ``/tmp`` (scratch
  and the output parameter files), no privilege escalation, every capability dropped, requests and limits.
* **No Kubernetes token in the step containers.** ``automountServiceAccountToken: false`` on the pods, and
  ``executor.serviceAccountName``: Argo mounts that account's token into its own init and wait containers only,
  which the emissary executor needs to write WorkflowTaskResults. S3 access is IRSA's web identity token (the
  EKS webhook projects it for the pod's service account, independently of the automount), through boto3's
  default credential chain: no access key anywhere in the template.
* **The pipeline's own MLflow identity**: ``MLFLOW_TRACKING_USERNAME``/``PASSWORD`` come from a Secret
  (``secretKeyRef``), a user that is not the admin and that owns (MANAGE) only what it created: its experiment
  and the candidates model. Only the steps that talk to MLflow get it.
* **GPU training** (``gpu=True``): the train step asks for ``nvidia.com/gpu: 1`` (requests and limits),
  tolerates the GPU pool's taint and selects its labels (components/cluster/karpenter.py), so Karpenter
  starts a GPU node for it and nothing else lands there.
* **Bounded**: ``activeDeadlineSeconds``, a TTL after success and failure, pod GC on workflow success (the pods
  of a failed run stay for ``kubectl logs`` until the TTL removes the workflow).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hera.workflows import DAG, Container, CronWorkflow, EmptyDirVolume, Env, Parameter, SecretEnv
from hera.workflows import WorkflowTemplate as HeraWorkflowTemplate
from hera.workflows import models as m

from mlops_platform.components.cluster.karpenter import GPU_POOL_LABELS, GPU_POOL_TAINT
from mlops_platform.components.governance import DATA_CLASSIFICATIONS
from mlops_platform.components.pipelines.steps import SCRATCH_MOUNT, STEP_COMMAND, STEPS, Step, argo
from mlops_platform.components.validation import AWS_REGION

API_VERSION = "argoproj.io/v1alpha1"
#: Numeric user and group the step image runs as (docker/pipeline/Dockerfile's PIPELINE_UID).
IMAGE_UID = 10001
#: ECR repository and tag of the step image (built from docker/pipeline/ by the user CI workflow).
IMAGE_REPOSITORY = "training"
IMAGE_TAG = "0.1.0"
IMAGE_BUILD_CONTEXT = "docker/pipeline"
#: The environment the step image sets (docker/pipeline/Dockerfile's ENV; a test keeps the two equal): the
#: local run stands in for each of these (the virtualenv, the step sources, the scratch emptyDir).
IMAGE_ENV = {
    "PATH": "/opt/pipeline/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "PYTHONPATH": "/opt/pipeline/src",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "PYTHONDONTWRITEBYTECODE": "1",
}
#: The image's working directory (docker/pipeline/Dockerfile's WORKDIR: the scratch emptyDir).
IMAGE_WORKDIR = "/tmp"
#: Where the image holds the step package (on PYTHONPATH); docker/pipeline/reference_pipeline in the repository.
IMAGE_SOURCE_DIR = "/opt/pipeline/src"
#: Keys of the pipeline's MLflow credentials Secret.
MLFLOW_USERNAME_KEY = "username"
MLFLOW_PASSWORD_KEY = "password"
#: The datasets the prepare step can load (they ship inside scikit-learn: nothing downloads).
DATASETS = ("breast_cancer", "wine")
#: The template of the DAG itself.
ENTRYPOINT = "training"
#: Each step's template name (the DAG task has the same name).
TEMPLATE_NAMES = {"prepare": "prepare-data", "train": "train", "evaluate": "evaluate", "register": "register"}
CONCURRENCY_POLICIES = ("Forbid", "Replace", "Allow")
POD_GC_STRATEGIES = ("OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess")

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_IMAGE = re.compile(
    r"^[a-z0-9][a-z0-9._/:-]*[a-z0-9](@sha256:[0-9a-f]{64}|:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$"
)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/?$")
_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")


@dataclass(frozen=True)
class StepResources:
    """Requests and limits of one step container (Kubernetes quantities)."""

    cpu_request: str = "250m"
    memory_request: str = "512Mi"
    cpu_limit: str = "1"
    memory_limit: str = "1Gi"


@dataclass(frozen=True)
class Thresholds:
    """The evaluate step's defaults: below either, the workflow fails and nothing is registered."""

    min_accuracy: float = 0.9
    min_f1: float = 0.9


@dataclass(frozen=True)
class ReferencePipelineSpec:
    """What the reference pipeline needs from the platform; plain values.

    Attributes:
        namespace: The pipelines namespace.
        image: The step image, ``repo@sha256:<digest>`` (the lineage records the digest) or ``repo:tag``.
        service_account: The workflow pods' service account (IRSA: S3 under the pipelines prefix).
        mlflow_tracking_uri: MLflow's in-cluster URL.
        mlflow_credentials_secret: Secret with keys ``username``/``password`` of the pipeline's MLflow user.
        artifact_bucket, artifact_prefix: Step data goes to ``s3://<bucket>/<prefix>/<workflow name>/data/``
            (the prefix the workflow service account's IRSA policy allows).
        region: The bucket's region.
        name: The WorkflowTemplate's name.
        executor_service_account: The account whose token only Argo's executor containers get (defaults to
            ``service_account``); it needs create/patch on workflowtaskresults.
        experiment: The MLflow experiment the runs go to.
        candidates_model: The registered model the pipeline registers versions of and moves ``candidate`` on.
        data_classification: The default data classification (a workflow parameter).
        dataset: The default dataset (a workflow parameter; one of :data:`DATASETS`).
        thresholds: The default evaluation thresholds (workflow parameters).
        gpu: Train on the Karpenter GPU pool (``nvidia.com/gpu: 1``, its toleration and node selector).
        active_deadline_seconds: The whole workflow's deadline.
        ttl_seconds_after_success, ttl_seconds_after_failure: When the finished workflow (and its pods) go.
        pod_gc: Argo's pod GC strategy.
        resources: Requests and limits of every step; ``train_resources`` of the train step.
        labels: Extra labels of the template and of every pod.
    """

    namespace: str
    image: str
    service_account: str
    mlflow_tracking_uri: str
    mlflow_credentials_secret: str
    artifact_bucket: str
    region: str
    name: str = "reference-training"
    artifact_prefix: str = "pipelines"
    executor_service_account: str | None = None
    experiment: str = "reference-training"
    candidates_model: str = "reference-training-candidates"
    data_classification: str = "internal"
    dataset: str = "breast_cancer"
    thresholds: Thresholds = field(default_factory=Thresholds)
    gpu: bool = False
    active_deadline_seconds: int = 3600
    ttl_seconds_after_success: int = 86400
    ttl_seconds_after_failure: int = 7 * 86400
    pod_gc: str = "OnWorkflowSuccess"
    resources: StepResources = field(default_factory=StepResources)
    train_resources: StepResources = field(
        default_factory=lambda: StepResources(
            cpu_request="1", memory_request="1Gi", cpu_limit="2", memory_limit="2Gi"
        )
    )
    labels: Mapping[str, str] = field(default_factory=dict)


class PipelineSpecError(ValueError):
    """A field of :class:`ReferencePipelineSpec` (or a CronWorkflow argument) is not usable."""


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise PipelineSpecError(message)


def validate(spec: ReferencePipelineSpec) -> None:
    """Refuse a spec the template could not run with, naming the field."""
    for label, value in (
        ("name", spec.name),
        ("namespace", spec.namespace),
        ("service_account", spec.service_account),
        ("mlflow_credentials_secret", spec.mlflow_credentials_secret),
        ("executor_service_account", spec.executor_service_account or spec.service_account),
    ):
        _check(_NAME.match(value) is not None, f"{label} {value!r} is not a Kubernetes name")
    _check(
        _IMAGE.match(spec.image) is not None, f"image {spec.image!r} must be repo@sha256:<digest> or repo:tag"
    )
    _check(not spec.image.endswith(":latest"), "image must be pinned (not :latest)")
    _check(
        re.match(r"^https?://[^\s/@]+(/\S*)?$", spec.mlflow_tracking_uri) is not None,
        f"mlflow_tracking_uri {spec.mlflow_tracking_uri!r} is not an http(s) URL without credentials",
    )
    _check(
        _BUCKET.match(spec.artifact_bucket) is not None,
        f"artifact_bucket {spec.artifact_bucket!r} is not a bucket name",
    )
    _check(
        _PREFIX.match(spec.artifact_prefix) is not None,
        f"artifact_prefix {spec.artifact_prefix!r} must be a relative key prefix",
    )
    _check(AWS_REGION.match(spec.region) is not None, f"region {spec.region!r} is not an AWS region")
    for label, value in (("experiment", spec.experiment), ("candidates_model", spec.candidates_model)):
        _check(_MODEL.match(value) is not None, f"{label} {value!r} has characters not allowed")
    _check(
        spec.data_classification in DATA_CLASSIFICATIONS,
        f"data_classification must be one of {DATA_CLASSIFICATIONS}",
    )
    _check(spec.dataset in DATASETS, f"dataset must be one of {DATASETS}")
    for label, value in (("min_accuracy", spec.thresholds.min_accuracy), ("min_f1", spec.thresholds.min_f1)):
        _check(0.0 <= value <= 1.0, f"thresholds.{label} {value} must be between 0 and 1")
    _check(60 <= spec.active_deadline_seconds <= 7 * 86400, "active_deadline_seconds must be 60 s to 7 days")
    for label, value in (
        ("success", spec.ttl_seconds_after_success),
        ("failure", spec.ttl_seconds_after_failure),
    ):
        _check(0 < value <= 90 * 86400, f"ttl_seconds_after_{label} must be positive and at most 90 days")
    _check(spec.pod_gc in POD_GC_STRATEGIES, f"pod_gc must be one of {POD_GC_STRATEGIES}")


# ---- the workflow parameters -------------------------------------------------------------------------


def workflow_parameters(spec: ReferencePipelineSpec) -> list[Parameter]:
    """The template's arguments: what a submission may override (``argo submit -p name=value``)."""
    return [
        Parameter(name="git-commit", value="unknown", description="commit of the pipeline code (lineage)"),
        Parameter(
            name="dataset", value=spec.dataset, enum=list(DATASETS), description="scikit-learn dataset"
        ),
        Parameter(
            name="data-classification",
            value=spec.data_classification,
            enum=list(DATA_CLASSIFICATIONS),
            description="classification of the training data (lineage)",
        ),
        Parameter(name="test-size", value="0.25", description="share of the rows held out for evaluation"),
        Parameter(name="random-seed", value="42"),
        Parameter(name="regularization", value="1.0", description="inverse regularization strength C"),
        Parameter(name="max-iter", value="500", description="iterations of the solver at most"),
        Parameter(name="min-accuracy", value=str(spec.thresholds.min_accuracy), description="fail below"),
        Parameter(name="min-f1", value=str(spec.thresholds.min_f1), description="fail below (macro F1)"),
    ]


def _data_uri(spec: ReferencePipelineSpec) -> str:
    return f"s3://{spec.artifact_bucket}/{spec.artifact_prefix.rstrip('/')}/{argo('workflow.name')}/data"


def _task_arguments(spec: ReferencePipelineSpec, step: Step, known: set[str]) -> dict[str, str]:
    """Where each input of ``step`` comes from: an earlier step's output, else a workflow parameter."""
    arguments: dict[str, str] = {}
    for name in step.inputs:
        source = next((s for s in STEPS[: STEPS.index(step)] if name in s.outputs), None)
        if source is not None:
            arguments[name] = argo(f"tasks.{TEMPLATE_NAMES[source.name]}.outputs.parameters.{name}")
        elif name == "data-uri":
            arguments[name] = _data_uri(spec)
        else:
            _check(name in known, f"step {step.name}: input {name!r} has no source")
            arguments[name] = argo(f"workflow.parameters.{name}")
    return arguments


# ---- the step containers -----------------------------------------------------------------------------


def step_env(spec: ReferencePipelineSpec, step: Step) -> list[Env | SecretEnv]:
    """A step's environment: the region, the image reference, and for MLflow steps its URL and identity."""
    env: list[Env | SecretEnv] = [
        Env(name="AWS_REGION", value=spec.region),
        Env(name="AWS_DEFAULT_REGION", value=spec.region),
        Env(name="PIPELINE_IMAGE", value=spec.image),
        Env(name="PYTHONUNBUFFERED", value="1"),
    ]
    if step.mlflow:
        env += [
            Env(name="MLFLOW_TRACKING_URI", value=spec.mlflow_tracking_uri),
            SecretEnv(
                name="MLFLOW_TRACKING_USERNAME",
                secret_name=spec.mlflow_credentials_secret,
                secret_key=MLFLOW_USERNAME_KEY,
            ),
            SecretEnv(
                name="MLFLOW_TRACKING_PASSWORD",
                secret_name=spec.mlflow_credentials_secret,
                secret_key=MLFLOW_PASSWORD_KEY,
            ),
            Env(name="MLFLOW_EXPERIMENT_NAME", value=spec.experiment),
            Env(name="PIPELINE_CANDIDATES_MODEL", value=spec.candidates_model),
            Env(name="MLFLOW_DISABLE_TELEMETRY", value="true"),
        ]
    return env


def _resources(resources: StepResources, *, gpu: bool) -> m.ResourceRequirements:
    requests = {"cpu": resources.cpu_request, "memory": resources.memory_request}
    limits = {"cpu": resources.cpu_limit, "memory": resources.memory_limit}
    if gpu:
        requests["nvidia.com/gpu"] = limits["nvidia.com/gpu"] = "1"
    return m.ResourceRequirements(
        requests={k: m.Quantity(v) for k, v in requests.items()},
        limits={k: m.Quantity(v) for k, v in limits.items()},
    )


def container_security_context() -> m.SecurityContext:
    return m.SecurityContext(
        run_as_non_root=True,
        run_as_user=IMAGE_UID,
        run_as_group=IMAGE_UID,
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        privileged=False,
        capabilities=m.Capabilities(drop=["ALL"]),
        seccomp_profile=m.SeccompProfile(type="RuntimeDefault"),
    )


def pod_security_context() -> m.PodSecurityContext:
    return m.PodSecurityContext(
        run_as_non_root=True,
        run_as_user=IMAGE_UID,
        run_as_group=IMAGE_UID,
        fs_group=IMAGE_UID,
        seccomp_profile=m.SeccompProfile(type="RuntimeDefault"),
    )


def _gpu_placement(gpu: bool) -> dict[str, Any]:
    if not gpu:
        return {}
    taint = GPU_POOL_TAINT
    return {
        "tolerations": [
            m.Toleration(key=taint["key"], operator="Equal", value=taint["value"], effect=taint["effect"])
        ],
        "node_selector": dict(GPU_POOL_LABELS),
    }


def step_container(spec: ReferencePipelineSpec, step: Step) -> Container:
    """The container template of ``step``: the image, the step's command and arguments, its env."""
    train = step.name == "train"
    return Container(
        name=TEMPLATE_NAMES[step.name],
        image=spec.image,
        command=list(STEP_COMMAND),
        args=step.args(),
        env=step_env(spec, step),
        inputs=[Parameter(name=name) for name in step.inputs],
        outputs=[Parameter(name=o, value_from=m.ValueFrom(path=step.output_path(o))) for o in step.outputs],
        resources=_resources(spec.train_resources if train else spec.resources, gpu=spec.gpu and train),
        security_context=container_security_context(),
        volumes=[EmptyDirVolume(name="scratch", mount_path=SCRATCH_MOUNT, size_limit=m.Quantity("2Gi"))],
        **_gpu_placement(spec.gpu and train),
    )


# ---- the manifests -----------------------------------------------------------------------------------


def _labels(spec: ReferencePipelineSpec) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": spec.name,
        "app.kubernetes.io/part-of": "mlops-platform",
        "app.kubernetes.io/component": "pipeline",
        **dict(spec.labels),
    }


def _build(spec: ReferencePipelineSpec) -> HeraWorkflowTemplate:
    validate(spec)
    parameters = workflow_parameters(spec)
    known = {p.name for p in parameters if p.name}
    with HeraWorkflowTemplate(
        name=spec.name,
        namespace=spec.namespace,
        labels=_labels(spec),
        annotations={"workflows.argoproj.io/description": "prepare-data -> train -> evaluate -> register"},
        entrypoint=ENTRYPOINT,
        arguments=parameters,
        service_account_name=spec.service_account,
        automount_service_account_token=False,
        executor=m.ExecutorConfig(service_account_name=spec.executor_service_account or spec.service_account),
        security_context=pod_security_context(),
        active_deadline_seconds=spec.active_deadline_seconds,
        ttl_strategy=m.TTLStrategy(
            seconds_after_success=spec.ttl_seconds_after_success,
            seconds_after_failure=spec.ttl_seconds_after_failure,
        ),
        pod_gc=m.PodGC(strategy=spec.pod_gc),
        pod_metadata=m.Metadata(labels=_labels(spec)),
    ) as template:
        containers = [step_container(spec, step) for step in STEPS]
        with DAG(name=ENTRYPOINT):
            previous = None
            for step, container in zip(STEPS, containers, strict=True):
                task = container(name=TEMPLATE_NAMES[step.name], arguments=_task_arguments(spec, step, known))
                if previous is not None:
                    previous >> task  # type: ignore[operator]
                previous = task
    return template


def workflow_template(spec: ReferencePipelineSpec) -> dict[str, Any]:
    """The WorkflowTemplate manifest (``argoproj.io/v1alpha1``), rendered from the Hera definition."""
    manifest = _build(spec).to_dict()
    manifest["apiVersion"], manifest["kind"] = API_VERSION, "WorkflowTemplate"
    return manifest


def cron_workflow(
    spec: ReferencePipelineSpec,
    schedules: Sequence[str],
    *,
    name: str | None = None,
    timezone: str | None = None,
    parameters: Mapping[str, str] | None = None,
    concurrency_policy: str = "Forbid",
    suspend: bool = False,
    history: int = 3,
) -> dict[str, Any]:
    """A CronWorkflow that submits the template (``workflowTemplateRef``) on ``schedules`` (Argo 4.0's list).

    ``parameters`` override the template's arguments for the scheduled runs (e.g. ``git-commit``)."""
    validate(spec)
    _check(bool(schedules), "schedules must name at least one cron expression")
    for schedule in schedules:
        _check(
            len(schedule.split()) == 5 or schedule.startswith("@"),
            f"schedule {schedule!r} is not a cron expression",
        )
    _check(
        concurrency_policy in CONCURRENCY_POLICIES,
        f"concurrency_policy must be one of {CONCURRENCY_POLICIES}",
    )
    _check(1 <= history <= 20, "history must be between 1 and 20")
    known = {p.name for p in workflow_parameters(spec)}
    unknown = sorted(set(parameters or {}) - known)
    _check(not unknown, f"parameters {unknown} are not parameters of the template")
    cron = CronWorkflow(
        name=name or f"{spec.name}-scheduled",
        namespace=spec.namespace,
        labels=_labels(spec),
        schedules=list(schedules),
        timezone=timezone,
        concurrency_policy=concurrency_policy,
        cron_suspend=suspend,
        successful_jobs_history_limit=history,
        failed_jobs_history_limit=history,
        workflow_template_ref=m.WorkflowTemplateRef(name=spec.name),
        arguments=[Parameter(name=k, value=v) for k, v in (parameters or {}).items()] or None,
    )
    manifest = cron.to_dict()
    manifest["apiVersion"], manifest["kind"] = API_VERSION, "CronWorkflow"
    return manifest
