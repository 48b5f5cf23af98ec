"""ECR: immutable tags, scan on push, KMS encryption, a lifecycle policy, no public repository policy."""

from __future__ import annotations

from collections.abc import Iterator

from policies.rules._common import (
    Ctx,
    Res,
    Stack,
    as_list,
    public_allow_statements,
    resource_rule,
    sid,
    stack_rule,
    truthy,
)

REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"


@resource_rule("ecr-immutable-tags", REPOSITORY)
def immutable(res: Res, ctx: Ctx) -> Iterator[str]:
    if res.get("imageTagMutability") != "IMMUTABLE":
        yield f"imageTagMutability is {res.get('imageTagMutability') or 'MUTABLE (default)'}; tags can be overwritten"


@resource_rule("ecr-scan-on-push", REPOSITORY)
def scan_on_push(res: Res, ctx: Ctx) -> Iterator[str]:
    if not truthy((res.get("imageScanningConfiguration") or {}).get("scanOnPush")):
        yield "images are not scanned on push"


@resource_rule("ecr-kms-encryption", REPOSITORY)
def kms(res: Res, ctx: Ctx) -> Iterator[str]:
    configs = [c for c in as_list(res.get("encryptionConfigurations")) if isinstance(c, dict)]
    if not any(c.get("encryptionType") == "KMS" and c.get("kmsKey") for c in configs):
        yield "the repository is not encrypted with a customer-managed KMS key"


@resource_rule("ecr-no-force-delete-prod", REPOSITORY)
def no_force_delete(res: Res, ctx: Ctx) -> Iterator[str]:
    if ctx.prod and truthy(res.get("forceDelete")):
        yield "forceDelete deletes the repository with its images; it is not allowed in prod"


@resource_rule("ecr-no-public-policy", REPOSITORY_POLICY)
def no_public_policy(res: Res, ctx: Ctx) -> Iterator[str]:
    for stmt in public_allow_statements(res.get("policy")):
        yield f"{sid(stmt)} grants principal '*' access to the repository"


@stack_rule("ecr-lifecycle-policy")
def lifecycle(stack: Stack, ctx: Ctx) -> Iterator[tuple[str, str]]:
    for repo in stack.of_type(REPOSITORY):
        ids = [v for v in (repo.get("name"), repo.get("id")) if isinstance(v, str)]
        if not stack.referencing(repo, [LIFECYCLE], "repository", ids):
            yield f"repository {repo.get('name') or repo.name!r} has no lifecycle policy", repo.urn


RULES = [immutable, scan_on_push, kms, no_force_delete, no_public_policy, lifecycle]
