"""components.cluster: the EKS cluster and what is installed onto it.

* :mod:`~components.cluster.cluster`: :class:`KubernetesCluster` and its args (the component).
* :mod:`~components.cluster.node_groups`: :class:`NodeGroupSpec`, :func:`gpu_node_group`, launch templates
  and managed node groups.
* :mod:`~components.cluster.addons`: the core EKS add-ons, NVIDIA's device plugin, the default StorageClass.
* :mod:`~components.cluster.access`: admin access entries and the kubeconfig.
* :mod:`~components.cluster.security_groups`: the control-plane and node security groups and their rules.
* :mod:`~components.cluster.versions`: pinned versions and the EKS support calendar (no SDK import).
* :mod:`~components.cluster.external_secrets`: the External Secrets Operator add-on.
"""
