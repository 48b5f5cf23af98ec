"""Restart Deployments that read a database password once, at start: run in-cluster after a tenant's rotation.

Argo Workflows' controller and server open the workflow archive with the password they read from their Secret
when they start and never read it again (argoproj/argo-workflows#7575); after the tenant's CronJob rotated it,
new connections would fail until the pods restart. This program does what ``kubectl rollout restart`` does: it
stamps the pod template of each Deployment with the time, so each rolls out new pods (with their replicas'
surge and PodDisruptionBudget).

Standard library only (it runs in the MLflow image, shipped in a ConfigMap like the tenant job). It talks to the
API server as its service account, whose Role allows ``get`` and ``patch`` on exactly these Deployments.

Environment: ``RESTART_NAMESPACE``, ``RESTART_DEPLOYMENTS`` (comma-separated names); the API server from
``KUBERNETES_SERVICE_HOST``/``KUBERNETES_SERVICE_PORT`` (every pod has them); the token and the CA from the
service account's projected volume (``RESTART_TOKEN_FILE``/``RESTART_CA_FILE`` override the paths).
"""

from __future__ import annotations

import datetime
import json
import os
import ssl
import sys
import urllib.error
import urllib.request

ANNOTATION = "mlops.platform/restarted-at"
_SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class RestartError(Exception):
    pass


def _setting(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if not value:
        raise RestartError(f"{name} is not set")
    return value


def restart(namespace: str, name: str, *, api: str, token: str, context: ssl.SSLContext, now: str) -> None:
    """Stamp ``namespace/name``'s pod template with ``now`` (a strategic-merge patch, as kubectl does)."""
    body = json.dumps({"spec": {"template": {"metadata": {"annotations": {ANNOTATION: now}}}}}).encode()
    request = urllib.request.Request(
        f"{api}/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
        data=body,
        method="PATCH",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/strategic-merge-patch+json",
            "Accept": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            response.read()
    except urllib.error.HTTPError as err:
        raise RestartError(f"deployment {namespace}/{name}: HTTP {err.code} {err.read()[:300]!r}") from err
    except urllib.error.URLError as err:
        raise RestartError(f"deployment {namespace}/{name}: {err.reason}") from err


def main() -> int:
    try:
        namespace = _setting("RESTART_NAMESPACE")
        names = [n.strip() for n in _setting("RESTART_DEPLOYMENTS").split(",") if n.strip()]
        host = _setting("KUBERNETES_SERVICE_HOST")
        port = _setting("KUBERNETES_SERVICE_PORT", "443")
        with open(_setting("RESTART_TOKEN_FILE", f"{_SA_DIR}/token"), encoding="utf-8") as handle:
            token = handle.read().strip()
        context = ssl.create_default_context(cafile=_setting("RESTART_CA_FILE", f"{_SA_DIR}/ca.crt"))
        api = f"https://{host}:{port}" if ":" not in host else f"https://[{host}]:{port}"
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        for name in names:
            restart(namespace, name, api=api, token=token, context=context, now=now)
            print(f"restarted deployment {namespace}/{name} at {now}", flush=True)
    except (RestartError, OSError, ssl.SSLError) as err:
        print(f"rollout restart failed: {err}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
