"""train: a scikit-learn model on the train split, tracked in MLflow (params, metrics, the model with its
signature and an input example); outputs the run id and the model's URI."""

from __future__ import annotations

import argparse
import os
from importlib import metadata

import mlflow
from mlflow import sklearn as mlflow_sklearn
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from reference_pipeline.common import StepError, features_and_target, read_csv, write_outputs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train-uri", required=True)
    parser.add_argument("--dataset-uri", required=True)
    parser.add_argument("--dataset-sha256", required=True)
    parser.add_argument("--regularization", required=True, type=float)
    parser.add_argument("--max-iter", required=True, type=int)
    parser.add_argument("--random-seed", required=True, type=int)
    parser.add_argument("--git-commit", required=True)
    parser.add_argument("--workflow-name", required=True)
    parser.add_argument("--workflow-uid", required=True)


#: What the model needs to be loaded and served: pinned to the versions that trained it (the image's), so
#: MLflow need not infer them by loading the model in a subprocess.
SERVING_PACKAGES = ("mlflow", "scikit-learn", "skops", "numpy", "scipy", "pandas")


def serving_requirements() -> list[str]:
    return [f"{name}=={metadata.version(name)}" for name in SERVING_PACKAGES]


def _set_experiment(name: str) -> None:
    """Use (or create: the pipeline's own user then owns it) the experiment; two first runs may race."""
    try:
        mlflow.set_experiment(name)
    except MlflowException as err:
        if err.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        mlflow.set_experiment(name)


def run(args: argparse.Namespace) -> int:
    experiment = os.environ.get("MLFLOW_EXPERIMENT_NAME")
    if not experiment:
        raise StepError("MLFLOW_EXPERIMENT_NAME is not set")
    features, target = features_and_target(read_csv(args.train_uri))
    params = {"C": args.regularization, "max_iter": args.max_iter, "random_state": args.random_seed}
    # Types skops loads without being told to trust them (a tree model's node storage is not one of them).
    model = make_pipeline(StandardScaler(), LogisticRegression(**params)).fit(features, target)
    predicted = model.predict(features)

    _set_experiment(experiment)
    tags = {
        "workflow.name": args.workflow_name,
        "workflow.uid": args.workflow_uid,
        "git.commit": args.git_commit,
    }
    with mlflow.start_run(run_name=args.workflow_name, tags=tags) as run:
        mlflow.log_params(
            {**params, "model": "StandardScaler+LogisticRegression", "dataset_uri": args.dataset_uri}
        )
        mlflow.log_params({"dataset_sha256": args.dataset_sha256, "train_rows": len(features)})
        mlflow.log_metrics(
            {
                "train_accuracy": float(accuracy_score(target, predicted)),
                "train_f1": float(f1_score(target, predicted, average="macro")),
            }
        )
        info = mlflow_sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(features, predicted),
            input_example=features.head(3),
            pip_requirements=serving_requirements(),
        )
    print(f"train: run {run.info.run_id}, model {info.model_uri}", flush=True)
    write_outputs(args.outputs_dir, {"run-id": run.info.run_id, "model-uri": info.model_uri})
    return 0
