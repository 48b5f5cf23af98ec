"""The plumbing of ``mlops local``: child processes in their own session, one-shot steps, ports, passwords."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

LOOPBACK = "127.0.0.1"
#: Characters that break a password embedded in a URI; the local database password always has them.
URI_SPECIAL = "@:/?#%&+ "


class LocalPlatformError(RuntimeError):
    """A local server did not start; the message says which and why (with its log's tail)."""


def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def random_password(length: int = 24, *, uri_special: bool = False) -> str:
    alphabet = string.ascii_letters + string.digits
    body = "".join(secrets.choice(alphabet) for _ in range(length))
    return f"{body[:8]}{URI_SPECIAL}{body[8:]}" if uri_special else body


def venv_path() -> str:
    """``PATH`` as the image has it: this interpreter's virtualenv first."""
    return f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"


def make_root(prefix: str = "mlops-local-") -> Path:
    root = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        # The unprivileged PostgreSQL user must traverse it (not list it).
        root.chmod(0o711)
    return root


@dataclass
class Process:
    """A child process in its own session, with its output in a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    @classmethod
    def start(
        cls,
        name: str,
        argv: list[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path,
        user: int | None = None,
        group: int | None = None,
    ) -> Process:
        log_file = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        try:
            popen = subprocess.Popen(
                argv,
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user,
                group=group,
                extra_groups=[] if user is not None else None,
            )
        except BaseException:
            log_file.close()
            raise
        return cls(name, popen, log_path, log_file)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def group_alive(self) -> bool:
        """Whether any process of the group this process leads still exists."""
        try:
            os.killpg(self.popen.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def log_tail(self, lines: int = 40) -> str:
        self.log_file.flush()
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        """Ask the process to stop, wait, then kill its whole process group (it leads its own session)."""
        try:
            if self.alive():
                with contextlib.suppress(ProcessLookupError):
                    self.popen.send_signal(sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(timeout=timeout)
            # Its children (uvicorn workers, postgres backends) share the group it leads.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=10)
            # Killed orphans are reaped by init a moment later; return once the group is empty.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.group_alive():
                time.sleep(0.05)
        finally:
            self.log_file.close()


@dataclass(frozen=True)
class StepRun:
    """One command run to completion (a Job's container, locally): its argv, environment and result."""

    name: str
    argv: list[str]
    env: dict[str, str]
    returncode: int
    output: str


def run_step(
    name: str, argv: list[str], *, env: Mapping[str, str], cwd: Path, timeout: float = 300.0
) -> StepRun:
    done = subprocess.run(
        argv, env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    return StepRun(name, list(argv), dict(env), done.returncode, done.stdout + done.stderr)


def replace_option(args: list[str], option: str, expected: str, value: str) -> None:
    """Replace ``option``'s value in ``args`` (in place), refusing a spec whose value is not ``expected``."""
    try:
        index = args.index(option)
    except ValueError:
        raise LocalPlatformError(f"the server spec has no {option} argument") from None
    if args[index + 1] != expected:
        raise LocalPlatformError(f"the server spec's {option} is {args[index + 1]!r}, expected {expected!r}")
    args[index + 1] = value
