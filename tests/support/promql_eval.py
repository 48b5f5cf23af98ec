"""A small steady-state PromQL evaluator over the AST of promql-parser, for testing alert conditions.

It answers "which series would this expression return now" for a set of instant samples, with every range
function reading the series as if it had held its value for the whole window (``avg_over_time(x[30m])``
is ``x``; ``rate(c[5m])`` and ``increase(c[30m])`` read the sample as the rate or the increase itself).
That is enough to test an alert's logic: which situations return series (fire, after ``for``) and which
return none. Supported: selectors with = != =~ !~, numbers, parentheses, sum/max/min/avg/count by/without,
comparisons (filtering), arithmetic, and/or/unless with on/ignoring, absent(). Anything else raises.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import promql_parser as pp

Series = tuple[dict[str, str], float]

_RANGE_FUNCTIONS = {"avg_over_time", "max_over_time", "min_over_time", "last_over_time", "rate", "increase"}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def _divide(a: float, b: float) -> float:
    if b == 0:
        return math.nan if a == 0 else math.copysign(math.inf, a)
    return a / b


_ARITH: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": _divide,
}


def evaluate(expr: str, samples: Sequence[Mapping[str, Any]]) -> list[Series]:
    """The series ``expr`` returns for ``samples`` (each a label map with ``__name__`` and ``value``)."""
    data = [({k: str(v) for k, v in s.items() if k != "value"}, float(s["value"])) for s in samples]
    result = _eval(pp.parse(expr), data)
    return result if isinstance(result, list) else [({}, float(result))]


def _matches(labels: Mapping[str, str], name: str | None, matchers: Any) -> bool:
    if name is not None and labels.get("__name__") != name:
        return False
    for m in matchers.matchers:
        value = labels.get(m.name, "")
        op = str(m.op)
        if op == "MatchOp.Equal" and value != m.value:
            return False
        if op == "MatchOp.NotEqual" and value == m.value:
            return False
        if op == "MatchOp.Re" and not re.fullmatch(m.value, value):
            return False
        if op == "MatchOp.NotRe" and re.fullmatch(m.value, value):
            return False
    return True


def _key(labels: Mapping[str, str], matching: Any) -> tuple[tuple[str, str], ...]:
    if matching is None:
        return tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))
    names = set(matching.labels)
    if str(matching.type).endswith("Include"):
        return tuple(sorted((k, v) for k, v in labels.items() if k in names))
    return tuple(sorted((k, v) for k, v in labels.items() if k not in names and k != "__name__"))


def _eval(node: Any, data: list[Series]) -> list[Series] | float:
    kind = type(node).__name__
    if kind == "NumberLiteral":
        return float(node.val)
    if kind == "ParenExpr":
        return _eval(node.expr, data)
    if kind == "VectorSelector":
        return [(dict(labels), v) for labels, v in data if _matches(labels, node.name, node.matchers)]
    if kind == "MatrixSelector":
        return _eval(node.vector_selector, data)
    if kind == "Call":
        name = node.func.name
        if name in _RANGE_FUNCTIONS:
            inner = _eval(node.args[0], data)
            assert isinstance(inner, list)
            return [({k: v for k, v in labels.items() if k != "__name__"}, v) for labels, v in inner]
        if name == "absent":
            inner = _eval(node.args[0], data)
            return [] if inner else [({}, 1.0)]
        raise NotImplementedError(name)
    if kind == "AggregateExpr":
        return _aggregate(node, data)
    if kind == "BinaryExpr":
        return _binary(node, data)
    raise NotImplementedError(kind)


def _aggregate(node: Any, data: list[Series]) -> list[Series]:
    inner = _eval(node.expr, data)
    assert isinstance(inner, list)
    modifier = node.modifier
    groups: dict[tuple[tuple[str, str], ...], list[float]] = {}
    for labels, v in inner:
        if modifier is None:
            key: tuple[tuple[str, str], ...] = ()
        elif str(modifier.type).endswith("By"):
            key = tuple(sorted((k, labels[k]) for k in modifier.labels if k in labels))
        else:
            key = tuple(
                sorted((k, x) for k, x in labels.items() if k not in modifier.labels and k != "__name__")
            )
        groups.setdefault(key, []).append(v)
    op = str(node.op)
    fold: dict[str, Callable[[list[float]], float]] = {
        "sum": sum,
        "max": max,
        "min": min,
        "avg": lambda xs: sum(xs) / len(xs),
        "count": lambda xs: float(len(xs)),
    }
    return [(dict(key), fold[op](values)) for key, values in groups.items()]


def _binary(node: Any, data: list[Series]) -> list[Series] | float:
    op = str(node.op)
    lhs, rhs = _eval(node.lhs, data), _eval(node.rhs, data)
    matching = node.modifier.matching if node.modifier is not None else None
    if op in ("and", "or", "unless"):
        assert isinstance(lhs, list) and isinstance(rhs, list)
        right_keys = {_key(labels, matching) for labels, _ in rhs}
        if op == "and":
            return [s for s in lhs if _key(s[0], matching) in right_keys]
        if op == "unless":
            return [s for s in lhs if _key(s[0], matching) not in right_keys]
        left_keys = {_key(labels, matching) for labels, _ in lhs}
        return lhs + [s for s in rhs if _key(s[0], matching) not in left_keys]
    compare = _COMPARE.get(op)
    arith = _ARITH.get(op)
    if compare is None and arith is None:
        raise NotImplementedError(op)

    def apply(a: float, b: float) -> float | None:
        """The value kept, or None when a comparison filters the sample out."""
        if compare is not None:
            return a if compare(a, b) else None
        assert arith is not None
        return arith(a, b)

    if not isinstance(lhs, list) and not isinstance(rhs, list):
        if compare is not None:
            return float(compare(lhs, rhs))
        assert arith is not None
        return arith(lhs, rhs)
    out: list[Series] = []
    if isinstance(lhs, list) and not isinstance(rhs, list):
        pairs = [(labels, v, rhs) for labels, v in lhs]
    elif isinstance(rhs, list) and not isinstance(lhs, list):
        pairs = [(labels, lhs, v) for labels, v in rhs]
    else:
        assert isinstance(lhs, list) and isinstance(rhs, list)
        right = {_key(labels, matching): v for labels, v in rhs}
        pairs = [
            (labels, v, right[_key(labels, matching)]) for labels, v in lhs if _key(labels, matching) in right
        ]
    for labels, a, b in pairs:
        value = apply(a, b)
        if value is not None:
            kept = labels if compare is not None else _drop_name(labels)
            # A scalar-vector comparison keeps the vector's value.
            out.append((kept, b if compare is not None and not isinstance(lhs, list) else value))
    return out


def _drop_name(labels: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k != "__name__"}
