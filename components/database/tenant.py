"""DatabaseTenant: one application's database on the shared RDS instance, with its own role and rotated password.

MLflow, and later the pipelines' workflow archive and the notebooks' hub, each get a tenant:

* a **database** owned by a **role** of its own (``LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
  NOBYPASSRLS``), ``CONNECT`` revoked from ``PUBLIC``, so the role reaches nothing but its database and no other
  role reaches that database;
* a **Secrets Manager secret** (customer KMS key) with the role's credentials, created by Pulumi *without a value*;
* a one-off **Job** (``ensure``) and a **CronJob** (``rotate``) in the database-admin namespace that run
  :mod:`components.database.tenant_job` (shipped in a ConfigMap, run by the MLflow image's Python): they read the RDS
  master secret with their own workload identity, create or correct the role and the database, generate the
  password in the pod and write it to the tenant secret; ``ALTER ROLE ... PASSWORD`` commits only after Secrets
  Manager took the new value;
* an **ExternalSecret** in the tenant's namespace that External Secrets syncs from the tenant secret, with a
  libpq service file rendered from it (libpq re-reads the file at every connection: a rotation needs no restart).

So the password is generated and rotated without passing through the program, the config or the state, and the
master secret is readable only by the admin namespace's job service account: no Kubernetes Secret ever holds it,
and the application's pods (and its External Secrets role) cannot read it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aliases import component_options
from components.database import tenant_job as db_tenant_job
from components.iam import service_account_role
from components.kubernetes import cidr_egress, dns_egress, restricted_container, restricted_pod

ESO_SECRETS_API = "external-secrets.io/v1"
#: Where the job's program is mounted in the pod.
JOB_SCRIPT_MOUNT = "/etc/db-tenant"
JOB_SCRIPT_KEY = "db_tenant_job.py"
JOB_SCRIPT_SOURCE = Path(db_tenant_job.__file__)
#: Keys of the synced Kubernetes Secret (those of the tenant secret's JSON, plus the service file).
SECRET_KEYS = ("username", "password")
#: PostgreSQL identifiers the tenant accepts (lowercase: no quoting surprises in psql or service files).
_IDENTIFIER = r"^[a-z_][a-z0-9_]{0,62}$"

RESTRICTED_NAMESPACE_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}


def job_command(mode: str, *, script_path: str = f"{JOB_SCRIPT_MOUNT}/{JOB_SCRIPT_KEY}") -> list[str]:
    """The tenant job's argv (``ensure`` for the one-off Job, ``rotate`` for the CronJob); the end-to-end test runs
    it with ``script_path`` pointing at this repository's copy of the same file."""
    if mode not in db_tenant_job.MODES:
        raise ValueError(f"mode {mode!r} is not one of {db_tenant_job.MODES}")
    # -P: nothing is imported from the program's own directory (a mounted ConfigMap, or this package).
    return ["python", "-P", script_path, mode]


def job_env(
    *,
    host: str,
    port: int,
    database: str,
    role: str,
    master_secret_id: str,
    tenant_secret_id: str,
    region: str,
    ca_bundle_path: str,
    maintenance_database: str = "postgres",
) -> dict[str, str]:
    """The tenant job's environment: libpq's connection and TLS settings and the tenant's names; no secret."""
    return {
        "PGHOST": host,
        "PGPORT": str(port),
        "PGSSLMODE": "verify-full",
        "PGSSLROOTCERT": ca_bundle_path,
        "PGCONNECT_TIMEOUT": "10",
        "TENANT_DATABASE": database,
        "TENANT_ROLE": role,
        "TENANT_MAINTENANCE_DATABASE": maintenance_database,
        "TENANT_MASTER_SECRET_ID": master_secret_id,
        "TENANT_SECRET_ID": tenant_secret_id,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "HOME": "/tmp",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def job_policy(
    *, master_secret_arn: str, master_key_arn: str, tenant_secret_arn: str, tenant_key_arn: str, region: str
) -> str:
    """The tenant job's role: read the master secret, read and write the tenant secret, each key through Secrets
    Manager only."""
    via = {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}
    statements = [
        {
            "Sid": "ReadMasterSecret",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": master_secret_arn,
        },
        {
            "Sid": "WriteTenantSecret",
            "Effect": "Allow",
            "Action": [
                "secretsmanager:GetSecretValue",
                "secretsmanager:DescribeSecret",
                "secretsmanager:PutSecretValue",
            ],
            "Resource": tenant_secret_arn,
        },
    ]
    if master_key_arn == tenant_key_arn:
        statements.append(
            {
                "Sid": "SecretKeys",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": tenant_key_arn,
                "Condition": via,
            }
        )
    else:
        statements += [
            {
                "Sid": "MasterSecretKey",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": master_key_arn,
                "Condition": via,
            },
            {
                "Sid": "TenantSecretKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": tenant_key_arn,
                "Condition": via,
            },
        ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def read_policy(secret_arns: Sequence[str], key_arn: str, region: str) -> str:
    """Read exactly these Secrets Manager secrets (External Secrets' role), decrypting through Secrets Manager."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadTenantSecrets",
                    "Effect": "Allow",
                    "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    "Resource": list(secret_arns) if len(secret_arns) > 1 else secret_arns[0],
                },
                {
                    "Sid": "DecryptTenantSecrets",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": key_arn,
                    "Condition": {
                        "StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}
                    },
                },
            ],
        }
    )


@dataclass(frozen=True)
class DatabaseAdminNamespaceArgs:
    """Arguments of :class:`DatabaseAdminNamespace`.

    Attributes:
        name: The namespace's name.
        database_cidrs: CIDRs of the database subnets (the only destinations of PostgreSQL egress).
        db_port: The PostgreSQL port.
        https_cidrs: Destinations of HTTPS egress: Secrets Manager and STS, reached through the VPC's interface
            endpoints, so the VPC CIDR (no default: the jobs hold the master credential, and an open egress
            is refused by the pack's ``k8s-namespace-egress-restricted``).
    """

    name: str
    database_cidrs: Sequence[str]
    https_cidrs: Sequence[str]
    db_port: pulumi.Input[int] = 5432


class DatabaseAdminNamespace(pulumi.ComponentResource):
    """The namespace where tenant jobs (the only holders of the RDS master credential) run: restricted pod
    security, default-deny, egress to DNS, the database subnets and HTTPS only, no ingress at all."""

    def __init__(
        self, name: str, args: DatabaseAdminNamespaceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        TOKEN = "mlops:database:DatabaseAdminNamespace"
        super().__init__(TOKEN, name, None, component_options(TOKEN, opts))
        if not args.database_cidrs:
            raise ValueError("DatabaseAdminNamespace needs the database subnets' CIDRs for its egress policy")
        self.namespace = k8s.core.v1.Namespace(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.name, labels=RESTRICTED_NAMESPACE_LABELS),
            opts=pulumi.ResourceOptions(parent=self),
        )
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="default-deny", namespace=args.name),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Ingress", "Egress"]
            ),
            opts=in_ns,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-egress",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="tenant-job-egress", namespace=args.name),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(),
                policy_types=["Egress"],
                egress=[
                    dns_egress(),
                    cidr_egress(args.database_cidrs, args.db_port),
                    cidr_egress(args.https_cidrs, 443),
                ],
            ),
            opts=in_ns,
        )
        self.name: pulumi.Output[str] = self.namespace.metadata.name
        self.register_outputs({"name": self.name})


@dataclass(frozen=True)
class DatabaseTenantArgs:
    """Arguments of :class:`DatabaseTenant`.

    Attributes:
        tenant: Short name of the tenant (``mlflow``); names the secret, the jobs and their service account.
        database: The tenant's database name.
        role: The tenant's login role.
        namespace: The tenant's namespace (where the synced Secret lands; it must exist).
        admin_namespace: Name of the :class:`DatabaseAdminNamespace` the jobs run in.
        db_host: PostgreSQL host (the name its certificate carries: ``verify-full``).
        db_port: PostgreSQL port.
        master_secret_arn: The RDS-managed master secret (read by the jobs only).
        master_secret_key_arn: The KMS key of that secret.
        secret_name: Name of the tenant's Secrets Manager secret.
        secret_key_arn: Customer-managed KMS key of the tenant's secret.
        oidc_provider_arn: The cluster's IAM OIDC provider (IRSA of the jobs' service account).
        oidc_issuer_url: The cluster's OIDC issuer URL.
        region: The AWS region.
        image: The image the jobs run (Python with psycopg2 and boto3, and the CA bundle: the MLflow image).
        ca_bundle_path: The CA bundle in that image libpq verifies the server with.
        secret_store: Name of the SecretStore in ``namespace`` External Secrets reads the tenant secret through
            (its role gets :attr:`DatabaseTenant.read_policy`).
        k8s_secret_name: Name of the synced Kubernetes Secret (keys ``username``, ``password`` and
            ``service_file_key``).
        service_file_key: Key of the libpq service file in that Secret.
        service_file_template: The service file with ``{{ .username }}``/``{{ .password }}`` placeholders (rendered
            by the caller, e.g. :func:`components.mlflow.server.render_pg_service`).
        run_as_user: UID/GID of the jobs' container (the image's user).
        rotation_schedule: Cron schedule of the rotation (UTC); every run sets a new password.
        refresh_interval: How often External Secrets re-reads the tenant secret (the longest a rotated password
            takes to reach the Secret; the kubelet then updates the mounted file within about a minute).
        await_job: Wait for the one-off Job to complete during ``pulumi up``. False (the first deployment, before the
            image is pushed) adds ``pulumi.com/skipAwait``: the Job runs once the image can be pulled.
        node_selector: Node labels the jobs are scheduled on.
        labels: Labels of every object.
        recovery_window_days: Secrets Manager's recovery window when the secret is deleted (7-30).
        admin_depends_on: What the objects in the admin namespace wait for (the namespace).
        tenant_depends_on: What the ExternalSecret waits for (the tenant namespace, its SecretStore, the operator).
    """

    tenant: str
    database: pulumi.Input[str]
    role: str
    namespace: str
    admin_namespace: str
    db_host: pulumi.Input[str]
    db_port: pulumi.Input[int]
    master_secret_arn: pulumi.Input[str]
    master_secret_key_arn: pulumi.Input[str]
    secret_name: str
    secret_key_arn: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer_url: pulumi.Input[str]
    region: str
    image: pulumi.Input[str]
    ca_bundle_path: str
    secret_store: str
    k8s_secret_name: str
    service_file_key: str
    service_file_template: str
    run_as_user: int
    admin_depends_on: Sequence[pulumi.Resource] = ()
    tenant_depends_on: Sequence[pulumi.Resource] = ()
    rotation_schedule: str = "17 3 1 * *"
    refresh_interval: str = "1m"
    await_job: bool = True
    node_selector: Mapping[str, str] | None = None
    labels: Mapping[str, str] | None = None
    recovery_window_days: int = 30


def check_identifier(tenant: str, what: str, value: str) -> str:
    if not re.match(_IDENTIFIER, value):
        raise ValueError(f"DatabaseTenant {tenant}: {what} {value!r} must match {_IDENTIFIER}")
    return value


def _hash(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:8]


class DatabaseTenant(pulumi.ComponentResource):
    """A database, its role, its Secrets Manager secret, the job that creates them, the CronJob that rotates the
    password, and the ExternalSecret that syncs the credentials into the tenant's namespace.

    Outputs: ``secret_arn``, ``job_role_arn``, ``job_name``; :attr:`read_policy` is the identity policy the tenant
    namespace's External Secrets role needs (this secret only); :attr:`job` is what consumers depend on.
    """

    def __init__(
        self, name: str, args: DatabaseTenantArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        TOKEN = "mlops:database:DatabaseTenant"
        super().__init__(TOKEN, name, None, component_options(TOKEN, opts))

        check_identifier(args.tenant, "role", args.role)
        if not 7 <= args.recovery_window_days <= 30:
            raise ValueError("recovery_window_days must be between 7 and 30")
        child = pulumi.ResourceOptions(parent=self)
        labels = {
            "app.kubernetes.io/name": "database-tenant",
            "app.kubernetes.io/instance": args.tenant,
            "app.kubernetes.io/part-of": "mlops-platform",
            **dict(args.labels or {}),
        }
        sa_name = f"{args.tenant}-db-tenant"

        # ---- the tenant secret (no value: the job writes it) and the roles reading it --------------------
        self.secret = aws.secretsmanager.Secret(
            f"{name}-secret",
            name=args.secret_name,
            description=f"Database tenant {args.tenant} (role {args.role}): written by the tenant job, "
            "rotated by its CronJob",
            kms_key_id=args.secret_key_arn,
            recovery_window_in_days=args.recovery_window_days,
            opts=child,
        )
        self.job_role = service_account_role(
            f"{name}-job",
            oidc_provider_arn=args.oidc_provider_arn,
            oidc_issuer_url=args.oidc_issuer_url,
            namespace=args.admin_namespace,
            service_account=sa_name,
            description=f"Database tenant job {args.tenant}: the master secret and the tenant secret only",
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-job",
            role=self.job_role.id,
            policy=pulumi.Output.all(
                args.master_secret_arn, args.master_secret_key_arn, self.secret.arn, args.secret_key_arn
            ).apply(
                lambda a: job_policy(
                    master_secret_arn=a[0],
                    master_key_arn=a[1],
                    tenant_secret_arn=a[2],
                    tenant_key_arn=a[3],
                    region=args.region,
                )
            ),
            opts=child,
        )
        self.read_policy: pulumi.Output[str] = pulumi.Output.all(self.secret.arn, args.secret_key_arn).apply(
            lambda a: read_policy([a[0]], a[1], args.region)
        )

        # ---- the job's service account, program, Job and CronJob ---------------------------------------
        in_admin = pulumi.ResourceOptions(parent=self, depends_on=list(args.admin_depends_on))
        service_account = k8s.core.v1.ServiceAccount(
            f"{name}-job",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=sa_name,
                namespace=args.admin_namespace,
                labels=labels,
                annotations={"eks.amazonaws.com/role-arn": self.job_role.arn},
            ),
            opts=in_admin,
        )
        source = JOB_SCRIPT_SOURCE.read_text()
        script = k8s.core.v1.ConfigMap(
            f"{name}-script",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{sa_name}-{_hash(source)}", namespace=args.admin_namespace, labels=labels
            ),
            data={JOB_SCRIPT_KEY: source},
            immutable=True,
            opts=in_admin,
        )
        env = pulumi.Output.all(
            args.db_host, args.db_port, args.master_secret_arn, self.secret.arn, args.database
        ).apply(
            lambda a: job_env(
                host=a[0],
                port=int(a[1]),
                database=check_identifier(args.tenant, "database", a[4]),
                role=args.role,
                master_secret_id=a[2],
                tenant_secret_id=a[3],
                region=args.region,
                ca_bundle_path=args.ca_bundle_path,
            )
        )

        def pod(mode: str) -> k8s.core.v1.PodSpecArgs:
            return k8s.core.v1.PodSpecArgs(
                service_account_name=sa_name,
                restart_policy="Never",
                enable_service_links=False,
                node_selector=dict(args.node_selector or {}) or None,
                security_context=restricted_pod(args.run_as_user),
                containers=[
                    k8s.core.v1.ContainerArgs(
                        name="tenant",
                        image=args.image,
                        image_pull_policy="IfNotPresent",
                        command=job_command(mode),
                        env=env.apply(
                            lambda e: [k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in e.items()]
                        ),
                        resources=k8s.core.v1.ResourceRequirementsArgs(
                            requests={"cpu": "50m", "memory": "128Mi", "ephemeral-storage": "64Mi"},
                            limits={"cpu": "500m", "memory": "256Mi", "ephemeral-storage": "256Mi"},
                        ),
                        security_context=restricted_container(args.run_as_user),
                        volume_mounts=[
                            k8s.core.v1.VolumeMountArgs(
                                name="program", mount_path=JOB_SCRIPT_MOUNT, read_only=True
                            ),
                            k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
                        ],
                    )
                ],
                volumes=[
                    k8s.core.v1.VolumeArgs(
                        name="program",
                        config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                            name=script.metadata.name, default_mode=0o444
                        ),
                    ),
                    k8s.core.v1.VolumeArgs(
                        name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="64Mi")
                    ),
                ],
            )

        # Job specs are immutable: the name carries a hash of what the pod runs, so a new image, program or
        # setting is a new Job (created before the old one is deleted), never an update the API server refuses.
        job_hash = pulumi.Output.all(args.image, env).apply(lambda a: _hash(a[0], a[1], source))
        self.job = k8s.batch.v1.Job(
            f"{name}-ensure",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=job_hash.apply(lambda h: f"{sa_name}-{h}"),
                namespace=args.admin_namespace,
                labels=labels,
                annotations=None if args.await_job else {"pulumi.com/skipAwait": "true"},
            ),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=6,
                active_deadline_seconds=1800,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels), spec=pod("ensure")
                ),
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*args.admin_depends_on, service_account, script],
                custom_timeouts=pulumi.CustomTimeouts(create="30m", update="30m"),
            ),
        )
        self.rotation = k8s.batch.v1.CronJob(
            f"{name}-rotate",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{sa_name}-rotate", namespace=args.admin_namespace, labels=labels
            ),
            spec=k8s.batch.v1.CronJobSpecArgs(
                schedule=args.rotation_schedule,
                time_zone="Etc/UTC",
                concurrency_policy="Forbid",
                starting_deadline_seconds=3600,
                successful_jobs_history_limit=1,
                failed_jobs_history_limit=3,
                job_template=k8s.batch.v1.JobTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=k8s.batch.v1.JobSpecArgs(
                        backoff_limit=3,
                        active_deadline_seconds=1800,
                        template=k8s.core.v1.PodTemplateSpecArgs(
                            metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels), spec=pod("rotate")
                        ),
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.admin_depends_on, self.job]),
        )

        # ---- the credentials in the tenant's namespace -------------------------------------------------
        self.external_secret = k8s.apiextensions.CustomResource(
            f"{name}-credentials",
            api_version=ESO_SECRETS_API,
            kind="ExternalSecret",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.k8s_secret_name, namespace=args.namespace, labels=labels
            ),
            spec={
                "refreshInterval": args.refresh_interval,
                "secretStoreRef": {"name": args.secret_store, "kind": "SecretStore"},
                "target": {
                    "name": args.k8s_secret_name,
                    "creationPolicy": "Owner",
                    "deletionPolicy": "Retain",
                    "template": {
                        "engineVersion": "v2",
                        "mergePolicy": "Merge",
                        "data": {args.service_file_key: args.service_file_template},
                    },
                },
                "data": [
                    {"secretKey": key, "remoteRef": {"key": self.secret.arn, "property": key}}
                    for key in SECRET_KEYS
                ],
            },
            # After the Job: the secret has no value before it ran (External Secrets would only retry).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.tenant_depends_on, self.job]),
        )

        self.secret_arn: pulumi.Output[str] = self.secret.arn
        self.job_role_arn: pulumi.Output[str] = self.job_role.arn
        self.job_name: pulumi.Output[str] = self.job.metadata.name
        self.register_outputs(
            {"secret_arn": self.secret_arn, "job_role_arn": self.job_role_arn, "job_name": self.job_name}
        )
