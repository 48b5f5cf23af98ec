"""Fake outputs of a platform stack, for rendering consumer projects offline.

A consumer project reads the platform through :meth:`mlops_platform.components.platform.outputs.PlatformOutputs.from_stack`, a
StackReference. Offline there is no backend to read it from, so :class:`~mlops_platform.mlops.fakecloud.FakeCloud`
answers a reference to a stack of the platform project with :func:`platform_outputs`: every output of the
contract, shaped like the real ones and derived from the stack name.

The fake resolves a name the way the Pulumi CLI does (:func:`parse_stack_name`) and refuses, with
:class:`StackReferenceError`, what it cannot answer truthfully: a name Pulumi would reject, a stack of another
project, a stack not named after one of the platform's environments, an unknown region, an output outside the
contract. It never makes a value up.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mlops_platform.components.governance import ENVIRONMENTS
from mlops_platform.components.platform.outputs import CONTRACT_VERSION_EXPORT, EXPORT_NAMES, OUTPUTS_VERSION

PLATFORM_PROJECT = "mlops-platform"

DIY_ORGANIZATION = "organization"
"""The organization of every stack of a self-managed (DIY: S3, file) backend."""

# What Pulumi accepts, from its own sources (pulumi/pulumi):
# - pkg/backend/httpstate/backend.go `parseStackName` and pkg/backend/diy/store.go
#   `projectReferenceStore.ParseReference`: a stack reference is `<stack>`, `<org>/<stack>` or
#   `<org>/<project>/<stack>` (two parts are the organization and the stack, *not* the project); anything
#   else "could not parse stack reference". An omitted (or empty) organization is the backend's default one
#   ("organization" on a DIY backend, which accepts no other), an omitted project the current project's.
# - sdk/go/common/tokens `ParseStackName`: a stack name is 1-100 characters, alphanumerics, hyphens,
#   underscores or periods; `ValidateProjectName`: the same for a project name.
# - docs (Automation API `fullyQualifiedStackName`): "org/project/stack ... Non-legacy DIY backends do support
#   the org/project/stack format, but org must be set to 'organization'".
# The backend is not known offline, so any organization is accepted.
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_FORMS = "<stack>, <org>/<stack> or <org>/<project>/<stack>"


class StackReferenceError(Exception):
    """A StackReference the offline engine cannot answer truthfully; the message says why."""


@dataclass(frozen=True)
class StackName:
    """A stack reference resolved as the Pulumi CLI resolves it."""

    organization: str | None
    """None: omitted, the backend's default organization."""
    project: str
    stack: str

    def __str__(self) -> str:
        return f"{self.organization or DIY_ORGANIZATION}/{self.project}/{self.stack}"


def parse_stack_name(name: str, *, project: str) -> StackName:
    """``name`` as the Pulumi CLI reads a StackReference's name from a program of ``project``.

    Raises :class:`StackReferenceError` for a name Pulumi would refuse."""
    parts = name.split("/")
    if len(parts) > 3:
        raise StackReferenceError(
            f"StackReference {name!r}: Pulumi could not parse it, a stack name is {_FORMS}"
        )
    stack = parts[-1]
    org = parts[0] if len(parts) >= 2 and parts[0] else None
    proj = parts[1] if len(parts) == 3 and parts[1] else project
    if not _NAME.fullmatch(stack):
        raise StackReferenceError(
            f"StackReference {name!r}: the stack name {stack!r} is not one Pulumi accepts: 1 to 100 letters, "
            "digits, hyphens, underscores or periods"
        )
    if not _NAME.fullmatch(proj):
        raise StackReferenceError(
            f"StackReference {name!r}: the project name {proj!r} is not one Pulumi accepts: 1 to 100 letters, "
            "digits, hyphens, underscores or periods"
        )
    return StackName(organization=org, project=proj, stack=stack)


def resolve_platform_stack(name: str, *, project: str) -> StackName:
    """``name`` resolved to a stack of the platform project named after an environment, or an error.

    ``project`` is the project of the program that holds the reference: a name without a project
    (``dev``, ``acme/dev``) refers to a stack of that project, as it does under the Pulumi CLI."""
    ref = parse_stack_name(name, project=project)
    if ref.project != PLATFORM_PROJECT:
        implied = ""
        if name.count("/") == 1:
            implied = (
                " (two parts are <org>/<stack>: a name without a project refers to the program's own project)"
            )
        elif "/" not in name:
            implied = " (a name without a project refers to the program's own project)"
        raise StackReferenceError(
            f"StackReference {name!r} names stack {ref.stack!r} of project {ref.project!r}{implied}; offline, only "
            f"the platform's stacks are answered: <org>/{PLATFORM_PROJECT}/<environment>, the environment one "
            f"of {', '.join(ENVIRONMENTS)}"
        )
    if ref.stack not in ENVIRONMENTS:
        raise StackReferenceError(
            f"StackReference {name!r}: {ref.stack!r} is not an environment of the platform; offline a platform "
            f"stack is known by its environment, so its name must be one of {', '.join(ENVIRONMENTS)}"
        )
    return ref


def known_outputs(outputs: Iterable[str]) -> str:
    """The names an unknown output is refused with, sorted."""
    return ", ".join(sorted(outputs))


def unknown_output(
    reference: str, output: str, outputs: Iterable[str], *, contract: bool
) -> StackReferenceError:
    """The error for reading ``output`` from a reference whose outputs are ``outputs``."""
    what = (
        "the platform's outputs contract (mlops_platform.components.platform.outputs) has"
        if contract
        else "its outputs are"
    )
    return StackReferenceError(
        f"StackReference {reference!r} has no output {output!r}; {what}: {known_outputs(outputs)}"
    )


def platform_outputs(
    stack: str, *, region: str = "eu-west-1", account_id: str = "123456789012"
) -> dict[str, Any]:
    """Every output of the contract for ``stack`` (``<org>/mlops-platform/<environment>``), keyed by export
    name, deterministic. Raises :class:`StackReferenceError` for a stack that is not one of the platform's."""
    env = resolve_platform_stack(stack, project=PLATFORM_PROJECT).stack
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
            for repo in ("mlflow", "training", "serving", "mlserver")
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
