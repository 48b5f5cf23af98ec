"""CodeBuild (the in-VPC deploy runner): inside the VPC, unprivileged, KMS-encrypted, logs to a group the
stack owns, bounded timeout, a pinned image, no secret in plaintext environment variables; and the deploy
role, which the IAM wildcard rule exempts by its path, trusted by CodeBuild for exactly one project."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from mlops_platform.policies.rules._common import Ctx, Res, Stack, as_list, statements, truthy
from mlops_platform.policies.rules._meta import STR_LIST, Prop
from mlops_platform.policies.rules._registry import resource_rule, stack_rule

PROJECT = "aws:codebuild/project:Project"
ROLE = "aws:iam/role:Role"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
DEFAULT_DEPLOY_ROLE_PATHS = ["/mlops-deploy/"]
_SECRETISH = re.compile(
    r"(PASSWORD|PASSWD|SECRET|TOKEN|PASSPHRASE|PRIVATE_?KEY|ACCESS_?KEY|API_?KEY|CREDENTIAL)"
)
_PINNED_IMAGE = re.compile(r"(:[A-Za-z0-9._-]+|@sha256:[a-f0-9]{64})$")


@resource_rule(
    "codebuild-in-vpc",
    PROJECT,
    description="CodeBuild projects run inside the VPC (private subnets and a security group).",
    severity="high",
    remediation="Set vpc_config with the VPC, its private subnet IDs and a security group of the project's own.",
)
def in_vpc(res: Res, ctx: Ctx) -> Iterator[str]:
    vpc = res.get("vpcConfig") or {}
    if not (vpc.get("vpcId") and as_list(vpc.get("subnets")) and as_list(vpc.get("securityGroupIds"))):
        yield "the project runs outside the VPC (vpcConfig with vpcId, private subnets and a security group)"


@resource_rule(
    "codebuild-no-privileged-mode",
    PROJECT,
    description="CodeBuild projects do not run in privileged mode.",
    severity="high",
    remediation="Set environment.privileged_mode=False (build images with a daemonless builder elsewhere).",
    checkov=("CKV_AWS_316",),
)
def unprivileged(res: Res, ctx: Ctx) -> Iterator[str]:
    if truthy((res.get("environment") or {}).get("privilegedMode")):
        yield "privilegedMode gives builds root on the build host (Docker daemon access)"


@resource_rule(
    "codebuild-kms-encryption",
    PROJECT,
    description="CodeBuild projects encrypt artifacts and caches with a customer-managed KMS key; S3 logs stay encrypted.",
    severity="medium",
    remediation="Set encryption_key to a customer-managed key ARN; never set s3_logs.encryption_disabled.",
    checkov=("CKV_AWS_147",),
)
def kms(res: Res, ctx: Ctx) -> Iterator[str]:
    key = res.get("encryptionKey")
    if not isinstance(key, str) or not key or key.endswith("alias/aws/s3"):
        yield "build artifacts and caches are not encrypted with a customer-managed KMS key (encryptionKey)"
    s3_logs = (res.get("logsConfig") or {}).get("s3Logs") or {}
    if s3_logs.get("status") == "ENABLED" and truthy(s3_logs.get("encryptionDisabled")):
        yield "build logs in S3 are written unencrypted (s3Logs.encryptionDisabled)"


@stack_rule(
    "codebuild-logs-kms",
    description="CodeBuild projects log to a CloudWatch log group the stack creates (so it has KMS and retention).",
    severity="medium",
    remediation="Create the log group (KMS key, retention) and name it in logs_config.cloudwatch_logs.group_name.",
)
def logs(stack: Stack, ctx: Ctx) -> Iterator[tuple[str, str]]:
    groups = stack.of_type(LOG_GROUP)
    names = {g.get("name") for g in groups if isinstance(g.get("name"), str)}
    for project in stack.of_type(PROJECT):
        cw = (project.get("logsConfig") or {}).get("cloudwatchLogs") or {}
        if cw.get("status") == "DISABLED":
            yield "build logs are not sent to CloudWatch Logs", project.urn
            continue
        name = cw.get("groupName")
        # The name of a log group the stack creates; while it is unknown (a preview of a new group),
        # the project's dependency on one of the stack's log groups stands for it.
        if isinstance(name, str) and name == UNKNOWN_STRING_VALUE:
            ok = _group_referenced(project, groups)
        else:
            ok = isinstance(name, str) and name in names
        if not ok:
            yield (
                "build logs go to a log group the stack does not create (CodeBuild would create "
                "/aws/codebuild/<project> without KMS encryption or retention): create it and name it in "
                "logsConfig.cloudwatchLogs.groupName",
                project.urn,
            )


def _group_referenced(project: Res, groups: list[Res]) -> bool:
    deps = set(project.property_dependencies.get("logsConfig", []))
    return any(g.urn in deps for g in groups)


@resource_rule(
    "codebuild-timeout",
    PROJECT,
    description="CodeBuild projects set an explicit, bounded build timeout.",
    severity="low",
    remediation="Set build_timeout (minutes) to at most the configured maximum.",
    props={"maxTimeoutMinutes": Prop({"type": "integer", "minimum": 5, "maximum": 2160}, 240)},
)
def timeout(res: Res, ctx: Ctx) -> Iterator[str]:
    limit = int(ctx.get("maxTimeoutMinutes"))
    minutes = res.get("buildTimeout")
    if not isinstance(minutes, int | float) or minutes > limit:
        yield f"buildTimeout is {minutes if minutes is not None else 'unset (60)'}; set it explicitly, at most {limit}"


@resource_rule(
    "codebuild-no-plaintext-secrets",
    PROJECT,
    description="CodeBuild environment variables that look like secrets are not PLAINTEXT.",
    severity="high",
    remediation="Use environment variables of type SECRETS_MANAGER or PARAMETER_STORE for secrets.",
    prowler=("codebuild_project_no_secrets_in_variables",),
)
def plaintext_secrets(res: Res, ctx: Ctx) -> Iterator[str]:
    for var in as_list((res.get("environment") or {}).get("environmentVariables")):
        if not isinstance(var, dict):
            continue
        name = str(var.get("name") or "")
        kind = var.get("type") or "PLAINTEXT"
        if kind == "PLAINTEXT" and _SECRETISH.search(name.upper()):
            yield (
                f"environment variable {name} looks like a secret and is PLAINTEXT; use type SECRETS_MANAGER "
                "or PARAMETER_STORE"
            )


@resource_rule(
    "codebuild-pinned-image",
    PROJECT,
    description="CodeBuild projects pin their build image to a version tag or a digest (never :latest).",
    severity="medium",
    remediation="Set environment.image to a curated image with its version, or an ECR image by digest.",
)
def pinned_image(res: Res, ctx: Ctx) -> Iterator[str]:
    image = str((res.get("environment") or {}).get("image") or "")
    if not _PINNED_IMAGE.search(image) or image.endswith(":latest"):
        yield f"build image {image or '(none)'!r} is not pinned to a version or a digest"


@resource_rule(
    "iam-deploy-role-trust",
    ROLE,
    description=(
        "A deploy role (IAM path listed in iam-no-wildcard-resource-write's exemptRolePaths) is assumable only "
        "by CodeBuild for one project of this account (aws:SourceAccount and aws:SourceArn)."
    ),
    severity="critical",
    remediation="Trust codebuild.amazonaws.com only, with aws:SourceAccount and the project's ARN in aws:SourceArn.",
    props={"deployRolePaths": Prop(STR_LIST, ["/mlops-deploy/"])},
)
def deploy_role_trust(res: Res, ctx: Ctx) -> Iterator[str]:
    paths = ctx.get("deployRolePaths")
    if res.get("path") not in paths:
        return
    stmts = [s for s in statements(res.get("assumeRolePolicy")) if s.get("Effect") == "Allow"]
    if not stmts:
        yield "the deploy role has no trust statement"
    for stmt in stmts:
        principal = stmt.get("Principal")
        services = as_list(principal.get("Service")) if isinstance(principal, dict) else []
        if (
            not isinstance(principal, dict)
            or set(principal) != {"Service"}
            or services != ["codebuild.amazonaws.com"]
        ):
            yield f"deploy role (path {res.get('path')}) is trusted by {principal!r}, not CodeBuild alone"
            continue
        cond = stmt.get("Condition") or {}
        source_arn = {
            k for op in cond.values() if isinstance(op, dict) for k in op if k.lower() == "aws:sourcearn"
        }
        account = {
            k for op in cond.values() if isinstance(op, dict) for k in op if k.lower() == "aws:sourceaccount"
        }
        arn_values = [
            v
            for op in cond.values()
            if isinstance(op, dict)
            for k, vs in op.items()
            if k.lower() == "aws:sourcearn"
            for v in as_list(vs)
        ]
        if (
            not source_arn
            or not account
            or any("*" in str(v) or ":project/" not in str(v) for v in arn_values)
        ):
            yield "the deploy role's trust does not pin aws:SourceAccount and one CodeBuild project's aws:SourceArn"
