"""The scheduled support-calendar check (``python -m mlops_platform.mlops.support``) over the shipped stacks, with the
date injected: it passes while every stack's Kubernetes version has more than 60 days of EKS standard
support left and fails from 60 days before the end."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mlops_platform.components.cluster import versions
from mlops_platform.mlops import support

REPO = Path(__file__).resolve().parents[2]
STACKS = ["dev", "prod", "staging"]


def test_every_shipped_stack_is_checked() -> None:
    assert support.stack_names(REPO) == STACKS


def test_the_shipped_stacks_are_in_standard_support_on_the_day_of_the_move() -> None:
    failures, passes = support.check(REPO, dt.date(2026, 12, 1))
    assert failures == []
    assert [line.split(":", 1)[0] for line in passes] == [f"stacks/Pulumi.{s}.yaml" for s in STACKS]
    assert all(versions.DEFAULT_KUBERNETES_VERSION in line for line in passes)


def test_the_check_fails_sixty_days_before_the_end_and_after_it() -> None:
    end = versions.SUPPORT_CALENDAR[versions.DEFAULT_KUBERNETES_VERSION].end_of_standard
    assert support.check(REPO, end - dt.timedelta(days=61))[0] == []
    for day in (end - dt.timedelta(days=60), end, end + dt.timedelta(days=400)):
        failures, passes = support.check(REPO, day)
        assert len(failures) == 3 and passes == []


@pytest.mark.parametrize(("day", "code"), [("2026-12-01", 0), ("2027-06-03", 1), ("2027-08-02", 1)])
def test_exit_codes(day: str, code: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert support.main(["--today", day, "--root", str(REPO)]) == code
    err = capsys.readouterr().err
    assert ("components/cluster/versions.py" in err) == bool(code)


def test_a_stack_that_does_not_validate_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_text(
        (REPO / "Pulumi.yaml").read_text(encoding="utf-8").replace("main: stacks/", f"main: {REPO}/stacks/"),
        encoding="utf-8",
    )
    (tmp_path / "stacks" / "Pulumi.prod.yaml").write_text(
        "config:\n  aws:region: eu-west-1\n  mlops-platform:environment: prod\n"
        '  mlops-platform:clusterKubernetesVersion: "1.99"\n',
        encoding="utf-8",
    )
    assert support.main(["--today", "2026-12-01", "--root", str(tmp_path)]) == 2
    assert "clusterKubernetesVersion" in capsys.readouterr().err
