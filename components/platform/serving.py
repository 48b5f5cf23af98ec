"""Serving on :class:`~mlops_platform.components.platform.platform.MlopsPlatform`: cert-manager, KServe in Standard
mode and the platform's ClusterServingRuntime and ClusterStorageContainer (:mod:`mlops_platform.components.serving`),
wired from the ``serving*`` keys. Called after :func:`~mlops_platform.components.platform.compute.add_compute`: it
needs the cluster, the registry (the runtime image) and MLflow (the storage initializer resolves aliases there)."""

from __future__ import annotations

from typing import Any

import pulumi

from mlops_platform.components.platform.compute import Compute, PlatformLike
from mlops_platform.components.platform.monitoring import eks_default_service_cidr
from mlops_platform.components.platform.settings import PlatformConfig
from mlops_platform.components.serving import names
from mlops_platform.components.serving.kserve import Serving, ServingArgs

__all__ = ["add_serving", "runtime_image", "serving_exports"]


def runtime_image(compute: Compute) -> pulumi.Output[str]:
    """The serving runtime image's reference: the :data:`~mlops_platform.components.serving.names.IMAGE_REPOSITORY`
    repository at :data:`~mlops_platform.components.serving.names.IMAGE_TAG`."""
    return pulumi.Output.concat(
        compute.registry.repository_urls[names.IMAGE_REPOSITORY], ":", names.IMAGE_TAG
    )


def add_serving(
    platform: PlatformLike,
    config: PlatformConfig,
    compute: Compute,
    *,
    prometheus: pulumi.Resource | None = None,
) -> Serving | None:
    """cert-manager, KServe and the runtime objects as children of ``platform``; None when serving is off.

    ``prometheus``: the kube-prometheus-stack release; given, serving's alert rules are created."""
    if not config.serving.enabled:
        return None
    if not isinstance(platform, pulumi.Resource):
        raise TypeError("add_serving needs the platform component (a pulumi.Resource) as parent")
    if names.IMAGE_REPOSITORY not in config.registry.repositories:
        raise ValueError(
            f"registryRepositories must include {names.IMAGE_REPOSITORY!r}: the serving runtime image lives there"
        )
    cluster, mlflow = compute.cluster, compute.model_registry
    vpc_cidr = config.network.vpc_cidr
    return Serving(
        f"{config.name}-serving",
        ServingArgs(
            cluster_cidrs=[vpc_cidr, eks_default_service_cidr(vpc_cidr)],
            runtime_image=runtime_image(compute),
            tracking_uri=mlflow.url,
            artifacts_destination=mlflow.artifacts_destination,
            region=config.region,
            node_selector={"mlops.platform/node-group": "system"},
            replicas=config.serving.replicas,
            prometheus=prometheus,
        ),
        opts=pulumi.ResourceOptions(parent=platform, providers={"kubernetes": cluster.provider}),
    )


def serving_exports(
    serving: Serving | None, *, extra: dict[str, pulumi.Input[Any]] | None = None
) -> dict[str, pulumi.Input[Any]]:
    """Serving's operational outputs by export name (none when serving is off). ``extra``: outputs other
    serving parts add (the drift job's Pushgateway URL, ``servingPushgatewayUrl``)."""
    if serving is None:
        return {}
    return {
        "servingNamespace": serving.namespace,
        "certManagerNamespace": serving.cert_manager_namespace,
        "servingRuntimeName": serving.runtime_name,
        "servingStorageContainerName": serving.storage_container_name,
        **(extra or {}),
    }
