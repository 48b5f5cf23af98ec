"""What every step shares: S3 objects by URI (boto3's default credential chain), output files, hashing."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd

#: The label column of every dataset file.
TARGET = "target"


class StepError(RuntimeError):
    """A step cannot do its job; the message says why (one line, printed, exit 1)."""


def s3_client():
    """boto3's default chain: IRSA's web identity in the cluster; the region from AWS_REGION."""
    import boto3

    return boto3.client("s3", region_name=os.environ.get("AWS_REGION"))


def split_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise StepError(f"{uri!r} is not an s3://bucket/key URI")
    return parsed.netloc, parsed.path.lstrip("/")


def put_bytes(uri: str, body: bytes) -> None:
    bucket, key = split_uri(uri)
    s3_client().put_object(Bucket=bucket, Key=key, Body=body)  # encrypted by the bucket's default (SSE-KMS)


def get_bytes(uri: str) -> bytes:
    bucket, key = split_uri(uri)
    return s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()


def to_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def read_csv(uri: str) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(get_bytes(uri)))


def features_and_target(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    if TARGET not in frame.columns:
        raise StepError(f"the data has no {TARGET!r} column")
    return frame.drop(columns=[TARGET]), pd.Series(frame[TARGET])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_outputs(outputs_dir: str, values: dict[str, str]) -> None:
    """One file per output parameter, no trailing newline (Argo would strip one)."""
    directory = Path(outputs_dir)
    directory.mkdir(parents=True, exist_ok=True)
    for name, value in values.items():
        (directory / name).write_text(value)
