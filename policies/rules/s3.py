"""S3: public access, ownership, TLS, encryption with a customer key, versioning, lifecycle, logging."""

from __future__ import annotations

from collections.abc import Iterator

from mlops_platform.policies.rules._common import (
    Ctx,
    Res,
    Stack,
    as_list,
    public_allow_statements,
    sid,
    statements,
    truthy,
)
from mlops_platform.policies.rules._meta import RELAXED_DEV, cis_aws
from mlops_platform.policies.rules._registry import resource_rule, stack_rule

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PAB_TYPES = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
SSE_TYPES = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
VERSIONING_TYPES = (
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2",
)
LIFECYCLE_TYPES = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
LOGGING_TYPES = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
OWNERSHIP_TYPES = ("aws:s3/bucketOwnershipControls:BucketOwnershipControls",)
POLICY_TYPES = ("aws:s3/bucketPolicy:BucketPolicy",)
ACL_TYPES = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")

PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
PUBLIC_CANNED_ACLS = {"public-read", "public-read-write", "authenticated-read"}
PUBLIC_GRANTEES = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)


def _ids(bucket: Res) -> list[str]:
    return [v for v in (bucket.get("bucket"), bucket.get("id"), bucket.get("arn")) if isinstance(v, str)]


def _siblings(stack: Stack, bucket: Res, types: tuple[str, ...]) -> list[Res]:
    return stack.referencing(bucket, types, "bucket", _ids(bucket))


def _label(bucket: Res) -> str:
    name = bucket.get("bucket")
    return f"bucket {name!r}" if isinstance(name, str) else f"bucket {bucket.name!r}"


# ---- resource rules --------------------------------------------------------------------------------


@resource_rule(
    "s3-public-access-block-all",
    *PAB_TYPES,
    description="An S3 public access block turns on all four flags.",
    severity="high",
    remediation="Set block_public_acls, block_public_policy, ignore_public_acls and restrict_public_buckets to True.",
    framework=cis_aws("2.1.4"),
    checkov=("CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56"),
    prowler=("s3_bucket_level_public_access_block",),
)
def pab_flags(res: Res, ctx: Ctx) -> Iterator[str]:
    off = [f for f in PAB_FLAGS if not truthy(res.get(f))]
    if off:
        yield f"public access block leaves {', '.join(off)} off; all four flags must be true"


@resource_rule(
    "s3-no-public-acl",
    *BUCKET_TYPES,
    *ACL_TYPES,
    description="S3 buckets have no public canned ACL or grant to AllUsers/AuthenticatedUsers.",
    severity="critical",
    remediation="Remove the ACL; enforce object ownership (BucketOwnerEnforced) so ACLs are disabled.",
    checkov=("CKV_AWS_20", "CKV_AWS_57"),
    prowler=("s3_bucket_public_access",),
)
def no_public_acl(res: Res, ctx: Ctx) -> Iterator[str]:
    acl = res.get("acl")
    if isinstance(acl, str) and acl in PUBLIC_CANNED_ACLS:
        yield f"canned ACL {acl!r} makes the bucket readable outside the account"
    grants: list = as_list(res.get("grants")) + as_list(res.path("accessControlPolicy", "grants"))
    for grant in grants:
        grantee = grant.get("grantee") if isinstance(grant, dict) else None
        uri = (grantee or {}).get("uri") if isinstance(grantee, dict) else None
        uri = uri or (grant.get("uri") if isinstance(grant, dict) else None)
        if uri in PUBLIC_GRANTEES:
            yield f"ACL grant to {uri} makes the bucket public"


@resource_rule(
    "s3-no-public-policy",
    *BUCKET_TYPES,
    *POLICY_TYPES,
    description="S3 bucket policies do not allow principal '*' without a condition pinning the caller.",
    severity="critical",
    remediation="Grant named principals (account roles) instead of '*', or add aws:SourceArn/aws:PrincipalOrgID conditions.",
    checkov=("CKV_AWS_70",),
    prowler=("s3_bucket_policy_public_write_access", "s3_bucket_public_access"),
)
def no_public_policy(res: Res, ctx: Ctx) -> Iterator[str]:
    for stmt in public_allow_statements(res.get("policy")):
        yield f"{sid(stmt)} allows principal '*' without a condition that pins the caller"


@resource_rule(
    "s3-no-force-destroy-prod",
    *BUCKET_TYPES,
    description="Buckets in prod cannot be force-destroyed.",
    severity="high",
    remediation="Set force_destroy=False (artifactsForceDestroy) for prod buckets.",
)
def no_force_destroy(res: Res, ctx: Ctx) -> Iterator[str]:
    if ctx.prod and truthy(res.get("forceDestroy")):
        yield "forceDestroy deletes every object with the bucket; it is not allowed in prod"


# ---- stack rules (settings that live on sibling resources) ---------------------------------------


@stack_rule(
    "s3-bucket-public-access-block",
    description="Every S3 bucket has a public access block.",
    severity="high",
    remediation="Add an aws.s3.BucketPublicAccessBlock for the bucket with all four flags on.",
    framework=cis_aws("2.1.4"),
    checkov=("CKV2_AWS_6",),
    prowler=("s3_bucket_level_public_access_block",),
)
def bucket_has_pab(stack: Stack, ctx: Ctx) -> Iterator[tuple[str, str]]:
    for b in stack.of_type(*BUCKET_TYPES):
        if not _siblings(stack, b, PAB_TYPES):
            yield f"{_label(b)} has no BucketPublicAccessBlock", b.urn


@stack_rule(
    "s3-bucket-ownership-enforced",
    description="Every bucket enforces object ownership (BucketOwnerEnforced, ACLs disabled).",
    severity="medium",
    remediation="Add aws.s3.BucketOwnershipControls with object_ownership='BucketOwnerEnforced'.",
    checkov=("CKV2_AWS_65",),
    prowler=("s3_bucket_acl_prohibited",),
)
def bucket_ownership(stack: Stack, ctx: Ctx) -> Iterator[tuple[str, str]]:
    for b in stack.of_type(*BUCKET_TYPES):
        found = _siblings(stack, b, OWNERSHIP_TYPES)
        if not found:
            yield f"{_label(b)} has no BucketOwnershipControls (ACLs stay enabled)", b.urn
        for oc in found:
            rules = as_list(oc.get("rule"))
            owners = {r.get("objectOwnership") for r in rules if isinstance(r, dict)}
            if owners != {"BucketOwnerEnforced"}:
                yield (
                    f"{_label(b)} object ownership is {sorted(map(str, owners))}, not BucketOwnerEnforced",
                    oc.urn,
                )


def _tls_denied(policy: object) -> bool:
    for stmt in statements(policy):
        if stmt.get("Effect") != "Deny":
            continue
        cond = stmt.get("Condition") or {}
        bools = cond.get("Bool") if isinstance(cond, dict) else None
        if isinstance(bools, dict) and str(bools.get("aws:SecureTransport")).lower() == "false":
            return True
        nums = cond.get("NumericLessThan") if isinstance(cond, dict) else None
        if isinstance(nums, dict) and "s3:TlsVersion" in nums:
            return True
    return False


@stack_rule(
    "s3-bucket-tls-only",
    description="Every bucket policy denies requests that do not use TLS.",
    severity="high",
    remediation="Add a Deny statement for s3:* on the bucket and its objects with Condition Bool aws:SecureTransport=false.",
    framework=cis_aws("2.1.1"),
    prowler=("s3_bucket_secure_transport_policy",),
)
def bucket_tls_only(stack: Stack, ctx: Ctx) -> Iterator[tuple[str, str]]:
    for b in stack.of_type(*BUCKET_TYPES):
        policies = [b.get("policy")] + [p.get("policy") for p in _siblings(stack, b, POLICY_TYPES)]
        if not any(_tls_denied(p) for p in policies if p):
            yield f"{_label(b)} has no bucket policy statement denying requests without TLS", b.urn


def _log_targets(stack: Stack) -> set[str]:
    targets: set[str] = set()
    for lg in stack.of_type(*LOGGING_TYPES):
        targets.update(lg.deps_of("targetBucket"))
        if isinstance(lg.get("targetBucket"), str):
            targets.add(lg.get("targetBucket"))
    for b in stack.of_type(*BUCKET_TYPES):
        target = b.path("logging", "targetBucket")
        if isinstance(target, str):
            targets.add(target)
    return targets


def _is_log_target(bucket: Res, targets: set[str]) -> bool:
    return bucket.urn in targets or any(i in targets for i in _ids(bucket))


@stack_rule(
    "s3-bucket-encryption-kms",
    description=(
        "Every bucket encrypts with SSE-KMS and a customer-managed key (server access log targets may use "
        "SSE-S3, the only encryption S3 log delivery supports)."
    ),
    severity="high",
    remediation=(
        "Add aws.s3.BucketServerSideEncryptionConfiguration with sse_algorithm='aws:kms', the data key's ARN "
        "and bucket_key_enabled=True."
    ),
    checkov=("CKV_AWS_145", "CKV_AWS_19"),
    prowler=("s3_bucket_kms_encryption",),
)
def bucket_encryption(stack: Stack, ctx: Ctx) -> Iterator[tuple[str, str]]:
    targets = _log_targets(stack)
    for b in stack.of_type(*BUCKET_TYPES):
        rules: list = []
        for c in _siblings(stack, b, SSE_TYPES):
            rules.extend(as_list(c.get("rules")))
        inline = b.path("serverSideEncryptionConfiguration", "rule")
        if isinstance(inline, dict):
            rules.append(inline)
        if not rules:
            yield f"{_label(b)} has no server-side encryption configuration", b.urn
            continue
        for rule in rules:
            default = rule.get("applyServerSideEncryptionByDefault") or {}
            algo = default.get("sseAlgorithm")
            key = default.get("kmsMasterKeyId")
            if algo in ("aws:kms", "aws:kms:dsse") and key:
                continue
            # S3 server access logs can only be delivered to SSE-S3 buckets (an AWS limitation).
            if algo == "AES256" and _is_log_target(b, targets):
                continue
            yield (
                f"{_label(b)} encrypts with {algo or 'nothing'}"
                f"{'' if key or algo != 'aws:kms' else ' and the AWS-managed key'}; use SSE-KMS with a "
                "customer-managed key",
                b.urn,
            )


@stack_rule(
    "s3-bucket-versioning",
    description="Every bucket is versioned.",
    severity="medium",
    remediation="Add aws.s3.BucketVersioning with status 'Enabled'.",
    enforcement=RELAXED_DEV,
    framework=cis_aws("2.1.2"),
    checkov=("CKV_AWS_21",),
    prowler=("s3_bucket_object_versioning",),
)
def bucket_versioning(stack: Stack, ctx: Ctx) -> Iterator[tuple[str, str]]:
    for b in stack.of_type(*BUCKET_TYPES):
        states = [v.path("versioningConfiguration", "status") for v in _siblings(stack, b, VERSIONING_TYPES)]
        if truthy(b.path("versioning", "enabled")):
            states.append("Enabled")
        if "Enabled" not in states:
            yield f"{_label(b)} is not versioned (status {states or 'unset'})", b.urn


@stack_rule(
    "s3-bucket-lifecycle",
    description="Every bucket expires noncurrent versions and aborts incomplete multipart uploads.",
    severity="low",
    remediation=(
        "Add aws.s3.BucketLifecycleConfiguration with noncurrent_version_expiration and "
        "abort_incomplete_multipart_upload rules."
    ),
    enforcement=RELAXED_DEV,
    checkov=("CKV2_AWS_61", "CKV_AWS_300"),
    prowler=("s3_bucket_lifecycle_enabled",),
)
def bucket_lifecycle(stack: Stack, ctx: Ctx) -> Iterator[tuple[str, str]]:
    for b in stack.of_type(*BUCKET_TYPES):
        rules: list = []
        for c in _siblings(stack, b, LIFECYCLE_TYPES):
            rules.extend(
                r for r in as_list(c.get("rules")) if isinstance(r, dict) and r.get("status") == "Enabled"
            )
        noncurrent = any(r.get("noncurrentVersionExpiration") for r in rules)
        abort = any(r.get("abortIncompleteMultipartUpload") for r in rules)
        missing = [
            what
            for what, ok in (
                ("noncurrent version expiry", noncurrent),
                ("abort of incomplete multipart uploads", abort),
            )
            if not ok
        ]
        if missing:
            yield f"{_label(b)} lifecycle lacks {' and '.join(missing)}", b.urn


@stack_rule(
    "s3-bucket-access-logging",
    description="Every bucket (except log targets) has server access logging.",
    severity="medium",
    remediation="Add aws.s3.BucketLogging pointing at the access-log bucket.",
    enforcement=RELAXED_DEV,
    checkov=("CKV_AWS_18",),
    prowler=("s3_bucket_server_access_logging_enabled",),
)
def bucket_logging(stack: Stack, ctx: Ctx) -> Iterator[tuple[str, str]]:
    targets = _log_targets(stack)
    for b in stack.of_type(*BUCKET_TYPES):
        if _is_log_target(b, targets):
            continue  # the log bucket itself
        if not _siblings(stack, b, LOGGING_TYPES) and not b.path("logging", "targetBucket"):
            yield f"{_label(b)} has no server access logging", b.urn
