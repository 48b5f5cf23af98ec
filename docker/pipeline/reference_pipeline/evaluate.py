"""evaluate: the model on the held-out split against the thresholds; logs the metrics to the training run
and fails (exit 1) when a threshold is not met, so nothing is registered."""

from __future__ import annotations

import argparse

from mlflow import MlflowClient
from mlflow import sklearn as mlflow_sklearn
from sklearn.metrics import accuracy_score, f1_score

from reference_pipeline.common import StepError, features_and_target, read_csv, write_outputs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--model-uri", required=True)
    parser.add_argument("--test-uri", required=True)
    parser.add_argument("--min-accuracy", required=True, type=float)
    parser.add_argument("--min-f1", required=True, type=float)


def run(args: argparse.Namespace) -> int:
    features, target = features_and_target(read_csv(args.test_uri))
    model = mlflow_sklearn.load_model(args.model_uri)
    if model is None:
        raise StepError(f"{args.model_uri} holds no scikit-learn model")
    predicted = model.predict(features)
    metrics = {
        "test_accuracy": float(accuracy_score(target, predicted)),
        "test_f1": float(f1_score(target, predicted, average="macro")),
    }
    client = MlflowClient()
    for name, value in metrics.items():
        client.log_metric(args.run_id, name, value)
    write_outputs(
        args.outputs_dir, {"accuracy": str(metrics["test_accuracy"]), "f1": str(metrics["test_f1"])}
    )
    failed = [
        f"{name} {metrics[name]:.4f} < {option} {minimum}"
        for name, option, minimum in (
            ("test_accuracy", "min-accuracy", args.min_accuracy),
            ("test_f1", "min-f1", args.min_f1),
        )
        if metrics[name] < minimum
    ]
    client.set_tag(args.run_id, "evaluation", "failed" if failed else "passed")
    if failed:
        raise StepError("threshold not met, the model is not registered: " + "; ".join(failed))
    print(f"evaluate: passed ({metrics})", flush=True)
    return 0
