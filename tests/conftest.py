"""Shared fixtures: the repo root, offline renders of the shipped stacks (cached per session), and one
policy pack process per session driven through the real analyzer protocol."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from policytest import POLICY_PACK, Checker

from mlops_platform.mlops.analyzer import start_pack
from mlops_platform.mlops.engine import render
from mlops_platform.mlops.graph import Graph

REPO = Path(__file__).resolve().parent.parent
STACKS = ("dev", "staging", "prod")

_cache: dict[str, Graph] = {}


def rendered(stack: str) -> Graph:
    """The offline graph of a shipped stack, rendered once per test session."""
    if stack not in _cache:
        _cache[stack] = render(stack, REPO)
    return _cache[stack]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(params=STACKS)
def stack_graph(request: pytest.FixtureRequest) -> Graph:
    return rendered(request.param)


@pytest.fixture(scope="session")
def stacks() -> dict[str, Graph]:
    """The shipped stacks, rendered offline once per session."""
    return {env: rendered(env) for env in STACKS}


@pytest.fixture(scope="session")
def checker() -> Iterator[Checker]:
    """The policy pack, started once as the Pulumi CLI starts it."""
    with start_pack(POLICY_PACK) as stub:
        yield Checker(stub)
