"""The value checks shared by the config schema and the building blocks: one definition of each.

Each ``check_*`` returns the value when it is acceptable and raises ``ValueError`` with a message that
quotes the value and says what is allowed; callers add where the value came from (a config key, an
argument name).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlparse

__all__ = [
    "AWS_REGION",
    "EMAIL",
    "SHARED_ADDRESS_SPACE",
    "check_email",
    "check_https_url",
    "check_region",
    "is_private_ipv4",
    "is_private_ipv4_cidr",
]

AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
"""An AWS region code in any partition: ``eu-west-1``, ``us-gov-west-1``, ``cn-north-1``, ``us-isob-east-1``."""

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
"""An e-mail address as SNS accepts it for an ``email`` subscription: one ``@``, a dotted domain."""


def check_region(value: str) -> str:
    """An AWS region code such as ``eu-west-1``."""
    if not AWS_REGION.match(value):
        raise ValueError(f"{value!r} is not an AWS region code such as eu-west-1")
    return value


def check_email(value: str) -> str:
    """An e-mail address (``name@example.org``), no spaces."""
    if not EMAIL.match(value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


def check_https_url(value: str) -> str:
    """An ``https://`` URL with a host and no embedded credentials (they would sit in state)."""
    parsed = urlparse(value)
    if parsed.scheme != "https" or not parsed.hostname or any(c.isspace() for c in value):
        raise ValueError(f"{value!r} is not an https:// URL (plain HTTP is not allowed)")
    if parsed.username or parsed.password:
        raise ValueError(f"{value!r} must not embed credentials (they would sit in state)")
    return value


SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")
"""RFC 6598's shared address space, which VPCs may use (EKS pods on custom networking often do)."""


def is_private_ipv4(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    """Whether ``network`` is an IPv4 block in a private range (RFC 1918) or the shared address space."""
    return isinstance(network, ipaddress.IPv4Network) and (
        network.is_private or network.subnet_of(SHARED_ADDRESS_SPACE)
    )


def is_private_ipv4_cidr(cidr: str) -> bool:
    """Whether ``cidr`` is written as a strict IPv4 block (no host bits) in a private range."""
    try:
        network = ipaddress.ip_network(cidr, strict=True)
    except ValueError:
        return False
    return is_private_ipv4(network)
