"""The CEL rules of CRDs (``x-kubernetes-validations``) evaluated with cel-python in the Kubernetes dialect.

The API server evaluates a rule with cel-go plus the Kubernetes CEL libraries. cel-python implements the
CEL language and its standard functions; this module adds the Kubernetes library functions that are cheap
and exact to provide in Python (:data:`FUNCTIONS`), and says, rule by rule, why a rule cannot be evaluated
here (:func:`unsupported`):

- a transition rule (it reads ``oldSelf``): the API server judges it only on an update, against the stored
  object; what ``mlops verify`` checks is a create;
- a call to a function neither cel-python nor :data:`FUNCTIONS` has (``quantity()``, ``url()``, ``ip()``,
  ``cidr()``, ``semver()``, ``format()``, ``sum()``, ...);
- syntax cel-python does not parse (optional field selection ``?.``, ...).

Everything else is evaluated with ``self`` bound to the value at the rule's schema node, after defaulting.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass
from typing import Any

import celpy
import celpy.celtypes as ct
import lark
import re2
from celpy.adapter import json_to_cel
from celpy.evaluation import CELEvalError, base_functions

# --- Kubernetes CEL library functions cel-python lacks, provided exactly -------------------------------

_INT = re.compile(r"^[+-]?[0-9]+$")
_INT64 = (-(2**63), 2**63 - 1)


def _err(message: str) -> CELEvalError:
    return CELEvalError(message, ValueError, (message,))


def _int(value: Any) -> Any:
    """``int()`` as cel-go converts: a string must be a base-10 integer (Go's ``strconv.ParseInt``), not
    Python's ``int()`` (which also takes ``' 5'``, ``'1_000'``; cel-python's takes ``'0x10'``)."""
    if isinstance(value, ct.StringType):
        if not _INT.match(str(value)):
            return _err(f"cannot convert {str(value)!r} to int")
        number = int(str(value))
        if not _INT64[0] <= number <= _INT64[1]:
            return _err("int overflow")
        return ct.IntType(number)
    return ct.IntType(value)


def _string(value: Any, name: str) -> str:
    if not isinstance(value, ct.StringType):
        raise TypeError(f"no such overload: {name} on {type(value).__name__}")
    return str(value)


def _find(text: Any, pattern: Any) -> Any:
    """Kubernetes regex library: the leftmost match of the RE2 pattern, or ``''``."""
    try:
        match = re2.search(_string(pattern, "find"), _string(text, "find"))
    except re2.error as ex:
        return _err(f"invalid regex: {ex}")
    return ct.StringType(str(match.group(0)) if match else "")


def _find_all(text: Any, pattern: Any, limit: Any = None) -> Any:
    """Kubernetes regex library: every non-overlapping match (at most ``limit`` when >= 0)."""
    try:
        found = [str(m.group(0)) for m in re2.finditer(_string(pattern, "findAll"), _string(text, "findAll"))]
    except re2.error as ex:
        return _err(f"invalid regex: {ex}")
    if limit is not None and int(limit) >= 0:
        found = found[: int(limit)]
    return ct.ListType([ct.StringType(s) for s in found])


def _split(text: Any, sep: Any, limit: Any = None) -> Any:
    """cel-go strings extension ``split``: Go's ``strings.SplitN`` (``''`` splits into characters)."""
    s, separator = _string(text, "split"), _string(sep, "split")
    n = -1 if limit is None else int(limit)
    if n == 0:
        return ct.ListType([])
    if separator == "":
        parts = list(s) if n < 0 or n >= len(s) else [*s[: n - 1], s[n - 1 :]]
    else:
        parts = s.split(separator) if n < 0 else s.split(separator, n - 1)
    return ct.ListType([ct.StringType(p) for p in parts])


def _ascii(text: Any, upper: bool) -> Any:
    s = _string(text, "upperAscii" if upper else "lowerAscii")
    if upper:
        return ct.StringType("".join(chr(ord(c) - 32) if "a" <= c <= "z" else c for c in s))
    return ct.StringType("".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in s))


def _char_at(text: Any, index: Any) -> Any:
    s, i = _string(text, "charAt"), int(index)
    if not 0 <= i <= len(s):
        return _err(f"index out of range: {i}")
    return ct.StringType(s[i : i + 1])


def _index_of(container: Any, item: Any, start: Any = None, *, last: bool = False) -> Any:
    """Strings extension ``indexOf``/``lastIndexOf`` (code points) and the Kubernetes lists library's."""
    if isinstance(container, ct.ListType):
        positions = [i for i, x in enumerate(container) if type(x) is type(item) and x == item]
        if not positions:
            return ct.IntType(-1)
        return ct.IntType(positions[-1] if last else positions[0])
    s, sub = _string(container, "indexOf"), _string(item, "indexOf")
    if start is None:
        return ct.IntType(s.rfind(sub) if last else s.find(sub))
    i = int(start)
    if not 0 <= i <= len(s):
        return _err(f"index out of range: {i}")
    return ct.IntType(s.rfind(sub, 0, i + len(sub)) if last else s.find(sub, i))


def _substring(text: Any, start: Any, end: Any = None) -> Any:
    s = _string(text, "substring")
    i, j = int(start), len(s) if end is None else int(end)
    if not 0 <= i <= len(s) or not 0 <= j <= len(s) or i > j:
        return _err(f"substring out of range: {i}, {j}")
    return ct.StringType(s[i:j])


def _replace(text: Any, old: Any, new: Any, limit: Any = None) -> Any:
    s, a, b = _string(text, "replace"), _string(old, "replace"), _string(new, "replace")
    n = -1 if limit is None else int(limit)
    if a == "":  # Go: an empty old string matches before every code point and at the end
        slots = len(s) + 1 if n < 0 else min(n, len(s) + 1)
        pieces = [b + c for c in s[:slots]]
        return ct.StringType("".join(pieces) + (b if slots == len(s) + 1 else s[slots:]))
    return ct.StringType(s.replace(a, b) if n < 0 else s.replace(a, b, n))


def _join(items: Any, sep: Any = None) -> Any:
    if not isinstance(items, ct.ListType):
        raise TypeError("no such overload: join")
    separator = "" if sep is None else _string(sep, "join")
    return ct.StringType(separator.join(_string(x, "join") for x in items))


def _is_sorted(items: Any) -> Any:
    """Kubernetes lists library ``isSorted``: elements of one comparable type, in non-decreasing order."""
    if not isinstance(items, ct.ListType):
        raise TypeError("no such overload: isSorted")
    values: list[Any] = list(items)
    if len({type(v) for v in values}) > 1:
        return _err("isSorted: elements of different types")
    return ct.BoolType(all(a <= b for a, b in itertools.pairwise(values)))


FUNCTIONS: dict[str, Any] = {
    "int": _int,
    "find": _find,
    "findAll": _find_all,
    "split": _split,
    "lowerAscii": lambda s: _ascii(s, False),
    "upperAscii": lambda s: _ascii(s, True),
    "charAt": _char_at,
    "indexOf": _index_of,
    "lastIndexOf": lambda c, x, start=None: _index_of(c, x, start, last=True),
    "substring": _substring,
    "replace": _replace,
    "join": _join,
    "isSorted": _is_sorted,
}
"""Kubernetes CEL library functions (strings extension, regex, lists) with the Kubernetes semantics, and
``int()`` with cel-go's string parsing. Not provided, because not exact or not cheap here: ``quantity()``,
``url()``, ``ip()``, ``cidr()``, ``semver()``, ``format()``, ``trim()`` (Go's notion of white space),
``sum()``/``min()``/``max()``, ``sets``."""

_MACROS = frozenset({"has", "dyn", "all", "exists", "exists_one", "map", "filter"})
KNOWN = frozenset({*base_functions, *FUNCTIONS, *_MACROS})
"""Every function name a rule may call and be evaluated here."""

TRANSITION = (
    "transition rule (oldSelf): the API server judges it on an update against the stored object; "
    "verify sees a create"
)

_ENV = celpy.Environment()


@dataclass(frozen=True)
class Compiled:
    program: Any | None
    reason: str | None
    """Why the rule cannot be evaluated here, or None."""


def _called(tree: lark.Tree) -> set[str]:
    """The names of the functions and methods a parsed rule calls."""
    names: set[str] = set()
    for node in tree.iter_subtrees():
        if node.data == "member_dot_arg" and len(node.children) >= 2:
            names.add(str(node.children[1]))
        elif node.data == "ident_arg" and node.children:
            names.add(str(node.children[0]))
    return names


def _uses_old_self(tree: lark.Tree) -> bool:
    return any(
        isinstance(tok, lark.Token) and str(tok) == "oldSelf"
        for node in tree.iter_subtrees()
        if node.data == "ident"
        for tok in node.children
    )


@functools.lru_cache(maxsize=4096)
def compiled(rule: str) -> Compiled:
    """The rule compiled with :data:`FUNCTIONS`, or the reason it cannot be evaluated here."""
    try:
        tree = _ENV.compile(rule)
    except Exception as ex:  # noqa: BLE001 - cel-python's parser rejects Kubernetes-only syntax
        first = str(ex).strip().splitlines()[0] if str(ex).strip() else type(ex).__name__
        return Compiled(None, f"cel-python cannot parse it ({first[:80]})")
    if _uses_old_self(tree):
        return Compiled(None, TRANSITION)
    missing = sorted(_called(tree) - KNOWN)
    if missing:
        names = ", ".join(f"{m}()" for m in missing)
        return Compiled(None, f"calls {names}: a Kubernetes CEL library function cel-python lacks")
    return Compiled(_ENV.program(tree, functions=FUNCTIONS), None)


def unsupported(rule: str) -> str | None:
    """Why ``rule`` cannot be evaluated with cel-python here, or None when it can."""
    return compiled(rule).reason


@dataclass(frozen=True)
class Outcome:
    holds: bool | None
    """True/False; None when the rule was not evaluated."""
    error: str = ""
    """The evaluation error (the API server rejects an object whose rule fails to evaluate)."""


def _describe(error: CELEvalError) -> str:
    args = error.args
    text = str(args[0]) if args else str(error)
    detail = args[2] if len(args) > 2 and isinstance(args[2], tuple) and args[2] else None
    if detail is not None and str(detail[0]) not in text:
        text = f"{text}: {detail[0]}"
    return text[:200]


def evaluate(rule: str, value: Any) -> Outcome:
    """``rule`` with ``self`` = value (JSON data)."""
    program = compiled(rule).program
    if program is None:
        return Outcome(None)
    try:
        result = program.evaluate({"self": json_to_cel(value)})
    except CELEvalError as ex:
        return Outcome(False, _describe(ex))
    except Exception as ex:  # noqa: BLE001 - a failure of cel-python itself, not of the rule: not judged
        return Outcome(None, f"{type(ex).__name__}: {ex}")
    if isinstance(result, CELEvalError):
        return Outcome(False, _describe(result))
    if isinstance(result, ct.BoolType):
        return Outcome(bool(result))
    return Outcome(False, f"the rule gives {type(result).__name__}, not a bool")


# --- the rules of a CRD --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    crd: str
    version: str
    path: str
    """The schema node, e.g. ``spec.amiSelectorTerms[*].alias`` (``[*]`` an item, ``.*`` a map value)."""
    rule: str
    message: str

    @property
    def reason(self) -> str | None:
        return unsupported(self.rule)

    def to_json(self) -> dict[str, Any]:
        return {
            "crd": self.crd,
            "version": self.version,
            "path": self.path,
            "rule": self.rule,
            "reason": self.reason,
        }


def _rules_under(node: Any, path: str, crd: str, version: str, out: list[Rule]) -> None:
    if not isinstance(node, dict):
        return
    for entry in node.get("x-kubernetes-validations") or []:
        if isinstance(entry, dict) and entry.get("rule"):
            out.append(
                Rule(crd, version, path or "(root)", str(entry["rule"]), str(entry.get("message") or ""))
            )
    for key, sub in (node.get("properties") or {}).items():
        _rules_under(sub, f"{path}.{key}" if path else key, crd, version, out)
    if isinstance(node.get("additionalProperties"), dict):
        _rules_under(node["additionalProperties"], f"{path}.*", crd, version, out)
    if isinstance(node.get("items"), dict):
        _rules_under(node["items"], f"{path}[*]", crd, version, out)
    for junctor in ("allOf", "anyOf", "oneOf"):
        for sub in node.get(junctor) or []:
            _rules_under(sub, path, crd, version, out)


def rules_of(crd: dict[str, Any], version: str) -> list[Rule]:
    """Every CEL rule of the CRD's schema for ``version``, in schema order."""
    name = str((crd.get("metadata") or {}).get("name", ""))
    spec = crd.get("spec") or {}
    entry = next((v for v in spec.get("versions") or [] if v.get("name") == version), {})
    schema = ((entry.get("schema") or {}).get("openAPIV3Schema")) or (
        (spec.get("validation") or {}).get("openAPIV3Schema")
    )
    out: list[Rule] = []
    _rules_under(schema, "", name, version, out)
    return out


@dataclass
class Coverage:
    """The CEL rules of the CRDs in use (those a custom resource of the platform is validated against)."""

    rules: list[Rule]

    @property
    def evaluated(self) -> list[Rule]:
        return [r for r in self.rules if r.reason is None]

    @property
    def not_evaluated(self) -> list[Rule]:
        return [r for r in self.rules if r.reason is not None]

    def to_json(self) -> dict[str, Any]:
        return {
            "rules": len(self.rules),
            "evaluated": len(self.evaluated),
            "notEvaluated": [r.to_json() for r in self.not_evaluated],
        }

    def lines(self, width: int = 70) -> list[str]:
        """The text report: the counts, then one line per rule not evaluated."""
        out = [
            f"CEL rules of the CRDs in use: {len(self.rules)}; evaluated with cel-python: {len(self.evaluated)}; "
            f"not evaluated: {len(self.not_evaluated)}"
        ]
        for r in self.not_evaluated:
            text = r.rule if len(r.rule) <= width else r.rule[: width - 3] + "..."
            out.append(f"  {r.crd} {r.version} {r.path}: {text!r}: {r.reason}")
        return out
