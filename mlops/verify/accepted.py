"""Findings of ``mlops verify`` that we accept, each listed once with its reason.

One list for every layer. An entry matches a finding by layer, check and a regular expression searched in
``"<resource name> <object> <path> <message>"``; a matched finding is reported as accepted (with the reason),
never as a failure. An entry that matches nothing in any shipped stack is itself an error (a test renders
every stack and fails on such an entry), so the list cannot rot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from mlops.verify.model import Finding


@dataclass(frozen=True)
class Accepted:
    layer: str
    check: str
    match: str
    """A regular expression searched (re.search) in :func:`subject` of the finding."""
    reason: str

    def matches(self, finding: Finding) -> bool:
        return (
            finding.layer == self.layer
            and finding.check == self.check
            and re.search(self.match, subject(finding)) is not None
        )


def subject(finding: Finding) -> str:
    return f"{finding.name} {finding.object} {finding.path} {finding.message}"


ACCEPTED: tuple[Accepted, ...] = ()
"""Every accepted finding, with its reason. Keep each entry as narrow as the finding it accepts."""


def apply(
    findings: Iterable[Finding], accepted: Iterable[Accepted] = ACCEPTED
) -> tuple[list[Finding], list[tuple[Finding, Accepted]]]:
    """Split findings into (failures, accepted findings with the entry that accepted each)."""
    entries = tuple(accepted)
    kept: list[Finding] = []
    taken: list[tuple[Finding, Accepted]] = []
    for finding in findings:
        entry = next((e for e in entries if e.matches(finding)), None)
        if entry is None:
            kept.append(finding)
        else:
            taken.append((finding, entry))
    return kept, taken


def unused(findings: Iterable[Finding], accepted: Iterable[Accepted] = ACCEPTED) -> list[Accepted]:
    """The entries that match none of ``findings`` (over every shipped stack, this must be empty)."""
    seen = list(findings)
    return [e for e in accepted if not any(e.matches(f) for f in seen)]
