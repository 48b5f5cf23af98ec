"""components as a library: the public API, its version, and its documentation."""

from __future__ import annotations

import ast
import dataclasses
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from mlops_platform import components
from mlops_platform.mlops import REPO_ROOT


def test_version_is_the_distribution_version() -> None:
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    declared = re.search(r'^version = "([^"]+)"$', pyproject, re.M)
    assert declared is not None
    assert components.__version__ == version("mlops-platform") == declared.group(1)
    assert re.fullmatch(r"\d+\.\d+\.\d+", components.__version__), "semantic version MAJOR.MINOR.PATCH"


def test_changelog_has_an_entry_for_this_version() -> None:
    changelog = (REPO_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "Keep a Changelog" in changelog
    assert re.search(
        rf"^## \[{re.escape(components.__version__)}\] - \d{{4}}-\d{{2}}-\d{{2}}$",
        changelog,
        re.M,
    )


def _public_block() -> list[ast.ImportFrom]:
    """The statements of components/__init__.py's ``if TYPE_CHECKING:`` block, every one a re-export."""
    source = Path(components.__file__).read_text(encoding="utf-8")
    (block,) = (
        n for n in ast.parse(source).body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"
    )
    statements = [s for s in block.body if isinstance(s, ast.ImportFrom)]
    assert len(statements) == len(block.body)
    return statements


def test_all_is_the_version_and_the_one_block_of_re_exports() -> None:
    statements = _public_block()
    assert components.__all__ == [
        "__version__",
        *(a.name for s in statements for a in s.names),
    ]
    assert len(set(components.__all__)) == len(components.__all__)
    assert {a.name: s.module for s in statements for a in s.names} == components._EXPORTS


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("from mlops_platform.components.keys import Keys", "write `Keys as Keys`"),
        ("from mlops_platform.components.keys import Keys as K", "write `Keys as Keys`"),
        ("import mlops_platform.components.keys", "not `from <module> import ...`"),
    ],
)
def test_a_block_line_of_another_form_is_an_import_error(line: str, error: str) -> None:
    source = f"if TYPE_CHECKING:\n    from mlops_platform.components.iam import irsa_trust_policy as irsa_trust_policy\n    {line}\n"
    with pytest.raises(ImportError, match=re.escape(error)):
        components._exports(source)


@pytest.mark.parametrize("name", components.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(components, name) is not None


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"module 'mlops_platform\.components' has no attribute 'Nope'"):
        _ = components.Nope  # type: ignore[attr-defined]


def test_importing_the_package_loads_no_component_module() -> None:
    code = "import sys, components; print(sorted(m for m in sys.modules if m.startswith('components.')))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def _args_classes() -> list[type]:
    found = []
    for name in components.__all__:
        if name.endswith("Args"):
            try:
                value = getattr(components, name)
            except ModuleNotFoundError:
                continue  # test_every_public_name_resolves reports it
            assert dataclasses.is_dataclass(value), f"{name} should be a dataclass"
            found.append(value)
    return found


@pytest.mark.parametrize("args_class", _args_classes(), ids=lambda c: c.__name__)
def test_every_argument_is_documented(args_class: type) -> None:
    doc = args_class.__doc__ or ""
    assert dataclasses.is_dataclass(args_class)
    assert args_class.__dataclass_params__.frozen, f"{args_class.__name__} should be frozen"  # type: ignore[attr-defined]
    undocumented = [
        f.name for f in dataclasses.fields(args_class) if not re.search(rf"^\s+{f.name}:", doc, re.M)
    ]
    assert not undocumented, f"{args_class.__name__} docstring lacks: {', '.join(undocumented)}"


def test_library_docs_use_public_names_only() -> None:
    text = (REPO_ROOT / "docs" / "library.md").read_text(encoding="utf-8")
    assert f"@v{components.__version__}" in text
    for imported in re.findall(r"^from mlops_platform.components import (.+)$", text, re.M):
        for name in (n.strip(" ()") for n in imported.split(",")):
            assert name in components.__all__, name
