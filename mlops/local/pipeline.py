"""``mlops pipeline run --local``: the reference pipeline's rendered WorkflowTemplate, run as processes.

Nothing here knows the steps. :func:`run_workflow` takes the manifest
:func:`mlops_platform.components.pipelines.reference.workflow_template` renders and does what Argo's
controller and the emissary executor do with it, on this machine:

* the entrypoint DAG's tasks in dependency order (``depends``/``dependencies``), each task's arguments
  resolved in the DAG's scope (``{{workflow.parameters.X}}``, ``{{tasks.T.outputs.parameters.Y}}``,
  ``{{workflow.name}}``, ``{{workflow.uid}}``), then its template's container ``command``, ``args`` and ``env``
  in the template's scope (``{{inputs.parameters.X}}`` and the workflow's); an expression it cannot resolve
  is an error, as Argo makes it one;
* each container runs as a process with exactly that command line and environment, replacing only what the
  pod gets from its cluster and its image: the template's volume mounts (the ``/tmp`` emptyDir) become a
  directory per task, and every argument, variable and output path under a mount path points into it; the
  image's own environment (:data:`~mlops_platform.components.pipelines.reference.IMAGE_ENV`) is stood in for by
  this virtualenv and docker/pipeline/; ``secretKeyRef`` variables are read from local stand-ins of the
  Secrets; and, for moto, :data:`MOTO_ONLY_ENV` is added (never part of the template: with IRSA the default
  credential chain finds the web identity);
* output parameters are read from the files the step wrote (``valueFrom.path``), one trailing newline
  removed as Argo does; a missing file fails the task;
* a task that exits non-zero fails the workflow: the tasks after it do not run.

The pipeline talks to MLflow as its own user (:data:`PIPELINE_USER`), provisioned with
:func:`mlops_platform.components.mlflow.users.ensure_user` as the admin, never as the admin itself.
"""

from __future__ import annotations

import contextlib
import re
import secrets as secrets_module
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from mlops_platform.components.mlflow.users import ensure_user
from mlops_platform.components.pipelines.reference import (
    IMAGE_ENV,
    IMAGE_REPOSITORY,
    IMAGE_SOURCE_DIR,
    IMAGE_TAG,
    IMAGE_WORKDIR,
    MLFLOW_PASSWORD_KEY,
    MLFLOW_USERNAME_KEY,
    ReferencePipelineSpec,
    workflow_template,
)
from mlops_platform.mlops import REPO_ROOT
from mlops_platform.mlops.local.materialize import LocalSecrets
from mlops_platform.mlops.local.processes import LocalPlatformError, random_password, venv_path
from mlops_platform.mlops.local.s3 import FAKE_AWS_ACCESS_KEY_ID, FAKE_AWS_SECRET_ACCESS_KEY

#: The pipeline's MLflow user and the Secret its credentials live in.
PIPELINE_USER = "pipelines"
CREDENTIALS_SECRET = "pipelines-mlflow"
#: The variables the local run adds for moto; the template must not set them.
MOTO_ONLY_ENV = ("AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
#: The step sources the image copies to IMAGE_SOURCE_DIR.
STEP_SOURCES = REPO_ROOT / "docker" / "pipeline"
#: What the local run uses as the step image reference (no image runs here; the lineage records it).
LOCAL_IMAGE = f"{IMAGE_REPOSITORY}:{IMAGE_TAG}"
_EXPRESSION = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


class PipelineRunError(LocalPlatformError):
    """The manifest cannot be run as written (an unknown expression, a cycle, a missing Secret key...)."""


@dataclass
class TaskRun:
    """One DAG task run as a process: what ran, its result and its output parameters."""

    name: str
    template: str
    argv: list[str]
    env: dict[str, str]
    returncode: int
    log_path: Path
    seconds: float
    outputs: dict[str, str] = field(default_factory=dict)
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.error

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            text = ""
        return "\n".join([*text.splitlines()[-lines:], *([self.error] if self.error else [])])


@dataclass
class WorkflowRun:
    """A whole run: the workflow's name, uid and parameters, and its tasks in the order they ran."""

    name: str
    uid: str
    parameters: dict[str, str]
    tasks: list[TaskRun] = field(default_factory=list)

    @property
    def failed(self) -> TaskRun | None:
        return next((t for t in self.tasks if not t.ok), None)

    @property
    def ok(self) -> bool:
        return self.failed is None

    def outputs(self, task: str) -> dict[str, str]:
        return next(t.outputs for t in self.tasks if t.name == task)


# ---- expressions -------------------------------------------------------------------------------------


def resolve(text: str, scope: Mapping[str, str], where: str) -> str:
    """``text`` with every ``{{expression}}`` replaced from ``scope``; an unknown one is an error."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in scope:
            raise PipelineRunError(f"{where}: cannot resolve {{{{{name}}}}}")
        return scope[name]

    return _EXPRESSION.sub(value, text)


def _workflow_scope(run: WorkflowRun) -> dict[str, str]:
    scope = {"workflow.name": run.name, "workflow.uid": run.uid}
    scope.update({f"workflow.parameters.{k}": v for k, v in run.parameters.items()})
    return scope


def _dag_scope(run: WorkflowRun) -> dict[str, str]:
    scope = _workflow_scope(run)
    for task in run.tasks:
        scope.update({f"tasks.{task.name}.outputs.parameters.{k}": v for k, v in task.outputs.items()})
    return scope


# ---- the manifest ------------------------------------------------------------------------------------


def templates(manifest: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in manifest["spec"]["templates"]}


def workflow_parameters(manifest: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, str]:
    """The template's arguments with ``overrides`` (``-p name=value``); unknown names and values outside a
    parameter's ``enum`` are refused, as ``argo submit`` refuses them."""
    declared = manifest["spec"].get("arguments", {}).get("parameters", [])
    values = {p["name"]: str(p.get("value", "")) for p in declared}
    unknown = sorted(set(overrides) - set(values))
    if unknown:
        raise PipelineRunError(f"{unknown} are not parameters of the template (it has {sorted(values)})")
    values.update({k: str(v) for k, v in overrides.items()})
    for p in declared:
        if p.get("enum") and values[p["name"]] not in p["enum"]:
            raise PipelineRunError(f"parameter {p['name']}={values[p['name']]!r} is not one of {p['enum']}")
    return values


def _dependencies(task: Mapping[str, Any]) -> list[str]:
    if "depends" in task:
        expression = str(task["depends"])
        if "||" in expression or "!" in expression:
            raise PipelineRunError(f"task {task['name']}: depends {expression!r}: only '&&' is run locally")
        return [name.split(".")[0] for name in re.findall(r"[A-Za-z0-9][A-Za-z0-9_.-]*", expression)]
    return list(task.get("dependencies") or [])


def dag_order(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The entrypoint DAG's tasks, each after the tasks it depends on (in manifest order otherwise)."""
    entry = templates(manifest)[manifest["spec"]["entrypoint"]]
    if "dag" not in entry:
        raise PipelineRunError(f"the entrypoint {entry['name']!r} is not a DAG")
    tasks = {t["name"]: t for t in entry["dag"]["tasks"]}
    for task in tasks.values():
        missing = [d for d in _dependencies(task) if d not in tasks]
        if missing:
            raise PipelineRunError(f"task {task['name']} depends on unknown tasks {missing}")
    ordered: list[dict[str, Any]] = []
    done: set[str] = set()
    while len(ordered) < len(tasks):
        ready = [t for n, t in tasks.items() if n not in done and all(d in done for d in _dependencies(t))]
        if not ready:
            raise PipelineRunError(
                f"the DAG's tasks {sorted(set(tasks) - done)} depend on each other (a cycle)"
            )
        ordered.append(ready[0])
        done.add(ready[0]["name"])
    return ordered


# ---- one task ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mounts:
    """A task's volume mounts, container path -> local directory."""

    paths: dict[str, Path]

    def local(self, value: str) -> str:
        """``value`` pointing into the local directory when it is (under) a mount path."""
        for mount, directory in sorted(self.paths.items(), key=lambda item: -len(item[0])):
            if value == mount:
                return str(directory)
            if value.startswith(mount.rstrip("/") + "/"):
                return str(directory / value[len(mount.rstrip("/")) + 1 :])
        return value


def _mounts(template: Mapping[str, Any], task_dir: Path) -> Mounts:
    container = template["container"]
    volumes = {v["name"]: v for v in template.get("volumes") or []}
    paths: dict[str, Path] = {}
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount["name"])
        if volume is None or "emptyDir" not in volume:
            raise PipelineRunError(
                f"template {template['name']}: volume {mount['name']!r} is not an emptyDir of the template"
            )
        directory = task_dir / mount["name"]
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        paths[mount["mountPath"]] = directory
    return Mounts(paths)


def image_env(mounts: Mounts, step_sources: Path) -> dict[str, str]:
    """The image's environment, locally: this virtualenv for its PATH, ``step_sources`` (docker/pipeline/)
    for its sources, and its HOME and TMPDIR (``/tmp``) in the task's scratch directory."""
    env = {"LANG": "C.UTF-8"}
    for name, value in IMAGE_ENV.items():
        if name == "PATH":
            env[name] = venv_path()
        elif value == IMAGE_SOURCE_DIR:
            env[name] = str(step_sources)
        else:
            env[name] = mounts.local(value)
    return env


def container_env(
    container: Mapping[str, Any], scope: Mapping[str, str], secrets: LocalSecrets, mounts: Mounts, where: str
) -> dict[str, str]:
    """The container's ``env``: values resolved and mapped into the mounts, ``secretKeyRef`` from ``secrets``."""
    env: dict[str, str] = {}
    for item in container.get("env") or []:
        name = item["name"]
        if name in MOTO_ONLY_ENV:
            raise PipelineRunError(f"{where} sets {name}; with IRSA it must stay unset")
        if "valueFrom" in item:
            ref = item["valueFrom"].get("secretKeyRef")
            if ref is None:
                raise PipelineRunError(f"{where}: env {name}: only secretKeyRef is run locally")
            env[name] = secrets.get(ref["name"], ref["key"])
        else:
            env[name] = mounts.local(resolve(str(item.get("value", "")), scope, f"{where} env {name}"))
    return env


def _read_outputs(template: Mapping[str, Any], mounts: Mounts) -> tuple[dict[str, str], str]:
    outputs: dict[str, str] = {}
    for parameter in (template.get("outputs") or {}).get("parameters") or []:
        path = Path(mounts.local(parameter["valueFrom"]["path"]))
        if not path.is_file():
            return (
                outputs,
                f"output parameter {parameter['name']}: {parameter['valueFrom']['path']} was not written",
            )
        value = path.read_text()
        outputs[parameter["name"]] = value[:-1] if value.endswith("\n") else value
    return outputs, ""


@dataclass(frozen=True)
class LocalCluster:
    """What a pod gets from the cluster (Secrets, the S3 endpoint) and from its image (the step sources, by
    default this repository's docker/pipeline/), locally, and a directory for the tasks."""

    secrets: LocalSecrets
    s3_endpoint: str
    root: Path
    step_sources: Path = STEP_SOURCES
    deadline: float = 3600.0


def run_task(
    run: WorkflowRun, task: Mapping[str, Any], template: Mapping[str, Any], cluster: LocalCluster
) -> TaskRun:
    """One DAG task: its arguments, its template's container as a process, its output parameters."""
    where = f"task {task['name']} (template {template['name']})"
    dag_scope = _dag_scope(run)
    arguments = {
        p["name"]: resolve(str(p.get("value", "")), dag_scope, f"{where} argument {p['name']}")
        for p in (task.get("arguments") or {}).get("parameters") or []
    }
    declared = [p["name"] for p in (template.get("inputs") or {}).get("parameters") or []]
    missing = [name for name in declared if name not in arguments]
    if missing:
        raise PipelineRunError(f"{where}: no argument for the inputs {missing}")
    scope = {**_workflow_scope(run), **{f"inputs.parameters.{k}": arguments[k] for k in declared}}
    task_dir = cluster.root / run.name / task["name"]
    task_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    mounts = _mounts(template, task_dir)
    container = template["container"]
    argv = [
        mounts.local(resolve(str(a), scope, where))
        for a in [*(container.get("command") or []), *(container.get("args") or [])]
    ]
    env = {
        **image_env(mounts, cluster.step_sources),
        **container_env(container, scope, cluster.secrets, mounts, where),
    }
    env.update(
        AWS_ENDPOINT_URL_S3=cluster.s3_endpoint,
        AWS_ACCESS_KEY_ID=FAKE_AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=FAKE_AWS_SECRET_ACCESS_KEY,
    )
    return _execute(task["name"], template["name"], argv, env, mounts, template, task_dir, cluster.deadline)


def _execute(
    name: str,
    template_name: str,
    argv: list[str],
    env: dict[str, str],
    mounts: Mounts,
    template: Mapping[str, Any],
    task_dir: Path,
    timeout: float,
) -> TaskRun:
    log_path = task_dir / "main.log"
    workdir = mounts.local(IMAGE_WORKDIR)
    cwd = Path(workdir) if workdir != IMAGE_WORKDIR else task_dir
    started = time.monotonic()
    with log_path.open("wb") as log:
        try:
            returncode = subprocess.run(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=max(timeout, 1.0),
                check=False,
                start_new_session=True,
            ).returncode
        except subprocess.TimeoutExpired:
            returncode = -1
        except OSError as err:  # the command does not exist
            log.write(f"cannot start {argv[0]!r}: {err}\n".encode())
            returncode = 127
    run = TaskRun(name, template_name, argv, env, returncode, log_path, time.monotonic() - started)
    if returncode == 0:
        run.outputs, run.error = _read_outputs(template, mounts)
    return run


# ---- the workflow ------------------------------------------------------------------------------------


def new_workflow(manifest: Mapping[str, Any], parameters: Mapping[str, str] | None = None) -> WorkflowRun:
    """A workflow submitted from the template: a generated name (``<template>-<suffix>``) and a uid."""
    suffix = "".join(secrets_module.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(5))
    return WorkflowRun(
        name=f"{manifest['metadata']['name']}-{suffix}",
        uid=str(uuid.uuid4()),
        parameters=workflow_parameters(manifest, parameters or {}),
    )


def run_workflow(
    manifest: Mapping[str, Any],
    cluster: LocalCluster,
    *,
    parameters: Mapping[str, str] | None = None,
    progress: TextIO | None = None,
) -> WorkflowRun:
    """Run the manifest's DAG; stop at the first failed task (the run says which, with its log)."""
    if not cluster.step_sources.is_dir():
        raise PipelineRunError(
            f"the step sources {cluster.step_sources} are not here: run from a clone of the repository, or "
            "give the directory the image copies its step package from"
        )
    run = new_workflow(manifest, parameters)
    by_name = templates(manifest)
    deadline = time.monotonic() + float(manifest["spec"].get("activeDeadlineSeconds", cluster.deadline))
    for task in dag_order(manifest):
        template = by_name.get(task["template"])
        if template is None or "container" not in template:
            raise PipelineRunError(
                f"task {task['name']}: template {task['template']!r} is no container template"
            )
        if progress is not None:
            print(f"{run.name}: {task['name']} ...", file=progress, flush=True)
        remaining = replace(cluster, deadline=deadline - time.monotonic())
        done = run_task(run, task, template, remaining)
        run.tasks.append(done)
        if progress is not None:
            status = "ok" if done.ok else f"FAILED ({done.returncode})"
            print(f"{run.name}: {task['name']} {status} in {done.seconds:.1f}s", file=progress, flush=True)
        if not done.ok:
            break
    return run


# ---- the local platform ------------------------------------------------------------------------------


def local_spec(tracking_uri: str, bucket: str, region: str, **overrides: Any) -> ReferencePipelineSpec:
    """The pipeline's spec as the platform renders it, for the local MLflow and bucket."""
    values: dict[str, Any] = {
        "namespace": "pipelines",
        "image": LOCAL_IMAGE,
        "service_account": "pipeline-runner",
        "mlflow_tracking_uri": tracking_uri,
        "mlflow_credentials_secret": CREDENTIALS_SECRET,
        "artifact_bucket": bucket,
        "region": region,
    }
    values.update(overrides)
    return ReferencePipelineSpec(**values)


def provision_pipeline_user(tracking_uri: str, admin_username: str, admin_password: str) -> LocalSecrets:
    """The pipeline's MLflow user, created by the admin; its credentials as the Secret the template reads."""
    password = random_password(24)
    ensure_user(tracking_uri, admin_username, admin_password, PIPELINE_USER, password)
    return LocalSecrets(
        {CREDENTIALS_SECRET: {MLFLOW_USERNAME_KEY: PIPELINE_USER, MLFLOW_PASSWORD_KEY: password}}
    )


@contextlib.contextmanager
def local_pipeline_cluster(
    root: Path | None = None, step_sources: Path = STEP_SOURCES
) -> Iterator[tuple[Any, LocalCluster]]:
    """The local platform (:func:`~mlops_platform.mlops.local.platform.local_platform`), the pipeline's user,
    and the :class:`LocalCluster` its tasks run in."""
    from mlops_platform.mlops.local.platform import local_platform

    with local_platform(root=root, workers=2) as platform:
        secrets = provision_pipeline_user(
            platform.url, platform.mlflow.admin_username, platform.mlflow.admin_password
        )
        tasks_root = platform.root / "pipelines"
        tasks_root.mkdir(mode=0o700, exist_ok=True)
        yield (
            platform,
            LocalCluster(
                secrets=secrets, s3_endpoint=platform.s3.endpoint, root=tasks_root, step_sources=step_sources
            ),
        )


def report_failure(run: WorkflowRun, err: TextIO) -> None:
    failed = run.failed
    if failed is not None:
        print(
            f"workflow {run.name} failed at step {failed.name} (exit {failed.returncode}); log tail:\n"
            f"{failed.log_tail()}",
            file=err,
            flush=True,
        )


def run_local(
    parameters: Mapping[str, str],
    *,
    overrides: Mapping[str, Any] | None = None,
    step_sources: Path = STEP_SOURCES,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """``mlops pipeline run --local``: 0 when every step succeeded, 1 when one failed (named, with its log)."""
    try:
        print("starting PostgreSQL (TLS), S3 (moto) and MLflow ...", file=out, flush=True)
        with local_pipeline_cluster(step_sources=step_sources) as (platform, cluster):
            spec = local_spec(platform.url, platform.s3.bucket, platform.s3.region, **dict(overrides or {}))
            run = run_workflow(workflow_template(spec), cluster, parameters=parameters, progress=out)
            if not run.ok:
                report_failure(run, err)
                return 1
            version = run.outputs("register").get("model-version")
            print(
                f"workflow {run.name} succeeded: {spec.candidates_model} version {version} is @candidate",
                file=out,
                flush=True,
            )
            return 0
    except LocalPlatformError as error:
        print(f"mlops pipeline: {error}", file=err, flush=True)
        return 1


def parse_parameters(items: Sequence[str]) -> dict[str, str]:
    """``-p name=value`` items, as ``argo submit`` takes them."""
    parameters = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise PipelineRunError(f"-p {item!r}: give name=value")
        parameters[name] = value
    return parameters
