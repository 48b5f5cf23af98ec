"""Stack-level rules: stateful resources protected in prod; the platform has a model registry and monitoring."""

from __future__ import annotations

from collections.abc import Iterator

from mlops_platform.policies.rules._common import Ctx, Res, Stack
from mlops_platform.policies.rules._registry import stack_rule

STATEFUL_TYPES = (
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:rds/instance:Instance",
    "aws:rds/cluster:Cluster",
    "aws:kms/key:Key",
    "aws:ecr/repository:Repository",
    "aws:dynamodb/table:Table",
    "aws:efs/fileSystem:FileSystem",
)
PLATFORM = "mlops:platform:MlopsPlatform"


def _is_component(r: Res, kind: str) -> bool:
    """A platform component of the given class, whatever module token it lives under
    (``mlops:registry:ModelRegistry``, ``mlops:mlflow:ModelRegistry``...)."""
    return r.type.startswith("mlops:") and r.type.endswith(f":{kind}")


@stack_rule(
    "stack-stateful-protected",
    description="In prod every stateful resource (bucket, database, key, repository) is protected.",
    severity="high",
    remediation="Pass protect=True (protectionStatefulResources) to the component owning the resource.",
)
def stateful_protected(stack: Stack, ctx: Ctx) -> Iterator[tuple[str, str]]:
    for r in stack.of_type(*STATEFUL_TYPES):
        if ctx.environment_of(r) == "prod" and not r.protect:
            yield f"{r.type.rsplit(':', 1)[-1]} {r.name!r} is not protected (protect=True) in prod", r.urn


def _is_mlflow(r: Res) -> bool:
    if r.type != "kubernetes:apps/v1:Deployment":
        return False
    labels = r.path("metadata", "labels", default={}) or {}
    name = str(r.path("metadata", "name") or r.name)
    return "mlflow" in name or labels.get("app.kubernetes.io/name") == "mlflow"


def _is_prometheus_stack(r: Res) -> bool:
    return r.type.startswith("kubernetes:helm.sh/") and str(r.get("chart") or "").endswith(
        "kube-prometheus-stack"
    )


def _platforms(stack: Stack) -> list[Res]:
    return stack.of_type(PLATFORM)


@stack_rule(
    "platform-model-registry",
    description="A stack with the MlopsPlatform has a model registry (MLflow).",
    severity="medium",
    remediation="Enable the ModelRegistry component of the platform.",
)
def has_registry(stack: Stack, ctx: Ctx) -> Iterator[tuple[str, str]]:
    if any(_is_component(r, "ModelRegistry") or _is_mlflow(r) for r in stack.resources):
        return
    for p in _platforms(stack):
        yield "the platform has no model registry (ModelRegistry component or MLflow Deployment)", p.urn


@stack_rule(
    "platform-monitoring",
    description="A stack with the MlopsPlatform has monitoring (kube-prometheus-stack).",
    severity="medium",
    remediation="Enable the Monitoring component of the platform.",
)
def has_monitoring(stack: Stack, ctx: Ctx) -> Iterator[tuple[str, str]]:
    if any(_is_component(r, "Monitoring") or _is_prometheus_stack(r) for r in stack.resources):
        return
    for p in _platforms(stack):
        yield "the platform has no monitoring (Monitoring component or kube-prometheus-stack release)", p.urn
