"""Shared fixtures: the repo root and offline renders of the shipped stacks (cached per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.engine import render
from mlops.graph import Graph

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
