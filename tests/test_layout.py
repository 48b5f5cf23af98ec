"""The layout stays one that grows (issue 12): short functions, files under 800 lines, few modules per room,
building blocks that know no platform config, no test kit in the product, every package installed."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from mlops_platform.mlops import REPO_ROOT

PRODUCT = ("components", "mlops", "policies")
MAX_FUNCTION_LINES = 120
MAX_FILE_LINES = 800
MAX_TOP_LEVEL_MODULES = 14


def sources(*roots: str) -> list[Path]:
    return sorted(p for root in roots for p in (REPO_ROOT / root).rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


# The syntax trees are read in a fresh interpreter: CPython 3.11's ast.parse can raise "SystemError: AST
# constructor recursion depth mismatch" late in a long pytest session (its recursion bookkeeping goes stale).
_SCAN = """
import ast, json, sys
from pathlib import Path
out = {}
for name in sys.argv[1:]:
    functions, imports = [], []
    for node in ast.walk(ast.parse(Path(name).read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions.append([node.name, node.lineno, (node.end_lineno or node.lineno) - node.lineno + 1])
        elif isinstance(node, ast.ImportFrom) and node.module:
            imports.append(node.module)
        elif isinstance(node, ast.Import):
            imports.extend(a.name for a in node.names)
    out[name] = {"functions": functions, "imports": imports}
print(json.dumps(out))
"""


@functools.cache
def scanned() -> dict[str, dict[str, list]]:
    """Every product file's functions (name, line, length) and imported modules, by path."""
    paths = [str(p) for p in sources(*PRODUCT)]
    done = subprocess.run(
        [sys.executable, "-c", _SCAN, *paths], capture_output=True, text=True, timeout=300, check=True
    )
    return json.loads(done.stdout)


def test_no_function_in_components_is_longer_than_120_lines() -> None:
    long = [
        f"{rel(Path(path))}:{line} {name}: {length} lines"
        for path, found in scanned().items()
        if rel(Path(path)).startswith("components/")
        for name, line, length in found["functions"]
        if length > MAX_FUNCTION_LINES
    ]
    assert not long, "\n".join(long)


@pytest.mark.parametrize("root", PRODUCT)
def test_no_product_file_reaches_800_lines(root: str) -> None:
    big = [
        f"{rel(p)}: {n}"
        for p in sources(root)
        if (n := len(p.read_text(encoding="utf-8").splitlines())) >= MAX_FILE_LINES
    ]
    assert not big, "\n".join(big)


def test_components_has_at_most_14_modules_at_its_top() -> None:
    modules = sorted(p.name for p in (REPO_ROOT / "components").glob("*.py"))
    assert len(modules) <= MAX_TOP_LEVEL_MODULES, modules


def _imports(path: Path) -> set[str]:
    return set(scanned()[str(path)]["imports"])


def test_building_blocks_do_not_import_the_platform() -> None:
    """Only components/platform/ (the wiring) reads the platform's config; building blocks take plain values."""
    offenders = [
        f"{rel(p)} imports {m}"
        for p in sources("components")
        if not rel(p).startswith("components/platform/") and rel(p) != "components/__init__.py"
        for m in _imports(p)
        if m.startswith("mlops_platform.components.platform") or m == "pydantic" or m.startswith("pydantic.")
    ]
    assert not offenders, "\n".join(offenders)


def test_the_product_holds_no_test_kit() -> None:
    offenders = [
        f"{rel(p)} imports {m}"
        for p in sources(*PRODUCT)
        for m in _imports(p)
        if m.split(".")[0] in {"pytest", "hypothesis"}
        or m.startswith("policytest")
        or m.startswith("verify_kit")
    ]
    assert not offenders, "\n".join(offenders)


def test_the_policy_pack_loads_without_the_config_schema() -> None:
    """The pack imports governance facts from mlops_platform.components.governance, never pydantic or the schema."""
    code = (
        "import sys, mlops_platform.policies.rules; "
        "bad = [m for m in sys.modules if m == 'pydantic' or m.startswith('mlops_platform.components.platform')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_package_folder_is_installed() -> None:
    """pyproject.toml lists the packages under their import names: a new sub-package must be added there."""
    listed = set(tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {
        "mlops_platform." + init.parent.relative_to(REPO_ROOT).as_posix().replace("/", ".")
        for root in PRODUCT
        for init in (REPO_ROOT / root).rglob("__init__.py")
    }
    assert listed == folders
