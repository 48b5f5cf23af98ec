"""mlops_platform.mlops.local.postgres without starting a server: where the binaries are found."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_platform.mlops.local.postgres import find_postgres_bin


def test_postgres_binaries_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("postgres", "initdb"):
        (tmp_path / name).write_text("")
    monkeypatch.setenv("MLOPS_PG_BIN", str(tmp_path))
    assert find_postgres_bin() == tmp_path
