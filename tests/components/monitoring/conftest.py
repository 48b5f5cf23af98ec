"""The rendered Monitoring graphs the monitoring tests share (rendered once per session)."""

from __future__ import annotations

import pytest
from monitoring_support import base_args, render

from mlops_platform.mlops.graph import Graph


@pytest.fixture(scope="session")
def graph() -> Graph:
    """Monitoring with every feature on (:func:`monitoring_support.base_args`)."""
    return render(base_args())


@pytest.fixture(scope="session")
def netgraph() -> Graph:
    """Monitoring with the cluster CIDRs of a real stack (a VPC and EKS' service range)."""
    return render(base_args(cluster_cidrs=["10.10.0.0/16", "172.20.0.0/16"]))
