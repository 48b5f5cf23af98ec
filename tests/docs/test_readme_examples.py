"""Every Python example in the README renders offline as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.graph import Graph

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def run(block: str) -> Graph:
    return run_callable(
        lambda: exec(compile(block, str(README), "exec"), {"__name__": "__main__"}),
        root=REPO,
        config={"aws:region": "eu-west-1"},
    )


def test_the_readme_has_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("block", BLOCKS, ids=[f"readme-example-{i}" for i in range(len(BLOCKS))])
def test_readme_example_renders(block: str) -> None:
    graph = run(block)
    assert graph.outputs, "the example exports something"
    assert any(r.type.startswith("mlops:") for r in graph.resources), "the example uses a component"


def test_standalone_artifact_store_example_is_hardened() -> None:
    graph = run(next(b for b in BLOCKS if "Keys(" in b))
    assert len(graph.of_type("aws:kms/key:Key")) == 3
    assert graph.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert "arn:aws:s3:::team-a-artifacts-123456789012-eu-west-1/models/*" in graph.outputs["readWritePolicy"]
