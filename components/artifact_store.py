"""ArtifactStore: the S3 bucket for ML artifacts (MLflow runs, models, datasets) and the bucket that
receives its server access logs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from mlops_platform.components.aliases import component_options
from mlops_platform.components.aws_context import AwsContext, lookup

ACCESS_LOG_ENCRYPTION = "AES256"
"""Default encryption of the access-log bucket: SSE-S3. Amazon S3 delivers server access logs only to
destination buckets whose default encryption is SSE-S3; default encryption with SSE-KMS is not supported
for a server-access-log destination (S3 User Guide, "Enabling Amazon S3 server access logging"). The
artifact bucket itself is SSE-KMS with the customer-managed data key."""


@dataclass(frozen=True)
class ArtifactStoreArgs:
    """Arguments of :class:`ArtifactStore`.

    Attributes:
        bucket_name: Physical name of the artifact bucket (globally unique, 3-63 characters). The access-log
            bucket is named ``<bucket_name>-logs`` unless :attr:`log_bucket_name` is given.
        kms_key_arn: ARN of the customer-managed KMS key every artifact is encrypted with (SSE-KMS with an
            S3 bucket key). Uploads that ask for another key or for SSE-S3/SSE-C are denied by the bucket
            policy; uploads that name no encryption get this key by default.
        log_bucket_name: Physical name of the access-log bucket.
        noncurrent_version_days: Days before noncurrent (overwritten or deleted) versions expire.
        abort_incomplete_multipart_days: Days before incomplete multipart uploads are aborted.
        intelligent_tiering_days: Days after which current objects move to S3 Intelligent-Tiering; 0 keeps
            them in S3 Standard.
        object_lock: S3 Object Lock on the artifact bucket with a default retention of
            :attr:`object_lock_days` in :attr:`object_lock_mode`. Can only be chosen when the bucket is
            created.
        object_lock_days: Default Object Lock retention in days.
        object_lock_mode: ``GOVERNANCE`` (privileged principals may shorten it) or ``COMPLIANCE`` (nobody can).
        access_log_retention_days: Days the access logs are kept before they expire.
        force_destroy: Let ``pulumi destroy`` delete non-empty buckets. Off by default; never in production.
        protect: Pulumi ``protect`` and ``retain_on_delete`` on both buckets.
        aws_context: Account, region and partition; looked up through the provider when omitted.
    """

    bucket_name: str
    kms_key_arn: pulumi.Input[str]
    log_bucket_name: str | None = None
    noncurrent_version_days: int = 90
    abort_incomplete_multipart_days: int = 7
    intelligent_tiering_days: int = 0
    object_lock: bool = False
    object_lock_days: int = 30
    object_lock_mode: str = "GOVERNANCE"
    access_log_retention_days: int = 365
    force_destroy: bool = False
    protect: bool = True
    aws_context: AwsContext | None = None


def _deny_insecure_transport(bucket_arn: str) -> dict[str, Any]:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def artifact_bucket_policy(bucket_arn: str, kms_key_arn: str) -> dict[str, Any]:
    """The artifact bucket's policy: TLS only, and only SSE-KMS with the platform's key.

    A PUT that names no encryption is encrypted by the bucket's default (SSE-KMS, the same key), so each
    deny applies only when the header it checks is present (``Null: false`` ANDed with ``StringNotEquals``;
    ``StringNotEqualsIfExists`` would be wrong here: in a Deny it matches requests *without* the header and
    would reject every SDK that relies on default encryption, MLflow's uploads included). They reject an
    upload that asks for anything else (SSE-S3, another KMS key, SSE-C, or ``aws:kms`` without a key ID,
    which S3 would encrypt with the AWS managed ``aws/s3`` key). A client that names the key must name it by
    ARN. No object can land unencrypted or under a key other than ``kms_key_arn``.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            _deny_insecure_transport(bucket_arn),
            {
                "Sid": "DenyUploadsNotUsingKms",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/*",
                "Condition": {
                    "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
                    "Null": {"s3:x-amz-server-side-encryption": "false"},
                },
            },
            {
                "Sid": "DenyUploadsWithAnotherKey",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/*",
                "Condition": {
                    "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": kms_key_arn},
                    "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"},
                },
            },
            {
                # S3 encrypts a PUT that says "aws:kms" but names no key with the AWS managed key aws/s3.
                "Sid": "DenyKmsUploadsWithoutKeyId",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/*",
                "Condition": {
                    "StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
                    "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "true"},
                },
            },
            {
                "Sid": "DenyCustomerProvidedKeys",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/*",
                "Condition": {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}},
            },
        ],
    }


def log_bucket_policy(
    log_bucket_arn: str, source_bucket_arn: str, prefix: str, account_id: str
) -> dict[str, Any]:
    """The access-log bucket's policy: TLS only, and S3's log delivery may write under ``prefix`` for
    ``source_bucket_arn`` of ``account_id`` only (ACLs are disabled, so the grant is a policy statement)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            _deny_insecure_transport(log_bucket_arn),
            {
                "Sid": "AllowS3ServerAccessLogDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{log_bucket_arn}/{prefix}*",
                "Condition": {
                    "ArnLike": {"aws:SourceArn": source_bucket_arn},
                    "StringEquals": {"aws:SourceAccount": account_id},
                },
            },
        ],
    }


def access_policy(
    bucket_arn: str, kms_key_arn: str, prefix: str, *, write: bool, s3_service: str
) -> dict[str, Any]:
    """An identity policy granting read (or read-write) access to ``prefix`` of the bucket and the KMS use
    that requires, through S3 only. ``prefix`` ``""`` means the whole bucket.

    Read-write may create, overwrite and delete objects (new versions and delete markers) but never delete
    object versions, so versioning keeps what a compromised writer removes."""
    prefix = prefix.lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    objects = f"{bucket_arn}/{prefix}*"
    list_statement: dict[str, Any] = {
        "Sid": "ListPrefix",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": bucket_arn,
    }
    if prefix:
        list_statement["Condition"] = {"StringLike": {"s3:prefix": [prefix, f"{prefix}*"]}}
    read_actions = ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging"]
    write_actions = [
        "s3:PutObject",
        "s3:PutObjectTagging",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    ]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "BucketLocation",
            "Effect": "Allow",
            "Action": "s3:GetBucketLocation",
            "Resource": bucket_arn,
        },
        list_statement,
        {"Sid": "ReadObjects", "Effect": "Allow", "Action": read_actions, "Resource": objects},
    ]
    if write:
        statements.append(
            {"Sid": "WriteObjects", "Effect": "Allow", "Action": write_actions, "Resource": objects}
        )
        statements.append(
            {
                "Sid": "ListMultipartUploads",
                "Effect": "Allow",
                "Action": "s3:ListBucketMultipartUploads",
                "Resource": bucket_arn,
            }
        )
    statements.append(
        {
            "Sid": "UseDataKeyThroughS3",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"] if write else ["kms:Decrypt"],
            "Resource": kms_key_arn,
            "Condition": {
                "StringEquals": {"kms:ViaService": s3_service},
                # With S3 bucket keys the encryption context is the bucket's ARN (an object's ARN otherwise).
                "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, objects]},
            },
        }
    )
    return {"Version": "2012-10-17", "Statement": statements}


class ArtifactStore(pulumi.ComponentResource):
    """An artifact bucket and its access-log bucket, both private, versioned, encrypted, TLS-only, with
    ACLs disabled and lifecycle rules; the artifact bucket logs every request to the log bucket.

    Outputs: ``bucket_name``, ``bucket_arn``, ``log_bucket_name``, ``log_bucket_arn``, ``kms_key_arn``,
    ``read_only_policy`` and ``read_write_policy`` (IAM policy JSON for the whole bucket); and
    :meth:`policy_document` for a policy scoped to a key prefix.
    """

    def __init__(
        self, name: str, args: ArtifactStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        TOKEN = "mlops:artifact_store:ArtifactStore"
        super().__init__(TOKEN, name, None, component_options(TOKEN, opts))
        if args.object_lock_mode not in ("GOVERNANCE", "COMPLIANCE"):
            raise ValueError("object_lock_mode must be GOVERNANCE or COMPLIANCE")
        self.context = args.aws_context or lookup(self)
        log_bucket_name = args.log_bucket_name or f"{args.bucket_name}-logs"
        for bucket_name in (args.bucket_name, log_bucket_name):
            if not 3 <= len(bucket_name) <= 63:
                raise ValueError(f"bucket name {bucket_name!r} must be 3 to 63 characters long")
        self.kms_key_arn = pulumi.Output.from_input(args.kms_key_arn)

        self.log_bucket, log_hardening = self._log_bucket(name, args, log_bucket_name)
        self.bucket, hardening = self._artifact_bucket(name, args)
        self._access_logging(name, f"{args.bucket_name}/", log_hardening["public_access_block"])
        self._artifact_lifecycle(name, args, hardening["versioning"])
        if args.object_lock:
            self._object_lock(name, args, hardening["versioning"])

        self.bucket_name: pulumi.Output[str] = self.bucket.bucket
        self.bucket_arn: pulumi.Output[str] = self.bucket.arn
        self.log_bucket_name: pulumi.Output[str] = self.log_bucket.bucket
        self.log_bucket_arn: pulumi.Output[str] = self.log_bucket.arn
        self.read_only_policy = self.policy_document("", write=False)
        self.read_write_policy = self.policy_document("", write=True)
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "log_bucket_name": self.log_bucket_name,
                "log_bucket_arn": self.log_bucket_arn,
                "kms_key_arn": self.kms_key_arn,
                "read_only_policy": self.read_only_policy,
                "read_write_policy": self.read_write_policy,
            }
        )

    def _stateful(self, args: ArtifactStoreArgs) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)

    def _log_bucket(
        self, name: str, args: ArtifactStoreArgs, bucket_name: str
    ) -> tuple[aws.s3.Bucket, dict[str, pulumi.Resource]]:
        """The access-log bucket, hardened with SSE-S3 (:data:`ACCESS_LOG_ENCRYPTION`), its logs expiring after
        ``access_log_retention_days``; returns it and its hardening resources."""
        bucket = aws.s3.Bucket(
            f"{name}-logs",
            bucket=bucket_name,
            force_destroy=args.force_destroy,
            object_lock_enabled=False,
            tags={"Name": bucket_name, "purpose": "s3-access-logs"},
            opts=self._stateful(args),
        )
        hardening = self._harden(
            f"{name}-logs",
            bucket,
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=(
                    aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm=ACCESS_LOG_ENCRYPTION
                    )
                ),
            ),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-logs",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-access-logs",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=args.access_log_retention_days
                    ),
                    noncurrent_version_expiration=(
                        aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                            noncurrent_days=30
                        )
                    ),
                ),
                self._abort_multipart_rule(args.abort_incomplete_multipart_days),
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[hardening["versioning"]]),
        )
        return bucket, hardening

    def _artifact_bucket(
        self, name: str, args: ArtifactStoreArgs
    ) -> tuple[aws.s3.Bucket, dict[str, pulumi.Resource]]:
        """The artifact bucket, hardened with SSE-KMS under the data key (bucket key on), and its policy
        (:func:`artifact_bucket_policy`); returns it and its hardening resources."""
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=args.bucket_name,
            force_destroy=args.force_destroy,
            object_lock_enabled=args.object_lock,
            tags={"Name": args.bucket_name, "purpose": "ml-artifacts"},
            opts=self._stateful(args),
        )
        hardening = self._harden(
            f"{name}-bucket",
            bucket,
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=(
                    aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms", kms_master_key_id=args.kms_key_arn
                    )
                ),
                bucket_key_enabled=True,
            ),
        )
        self.bucket_policy = aws.s3.BucketPolicy(
            f"{name}-bucket",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, self.kms_key_arn).apply(
                lambda v: json.dumps(artifact_bucket_policy(v[0], v[1]))
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[hardening["public_access_block"]]),
        )
        return bucket, hardening

    def _access_logging(self, name: str, log_prefix: str, log_public_access_block: pulumi.Resource) -> None:
        """The log bucket's policy (:func:`log_bucket_policy`: S3's log delivery for this bucket only, under
        ``log_prefix``), then the artifact bucket's server access logging into it."""
        account_id = self.context.account_id
        log_policy = aws.s3.BucketPolicy(
            f"{name}-logs",
            bucket=self.log_bucket.id,
            policy=pulumi.Output.all(self.log_bucket.arn, self.bucket.arn).apply(
                lambda v: json.dumps(log_bucket_policy(v[0], v[1], log_prefix, account_id))
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_public_access_block]),
        )
        aws.s3.BucketLogging(
            f"{name}-bucket",
            bucket=self.bucket.id,
            target_bucket=self.log_bucket.id,
            target_prefix=log_prefix,
            target_object_key_format=aws.s3.BucketLoggingTargetObjectKeyFormatArgs(
                partitioned_prefix=aws.s3.BucketLoggingTargetObjectKeyFormatPartitionedPrefixArgs(
                    partition_date_source="EventTime"
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_policy]),
        )

    def _artifact_lifecycle(self, name: str, args: ArtifactStoreArgs, versioning: pulumi.Resource) -> None:
        """Noncurrent versions expire, stale delete markers and incomplete uploads go, and current objects
        move to Intelligent-Tiering after ``intelligent_tiering_days`` (when above 0)."""
        rules = [
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-noncurrent-versions",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=args.noncurrent_version_days
                ),
                # Remove delete markers whose versions have all expired.
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                    expired_object_delete_marker=True
                ),
            ),
            self._abort_multipart_rule(args.abort_incomplete_multipart_days),
        ]
        if args.intelligent_tiering_days > 0:
            rules.append(
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="intelligent-tiering",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    transitions=[
                        aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                            days=args.intelligent_tiering_days, storage_class="INTELLIGENT_TIERING"
                        )
                    ],
                )
            )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-bucket",
            bucket=self.bucket.id,
            rules=rules,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )

    def _object_lock(self, name: str, args: ArtifactStoreArgs, versioning: pulumi.Resource) -> None:
        """Object Lock's default retention: ``object_lock_days`` in ``object_lock_mode``."""
        aws.s3.BucketObjectLockConfiguration(
            f"{name}-bucket",
            bucket=self.bucket.id,
            object_lock_enabled="Enabled",
            rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                    mode=args.object_lock_mode, days=args.object_lock_days
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )

    def _harden(
        self,
        name: str,
        bucket: aws.s3.Bucket,
        encryption: aws.s3.BucketServerSideEncryptionConfigurationRuleArgs,
    ) -> dict[str, pulumi.Resource]:
        """Versioning, default encryption, the four public-access blocks and ACLs disabled."""
        child = pulumi.ResourceOptions(parent=self)
        versioning = aws.s3.BucketVersioning(
            name,
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        encryption_config = aws.s3.BucketServerSideEncryptionConfiguration(
            name, bucket=bucket.id, rules=[encryption], opts=child
        )
        public_access_block = aws.s3.BucketPublicAccessBlock(
            name,
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        ownership = aws.s3.BucketOwnershipControls(
            name,
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        return {
            "versioning": versioning,
            "encryption": encryption_config,
            "public_access_block": public_access_block,
            "ownership": ownership,
        }

    @staticmethod
    def _abort_multipart_rule(days: int) -> aws.s3.BucketLifecycleConfigurationRuleArgs:
        return aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="abort-incomplete-multipart-uploads",
            status="Enabled",
            filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=days
            ),
        )

    def policy_document(self, prefix: str = "", write: bool = False) -> pulumi.Output[str]:
        """IAM policy JSON granting read-only (``write=False``) or read-write access to objects under
        ``prefix`` (``"mlflow/"``; ``""`` for the whole bucket), with the KMS permissions on the data key
        that S3 needs for it (``kms:Decrypt``; ``kms:GenerateDataKey`` to write), through S3 only.
        Attach it to a role (e.g. the MLflow service account's IRSA role)."""
        s3_service = self.context.service("s3")
        return pulumi.Output.all(self.bucket.arn, self.kms_key_arn).apply(
            lambda v: json.dumps(access_policy(v[0], v[1], prefix, write=write, s3_service=s3_service))
        )
