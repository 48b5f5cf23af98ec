"""``mlops bootstrap``: what a first ``pulumi login`` needs on AWS, created idempotently.

* a customer-managed KMS key (rotation on) with the alias ``alias/pulumi-secrets``, used by the
  ``awskms://`` secrets provider of every stack and as the state bucket's encryption key;
* an S3 bucket for the Pulumi state backend: versioned, SSE-KMS with that key and an S3 Bucket Key,
  all four public-access blocks, ACLs disabled (BucketOwnerEnforced), a bucket policy that denies
  any request without TLS and denies ``s3:DeleteBucket`` to every principal, and a lifecycle rule
  that expires noncurrent state versions after a retention period (and aborts stale multipart uploads).

S3 has no deletion-protection flag. The bucket policy's ``DenyBucketDeletion`` statement is the
closest equivalent: nobody - administrators included - can delete the bucket while it is there. It
is safe because it denies nothing else (in particular not ``s3:PutBucketPolicy``, so nobody can be
locked out of the bucket) and reversible because an administrator can deliberately remove the
statement (an ``s3:PutBucketPolicy`` call, recorded in CloudTrail) before deleting the bucket. We
deliberately name no exempt principal: exemptions by role name break when roles are renamed and
turn a two-step, audited decision into a silent one. Versioning keeps every past state file.

Running it again changes nothing and says ``unchanged``. A key or bucket that already exists but
differs from the above is reported, problem by problem, with a non-zero exit; it is never modified,
because a state bucket is the one thing an automated fix must not get wrong.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

DEFAULT_KEY_ALIAS = "alias/pulumi-secrets"
DEFAULT_NONCURRENT_DAYS = 90
DEFAULT_ENVIRONMENTS = ("dev", "staging", "prod")
PROJECT = "mlops-platform"
DIY_ORGANIZATION = "organization"
"""The organization name of every stack in a self-managed (DIY) backend such as S3."""

TAGS = {"managed-by": "mlops-bootstrap", "purpose": "pulumi-state"}
LIFECYCLE_RULE_ID = "expire-noncurrent-state-versions"
TLS_SID = "DenyInsecureTransport"
DELETE_SID = "DenyBucketDeletion"


class BootstrapError(Exception):
    """AWS refused or failed a call (credentials, permissions, region); the message says which."""


@dataclass
class Resource:
    """What bootstrap did or would do with one resource."""

    kind: str
    name: str
    status: str = "unchanged"  # created | unchanged | would create | misconfigured
    arn: str | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class Report:
    region: str
    account: str
    key: Resource
    bucket: Resource
    dry_run: bool
    autoscaling_role: Resource | None = None
    spot_role: Resource | None = None

    @property
    def resources(self) -> list[Resource]:
        return [r for r in (self.key, self.bucket, self.autoscaling_role, self.spot_role) if r is not None]

    @property
    def ok(self) -> bool:
        return not any(r.problems for r in self.resources)


AUTOSCALING_ROLE = "AWSServiceRoleForAutoScaling"
SPOT_ROLE = "AWSServiceRoleForEC2Spot"


def default_bucket_name(account: str, region: str) -> str:
    return f"{account}-{region}-pulumi-state"


def bucket_policy(bucket: str) -> dict[str, Any]:
    """TLS-only and no bucket deletion, for every principal."""
    arn = f"arn:aws:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": TLS_SID,
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": DELETE_SID,
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:DeleteBucket",
                "Resource": arn,
            },
        ],
    }


def lifecycle(noncurrent_days: int) -> dict[str, Any]:
    return {
        "Rules": [
            {
                "ID": LIFECYCLE_RULE_ID,
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "NoncurrentVersionExpiration": {"NoncurrentDays": noncurrent_days},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
            }
        ]
    }


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class Bootstrapper:
    """Creates or checks the key and the bucket with one boto3 session."""

    def __init__(
        self,
        session: Any,
        *,
        region: str,
        bucket: str | None = None,
        key_alias: str = DEFAULT_KEY_ALIAS,
        noncurrent_days: int = DEFAULT_NONCURRENT_DAYS,
    ) -> None:
        if not key_alias.startswith("alias/"):
            raise BootstrapError(f"key alias {key_alias!r} must start with alias/")
        if not 1 <= noncurrent_days <= 36500:
            raise BootstrapError(f"--noncurrent-days must be between 1 and 36500, got {noncurrent_days}")
        self.region = region
        self.kms = session.client("kms", region_name=region)
        self.s3 = session.client("s3", region_name=region)
        self.sts = session.client("sts", region_name=region)
        self.iam = session.client("iam", region_name=region)
        self.key_alias = key_alias
        self.noncurrent_days = noncurrent_days
        self._bucket = bucket

    # ---- entry point ----------------------------------------------------------------------------
    def run(self, *, dry_run: bool = False) -> Report:
        try:
            account = str(self.sts.get_caller_identity()["Account"])
        except ClientError as err:
            raise BootstrapError(f"cannot identify the AWS account (sts:GetCallerIdentity): {err}") from None
        bucket = self._bucket or default_bucket_name(account, self.region)
        try:
            key = self._key(dry_run)
            state = self._state_bucket(bucket, key.arn, dry_run)
            autoscaling = self._service_linked_role(AUTOSCALING_ROLE, "autoscaling.amazonaws.com", dry_run)
            spot = self._service_linked_role(SPOT_ROLE, "spot.amazonaws.com", dry_run)
        except ClientError as err:
            raise BootstrapError(f"AWS refused {err.operation_name}: {err}") from None
        return Report(
            region=self.region,
            account=account,
            key=key,
            bucket=state,
            dry_run=dry_run,
            autoscaling_role=autoscaling,
            spot_role=spot,
        )

    # ---- service-linked roles ----------------------------------------------------------------------
    def _service_linked_role(self, name: str, service: str, dry_run: bool) -> Resource:
        """A service-linked role the platform needs before its first deploy, created if the account lacks it
        (AWS-managed; it changes nothing else):

        - AWSServiceRoleForAutoScaling: the cluster key policy names it (it encrypts the managed nodes' root
          volumes), and KMS rejects a key policy naming a role that does not exist;
        - AWSServiceRoleForEC2Spot: EC2 launches Spot capacity through it, and Karpenter's controller may not
          create it (an account that never requested Spot lacks it, and Karpenter's Spot launches fail)."""
        res = Resource("service-linked role", name)
        # Found by its path, which AWS derives from the service (the name is AWS's to choose).
        path = f"/aws-service-role/{service}/"
        existing = self.iam.list_roles(PathPrefix=path).get("Roles", [])
        if existing:
            res.arn = existing[0]["Arn"]
            return res
        if dry_run:
            res.status = "would create"
            return res
        created = self.iam.create_service_linked_role(AWSServiceName=service)
        res.arn = created["Role"]["Arn"]
        res.status = "created"
        return res

    # ---- KMS key ----------------------------------------------------------------------------------
    def _key(self, dry_run: bool) -> Resource:
        res = Resource("KMS key", self.key_alias)
        try:
            meta = self.kms.describe_key(KeyId=self.key_alias)["KeyMetadata"]
        except ClientError as err:
            if _code(err) != "NotFoundException":
                raise
            meta = None
        if meta is None:
            if dry_run:
                res.status = "would create"
                return res
            created = self.kms.create_key(
                Description="Pulumi secrets provider and state bucket encryption (created by mlops bootstrap)",
                KeyUsage="ENCRYPT_DECRYPT",
                KeySpec="SYMMETRIC_DEFAULT",
                Tags=[{"TagKey": k, "TagValue": v} for k, v in TAGS.items()],
            )["KeyMetadata"]
            key_id = created["KeyId"]
            self.kms.enable_key_rotation(KeyId=key_id)
            self.kms.create_alias(AliasName=self.key_alias, TargetKeyId=key_id)
            res.status, res.arn = "created", str(created["Arn"])
            return res

        res.arn = str(meta["Arn"])
        if meta.get("KeyManager") != "CUSTOMER":
            res.problems.append(
                f"{self.key_alias} points to an AWS-managed key; a customer-managed key is required"
            )
        if meta.get("KeyState") != "Enabled":
            res.problems.append(f"key state is {meta.get('KeyState')}; expected Enabled")
        spec = meta.get("KeySpec") or meta.get("CustomerMasterKeySpec")
        if spec != "SYMMETRIC_DEFAULT" or meta.get("KeyUsage") != "ENCRYPT_DECRYPT":
            res.problems.append(
                f"key is {spec}/{meta.get('KeyUsage')}; expected SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT"
            )
        if meta.get("KeyManager") == "CUSTOMER" and meta.get("KeyState") == "Enabled":
            rotation = self.kms.get_key_rotation_status(KeyId=meta["KeyId"])
            if not rotation.get("KeyRotationEnabled"):
                res.problems.append(
                    f"automatic key rotation is off; enable it with `aws kms enable-key-rotation --key-id {meta['KeyId']}`"
                )
        if res.problems:
            res.status = "misconfigured"
        return res

    # ---- state bucket -------------------------------------------------------------------------------
    def _exists(self, bucket: str) -> bool:
        try:
            self.s3.head_bucket(Bucket=bucket)
            return True
        except ClientError as err:
            if _code(err) in ("404", "NoSuchBucket", "NotFound"):
                return False
            if _code(err) in ("403", "Forbidden", "AccessDenied"):
                raise BootstrapError(
                    f"bucket {bucket!r} exists but this identity cannot access it (another account owns the "
                    "name, or access is denied); choose another name with --bucket"
                ) from None
            raise

    def _state_bucket(self, bucket: str, key_arn: str | None, dry_run: bool) -> Resource:
        res = Resource("state bucket", bucket, arn=f"arn:aws:s3:::{bucket}")
        if not self._exists(bucket):
            if dry_run:
                res.status = "would create"
                return res
            self._create_bucket(bucket, key_arn)
            res.status = "created"
            return res
        res.problems = self.check_bucket(bucket, key_arn)
        if res.problems:
            res.status = "misconfigured"
        return res

    def _create_bucket(self, bucket: str, key_arn: str | None) -> None:
        if key_arn is None:  # pragma: no cover - the key is created first
            raise BootstrapError("the KMS key must exist before the bucket")
        kwargs: dict[str, Any] = {"Bucket": bucket, "ObjectOwnership": "BucketOwnerEnforced"}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        self.s3.create_bucket(**kwargs)
        # Close the bucket first, then configure it.
        self.s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        self.s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": key_arn,
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
        self.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        self.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(bucket_policy(bucket)))
        self.s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration=lifecycle(self.noncurrent_days)
        )
        self.s3.put_bucket_tagging(
            Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in TAGS.items()]}
        )

    def _get(self, call: str, bucket: str, *missing_codes: str) -> dict[str, Any] | None:
        try:
            return getattr(self.s3, call)(Bucket=bucket)
        except ClientError as err:
            if _code(err) in missing_codes:
                return None
            raise

    def check_bucket(self, bucket: str, key_arn: str | None) -> list[str]:
        """Every way ``bucket`` differs from a bootstrap-created state bucket (empty when it matches)."""
        problems: list[str] = []

        location = self.s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
        if location != self.region:
            problems.append(f"the bucket is in {location}, not {self.region}")

        versioning = self.s3.get_bucket_versioning(Bucket=bucket).get("Status")
        if versioning != "Enabled":
            problems.append(f"versioning is {versioning or 'off'}; expected Enabled")

        enc = self._get("get_bucket_encryption", bucket, "ServerSideEncryptionConfigurationNotFoundError")
        rules = (enc or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
        default = rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}
        if default.get("SSEAlgorithm") != "aws:kms":
            problems.append(
                f"default encryption is {default.get('SSEAlgorithm') or 'none'}; expected aws:kms"
            )
        else:
            configured = str(default.get("KMSMasterKeyID") or "")
            if key_arn is not None and configured not in (
                key_arn,
                key_arn.rsplit("/", 1)[-1],
                self.key_alias,
            ):
                problems.append(
                    f"default encryption uses KMS key {configured or '(aws/s3)'}; expected {self.key_alias} ({key_arn})"
                )
            if not rules[0].get("BucketKeyEnabled"):
                problems.append("S3 Bucket Key is off; expected on (fewer KMS requests)")

        pab = self._get("get_public_access_block", bucket, "NoSuchPublicAccessBlockConfiguration")
        settings = (pab or {}).get("PublicAccessBlockConfiguration", {})
        off = [
            k
            for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
            if not settings.get(k)
        ]
        if off:
            problems.append(f"public access block settings off: {', '.join(off)}")

        own = self._get("get_bucket_ownership_controls", bucket, "OwnershipControlsNotFoundError")
        own_rules = (own or {}).get("OwnershipControls", {}).get("Rules", [])
        ownership = own_rules[0].get("ObjectOwnership") if own_rules else None
        if ownership != "BucketOwnerEnforced":
            problems.append(
                f"object ownership is {ownership or 'unset (ACLs enabled)'}; expected BucketOwnerEnforced"
            )

        pol = self._get("get_bucket_policy", bucket, "NoSuchBucketPolicy")
        statements = _as_list(json.loads(pol["Policy"]).get("Statement", [])) if pol else []
        if not any(_denies_insecure_transport(s) for s in statements):
            problems.append(
                "the bucket policy does not deny requests without TLS (aws:SecureTransport false)"
            )
        if not any(_denies_bucket_deletion(s) for s in statements):
            problems.append("the bucket policy does not deny s3:DeleteBucket (deletion protection)")

        lc = self._get("get_bucket_lifecycle_configuration", bucket, "NoSuchLifecycleConfiguration")
        if not any(
            r.get("Status") == "Enabled" and "NoncurrentVersionExpiration" in r
            for r in (lc or {}).get("Rules", [])
        ):
            problems.append(
                "no enabled lifecycle rule expires noncurrent versions (state history grows forever)"
            )
        return problems


def _denies_insecure_transport(s: dict[str, Any]) -> bool:
    cond = s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
    return (
        s.get("Effect") == "Deny"
        and s.get("Principal") in ("*", {"AWS": "*"})
        and "s3:*" in _as_list(s.get("Action"))
        and str(cond).lower() == "false"
    )


def _denies_bucket_deletion(s: dict[str, Any]) -> bool:
    actions = _as_list(s.get("Action"))
    return (
        s.get("Effect") == "Deny"
        and s.get("Principal") in ("*", {"AWS": "*"})
        and any(a in ("s3:DeleteBucket", "s3:*", "s3:Delete*") for a in actions)
        and not s.get("Condition")
    )


def next_steps(report: Report, *, org: str, environments: Sequence[str]) -> list[str]:
    """The commands to run once the backend exists."""
    lines = [f'pulumi login "s3://{report.bucket.name}?region={report.region}&awssdk=v2"']
    provider = f"awskms://{report.key.name}?region={report.region}"
    for env in environments:
        lines.append(f'pulumi stack init {org}/{PROJECT}/{env} --secrets-provider "{provider}"')
    return lines


def format_report(report: Report, *, org: str, environments: Sequence[str]) -> list[str]:
    head = (
        f"mlops bootstrap ({'dry run, nothing changed' if report.dry_run else 'applied'}): "
        f"account {report.account}, region {report.region}"
    )
    lines = [head]
    for res in report.resources:
        suffix = f" ({res.arn})" if res.arn and res.status != "would create" else ""
        lines.append(f"  {res.kind} {res.name}: {res.status}{suffix}")
        lines.extend(f"    - {p}" for p in res.problems)
    if not report.ok:
        lines.append("")
        lines.append("Existing resources differ from a bootstrap-created backend; nothing was changed.")
        lines.append("Fix the problems above (or choose another --bucket / --key-alias) and run it again.")
        return lines
    lines.append("")
    lines.append("Then run:" if not report.dry_run else "Once created, run:")
    lines.extend(f"  {line}" for line in next_steps(report, org=org, environments=environments))
    return lines
