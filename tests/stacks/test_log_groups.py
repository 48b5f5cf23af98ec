"""Every CloudWatch log group a shipped stack creates keeps its logs for the profile's retention and
encrypts them with a customer-managed KMS key (whichever component creates it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_platform.components.platform.config import LOG_RETENTION_DAYS, PROFILES
from mlops_platform.mlops.engine import render
from mlops_platform.mlops.graph import reveal

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_log_groups_have_retention_and_kms(stack: str) -> None:
    graph = render(stack, REPO)
    expected_days = PROFILES[stack]["logs"]["retention_days"]
    assert expected_days in LOG_RETENTION_DAYS
    for group in graph.of_type("aws:cloudwatch/logGroup:LogGroup"):
        inputs = reveal(group.inputs)
        assert inputs.get("retentionInDays") == expected_days, group.name
        assert str(inputs.get("kmsKeyId", "")).startswith("arn:aws:kms:"), group.name
    # EKS control-plane logs go to /aws/eks/<cluster>/cluster, a group EKS would otherwise create
    # itself without retention or encryption: a cluster with logging on must come with its group.
    for cluster in graph.of_type("aws:eks/cluster:Cluster"):
        if reveal(cluster.inputs).get("enabledClusterLogTypes"):
            names = {reveal(g.inputs).get("name") for g in graph.of_type("aws:cloudwatch/logGroup:LogGroup")}
            assert f"/aws/eks/{reveal(cluster.inputs)['name']}/cluster" in names
