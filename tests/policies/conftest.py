"""One policy pack process per test session, driven through the real analyzer protocol."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlops import REPO_ROOT
from mlops.analyzer import start_pack
from mlops.engine import render
from mlops.graph import Graph
from mlops.policytest import POLICY_PACK, Checker


@pytest.fixture(scope="session")
def checker() -> Iterator[Checker]:
    with start_pack(POLICY_PACK) as stub:
        yield Checker(stub)


@pytest.fixture(scope="session")
def stacks() -> dict[str, Graph]:
    """The shipped stacks, rendered offline once per session."""
    return {env: render(env, REPO_ROOT) for env in ("dev", "staging", "prod")}
