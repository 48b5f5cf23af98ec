"""The grammars the API server holds values to: Kubernetes quantities, DNS-1123 names, IANA port names,
label keys and values, and label selectors applied to labels (pure functions, no findings)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from mlops_platform.mlops.verify.objects import Unknown

# --- Kubernetes quantities --------------------------------------------------------------------------

_QUANTITY = re.compile(
    r"^(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|m|k|M|G|T|P|E)?$"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"m": Decimal("0.001"), "": Decimal(1), "k": Decimal(10**3), "M": Decimal(10**6)}
_DECIMAL.update({"G": Decimal(10**9), "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18)})


def parse_quantity(value: Any) -> Decimal | None:
    """The value of a Kubernetes quantity (``resource.Quantity`` grammar), or None when it is not one.

    ``<signedNumber><suffix>``: a number (``1``, ``1.5``, ``.5``, ``5.``) with an optional sign, then a
    binary SI suffix (Ki..Ei), a decimal SI suffix (m, k, M..E) or an exponent (``e3``, ``E-2``). No
    spaces; a JSON number is a quantity too."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value)
    if match is None:
        return None
    try:
        number = Decimal(match["num"])
    except InvalidOperation:
        return None
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    return number * (Decimal(10) ** int(suffix[1:]))


# --- names and labels --------------------------------------------------------------------------------

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_LABEL = re.compile(rf"^{_LABEL}$")
_DNS_SUBDOMAIN = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_IANA_SVC = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
PERCENT = re.compile(r"^[0-9]+%$")


def dns_label_error(value: str) -> str | None:
    if len(value) > 63:
        return f"{value!r} is longer than 63 characters"
    if not _DNS_LABEL.match(value):
        return (
            f"{value!r} is not a DNS-1123 label (lower-case alphanumerics and '-', alphanumeric at both ends)"
        )
    return None


def dns_subdomain_error(value: str) -> str | None:
    if len(value) > 253:
        return f"{value!r} is longer than 253 characters"
    if not _DNS_SUBDOMAIN.match(value):
        return f"{value!r} is not a DNS-1123 subdomain (lower-case alphanumerics, '-' and '.')"
    return None


def port_name_error(value: str) -> str | None:
    if len(value) > 15:
        return f"port name {value!r} is longer than 15 characters"
    if not _IANA_SVC.match(value) or "--" in value or not re.search(r"[a-z]", value):
        return f"port name {value!r} is not an IANA service name (a-z, 0-9 and '-', at least one letter)"
    return None


def label_key_error(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return f"label key {key!r}: the prefix is not a DNS-1123 subdomain"
    if not name or len(name) > 63 or not _QUALIFIED.match(name):
        return f"label key {key!r}: the name part is not a qualified name of at most 63 characters"
    return None


def label_value_error(value: Any) -> str | None:
    if isinstance(value, Unknown):
        return None
    if not isinstance(value, str):
        return f"label value {value!r} is not a string"
    if len(value) > 63:
        return f"label value {value!r} is longer than 63 characters"
    if value and not _QUALIFIED.match(value):
        return f"label value {value!r} is not a valid label value (alphanumerics, '-', '_', '.')"
    return None


# --- label selectors ---------------------------------------------------------------------------------


def selector_matches(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) applied to a set of labels."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if isinstance(value, Unknown):
            continue
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def map_selector_matches(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    """A Service-style selector (a plain map): every pair must be in the labels."""
    return all(isinstance(v, Unknown) or labels.get(k) == v for k, v in selector.items())
