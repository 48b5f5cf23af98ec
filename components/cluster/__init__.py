"""mlops_platform.components.cluster: the EKS cluster and what is installed onto it.

* :mod:`~mlops_platform.components.cluster.cluster`: :class:`KubernetesCluster` and its args (the component).
* :mod:`~mlops_platform.components.cluster.node_groups`: :class:`NodeGroupSpec`, :func:`gpu_node_group`, launch templates
  and managed node groups.
* :mod:`~mlops_platform.components.cluster.addons`: the core EKS add-ons, NVIDIA's device plugin, the default StorageClass.
* :mod:`~mlops_platform.components.cluster.access`: admin access entries and the kubeconfig.
* :mod:`~mlops_platform.components.cluster.security_groups`: the control-plane and node security groups and their rules.
* :mod:`~mlops_platform.components.cluster.versions`: pinned versions and the EKS support calendar (no SDK import).
* :mod:`~mlops_platform.components.cluster.instance_families`: the NVIDIA GPU families (no import at all).
* :mod:`~mlops_platform.components.cluster.karpenter`: Karpenter, its node classes and pools
  (:mod:`~mlops_platform.components.cluster.karpenter_iam`: its IAM documents).
* :mod:`~mlops_platform.components.cluster.external_secrets`: the External Secrets Operator add-on.
"""
