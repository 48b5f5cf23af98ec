"""Monitoring: Prometheus, Alertmanager and Grafana on the cluster (kube-prometheus-stack), the
platform's alerting rules and dashboard, an encrypted SNS alert topic and CloudWatch alarms for the
managed services (RDS, NAT gateways, the EKS control plane, EventBridge rules).

Where alerts go::

    Prometheus rules ──► Alertmanager ──(IRSA role, sns:Publish)──┐
                                                                  ├──► SNS topic (KMS) ──► e-mail / HTTPS
    CloudWatch alarms (ALARM and OK) ─(cloudwatch.amazonaws.com)──┘

Workload identity is IAM Roles for Service Accounts (IRSA): the caller passes the cluster's OIDC
provider ARN and issuer (host/path, no ``https://``); Alertmanager's and Grafana's service accounts
are annotated with roles whose trust policy admits exactly those service accounts. (EKS Pod
Identity would need ``aws.eks.PodIdentityAssociation`` resources instead; the compute component
provides IRSA, so this component uses it.)

The monitoring namespaces deny all traffic by default
(:func:`~mlops_platform.components.monitoring.network_policies.network_policies` opens what each component needs).
Prometheus and Alertmanager have no login of their own: they stay behind ClusterIP Services, reached with
``kubectl port-forward`` (IAM authentication and RBAC by EKS) and, in the cluster, only by Grafana and each
other. With a GPU group, NVIDIA's DCGM exporter runs on the GPU nodes
(:func:`~mlops_platform.components.monitoring.values.dcgm_exporter_values`).

Grafana's admin credentials never pass through Pulumi: an External Secrets Operator ``Password``
generator creates them inside the cluster, once, into the Secret Grafana reads
(``grafana.admin.existingSecret``). Read them with
``kubectl -n monitoring get secret grafana-admin -o jsonpath='{.data.admin-password}' | base64 -d``.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from mlops_platform.components.iam import service_account_role
from mlops_platform.components.kubernetes import pod_security_labels
from mlops_platform.components.monitoring.alarms import cloudwatch_alarms
from mlops_platform.components.monitoring.alerting import alertmanager_publish_policy, topic_policy
from mlops_platform.components.monitoring.args import MonitoringArgs, validate
from mlops_platform.components.monitoring.charts import (
    ALERTMANAGER_SERVICE_ACCOUNT,
    DCGM_EXPORTER_CHART,
    DCGM_EXPORTER_RELEASE,
    DCGM_EXPORTER_REPOSITORY,
    DCGM_EXPORTER_VERSION,
    GRAFANA_ADMIN_SECRET,
    GRAFANA_SERVICE_ACCOUNT,
    KARPENTER_JOB,
    KARPENTER_METRICS_PORT,
    KARPENTER_SERVICE_LABELS,
    KUBE_PROMETHEUS_STACK_CHART,
    PLATFORM_DASHBOARD_FOLDER,
    RELEASE_NAME,
)
from mlops_platform.components.monitoring.dashboards import grafana_cloudwatch_policy, platform_dashboard
from mlops_platform.components.monitoring.network_policies import network_policies
from mlops_platform.components.monitoring.observability import (
    dashboard_config_map,
    prometheus_rule,
    service_monitor,
    to_json,
)
from mlops_platform.components.monitoring.rules import platform_rules
from mlops_platform.components.monitoring.values import dcgm_exporter_values, helm_values

# MonitoringArgs is re-exported: ``components.MonitoringArgs`` resolves it here.
__all__ = ["Monitoring", "MonitoringArgs"]

_PART_OF = {"app.kubernetes.io/part-of": "mlops-platform"}


class Monitoring(pulumi.ComponentResource):
    """kube-prometheus-stack with the platform's rules and dashboard, an encrypted SNS alert topic
    and CloudWatch alarms. See the module docstring for where alerts go.

    Outputs: ``alert_topic_arn``, ``namespace``, ``prometheus_url``, ``alertmanager_url``,
    ``grafana_url`` (in-cluster URLs), ``grafana_admin_secret``, ``alertmanager_role_arn``,
    ``grafana_role_arn``, ``alarm_names``.
    """

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:monitoring:Monitoring", name, None, opts)
        validate(args)
        child = pulumi.ResourceOptions(parent=self)

        self.namespace_resource, node_exporter_ns = self._namespaces(name, args)
        # Default deny, then the narrow allows, before any pod starts.
        self.network_policies = self._network_policies(name, args, node_exporter_ns)
        self.alertmanager_role, self.grafana_role = self._roles(name, args, child)
        self.topic = self._alert_topic(name, args, child)
        admin_secret = self._grafana_admin(name, args)

        self.values = helm_values(
            args,
            alertmanager_role_arn=self.alertmanager_role.arn,
            grafana_role_arn=self.grafana_role.arn,
            topic_arn=self.topic.arn,
        )
        self.release = self._kube_prometheus_stack(
            name,
            args,
            depends_on=[
                self.namespace_resource,
                node_exporter_ns,
                admin_secret,
                *self.network_policies,
                *args.depends_on,
            ],
        )
        self.dcgm_exporter = self._dcgm_exporter(name, args, node_exporter_ns) if args.gpu_enabled else None

        after_release = pulumi.ResourceOptions(parent=self, depends_on=[self.release])
        self.mlflow_service_monitor = self._mlflow_service_monitor(name, args, after_release)
        self.karpenter_service_monitor = self._karpenter_service_monitor(name, args)
        self.rules = self._platform_rules(name, args, after_release)
        self.dashboard = self._platform_dashboard(name, args)
        self.alarms = self._alarms(name, args, child)
        self._register(args)

    # ---- namespaces and NetworkPolicies ----------------------------------------------------------------

    def _namespaces(
        self, name: str, args: MonitoringArgs
    ) -> tuple[k8s.core.v1.Namespace, k8s.core.v1.Namespace]:
        """The stack's namespace (Pod Security ``baseline``) and node-exporter's (``privileged``: it reads
        the host's /proc and /sys with hostNetwork and hostPID), both warned and audited one level up."""

        def namespace(
            resource_name: str, namespace_name: str, enforce: str, warn: str
        ) -> k8s.core.v1.Namespace:
            return k8s.core.v1.Namespace(
                resource_name,
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=namespace_name, labels={**_PART_OF, **pod_security_labels(enforce, warn, warn)}
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
            )

        return (
            namespace(f"{name}-namespace", args.namespace, "baseline", "restricted"),
            namespace(
                f"{name}-node-exporter-namespace", args.node_exporter_namespace, "privileged", "baseline"
            ),
        )

    def _network_policies(
        self, name: str, args: MonitoringArgs, node_exporter_ns: k8s.core.v1.Namespace
    ) -> list[k8s.networking.v1.NetworkPolicy]:
        """Each policy of :func:`network_policies` after its namespace."""
        ns = args.namespace
        namespaces = {ns: self.namespace_resource, args.node_exporter_namespace: node_exporter_ns}
        return [
            k8s.networking.v1.NetworkPolicy(
                f"{name}-netpol-{'node-' if policy_ns != ns else ''}{policy_name}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=policy_name, namespace=policy_ns, labels=dict(_PART_OF)
                ),
                spec=spec,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[namespaces[policy_ns]]),
            )
            for policy_ns, policy_name, spec in network_policies(args)
        ]

    # ---- AWS: workload identity and the alert topic ---------------------------------------------------

    def _roles(
        self, name: str, args: MonitoringArgs, child: pulumi.ResourceOptions
    ) -> tuple[aws.iam.Role, aws.iam.Role]:
        """The IRSA roles of Alertmanager's and Grafana's service accounts; Grafana's reads CloudWatch."""

        def role(suffix: str, service_account: str, description: str) -> aws.iam.Role:
            return service_account_role(
                f"{name}-{suffix}",
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_issuer_url=args.oidc_issuer_url,
                namespace=args.namespace,
                service_account=service_account,
                description=description,
                opts=child,
            )

        alertmanager = role(
            "alertmanager",
            ALERTMANAGER_SERVICE_ACCOUNT,
            "Alertmanager (IRSA): publish alerts to the platform's SNS topic",
        )
        grafana = role(
            "grafana",
            GRAFANA_SERVICE_ACCOUNT,
            "Grafana (IRSA): read CloudWatch metrics for the CloudWatch data source",
        )
        aws.iam.RolePolicy(
            f"{name}-grafana-cloudwatch", role=grafana.id, policy=grafana_cloudwatch_policy(), opts=child
        )
        return alertmanager, grafana

    def _alert_topic(self, name: str, args: MonitoringArgs, child: pulumi.ResourceOptions) -> aws.sns.Topic:
        """The KMS-encrypted SNS topic, its policy, Alertmanager's right to publish, and the subscriptions."""
        topic = aws.sns.Topic(
            f"{name}-alerts",
            display_name="MLOps platform alerts",
            kms_master_key_id=args.alert_kms_key_arn,
            # HTTPS subscribers verify messages signed with SHA256 rather than SHA1.
            signature_version=2,
            tags={"Name": f"{name}-alerts"},
            opts=child,
        )
        aws.sns.TopicPolicy(
            f"{name}-alerts",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, self.alertmanager_role.arn, args.oidc_provider_arn).apply(
                lambda a: topic_policy(a[0], a[1], a[2], args.region)
            ),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-alertmanager-publish",
            role=self.alertmanager_role.id,
            policy=pulumi.Output.all(topic.arn, args.alert_kms_key_arn).apply(
                lambda a: alertmanager_publish_policy(a[0], a[1], args.region)
            ),
            opts=child,
        )
        for i, email in enumerate(args.alert_emails):
            aws.sns.TopicSubscription(
                f"{name}-alerts-email-{i}", topic=topic.arn, protocol="email", endpoint=email, opts=child
            )
        for i, url in enumerate(args.alert_https_endpoints):
            aws.sns.TopicSubscription(
                f"{name}-alerts-https-{i}",
                topic=topic.arn,
                protocol="https",
                endpoint=url,
                endpoint_auto_confirms=False,
                confirmation_timeout_in_minutes=5,
                opts=child,
            )
        return topic

    # ---- in the cluster: Grafana's admin, the charts ---------------------------------------------------

    def _grafana_admin(self, name: str, args: MonitoringArgs) -> k8s.apiextensions.CustomResource:
        """Grafana's admin credentials, generated once in the cluster by the External Secrets Operator."""
        ns = args.namespace
        generator = k8s.apiextensions.CustomResource(
            f"{name}-grafana-admin-generator",
            api_version="generators.external-secrets.io/v1alpha1",
            kind="Password",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{GRAFANA_ADMIN_SECRET}-password", namespace=ns),
            spec={"length": 32, "digits": 6, "symbols": 0, "noUpper": False, "allowRepeat": True},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.namespace_resource, *args.depends_on]),
        )
        return k8s.apiextensions.CustomResource(
            f"{name}-grafana-admin",
            api_version=args.external_secrets_api_version,
            kind="ExternalSecret",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=GRAFANA_ADMIN_SECRET, namespace=ns),
            spec={
                # Generate once; a new password on every refresh would lock administrators out.
                "refreshInterval": "0s",
                "refreshPolicy": "CreatedOnce",
                "target": {
                    "name": GRAFANA_ADMIN_SECRET,
                    "creationPolicy": "Owner",
                    "template": {
                        "engineVersion": "v2",
                        "type": "Opaque",
                        "data": {"admin-user": "admin", "admin-password": "{{ .password }}"},
                    },
                },
                "dataFrom": [
                    {
                        "sourceRef": {
                            "generatorRef": {
                                "apiVersion": "generators.external-secrets.io/v1alpha1",
                                "kind": "Password",
                                "name": f"{GRAFANA_ADMIN_SECRET}-password",
                            }
                        }
                    }
                ],
            },
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.namespace_resource, generator, *args.depends_on]
            ),
        )

    def _kube_prometheus_stack(
        self, name: str, args: MonitoringArgs, depends_on: list[pulumi.Resource]
    ) -> k8s.helm.v3.Release:
        """The kube-prometheus-stack release with :attr:`values`."""
        return k8s.helm.v3.Release(
            f"{name}-kube-prometheus-stack",
            k8s.helm.v3.ReleaseArgs(
                name=RELEASE_NAME,
                chart=KUBE_PROMETHEUS_STACK_CHART,
                version=args.chart_version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=args.chart_repository),
                namespace=args.namespace,
                create_namespace=False,
                atomic=True,
                cleanup_on_fail=True,
                max_history=10,
                timeout=900,
                values=self.values,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )

    def _dcgm_exporter(
        self, name: str, args: MonitoringArgs, node_exporter_ns: k8s.core.v1.Namespace
    ) -> k8s.helm.v3.Release:
        """NVIDIA's DCGM exporter on the GPU nodes (the GPU rules and panels read its metrics)."""
        return k8s.helm.v3.Release(
            f"{name}-dcgm-exporter",
            k8s.helm.v3.ReleaseArgs(
                name=DCGM_EXPORTER_RELEASE,
                chart=DCGM_EXPORTER_CHART,
                version=DCGM_EXPORTER_VERSION,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=DCGM_EXPORTER_REPOSITORY),
                # Root, SYS_ADMIN and a hostPath: Pod Security "privileged", like node-exporter.
                namespace=args.node_exporter_namespace,
                create_namespace=False,
                atomic=True,
                cleanup_on_fail=True,
                max_history=10,
                # A DaemonSet on a GPU group scaled to zero is ready with no pods: nothing waits on GPUs.
                timeout=600,
                values=dcgm_exporter_values(args),
            ),
            # Its ServiceMonitor needs the operator's CRDs, which come with kube-prometheus-stack.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.release, node_exporter_ns]),
        )

    # ---- platform observability: MLflow's scrape, rules, dashboard, alarms ------------------------------

    def _mlflow_service_monitor(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions
    ) -> k8s.apiextensions.CustomResource | None:
        """The ServiceMonitor scraping MLflow's metrics exporter, in MLflow's namespace (``None``: no MLflow)."""
        m = args.mlflow
        if m is None:
            return None
        return service_monitor(
            f"{name}-mlflow",
            name="mlflow",
            namespace=pulumi.Output.from_input(m.namespace),
            selector=m.selector,
            port=m.port,
            path=m.path,
            job="mlflow",
            basic_auth_secret=(m.basic_auth_secret, m.username_key, m.password_key)
            if m.basic_auth_secret
            else None,
            labels=dict(_PART_OF),
            opts=opts,
        )

    def _karpenter_service_monitor(
        self, name: str, args: MonitoringArgs
    ) -> k8s.apiextensions.CustomResource | None:
        """The ServiceMonitor scraping Karpenter's controller as job :data:`KARPENTER_JOB`, in its namespace
        (``None``: no ``karpenter_namespace``), after kube-prometheus-stack (its CRD) and the namespace."""
        if args.karpenter_namespace is None:
            return None
        return service_monitor(
            f"{name}-karpenter",
            name="karpenter",
            namespace=args.karpenter_namespace,
            selector=KARPENTER_SERVICE_LABELS,
            port=KARPENTER_METRICS_PORT,
            path="/metrics",
            job=KARPENTER_JOB,
            labels=dict(_PART_OF),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.release, *args.karpenter_depends_on]),
        )

    def _platform_rules(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions
    ) -> k8s.apiextensions.CustomResource:
        """The PrometheusRule of :func:`platform_rules` (MLflow's namespace known at deployment)."""
        mlflow_ns = pulumi.Output.from_input(args.mlflow.namespace if args.mlflow is not None else "")
        return prometheus_rule(
            f"{name}-platform-rules",
            name="mlops-platform",
            namespace=args.namespace,
            groups=mlflow_ns.apply(lambda n: platform_rules(args, n or None)),
            labels=dict(_PART_OF),
            opts=opts,
        )

    def _platform_dashboard(self, name: str, args: MonitoringArgs) -> k8s.core.v1.ConfigMap:
        """The ConfigMap of :func:`platform_dashboard` (the database's identifier known at deployment)."""
        database = args.database_identifier
        dashboard_json = pulumi.Output.all(
            pulumi.Output.from_input(database) if database is not None else pulumi.Output.from_input("")
        ).apply(lambda a: to_json(platform_dashboard(args, a[0] if database is not None else None)))
        return dashboard_config_map(
            f"{name}-dashboard",
            name="mlops-platform-dashboard",
            namespace=args.namespace,
            folder=PLATFORM_DASHBOARD_FOLDER,
            dashboard=dashboard_json,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.namespace_resource, *args.depends_on]),
        )

    def _alarms(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions
    ) -> list[aws.cloudwatch.MetricAlarm]:
        """Each alarm of :func:`cloudwatch_alarms`, notifying the alert topic on ALARM and on OK."""
        actions = [self.topic.arn]
        return [
            aws.cloudwatch.MetricAlarm(
                f"{name}-{spec.suffix}",
                name=f"{name}-{spec.suffix}",
                alarm_description=spec.description,
                actions_enabled=True,
                alarm_actions=actions,
                ok_actions=actions,
                opts=opts,
                **{"treat_missing_data": "missing", **spec.inputs},
            )
            for spec in cloudwatch_alarms(args)
        ]

    # ---- outputs ---------------------------------------------------------------------------------------

    def _register(self, args: MonitoringArgs) -> None:
        """The component's outputs (in-cluster URLs, the topic, the roles, the alarms), declared once."""
        ns = args.namespace
        svc = f"{ns}.svc.cluster.local"
        self.alert_topic_arn = self.topic.arn
        self.namespace = pulumi.Output.from_input(ns)
        self.prometheus_url = pulumi.Output.from_input(f"http://{RELEASE_NAME}-prometheus.{svc}:9090")
        self.alertmanager_url = pulumi.Output.from_input(f"http://{RELEASE_NAME}-alertmanager.{svc}:9093")
        self.grafana_url = pulumi.Output.from_input(f"http://grafana.{svc}:80")
        self.grafana_admin_secret = pulumi.Output.from_input(f"{ns}/{GRAFANA_ADMIN_SECRET}")
        self.alertmanager_role_arn = self.alertmanager_role.arn
        self.grafana_role_arn = self.grafana_role.arn
        self.alarm_names = pulumi.Output.all(*[a.name for a in self.alarms])
        self.register_outputs(
            {
                "alert_topic_arn": self.alert_topic_arn,
                "namespace": self.namespace,
                "prometheus_url": self.prometheus_url,
                "alertmanager_url": self.alertmanager_url,
                "grafana_url": self.grafana_url,
                "grafana_admin_secret": self.grafana_admin_secret,
                "alertmanager_role_arn": self.alertmanager_role_arn,
                "grafana_role_arn": self.grafana_role_arn,
                "alarm_names": self.alarm_names,
            }
        )
