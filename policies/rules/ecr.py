"""ECR: immutable tags, scan on push, KMS encryption, a lifecycle policy, no public repository policy."""

from __future__ import annotations

from collections.abc import Iterator

from mlops_platform.policies.rules._common import (
    Ctx,
    Res,
    Stack,
    as_list,
    public_allow_statements,
    sid,
    truthy,
)
from mlops_platform.policies.rules._meta import RELAXED_DEV, cis_eks
from mlops_platform.policies.rules._registry import resource_rule, stack_rule

REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"


@resource_rule(
    "ecr-immutable-tags",
    REPOSITORY,
    description="ECR repositories have immutable tags.",
    severity="medium",
    remediation="Set image_tag_mutability='IMMUTABLE'.",
    checkov=("CKV_AWS_51",),
    prowler=("ecr_repositories_tag_immutability",),
)
def immutable(res: Res, ctx: Ctx) -> Iterator[str]:
    if res.get("imageTagMutability") != "IMMUTABLE":
        yield f"imageTagMutability is {res.get('imageTagMutability') or 'MUTABLE (default)'}; tags can be overwritten"


@resource_rule(
    "ecr-scan-on-push",
    REPOSITORY,
    description="ECR repositories scan images on push.",
    severity="medium",
    remediation="Set image_scanning_configuration scan_on_push=True.",
    framework=cis_eks("5.1.1"),
    checkov=("CKV_AWS_163",),
    prowler=("ecr_repositories_scan_images_on_push_enabled",),
)
def scan_on_push(res: Res, ctx: Ctx) -> Iterator[str]:
    if not truthy((res.get("imageScanningConfiguration") or {}).get("scanOnPush")):
        yield "images are not scanned on push"


@resource_rule(
    "ecr-kms-encryption",
    REPOSITORY,
    description="ECR repositories are encrypted with a customer-managed KMS key.",
    severity="medium",
    remediation="Set encryption_configurations=[{encryption_type: 'KMS', kms_key: <key ARN>}].",
    checkov=("CKV_AWS_136",),
)
def kms(res: Res, ctx: Ctx) -> Iterator[str]:
    configs = [c for c in as_list(res.get("encryptionConfigurations")) if isinstance(c, dict)]
    if not any(c.get("encryptionType") == "KMS" and c.get("kmsKey") for c in configs):
        yield "the repository is not encrypted with a customer-managed KMS key"


@resource_rule(
    "ecr-no-force-delete-prod",
    REPOSITORY,
    description="ECR repositories in prod cannot be force-deleted with their images.",
    severity="medium",
    remediation="Set force_delete=False for prod repositories.",
)
def no_force_delete(res: Res, ctx: Ctx) -> Iterator[str]:
    if ctx.prod and truthy(res.get("forceDelete")):
        yield "forceDelete deletes the repository with its images; it is not allowed in prod"


@resource_rule(
    "ecr-no-public-policy",
    REPOSITORY_POLICY,
    description="ECR repository policies do not grant principal '*'.",
    severity="critical",
    remediation="Grant pull to named roles (the node role) only.",
    checkov=("CKV_AWS_32",),
    prowler=("ecr_repositories_not_publicly_accessible",),
)
def no_public_policy(res: Res, ctx: Ctx) -> Iterator[str]:
    for stmt in public_allow_statements(res.get("policy")):
        yield f"{sid(stmt)} grants principal '*' access to the repository"


@stack_rule(
    "ecr-lifecycle-policy",
    description="Every ECR repository has a lifecycle policy.",
    severity="low",
    remediation="Add aws.ecr.LifecyclePolicy keeping the last N tagged images and expiring untagged ones.",
    enforcement=RELAXED_DEV,
    prowler=("ecr_repositories_lifecycle_policy_enabled",),
)
def lifecycle(stack: Stack, ctx: Ctx) -> Iterator[tuple[str, str]]:
    for repo in stack.of_type(REPOSITORY):
        ids = [v for v in (repo.get("name"), repo.get("id")) if isinstance(v, str)]
        if not stack.referencing(repo, [LIFECYCLE], "repository", ids):
            yield f"repository {repo.get('name') or repo.name!r} has no lifecycle policy", repo.urn
