"""MLflow basic-auth users, provisioned through the server's REST API; standard library only.

The platform's MLflow runs the basic-auth app with ``default_permission = NO_PERMISSIONS``: a user sees
nothing it was not granted, and owns (MANAGE) what it creates. A workload that needs MLflow gets a user of
its own, never the admin: :func:`ensure_user` creates it (or sets its password, so re-running it rotates
the credential), as the admin. The reference pipeline's user (``pipelines``) then creates its experiment and
its candidates model itself and so manages exactly those.

This module imports nothing but the standard library, so the same code runs in an in-cluster Job (``python
-c`` from the MLflow image, or a copy of this file) and in ``mlops pipeline run --local``.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

CREATE_PATH = "/api/2.0/mlflow/users/create"
GET_PATH = "/api/2.0/mlflow/users/get"
UPDATE_PASSWORD_PATH = "/api/2.0/mlflow/users/update-password"
#: MLflow refuses shorter passwords.
MIN_PASSWORD_LENGTH = 12
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,255}$")


class MlflowUserError(RuntimeError):
    """The server refused or could not be reached; the message has its status and answer."""


def _call(
    tracking_uri: str, method: str, path: str, auth: tuple[str, str], body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    url = tracking_uri.rstrip("/") + path
    data = None
    if body is not None and method == "GET":
        url += "?" + urllib.parse.urlencode(body)
    elif body is not None:
        data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, _json(response.read())
    except urllib.error.HTTPError as err:
        return err.code, _json(err.read())
    except (urllib.error.URLError, OSError) as err:
        raise MlflowUserError(f"{method} {url}: {err}") from err


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {"message": raw.decode(errors="replace")[:500]}
    return value if isinstance(value, dict) else {"value": value}


def user_exists(tracking_uri: str, admin: tuple[str, str], username: str) -> bool:
    status, answer = _call(tracking_uri, "GET", GET_PATH, admin, {"username": username})
    if status == 200:
        return True
    if status == 404 or answer.get("error_code") == "RESOURCE_DOES_NOT_EXIST":
        return False
    raise MlflowUserError(f"GET {GET_PATH} for {username!r}: {status} {answer}")


def ensure_user(
    tracking_uri: str, admin_username: str, admin_password: str, username: str, password: str
) -> str:
    """Make ``username`` exist with ``password``: created, or its password set. Returns ``"created"`` or
    ``"updated"``. Raises :class:`MlflowUserError` with the server's answer otherwise."""
    if _USERNAME.match(username) is None:
        raise MlflowUserError(f"username {username!r} has characters MLflow does not allow")
    if username == admin_username:
        raise MlflowUserError("a workload's user must not be the admin")
    if len(password) < MIN_PASSWORD_LENGTH or password != password.strip():
        raise MlflowUserError(
            f"the password must be at least {MIN_PASSWORD_LENGTH} characters, no edge spaces"
        )
    admin = (admin_username, admin_password)
    if not user_exists(tracking_uri, admin, username):
        status, answer = _call(
            tracking_uri, "POST", CREATE_PATH, admin, {"username": username, "password": password}
        )
        if status == 200:
            return "created"
        if answer.get("error_code") != "RESOURCE_ALREADY_EXISTS":  # created meanwhile: set the password
            raise MlflowUserError(f"POST {CREATE_PATH} for {username!r}: {status} {answer}")
    status, answer = _call(
        tracking_uri, "PATCH", UPDATE_PASSWORD_PATH, admin, {"username": username, "password": password}
    )
    if status != 200:
        raise MlflowUserError(f"PATCH {UPDATE_PASSWORD_PATH} for {username!r}: {status} {answer}")
    return "updated"


# ---- the in-cluster provisioner (python -P users.py; mlops_platform.components.mlflow.workload_user) --------

PROBE_PATH = "/api/2.0/mlflow/experiments/search"
_SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def password_works(tracking_uri: str, username: str, password: str) -> bool:
    """Whether MLflow accepts ``username``/``password`` (an authenticated search: 401 when it does not)."""
    status, answer = _call(tracking_uri, "GET", PROBE_PATH, (username, password), {"max_results": "1"})
    if status == 401:
        return False
    if status == 200:
        return True
    raise MlflowUserError(f"GET {PROBE_PATH} as {username!r}: {status} {answer}")


def read_secret(namespace: str, name: str, *, api: str, token: str, cafile: str) -> dict[str, str]:
    """The decoded data of the Secret ``namespace/name``, read with the pod's service account."""
    import ssl

    request = urllib.request.Request(
        f"{api}/api/v1/namespaces/{namespace}/secrets/{name}",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    context = ssl.create_default_context(cafile=cafile)
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            data = json.loads(response.read()).get("data") or {}
    except urllib.error.HTTPError as err:
        raise MlflowUserError(f"secret {namespace}/{name}: HTTP {err.code}") from err
    except (urllib.error.URLError, OSError) as err:
        raise MlflowUserError(f"secret {namespace}/{name}: {err}") from err
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def sync(tracking_uri: str, admin: tuple[str, str], username: str, password: str) -> str:
    """``"unchanged"`` when MLflow already accepts the credential, else what :func:`ensure_user` did."""
    if user_exists(tracking_uri, admin, username) and password_works(tracking_uri, username, password):
        return "unchanged"
    return ensure_user(tracking_uri, admin[0], admin[1], username, password)


def main() -> int:
    """Make MLflow's user match the workload's Secret. Environment: ``MLFLOW_TRACKING_URI``,
    ``MLFLOW_ADMIN_USERNAME``/``MLFLOW_ADMIN_PASSWORD`` (from MLflow's own auth Secret),
    ``USER_SECRET_NAMESPACE``/``USER_SECRET_NAME`` (keys ``username``, ``password``), the API server from the pod's
    service variables; ``USER_TOKEN_FILE``/``USER_CA_FILE`` override the service account's files."""
    import os
    import sys

    try:
        env = os.environ
        host, port = env["KUBERNETES_SERVICE_HOST"], env.get("KUBERNETES_SERVICE_PORT", "443")
        api = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
        with open(env.get("USER_TOKEN_FILE", f"{_SA_DIR}/token"), encoding="utf-8") as handle:
            token = handle.read().strip()
        secret = read_secret(
            env["USER_SECRET_NAMESPACE"],
            env["USER_SECRET_NAME"],
            api=api,
            token=token,
            cafile=env.get("USER_CA_FILE", f"{_SA_DIR}/ca.crt"),
        )
        username, password = secret["username"], secret["password"]
        done = sync(
            env["MLFLOW_TRACKING_URI"],
            (env["MLFLOW_ADMIN_USERNAME"], env["MLFLOW_ADMIN_PASSWORD"]),
            username,
            password,
        )
    except KeyError as err:
        print(f"mlflow user sync failed: {err.args[0]} is not set (or not in the Secret)", file=sys.stderr)
        return 1
    except (MlflowUserError, OSError) as err:
        print(f"mlflow user sync failed: {err}", file=sys.stderr)
        return 1
    print(f"mlflow user {username}: {done}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
