"""The MLflow pod's metrics exporter: MLflow's own Prometheus metrics, behind the scrape credential only.

Standalone on purpose (the standard library and ``prometheus_client``, which the MLflow image has): the
ModelRegistry runs this file's source with the image's ``python -c`` as a second container of the MLflow pod
(:func:`components.mlflow_metrics.exporter_spec`), and the end-to-end test runs the same command next to the
local MLflow server.

Why not MLflow's own ``/metrics``: MLflow's basic-auth app denies every route it has no authorization rule
for to every non-admin user (``MLFLOW_BASIC_AUTH_FAIL_CLOSED``, on by default), and ``/metrics`` has none,
so only an admin can scrape it - and an admin reads every experiment and model and manages users. This
exporter reads the very files MLflow's exporter serves from (prometheus_client's multiprocess directory on
the pod's ``/tmp`` emptyDir) and answers ``/metrics`` to the one scrape credential, which is not an MLflow
user at all. It holds only the SHA-256 of the scrape password (the password itself stays in the Secret
Prometheus reads) and re-reads both files at every request, so a rotated credential applies as soon as the
kubelet refreshes the mounted Secret.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import http.server
import sys
from pathlib import Path

USERNAME_FILE = "username"
PASSWORD_SHA256_FILE = "password.sha256"


def check_credentials(header: str | None, credentials_dir: Path) -> bool:
    """True when ``header`` (an ``Authorization`` value) carries the scrape credential of ``credentials_dir``."""
    if not header or not header.startswith("Basic "):
        return False
    try:
        decoded = base64.b64decode(header[len("Basic ") :].strip(), validate=True).decode("utf-8")
        expected_user = (credentials_dir / USERNAME_FILE).read_text().strip()
        expected_sha = (credentials_dir / PASSWORD_SHA256_FILE).read_text().strip().lower()
    except (binascii.Error, UnicodeDecodeError, OSError):
        return False
    user, sep, password = decoded.partition(":")
    if not sep or not expected_user or len(expected_sha) != 64:
        return False
    sha = hashlib.sha256(password.encode("utf-8")).hexdigest()
    # Both comparisons always run: the answer's timing does not say which part was wrong.
    user_ok = hmac.compare_digest(user.encode("utf-8"), expected_user.encode("utf-8"))
    password_ok = hmac.compare_digest(sha.encode("ascii"), expected_sha.encode("ascii"))
    return user_ok and password_ok


def render_metrics(multiproc_dir: Path) -> tuple[bytes, str]:
    """The metrics MLflow's workers wrote to ``multiproc_dir``, in the text exposition format."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(multiproc_dir))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def make_handler(
    *, multiproc_dir: Path, credentials_dir: Path, metrics_path: str, health_path: str
) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "mlflow-metrics"
        sys_version = ""

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == health_path:
                self._answer(200, b"OK", "text/plain; charset=utf-8")
            elif path != metrics_path:
                self._answer(404, b"not found", "text/plain; charset=utf-8")
            elif not check_credentials(self.headers.get("Authorization"), credentials_dir):
                self._answer(401, b"authentication required", "text/plain; charset=utf-8", challenge=True)
            else:
                body, content_type = render_metrics(multiproc_dir)
                self._answer(200, body, content_type)

        def _answer(self, status: int, body: bytes, content_type: str, *, challenge: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if challenge:
                self.send_header("WWW-Authenticate", 'Basic realm="mlflow-metrics"')
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            # Only refusals are worth a line: a scrape every 30 s would flood the log otherwise.
            if len(args) >= 2 and str(args[1]) in ("401", "404"):
                sys.stderr.write(f"{self.address_string()} {format % args}\n")

    return Handler


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mlflow-metrics-exporter")
    parser.add_argument("--bind", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--multiproc-dir", type=Path, required=True)
    parser.add_argument("--credentials-dir", type=Path, required=True)
    parser.add_argument("--metrics-path", default="/metrics")
    parser.add_argument("--health-path", default="/healthz")
    args = parser.parse_args(argv)
    handler = make_handler(
        multiproc_dir=args.multiproc_dir,
        credentials_dir=args.credentials_dir,
        metrics_path=args.metrics_path,
        health_path=args.health_path,
    )
    server = http.server.ThreadingHTTPServer((args.bind, args.port), handler)
    server.daemon_threads = True
    sys.stderr.write(f"mlflow-metrics-exporter on {args.bind}:{args.port}\n")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
