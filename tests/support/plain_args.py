"""Turn pulumi *Args values (and the Outputs inside them) into the plain dicts the offline graph records, so
tests of pure spec builders can assert on what the API server would receive."""

from __future__ import annotations

from typing import Any

from pulumi.runtime.rpc import serialize_property
from pulumi.runtime.sync_await import _sync_await


def plain(args: object) -> Any:
    """The JSON-like value ``args`` serialises to (Outputs resolved, ``None`` fields dropped)."""
    return _sync_await(serialize_property(args, [], None))
