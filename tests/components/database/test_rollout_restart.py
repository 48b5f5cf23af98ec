"""The rollout restart after a password rotation: the program run as a process against a local HTTPS stand-in
for the API server (what it sends, that it verifies the server, that it fails loudly), and the CronJob, Role
and pod the component renders."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from compute_support import plain, render_platform

from mlops_platform.components.database.restart_job import ANNOTATION
from mlops_platform.components.database.rollout_restart import RESTART_SCRIPT_SOURCE, restart_env
from mlops_platform.mlops.local.tls import LocalCA

TOKEN = "test-token-not-a-secret"


class _ApiServer(BaseHTTPRequestHandler):
    calls: list[dict[str, Any]]
    status: int = 200

    def do_PATCH(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).calls.append(
            {
                "path": self.path,
                "auth": self.headers["Authorization"],
                "type": self.headers["Content-Type"],
                "body": json.loads(body),
            }
        )
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture()
def api(tmp_path: Path) -> Iterator[tuple[ThreadingHTTPServer, LocalCA, type[_ApiServer]]]:
    ca = LocalCA.create(tmp_path / "ca")
    ca.issue_server_certificate(tmp_path, ("localhost", "127.0.0.1"), None, None)
    handler = type("Handler", (_ApiServer,), {"calls": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "server.crt", tmp_path / "server.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, ca, handler
    finally:
        server.shutdown()
        server.server_close()


def run_program(
    server: ThreadingHTTPServer, ca_file: Path, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    env = {
        "PATH": os.environ["PATH"],
        **restart_env("argo", ["argo-workflows-workflow-controller", "argo-workflows-server"]),
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(server.server_address[1]),
        "RESTART_TOKEN_FILE": str(token),
        "RESTART_CA_FILE": str(ca_file),
    }
    return subprocess.run(
        [sys.executable, "-P", str(RESTART_SCRIPT_SOURCE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_stamps_each_deployment_as_kubectl_rollout_restart_does(api: Any, tmp_path: Path) -> None:
    server, ca, handler = api
    done = run_program(server, ca.ca_file, tmp_path)
    assert done.returncode == 0, done.stderr
    assert [c["path"] for c in handler.calls] == [
        "/apis/apps/v1/namespaces/argo/deployments/argo-workflows-workflow-controller",
        "/apis/apps/v1/namespaces/argo/deployments/argo-workflows-server",
    ]
    for call in handler.calls:
        assert call["auth"] == f"Bearer {TOKEN}"
        assert call["type"] == "application/strategic-merge-patch+json"
        (stamp,) = call["body"]["spec"]["template"]["metadata"]["annotations"].values()
        assert list(call["body"]["spec"]["template"]["metadata"]["annotations"]) == [ANNOTATION]
        assert stamp.endswith("Z")
    assert "restarted deployment argo/argo-workflows-server" in done.stdout


def test_it_refuses_a_server_it_cannot_verify(api: Any, tmp_path: Path) -> None:
    server, _, handler = api
    other = LocalCA.create(tmp_path / "other")
    done = run_program(server, other.ca_file, tmp_path)
    assert done.returncode == 1
    assert "CERTIFICATE_VERIFY_FAILED" in done.stderr
    assert handler.calls == []


def test_it_fails_when_the_api_refuses(api: Any, tmp_path: Path) -> None:
    server, ca, handler = api
    handler.status = 403
    done = run_program(server, ca.ca_file, tmp_path)
    assert done.returncode == 1
    assert "HTTP 403" in done.stderr and "argo-workflows-workflow-controller" in done.stderr
    assert len(handler.calls) == 1


def test_the_platform_restarts_argo_after_the_archive_password_rotates() -> None:
    g, _ = render_platform("prod")
    (cron,) = [
        r
        for r in g.of_type("kubernetes:batch/v1:CronJob")
        if plain(r, "metadata")["name"] == "archive-password-restart"
    ]
    rotation = [
        r
        for r in g.of_type("kubernetes:batch/v1:CronJob")
        if r.name == "mlops-prod-pipelines-archive-db-rotate"
    ]
    (rotate,) = rotation
    restart_at, rotate_at = plain(cron, "spec")["schedule"].split(), plain(rotate, "spec")["schedule"].split()
    assert restart_at[1:] == rotate_at[1:] and int(restart_at[0]) > int(rotate_at[0])
    (role,) = [
        r
        for r in g.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role")
        if plain(r, "metadata")["name"] == "archive-password-restart"
    ]
    (rule,) = plain(role, "rules")
    assert rule["resources"] == ["deployments"] and rule["verbs"] == ["get", "patch"]
    assert rule["resourceNames"] == ["argo-workflows-workflow-controller", "argo-workflows-server"]
    pod = plain(cron, "spec")["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "archive-password-restart"
    assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
