"""RolloutRestart: a CronJob that restarts named Deployments on a schedule, for clients that read a database
password only when they start (:mod:`mlops_platform.components.database.restart_job` says why and how).

Scheduled a little after the tenant's rotation (:class:`~mlops_platform.components.database.tenant.DatabaseTenant`
``rotation_schedule``; External Secrets syncs the new password within its refresh interval): its service
account may ``get`` and ``patch`` exactly those Deployments and nothing else; the pod runs restricted, with the
program from an immutable ConfigMap named by its hash.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from mlops_platform.components.aliases import component_options
from mlops_platform.components.database import restart_job
from mlops_platform.components.database.workload import content_hash
from mlops_platform.components.kubernetes import script_pod, utc_cron_job_spec

__all__ = ["RESTART_SCRIPT_SOURCE", "RolloutRestart", "RolloutRestartArgs", "restart_env"]

RESTART_SCRIPT_SOURCE = Path(restart_job.__file__)
_SCRIPT_KEY = "restart_job.py"
_MOUNT = "/etc/rollout-restart"


def restart_env(namespace: str, deployments: Sequence[str]) -> dict[str, str]:
    """The program's environment (the API server's address comes from the pod's own service variables)."""
    return {
        "RESTART_NAMESPACE": namespace,
        "RESTART_DEPLOYMENTS": ",".join(deployments),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


@dataclass(frozen=True)
class RolloutRestartArgs:
    """Arguments of :class:`RolloutRestart`.

    Attributes:
        name: Name of the CronJob, its service account and Role.
        namespace: The namespace of the Deployments (and of the CronJob).
        deployments: The Deployments to restart.
        schedule: Cron schedule (UTC).
        image: An image with Python 3 (the platform's MLflow image).
        run_as_user: The UID/GID that image runs as.
        node_selector: Where the pod runs.
        labels: Labels of every object.
        depends_on: What the objects wait for (the namespace).
    """

    name: str
    namespace: str
    deployments: Sequence[str]
    schedule: str
    image: pulumi.Input[str]
    run_as_user: int
    node_selector: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    depends_on: Sequence[pulumi.Resource] = ()


class RolloutRestart(pulumi.ComponentResource):
    """The CronJob, its service account, the Role on exactly the named Deployments, and the program."""

    def __init__(
        self, name: str, args: RolloutRestartArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        TOKEN = "mlops:database:RolloutRestart"
        super().__init__(TOKEN, name, None, component_options(TOKEN, opts))
        if not args.deployments:
            raise ValueError("RolloutRestart needs at least one Deployment")
        labels = {"app.kubernetes.io/name": "rollout-restart", "app.kubernetes.io/part-of": "mlops-platform"}
        labels.update(args.labels)
        meta = {"namespace": args.namespace, "labels": labels}
        opts_in = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        account = k8s.core.v1.ServiceAccount(
            name, metadata=k8s.meta.v1.ObjectMetaArgs(name=args.name, **meta), opts=opts_in
        )
        role = k8s.rbac.v1.Role(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.name, **meta),
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=["apps"],
                    resources=["deployments"],
                    resource_names=list(args.deployments),
                    verbs=["get", "patch"],
                )
            ],
            opts=opts_in,
        )
        binding = k8s.rbac.v1.RoleBinding(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.name, **meta),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="Role", name=args.name
            ),
            subjects=[
                k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=args.name, namespace=args.namespace)
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, role, account]),
        )
        source = RESTART_SCRIPT_SOURCE.read_text()
        script = k8s.core.v1.ConfigMap(
            f"{name}-script",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{args.name}-{content_hash(source)}", **meta),
            data={_SCRIPT_KEY: source},
            immutable=True,
            opts=opts_in,
        )
        self.cron_job = k8s.batch.v1.CronJob(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.name, **meta),
            spec=utc_cron_job_spec(
                args.schedule,
                k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels), spec=self._pod(args, script)
                ),
                labels=labels,
                backoff_limit=3,
                active_deadline_seconds=600,
                starting_deadline_seconds=3600,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, binding, script]),
        )
        self.register_outputs({"cron_job": self.cron_job.metadata.name})

    @staticmethod
    def _pod(args: RolloutRestartArgs, script: k8s.core.v1.ConfigMap) -> k8s.core.v1.PodSpecArgs:
        return script_pod(
            container="restart",
            service_account=args.name,
            image=args.image,
            run_as_user=args.run_as_user,
            script_config_map=script.metadata.name,
            script_key=_SCRIPT_KEY,
            mount=_MOUNT,
            env=[
                k8s.core.v1.EnvVarArgs(name=k, value=v)
                for k, v in restart_env(args.namespace, args.deployments).items()
            ],
            node_selector=args.node_selector,
        )
