"""ModelRegistry: the MLflow tracking server and model registry on the cluster, as plain Kubernetes objects.

Database credentials never pass through Pulumi: MLflow is a :class:`~mlops_platform.components.database.tenant.DatabaseTenant`
(its own database and role, not the RDS master user): the tenant job, in the database-admin namespace, is the only
reader of the RDS master secret; it writes the role's generated password to a Secrets Manager secret, which the
External Secrets Operator (a pinned Helm release) syncs into the namespace, reading exactly that secret with a
role only the namespace's secrets service account can assume (IRSA). The schema is migrated by a Job
(``mlflow db upgrade`` and the auth app's migrations, :func:`mlops_platform.components.mlflow.server.migration_spec`) that the
Deployment waits for; its pods' init container waits until the schema is at the image's head. MLflow's basic-auth admin password and
Flask secret key are generated in the cluster by ESO's Password generator, and so is Prometheus' own scrape
credential, which only the pod's metrics exporter checks (:mod:`mlops_platform.components.mlflow.metrics`; MLflow's own
``/metrics`` admits only admins). Egress is closed to DNS, the database subnets and HTTPS to the VPC CIDR,
where S3 and STS answer on interface endpoints. The server's image, command,
arguments and environment come from :func:`mlops_platform.components.mlflow.server.server_spec`, the one definition of
the server shared with the end-to-end test.

This module creates the objects; their contents come from pure helpers beside it: :mod:`.network_policies`,
:mod:`.workload` (the server's and the migration's pods), :mod:`.secrets` (SecretStore, basic-auth Secret),
:mod:`.iam` (the artifact policy) and :mod:`.names`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from mlops_platform.components.aliases import component_options
from mlops_platform.components.cluster.external_secrets import ESO_GENERATORS_API, ESO_SECRETS_API
from mlops_platform.components.database.tenant import (
    DatabaseAdminNamespace,
    DatabaseAdminNamespaceArgs,
    DatabaseTenant,
    DatabaseTenantArgs,
)
from mlops_platform.components.iam import service_account_role
from mlops_platform.components.kubernetes import RESTRICTED_NAMESPACE_LABELS
from mlops_platform.components.mlflow.iam import artifact_policy
from mlops_platform.components.mlflow.metrics import (
    METRICS_PASSWORD_GENERATOR,
    METRICS_PORT,
    METRICS_PORT_NAME,
    METRICS_SECRET,
    credential_secret_spec,
    password_generator_spec,
)
from mlops_platform.components.mlflow.names import (
    AUTH_SECRET,
    DB_ROLE,
    DB_SECRET,
    MIGRATE_SA,
    SECRET_STORE,
    SECRETS_SA,
    SERVER_SA,
    SERVICE_NAME,
)
from mlops_platform.components.mlflow.network_policies import (
    default_deny_spec,
    migration_egress_spec,
    server_egress_spec,
    server_ingress_spec,
)
from mlops_platform.components.mlflow.secrets import (
    AUTH_GENERATORS,
    auth_external_secret_spec,
    auth_generator_name,
    auth_password_spec,
    secret_store_spec,
)
from mlops_platform.components.mlflow.server import (
    AUTH_CONFIG_PATH,
    DB_SERVICE_FILE_KEY,
    IMAGE_UID,
    PLATFORM_DB_CREDENTIALS,
    PORT,
    RDS_CA_BUNDLE_PATH,
    MigrationSpec,
    MlflowServerSpec,
    artifacts_destination,
    migration_spec,
    render_pg_service,
    server_spec,
    service_hosts,
)
from mlops_platform.components.mlflow.workload import (
    ServerResources,
    migration_job_name,
    migration_labels,
    migration_pod_spec,
    server_labels,
    server_pod_spec,
    server_selector,
)

__all__ = [
    "AUTH_SECRET",
    "DB_ROLE",
    "DB_SECRET",
    "MIGRATE_SA",
    "SECRETS_SA",
    "SECRET_STORE",
    "SERVER_SA",
    "SERVICE_NAME",
    "ModelRegistry",
    "ModelRegistryArgs",
    "artifact_policy",
]


@dataclass(frozen=True)
class ModelRegistryArgs:
    """Arguments of :class:`ModelRegistry`.

    Attributes:
        oidc_provider_arn: The cluster's IAM OIDC provider (IRSA).
        oidc_issuer_url: The cluster's OIDC issuer URL.
        artifact_bucket_name: The artifact store's bucket; MLflow writes only under ``artifact_prefix``.
        artifact_bucket_arn: That bucket's ARN.
        artifact_key_arn: The KMS key the bucket encrypts with.
        db_host: PostgreSQL host (the MetadataDatabase's address).
        db_port: PostgreSQL port.
        db_name: PostgreSQL database name.
        db_master_secret_arn: The RDS-managed master secret (JSON with ``username`` and ``password``); read only by
            the database tenant job, never synced into the cluster.
        db_secret_key_arn: The KMS key that encrypts that secret.
        tenant_secret_key_arn: The customer KMS key of MLflow's own database secret (default: ``db_secret_key_arn``).
        database_cidrs: CIDRs of the database subnets; the only destinations of port 5432 egress.
        vpc_cidr: The VPC's CIDR; the only destination of HTTPS egress (S3 and STS through their interface
            endpoints: a NetworkPolicy cannot name the S3 prefix list a gateway endpoint routes to).
        image: Pinned MLflow image (must contain psycopg2 and boto3).
        region: The AWS region.
        namespace: Namespace of the server, its secrets and the SecretStore.
        replicas: Server replicas (at least 2 for availability; the PDB allows one down at a time).
        workers: Server worker processes per replica.
        artifact_prefix: Key prefix of MLflow's artifacts in the bucket.
        client_namespace_label: ``(key, value)`` label of namespaces whose pods may reach MLflow.
        monitoring_namespace: Namespace whose Prometheus pods may scrape the metrics exporter.
        node_selector: Node labels the server is scheduled on.
        run_as_user: Numeric UID (and GID) the server runs as.
        cpu_request: CPU request per replica.
        cpu_limit: CPU limit per replica (the governance pack requires CPU and memory limits on every
            workload; two gunicorn workers rarely need more than two cores).
        memory_request: Memory request per replica.
        memory_limit: Memory limit per replica.
        await_rollout: Wait for the Deployment to become ready during ``pulumi up`` (the default). False adds
            ``pulumi.com/skipAwait``: for a first deployment that creates the ECR repository the image is pushed
            to afterwards, which would otherwise time out in ImagePullBackOff.
        tmp_size_limit: Size of the /tmp emptyDir (and the pod's ephemeral-storage limit). The artifact proxy
            spools each upload to a temporary file before it goes to S3, so this bounds the largest artifact
            (times concurrent uploads) a replica accepts.
        db_role: MLflow's database role (owner of ``db_name`` only).
        db_admin_namespace: Namespace of the database tenant jobs (the only holders of the master credential).
        create_db_admin_namespace: Create that namespace (False when another component already has).
        db_admin_https_cidrs: Destinations of that namespace's HTTPS egress (Secrets Manager and STS through the
            VPC's interface endpoints); ``None`` (the default): ``vpc_cidr``, like MLflow's own egress.
        db_rotation_schedule: Cron schedule (UTC) of the MLflow role's password rotation.
        external_secrets: The External Secrets Operator's release (the cluster add-on,
            :func:`mlops_platform.components.cluster.external_secrets.install_external_secrets`) that MLflow's SecretStore,
            ExternalSecrets and generators wait for; ``None`` when the cluster already runs the operator.
        default_permission: MLflow basic-auth permission of a new user on others' resources.
    """

    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer_url: pulumi.Input[str]
    artifact_bucket_name: pulumi.Input[str]
    artifact_bucket_arn: pulumi.Input[str]
    artifact_key_arn: pulumi.Input[str]
    db_host: pulumi.Input[str]
    db_port: pulumi.Input[int]
    db_name: pulumi.Input[str]
    db_master_secret_arn: pulumi.Input[str]
    db_secret_key_arn: pulumi.Input[str]
    database_cidrs: Sequence[str]
    vpc_cidr: str
    image: pulumi.Input[str]
    region: str
    namespace: str = "mlflow"
    replicas: int = 2
    workers: int = 2
    artifact_prefix: str = "mlflow"
    client_namespace_label: tuple[str, str] = ("mlops.platform/mlflow-client", "true")
    monitoring_namespace: str = "monitoring"
    node_selector: Mapping[str, str] = field(default_factory=dict)
    run_as_user: int = IMAGE_UID
    cpu_request: str = "500m"
    cpu_limit: str = "2"
    memory_request: str = "1Gi"
    memory_limit: str = "2Gi"
    tmp_size_limit: str = "20Gi"
    await_rollout: bool = True
    tenant_secret_key_arn: pulumi.Input[str] | None = None
    db_role: str = DB_ROLE
    db_admin_namespace: str = "db-admin"
    create_db_admin_namespace: bool = True
    db_admin_https_cidrs: Sequence[str] | None = None
    db_rotation_schedule: str = "17 3 1 * *"
    external_secrets: pulumi.Resource | None = None
    default_permission: str = "NO_PERMISSIONS"


def _validate(args: ModelRegistryArgs) -> None:
    if not args.database_cidrs:
        raise ValueError("ModelRegistry needs the database subnets' CIDRs for its egress policy")
    if ipaddress.ip_network(args.vpc_cidr, strict=True).num_addresses > 2**16:
        raise ValueError(f"vpc_cidr {args.vpc_cidr} is wider than a VPC (/16 at most)")
    if args.replicas < 1:
        raise ValueError("ModelRegistry needs at least one replica")


class ModelRegistry(pulumi.ComponentResource):
    """MLflow (tracking server and model registry) with PostgreSQL over TLS, artifacts proxied to S3 under
    one prefix, basic authentication, Prometheus metrics, and default-deny networking.

    Outputs: ``namespace``, ``service_name``, ``url`` (in-cluster), ``service_account_role_arn``,
    ``secrets_role_arn``, ``metrics_path``; ``spec`` is the rendered :class:`MlflowServerSpec` (an Output).
    """

    def __init__(
        self, name: str, args: ModelRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        TOKEN = "mlops:mlflow:ModelRegistry"
        super().__init__(TOKEN, name, None, component_options(TOKEN, opts))
        _validate(args)
        labels = server_labels(name)
        # The External Secrets Operator is a cluster add-on (mlops_platform.components.cluster.external_secrets).
        operator: list[pulumi.Resource] = [args.external_secrets] if args.external_secrets else []

        self._roles(name, args)
        self._namespace(name, args)
        self._network_policies(name, args)
        self._service_accounts(name, args, labels)
        self.spec: pulumi.Output[MlflowServerSpec] = self._server_spec(args)
        store = self._secret_store(name, args, operator)
        self._database_tenant(name, args, store, operator)
        auth_path = self.spec.apply(lambda s: s.env.get("MLFLOW_AUTH_CONFIG_PATH", AUTH_CONFIG_PATH))
        self._auth_secret(name, args, labels, auth_path, operator)
        self._metrics_credential(name, args, labels, operator)
        migration = self._migration(name, args, labels)
        self._server(name, args, labels, auth_path, migration)
        self._service(name, args, labels)
        self._outputs(args)

    def _child(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self)

    def _in_namespace(self) -> pulumi.ResourceOptions:
        """The options of the objects in MLflow's namespace: after the namespace."""
        return pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])

    def _crd(self, operator: Sequence[pulumi.Resource]) -> pulumi.ResourceOptions:
        """The options of External Secrets objects: after the namespace and the operator."""
        return pulumi.ResourceOptions(parent=self, depends_on=[self.namespace, *operator])

    def _roles(self, name: str, args: ModelRegistryArgs) -> None:
        """AWS roles (IRSA): the server's (artifacts under one prefix) and the SecretStore's."""
        self.server_role = service_account_role(
            f"{name}-server",
            oidc_provider_arn=args.oidc_provider_arn,
            oidc_issuer_url=args.oidc_issuer_url,
            namespace=args.namespace,
            service_account=SERVER_SA,
            description="MLflow server: artifacts under one prefix",
            opts=self._child(),
        )
        aws.iam.RolePolicy(
            f"{name}-server-artifacts",
            role=self.server_role.id,
            policy=pulumi.Output.all(args.artifact_bucket_arn, args.artifact_key_arn).apply(
                lambda a: artifact_policy(a[0], args.artifact_prefix, a[1], args.region)
            ),
            opts=self._child(),
        )
        self.secrets_role = service_account_role(
            f"{name}-secrets",
            oidc_provider_arn=args.oidc_provider_arn,
            oidc_issuer_url=args.oidc_issuer_url,
            namespace=args.namespace,
            service_account=SECRETS_SA,
            description="External Secrets: the MLflow database tenant secret only",
            opts=self._child(),
        )

    def _namespace(self, name: str, args: ModelRegistryArgs) -> None:
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.namespace, labels=RESTRICTED_NAMESPACE_LABELS),
            opts=self._child(),
        )

    def _network_policies(self, name: str, args: ModelRegistryArgs) -> None:
        """Default-deny, then the server's ingress and egress (mlops_platform.components.mlflow.network_policies)."""
        ns = args.namespace
        selector = server_selector(name)
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="default-deny", namespace=ns),
            spec=default_deny_spec(),
            opts=self._in_namespace(),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-allow-clients",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="mlflow-ingress", namespace=ns),
            spec=server_ingress_spec(
                selector,
                monitoring_namespace=args.monitoring_namespace,
                client_namespace_label=args.client_namespace_label,
            ),
            opts=self._in_namespace(),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-allow-egress",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="mlflow-egress", namespace=ns),
            spec=server_egress_spec(
                selector, database_cidrs=args.database_cidrs, db_port=args.db_port, vpc_cidr=args.vpc_cidr
            ),
            opts=self._in_namespace(),
        )

    def _service_accounts(self, name: str, args: ModelRegistryArgs, labels: Mapping[str, str]) -> None:
        """The server's and the SecretStore's service accounts, each annotated with its role."""
        self.server_service_account = k8s.core.v1.ServiceAccount(
            f"{name}-server",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=SERVER_SA,
                namespace=args.namespace,
                labels=labels,
                annotations={"eks.amazonaws.com/role-arn": self.server_role.arn},
            ),
            # Left at the default: reports disagree on whether EKS's IRSA webhook injects the web-identity
            # token into pods that opt out of the service-account token, and this account has no RBAC
            # binding, so its Kubernetes API token grants nothing.
            opts=self._in_namespace(),
        )
        self.secrets_service_account = k8s.core.v1.ServiceAccount(
            f"{name}-secrets",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=SECRETS_SA,
                namespace=args.namespace,
                labels=labels,
                annotations={"eks.amazonaws.com/role-arn": self.secrets_role.arn},
            ),
            automount_service_account_token=False,
            opts=self._in_namespace(),
        )

    @staticmethod
    def _server_spec(args: ModelRegistryArgs) -> pulumi.Output[MlflowServerSpec]:
        """The server's definition (one place: mlops_platform.components.mlflow.server)."""
        return pulumi.Output.all(
            args.db_host,
            args.db_port,
            args.db_name,
            args.artifact_bucket_name,
            args.image,
            args.artifact_key_arn,
        ).apply(
            lambda a: server_spec(
                db_host=a[0],
                db_port=int(a[1]),
                db_name=a[2],
                artifact_bucket=a[3],
                artifact_prefix=args.artifact_prefix,
                db_secret_name=DB_SECRET,
                auth_secret_name=AUTH_SECRET,
                image=a[4],
                region=args.region,
                workers=args.workers,
                # Clients address the Service by name; MLflow accepts only localhost and private IPs otherwise.
                allowed_hosts=service_hosts(service=SERVICE_NAME, namespace=args.namespace),
                # Uploads name the bucket key, so a bucket policy requiring SSE-KMS does not refuse them.
                artifact_kms_key_arn=a[5],
                # libpq reads the credentials from a service file at every new connection, so the password
                # RDS rotates (every 7 days) is picked up once the synced Secret refreshes, without a restart.
                db_credentials=PLATFORM_DB_CREDENTIALS,
            )
        )

    def _secret_store(
        self, name: str, args: ModelRegistryArgs, operator: Sequence[pulumi.Resource]
    ) -> k8s.apiextensions.CustomResource:
        """The SecretStore on Secrets Manager, authenticated as the secrets service account."""
        return k8s.apiextensions.CustomResource(
            f"{name}-store",
            api_version=ESO_SECRETS_API,
            kind="SecretStore",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SECRET_STORE, namespace=args.namespace),
            spec=secret_store_spec(region=args.region, service_account=SECRETS_SA),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.namespace, self.secrets_service_account, *operator]
            ),
        )

    def _database_tenant(
        self,
        name: str,
        args: ModelRegistryArgs,
        store: pulumi.Resource,
        operator: Sequence[pulumi.Resource],
    ) -> None:
        """MLflow's own database role and database (not the RDS master user): created by the tenant job, its
        password generated in the job's pod, kept in Secrets Manager and synced here with a libpq service file."""
        admin_ready: list[pulumi.Resource] = []
        if args.create_db_admin_namespace:
            admin_ready.append(
                DatabaseAdminNamespace(
                    f"{name}-db-admin",
                    DatabaseAdminNamespaceArgs(
                        name=args.db_admin_namespace,
                        database_cidrs=args.database_cidrs,
                        db_port=args.db_port,
                        https_cidrs=(
                            [args.vpc_cidr]
                            if args.db_admin_https_cidrs is None
                            else args.db_admin_https_cidrs
                        ),
                    ),
                    opts=self._child(),
                )
            )
        #: What other tenants' objects in the admin namespace wait for (the namespace, when created here).
        self.db_admin_ready: list[pulumi.Resource] = admin_ready
        self.database_tenant = DatabaseTenant(
            f"{name}-db-tenant",
            DatabaseTenantArgs(
                tenant=SERVICE_NAME,
                database=args.db_name,
                role=args.db_role,
                namespace=args.namespace,
                admin_namespace=args.db_admin_namespace,
                db_host=args.db_host,
                db_port=args.db_port,
                master_secret_arn=args.db_master_secret_arn,
                master_secret_key_arn=args.db_secret_key_arn,
                secret_name=f"{name}/database/{SERVICE_NAME}",
                secret_key_arn=args.tenant_secret_key_arn or args.db_secret_key_arn,
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_issuer_url=args.oidc_issuer_url,
                region=args.region,
                image=args.image,
                ca_bundle_path=RDS_CA_BUNDLE_PATH,
                secret_store=SECRET_STORE,
                k8s_secret_name=DB_SECRET,
                service_file_key=DB_SERVICE_FILE_KEY,
                service_file_template=render_pg_service(user="{{ .username }}", password="{{ .password }}"),
                run_as_user=args.run_as_user,
                rotation_schedule=args.db_rotation_schedule,
                await_job=args.await_rollout,
                node_selector=args.node_selector,
                admin_depends_on=admin_ready,
                tenant_depends_on=[store, *operator],
            ),
            opts=self._child(),
        )
        aws.iam.RolePolicy(
            f"{name}-secrets-read",
            role=self.secrets_role.id,
            policy=self.database_tenant.read_policy,
            opts=self._child(),
        )
        self.db_secret = self.database_tenant.external_secret

    def _auth_secret(
        self,
        name: str,
        args: ModelRegistryArgs,
        labels: Mapping[str, str],
        auth_path: pulumi.Output[str],
        operator: Sequence[pulumi.Resource],
    ) -> None:
        """MLflow's basic-auth admin password and Flask secret key, generated in the cluster, and the Secret
        with the auth config rendered from them (mlops_platform.components.mlflow.secrets)."""
        generators = {
            key: k8s.apiextensions.CustomResource(
                f"{name}-{key.replace('_', '-')}",
                api_version=ESO_GENERATORS_API,
                kind="Password",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=auth_generator_name(key), namespace=args.namespace),
                spec=auth_password_spec(length),
                opts=self._crd(operator),
            )
            for key, length in AUTH_GENERATORS
        }
        self.auth_secret = k8s.apiextensions.CustomResource(
            f"{name}-auth",
            api_version=ESO_SECRETS_API,
            kind="ExternalSecret",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=AUTH_SECRET, namespace=args.namespace, labels=labels),
            spec=pulumi.Output.all(self.spec, auth_path).apply(
                lambda a: auth_external_secret_spec(
                    a[0],
                    a[1],
                    secret_name=AUTH_SECRET,
                    generators_api=ESO_GENERATORS_API,
                    generator_keys=list(generators),
                    default_permission=args.default_permission,
                )
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*generators.values(), *operator]),
        )

    def _metrics_credential(
        self,
        name: str,
        args: ModelRegistryArgs,
        labels: Mapping[str, str],
        operator: Sequence[pulumi.Resource],
    ) -> None:
        """The scrape credential: generated in-cluster, rotated by ESO (mlops_platform.components.mlflow.metrics)."""
        ns = args.namespace
        metrics_generator = k8s.apiextensions.CustomResource(
            f"{name}-metrics-password",
            api_version=ESO_GENERATORS_API,
            kind="Password",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=METRICS_PASSWORD_GENERATOR, namespace=ns),
            spec=password_generator_spec(),
            opts=self._crd(operator),
        )
        self.metrics_secret = k8s.apiextensions.CustomResource(
            f"{name}-metrics",
            api_version=ESO_SECRETS_API,
            kind="ExternalSecret",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=METRICS_SECRET, namespace=ns, labels=labels),
            spec=credential_secret_spec(ESO_GENERATORS_API),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[metrics_generator, *operator]),
        )

    def _migration(
        self, name: str, args: ModelRegistryArgs, labels: Mapping[str, str]
    ) -> pulumi.Output[MigrationSpec]:
        """The schema migration: a Job the Deployment waits for. ``mlflow db upgrade`` (and the auth app's
        migrations) run once per image, not in every replica at once."""
        ns = args.namespace
        migration = self.spec.apply(migration_spec)
        image = self.spec.apply(lambda s: s.image)
        job_labels = migration_labels(labels)
        self.migrate_service_account = k8s.core.v1.ServiceAccount(
            f"{name}-migrate",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=MIGRATE_SA, namespace=ns, labels=labels),
            automount_service_account_token=False,
            opts=self._in_namespace(),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-migrate-egress",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="mlflow-migrate-egress", namespace=ns),
            spec=migration_egress_spec(database_cidrs=args.database_cidrs, db_port=args.db_port),
            opts=self._in_namespace(),
        )
        self.migration_job = k8s.batch.v1.Job(
            f"{name}-db-upgrade",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                # A new image is a new Job (Job specs are immutable: mlops_platform.components.mlflow.workload).
                name=pulumi.Output.all(image, migration).apply(lambda a: migration_job_name(a[0], a[1])),
                namespace=ns,
                labels=job_labels,
                # The first deployment (await_rollout False): the image is pushed after this update, so the Job
                # cannot finish in it; the server's init container waits for the schema instead.
                annotations=None if args.await_rollout else {"pulumi.com/skipAwait": "true"},
            ),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=4,
                active_deadline_seconds=3600,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=job_labels),
                    spec=migration_pod_spec(
                        migration, image=image, run_as_user=args.run_as_user, node_selector=args.node_selector
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.migrate_service_account, self.db_secret],
                custom_timeouts=pulumi.CustomTimeouts(create="60m", update="60m"),
            ),
        )
        return migration

    def _server(
        self,
        name: str,
        args: ModelRegistryArgs,
        labels: Mapping[str, str],
        auth_path: pulumi.Output[str],
        migration: pulumi.Output[MigrationSpec],
    ) -> None:
        """The Deployment: rolling updates one replica at a time, after its secrets and the migration Job."""
        selector = server_selector(name)
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-server",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=SERVICE_NAME,
                namespace=args.namespace,
                labels=labels,
                # Only for a first deployment whose image is not in the new repository yet (await_rollout).
                annotations=None if args.await_rollout else {"pulumi.com/skipAwait": "true"},
            ),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=args.replicas,
                revision_history_limit=5,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_unavailable=0, max_surge=1),
                ),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=server_pod_spec(
                        self.spec,
                        auth_path,
                        migration,
                        selector=selector,
                        resources=ServerResources(
                            cpu_request=args.cpu_request,
                            cpu_limit=args.cpu_limit,
                            memory_request=args.memory_request,
                            memory_limit=args.memory_limit,
                            tmp_size_limit=args.tmp_size_limit,
                        ),
                        run_as_user=args.run_as_user,
                        node_selector=args.node_selector,
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[
                    self.server_service_account,
                    self.db_secret,
                    self.auth_secret,
                    self.metrics_secret,
                    self.migration_job,
                ],
            ),
        )

    def _service(self, name: str, args: ModelRegistryArgs, labels: Mapping[str, str]) -> None:
        """The Service (the API and the exporter's port) and the PodDisruptionBudget."""
        ns = args.namespace
        selector = server_selector(name)
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SERVICE_NAME, namespace=ns, labels=labels),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=selector,
                ports=[
                    k8s.core.v1.ServicePortArgs(name="http", port=PORT, target_port="http", protocol="TCP"),
                    k8s.core.v1.ServicePortArgs(
                        name=METRICS_PORT_NAME,
                        port=METRICS_PORT,
                        target_port=METRICS_PORT_NAME,
                        protocol="TCP",
                    ),
                ],
            ),
            opts=self._in_namespace(),
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SERVICE_NAME, namespace=ns, labels=labels),
            # One replica down at a time: never blocks a node drain, never takes all replicas at once.
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector)
            ),
            opts=self._in_namespace(),
        )

    def _outputs(self, args: ModelRegistryArgs) -> None:
        self.namespace_name: pulumi.Output[str] = self.namespace.metadata.name
        self.service_name: pulumi.Output[str] = self.service.metadata.name
        self.url: pulumi.Output[str] = pulumi.Output.concat(
            "http://",
            self.service.metadata.name,
            ".",
            self.namespace.metadata.name,
            ".svc.cluster.local:5000",
        )
        self.service_account_role_arn: pulumi.Output[str] = self.server_role.arn
        self.secrets_role_arn: pulumi.Output[str] = self.secrets_role.arn
        self.metrics_path: pulumi.Output[str] = self.spec.apply(lambda s: s.metrics_path)
        #: The Service port and Secret (keys ``username``/``password``) Prometheus scrapes the exporter with.
        self.metrics_port_name: str = METRICS_PORT_NAME
        self.metrics_secret_name: str = METRICS_SECRET
        #: Where the artifact proxy stores artifacts (``s3://<bucket>/<prefix>``): what ``mlflow-artifacts:/``
        #: locations map onto (the serving storage initializer reads models from there).
        self.artifacts_destination: pulumi.Output[str] = pulumi.Output.from_input(
            args.artifact_bucket_name
        ).apply(lambda bucket: artifacts_destination(bucket=bucket, prefix=args.artifact_prefix))
        self.register_outputs(
            {
                "namespace": self.namespace_name,
                "service_name": self.service_name,
                "url": self.url,
                "service_account_role_arn": self.service_account_role_arn,
                "secrets_role_arn": self.secrets_role_arn,
            }
        )
