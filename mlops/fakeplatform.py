"""Fake outputs of a platform stack, for rendering consumer projects offline.

A consumer project reads the platform through :meth:`mlops_platform.components.platform.outputs.PlatformOutputs.from_stack`, a
StackReference. Offline there is no backend to read it from, so :class:`~mlops_platform.mlops.fakecloud.FakeCloud`
answers a reference to any ``<org>/mlops-platform/<env>`` stack with :func:`platform_outputs`: every
output of the contract, shaped like the real ones and derived from the stack name.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mlops_platform.components.platform.outputs import CONTRACT_VERSION_EXPORT, EXPORT_NAMES, OUTPUTS_VERSION

PLATFORM_PROJECT = "mlops-platform"


def is_platform_stack(stack: str) -> bool:
    """Whether ``stack`` names a stack of the platform project (``org/mlops-platform/env``)."""
    parts = stack.split("/")
    return len(parts) == 3 and parts[1] == PLATFORM_PROJECT and all(parts)


def platform_outputs(
    stack: str, *, region: str = "eu-west-1", account_id: str = "123456789012"
) -> dict[str, Any]:
    """Every output of the contract for ``stack``, keyed by export name, deterministic."""
    env = stack.rsplit("/", 1)[-1]
    name = f"mlops-{env}"
    h = hashlib.sha256(stack.encode()).hexdigest()
    oidc = h[:32].upper()
    arn = f"arn:aws:{{}}:{region}:{account_id}:{{}}"
    cluster = f"{name}-eks"
    endpoint = f"https://{oidc}.gr7.{region}.eks.amazonaws.com"
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": cluster, "cluster": {"server": endpoint, "certificate-authority-data": "b2ZmbGluZQ=="}}
        ],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster}}],
        "current-context": cluster,
        "users": [
            {
                "name": cluster,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "aws",
                        "args": ["eks", "get-token", "--cluster-name", cluster, "--region", region],
                    }
                },
            }
        ],
    }
    by_field: dict[str, Any] = {
        "artifact_bucket_name": f"{name}-artifacts-{h[:8]}",
        "artifact_bucket_arn": f"arn:aws:s3:::{name}-artifacts-{h[:8]}",
        "database_endpoint": f"{name}-db.c{h[:11]}.{region}.rds.amazonaws.com",
        "database_port": 5432,
        "database_secret_arn": arn.format("secretsmanager", f"secret:rds!db-{h[:8]}-{h[8:14]}"),
        "cluster_name": cluster,
        "cluster_endpoint": endpoint,
        "oidc_provider_arn": f"arn:aws:iam::{account_id}:oidc-provider/oidc.eks.{region}.amazonaws.com/id/{oidc}",
        "oidc_issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{oidc}",
        "kubeconfig": json.dumps(kubeconfig),
        "ecr_repository_urls": {
            repo: f"{account_id}.dkr.ecr.{region}.amazonaws.com/{name}/{repo}"
            for repo in ("mlflow", "training", "serving")
        },
        "mlflow_url": "http://mlflow.mlflow.svc.cluster.local:5000",
        "alert_topic_arn": arn.format("sns", f"{name}-alerts"),
        "kms_data_key_arn": arn.format("kms", f"key/{h[0:8]}-{h[8:12]}-4{h[12:15]}-8{h[15:18]}-{h[18:30]}"),
        "kms_logs_key_arn": arn.format("kms", f"key/{h[1:9]}-{h[9:13]}-4{h[13:16]}-8{h[16:19]}-{h[19:31]}"),
        "kms_cluster_key_arn": arn.format(
            "kms", f"key/{h[2:10]}-{h[10:14]}-4{h[14:17]}-8{h[17:20]}-{h[20:32]}"
        ),
        "vpc_id": f"vpc-{h[:17]}",
        "private_subnet_ids": [f"subnet-{h[i : i + 17]}" for i in (0, 17, 34)],
        "node_security_group_id": f"sg-{h[40:57]}",
        "node_role_arn": f"arn:aws:iam::{account_id}:role/{name}-eks-nodes",
        "environment": env,
        "contract_version": OUTPUTS_VERSION,
    }
    missing = set(EXPORT_NAMES) - set(by_field)
    if missing:  # pragma: no cover - guarded by a test
        raise AssertionError(f"fake platform outputs lack {sorted(missing)}")
    outputs = {EXPORT_NAMES[k]: v for k, v in by_field.items()}
    assert outputs[CONTRACT_VERSION_EXPORT] == OUTPUTS_VERSION
    return outputs
