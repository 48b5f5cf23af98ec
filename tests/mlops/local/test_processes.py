"""mlops_platform.mlops.local.processes: passwords, ports, one-shot steps and the option replacement the specs go through."""

from __future__ import annotations

import re
import socket
import sys
from pathlib import Path

import pytest

from mlops_platform.mlops.local.processes import (
    LOOPBACK,
    URI_SPECIAL,
    LocalPlatformError,
    free_port,
    random_password,
    replace_option,
    run_step,
)


def test_database_password_has_every_uri_special_character() -> None:
    password = random_password(uri_special=True)
    assert set(URI_SPECIAL) <= set(password)
    assert len(random_password()) == 24


def test_free_port_can_be_bound_on_loopback() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, free_port()))


def test_replace_option_checks_the_value_it_replaces() -> None:
    args = ["--host", "0.0.0.0", "--port", "5000"]
    replace_option(args, "--port", "5000", "40123")
    assert args == ["--host", "0.0.0.0", "--port", "40123"]
    with pytest.raises(LocalPlatformError, match=re.escape("--host is '0.0.0.0', expected '::'")):
        replace_option(args, "--host", "::", "127.0.0.1")
    with pytest.raises(LocalPlatformError, match="no --workers argument"):
        replace_option(args, "--workers", "2", "1")


def test_run_step_records_command_environment_and_output(tmp_path: Path) -> None:
    code = "import os, sys; print(os.environ['STEP']); sys.exit(3)"
    run = run_step("probe", [sys.executable, "-c", code], env={"STEP": "hello"}, cwd=tmp_path)
    assert (run.name, run.returncode, run.output.strip()) == ("probe", 3, "hello")
    assert run.env == {"STEP": "hello"}
