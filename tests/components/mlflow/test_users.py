"""components/mlflow/users.py without a server: what it refuses before any request (the server side is
tests/e2e/test_pipeline_local.py)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from mlops_platform.components.mlflow import users
from mlops_platform.components.mlflow.users import MlflowUserError, ensure_user

URL = "http://127.0.0.1:9"  # nothing listens: a request would fail differently


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("admin", "long-enough-password", "must not be the admin"),
        ("pipe lines", "long-enough-password", "characters MLflow does not allow"),
        ("pipelines", "short", "at least 12 characters"),
        ("pipelines", " padded-password ", "no edge spaces"),
    ],
)
def test_bad_users_are_refused_before_any_request(username: str, password: str, message: str) -> None:
    with pytest.raises(MlflowUserError, match=message):
        ensure_user(URL, "admin", "admin-password-0123", username, password)


def test_an_unreachable_server_is_one_error() -> None:
    with pytest.raises(MlflowUserError, match=re.escape("GET http://127.0.0.1:9/api/2.0/mlflow/users/get")):
        ensure_user(URL, "admin", "admin-password-0123", "pipelines", "pipelines-password-0123")


def test_the_module_needs_only_the_standard_library() -> None:
    """It runs in an in-cluster Job from any Python image: no third-party import."""
    import sys

    tree = ast.parse(Path(users.__file__).read_text())
    modules = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(name=node.module or "")])
    }
    assert modules <= set(sys.stdlib_module_names) | {"__future__"}, modules
