"""prepare: a dataset that ships inside scikit-learn, split, written to S3; outputs the URIs and its sha256."""

from __future__ import annotations

import argparse
from typing import Any, cast

import pandas as pd
from sklearn import datasets
from sklearn.model_selection import train_test_split

from reference_pipeline.common import TARGET, StepError, put_bytes, sha256, split_uri, to_csv, write_outputs

LOADERS = {"breast_cancer": datasets.load_breast_cancer, "wine": datasets.load_wine}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=sorted(LOADERS))
    parser.add_argument("--test-size", required=True, type=float)
    parser.add_argument("--random-seed", required=True, type=int)
    parser.add_argument("--data-uri", required=True, help="s3://bucket/prefix the data files go under")


def run(args: argparse.Namespace) -> int:
    if not 0.05 <= args.test_size <= 0.5:
        raise StepError(f"--test-size {args.test_size} must be between 0.05 and 0.5")
    split_uri(args.data_uri)
    frame = cast(pd.DataFrame, cast(Any, LOADERS[args.dataset](as_frame=True)).frame)
    if TARGET not in frame.columns:
        raise StepError(f"dataset {args.dataset} has no {TARGET!r} column")
    train, test = (
        cast(pd.DataFrame, part)
        for part in train_test_split(
            frame, test_size=args.test_size, random_state=args.random_seed, stratify=frame[TARGET]
        )
    )
    root = args.data_uri.rstrip("/")
    files = {"dataset": to_csv(frame), "train": to_csv(train), "test": to_csv(test)}
    for name, body in files.items():
        put_bytes(f"{root}/{name}.csv", body)
    print(f"prepare: {args.dataset}: {len(train)} train and {len(test)} test rows under {root}/", flush=True)
    write_outputs(
        args.outputs_dir,
        {
            "dataset-uri": f"{root}/dataset.csv",
            "dataset-sha256": sha256(files["dataset"]),
            "train-uri": f"{root}/train.csv",
            "test-uri": f"{root}/test.csv",
        },
    )
    return 0
