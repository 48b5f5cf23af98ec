"""mlops_platform.components.network: the VPC.

* :mod:`~mlops_platform.components.network.network`: :class:`Network` and its args (the component).
* :mod:`~mlops_platform.components.network.subnets`: the per-zone subnet layout and the subnets.
* :mod:`~mlops_platform.components.network.flow_logs`: VPC flow logs, their role and policies.
* :mod:`~mlops_platform.components.network.endpoints`: the interface-endpoint catalogue and policies (no SDK import).
"""
