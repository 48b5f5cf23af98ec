"""RDS: private, encrypted with a customer key, backed up, protected in prod, TLS-only, managed secrets."""

from __future__ import annotations

from collections.abc import Iterator

from mlops_platform.policies.rules._common import Ctx, Res, Stack, as_list, bool_setting, truthy
from mlops_platform.policies.rules._meta import NON_NEGATIVE_INT, RELAXED_DEV, Prop, cis_aws
from mlops_platform.policies.rules._registry import resource_rule, stack_rule

INSTANCE = "aws:rds/instance:Instance"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"

DEFAULT_LOG_EXPORTS = {"postgres": ["postgresql"], "mysql": ["error"], "mariadb": ["error"]}


def _is_replica(res: Res) -> bool:
    return bool(res.get("replicateSourceDb")) or bool(res.get("snapshotIdentifier"))


@resource_rule(
    "rds-not-public",
    INSTANCE,
    description="RDS instances are not publicly accessible.",
    severity="critical",
    remediation="Set publicly_accessible=False.",
    framework=cis_aws("2.3.3"),
    checkov=("CKV_AWS_17",),
    prowler=("rds_instance_no_public_access",),
)
def not_public(res: Res, ctx: Ctx) -> Iterator[str]:
    if truthy(res.get("publiclyAccessible")):
        yield "publiclyAccessible gives the instance a public address"


@resource_rule(
    "rds-encrypted-cmk",
    INSTANCE,
    description="RDS storage is encrypted with a customer-managed KMS key.",
    severity="high",
    remediation="Set storage_encrypted=True and kms_key_id to the data key's ARN.",
    framework=cis_aws("2.3.1"),
    checkov=("CKV_AWS_16",),
    prowler=("rds_instance_storage_encrypted",),
)
def encrypted(res: Res, ctx: Ctx) -> Iterator[str]:
    if not truthy(res.get("storageEncrypted")):
        yield "storage is not encrypted"
    elif not res.get("kmsKeyId"):
        yield "storage is encrypted with the AWS-managed key; set kmsKeyId to a customer-managed key"


@resource_rule(
    "rds-backup-retention",
    INSTANCE,
    description="Automated backups are kept at least 7 days (14 in prod).",
    severity="medium",
    remediation="Raise backup_retention_period (databaseBackupRetentionDays).",
    enforcement=RELAXED_DEV,
    checkov=("CKV_AWS_133",),
    prowler=("rds_instance_backup_enabled",),
    props={"minimumDays": Prop(NON_NEGATIVE_INT, 7), "minimumDaysProd": Prop(NON_NEGATIVE_INT, 14)},
)
def backups(res: Res, ctx: Ctx) -> Iterator[str]:
    if _is_replica(res) and res.get("replicateSourceDb"):
        return
    minimum = int(ctx.get("minimumDaysProd") if ctx.prod else ctx.get("minimumDays"))
    raw = res.get("backupRetentionPeriod")
    try:
        days = int(float(raw)) if raw is not None else 0
    except (TypeError, ValueError):
        days = 0
    if days < minimum:
        yield f"backupRetentionPeriod is {days} days; {ctx.environment} needs at least {minimum}"


@resource_rule(
    "rds-deletion-protection",
    INSTANCE,
    description="RDS instances in prod have deletion protection.",
    severity="high",
    remediation="Set deletion_protection=True in prod.",
    checkov=("CKV_AWS_293",),
    prowler=("rds_instance_deletion_protection",),
)
def deletion_protection(res: Res, ctx: Ctx) -> Iterator[str]:
    if ctx.prod and not truthy(res.get("deletionProtection")):
        yield "deletionProtection is off in prod"


@resource_rule(
    "rds-final-snapshot",
    INSTANCE,
    description="RDS instances in prod take a final snapshot on deletion.",
    severity="high",
    remediation="Set skip_final_snapshot=False and a final_snapshot_identifier in prod.",
)
def final_snapshot(res: Res, ctx: Ctx) -> Iterator[str]:
    if not ctx.prod:
        return
    if truthy(res.get("skipFinalSnapshot")):
        yield "skipFinalSnapshot drops the data on deletion in prod"
    elif not res.get("finalSnapshotIdentifier"):
        yield "finalSnapshotIdentifier is not set, so deletion fails or loses the final snapshot"


@resource_rule(
    "rds-multi-az",
    INSTANCE,
    description="RDS instances in prod are Multi-AZ.",
    severity="medium",
    remediation="Set multi_az=True in prod.",
    checkov=("CKV_AWS_157",),
    prowler=("rds_instance_multi_az",),
)
def multi_az(res: Res, ctx: Ctx) -> Iterator[str]:
    if ctx.prod and not truthy(res.get("multiAz")):
        yield "multiAz is off in prod (a zone outage takes the database down)"


@resource_rule(
    "rds-managed-master-password",
    INSTANCE,
    description=(
        "The master password is managed by RDS in Secrets Manager, encrypted with a customer key; no literal "
        "password is passed."
    ),
    severity="critical",
    remediation="Drop password/password_wo; set manage_master_user_password=True and master_user_secret_kms_key_id.",
)
def managed_password(res: Res, ctx: Ctx) -> Iterator[str]:
    if "password" in res.props or "passwordWo" in res.props:
        yield "a master password is passed to the instance; let RDS manage it (manageMasterUserPassword)"
    elif not _is_replica(res) and not truthy(res.get("manageMasterUserPassword")):
        yield "manageMasterUserPassword is not set; the master password must be managed by RDS in Secrets Manager"
    elif truthy(res.get("manageMasterUserPassword")) and not res.get("masterUserSecretKmsKeyId"):
        yield "the RDS-managed master secret uses the AWS-managed key; set masterUserSecretKmsKeyId"


@resource_rule(
    "rds-performance-insights-kms",
    INSTANCE,
    description="Performance Insights data is encrypted with a customer-managed key.",
    severity="medium",
    remediation="Set performance_insights_kms_key_id to the data key when Performance Insights is on.",
    checkov=("CKV_AWS_354",),
)
def performance_insights_kms(res: Res, ctx: Ctx) -> Iterator[str]:
    if truthy(res.get("performanceInsightsEnabled")) and not res.get("performanceInsightsKmsKeyId"):
        yield "Performance Insights data is encrypted with the AWS-managed key; set performanceInsightsKmsKeyId"


@resource_rule(
    "rds-iam-auth",
    INSTANCE,
    description="IAM database authentication is enabled.",
    severity="medium",
    remediation="Set iam_database_authentication_enabled=True.",
    enforcement=RELAXED_DEV,
    checkov=("CKV_AWS_161",),
    prowler=("rds_instance_iam_authentication_enabled",),
)
def iam_auth(res: Res, ctx: Ctx) -> Iterator[str]:
    if not truthy(res.get("iamDatabaseAuthenticationEnabled")):
        yield "iamDatabaseAuthenticationEnabled is off"


@resource_rule(
    "rds-log-exports",
    INSTANCE,
    description="Engine logs are exported to CloudWatch Logs (postgresql for PostgreSQL).",
    severity="low",
    remediation="Set enabled_cloudwatch_logs_exports=['postgresql', 'upgrade'].",
    enforcement=RELAXED_DEV,
    checkov=("CKV_AWS_129",),
    prowler=("rds_instance_integration_cloudwatch_logs",),
)
def log_exports(res: Res, ctx: Ctx) -> Iterator[str]:
    engine = str(res.get("engine") or "")
    wanted = DEFAULT_LOG_EXPORTS.get(engine)
    if wanted is None:
        return
    have = {str(x) for x in as_list(res.get("enabledCloudwatchLogsExports"))}
    missing = [w for w in wanted if w not in have]
    if missing:
        yield f"log exports to CloudWatch lack {', '.join(missing)}"


@resource_rule(
    "rds-auto-minor-upgrade",
    INSTANCE,
    description="Automatic minor version upgrades are on.",
    severity="medium",
    remediation="Set auto_minor_version_upgrade=True.",
    framework=cis_aws("2.3.2"),
    checkov=("CKV_AWS_226",),
    prowler=("rds_instance_minor_version_upgrade_enabled",),
)
def auto_minor(res: Res, ctx: Ctx) -> Iterator[str]:
    if not bool_setting(res.get("autoMinorVersionUpgrade"), True):
        yield "autoMinorVersionUpgrade is off, so security patches are not applied"


@resource_rule(
    "rds-approved-engine",
    INSTANCE,
    description="RDS uses an approved engine at a pinned, approved major version.",
    severity="medium",
    remediation="Use engine 'postgres' with an approved major version (databaseEngineVersion).",
    props={"allowedEngines": Prop({"type": "object"}, {"postgres": ["16", "17"]})},
)
def approved_engine(res: Res, ctx: Ctx) -> Iterator[str]:
    allowed: dict = ctx.get("allowedEngines")
    engine = str(res.get("engine") or "")
    version = str(res.get("engineVersion") or "")
    if engine not in allowed:
        yield f"engine {engine or '(unset)'!r} is not approved ({', '.join(sorted(allowed))})"
        return
    if not version:
        yield "engineVersion is not pinned"
        return
    major = version.split(".")[0]
    if major not in [str(v) for v in allowed[engine]] and version not in [str(v) for v in allowed[engine]]:
        yield f"{engine} {version} is not an approved version ({', '.join(map(str, allowed[engine]))})"


def _force_ssl(group: Res) -> str | None:
    for p in as_list(group.get("parameters")):
        if isinstance(p, dict) and p.get("name") == "rds.force_ssl":
            return str(p.get("value"))
    return None


@stack_rule(
    "rds-force-ssl",
    description="PostgreSQL instances use a parameter group that sets rds.force_ssl=1.",
    severity="high",
    remediation="Attach an aws.rds.ParameterGroup with parameter rds.force_ssl=1.",
    prowler=("rds_instance_transport_encrypted",),
)
def force_ssl(stack: Stack, ctx: Ctx) -> Iterator[tuple[str, str]]:
    for db in stack.of_type(INSTANCE):
        if str(db.get("engine") or "") != "postgres":
            continue
        groups = stack.referenced(db, "parameterGroupName", [PARAMETER_GROUP], ("name", "id"))
        if not groups:
            yield "the instance uses no parameter group of this stack that sets rds.force_ssl=1", db.urn
            continue
        for g in groups:
            if _force_ssl(g) != "1":
                yield f"parameter group {g.name!r} does not set rds.force_ssl=1", g.urn
