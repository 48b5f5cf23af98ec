"""MetadataDatabase: RDS PostgreSQL for MLflow's backend store (experiments, runs, registered models)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from mlops_platform.components.aws_context import AwsContext, lookup
from mlops_platform.components.iam import managed_policy_arn, service_trust_policy

POSTGRES_PORT = 5432
LOG_EXPORTS: tuple[str, ...] = ("postgresql", "upgrade")
MONITORING_INTERVALS: tuple[int, ...] = (0, 1, 5, 10, 15, 30, 60)


def engine_major(version: str) -> str:
    """``"17.6"`` -> ``"17"``; raises ``ValueError`` for anything that is not a PostgreSQL 10+ version."""
    match = re.fullmatch(r"(\d{2})(?:\.\d{1,2})?", version)
    if not match:
        raise ValueError(f"{version!r} is not a PostgreSQL version such as 17.6")
    return match.group(1)


def parameter_group_family(version: str) -> str:
    """The DB parameter group family of a PostgreSQL version: ``"17.6"`` -> ``"postgres17"``."""
    return f"postgres{engine_major(version)}"


def db_parameters(log_min_duration_ms: int) -> dict[str, str]:
    """The parameter group's settings: TLS only (``rds.force_ssl``), statements slower than
    ``log_min_duration_ms`` logged, connections, disconnections and lock waits logged."""
    return {
        "rds.force_ssl": "1",
        "log_min_duration_statement": str(log_min_duration_ms),
        "log_connections": "1",
        "log_disconnections": "1",
        "log_lock_waits": "1",
    }


@dataclass(frozen=True)
class MetadataDatabaseArgs:
    """Arguments of :class:`MetadataDatabase`.

    Attributes:
        vpc_id: The VPC the database's security group belongs to.
        subnet_ids: Subnets of the DB subnet group (the network's isolated database subnets, two or more
            zones).
        kms_key_arn: Customer-managed KMS key that encrypts the storage, snapshots, the master-user secret
            and Performance Insights.
        allowed_security_group_ids: Security groups whose members may connect on 5432 (e.g. the cluster's
            node security group). The database admits no CIDR at all; with an empty list nothing can connect
            until the caller adds a group.
        identifier: The RDS instance identifier (also the start of the final snapshot's name).
        engine_version: PostgreSQL version, e.g. ``17.6``; its major selects the parameter group family.
            With :attr:`auto_minor_version_upgrade` the instance is requested at the major (``17``) and RDS
            keeps it on the latest minor in the maintenance window, so the stack never fights RDS over the
            minor; without it the exact version is requested.
        auto_minor_version_upgrade: Apply minor engine upgrades (security fixes) automatically.
        instance_class: RDS instance class.
        database_name: Name of the database created on the instance.
        master_username: Master user name. Its password is generated and rotated by RDS in Secrets Manager
            (``manage_master_user_password``), encrypted with :attr:`kms_key_arn`; it never appears in the
            program, the config or the state.
        allocated_storage_gib: Initial gp3 storage.
        max_allocated_storage_gib: Storage autoscaling ceiling.
        backup_retention_days: Automated backup retention (1-35 days).
        backup_window: Daily backup window (UTC, ``hh:mm-hh:mm``).
        maintenance_window: Weekly maintenance window (UTC, ``ddd:hh:mm-ddd:hh:mm``).
        multi_az: A synchronous standby in another zone.
        deletion_protection: RDS deletion protection.
        final_snapshot: Take a final snapshot named ``<identifier>-final`` when the instance is deleted.
        performance_insights: Performance Insights, encrypted with :attr:`kms_key_arn`.
        performance_insights_retention_days: 7 (free tier), or a multiple of 31 up to 731.
        monitoring_interval_seconds: Enhanced Monitoring interval (0 disables it and its IAM role).
        log_min_duration_ms: Statements slower than this are logged (``log_min_duration_statement``).
        iam_database_authentication: Let IAM principals connect with IAM auth tokens.
        ca_cert_identifier: The server certificate authority clients verify.
        log_groups: Create the CloudWatch log groups the exported logs go to
            (``/aws/rds/instance/<identifier>/<log>``) before the instance, so they get a retention and a key
            instead of RDS's defaults (never expire, no customer key).
        log_retention_days: Retention of those log groups, one of CloudWatch's periods.
        log_kms_key_arn: KMS key encrypting those log groups (e.g. ``Keys.logs_key_arn``); without one
            CloudWatch Logs' own encryption applies.
        protect: Pulumi ``protect`` and ``retain_on_delete`` on the instance.
        aws_context: Account, region and partition; looked up through the provider when omitted.
    """

    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    kms_key_arn: pulumi.Input[str]
    allowed_security_group_ids: Sequence[pulumi.Input[str]] = field(default_factory=tuple)
    identifier: str = "mlflow-metadata"
    engine_version: str = "17.6"
    auto_minor_version_upgrade: bool = True
    instance_class: str = "db.t4g.medium"
    database_name: str = "mlflow"
    master_username: str = "mlflow_admin"
    allocated_storage_gib: int = 20
    max_allocated_storage_gib: int = 100
    backup_retention_days: int = 14
    backup_window: str = "02:00-03:00"
    maintenance_window: str = "sun:04:00-sun:05:00"
    multi_az: bool = True
    deletion_protection: bool = True
    final_snapshot: bool = True
    performance_insights: bool = True
    performance_insights_retention_days: int = 7
    monitoring_interval_seconds: int = 60
    log_min_duration_ms: int = 1000
    iam_database_authentication: bool = True
    ca_cert_identifier: str = "rds-ca-rsa2048-g1"
    log_groups: bool = True
    log_retention_days: int = 365
    log_kms_key_arn: pulumi.Input[str] | None = None
    protect: bool = True
    aws_context: AwsContext | None = None


def _validate(args: MetadataDatabaseArgs) -> None:
    if args.monitoring_interval_seconds not in MONITORING_INTERVALS:
        raise ValueError(f"monitoring_interval_seconds must be one of {list(MONITORING_INTERVALS)}")
    if args.max_allocated_storage_gib < args.allocated_storage_gib:
        raise ValueError("max_allocated_storage_gib must be at least allocated_storage_gib")
    if not 1 <= args.backup_retention_days <= 35:
        raise ValueError("backup_retention_days must be between 1 and 35")
    engine_major(args.engine_version)


class MetadataDatabase(pulumi.ComponentResource):
    """An RDS PostgreSQL instance in private database subnets: encrypted with a customer key, TLS-only,
    reachable on 5432 from the given security groups only, its master password managed by RDS in Secrets
    Manager, with backups, logs exported to CloudWatch, Enhanced Monitoring and Performance Insights.

    Outputs: ``endpoint`` (``host:port``), ``address``, ``port``, ``database_name``, ``master_username``,
    ``master_secret_arn``, ``security_group_id``, ``identifier``, ``resource_id``, ``arn``,
    ``parameter_group_name``, ``subnet_group_name``.
    """

    def __init__(
        self, name: str, args: MetadataDatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:database:MetadataDatabase", name, None, opts)
        _validate(args)
        self._subnet_group(name, args)
        self._security_group(name, args)
        self._parameter_group(name, args)
        monitoring_ready = self._monitoring_role(name, args)
        self._log_groups(name, args)
        self._instance(name, args, monitoring_ready)
        self._outputs(args)

    def _subnet_group(self, name: str, args: MetadataDatabaseArgs) -> None:
        self.subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            description=f"{args.identifier}: isolated database subnets",
            subnet_ids=args.subnet_ids,
            tags={"Name": f"{args.identifier}-subnets"},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _security_group(self, name: str, args: MetadataDatabaseArgs) -> None:
        """The database's security group: one ingress rule per allowed group, no CIDR rule, no egress rule (the
        database opens no connections; security groups are stateful, so replies need none)."""
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            description=f"{args.identifier}: PostgreSQL from allowed security groups only",
            vpc_id=args.vpc_id,
            tags={"Name": f"{args.identifier}-sg"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.ingress_rules: list[aws.vpc.SecurityGroupIngressRule] = [
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-sg-ingress-{i}",
                security_group_id=self.security_group.id,
                description="PostgreSQL from an allowed security group",
                ip_protocol="tcp",
                from_port=POSTGRES_PORT,
                to_port=POSTGRES_PORT,
                referenced_security_group_id=source,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for i, source in enumerate(args.allowed_security_group_ids)
        ]

    def _parameter_group(self, name: str, args: MetadataDatabaseArgs) -> None:
        self.parameter_group = aws.rds.ParameterGroup(
            f"{name}-params",
            family=parameter_group_family(args.engine_version),
            description=f"{args.identifier}: TLS only, connection and slow-statement logging",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name=key, value=value, apply_method="immediate")
                for key, value in db_parameters(args.log_min_duration_ms).items()
            ],
            tags={"Name": f"{args.identifier}-params"},
            # A new family (major upgrade) needs a new group while the instance still uses the old one.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=False),
        )

    def _monitoring_role(self, name: str, args: MetadataDatabaseArgs) -> list[pulumi.Resource]:
        """Enhanced Monitoring's role (none when it is off); returns what the instance must wait for."""
        self.monitoring_role: aws.iam.Role | None = None
        if args.monitoring_interval_seconds <= 0:
            return []
        ctx = args.aws_context or lookup(self)
        self.monitoring_role = aws.iam.Role(
            f"{name}-monitoring",
            description=f"RDS Enhanced Monitoring of {args.identifier}",
            assume_role_policy=json.dumps(
                service_trust_policy("monitoring.rds.amazonaws.com", source_account=ctx.account_id)
            ),
            tags={"Name": f"{args.identifier}-monitoring"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        # RDS checks the role's permissions when the instance is created: attach the policy first.
        return [
            aws.iam.RolePolicyAttachment(
                f"{name}-monitoring",
                role=self.monitoring_role.name,
                policy_arn=managed_policy_arn("service-role/AmazonRDSEnhancedMonitoringRole", ctx.partition),
                opts=pulumi.ResourceOptions(parent=self),
            )
        ]

    def _log_groups(self, name: str, args: MetadataDatabaseArgs) -> None:
        """RDS creates missing log groups itself, with no retention and no customer key; create them first."""
        self.log_groups: dict[str, aws.cloudwatch.LogGroup] = {}
        if not args.log_groups:
            return
        for export in LOG_EXPORTS:
            self.log_groups[export] = aws.cloudwatch.LogGroup(
                f"{name}-{export}",
                name=f"/aws/rds/instance/{args.identifier}/{export}",
                retention_in_days=args.log_retention_days,
                kms_key_id=args.log_kms_key_arn,
                tags={"Name": f"{args.identifier}-{export}"},
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _instance(
        self, name: str, args: MetadataDatabaseArgs, monitoring_ready: Sequence[pulumi.Resource]
    ) -> None:
        major = engine_major(args.engine_version)
        self.instance = aws.rds.Instance(
            f"{name}-instance",
            identifier=args.identifier,
            engine="postgres",
            engine_version=major if args.auto_minor_version_upgrade else args.engine_version,
            auto_minor_version_upgrade=args.auto_minor_version_upgrade,
            allow_major_version_upgrade=False,
            instance_class=args.instance_class,
            db_name=args.database_name,
            username=args.master_username,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=args.kms_key_arn,
            port=POSTGRES_PORT,
            storage_type="gp3",
            allocated_storage=args.allocated_storage_gib,
            max_allocated_storage=args.max_allocated_storage_gib,
            storage_encrypted=True,
            kms_key_id=args.kms_key_arn,
            db_subnet_group_name=self.subnet_group.name,
            vpc_security_group_ids=[self.security_group.id],
            publicly_accessible=False,
            network_type="IPV4",
            parameter_group_name=self.parameter_group.name,
            ca_cert_identifier=args.ca_cert_identifier,
            iam_database_authentication_enabled=args.iam_database_authentication,
            multi_az=args.multi_az,
            backup_retention_period=args.backup_retention_days,
            backup_window=args.backup_window,
            maintenance_window=args.maintenance_window,
            copy_tags_to_snapshot=True,
            delete_automated_backups=False,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=not args.final_snapshot,
            final_snapshot_identifier=f"{args.identifier}-final" if args.final_snapshot else None,
            performance_insights_enabled=args.performance_insights,
            performance_insights_kms_key_id=args.kms_key_arn if args.performance_insights else None,
            performance_insights_retention_period=(
                args.performance_insights_retention_days if args.performance_insights else None
            ),
            monitoring_interval=args.monitoring_interval_seconds,
            monitoring_role_arn=self.monitoring_role.arn if self.monitoring_role is not None else None,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            apply_immediately=False,
            tags={"Name": args.identifier},
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                retain_on_delete=args.protect,
                depends_on=[*monitoring_ready, *self.log_groups.values()],
            ),
        )

    def _outputs(self, args: MetadataDatabaseArgs) -> None:
        self.endpoint: pulumi.Output[str] = self.instance.endpoint
        self.address: pulumi.Output[str] = self.instance.address
        self.port: pulumi.Output[int] = self.instance.port
        self.database_name: pulumi.Output[str] = pulumi.Output.from_input(args.database_name)
        self.master_username: pulumi.Output[str] = pulumi.Output.from_input(args.master_username)
        self.master_secret_arn: pulumi.Output[str] = self.instance.master_user_secrets.apply(
            lambda secrets: (secrets[0].secret_arn or "") if secrets else ""
        )
        self.security_group_id: pulumi.Output[str] = self.security_group.id
        self.identifier: pulumi.Output[str] = self.instance.identifier
        self.resource_id: pulumi.Output[str] = self.instance.resource_id
        self.arn: pulumi.Output[str] = self.instance.arn
        self.parameter_group_name: pulumi.Output[str] = self.parameter_group.name
        self.subnet_group_name: pulumi.Output[str] = self.subnet_group.name
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "address": self.address,
                "port": self.port,
                "database_name": self.database_name,
                "master_username": self.master_username,
                "master_secret_arn": self.master_secret_arn,
                "security_group_id": self.security_group_id,
                "identifier": self.identifier,
                "resource_id": self.resource_id,
                "arn": self.arn,
            }
        )
