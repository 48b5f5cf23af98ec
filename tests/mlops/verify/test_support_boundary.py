"""The verify tests' helpers are test support: they live under tests/, and the product never imports them."""

from __future__ import annotations

import ast
from pathlib import Path

import verify_kit

from mlops_platform.mlops import REPO_ROOT


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_kit_is_under_tests_and_no_product_module_imports_it():
    assert Path(verify_kit.__file__).resolve().parent == REPO_ROOT / "tests" / "support"
    assert not (REPO_ROOT / "mlops" / "verify" / "testkit.py").exists()
    offenders = sorted(
        str(path.relative_to(REPO_ROOT))
        for package in ("mlops", "components", "policies")
        for path in (REPO_ROOT / package).rglob("*.py")
        if {"verify_kit", "mlops_platform.mlops.verify.testkit"} & _imported_modules(path)
    )
    assert offenders == []
