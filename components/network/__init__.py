"""components.network: the VPC.

* :mod:`~components.network.network`: :class:`Network` and its args (the component).
* :mod:`~components.network.subnets`: the per-zone subnet layout and the subnets.
* :mod:`~components.network.flow_logs`: VPC flow logs, their role and policies.
* :mod:`~components.network.endpoints`: the interface-endpoint catalogue and policies (no SDK import).
"""
