"""``python -m mlops_platform.mlops.support [--today YYYY-MM-DD] [--root DIR]``: every shipped stack's Kubernetes version
against the EKS support calendar (``mlops_platform.components.cluster.versions.SUPPORT_CALENDAR``).

Exit 0 when every stack's version stays in standard support for more than
``mlops_platform.components.cluster.versions.SUPPORT_WARNING_DAYS`` days, 1 when a stack is within that window or past the end
(the scheduled ``support-calendar`` workflow then fails, two months before extended-support billing
starts), 2 when a stack file cannot be read or validated. The date is today (UTC) unless given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

from mlops_platform.components.cluster.versions import (
    SUPPORT_WARNING_DAYS,
    newest_standard_version,
    support_status,
)
from mlops_platform.components.platform.config import PROJECT, ConfigError, build
from mlops_platform.mlops import REPO_ROOT
from mlops_platform.mlops.stackconfig import StackFileError, load_project, load_stack


def stack_names(root: Path) -> list[str]:
    """The stacks of ``root``'s project: one per ``Pulumi.<stack>.yaml`` in its stack config directory."""
    project = load_project(root)
    return sorted(p.name.split(".")[1] for p in project.stack_config_dir.glob("Pulumi.*.yaml"))


def check(root: Path, today: dt.date) -> tuple[list[str], list[str]]:
    """``(failures, passes)``: one line per stack. A failure is a stack whose Kubernetes version leaves
    standard support within :data:`SUPPORT_WARNING_DAYS` days of ``today`` (or already has, or has no
    calendar row). Raises :class:`StackFileError` or :class:`ConfigError` for a stack that does not load."""
    failures: list[str] = []
    passes: list[str] = []
    for name in stack_names(root):
        stack = load_stack(root, name)
        config = build(
            stack.values,
            region=stack.values.get("aws:region"),
            source=stack.relpath,
            namespace=PROJECT,
            stack=name,
        )
        version = config.cluster.kubernetes_version
        state, message = support_status(version, today)
        line = f"{stack.relpath}: {PROJECT}:clusterKubernetesVersion {version}: {message}"
        (passes if state == "ok" else failures).append(line)
    return failures, passes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mlops_platform.mlops.support", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--today", type=dt.date.fromisoformat, help="the date to judge (default: today, UTC)")
    parser.add_argument("--root", default=str(REPO_ROOT), help="the project root (default: this repository)")
    args = parser.parse_args(argv)
    today = args.today or dt.datetime.now(dt.timezone.utc).date()
    try:
        failures, passes = check(Path(args.root), today)
    except (StackFileError, ConfigError) as err:
        print(err, file=sys.stderr)
        return 2
    for line in passes:
        print(line)
    for line in failures:
        print(line, file=sys.stderr)
    if failures:
        newest = newest_standard_version(today)
        if newest and support_status(newest, today)[0] == "ok":
            hint = f"move to {newest}"
        else:
            hint = "add the next Kubernetes minor (add-ons, support dates) to components/cluster/versions.py and move to it"
        print(
            f"{len(failures)} stack(s) within {SUPPORT_WARNING_DAYS} days of (or past) the end of EKS standard "
            f"support on {today.isoformat()}: {hint} (docs/operations.md, Kubernetes upgrades)",
            file=sys.stderr,
        )
        return 1
    print(
        f"every stack is in EKS standard support for more than {SUPPORT_WARNING_DAYS} days from {today.isoformat()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
