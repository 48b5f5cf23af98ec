"""The value checks shared by the config schema and the building blocks: one definition of each.

Each ``check_*`` returns the value when it is acceptable and raises ``ValueError`` with a message that
quotes the value and says what is allowed; callers add where the value came from (a config key, an
argument name).
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

__all__ = ["AWS_REGION", "EMAIL", "check_email", "check_https_url", "check_region"]

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
