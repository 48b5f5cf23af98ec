"""register: a version of the candidates model from the run's model, with lineage tags, and the
``candidate`` alias on it.

The lineage (``lineage.*`` tags, the keys components/pipelines/steps.py's LINEAGE_TAGS names):

* ``git_commit``, ``data_classification``, ``workflow_name``, ``workflow_uid``: the workflow's parameters and
  Argo's ``{{workflow.name}}``/``{{workflow.uid}}``;
* ``dataset_uri``/``dataset_sha256``: the prepare step's dataset file, re-read here and checked against the
  digest prepare computed (a changed object fails the step);
* ``model_digest``: ``sha256:`` of the logged model as MLflow serves it back: its files are downloaded through
  MLflow and hashed as the sorted lines ``<relative path> <sha256 of the file>`` (so the digest names the
  exact bytes a deployment will load, independently of how the artifact store lays them out). The
  ``registered_model_meta`` file MLflow's client writes into every download (naming what was downloaded: the
  model id, or the registered name and version) is not part of the model and not hashed;
* ``image``/``image_digest``: the step image reference the template runs (``PIPELINE_IMAGE``, the
  container's own ``image``); the digest is the reference's ``@sha256:...`` part. A pod cannot read the
  digest its runtime resolved a tag to, so a tag reference is recorded as ``unpinned:<tag>``; the platform
  renders the template with a digest reference so the lineage names the exact image.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import tempfile
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.artifacts import download_artifacts

from reference_pipeline.common import StepError, get_bytes, sha256, write_outputs

CANDIDATE_ALIAS = "candidate"
LINEAGE_TAGS = (
    "lineage.git_commit",
    "lineage.dataset_uri",
    "lineage.dataset_sha256",
    "lineage.workflow_name",
    "lineage.workflow_uid",
    "lineage.data_classification",
    "lineage.model_digest",
    "lineage.image",
    "lineage.image_digest",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--model-uri", required=True)
    parser.add_argument("--dataset-uri", required=True)
    parser.add_argument("--dataset-sha256", required=True)
    parser.add_argument("--git-commit", required=True)
    parser.add_argument("--data-classification", required=True)
    parser.add_argument("--workflow-name", required=True)
    parser.add_argument("--workflow-uid", required=True)


#: Files MLflow's client adds to a downloaded model (not in the artifact store): left out of the digest.
DOWNLOAD_METADATA = ("registered_model_meta",)


def image_digest(reference: str) -> str:
    """``sha256:<hex>`` of a digest reference; ``unpinned:<tag>`` of a tag reference."""
    found = re.search(r"@(sha256:[0-9a-f]{64})$", reference)
    if found:
        return found.group(1)
    tag = re.search(r":([A-Za-z0-9_][A-Za-z0-9_.-]*)$", reference.rsplit("/", 1)[-1])
    return f"unpinned:{tag.group(1) if tag else 'latest'}"


def model_digest(model_uri: str) -> str:
    """``sha256:`` over the sorted ``<path> <sha256>`` lines of the model's files, read back through MLflow."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(download_artifacts(artifact_uri=model_uri, dst_path=scratch))
        lines = sorted(
            f"{path.relative_to(root).as_posix()} {hashlib.sha256(path.read_bytes()).hexdigest()}\n"
            for path in root.rglob("*")
            if path.is_file() and path.relative_to(root).as_posix() not in DOWNLOAD_METADATA
        )
    if not lines:
        raise StepError(f"{model_uri} has no files")
    return "sha256:" + hashlib.sha256("".join(lines).encode()).hexdigest()


def lineage(args: argparse.Namespace) -> dict[str, str]:
    actual = sha256(get_bytes(args.dataset_uri))
    if actual != args.dataset_sha256:
        raise StepError(f"{args.dataset_uri} has sha256 {actual}, prepare wrote {args.dataset_sha256}")
    image = os.environ.get("PIPELINE_IMAGE", "")
    if not image:
        raise StepError("PIPELINE_IMAGE is not set")
    values = {
        "lineage.git_commit": args.git_commit,
        "lineage.dataset_uri": args.dataset_uri,
        "lineage.dataset_sha256": args.dataset_sha256,
        "lineage.workflow_name": args.workflow_name,
        "lineage.workflow_uid": args.workflow_uid,
        "lineage.data_classification": args.data_classification,
        "lineage.model_digest": model_digest(args.model_uri),
        "lineage.image": image,
        "lineage.image_digest": image_digest(image),
    }
    if tuple(values) != LINEAGE_TAGS:
        raise StepError(f"the lineage has the keys {sorted(values)}, not {sorted(LINEAGE_TAGS)}")
    return values


def run(args: argparse.Namespace) -> int:
    name = os.environ.get("PIPELINE_CANDIDATES_MODEL")
    if not name:
        raise StepError("PIPELINE_CANDIDATES_MODEL is not set")
    tags = lineage(args)
    run_ = MlflowClient().get_run(args.run_id)
    if run_.data.tags.get("evaluation") != "passed":
        raise StepError(f"run {args.run_id} has not passed evaluation")
    # Creates the registered model on the first run: the pipeline's user then owns it (MANAGE).
    version = mlflow.register_model(args.model_uri, name, tags=tags)
    MlflowClient().set_registered_model_alias(name, CANDIDATE_ALIAS, version.version)
    print(f"register: {name} version {version.version} is @{CANDIDATE_ALIAS}", flush=True)
    write_outputs(args.outputs_dir, {"model-version": str(version.version)})
    return 0
