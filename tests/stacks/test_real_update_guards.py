"""The shipped stacks under the two engine modes: an offline render is a preview (warnings on stderr),
``pulumi up`` (``preview=False``: ``pulumi.runtime.is_dry_run()`` is False) of staging and prod refuses the
placeholders the shipped files keep so that they render anywhere."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_platform.mlops.engine import render

REPO = Path(__file__).resolve().parents[2]


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_an_offline_render_of_prod_warns_about_each_placeholder(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        graph = render("prod", REPO)
    assert graph.of_type("aws:eks/cluster:Cluster")
    warnings = [m for m in _messages(caplog) if m.startswith("stacks/Pulumi.prod.yaml: ")]
    assert any("monitoringAlertEmails" in m and "example.com" in m for m in warnings)
    assert any("clusterAdminPrincipalArns" in m and "no human can reach the cluster" in m for m in warnings)


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_a_real_update_of_staging_or_prod_refuses_the_shipped_placeholders(stack: str) -> None:
    with pytest.raises(Exception) as info:  # the program's RunError, as the Pulumi CLI sees it
        render(stack, REPO, preview=False)
    text = str(info.value)
    assert f"stacks/Pulumi.{stack}.yaml: mlops-platform:clusterAdminPrincipalArns: empty" in text
    if stack == "prod":
        assert "'ml-platform-oncall@example.com' is a placeholder e-mail address" in text


def test_a_real_update_of_dev_goes_ahead_with_warnings(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        graph = render("dev", REPO, preview=False)
    assert graph.of_type("aws:eks/cluster:Cluster")
    assert any("clusterAdminPrincipalArns" in m for m in _messages(caplog))


def test_offline_warnings_reach_stderr() -> None:
    # `mlops plan prod` as a user runs it: the warnings on stderr, the plan alone on stdout.
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from mlops_platform.mlops.cli import main; raise SystemExit(main(['plan', 'prod']))",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "example.com" in result.stderr and "example.com" not in result.stdout
