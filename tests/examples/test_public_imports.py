"""examples/team-project is what a team copies: it imports the public API (``from mlops_platform.components import ...``) only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mlops_platform import components
from mlops_platform.mlops import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "team-project"
PUBLIC = "mlops_platform.components"
# The import names before 0.2.0: a copy of an old example would import these.
OLD_NAMES = {"components", "mlops", "policies"}


def non_public_imports(source: str) -> list[str]:
    """Every import of ``source`` that reaches past ``components``' public API, as ``line: what``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [
                f"{node.lineno}: import {a.name}"
                for a in node.names
                if a.name.startswith(f"{PUBLIC}.") or a.name.split(".")[0] in OLD_NAMES
            ]
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and (node.module.startswith(PUBLIC) or node.module.split(".")[0] in OLD_NAMES)
        ):
            if node.module != PUBLIC:
                found.append(f"{node.lineno}: from {node.module} import ...")
            else:
                found += [
                    f"{node.lineno}: {a.name} is not public"
                    for a in node.names
                    if a.name not in components.__all__
                ]
    return found


@pytest.mark.parametrize("path", sorted(EXAMPLE.rglob("*.py")), ids=lambda p: str(p.relative_to(EXAMPLE)))
def test_example_imports_public_names_only(path: Path) -> None:
    assert non_public_imports(path.read_text(encoding="utf-8")) == []


def test_the_check_catches_module_paths_and_private_names() -> None:
    source = (
        "import mlops_platform.components.iam\n"
        "from mlops_platform.components.iam import irsa_trust_policy\n"
        "from mlops_platform.components import ArtifactStore, _EXPORTS\n"
        "from mlops_platform.components.platform import config\n"
        "from components import ArtifactStore\n"
    )
    assert non_public_imports(source) == [
        "1: import mlops_platform.components.iam",
        "2: from mlops_platform.components.iam import ...",
        "3: _EXPORTS is not public",
        "4: from mlops_platform.components.platform import ...",
        "5: from components import ...",
    ]
