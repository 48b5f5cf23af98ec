"""ModelRegistry: the MLflow tracking server and model registry on the cluster, as plain Kubernetes objects.

Database credentials never pass through Pulumi: MLflow is a :class:`~components.database.tenant.DatabaseTenant`
(its own database and role, not the RDS master user): the tenant job, in the database-admin namespace, is the only
reader of the RDS master secret; it writes the role's generated password to a Secrets Manager secret, which the
External Secrets Operator (a pinned Helm release) syncs into the namespace, reading exactly that secret with a
role only the namespace's secrets service account can assume (IRSA). The schema is migrated by a Job
(``mlflow db upgrade`` and the auth app's migrations, :func:`components.mlflow.server.migration_spec`) that the
Deployment waits for; its pods' init container waits until the schema is at the image's head. MLflow's basic-auth admin password and
Flask secret key are generated in the cluster by ESO's Password generator, and so is Prometheus' own scrape
credential, which only the pod's metrics exporter checks (:mod:`components.mlflow.metrics`; MLflow's own
``/metrics`` admits only admins). Egress is closed to DNS, the database subnets and HTTPS to the VPC CIDR,
where S3 and STS answer on interface endpoints. The server's image, command,
arguments and environment come from :func:`components.mlflow.server.server_spec`, the one definition of
the server shared with the end-to-end test.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aliases import component_options
from components.cluster.external_secrets import ESO_GENERATORS_API, ESO_SECRETS_API
from components.database.tenant import (
    DatabaseAdminNamespace,
    DatabaseAdminNamespaceArgs,
    DatabaseTenant,
    DatabaseTenantArgs,
)
from components.iam import service_account_role
from components.kubernetes import cidr_egress, dns_egress, restricted_container, restricted_pod
from components.mlflow.metrics import (
    CREDENTIALS_MOUNT,
    METRICS_PASSWORD_GENERATOR,
    METRICS_PORT,
    METRICS_PORT_NAME,
    METRICS_SECRET,
    PASSWORD_SHA256_KEY,
    SHARED_TMP_MOUNT,
    USERNAME_KEY,
    credential_secret_spec,
    exporter_spec,
    password_generator_spec,
)
from components.mlflow.server import (
    AUTH_ADMIN_USERNAME,
    AUTH_CONFIG_PATH,
    AUTH_FLASK_SECRET_KEY,
    DB_SERVICE_FILE_KEY,
    DB_SERVICE_MOUNT,
    IMAGE_UID,
    PLATFORM_DB_CREDENTIALS,
    RDS_CA_BUNDLE_PATH,
    MlflowServerSpec,
    migration_spec,
    render_auth_config,
    render_pg_service,
    server_spec,
    service_hosts,
)

SERVICE_NAME = "mlflow"
SERVER_SA = "mlflow"
SECRETS_SA = "mlflow-secrets"
DB_SECRET = "mlflow-db"
AUTH_SECRET = "mlflow-auth"
SECRET_STORE = "aws-secrets-manager"
MIGRATE_SA = "mlflow-migrate"
#: The database tenant's role (the database is ``db_name``).
DB_ROLE = "mlflow"


def artifact_policy(bucket_arn: str, prefix: str, data_key_arn: str, region: str) -> str:
    """Read/write on ``<bucket>/<prefix>/*`` only, listing only under that prefix, and the bucket key
    only through S3."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ArtifactObjects",
                    "Effect": "Allow",
                    "Action": [
                        "s3:GetObject",
                        "s3:PutObject",
                        "s3:DeleteObject",
                        "s3:AbortMultipartUpload",
                        "s3:ListMultipartUploadParts",
                    ],
                    "Resource": f"{bucket_arn}/{prefix}/*",
                },
                {
                    "Sid": "ArtifactListing",
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": bucket_arn,
                    "Condition": {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}},
                },
                {
                    "Sid": "ArtifactKey",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": data_key_arn,
                    "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
                },
            ],
        }
    )


def backend_store_uri(spec: MlflowServerSpec) -> str:
    """The backend-store URI the server is started with (its ``--backend-store-uri`` argument or the
    ``MLFLOW_BACKEND_STORE_URI`` variable); the basic-auth app uses the same database."""
    args = list(spec.args)
    if "--backend-store-uri" in args and args.index("--backend-store-uri") + 1 < len(args):
        return args[args.index("--backend-store-uri") + 1]
    for arg in args:
        if arg.startswith("--backend-store-uri="):
            return arg.split("=", 1)[1]
    if "MLFLOW_BACKEND_STORE_URI" in spec.env:
        return spec.env["MLFLOW_BACKEND_STORE_URI"]
    raise ValueError("the MLflow server spec names no backend store URI")


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
            :func:`components.cluster.external_secrets.install_external_secrets`) that MLflow's SecretStore,
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
        if not args.database_cidrs:
            raise ValueError("ModelRegistry needs the database subnets' CIDRs for its egress policy")
        if ipaddress.ip_network(args.vpc_cidr, strict=True).num_addresses > 2**16:
            raise ValueError(f"vpc_cidr {args.vpc_cidr} is wider than a VPC (/16 at most)")
        if args.replicas < 1:
            raise ValueError("ModelRegistry needs at least one replica")
        child = pulumi.ResourceOptions(parent=self)
        ns = args.namespace
        labels = {
            "app.kubernetes.io/name": "mlflow",
            "app.kubernetes.io/instance": name,
            "app.kubernetes.io/component": "tracking-server",
            "app.kubernetes.io/part-of": "mlops-platform",
        }
        selector = {"app.kubernetes.io/name": "mlflow", "app.kubernetes.io/instance": name}

        # ---- AWS roles (IRSA) -----------------------------------------------------------------------
        self.server_role = service_account_role(
            f"{name}-server",
            oidc_provider_arn=args.oidc_provider_arn,
            oidc_issuer_url=args.oidc_issuer_url,
            namespace=ns,
            service_account=SERVER_SA,
            description="MLflow server: artifacts under one prefix",
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-server-artifacts",
            role=self.server_role.id,
            policy=pulumi.Output.all(args.artifact_bucket_arn, args.artifact_key_arn).apply(
                lambda a: artifact_policy(a[0], args.artifact_prefix, a[1], args.region)
            ),
            opts=child,
        )
        self.secrets_role = service_account_role(
            f"{name}-secrets",
            oidc_provider_arn=args.oidc_provider_arn,
            oidc_issuer_url=args.oidc_issuer_url,
            namespace=ns,
            service_account=SECRETS_SA,
            description="External Secrets: the MLflow database tenant secret only",
            opts=child,
        )

        # The External Secrets Operator is a cluster add-on (components.cluster.external_secrets).
        operator: list[pulumi.Resource] = [args.external_secrets] if args.external_secrets else []

        # ---- namespace and network policies ---------------------------------------------------------
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=ns,
                labels={
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            ),
            opts=child,
        )
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="default-deny", namespace=ns),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Ingress", "Egress"]
            ),
            opts=in_ns,
        )
        client_key, client_value = args.client_namespace_label
        http = [k8s.networking.v1.NetworkPolicyPortArgs(port=5000, protocol="TCP")]
        k8s.networking.v1.NetworkPolicy(
            f"{name}-allow-clients",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="mlflow-ingress", namespace=ns),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                policy_types=["Ingress"],
                ingress=[
                    # Prometheus reaches the metrics exporter only, never MLflow's API.
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        from_=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels={"kubernetes.io/metadata.name": args.monitoring_namespace}
                                ),
                                pod_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels={"app.kubernetes.io/name": "prometheus"}
                                ),
                            )
                        ],
                        ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=METRICS_PORT, protocol="TCP")],
                    ),
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        from_=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels={client_key: client_value}
                                )
                            )
                        ],
                        ports=http,
                    ),
                ],
            ),
            opts=in_ns,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-allow-egress",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="mlflow-egress", namespace=ns),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                policy_types=["Egress"],
                egress=[
                    dns_egress(),
                    cidr_egress(args.database_cidrs, args.db_port),
                    # S3 and STS (IRSA token exchange) through their interface endpoints in the VPC; nothing
                    # outside the VPC (an ipBlock cannot name the S3 prefix list the gateway endpoint uses).
                    cidr_egress([args.vpc_cidr], 443),
                ],
            ),
            opts=in_ns,
        )

        # ---- service accounts -----------------------------------------------------------------------
        self.server_service_account = k8s.core.v1.ServiceAccount(
            f"{name}-server",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=SERVER_SA,
                namespace=ns,
                labels=labels,
                annotations={"eks.amazonaws.com/role-arn": self.server_role.arn},
            ),
            # Left at the default: reports disagree on whether EKS's IRSA webhook injects the web-identity
            # token into pods that opt out of the service-account token, and this account has no RBAC
            # binding, so its Kubernetes API token grants nothing.
            opts=in_ns,
        )
        self.secrets_service_account = k8s.core.v1.ServiceAccount(
            f"{name}-secrets",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=SECRETS_SA,
                namespace=ns,
                labels=labels,
                annotations={"eks.amazonaws.com/role-arn": self.secrets_role.arn},
            ),
            automount_service_account_token=False,
            opts=in_ns,
        )

        # ---- the server's definition (one place: components.mlflow.server) -------------------------
        self.spec: pulumi.Output[MlflowServerSpec] = pulumi.Output.all(
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
                allowed_hosts=service_hosts(service=SERVICE_NAME, namespace=ns),
                # Uploads name the bucket key, so a bucket policy requiring SSE-KMS does not refuse them.
                artifact_kms_key_arn=a[5],
                # libpq reads the credentials from a service file at every new connection, so the password
                # RDS rotates (every 7 days) is picked up once the synced Secret refreshes, without a restart.
                db_credentials=PLATFORM_DB_CREDENTIALS,
            )
        )

        # ---- secrets: the RDS-managed secret, synced; the auth secrets, generated in-cluster ---------
        crd_opts = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace, *operator])
        store = k8s.apiextensions.CustomResource(
            f"{name}-store",
            api_version=ESO_SECRETS_API,
            kind="SecretStore",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SECRET_STORE, namespace=ns),
            spec={
                "provider": {
                    "aws": {
                        "service": "SecretsManager",
                        "region": args.region,
                        "auth": {"jwt": {"serviceAccountRef": {"name": SECRETS_SA}}},
                    }
                }
            },
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.namespace, self.secrets_service_account, *operator]
            ),
        )
        # MLflow's own database role and database (not the RDS master user): created by the tenant job, its
        # password generated in the job's pod, kept in Secrets Manager and synced here with a libpq service file.
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
                    opts=child,
                )
            )
        self.database_tenant = DatabaseTenant(
            f"{name}-db-tenant",
            DatabaseTenantArgs(
                tenant=SERVICE_NAME,
                database=args.db_name,
                role=args.db_role,
                namespace=ns,
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
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-secrets-read",
            role=self.secrets_role.id,
            policy=self.database_tenant.read_policy,
            opts=child,
        )
        self.db_secret = self.database_tenant.external_secret
        generators = {}
        for key, length in (("admin_password", 32), ("flask_secret_key", 64)):
            generators[key] = k8s.apiextensions.CustomResource(
                f"{name}-{key.replace('_', '-')}",
                api_version=ESO_GENERATORS_API,
                kind="Password",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=f"mlflow-{key.replace('_', '-')}", namespace=ns),
                # Letters and digits only: the value lands in an INI file and HTTP basic auth.
                spec={
                    "length": length,
                    "digits": length // 4,
                    "symbols": 0,
                    "noUpper": False,
                    "allowRepeat": True,
                },
                opts=crd_opts,
            )
        auth_path = self.spec.apply(lambda s: s.env.get("MLFLOW_AUTH_CONFIG_PATH", AUTH_CONFIG_PATH))
        self.auth_secret = k8s.apiextensions.CustomResource(
            f"{name}-auth",
            api_version=ESO_SECRETS_API,
            kind="ExternalSecret",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=AUTH_SECRET, namespace=ns, labels=labels),
            spec=pulumi.Output.all(self.spec, auth_path).apply(
                lambda a: {
                    # Generated once: MLflow reads the admin password only when it first creates the admin user,
                    # so regenerating it (ESO's default refresh policy re-runs the generators whenever this spec
                    # or its labels change) would leave a Secret that no longer matches the database.
                    "refreshPolicy": "CreatedOnce",
                    "refreshInterval": "0s",
                    "target": {
                        "name": AUTH_SECRET,
                        "creationPolicy": "Owner",
                        "deletionPolicy": "Retain",
                        "template": {
                            "engineVersion": "v2",
                            "data": {
                                # The server's own ini renderer; ESO fills in the generated password.
                                posixpath.basename(a[1]): render_auth_config(
                                    admin_username=AUTH_ADMIN_USERNAME,
                                    admin_password="{{ .admin_password }}",
                                    database_uri=backend_store_uri(a[0]),
                                    default_permission=args.default_permission,
                                ),
                                "admin-username": AUTH_ADMIN_USERNAME,
                                "admin-password": "{{ .admin_password }}",
                                AUTH_FLASK_SECRET_KEY: "{{ .flask_secret_key }}",
                            },
                        },
                    },
                    "dataFrom": [
                        {
                            "sourceRef": {
                                "generatorRef": {
                                    "apiVersion": ESO_GENERATORS_API,
                                    "kind": "Password",
                                    "name": f"mlflow-{key.replace('_', '-')}",
                                }
                            },
                            "rewrite": [{"regexp": {"source": "^password$", "target": key}}],
                        }
                        for key in generators
                    ],
                }
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*generators.values(), *operator]),
        )

        # ---- the scrape credential: generated in-cluster, rotated by ESO (components.mlflow.metrics) ---
        metrics_generator = k8s.apiextensions.CustomResource(
            f"{name}-metrics-password",
            api_version=ESO_GENERATORS_API,
            kind="Password",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=METRICS_PASSWORD_GENERATOR, namespace=ns),
            spec=password_generator_spec(),
            opts=crd_opts,
        )
        self.metrics_secret = k8s.apiextensions.CustomResource(
            f"{name}-metrics",
            api_version=ESO_SECRETS_API,
            kind="ExternalSecret",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=METRICS_SECRET, namespace=ns, labels=labels),
            spec=credential_secret_spec(ESO_GENERATORS_API),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[metrics_generator, *operator]),
        )

        # ---- schema migration: a Job the Deployment waits for -------------------------------------------
        # `mlflow db upgrade` (and the auth app's migrations) run once per image, not in three replicas at once.
        migration = self.spec.apply(migration_spec)
        # Not the server's selector labels: the Service, the PDB and the server's policies must not pick them up.
        migrate_labels = {
            **labels,
            "app.kubernetes.io/name": "mlflow-schema-migration",
            "app.kubernetes.io/component": "schema-migration",
        }
        migration_security = restricted_container(args.run_as_user)
        db_mount = k8s.core.v1.VolumeMountArgs(name="db", mount_path=DB_SERVICE_MOUNT, read_only=True)
        db_volume = k8s.core.v1.VolumeArgs(
            name="db",
            secret=k8s.core.v1.SecretVolumeSourceArgs(
                secret_name=DB_SECRET,
                default_mode=0o440,
                items=[k8s.core.v1.KeyToPathArgs(key=DB_SERVICE_FILE_KEY, path=DB_SERVICE_FILE_KEY)],
            ),
        )

        def migration_container(step: str, argv: list[str], env: dict[str, str]) -> k8s.core.v1.ContainerArgs:
            return k8s.core.v1.ContainerArgs(
                name=step,
                image=spec_image,
                image_pull_policy="IfNotPresent",
                command=argv[:1],
                args=argv[1:],
                env=[k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in env.items()],
                resources=k8s.core.v1.ResourceRequirementsArgs(
                    requests={"cpu": "100m", "memory": "512Mi", "ephemeral-storage": "64Mi"},
                    limits={"cpu": "1", "memory": "1Gi", "ephemeral-storage": "512Mi"},
                ),
                security_context=migration_security,
                volume_mounts=[db_mount, k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")],
            )

        spec_image = self.spec.apply(lambda s: s.image)
        self.migrate_service_account = k8s.core.v1.ServiceAccount(
            f"{name}-migrate",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=MIGRATE_SA, namespace=ns, labels=labels),
            automount_service_account_token=False,
            opts=in_ns,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-migrate-egress",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="mlflow-migrate-egress", namespace=ns),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(
                    match_labels={"app.kubernetes.io/component": "schema-migration"}
                ),
                policy_types=["Egress"],
                egress=[
                    dns_egress(),
                    cidr_egress(args.database_cidrs, args.db_port),
                ],
            ),
            opts=in_ns,
        )
        # Job specs are immutable: the name carries a hash of the image and the commands, so a new image is a new
        # Job (created, awaited, then the old one deleted), never an update the API server refuses.
        migration_name = pulumi.Output.all(spec_image, migration).apply(
            lambda a: (
                "mlflow-db-upgrade-"
                + hashlib.sha256(
                    json.dumps([a[0], a[1].steps, a[1].env], sort_keys=True).encode()
                ).hexdigest()[:8]
            )
        )
        self.migration_job = k8s.batch.v1.Job(
            f"{name}-db-upgrade",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=migration_name,
                namespace=ns,
                labels=migrate_labels,
                # The first deployment (await_rollout False): the image is pushed after this update, so the Job
                # cannot finish in it; the server's init container waits for the schema instead.
                annotations=None if args.await_rollout else {"pulumi.com/skipAwait": "true"},
            ),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=4,
                active_deadline_seconds=3600,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=migrate_labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        service_account_name=MIGRATE_SA,
                        automount_service_account_token=False,
                        restart_policy="Never",
                        enable_service_links=False,
                        node_selector=dict(args.node_selector) or None,
                        security_context=restricted_pod(args.run_as_user),
                        init_containers=migration.apply(
                            lambda m: [migration_container(step, argv, m.env) for step, argv in m.steps[:-1]]
                        ),
                        containers=migration.apply(
                            lambda m: [migration_container(m.steps[-1][0], m.steps[-1][1], m.env)]
                        ),
                        volumes=[
                            db_volume,
                            k8s.core.v1.VolumeArgs(
                                name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="512Mi")
                            ),
                        ],
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.migrate_service_account, self.db_secret],
                custom_timeouts=pulumi.CustomTimeouts(create="60m", update="60m"),
            ),
        )

        # ---- Deployment, Service, PodDisruptionBudget -----------------------------------------------
        spec_out = self.spec

        def env_vars(spec: MlflowServerSpec, path: str) -> list[k8s.core.v1.EnvVarArgs]:
            env = [k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in spec.env.items()]
            if "MLFLOW_AUTH_CONFIG_PATH" not in spec.env:
                env.append(k8s.core.v1.EnvVarArgs(name="MLFLOW_AUTH_CONFIG_PATH", value=path))
            env += [
                k8s.core.v1.EnvVarArgs(
                    name=k,
                    value_from=k8s.core.v1.EnvVarSourceArgs(
                        secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=s, key=key)
                    ),
                )
                for k, (s, key) in spec.secret_env.items()
            ]
            return env

        def probe(period: int, failures: int) -> k8s.core.v1.ProbeArgs:
            return k8s.core.v1.ProbeArgs(
                http_get=k8s.core.v1.HTTPGetActionArgs(
                    path=spec_out.apply(lambda s: s.health_path), port="http"
                ),
                timeout_seconds=5,
                period_seconds=period,
                failure_threshold=failures,
            )

        auth_file = auth_path.apply(posixpath.basename)
        container = k8s.core.v1.ContainerArgs(
            name="mlflow",
            image=spec_out.apply(lambda s: s.image),
            image_pull_policy="IfNotPresent",
            command=spec_out.apply(lambda s: s.command),
            args=spec_out.apply(lambda s: s.args),
            env=pulumi.Output.all(spec_out, auth_path).apply(lambda a: env_vars(a[0], a[1])),
            ports=[
                k8s.core.v1.ContainerPortArgs(
                    name="http", container_port=spec_out.apply(lambda s: s.port), protocol="TCP"
                )
            ],
            # The schema is migrated before (the Job; the init container waits for it); start-up still loads
            # the app and opens the first connections: allow it five minutes on a loaded node.
            startup_probe=probe(10, 30),
            liveness_probe=probe(20, 3),
            readiness_probe=probe(10, 3),
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": args.cpu_request, "memory": args.memory_request, "ephemeral-storage": "1Gi"},
                limits={
                    "cpu": args.cpu_limit,
                    "memory": args.memory_limit,
                    "ephemeral-storage": args.tmp_size_limit,
                },
            ),
            security_context=restricted_container(args.run_as_user),
            volume_mounts=[
                k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
                k8s.core.v1.VolumeMountArgs(
                    name="auth", mount_path=auth_path.apply(posixpath.dirname), read_only=True
                ),
                k8s.core.v1.VolumeMountArgs(name="db", mount_path=DB_SERVICE_MOUNT, read_only=True),
            ],
        )
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-server",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=SERVICE_NAME,
                namespace=ns,
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
                    spec=k8s.core.v1.PodSpecArgs(
                        service_account_name=SERVER_SA,
                        enable_service_links=False,
                        security_context=restricted_pod(args.run_as_user),
                        node_selector=dict(args.node_selector) or None,
                        topology_spread_constraints=[
                            k8s.core.v1.TopologySpreadConstraintArgs(
                                max_skew=1,
                                topology_key=key,
                                when_unsatisfiable="ScheduleAnyway",
                                label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                            )
                            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
                        ],
                        termination_grace_period_seconds=30,
                        # No replica starts on an empty or old schema (nor migrates it): wait for the Job.
                        init_containers=[
                            migration.apply(lambda m: migration_container("wait-for-schema", m.gate, m.env))
                        ],
                        containers=[container, self._metrics_exporter(args, spec_out)],
                        volumes=[
                            k8s.core.v1.VolumeArgs(
                                name="tmp",
                                empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                                    size_limit=args.tmp_size_limit
                                ),
                            ),
                            k8s.core.v1.VolumeArgs(
                                name="auth",
                                secret=k8s.core.v1.SecretVolumeSourceArgs(
                                    secret_name=AUTH_SECRET,
                                    default_mode=0o440,
                                    items=[k8s.core.v1.KeyToPathArgs(key=auth_file, path=auth_file)],
                                ),
                            ),
                            # Only the user name and the password's hash: the exporter never holds the password.
                            k8s.core.v1.VolumeArgs(
                                name="metrics-auth",
                                secret=k8s.core.v1.SecretVolumeSourceArgs(
                                    secret_name=METRICS_SECRET,
                                    default_mode=0o440,
                                    items=[
                                        k8s.core.v1.KeyToPathArgs(key=k, path=k)
                                        for k in (USERNAME_KEY, PASSWORD_SHA256_KEY)
                                    ],
                                ),
                            ),
                            # A Secret volume without subPath: the kubelet refreshes the file after rotation.
                            k8s.core.v1.VolumeArgs(
                                name="db",
                                secret=k8s.core.v1.SecretVolumeSourceArgs(
                                    secret_name=DB_SECRET,
                                    default_mode=0o440,
                                    items=[
                                        k8s.core.v1.KeyToPathArgs(
                                            key=DB_SERVICE_FILE_KEY, path=DB_SERVICE_FILE_KEY
                                        )
                                    ],
                                ),
                            ),
                        ],
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
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SERVICE_NAME, namespace=ns, labels=labels),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=selector,
                ports=[
                    k8s.core.v1.ServicePortArgs(name="http", port=5000, target_port="http", protocol="TCP"),
                    k8s.core.v1.ServicePortArgs(
                        name=METRICS_PORT_NAME,
                        port=METRICS_PORT,
                        target_port=METRICS_PORT_NAME,
                        protocol="TCP",
                    ),
                ],
            ),
            opts=in_ns,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SERVICE_NAME, namespace=ns, labels=labels),
            # One replica down at a time: never blocks a node drain, never takes all replicas at once.
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector)
            ),
            opts=in_ns,
        )

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
        self.register_outputs(
            {
                "namespace": self.namespace_name,
                "service_name": self.service_name,
                "url": self.url,
                "service_account_role_arn": self.service_account_role_arn,
                "secrets_role_arn": self.secrets_role_arn,
            }
        )

    @staticmethod
    def _metrics_exporter(
        args: ModelRegistryArgs, spec: pulumi.Output[MlflowServerSpec]
    ) -> k8s.core.v1.ContainerArgs:
        """The pod's second container: MLflow's metrics behind the scrape credential (components.mlflow.metrics)."""
        exporter = spec.apply(lambda s: exporter_spec(image=s.image))

        def probe(period: int) -> k8s.core.v1.ProbeArgs:
            return k8s.core.v1.ProbeArgs(
                http_get=k8s.core.v1.HTTPGetActionArgs(
                    path=exporter.apply(lambda e: e.health_path), port=METRICS_PORT_NAME
                ),
                timeout_seconds=3,
                period_seconds=period,
                failure_threshold=3,
            )

        return k8s.core.v1.ContainerArgs(
            name="metrics",
            image=exporter.apply(lambda e: e.image),
            image_pull_policy="IfNotPresent",
            command=exporter.apply(lambda e: e.command),
            args=exporter.apply(lambda e: e.args),
            env=exporter.apply(lambda e: [k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in e.env.items()]),
            ports=[
                k8s.core.v1.ContainerPortArgs(
                    name=METRICS_PORT_NAME, container_port=METRICS_PORT, protocol="TCP"
                )
            ],
            liveness_probe=probe(20),
            readiness_probe=probe(10),
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": "10m", "memory": "64Mi", "ephemeral-storage": "16Mi"},
                limits={"cpu": "200m", "memory": "128Mi", "ephemeral-storage": "64Mi"},
            ),
            security_context=restricted_container(args.run_as_user),
            volume_mounts=[
                # MLflow's prometheus_client multiprocess files live on the pod's /tmp emptyDir.
                k8s.core.v1.VolumeMountArgs(name="tmp", mount_path=SHARED_TMP_MOUNT, read_only=True),
                k8s.core.v1.VolumeMountArgs(
                    name="metrics-auth", mount_path=CREDENTIALS_MOUNT, read_only=True
                ),
            ],
        )
