"""RDS: private, encrypted with a customer key, backed up, protected in prod, TLS-only, managed secrets."""

from __future__ import annotations

from collections.abc import Iterator

from policies.rules._common import Ctx, Res, Stack, as_list, bool_setting, resource_rule, stack_rule, truthy

INSTANCE = "aws:rds/instance:Instance"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"

DEFAULT_LOG_EXPORTS = {"postgres": ["postgresql"], "mysql": ["error"], "mariadb": ["error"]}


def _is_replica(res: Res) -> bool:
    return bool(res.get("replicateSourceDb")) or bool(res.get("snapshotIdentifier"))


@resource_rule("rds-not-public", INSTANCE)
def not_public(res: Res, ctx: Ctx) -> Iterator[str]:
    if truthy(res.get("publiclyAccessible")):
        yield "publiclyAccessible gives the instance a public address"


@resource_rule("rds-encrypted-cmk", INSTANCE)
def encrypted(res: Res, ctx: Ctx) -> Iterator[str]:
    if not truthy(res.get("storageEncrypted")):
        yield "storage is not encrypted"
    elif not res.get("kmsKeyId"):
        yield "storage is encrypted with the AWS-managed key; set kmsKeyId to a customer-managed key"


@resource_rule("rds-backup-retention", INSTANCE)
def backups(res: Res, ctx: Ctx) -> Iterator[str]:
    if _is_replica(res) and res.get("replicateSourceDb"):
        return
    minimum = int(ctx.get("minimumDaysProd", 14) if ctx.prod else ctx.get("minimumDays", 7))
    raw = res.get("backupRetentionPeriod")
    try:
        days = int(float(raw)) if raw is not None else 0
    except (TypeError, ValueError):
        days = 0
    if days < minimum:
        yield f"backupRetentionPeriod is {days} days; {ctx.environment} needs at least {minimum}"


@resource_rule("rds-deletion-protection", INSTANCE)
def deletion_protection(res: Res, ctx: Ctx) -> Iterator[str]:
    if ctx.prod and not truthy(res.get("deletionProtection")):
        yield "deletionProtection is off in prod"


@resource_rule("rds-final-snapshot", INSTANCE)
def final_snapshot(res: Res, ctx: Ctx) -> Iterator[str]:
    if not ctx.prod:
        return
    if truthy(res.get("skipFinalSnapshot")):
        yield "skipFinalSnapshot drops the data on deletion in prod"
    elif not res.get("finalSnapshotIdentifier"):
        yield "finalSnapshotIdentifier is not set, so deletion fails or loses the final snapshot"


@resource_rule("rds-multi-az", INSTANCE)
def multi_az(res: Res, ctx: Ctx) -> Iterator[str]:
    if ctx.prod and not truthy(res.get("multiAz")):
        yield "multiAz is off in prod (a zone outage takes the database down)"


@resource_rule("rds-managed-master-password", INSTANCE)
def managed_password(res: Res, ctx: Ctx) -> Iterator[str]:
    if "password" in res.props or "passwordWo" in res.props:
        yield "a master password is passed to the instance; let RDS manage it (manageMasterUserPassword)"
    elif not _is_replica(res) and not truthy(res.get("manageMasterUserPassword")):
        yield "manageMasterUserPassword is not set; the master password must be managed by RDS in Secrets Manager"
    elif truthy(res.get("manageMasterUserPassword")) and not res.get("masterUserSecretKmsKeyId"):
        yield "the RDS-managed master secret uses the AWS-managed key; set masterUserSecretKmsKeyId"


@resource_rule("rds-performance-insights-kms", INSTANCE)
def performance_insights_kms(res: Res, ctx: Ctx) -> Iterator[str]:
    if truthy(res.get("performanceInsightsEnabled")) and not res.get("performanceInsightsKmsKeyId"):
        yield "Performance Insights data is encrypted with the AWS-managed key; set performanceInsightsKmsKeyId"


@resource_rule("rds-iam-auth", INSTANCE)
def iam_auth(res: Res, ctx: Ctx) -> Iterator[str]:
    if not truthy(res.get("iamDatabaseAuthenticationEnabled")):
        yield "iamDatabaseAuthenticationEnabled is off"


@resource_rule("rds-log-exports", INSTANCE)
def log_exports(res: Res, ctx: Ctx) -> Iterator[str]:
    engine = str(res.get("engine") or "")
    wanted = DEFAULT_LOG_EXPORTS.get(engine)
    if wanted is None:
        return
    have = {str(x) for x in as_list(res.get("enabledCloudwatchLogsExports"))}
    missing = [w for w in wanted if w not in have]
    if missing:
        yield f"log exports to CloudWatch lack {', '.join(missing)}"


@resource_rule("rds-auto-minor-upgrade", INSTANCE)
def auto_minor(res: Res, ctx: Ctx) -> Iterator[str]:
    if not bool_setting(res.get("autoMinorVersionUpgrade"), True):
        yield "autoMinorVersionUpgrade is off, so security patches are not applied"


@resource_rule("rds-approved-engine", INSTANCE)
def approved_engine(res: Res, ctx: Ctx) -> Iterator[str]:
    allowed: dict = ctx.get("allowedEngines", {"postgres": ["16", "17"]})
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


@stack_rule("rds-force-ssl")
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


RULES = [
    not_public,
    encrypted,
    backups,
    deletion_protection,
    final_snapshot,
    multi_az,
    managed_password,
    performance_insights_kms,
    iam_auth,
    log_exports,
    auto_minor,
    approved_engine,
    force_ssl,
]
