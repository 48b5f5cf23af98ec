"""The rule catalogue: the one place where every rule's metadata lives.

Name, description, severity, remediation, compliance framework reference, checkov/prowler check IDs,
the enforcement level per environment and the rule's configurable properties with their per-environment
values. The policy pack (:mod:`policies.rules`), the generated ``policies/config/<env>.json`` files, the
README table and the reports of ``mlops check`` are all derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from policies.rules._common import DATA_CLASSIFICATIONS, ENVIRONMENTS, GOVERNANCE_TAG_KEYS

M, A = "mandatory", "advisory"
STRICT: tuple[str, ...] = tuple(M for _ in ENVIRONMENTS)
"""Mandatory in every environment."""
RELAXED_DEV: tuple[str, ...] = tuple(A if env == "dev" else M for env in ENVIRONMENTS)
"""Advisory in dev, mandatory everywhere else."""

CIS_AWS = ("CIS AWS Foundations Benchmark", "3.0.0")
CIS_EKS = ("CIS Amazon EKS Benchmark", "1.5.0")


@dataclass(frozen=True)
class Prop:
    """A configurable property: its JSON schema and its value (one for all environments or one per env)."""

    schema: dict[str, Any]
    value: Any = None
    per_env: dict[str, Any] | None = None

    def for_env(self, env: str) -> Any:
        if self.per_env is None:
            return self.value
        return self.per_env.get(env, self.per_env["prod"])


@dataclass(frozen=True)
class Meta:
    description: str
    severity: str
    remediation: str
    enforcement: tuple[str, ...] = STRICT
    """One level per environment, in the order of ``ENVIRONMENTS``."""
    framework: tuple[str, str, str] | None = None
    """``(name, version, reference)``: the benchmark and its recommendation number."""
    checkov: tuple[str, ...] = ()
    prowler: tuple[str, ...] = ()
    props: dict[str, Prop] = field(default_factory=dict)

    def level(self, env: str) -> str:
        return self.enforcement[ENVIRONMENTS.index(env)]


def _cis(ref: str) -> tuple[str, str, str]:
    return (*CIS_AWS, ref)


def _eks(ref: str) -> tuple[str, str, str]:
    return (*CIS_EKS, ref)


_STR_LIST = {"type": "array", "items": {"type": "string"}}
_INT = {"type": "integer", "minimum": 0}

ALLOWED_REGISTRIES = [
    "*.dkr.ecr.*.amazonaws.com/*",
    "public.ecr.aws/*",
    "registry.k8s.io/*",
    "quay.io/*",
    "ghcr.io/*",
    "docker.io/bitnami/*",
    "docker.io/bitnamilegacy/*",
    "docker.io/grafana/*",
    "docker.io/prom/*",
]
"""Where workload images may come from (the default of `k8s-image-registry`)."""

ALLOWED_HELM_REPOSITORIES = [
    "https://prometheus-community.github.io/helm-charts",
    "https://charts.external-secrets.io",
    "https://aws.github.io/eks-charts",
    "https://kubernetes-sigs.github.io/metrics-server",
    "https://grafana.github.io/helm-charts",
    "https://nvidia.github.io/k8s-device-plugin",
    "https://nvidia.github.io/dcgm-exporter/helm-charts",
    "https://charts.jetstack.io",
    "oci://public.ecr.aws/",
]
"""Chart repositories Helm releases may use (the default of `helm-repository-allowed`)."""

INSTANCE_TYPES = {
    "dev": [
        "t3.*",
        "t3a.*",
        "m6i.large",
        "m6i.xlarge",
        "m6i.2xlarge",
        "m7i.large",
        "m7i.xlarge",
        "c6i.large",
        "c6i.xlarge",
        "g5.xlarge",
        "g6.xlarge",
    ],
    "staging": [
        "m6i.*",
        "m7i.*",
        "m6a.*",
        "m7a.*",
        "c6i.*",
        "c7i.*",
        "r6i.*",
        "r7i.*",
        "g5.xlarge",
        "g5.2xlarge",
        "g6.xlarge",
        "g6.2xlarge",
    ],
    "prod": [
        "m6i.*",
        "m7i.*",
        "m6a.*",
        "m7a.*",
        "c6i.*",
        "c7i.*",
        "r6i.*",
        "r7i.*",
        "g5.*",
        "g6.*",
        "g6e.*",
        "p4d.*",
        "p5.*",
    ],
}

CATALOGUE: dict[str, Meta] = {
    # ---- tagging ---------------------------------------------------------------------------------
    "aws-governance-tags": Meta(
        "Every taggable AWS resource carries the governance tags (environment, owner, cost-center, "
        "data-classification, managed-by), on the resource or through the AWS provider's default tags.",
        "medium",
        "Create resources with an explicit aws.Provider whose default_tags carry the governance tag set "
        "(MlopsPlatform does this) or set the missing tags on the resource.",
        props={"requiredTags": Prop(_STR_LIST, list(GOVERNANCE_TAG_KEYS))},
    ),
    "aws-data-classification": Meta(
        "The data-classification tag takes a value from the allowed set.",
        "medium",
        "Set the stack's dataClassification to one of public, internal, confidential, restricted.",
        props={"allowedValues": Prop(_STR_LIST, list(DATA_CLASSIFICATIONS))},
    ),
    # ---- S3 --------------------------------------------------------------------------------------
    "s3-public-access-block-all": Meta(
        "An S3 public access block turns on all four flags.",
        "high",
        "Set block_public_acls, block_public_policy, ignore_public_acls and restrict_public_buckets to True.",
        framework=_cis("2.1.4"),
        checkov=("CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56"),
        prowler=("s3_bucket_level_public_access_block",),
    ),
    "s3-bucket-public-access-block": Meta(
        "Every S3 bucket has a public access block.",
        "high",
        "Add an aws.s3.BucketPublicAccessBlock for the bucket with all four flags on.",
        framework=_cis("2.1.4"),
        checkov=("CKV2_AWS_6",),
        prowler=("s3_bucket_level_public_access_block",),
    ),
    "s3-no-public-acl": Meta(
        "S3 buckets have no public canned ACL or grant to AllUsers/AuthenticatedUsers.",
        "critical",
        "Remove the ACL; enforce object ownership (BucketOwnerEnforced) so ACLs are disabled.",
        checkov=("CKV_AWS_20", "CKV_AWS_57"),
        prowler=("s3_bucket_public_access",),
    ),
    "s3-no-public-policy": Meta(
        "S3 bucket policies do not allow principal '*' without a condition pinning the caller.",
        "critical",
        "Grant named principals (account roles) instead of '*', or add aws:SourceArn/aws:PrincipalOrgID conditions.",
        checkov=("CKV_AWS_70",),
        prowler=("s3_bucket_policy_public_write_access", "s3_bucket_public_access"),
    ),
    "s3-no-force-destroy-prod": Meta(
        "Buckets in prod cannot be force-destroyed.",
        "high",
        "Set force_destroy=False (artifactsForceDestroy) for prod buckets.",
    ),
    "s3-bucket-ownership-enforced": Meta(
        "Every bucket enforces object ownership (BucketOwnerEnforced, ACLs disabled).",
        "medium",
        "Add aws.s3.BucketOwnershipControls with object_ownership='BucketOwnerEnforced'.",
        checkov=("CKV2_AWS_65",),
        prowler=("s3_bucket_acl_prohibited",),
    ),
    "s3-bucket-tls-only": Meta(
        "Every bucket policy denies requests that do not use TLS.",
        "high",
        "Add a Deny statement for s3:* on the bucket and its objects with Condition Bool aws:SecureTransport=false.",
        framework=_cis("2.1.1"),
        prowler=("s3_bucket_secure_transport_policy",),
    ),
    "s3-bucket-encryption-kms": Meta(
        "Every bucket encrypts with SSE-KMS and a customer-managed key (server access log targets may use "
        "SSE-S3, the only encryption S3 log delivery supports).",
        "high",
        "Add aws.s3.BucketServerSideEncryptionConfiguration with sse_algorithm='aws:kms', the data key's ARN "
        "and bucket_key_enabled=True.",
        checkov=("CKV_AWS_145", "CKV_AWS_19"),
        prowler=("s3_bucket_kms_encryption",),
    ),
    "s3-bucket-versioning": Meta(
        "Every bucket is versioned.",
        "medium",
        "Add aws.s3.BucketVersioning with status 'Enabled'.",
        enforcement=RELAXED_DEV,
        framework=_cis("2.1.2"),
        checkov=("CKV_AWS_21",),
        prowler=("s3_bucket_object_versioning",),
    ),
    "s3-bucket-lifecycle": Meta(
        "Every bucket expires noncurrent versions and aborts incomplete multipart uploads.",
        "low",
        "Add aws.s3.BucketLifecycleConfiguration with noncurrent_version_expiration and "
        "abort_incomplete_multipart_upload rules.",
        enforcement=RELAXED_DEV,
        checkov=("CKV2_AWS_61", "CKV_AWS_300"),
        prowler=("s3_bucket_lifecycle_enabled",),
    ),
    "s3-bucket-access-logging": Meta(
        "Every bucket (except log targets) has server access logging.",
        "medium",
        "Add aws.s3.BucketLogging pointing at the access-log bucket.",
        enforcement=RELAXED_DEV,
        checkov=("CKV_AWS_18",),
        prowler=("s3_bucket_server_access_logging_enabled",),
    ),
    # ---- RDS -------------------------------------------------------------------------------------
    "rds-not-public": Meta(
        "RDS instances are not publicly accessible.",
        "critical",
        "Set publicly_accessible=False.",
        framework=_cis("2.3.3"),
        checkov=("CKV_AWS_17",),
        prowler=("rds_instance_no_public_access",),
    ),
    "rds-encrypted-cmk": Meta(
        "RDS storage is encrypted with a customer-managed KMS key.",
        "high",
        "Set storage_encrypted=True and kms_key_id to the data key's ARN.",
        framework=_cis("2.3.1"),
        checkov=("CKV_AWS_16",),
        prowler=("rds_instance_storage_encrypted",),
    ),
    "rds-backup-retention": Meta(
        "Automated backups are kept at least 7 days (14 in prod).",
        "medium",
        "Raise backup_retention_period (databaseBackupRetentionDays).",
        enforcement=RELAXED_DEV,
        checkov=("CKV_AWS_133",),
        prowler=("rds_instance_backup_enabled",),
        props={"minimumDays": Prop(_INT, 7), "minimumDaysProd": Prop(_INT, 14)},
    ),
    "rds-deletion-protection": Meta(
        "RDS instances in prod have deletion protection.",
        "high",
        "Set deletion_protection=True in prod.",
        checkov=("CKV_AWS_293",),
        prowler=("rds_instance_deletion_protection",),
    ),
    "rds-final-snapshot": Meta(
        "RDS instances in prod take a final snapshot on deletion.",
        "high",
        "Set skip_final_snapshot=False and a final_snapshot_identifier in prod.",
    ),
    "rds-multi-az": Meta(
        "RDS instances in prod are Multi-AZ.",
        "medium",
        "Set multi_az=True in prod.",
        checkov=("CKV_AWS_157",),
        prowler=("rds_instance_multi_az",),
    ),
    "rds-managed-master-password": Meta(
        "The master password is managed by RDS in Secrets Manager, encrypted with a customer key; no literal "
        "password is passed.",
        "critical",
        "Drop password/password_wo; set manage_master_user_password=True and master_user_secret_kms_key_id.",
    ),
    "rds-performance-insights-kms": Meta(
        "Performance Insights data is encrypted with a customer-managed key.",
        "medium",
        "Set performance_insights_kms_key_id to the data key when Performance Insights is on.",
        checkov=("CKV_AWS_354",),
    ),
    "rds-iam-auth": Meta(
        "IAM database authentication is enabled.",
        "medium",
        "Set iam_database_authentication_enabled=True.",
        enforcement=RELAXED_DEV,
        checkov=("CKV_AWS_161",),
        prowler=("rds_instance_iam_authentication_enabled",),
    ),
    "rds-log-exports": Meta(
        "Engine logs are exported to CloudWatch Logs (postgresql for PostgreSQL).",
        "low",
        "Set enabled_cloudwatch_logs_exports=['postgresql', 'upgrade'].",
        enforcement=RELAXED_DEV,
        checkov=("CKV_AWS_129",),
        prowler=("rds_instance_integration_cloudwatch_logs",),
    ),
    "rds-auto-minor-upgrade": Meta(
        "Automatic minor version upgrades are on.",
        "medium",
        "Set auto_minor_version_upgrade=True.",
        framework=_cis("2.3.2"),
        checkov=("CKV_AWS_226",),
        prowler=("rds_instance_minor_version_upgrade_enabled",),
    ),
    "rds-approved-engine": Meta(
        "RDS uses an approved engine at a pinned, approved major version.",
        "medium",
        "Use engine 'postgres' with an approved major version (databaseEngineVersion).",
        props={"allowedEngines": Prop({"type": "object"}, {"postgres": ["16", "17"]})},
    ),
    "rds-force-ssl": Meta(
        "PostgreSQL instances use a parameter group that sets rds.force_ssl=1.",
        "high",
        "Attach an aws.rds.ParameterGroup with parameter rds.force_ssl=1.",
        prowler=("rds_instance_transport_encrypted",),
    ),
    # ---- EKS -------------------------------------------------------------------------------------
    "eks-private-endpoint": Meta(
        "The EKS API endpoint is private; a public endpoint needs a CIDR allow-list and is never allowed in prod.",
        "high",
        "Set vpc_config endpoint_public_access=False (clusterPublicAccessCidrs empty).",
        framework=_eks("5.4.2"),
        checkov=("CKV_AWS_39", "CKV_AWS_38"),
        prowler=("eks_cluster_not_publicly_accessible",),
    ),
    "eks-secrets-encryption": Meta(
        "Kubernetes secrets are envelope-encrypted with a customer KMS key.",
        "high",
        "Add encryption_config with resources=['secrets'] and the cluster key's ARN.",
        framework=_eks("5.3.1"),
        checkov=("CKV_AWS_58",),
        prowler=("eks_cluster_kms_cmk_encryption_in_secrets_enabled",),
    ),
    "eks-control-plane-logging": Meta(
        "All control-plane log types (api, audit, authenticator, controllerManager, scheduler) are enabled.",
        "medium",
        "Set enabled_cluster_log_types to all five types.",
        framework=_eks("2.1.1"),
        checkov=("CKV_AWS_37",),
        prowler=("eks_control_plane_logging_all_types_enabled",),
    ),
    "eks-supported-version": Meta(
        "The cluster runs a pinned, supported Kubernetes version.",
        "medium",
        "Set version (clusterKubernetesVersion) to a version in standard support.",
        checkov=("CKV_AWS_339",),
        prowler=("eks_cluster_uses_a_supported_version",),
        props={"supportedVersions": Prop(_STR_LIST, ["1.35", "1.36"])},
    ),
    "eks-access-entries": Meta(
        "Cluster authentication uses the API mode (access entries), not the aws-auth ConfigMap, and the "
        "cluster creator gets no implicit admin.",
        "medium",
        "Set access_config authentication_mode='API', bootstrap_cluster_creator_admin_permissions=False and "
        "grant admins with aws.eks.AccessEntry.",
        framework=_eks("5.5.1"),
    ),
    "eks-addon-version-pinned": Meta(
        "EKS add-ons are pinned to an explicit version.",
        "low",
        "Set addon_version (e.g. from `aws eks describe-addon-versions`) and upgrade it deliberately.",
        enforcement=RELAXED_DEV,
    ),
    "eks-nodegroup-no-ssh": Meta(
        "Managed node groups allow no SSH remote access.",
        "high",
        "Remove remote_access; use SSM Session Manager.",
        checkov=("CKV_AWS_100",),
    ),
    "eks-nodegroup-launch-template": Meta(
        "Managed node groups use a launch template (so IMDSv2 and volume encryption are set).",
        "medium",
        "Create the node group with launch_template pointing at a hardened aws.ec2.LaunchTemplate.",
    ),
    "ec2-launch-template-imdsv2": Meta(
        "Launch templates require IMDSv2 with a hop limit of 1.",
        "high",
        "Set metadata_options http_tokens='required' and http_put_response_hop_limit=1.",
        framework=_cis("5.6"),
        checkov=("CKV_AWS_79", "CKV_AWS_341"),
        prowler=("ec2_instance_imdsv2_enabled",),
    ),
    "ec2-launch-template-encrypted-volumes": Meta(
        "Launch templates encrypt every EBS volume, the root volume included.",
        "high",
        "Add block_device_mappings with ebs encrypted=True (gp3, the data key).",
        framework=_cis("2.2.1"),
        checkov=("CKV_AWS_8",),
        prowler=("ec2_ebs_default_encryption",),
    ),
    "eks-approved-instance-types": Meta(
        "Node groups and launch templates use instance types approved for the environment.",
        "low",
        "Pick an instance type from the environment's allow-list (policies/config/<env>.json).",
        props={"allowedInstanceTypes": Prop(_STR_LIST, per_env=INSTANCE_TYPES)},
    ),
    "eks-gpu-nodes-tainted": Meta(
        "GPU node groups carry the nvidia.com/gpu NoSchedule taint.",
        "low",
        "Add taints=[{key: 'nvidia.com/gpu', value: 'true', effect: 'NO_SCHEDULE'}].",
    ),
    "eks-nodegroup-private-subnets": Meta(
        "Node groups run only in private subnets.",
        "high",
        "Pass the private subnet IDs (Network.private_subnet_ids) to the node group.",
        framework=_eks("5.4.3"),
        prowler=("eks_cluster_private_nodes_enabled",),
    ),
    # ---- ECR -------------------------------------------------------------------------------------
    "ecr-immutable-tags": Meta(
        "ECR repositories have immutable tags.",
        "medium",
        "Set image_tag_mutability='IMMUTABLE'.",
        checkov=("CKV_AWS_51",),
        prowler=("ecr_repositories_tag_immutability",),
    ),
    "ecr-scan-on-push": Meta(
        "ECR repositories scan images on push.",
        "medium",
        "Set image_scanning_configuration scan_on_push=True.",
        framework=_eks("5.1.1"),
        checkov=("CKV_AWS_163",),
        prowler=("ecr_repositories_scan_images_on_push_enabled",),
    ),
    "ecr-kms-encryption": Meta(
        "ECR repositories are encrypted with a customer-managed KMS key.",
        "medium",
        "Set encryption_configurations=[{encryption_type: 'KMS', kms_key: <key ARN>}].",
        checkov=("CKV_AWS_136",),
    ),
    "ecr-no-force-delete-prod": Meta(
        "ECR repositories in prod cannot be force-deleted with their images.",
        "medium",
        "Set force_delete=False for prod repositories.",
    ),
    "ecr-no-public-policy": Meta(
        "ECR repository policies do not grant principal '*'.",
        "critical",
        "Grant pull to named roles (the node role) only.",
        checkov=("CKV_AWS_32",),
        prowler=("ecr_repositories_not_publicly_accessible",),
    ),
    "ecr-lifecycle-policy": Meta(
        "Every ECR repository has a lifecycle policy.",
        "low",
        "Add aws.ecr.LifecyclePolicy keeping the last N tagged images and expiring untagged ones.",
        enforcement=RELAXED_DEV,
        prowler=("ecr_repositories_lifecycle_policy_enabled",),
    ),
    # ---- CodeBuild (the in-VPC deploy runner) ---------------------------------------------------------
    "codebuild-in-vpc": Meta(
        "CodeBuild projects run inside the VPC (private subnets and a security group).",
        "high",
        "Set vpc_config with the VPC, its private subnet IDs and a security group of the project's own.",
    ),
    "codebuild-no-privileged-mode": Meta(
        "CodeBuild projects do not run in privileged mode.",
        "high",
        "Set environment.privileged_mode=False (build images with a daemonless builder elsewhere).",
        checkov=("CKV_AWS_316",),
    ),
    "codebuild-kms-encryption": Meta(
        "CodeBuild projects encrypt artifacts and caches with a customer-managed KMS key; S3 logs stay encrypted.",
        "medium",
        "Set encryption_key to a customer-managed key ARN; never set s3_logs.encryption_disabled.",
        checkov=("CKV_AWS_147",),
    ),
    "codebuild-logs-kms": Meta(
        "CodeBuild projects log to a CloudWatch log group the stack creates (so it has KMS and retention).",
        "medium",
        "Create the log group (KMS key, retention) and name it in logs_config.cloudwatch_logs.group_name.",
    ),
    "codebuild-timeout": Meta(
        "CodeBuild projects set an explicit, bounded build timeout.",
        "low",
        "Set build_timeout (minutes) to at most the configured maximum.",
        props={"maxTimeoutMinutes": Prop({"type": "integer", "minimum": 5, "maximum": 2160}, 240)},
    ),
    "codebuild-no-plaintext-secrets": Meta(
        "CodeBuild environment variables that look like secrets are not PLAINTEXT.",
        "high",
        "Use environment variables of type SECRETS_MANAGER or PARAMETER_STORE for secrets.",
        prowler=("codebuild_project_no_secrets_in_variables",),
    ),
    "codebuild-pinned-image": Meta(
        "CodeBuild projects pin their build image to a version tag or a digest (never :latest).",
        "medium",
        "Set environment.image to a curated image with its version, or an ECR image by digest.",
    ),
    "iam-deploy-role-trust": Meta(
        "A deploy role (IAM path listed in iam-no-wildcard-resource-write's exemptRolePaths) is assumable only "
        "by CodeBuild for one project of this account (aws:SourceAccount and aws:SourceArn).",
        "critical",
        "Trust codebuild.amazonaws.com only, with aws:SourceAccount and the project's ARN in aws:SourceArn.",
        props={"deployRolePaths": Prop(_STR_LIST, ["/mlops-deploy/"])},
    ),
    # ---- KMS, logs, SNS, Secrets Manager ------------------------------------------------------------
    "kms-key-rotation": Meta(
        "Symmetric KMS keys rotate automatically.",
        "medium",
        "Set enable_key_rotation=True.",
        framework=_cis("3.6"),
        checkov=("CKV_AWS_7",),
        prowler=("kms_cmk_rotation_enabled",),
    ),
    "kms-deletion-window": Meta(
        "KMS keys wait at least 7 days before deletion (14 in prod).",
        "medium",
        "Raise deletion_window_in_days (kmsDeletionWindowDays).",
        props={"minimumDays": Prop(_INT, 7), "minimumDaysProd": Prop(_INT, 14)},
    ),
    "kms-no-public-principal": Meta(
        "Key policies do not allow principal '*' without caller-pinning conditions (kms:ViaService alone does "
        "not pin the caller).",
        "critical",
        "Name the account root, roles or service principals in the key policy.",
        checkov=("CKV_AWS_33",),
        prowler=("kms_key_not_publicly_accessible",),
    ),
    "kms-service-principal-source": Meta(
        "Key policy statements that let an AWS service principal use the key are pinned to this account's "
        "resources (aws:SourceAccount / aws:SourceArn, or an encryption-context ARN): no confused deputy.",
        "high",
        "Add Condition StringEquals aws:SourceAccount and ArnLike aws:SourceArn (e.g. the account's "
        "CloudWatch alarms) to the service principal's statement.",
    ),
    "logs-retention": Meta(
        "CloudWatch log groups have a retention period (at least the environment's minimum).",
        "low",
        "Set retention_in_days (logsRetentionDays).",
        enforcement=RELAXED_DEV,
        checkov=("CKV_AWS_66", "CKV_AWS_338"),
        prowler=("cloudwatch_log_group_retention_policy_specific_days_enabled",),
        props={"minimumDays": Prop(_INT, per_env={"dev": 1, "staging": 30, "prod": 365})},
    ),
    "logs-kms-encryption": Meta(
        "CloudWatch log groups are encrypted with a customer-managed KMS key.",
        "medium",
        "Set kms_key_id to the logs key (its key policy must allow the CloudWatch Logs service).",
        checkov=("CKV_AWS_158",),
        prowler=("cloudwatch_log_group_kms_encryption_enabled",),
    ),
    "sns-kms-encryption": Meta(
        "SNS topics are encrypted with a customer-managed KMS key.",
        "medium",
        "Set kms_master_key_id to a customer key whose policy lets CloudWatch use it.",
        checkov=("CKV_AWS_26",),
        prowler=("sns_topics_kms_encryption_at_rest_enabled",),
    ),
    "sns-no-public-policy": Meta(
        "SNS topic policies do not allow principal '*' without caller-pinning conditions.",
        "critical",
        "Grant publish to service principals with aws:SourceArn/aws:SourceAccount conditions.",
        checkov=("CKV_AWS_169",),
        prowler=("sns_topics_not_publicly_accessible",),
    ),
    "sns-no-http-subscription": Meta(
        "SNS subscriptions never deliver over plain HTTP.",
        "high",
        "Subscribe https:// endpoints (or e-mail) only.",
    ),
    "secretsmanager-cmk": Meta(
        "Secrets Manager secrets are encrypted with a customer-managed KMS key.",
        "medium",
        "Set kms_key_id to the data key.",
        checkov=("CKV_AWS_149",),
    ),
    # ---- IAM -------------------------------------------------------------------------------------
    "iam-no-wildcard-action": Meta(
        "Identity policies never allow every action ('*' or Allow+NotAction).",
        "critical",
        "List the actions the workload needs.",
        framework=_cis("1.16"),
        checkov=("CKV_AWS_63", "CKV_AWS_62"),
        prowler=("iam_inline_policy_no_administrative_privileges",),
    ),
    "iam-no-wildcard-resource-write": Meta(
        "Identity policies do not allow write actions or sensitive reads (secret values, SSM parameters, "
        "kms:Decrypt, s3:GetObject) on every resource ('*' or an ARN whose resource part is only a wildcard).",
        "high",
        "Scope write actions and sensitive reads to the ARNs they need (bucket prefix, secret, parameter path, "
        "key, topic...).",
        checkov=("CKV_AWS_290", "CKV_AWS_289", "CKV_AWS_355"),
        props={
            "allowedActions": Prop(
                _STR_LIST, ["cloudwatch:PutMetricData", "xray:PutTraceSegments", "xray:PutTelemetryRecords"]
            ),
            # Roles on these paths deploy the platform (components/deploy_runner.py): creating VPCs, clusters
            # and keys has no narrower resource; iam-deploy-role-trust limits who can assume them.
            "exemptRolePaths": Prop(_STR_LIST, ["/mlops-deploy/"]),
        },
    ),
    "iam-no-admin-policy": Meta(
        "No administrator policy (AdministratorAccess, PowerUserAccess, IAMFullAccess, '*'/'iam:*' on '*').",
        "critical",
        "Attach least-privilege policies instead; grant cluster admin through EKS access entries.",
        framework=_cis("1.16"),
        checkov=("CKV_AWS_274", "CKV_AWS_62"),
        prowler=("iam_aws_attached_policy_no_administrative_privileges",),
    ),
    "iam-trust-no-wildcard-principal": Meta(
        "Role trust policies never let principal '*' assume the role.",
        "critical",
        "Name the account, role, service or OIDC provider that may assume the role.",
        checkov=("CKV_AWS_60",),
        prowler=("iam_role_cross_service_confused_deputy_prevention",),
    ),
    "iam-irsa-trust-scoped": Meta(
        "IRSA (web identity) trust is scoped to exactly one service account and the STS audience.",
        "high",
        "Add StringEquals '<issuer>:sub' = 'system:serviceaccount:<namespace>:<name>' and '<issuer>:aud' = "
        "'sts.amazonaws.com'.",
        framework=_eks("5.2.1"),
    ),
    # ---- network ---------------------------------------------------------------------------------
    "net-no-open-ingress": Meta(
        "No security group admits 0.0.0.0/0 or ::/0 to SSH, RDP, database ports or all ports.",
        "critical",
        "Admit these ports only from security groups or private CIDRs.",
        framework=_cis("5.2"),
        checkov=("CKV_AWS_24", "CKV_AWS_25", "CKV_AWS_277"),
        prowler=("ec2_securitygroup_allow_ingress_from_internet_to_any_port",),
        props={
            "restrictedPorts": Prop({"type": "array", "items": {"type": "integer"}}, [22, 3389, 5432, 3306])
        },
    ),
    "net-vpc-flow-logs": Meta(
        "Every VPC has a flow log capturing ALL traffic.",
        "medium",
        "Add aws.ec2.FlowLog(vpc_id=vpc.id, traffic_type='ALL') to an encrypted log group.",
        enforcement=RELAXED_DEV,
        framework=_cis("3.7"),
        checkov=("CKV2_AWS_11",),
        prowler=("vpc_flow_logs_enabled",),
    ),
    "net-default-sg-closed": Meta(
        "Every VPC's default security group is managed and has no rules.",
        "medium",
        "Adopt it with aws.ec2.DefaultSecurityGroup(vpc_id=vpc.id) and no ingress/egress.",
        framework=_cis("5.4"),
        checkov=("CKV2_AWS_12",),
        prowler=("ec2_securitygroup_default_restrict_traffic",),
    ),
    "net-private-subnet-no-public-ip": Meta(
        "Private subnets never map public IPs on launch; public subnets (tier=public) only when "
        "allowPublicSubnets is set.",
        "high",
        "Set map_public_ip_on_launch=False.",
        checkov=("CKV_AWS_130",),
        prowler=("vpc_subnet_no_public_ip_by_default",),
        props={"allowPublicSubnets": Prop({"type": "boolean"}, False)},
    ),
    "net-vpc-endpoint-policy": Meta(
        "Interface VPC endpoints carry a policy that admits only pinned principals (e.g. aws:PrincipalAccount), "
        "except the services in endpointsWithoutPolicy.",
        "medium",
        "Give the endpoint a policy whose '*' principal is pinned by aws:PrincipalAccount (or an org/ARN "
        "condition); list a service in endpointsWithoutPolicy only when its callers are unsigned (STS's "
        "AssumeRoleWithWebIdentity).",
        prowler=("vpc_endpoint_connections_trust_boundaries",),
        props={"endpointsWithoutPolicy": Prop(_STR_LIST, ["sts"])},
    ),
    # ---- Kubernetes ------------------------------------------------------------------------------
    "k8s-no-privileged": Meta(
        "Containers do not run privileged.",
        "critical",
        "Remove securityContext.privileged.",
        framework=_eks("4.2.1"),
        checkov=("CKV_K8S_16",),
    ),
    "k8s-no-privilege-escalation": Meta(
        "Containers set allowPrivilegeEscalation=false.",
        "high",
        "Set securityContext.allowPrivilegeEscalation=False.",
        framework=_eks("4.2.5"),
        checkov=("CKV_K8S_20",),
    ),
    "k8s-run-as-non-root": Meta(
        "Containers run as a non-root user.",
        "high",
        "Set runAsNonRoot=True (and a non-zero runAsUser).",
        framework=_eks("4.2.6"),
        checkov=("CKV_K8S_23", "CKV_K8S_40"),
    ),
    "k8s-no-host-namespaces": Meta(
        "Pods do not share the node's network, PID or IPC namespace.",
        "high",
        "Remove hostNetwork, hostPID and hostIPC.",
        framework=_eks("4.2.4"),
        checkov=("CKV_K8S_19", "CKV_K8S_17", "CKV_K8S_18"),
    ),
    "k8s-no-host-path": Meta(
        "Pods mount no hostPath volumes.",
        "high",
        "Use emptyDir, a PVC, a ConfigMap or a Secret instead.",
        checkov=("CKV_K8S_27",),
    ),
    "k8s-no-host-port": Meta(
        "Containers bind no hostPort.",
        "medium",
        "Expose the port through a Service instead.",
        checkov=("CKV_K8S_26",),
    ),
    "k8s-resources": Meta(
        "Containers set CPU and memory requests and limits (the CPU limit can be waived with "
        "requireCpuLimits=false).",
        "low",
        "Set resources.requests and resources.limits for cpu and memory.",
        enforcement=RELAXED_DEV,
        checkov=("CKV_K8S_10", "CKV_K8S_11", "CKV_K8S_12", "CKV_K8S_13"),
        props={"requireCpuLimits": Prop({"type": "boolean"}, True)},
    ),
    "k8s-image-pinned": Meta(
        "Images are pinned to a version tag or digest (never latest or untagged).",
        "medium",
        "Reference images as registry/name:1.2.3 or by @sha256 digest.",
        checkov=("CKV_K8S_14", "CKV_K8S_43"),
    ),
    "k8s-allowed-registries": Meta(
        "Images come only from allowed registries.",
        "high",
        "Mirror the image into the platform's ECR or an allowed registry (policies/config/<env>.json).",
        framework=_eks("5.1.4"),
        props={
            "allowedRegistries": Prop(
                _STR_LIST,
                ALLOWED_REGISTRIES,
            )
        },
    ),
    "k8s-read-only-root-fs": Meta(
        "Containers have a read-only root filesystem.",
        "medium",
        "Set readOnlyRootFilesystem=True; mount an emptyDir where the process writes (e.g. /tmp).",
        enforcement=RELAXED_DEV,
        checkov=("CKV_K8S_22",),
    ),
    "k8s-drop-all-capabilities": Meta(
        "Containers drop ALL Linux capabilities.",
        "medium",
        "Set securityContext.capabilities.drop=['ALL'].",
        framework=_eks("4.2.9"),
        checkov=("CKV_K8S_37", "CKV_K8S_28"),
    ),
    "k8s-probes": Meta(
        "Long-running containers define liveness and readiness probes.",
        "low",
        "Add livenessProbe and readinessProbe.",
        enforcement=RELAXED_DEV,
        checkov=("CKV_K8S_8", "CKV_K8S_9"),
    ),
    "k8s-no-default-namespace": Meta(
        "Namespaced Kubernetes objects do not live in the default namespace.",
        "low",
        "Create a namespace for the workload and set metadata.namespace.",
        enforcement=RELAXED_DEV,
        framework=_eks("4.6.2"),
        checkov=("CKV_K8S_21",),
    ),
    "k8s-internal-load-balancer": Meta(
        "LoadBalancer Services are internal unless explicitly allowed.",
        "high",
        "Annotate service.beta.kubernetes.io/aws-load-balancer-scheme: internal, or list the service "
        "(namespace/name) in allowedPublicServices.",
        props={"allowedPublicServices": Prop(_STR_LIST, [])},
    ),
    "k8s-postgres-tls-verified": Meta(
        "Containers that connect to PostgreSQL verify the server: sslmode=verify-full in every postgresql URI "
        "and in PGSSLMODE, with a CA bundle (PGSSLROOTCERT or sslrootcert).",
        "high",
        "Use sslmode=verify-full and point PGSSLROOTCERT at the RDS CA bundle the image ships "
        "(components.mlflow.server.RDS_CA_BUNDLE_PATH).",
    ),
    "k8s-namespace-default-deny": Meta(
        "Namespaces the stack creates and runs workloads in have a default-deny ingress NetworkPolicy.",
        "medium",
        "Add a NetworkPolicy with podSelector {} and policyTypes ['Ingress'] (no ingress rules) in the "
        "namespace, then allow the traffic the workloads need.",
        framework=_eks("4.3.2"),
    ),
    "k8s-namespace-egress-restricted": Meta(
        "Namespaces the stack runs workloads in deny egress by default, and no NetworkPolicy allows egress to "
        "0.0.0.0/0, ::/0 or every destination (a rule without 'to'), unless listed in allowedOpenEgress.",
        "high",
        "Add a NetworkPolicy with podSelector {} and policyTypes ['Egress'] (no egress rules), then allow the "
        "destinations the workloads need by CIDR, namespace or pod (AWS APIs through VPC interface endpoints, "
        "i.e. the VPC CIDR); list namespace/name in allowedOpenEgress only with a reason.",
        framework=_eks("4.3.2"),
        props={"allowedOpenEgress": Prop(_STR_LIST, [])},
    ),
    "k8s-monitoring-default-deny": Meta(
        "The namespaces of the monitoring charts (kube-prometheus-stack, its node-exporter namespace, "
        "dcgm-exporter) deny all ingress and egress by default.",
        "high",
        "Add a NetworkPolicy with podSelector {}, policyTypes ['Ingress', 'Egress'] and no rules in the "
        "namespace, then the narrow allows (components/monitoring/monitoring.py network_policies).",
        framework=_eks("4.3.2"),
    ),
    "k8s-monitoring-ui-internal": Meta(
        "kube-prometheus-stack keeps Prometheus, Alertmanager and Grafana inside the cluster (ClusterIP "
        "Services, no Ingress) and Grafana without anonymous access.",
        "high",
        "Remove the Ingress or LoadBalancer/NodePort Service and anonymous Grafana; reach the UIs with "
        "kubectl port-forward (docs/monitoring.md).",
    ),
    # ---- Helm ------------------------------------------------------------------------------------
    "helm-chart-version-pinned": Meta(
        "Helm releases pin an exact chart version.",
        "medium",
        "Set version to an exact chart version (x.y.z).",
    ),
    "helm-repository-allowed": Meta(
        "Helm charts come from an allow-listed repository.",
        "high",
        "Use a repository from allowedRepositories (policies/config/<env>.json) or add yours there after review.",
        props={
            "allowedRepositories": Prop(
                _STR_LIST,
                ALLOWED_HELM_REPOSITORIES,
            )
        },
    ),
    "secrets-no-rds-master-sync": Meta(
        "No ExternalSecret syncs an RDS-managed master secret (rds!...) into the cluster: applications "
        "connect as their database tenant's role.",
        "high",
        "Give the application a DatabaseTenant (components/database/tenant.py) and sync its secret instead.",
    ),
    # ---- stack -----------------------------------------------------------------------------------
    "stack-stateful-protected": Meta(
        "In prod every stateful resource (bucket, database, key, repository) is protected.",
        "high",
        "Pass protect=True (protectionStatefulResources) to the component owning the resource.",
    ),
    "platform-model-registry": Meta(
        "A stack with the MlopsPlatform has a model registry (MLflow).",
        "medium",
        "Enable the ModelRegistry component of the platform.",
    ),
    "platform-monitoring": Meta(
        "A stack with the MlopsPlatform has monitoring (kube-prometheus-stack).",
        "medium",
        "Enable the Monitoring component of the platform.",
    ),
}

ENVIRONMENT_PROP = Prop({"type": "string", "enum": list(ENVIRONMENTS)})
"""Every rule takes ``environment``: used when a resource carries no ``environment`` tag."""


def config_for(env: str) -> dict[str, dict[str, Any]]:
    """The ``--policy-pack-config`` document for one environment."""
    out: dict[str, dict[str, Any]] = {}
    for name, meta in sorted(CATALOGUE.items()):
        entry: dict[str, Any] = {"enforcementLevel": meta.level(env), "environment": env}
        for key, prop in sorted(meta.props.items()):
            entry[key] = prop.for_env(env)
        out[name] = entry
    return out


def schema_for(meta: Meta) -> dict[str, dict[str, Any]]:
    props = {"environment": ENVIRONMENT_PROP.schema}
    props.update({k: p.schema for k, p in meta.props.items()})
    return props
