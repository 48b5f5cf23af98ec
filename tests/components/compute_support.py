"""Shared rendering helpers for the compute components' tests.

``render_platform(env)`` renders the compute wiring (:func:`components.platform_compute.add_compute`)
on top of the real Network and MINIMAL STAND-INS for the data layer (keys, artifact store, database),
which live on another branch; the stand-ins expose exactly the attribute names the data layer provides.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.config import PlatformConfig, build
from components.network import Network, NetworkArgs
from components.platform import MlopsPlatform
from components.platform_compute import Compute
from mlops.engine import run_callable
from mlops.graph import Graph, Resource, reveal

REGION = "eu-west-1"
ADMIN = "arn:aws:iam::123456789012:role/platform-admins"
DEPLOYER = "arn:aws:iam::123456789012:role/offline"  # FakeCloud's caller, resolved to its role


def config(env: str, **extra: Any) -> PlatformConfig:
    values: dict[str, Any] = {
        "mlops-platform:environment": env,
        "mlops-platform:owner": "ml-platform",
        "mlops-platform:costCenter": "cc-1234",
        "mlops-platform:dataClassification": "internal",
        "mlops-platform:clusterAdminPrincipalArns": json.dumps([ADMIN]),
    }
    values.update({f"mlops-platform:{k}": v for k, v in extra.items()})
    return build(values, region=REGION, source=f"test-{env}")


@dataclass(frozen=True)
class StandInKeys:
    data_key_arn: pulumi.Output[str]
    logs_key_arn: pulumi.Output[str]
    cluster_key_arn: pulumi.Output[str]


@dataclass(frozen=True)
class StandInArtifacts:
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]


@dataclass(frozen=True)
class StandInDatabase:
    address: pulumi.Output[str]
    port: pulumi.Output[int]
    database_name: pulumi.Output[str]
    master_secret_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]


class StandInPlatform(pulumi.ComponentResource):
    """The platform with the data layer replaced by the smallest resources that give the same outputs."""

    def __init__(self, cfg: PlatformConfig) -> None:
        super().__init__("mlops:platform:MlopsPlatform", "mlops", None)
        self.aws_provider = aws.Provider(
            "mlops-aws", region=cfg.region, opts=pulumi.ResourceOptions(parent=self)
        )
        child = pulumi.ResourceOptions(parent=self, providers={"aws": self.aws_provider})
        self.network = Network(
            cfg.name,
            NetworkArgs(
                cidr=cfg.network.vpc_cidr,
                availability_zones=[f"{REGION}{c}" for c in "abc"][: cfg.network.zone_count],
                cluster_name=f"{cfg.name}-eks",
            ),
            opts=child,
        )
        keys = {k: aws.kms.Key(f"standin-{k}", opts=child) for k in ("data", "logs", "cluster")}
        self.keys = StandInKeys(
            data_key_arn=keys["data"].arn, logs_key_arn=keys["logs"].arn, cluster_key_arn=keys["cluster"].arn
        )
        bucket = aws.s3.Bucket("standin-artifacts", bucket=f"{cfg.name}-artifacts", opts=child)
        self.artifacts = StandInArtifacts(bucket_name=bucket.bucket, bucket_arn=bucket.arn)
        db_sg = aws.ec2.SecurityGroup("standin-database", vpc_id=self.network.vpc_id, opts=child)
        db = aws.rds.Instance(
            "standin-database",
            identifier=f"{cfg.name}-mlflow",
            engine="postgres",
            instance_class="db.t4g.medium",
            db_name="mlflow",
            port=5432,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=keys["data"].arn,
            opts=child,
        )
        self.database = StandInDatabase(
            address=db.address,
            port=db.port,
            database_name=db.db_name,
            master_secret_arn=db.master_user_secrets.apply(lambda s: str(s[0].secret_arn or "") if s else ""),
            security_group_id=db_sg.id,
        )


@functools.cache
def render_platform(env: str) -> tuple[Graph, PlatformConfig]:
    cfg = config(env)
    holder: dict[str, Compute] = {}

    def program() -> None:
        # The real platform: network, keys, artifact store and database wired into add_compute.
        holder["compute"] = MlopsPlatform("mlops", cfg).compute

    return run_callable(program, project="mlops-platform", stack=env, config={"aws:region": REGION}), cfg


def plain(resource: Resource, key: str) -> Any:
    """An input with secrets unwrapped (for assertions only)."""
    return reveal(resource.inputs.get(key))


def policy(resource: Resource, key: str = "policy") -> dict[str, Any]:
    value = plain(resource, key)
    return json.loads(value) if isinstance(value, str) else value
