"""S3, KMS and Secrets Manager on loopback: a moto server holding the artifact bucket (SSE-KMS)."""

from __future__ import annotations

import logging
import urllib.request
from dataclasses import dataclass
from typing import Any

from mlops_platform.mlops.local.processes import LOOPBACK, free_port

BUCKET = "mlops-local-artifacts"
REGION = "eu-west-1"
#: Local stand-ins for what the pod gets from workload identity; moto accepts any keys.
FAKE_AWS_ACCESS_KEY_ID = "AKIAMLOPSLOCALFAKE00"
FAKE_AWS_SECRET_ACCESS_KEY = "mlops-local-fake-secret-access-key"


@dataclass
class S3Server:
    """A moto server on loopback holding the artifact bucket (and a KMS key for SSE-KMS uploads)."""

    endpoint: str
    region: str
    bucket: str
    kms_key_arn: str
    server: Any

    def client(self, service: str = "s3"):
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=FAKE_AWS_ACCESS_KEY_ID,
            aws_secret_access_key=FAKE_AWS_SECRET_ACCESS_KEY,
        )

    def reset(self) -> None:
        """Forget every bucket, object and key (moto's reset API)."""
        request = urllib.request.Request(self.endpoint + "/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    def stop(self) -> None:
        try:
            self.reset()
        finally:
            self.server.stop()


def _create_bucket(s3: S3Server) -> None:
    """The artifact bucket, encrypted by default with the KMS key (a bucket key, as the platform's)."""
    client = s3.client()
    if s3.region == "us-east-1":
        client.create_bucket(Bucket=s3.bucket)
    else:
        client.create_bucket(Bucket=s3.bucket, CreateBucketConfiguration={"LocationConstraint": s3.region})  # type: ignore[arg-type]
    client.put_bucket_encryption(
        Bucket=s3.bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": s3.kms_key_arn,
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )


def start_s3(*, region: str = REGION, bucket: str = BUCKET) -> S3Server:
    from moto.server import ThreadedMotoServer

    # One line per request otherwise (werkzeug's access log).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    s3 = S3Server(
        endpoint=f"http://{LOOPBACK}:{port}", region=region, bucket=bucket, kms_key_arn="", server=server
    )
    try:
        s3.reset()  # moto keeps its state per Python process, not per server: start empty
        key = s3.client("kms").create_key(Description="mlops local artifact key")
        s3.kms_key_arn = key["KeyMetadata"]["Arn"]
        _create_bucket(s3)
    except BaseException:
        server.stop()
        raise
    return s3
