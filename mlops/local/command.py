"""``mlops local``: the platform's MLflow server on this machine, until Ctrl-C.

Starts what the end-to-end test starts (:func:`mlops_platform.mlops.local.platform.local_platform`): PostgreSQL with TLS (a CA
made for the run), an S3 and Secrets Manager server (moto) with the artifact bucket, the database tenant job
and the schema migration, and the MLflow server with the platform's command, arguments and environment. Prints
the URL and the credentials file, then waits. SIGINT or SIGTERM stops all three and removes every temporary
directory, the credentials file included.
"""

from __future__ import annotations

import importlib.util
import signal
import sys
import time
from types import FrameType
from typing import TextIO

from mlops_platform.mlops.local.platform import LocalPlatform, local_platform
from mlops_platform.mlops.local.processes import LocalPlatformError

#: What ``mlops local`` needs beyond the core install (the e2e extra).
EXTRA_MODULES = ("mlflow", "psycopg2", "moto.server")


class _Stop(BaseException):
    """Raised by the signal handler so that start-up and the wait loop unwind through their cleanup."""


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    # A second Ctrl-C must not interrupt the cleanup the first one started.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Stop(signal.Signals(signum).name)


def missing_extra() -> str | None:
    """The first top-level module of :data:`EXTRA_MODULES` that is not installed, if any."""
    for module in EXTRA_MODULES:
        if importlib.util.find_spec(module.split(".")[0]) is None:
            return module.split(".")[0]
    return None


def _print_banner(platform: LocalPlatform, out: TextIO) -> None:
    credentials = platform.write_credentials()
    print(
        f"\nMLflow        {platform.url}\n"
        f"credentials   {credentials}  (MLFLOW_TRACKING_URI / _USERNAME / _PASSWORD; "
        f"`set -a; . {credentials}; set +a`)\n"
        f"PostgreSQL    {platform.pg.host}:{platform.pg.port} (TLS, verify-full against "
        f"{platform.pg.ca_file}), database {platform.pg.db_name}, role {platform.pg.user} "
        "(made by the database tenant job)\n"
        f"S3 (moto)     {platform.s3.endpoint}, bucket {platform.s3.bucket}\n"
        f"logs          {platform.root}/mlflow.log, {platform.root}/postgres.log\n"
        "\nCtrl-C stops everything and removes all of it.",
        file=out,
        flush=True,
    )


def _wait_while_alive(platform: LocalPlatform, err: TextIO) -> int:
    """Wait until MLflow or PostgreSQL exits (1, with its log's tail); a signal interrupts it (:class:`_Stop`)."""
    while True:
        for name, process in (("mlflow", platform.mlflow.process), ("postgres", platform.pg.process)):
            if not process.alive():
                print(f"{name} exited ({process.popen.returncode}):\n{process.log_tail()}", file=err)
                return 1
        time.sleep(0.5)


def run(
    *, port: int | None = 5000, workers: int = 2, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    """Run the trio until a signal; 0 on a clean stop, 1 if something failed or died, 2 if MLflow is missing."""
    missing = missing_extra()
    if missing is not None:
        print(
            f"mlops local needs {missing}: install the e2e extra (`pip install -e '.[dev,e2e]'`, or `make venv`)",
            file=err,
        )
        return 2
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    status = 0
    try:
        print("starting PostgreSQL (TLS), S3 (moto) and MLflow ...", file=out, flush=True)
        with local_platform(port=port or None, workers=workers) as platform:
            _print_banner(platform, out)
            status = _wait_while_alive(platform, err)
    except _Stop as stop:
        print(f"\n{stop.args[0]}: stopped, temporary files removed.", file=out, flush=True)
    except LocalPlatformError as error:
        print(f"mlops local: {error}", file=err)
        status = 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status
