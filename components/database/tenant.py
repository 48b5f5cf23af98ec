"""DatabaseTenant: one application's database on the shared RDS instance, with its own role and rotated password.

MLflow, and later the pipelines' workflow archive and the notebooks' hub, each get a tenant:

* a **database** owned by a **role** of its own (``LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
  NOBYPASSRLS``), ``CONNECT`` revoked from ``PUBLIC``, so the role reaches nothing but its database and no other
  role reaches that database;
* a **Secrets Manager secret** (customer KMS key) with the role's credentials, created by Pulumi *without a value*;
* a one-off **Job** (``ensure``) and a **CronJob** (``rotate``) in the database-admin namespace that run
  :mod:`mlops_platform.components.database.tenant_job` (shipped in a ConfigMap, run by the MLflow image's Python): they read the RDS
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

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from mlops_platform.components.aliases import component_options
from mlops_platform.components.cluster.external_secrets import ESO_SECRETS_API
from mlops_platform.components.database.iam import job_policy, read_policy
from mlops_platform.components.database.secrets import SECRET_KEYS, credentials_spec
from mlops_platform.components.database.workload import (
    JOB_SCRIPT_KEY,
    JOB_SCRIPT_MOUNT,
    JOB_SCRIPT_SOURCE,
    content_hash,
    job_command,
    job_env,
    job_pod_spec,
)
from mlops_platform.components.iam import service_account_role
from mlops_platform.components.kubernetes import (
    RESTRICTED_NAMESPACE_LABELS,
    cidr_egress,
    dns_egress,
    selector,
    utc_cron_job_spec,
)

# The tenant's pure parts live in mlops_platform.components.database.iam, .secrets and .workload; these names stay importable
# from here (the end-to-end test and ``mlops local`` run the job with job_command and job_env).
__all__ = [
    "JOB_SCRIPT_KEY",
    "JOB_SCRIPT_MOUNT",
    "JOB_SCRIPT_SOURCE",
    "SECRET_KEYS",
    "DatabaseAdminNamespace",
    "DatabaseAdminNamespaceArgs",
    "DatabaseTenant",
    "DatabaseTenantArgs",
    "check_identifier",
    "job_command",
    "job_env",
    "job_policy",
    "read_policy",
]

#: PostgreSQL identifiers the tenant accepts (lowercase: no quoting surprises in psql or service files).
_IDENTIFIER = r"^[a-z_][a-z0-9_]{0,62}$"


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
                pod_selector=selector(), policy_types=["Ingress", "Egress"]
            ),
            opts=in_ns,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-egress",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="tenant-job-egress", namespace=args.name),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=selector(),
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
        service_file_key: Key of the libpq service file in that Secret (empty: no service file, for a client
            that reads ``username`` and ``password`` itself, like Argo's workflow archive).
        service_file_template: The service file with ``{{ .username }}``/``{{ .password }}`` placeholders (rendered
            by the caller, e.g. :func:`mlops_platform.components.mlflow.server.render_pg_service`).
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
    run_as_user: int
    service_file_key: str = ""
    service_file_template: str = ""
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
        labels = {
            "app.kubernetes.io/name": "database-tenant",
            "app.kubernetes.io/instance": args.tenant,
            "app.kubernetes.io/part-of": "mlops-platform",
            **dict(args.labels or {}),
        }
        sa_name = f"{args.tenant}-db-tenant"

        self._secret(name, args)
        self._job_role(name, args, sa_name)
        service_account = self._service_account(name, args, sa_name, labels)
        source = JOB_SCRIPT_SOURCE.read_text()
        script = self._script(name, args, sa_name, labels, source)
        env = self._job_env(args)
        self._job(name, args, sa_name, labels, source, env, script, service_account)
        self._rotation(name, args, sa_name, labels, env, script)
        self._external_secret(name, args, labels)

        self.secret_arn: pulumi.Output[str] = self.secret.arn
        self.job_role_arn: pulumi.Output[str] = self.job_role.arn
        self.job_name: pulumi.Output[str] = self.job.metadata.name
        self.register_outputs(
            {"secret_arn": self.secret_arn, "job_role_arn": self.job_role_arn, "job_name": self.job_name}
        )

    def _secret(self, name: str, args: DatabaseTenantArgs) -> None:
        """The tenant secret: no value (the job writes it), the tenant's customer key."""
        self.secret = aws.secretsmanager.Secret(
            f"{name}-secret",
            name=args.secret_name,
            description=f"Database tenant {args.tenant} (role {args.role}): written by the tenant job, "
            "rotated by its CronJob",
            kms_key_id=args.secret_key_arn,
            recovery_window_in_days=args.recovery_window_days,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _job_role(self, name: str, args: DatabaseTenantArgs, sa_name: str) -> None:
        """The job's role (IRSA: the master secret and the tenant secret), and the policy the tenant namespace's
        External Secrets role needs (:attr:`read_policy`)."""
        self.job_role = service_account_role(
            f"{name}-job",
            oidc_provider_arn=args.oidc_provider_arn,
            oidc_issuer_url=args.oidc_issuer_url,
            namespace=args.admin_namespace,
            service_account=sa_name,
            description=f"Database tenant job {args.tenant}: the master secret and the tenant secret only",
            opts=pulumi.ResourceOptions(parent=self),
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
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.read_policy: pulumi.Output[str] = pulumi.Output.all(self.secret.arn, args.secret_key_arn).apply(
            lambda a: read_policy([a[0]], a[1], args.region)
        )

    def _in_admin(self, args: DatabaseTenantArgs) -> pulumi.ResourceOptions:
        """The options of the objects in the admin namespace: after what it waits for."""
        return pulumi.ResourceOptions(parent=self, depends_on=list(args.admin_depends_on))

    def _service_account(
        self, name: str, args: DatabaseTenantArgs, sa_name: str, labels: Mapping[str, str]
    ) -> k8s.core.v1.ServiceAccount:
        return k8s.core.v1.ServiceAccount(
            f"{name}-job",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=sa_name,
                namespace=args.admin_namespace,
                labels=labels,
                annotations={"eks.amazonaws.com/role-arn": self.job_role.arn},
            ),
            opts=self._in_admin(args),
        )

    def _script(
        self, name: str, args: DatabaseTenantArgs, sa_name: str, labels: Mapping[str, str], source: str
    ) -> k8s.core.v1.ConfigMap:
        """The job's program (mlops_platform.components.database.tenant_job) in an immutable ConfigMap named by its hash."""
        return k8s.core.v1.ConfigMap(
            f"{name}-script",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{sa_name}-{content_hash(source)}", namespace=args.admin_namespace, labels=labels
            ),
            data={JOB_SCRIPT_KEY: source},
            immutable=True,
            opts=self._in_admin(args),
        )

    def _job_env(self, args: DatabaseTenantArgs) -> pulumi.Output[dict[str, str]]:
        return pulumi.Output.all(
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

    @staticmethod
    def _pod(
        mode: str,
        args: DatabaseTenantArgs,
        sa_name: str,
        env: pulumi.Output[dict[str, str]],
        script: k8s.core.v1.ConfigMap,
    ) -> k8s.core.v1.PodSpecArgs:
        return job_pod_spec(
            mode,
            service_account=sa_name,
            image=args.image,
            env=env,
            script_config_map=script.metadata.name,
            run_as_user=args.run_as_user,
            node_selector=args.node_selector,
        )

    def _job(
        self,
        name: str,
        args: DatabaseTenantArgs,
        sa_name: str,
        labels: Mapping[str, str],
        source: str,
        env: pulumi.Output[dict[str, str]],
        script: k8s.core.v1.ConfigMap,
        service_account: k8s.core.v1.ServiceAccount,
    ) -> None:
        """The one-off Job (``ensure``) that creates or corrects the role and the database and sets the password."""
        # Job specs are immutable: the name carries a hash of what the pod runs, so a new image, program or
        # setting is a new Job (created before the old one is deleted), never an update the API server refuses.
        job_hash = pulumi.Output.all(args.image, env).apply(lambda a: content_hash(a[0], a[1], source))
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
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=self._pod("ensure", args, sa_name, env, script),
                ),
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*args.admin_depends_on, service_account, script],
                custom_timeouts=pulumi.CustomTimeouts(create="30m", update="30m"),
            ),
        )

    def _rotation(
        self,
        name: str,
        args: DatabaseTenantArgs,
        sa_name: str,
        labels: Mapping[str, str],
        env: pulumi.Output[dict[str, str]],
        script: k8s.core.v1.ConfigMap,
    ) -> None:
        """The CronJob (``rotate``): every run sets a new password, with the same program."""
        self.rotation = k8s.batch.v1.CronJob(
            f"{name}-rotate",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{sa_name}-rotate", namespace=args.admin_namespace, labels=labels
            ),
            spec=utc_cron_job_spec(
                args.rotation_schedule,
                k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=self._pod("rotate", args, sa_name, env, script),
                ),
                labels=labels,
                backoff_limit=3,
                active_deadline_seconds=1800,
                starting_deadline_seconds=3600,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.admin_depends_on, self.job]),
        )

    def _external_secret(self, name: str, args: DatabaseTenantArgs, labels: Mapping[str, str]) -> None:
        """The credentials in the tenant's namespace (mlops_platform.components.database.secrets)."""
        self.external_secret = k8s.apiextensions.CustomResource(
            f"{name}-credentials",
            api_version=ESO_SECRETS_API,
            kind="ExternalSecret",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.k8s_secret_name, namespace=args.namespace, labels=labels
            ),
            spec=credentials_spec(
                secret_arn=self.secret.arn,
                secret_store=args.secret_store,
                k8s_secret_name=args.k8s_secret_name,
                service_file_key=args.service_file_key,
                service_file_template=args.service_file_template,
                refresh_interval=args.refresh_interval,
            ),
            # After the Job: the secret has no value before it ran (External Secrets would only retry).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.tenant_depends_on, self.job]),
        )
