"""IAM: no ``*`` actions, no ``*`` resources with write actions, no admin policies, no ``*`` trust
principals, and IRSA trust scoped to exactly one service account."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Mapping
from typing import Any

from mlops_platform.policies.rules._common import (
    Ctx,
    Res,
    actions,
    as_list,
    is_public_principal,
    principals,
    resources_of,
    sid,
    statements,
)
from mlops_platform.policies.rules._meta import STR_LIST, Prop, cis_aws, cis_eks
from mlops_platform.policies.rules._registry import resource_rule

ROLE = "aws:iam/role:Role"
IDENTITY_POLICY_TYPES = (
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
ATTACHMENT_TYPES = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
)
ADMIN_POLICY_NAMES = ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess")
READ_VERBS = (
    "Get",
    "List",
    "Describe",
    "BatchGet",
    "Query",
    "Scan",
    "Search",
    "Select",
    "View",
    "Lookup",
    "Filter",
    "Validate",
)
DEFAULT_WILDCARD_RESOURCE_ACTIONS = [
    "cloudwatch:PutMetricData",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
]


def identity_documents(res: Res) -> list[tuple[str, Any]]:
    """The identity-policy documents a resource defines: ``(label, document)``."""
    if res.type == ROLE:
        return [
            (f"inline policy {p.get('name')!r}", p.get("policy"))
            for p in as_list(res.get("inlinePolicies"))
            if isinstance(p, dict) and p.get("policy")
        ]
    return [("policy", res.get("policy"))] if res.get("policy") else []


def _allows(doc: Any) -> Iterator[dict[str, Any]]:
    for stmt in statements(doc):
        if stmt.get("Effect") == "Allow":
            yield stmt


def is_read_only(action: str) -> bool:
    if action == "*" or ":" not in action:
        return False
    verb = action.split(":", 1)[1]
    return any(verb.startswith(v) for v in READ_VERBS)


# Reads that disclose secrets or data: on every resource they are as dangerous as writes. An action
# pattern counts when it covers one of these (``s3:Get*``, ``ssm:GetParameter*``).
SENSITIVE_READS = (
    "secretsmanager:GetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "kms:Decrypt",
    "s3:GetObject",
)
_WILDCARD_ONLY = re.compile(r"^[*?]+$")
_RESOURCE_TYPE = re.compile(r"^[A-Za-z][-A-Za-z0-9_.]*$")


def is_sensitive_read(action: str) -> bool:
    pattern = action.lower()
    return any(fnmatch.fnmatchcase(s.lower(), pattern) for s in SENSITIVE_READS)


_TAG_CONDITION = re.compile(r"^aws:(ResourceTag|RequestTag)/.+$", re.IGNORECASE)
_LAUNCH_ACTIONS = frozenset({"ec2:runinstances", "ec2:createfleet"})
_LAUNCH_REFERENCES = frozenset(
    {"image", "snapshot", "subnet", "security-group", "capacity-reservation", "placement-group"}
)


def is_tag_scoped(stmt: Mapping[str, Any]) -> bool:
    """Whether the statement is scoped by tags (attribute-based): a ``StringEquals`` on an
    ``aws:ResourceTag/<key>`` or ``aws:RequestTag/<key>`` with exact values (no wildcard). Resources whose IDs
    cannot be known in advance (the instances an autoscaler launches) are scoped this way: only what carries the
    owner's tag, or is created with it, qualifies."""
    equals = (stmt.get("Condition") or {}).get("StringEquals") or {}
    if not isinstance(equals, Mapping):
        return False
    for key, value in equals.items():
        values = [str(v) for v in as_list(value)]
        if _TAG_CONDITION.match(str(key)) and values and not any("*" in v or "?" in v for v in values):
            return True
    return False


def is_launch_reference(stmt: Mapping[str, Any], resource: str) -> bool:
    """Whether ``resource`` is one a launch only references: ``ec2:RunInstances``/``ec2:CreateFleet`` on images,
    snapshots, subnets and security groups (and capacity reservations, placement groups) writes nothing to
    them; what a launch creates (instances, volumes, interfaces) is authorized on its own ARNs."""
    acts = {a.lower() for a in actions(stmt)}
    if not acts or not acts <= _LAUNCH_ACTIONS:
        return False
    parts = resource.split(":", 5)
    return len(parts) == 6 and parts[2] == "ec2" and parts[5].split("/", 1)[0] in _LAUNCH_REFERENCES


def is_wildcard_resource(resource: str) -> bool:
    """``*``, or an ARN whose resource part is only a wildcard (possibly after a resource type):
    ``arn:aws:s3:::*``, ``arn:aws:s3:::*/*``, ``arn:aws:iam::*:role/*``, ``arn:*:logs:*:*:log-group:*``.
    ``arn:aws:s3:::bucket/*`` and ``arn:aws:logs:r:a:log-group:/aws/eks/*`` name something and are not."""
    r = resource.strip()
    if _WILDCARD_ONLY.match(r):
        return True
    parts = r.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return False
    service, rest = parts[2], parts[5]
    segments = [seg for seg in re.split(r"[/:]", rest) if seg]
    if not segments:
        return False
    if all(_WILDCARD_ONLY.match(seg) for seg in segments):
        return True
    # "role/*", "secret:*", "parameter/*": a literal resource type followed by wildcards only (S3's
    # first segment is a bucket name, not a type).
    return (
        service.lower() != "s3"
        and len(segments) > 1
        and bool(_RESOURCE_TYPE.match(segments[0]))
        and all(_WILDCARD_ONLY.match(seg) for seg in segments[1:])
    )


@resource_rule(
    "iam-no-wildcard-action",
    ROLE,
    *IDENTITY_POLICY_TYPES,
    description="Identity policies never allow every action ('*' or Allow+NotAction).",
    severity="critical",
    remediation="List the actions the workload needs.",
    framework=cis_aws("1.16"),
    checkov=("CKV_AWS_63", "CKV_AWS_62"),
    prowler=("iam_inline_policy_no_administrative_privileges",),
)
def no_wildcard_action(res: Res, ctx: Ctx) -> Iterator[str]:
    for label, doc in identity_documents(res):
        for stmt in _allows(doc):
            if any(a in ("*", "*:*") for a in actions(stmt)):
                yield f"{label} {sid(stmt)} allows every action ('*')"
            if stmt.get("NotAction"):
                yield f"{label} {sid(stmt)} uses Allow with NotAction, which grants nearly everything"


@resource_rule(
    "iam-no-wildcard-resource-write",
    ROLE,
    *IDENTITY_POLICY_TYPES,
    description=(
        "Identity policies do not allow write actions or sensitive reads (secret values, SSM parameters, "
        "kms:Decrypt, s3:GetObject) on every resource ('*' or an ARN whose resource part is only a wildcard)."
    ),
    severity="high",
    remediation=(
        "Scope write actions and sensitive reads to the ARNs they need (bucket prefix, secret, parameter path, "
        "key, topic...)."
    ),
    checkov=("CKV_AWS_290", "CKV_AWS_289", "CKV_AWS_355"),
    props={
        "allowedActions": Prop(
            STR_LIST, ["cloudwatch:PutMetricData", "xray:PutTraceSegments", "xray:PutTelemetryRecords"]
        ),
        # Roles on these paths deploy the platform (components/deploy_runner.py): creating VPCs, clusters
        # and keys has no narrower resource; iam-deploy-role-trust limits who can assume them.
        "exemptRolePaths": Prop(STR_LIST, ["/mlops-deploy/"]),
    },
)
def no_wildcard_resource_write(res: Res, ctx: Ctx) -> Iterator[str]:
    exempt = {a.lower() for a in ctx.get("allowedActions")}
    if res.type == ROLE and res.get("path") in ctx.get("exemptRolePaths"):
        # The deploy runner's role (iam-deploy-role-trust pins who may assume a role on such a path).
        return
    for label, doc in identity_documents(res):
        for stmt in _allows(doc):
            if is_tag_scoped(stmt):
                continue
            wild = [
                r for r in resources_of(stmt) if is_wildcard_resource(r) and not is_launch_reference(stmt, r)
            ]
            if not wild:
                continue
            risky = [
                a
                for a in actions(stmt)
                if a not in ("*", "*:*")
                and a.lower() not in exempt
                and (not is_read_only(a) or is_sensitive_read(a))
            ]
            if risky:
                on = ", ".join(repr(r) for r in sorted(set(wild)))
                yield f"{label} {sid(stmt)} allows {', '.join(sorted(risky))} on every resource ({on})"


@resource_rule(
    "iam-no-admin-policy",
    ROLE,
    *IDENTITY_POLICY_TYPES,
    *ATTACHMENT_TYPES,
    description="No administrator policy (AdministratorAccess, PowerUserAccess, IAMFullAccess, '*'/'iam:*' on '*').",
    severity="critical",
    remediation="Attach least-privilege policies instead; grant cluster admin through EKS access entries.",
    framework=cis_aws("1.16"),
    checkov=("CKV_AWS_274", "CKV_AWS_62"),
    prowler=("iam_aws_attached_policy_no_administrative_privileges",),
)
def no_admin(res: Res, ctx: Ctx) -> Iterator[str]:
    arns = [
        str(a)
        for a in as_list(res.get("policyArn"))
        + as_list(res.get("managedPolicyArns"))
        + as_list(res.get("policyArns"))
    ]
    for arn in arns:
        if any(arn.endswith(f":policy/{n}") for n in ADMIN_POLICY_NAMES):
            yield f"attaches the administrative managed policy {arn.rsplit('/', 1)[-1]}"
    for label, doc in identity_documents(res):
        for stmt in _allows(doc):
            acts = actions(stmt)
            if "*" in resources_of(stmt) and any(a in ("*", "*:*", "iam:*") for a in acts):
                yield f"{label} {sid(stmt)} grants administrator access ({', '.join(acts)} on '*')"


@resource_rule(
    "iam-trust-no-wildcard-principal",
    ROLE,
    description="Role trust policies never let principal '*' assume the role.",
    severity="critical",
    remediation="Name the account, role, service or OIDC provider that may assume the role.",
    checkov=("CKV_AWS_60",),
    prowler=("iam_role_cross_service_confused_deputy_prevention",),
)
def trust_no_wildcard(res: Res, ctx: Ctx) -> Iterator[str]:
    for stmt in statements(res.get("assumeRolePolicy")):
        if stmt.get("Effect") == "Allow" and is_public_principal(stmt):
            yield f"trust policy {sid(stmt)} lets any principal ('*') assume the role"


_SA = re.compile(r"^system:serviceaccount:[a-z0-9]([-a-z0-9]*[a-z0-9])?:[a-z0-9]([-.a-z0-9]*[a-z0-9])?$")


def _condition_values(stmt: dict[str, Any], suffix: str) -> dict[str, list[str]]:
    """``{operator: [values]}`` for condition keys ending with ``suffix`` (e.g. ``:sub``)."""
    out: dict[str, list[str]] = {}
    cond = stmt.get("Condition") or {}
    for op, body in cond.items() if isinstance(cond, dict) else []:
        if isinstance(body, dict):
            for key, val in body.items():
                if str(key).endswith(suffix):
                    out.setdefault(str(op), []).extend(str(v) for v in as_list(val))
    return out


@resource_rule(
    "iam-irsa-trust-scoped",
    ROLE,
    description="IRSA (web identity) trust is scoped to exactly one service account and the STS audience.",
    severity="high",
    remediation=(
        "Add StringEquals '<issuer>:sub' = 'system:serviceaccount:<namespace>:<name>' and '<issuer>:aud' = "
        "'sts.amazonaws.com'."
    ),
    framework=cis_eks("5.2.1"),
)
def irsa_scoped(res: Res, ctx: Ctx) -> Iterator[str]:
    for stmt in statements(res.get("assumeRolePolicy")):
        if stmt.get("Effect") != "Allow":
            continue
        federated = principals(stmt).get("Federated", [])
        if not any("oidc-provider/" in f for f in federated):
            continue
        subs = _condition_values(stmt, ":sub")
        auds = _condition_values(stmt, ":aud")
        sub_values = subs.get("StringEquals", [])
        if set(subs) - {"StringEquals"} or len(sub_values) != 1 or not _SA.match(sub_values[0]):
            yield (
                f"web-identity trust {sid(stmt)} is not scoped to exactly one service account "
                f"(StringEquals '<issuer>:sub' = 'system:serviceaccount:<namespace>:<name>'; got {subs or 'none'})"
            )
        if auds.get("StringEquals") != ["sts.amazonaws.com"]:
            yield f"web-identity trust {sid(stmt)} does not require audience sts.amazonaws.com (got {auds or 'none'})"
