"""mlops_platform.mlops.local.command without starting anything: what ``mlops local`` says when the e2e extra is missing."""

from __future__ import annotations

import importlib.util
import io

import pytest

from mlops_platform.mlops.local import command


def test_a_missing_extra_is_named_and_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "psycopg2" else real(name))
    out, err = io.StringIO(), io.StringIO()
    assert command.run(out=out, err=err) == 2
    assert err.getvalue().startswith("mlops local needs psycopg2: install the e2e extra")
    assert out.getvalue() == ""


def test_the_cli_runs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import mlops_platform.mlops.local
    from mlops_platform.mlops.cli import main

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(mlops_platform.mlops.local, "run", lambda **kw: calls.append(kw) or 0)
    assert main(["local", "--port", "0", "--workers", "1"]) == 0
    assert calls == [{"port": 0, "workers": 1}]
