"""The grammars of the semantics layer: Kubernetes quantities."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mlops_platform.mlops.verify.semantics import formats


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", Decimal(1)),
        ("1.5Gi", Decimal("1.5") * 2**30),
        ("500m", Decimal("0.5")),
        (".5", Decimal("0.5")),
        ("5.", Decimal(5)),
        ("5.Mi", Decimal(5 * 2**20)),
        ("+1k", Decimal(1000)),
        ("-1", Decimal(-1)),
        ("1e3", Decimal(1000)),
        ("1E-2", Decimal("0.01")),
        ("2E", Decimal(2 * 10**18)),
        (3, Decimal(3)),
        (0.5, Decimal("0.5")),
    ],
)
def test_quantity_grammar_accepts(text, value):
    assert formats.parse_quantity(text) == value


@pytest.mark.parametrize(
    "text", ["1.5Gi ", " 1", "", "Gi", "1gi", "1.5.5", "1 Gi", "1e", "1Ki3", "1KiB", ".", True]
)
def test_quantity_grammar_rejects(text):
    assert formats.parse_quantity(text) is None
