"""Pipelines: Argo Workflows in its own namespace, and the closed namespace workflows run in.

* **Controller namespace** (``argo``): Pod Security restricted, default-deny with the narrow allows of
  :func:`~mlops_platform.components.pipelines.argo.argo_network_policies`; the pinned chart
  (:mod:`mlops_platform.components.pipelines.argo`: its values, the archive, the artifact repository, the
  workflow defaults); the workflow archive's database credentials, a
  :class:`~mlops_platform.components.database.tenant.DatabaseTenant` of its own (database and role, never the
  master user), synced by External Secrets through a SecretStore whose role reads that one secret.
* **Workflow namespace** (``pipelines``): Pod Security restricted, labelled as an MLflow client; default-deny,
  then DNS, the API server (Argo's executor reports each step's outputs as WorkflowTaskResults), MLflow's
  Service port, and HTTPS in the VPC (S3 and STS through the interface endpoints). No ingress.
* **The workflow service account** (``pipeline-runner``): an IRSA role that reads and writes under the
  pipelines' prefix of the artifact store only, and a Role with what the emissary executor needs and nothing
  more: ``create`` and ``patch`` on ``workflowtaskresults``.
* **Workflow templates** given by the caller (the reference pipeline, a CronWorkflow for scheduled
  retraining): custom resources created once the chart (its CRDs) is installed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from mlops_platform.components.aliases import component_options
from mlops_platform.components.cluster.external_secrets import ESO_SECRETS_API
from mlops_platform.components.database.rollout_restart import RolloutRestart, RolloutRestartArgs
from mlops_platform.components.database.tenant import DatabaseTenant, DatabaseTenantArgs
from mlops_platform.components.iam import service_account_role
from mlops_platform.components.kubernetes import (
    RESTRICTED_NAMESPACE_LABELS,
    cidr_egress,
    dns_egress,
    ports,
    selector,
)
from mlops_platform.components.monitoring.observability import prometheus_rule, service_monitor
from mlops_platform.components.pipelines.argo import (
    ARCHIVE_SECRET,
    ARGO_CHART,
    ARGO_CHART_VERSION,
    ARGO_REPOSITORY,
    CONTROLLER_POD_LABELS,
    CONTROLLER_SA,
    RELEASE_NAME,
    SERVER_PORT,
    SERVER_SA,
    ArgoValuesSpec,
    argo_network_policies,
    argo_values,
)
from mlops_platform.components.pipelines.iam import artifact_policy, artifact_read_policy

__all__ = [
    "ARGO_API_VERSION",
    "ARGO_JOB",
    "EXECUTOR_RULES",
    "WORKFLOW_SA",
    "ArgoObject",
    "Pipelines",
    "PipelinesArgs",
    "workflow_namespace_policies",
]

ARGO_API_VERSION = "argoproj.io/v1alpha1"
WORKFLOW_SA = "pipeline-runner"
#: The Prometheus job of the controller's metrics (every series relabelled to it).
ARGO_JOB = "argo-workflows"
_SECRETS_SA = "argo-secrets"
_SECRET_STORE = "argo-secrets"
#: What Argo's emissary executor does with the API (v3.4 and later): report outputs as WorkflowTaskResults.
EXECUTOR_RULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("argoproj.io", "workflowtaskresults", ("create", "patch")),
)


@dataclass(frozen=True)
class ArgoObject:
    """One Argo object :class:`Pipelines` installs in the workflow namespace: its kind and name (known when the
    program runs: they name the resource) and its manifest (``spec`` and ``metadata.labels``/``annotations`` are
    read from it; it may be an Output, e.g. rendered with the stack's bucket and image)."""

    kind: str
    name: str
    manifest: pulumi.Input[Mapping[str, Any]]


@dataclass(frozen=True)
class PipelinesArgs:
    """Arguments of :class:`Pipelines`.

    Attributes:
        oidc_provider_arn: The cluster's IAM OIDC provider (IRSA).
        oidc_issuer_url: The cluster's OIDC issuer URL.
        artifact_bucket_name: The artifact store's bucket.
        artifact_bucket_arn: Its ARN.
        artifact_key_arn: The KMS key the bucket encrypts with.
        region: The AWS region.
        vpc_cidr: The VPC's CIDR (the destination of HTTPS egress: S3 and STS endpoints).
        cluster_cidrs: The API server's endpoint ENIs and the ``kubernetes`` Service range.
        database_cidrs: The database subnets (PostgreSQL egress of the archive).
        db_host: The PostgreSQL host.
        db_port: The PostgreSQL port.
        db_master_secret_arn: The RDS-managed master secret (read by the tenant job only).
        db_secret_key_arn: The customer key of the database secrets.
        db_admin_namespace: Where the tenant jobs run (:class:`DatabaseAdminNamespace`).
        db_admin_depends_on: What the tenant's objects in that namespace wait for.
        tenant_image: The image the tenant job runs and the RDS CA bundle is copied from (the MLflow image).
        tenant_ca_bundle_path: Where that image has the RDS CA bundle.
        tenant_image_uid: The user that image runs as.
        mlflow_namespace: MLflow's namespace (workflows reach its Service port).
        mlflow_port: MLflow's Service port.
        mlflow_client_label: The namespace label MLflow admits clients by.
        external_secrets: The External Secrets Operator's release, which the SecretStore waits for.
        namespace: The controller namespace.
        workflow_namespace: The namespace workflows run in.
        artifact_prefix: The pipelines' prefix in the bucket.
        archive_database: The archive's database (and role) name.
        node_selector: Where the controller and the server run (the system group).
        controller_replicas: Controller replicas.
        server_replicas: Server replicas.
        active_deadline_seconds: The controller's default workflow deadline.
        ttl_seconds: How long finished workflows stay in the cluster.
        archive_ttl: How long the archive keeps them.
        archive_rotation_schedule: Cron schedule (UTC) of the archive role's password rotation.
        archive_restart_schedule: When the controller and the server restart after it (they read the password
            only at start, argoproj/argo-workflows#7575): a little after the rotation, once External Secrets
            synced the new password (its refresh interval is a minute).
        monitoring_namespace: Whose Prometheus scrapes the controller.
        chart_version: The argo-workflows chart version.
        prometheus: The kube-prometheus-stack release (it brings the ServiceMonitor and PrometheusRule CRDs):
            given, the controller is scraped as job :data:`ARGO_JOB` and alerted on when none is up.
        workflow_templates: The Argo objects to install in the workflow namespace (WorkflowTemplates,
            CronWorkflows), after the chart and the workflow service account.
        await_job: Wait for the tenant job during ``pulumi up`` (False before the image is pushed).
    """

    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer_url: pulumi.Input[str]
    artifact_bucket_name: pulumi.Input[str]
    artifact_bucket_arn: pulumi.Input[str]
    artifact_key_arn: pulumi.Input[str]
    region: str
    vpc_cidr: str
    cluster_cidrs: Sequence[str]
    database_cidrs: Sequence[str]
    db_host: pulumi.Input[str]
    db_port: pulumi.Input[int]
    db_master_secret_arn: pulumi.Input[str]
    db_secret_key_arn: pulumi.Input[str]
    db_admin_namespace: str
    tenant_image: pulumi.Input[str]
    tenant_ca_bundle_path: str
    tenant_image_uid: int
    mlflow_namespace: str
    mlflow_port: int
    mlflow_client_label: tuple[str, str]
    db_admin_depends_on: Sequence[pulumi.Resource] = ()
    external_secrets: pulumi.Resource | None = None
    namespace: str = "argo"
    workflow_namespace: str = "pipelines"
    artifact_prefix: str = "pipelines"
    archive_database: str = "argo_workflows"
    node_selector: Mapping[str, str] = field(default_factory=dict)
    controller_replicas: int = 1
    server_replicas: int = 1
    active_deadline_seconds: int = 6 * 3600
    ttl_seconds: int = 24 * 3600
    archive_ttl: str = "30d"
    archive_rotation_schedule: str = "17 3 1 * *"
    archive_restart_schedule: str = "32 3 1 * *"
    monitoring_namespace: str = "monitoring"
    chart_version: str = ARGO_CHART_VERSION
    workflow_templates: Sequence[ArgoObject] = ()
    prometheus: pulumi.Resource | None = None
    await_job: bool = True


def workflow_namespace_policies(
    *,
    cluster_cidrs: Sequence[str],
    vpc_cidr: str,
    mlflow_namespace: str,
    mlflow_port: int,
) -> list[tuple[str, k8s.networking.v1.NetworkPolicySpecArgs]]:
    """``(name, spec)`` of the workflow namespace's NetworkPolicies: default-deny, then one egress policy for
    every pod: DNS, the API server, MLflow's pods on its port, HTTPS in the VPC. No ingress at all."""
    V1 = k8s.networking.v1
    mlflow = V1.NetworkPolicyEgressRuleArgs(
        to=[
            V1.NetworkPolicyPeerArgs(
                namespace_selector=selector({"kubernetes.io/metadata.name": mlflow_namespace}),
                pod_selector=selector({"app.kubernetes.io/name": "mlflow"}),
            )
        ],
        ports=ports(mlflow_port),
    )
    return [
        (
            "default-deny",
            V1.NetworkPolicySpecArgs(pod_selector=selector(), policy_types=["Ingress", "Egress"]),
        ),
        (
            "workflow-egress",
            V1.NetworkPolicySpecArgs(
                pod_selector=selector(),
                policy_types=["Egress"],
                egress=[
                    dns_egress(),
                    cidr_egress(cluster_cidrs, 443),
                    mlflow,
                    # S3 and STS (IRSA) through their interface endpoints; nothing outside the VPC.
                    cidr_egress([vpc_cidr], 443),
                ],
            ),
        ),
    ]


class Pipelines(pulumi.ComponentResource):
    """Argo Workflows (controller, server, archive, artifact repository) and the closed workflow namespace.

    Outputs: ``namespace``, ``workflow_namespace``, ``workflow_service_account``, ``workflow_role_arn``,
    ``server_role_arn``, ``server_service`` (in-cluster ``host:port`` of the UI and API), ``archive_secret_arn``;
    :attr:`release` is what installs the CRDs, :attr:`templates` the Argo objects created.
    """

    def __init__(self, name: str, args: PipelinesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        TOKEN = "mlops:pipelines:Pipelines"
        super().__init__(TOKEN, name, None, component_options(TOKEN, opts))
        if not args.database_cidrs:
            raise ValueError("Pipelines needs the database subnets' CIDRs for the archive's egress policy")
        self._args = args
        self._roles(name)
        self._namespace(name)
        self._workflow_namespace(name)
        archive = self._archive(name)
        self._release(name, archive)
        self._restart_after_rotation(name)
        self._monitoring(name)
        self.templates = [self._template(name, manifest) for manifest in args.workflow_templates]
        self._outputs()

    def _child(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self)

    def _role(self, name: str, namespace: str, account: str, description: str, policy: Any) -> aws.iam.Role:
        args = self._args
        role = service_account_role(
            name,
            oidc_provider_arn=args.oidc_provider_arn,
            oidc_issuer_url=args.oidc_issuer_url,
            namespace=namespace,
            service_account=account,
            description=description,
            opts=self._child(),
        )
        aws.iam.RolePolicy(name, role=role.id, policy=policy, opts=self._child())
        return role

    def _roles(self, name: str) -> None:
        """IRSA: the workflows read and write under the prefix; the server reads there."""
        args, prefix = self._args, self._args.artifact_prefix.strip("/")
        bucket_and_key = pulumi.Output.all(args.artifact_bucket_arn, args.artifact_key_arn)
        self.workflow_role = self._role(
            f"{name}-workflow",
            args.workflow_namespace,
            WORKFLOW_SA,
            "Pipeline steps: the artifact store under the pipelines' prefix",
            bucket_and_key.apply(lambda a: artifact_policy(a[0], prefix, a[1], args.region)),
        )
        self.server_role = self._role(
            f"{name}-server",
            args.namespace,
            SERVER_SA,
            "Argo server: reads the pipelines' artifacts for the UI",
            bucket_and_key.apply(lambda a: artifact_read_policy(a[0], prefix, a[1], args.region)),
        )
        self.secrets_role = service_account_role(
            f"{name}-secrets",
            oidc_provider_arn=args.oidc_provider_arn,
            oidc_issuer_url=args.oidc_issuer_url,
            namespace=args.namespace,
            service_account=_SECRETS_SA,
            description="External Secrets: the Argo archive's database tenant secret only",
            opts=self._child(),
        )

    def _namespace(self, name: str) -> None:
        args = self._args
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.namespace, labels=RESTRICTED_NAMESPACE_LABELS),
            opts=self._child(),
        )
        policies = argo_network_policies(
            vpc_cidr=args.vpc_cidr,
            cluster_cidrs=args.cluster_cidrs,
            database_cidrs=args.database_cidrs,
            db_port=args.db_port,
            monitoring_namespace=args.monitoring_namespace,
        )
        for policy_name, spec in policies:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy_name}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=policy_name, namespace=args.namespace),
                spec=spec,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.namespace]),
            )

    def _workflow_namespace(self, name: str) -> None:
        """The namespace workflows run in, its policies, the workflow service account and its Role."""
        args = self._args
        client_key, client_value = args.mlflow_client_label
        self.workflow_ns = k8s.core.v1.Namespace(
            f"{name}-workflows-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.workflow_namespace,
                labels={**RESTRICTED_NAMESPACE_LABELS, client_key: client_value},
            ),
            opts=self._child(),
        )
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[self.workflow_ns])
        for policy_name, spec in workflow_namespace_policies(
            cluster_cidrs=args.cluster_cidrs,
            vpc_cidr=args.vpc_cidr,
            mlflow_namespace=args.mlflow_namespace,
            mlflow_port=args.mlflow_port,
        ):
            k8s.networking.v1.NetworkPolicy(
                f"{name}-workflows-{policy_name}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=policy_name, namespace=args.workflow_namespace),
                spec=spec,
                opts=in_ns,
            )
        self.workflow_sa = k8s.core.v1.ServiceAccount(
            f"{name}-runner",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=WORKFLOW_SA,
                namespace=args.workflow_namespace,
                annotations={"eks.amazonaws.com/role-arn": self.workflow_role.arn},
            ),
            opts=in_ns,
        )
        role = k8s.rbac.v1.Role(
            f"{name}-runner",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=WORKFLOW_SA, namespace=args.workflow_namespace),
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(api_groups=[group], resources=[resource], verbs=list(verbs))
                for group, resource, verbs in EXECUTOR_RULES
            ],
            opts=in_ns,
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-runner",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=WORKFLOW_SA, namespace=args.workflow_namespace),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="Role", name=WORKFLOW_SA
            ),
            subjects=[
                k8s.rbac.v1.SubjectArgs(
                    kind="ServiceAccount", name=WORKFLOW_SA, namespace=args.workflow_namespace
                )
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.workflow_ns, role, self.workflow_sa]),
        )

    def _archive(self, name: str) -> DatabaseTenant:
        """The archive's own database and role, synced into :data:`ARCHIVE_SECRET` by External Secrets."""
        args = self._args
        operator = [args.external_secrets] if args.external_secrets else []
        secrets_sa = k8s.core.v1.ServiceAccount(
            f"{name}-secrets",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=_SECRETS_SA,
                namespace=args.namespace,
                annotations={"eks.amazonaws.com/role-arn": self.secrets_role.arn},
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.namespace]),
        )
        store = k8s.apiextensions.CustomResource(
            f"{name}-store",
            api_version=ESO_SECRETS_API,
            kind="SecretStore",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=_SECRET_STORE, namespace=args.namespace),
            spec={
                "provider": {
                    "aws": {
                        "service": "SecretsManager",
                        "region": args.region,
                        "auth": {"jwt": {"serviceAccountRef": {"name": _SECRETS_SA}}},
                    }
                }
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.namespace, secrets_sa, *operator]),
        )
        tenant = DatabaseTenant(
            f"{name}-archive-db",
            DatabaseTenantArgs(
                tenant="argo",
                database=args.archive_database,
                role=args.archive_database,
                namespace=args.namespace,
                admin_namespace=args.db_admin_namespace,
                db_host=args.db_host,
                db_port=args.db_port,
                master_secret_arn=args.db_master_secret_arn,
                master_secret_key_arn=args.db_secret_key_arn,
                secret_name=f"{name}/database/argo",
                secret_key_arn=args.db_secret_key_arn,
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_issuer_url=args.oidc_issuer_url,
                region=args.region,
                image=args.tenant_image,
                ca_bundle_path=args.tenant_ca_bundle_path,
                secret_store=_SECRET_STORE,
                k8s_secret_name=ARCHIVE_SECRET,
                run_as_user=args.tenant_image_uid,
                rotation_schedule=args.archive_rotation_schedule,
                await_job=args.await_job,
                node_selector=args.node_selector,
                admin_depends_on=list(args.db_admin_depends_on),
                tenant_depends_on=[store, *operator],
            ),
            opts=self._child(),
        )
        aws.iam.RolePolicy(
            f"{name}-secrets-read", role=self.secrets_role.id, policy=tenant.read_policy, opts=self._child()
        )
        return tenant

    def _release(self, name: str, archive: DatabaseTenant) -> None:
        """The chart, once the archive's credentials are synced (the controller reads them at start)."""
        args = self._args
        values = pulumi.Output.all(
            args.artifact_bucket_name, args.db_host, args.db_port, args.tenant_image, self.server_role.arn
        ).apply(
            lambda a: argo_values(
                ArgoValuesSpec(
                    workflow_namespaces=[args.workflow_namespace],
                    workflow_service_account=WORKFLOW_SA,
                    bucket=a[0],
                    region=args.region,
                    artifact_prefix=args.artifact_prefix,
                    db_host=a[1],
                    db_port=int(a[2]),
                    db_name=args.archive_database,
                    ca_image=a[3],
                    ca_bundle_path=args.tenant_ca_bundle_path,
                    ca_image_uid=args.tenant_image_uid,
                    server_role_arn=a[4],
                    node_selector=args.node_selector,
                    controller_replicas=args.controller_replicas,
                    server_replicas=args.server_replicas,
                    active_deadline_seconds=args.active_deadline_seconds,
                    ttl_seconds=args.ttl_seconds,
                    archive_ttl=args.archive_ttl,
                )
            )
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-argo",
            name=RELEASE_NAME,
            chart=ARGO_CHART,
            version=args.chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=ARGO_REPOSITORY),
            namespace=self.namespace.metadata.name,
            create_namespace=False,
            atomic=True,
            cleanup_on_fail=True,
            values=values,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.namespace, self.workflow_ns, archive.external_secret]
            ),
        )

    def _monitoring(self, name: str) -> None:
        """The controller's metrics scraped as :data:`ARGO_JOB`, and an alert when no controller is up (workflows
        then neither start nor advance); after kube-prometheus-stack, which brings the CRDs."""
        args = self._args
        if args.prometheus is None:
            return
        after = pulumi.ResourceOptions(parent=self, depends_on=[self.release, args.prometheus])
        labels = {"app.kubernetes.io/part-of": "mlops-platform"}
        service_monitor(
            f"{name}-controller-metrics",
            name="argo-workflows-controller",
            namespace=args.namespace,
            selector=CONTROLLER_POD_LABELS,
            port="metrics",
            path="/metrics",
            job=ARGO_JOB,
            labels=labels,
            opts=after,
        )
        prometheus_rule(
            f"{name}-rules",
            name="argo-workflows",
            namespace=args.namespace,
            groups=[
                {
                    "name": "argo-workflows",
                    "rules": [
                        {
                            "alert": "ArgoWorkflowsControllerDown",
                            "expr": f'absent(up{{job="{ARGO_JOB}"}} == 1)',
                            "for": "10m",
                            "labels": {"severity": "critical"},
                            "annotations": {
                                "summary": "No Argo Workflows controller is up",
                                "description": "Prometheus has scraped no Argo workflow controller for 10 minutes: "
                                f"workflows in {args.workflow_namespace} neither start nor advance. "
                                f"kubectl -n {args.namespace} get pods; kubectl -n {args.namespace} logs "
                                f"deploy/{CONTROLLER_SA}.",
                            },
                        }
                    ],
                }
            ],
            labels=labels,
            opts=after,
        )

    def _restart_after_rotation(self, name: str) -> None:
        """The controller and the server read the archive's password once: restart them after its rotation.
        The Deployments are named by the chart: the controller's ``<release>-workflow-controller`` (as its
        service account), the server's ``<release>-server``."""
        args = self._args
        RolloutRestart(
            f"{name}-archive-restart",
            RolloutRestartArgs(
                name="archive-password-restart",
                namespace=args.namespace,
                deployments=[CONTROLLER_SA, SERVER_SA],
                schedule=args.archive_restart_schedule,
                image=args.tenant_image,
                run_as_user=args.tenant_image_uid,
                node_selector=args.node_selector,
                depends_on=[self.namespace, self.release],
            ),
            opts=self._child(),
        )

    def _template(self, name: str, obj: ArgoObject) -> k8s.apiextensions.CustomResource:
        """One Argo object in the workflow namespace, after the chart (its CRDs) and the service account."""
        args = self._args
        if obj.kind not in ("WorkflowTemplate", "CronWorkflow"):
            raise ValueError(f"workflow_templates: {obj.kind!r} is not a WorkflowTemplate or a CronWorkflow")
        out = pulumi.Output.from_input(obj.manifest)
        return k8s.apiextensions.CustomResource(
            f"{name}-{obj.kind.lower()}-{obj.name}",
            api_version=ARGO_API_VERSION,
            kind=obj.kind,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=obj.name,
                namespace=args.workflow_namespace,
                labels=out.apply(lambda m: dict(m.get("metadata", {}).get("labels") or {})),
                annotations=out.apply(lambda m: dict(m.get("metadata", {}).get("annotations") or {})),
            ),
            spec=out.apply(lambda m: m["spec"]),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.release, self.workflow_sa]),
        )

    def _outputs(self) -> None:
        args = self._args
        self.namespace_name: pulumi.Output[str] = self.namespace.metadata.name
        self.workflow_namespace_name: pulumi.Output[str] = self.workflow_ns.metadata.name
        self.workflow_service_account: str = WORKFLOW_SA
        self.workflow_role_arn: pulumi.Output[str] = self.workflow_role.arn
        self.server_role_arn: pulumi.Output[str] = self.server_role.arn
        self.server_service: str = f"{SERVER_SA}.{args.namespace}.svc.cluster.local:{SERVER_PORT}"
        self.register_outputs(
            {
                "namespace": self.namespace_name,
                "workflow_namespace": self.workflow_namespace_name,
                "workflow_role_arn": self.workflow_role_arn,
                "server_role_arn": self.server_role_arn,
                "server_service": self.server_service,
            }
        )
