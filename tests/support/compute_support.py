"""Shared rendering helpers for the compute components' tests.

``render_platform(env)`` renders the real :class:`~mlops_platform.components.platform.platform.MlopsPlatform` for an environment and
returns the compute wiring (:func:`mlops_platform.components.platform.compute.add_compute`) on top of the real network and
data layer.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from mlops_platform.components.platform.compute import Compute
from mlops_platform.components.platform.config import PlatformConfig, build
from mlops_platform.components.platform.platform import MlopsPlatform
from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.graph import Graph, Resource, reveal

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


@functools.cache
def render_platform(env: str, **extra: str) -> tuple[Graph, PlatformConfig]:
    """The platform of ``env`` (with ``extra`` config keys, e.g. ``workloadNodesEnabled="true"``)."""
    cfg = config(env, **extra)
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
