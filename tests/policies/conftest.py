"""One policy pack process per test session, driven through the real analyzer protocol."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlops.analyzer import start_pack
from mlops.policytest import POLICY_PACK, Checker


@pytest.fixture(scope="session")
def checker() -> Iterator[Checker]:
    with start_pack(POLICY_PACK) as stub:
        yield Checker(stub)
