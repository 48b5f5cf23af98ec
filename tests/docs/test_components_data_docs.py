"""The examples in docs/components-data.md run as written, offline, against fake platform outputs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.fakecloud import FakeCloud
from mlops_platform.mlops.graph import Graph

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "components-data.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
PLATFORM_OUTPUTS = {
    "vpcId": "vpc-0a1b2c3d4e5f60718",
    "databaseSubnetIds": ["subnet-aaa", "subnet-bbb"],
    "kmsDataKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-4333-8444-555555555555",
    "kmsLogsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/66666666-7777-4888-8999-000000000000",
}


def run(block: str) -> Graph:
    cloud = FakeCloud(stack_references={"acme/mlops-platform/prod": PLATFORM_OUTPUTS})
    return run_callable(
        lambda: exec(compile(block, str(DOC), "exec"), {"__name__": "__main__"}),
        root=REPO,
        config={"aws:region": "eu-west-1"},
        mocks=cloud,
    )


def test_every_component_has_an_example() -> None:
    text = "\n".join(BLOCKS)
    for component in ("Keys(", "Network(", "ArtifactStore(", "MetadataDatabase("):
        assert component in text


@pytest.mark.parametrize("block", BLOCKS, ids=[f"example-{i}" for i in range(len(BLOCKS))])
def test_example_renders(block: str) -> None:
    graph = run(block)
    assert graph.outputs
    for value in graph.outputs.values():
        assert value not in (None, "", [])


def test_artifact_example_policy_is_scoped_to_its_prefix() -> None:
    block = next(b for b in BLOCKS if "ArtifactStore(" in b)
    graph = run(block)
    policy = graph.one("aws:iam/policy:Policy", "features-writer").inputs["policy"]
    assert "arn:aws:s3:::acme-team-a-features-eu-west-1/team-a/*" in policy
    assert PLATFORM_OUTPUTS["kmsDataKeyArn"] in policy


def test_database_example_uses_the_platform_outputs() -> None:
    block = next(b for b in BLOCKS if "MetadataDatabase(" in b)
    graph = run(block)
    db = graph.one("aws:rds/instance:Instance").inputs
    assert db["kmsKeyId"] == PLATFORM_OUTPUTS["kmsDataKeyArn"]
    assert graph.one("aws:rds/subnetGroup:SubnetGroup").inputs["subnetIds"] == ["subnet-aaa", "subnet-bbb"]
