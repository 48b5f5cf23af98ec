"""``mlops local`` as a person runs it: start, use the printed URL and credentials, Ctrl-C, nothing left."""

from __future__ import annotations

import base64
import os
import re
import selectors
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def _read_until(proc: subprocess.Popen[bytes], marker: str, timeout: float) -> str:
    """Read the raw pipe (no buffered reader that would hide lines from select) until ``marker``."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    data, deadline = b"", time.monotonic() + timeout
    while marker.encode() not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or proc.poll() is not None:
            raise AssertionError(f"`mlops local` did not print {marker!r}; output so far:\n{data.decode()}")
        if selector.select(timeout=min(remaining, 1.0)):
            data += os.read(fd, 65536)
    selector.close()
    return data.decode()


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(f"{cmdline.parent.name}: {args}")
    return found


def test_mlops_local_serves_until_ctrl_c_and_cleans_up() -> None:
    mlops = Path(sys.executable).parent / "mlops"
    proc = subprocess.Popen(
        [str(mlops), "local", "--port", "0", "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        out = _read_until(proc, "Ctrl-C stops everything", timeout=150)
        url = re.search(r"^MLflow\s+(http://127\.0\.0\.1:\d+)$", out, re.M)
        creds = re.search(r"^credentials\s+(\S+)", out, re.M)
        assert url and creds, out
        credentials_file = Path(creds.group(1))
        assert credentials_file.stat().st_mode & 0o077 == 0
        values = dict(line.split("=", 1) for line in credentials_file.read_text().splitlines())
        assert values["MLFLOW_TRACKING_URI"] == url.group(1)

        request = urllib.request.Request(url.group(1) + "/api/2.0/mlflow/experiments/search?max_results=1")
        token = f"{values['MLFLOW_TRACKING_USERNAME']}:{values['MLFLOW_TRACKING_PASSWORD']}"
        request.add_header("Authorization", "Basic " + base64.b64encode(token.encode()).decode())
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200

        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        rest = proc.communicate(timeout=60)[0].decode()
        assert proc.returncode == 0, rest
        assert "SIGINT: stopped, temporary files removed." in rest
        assert not credentials_file.parent.exists()
        # No PostgreSQL, MLflow or uvicorn worker left (their command lines name the temporary root).
        assert _processes_mentioning(str(credentials_file.parent)) == []
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
