"""components as a library: the public API, its version, and its documentation."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from importlib.metadata import version

import pytest

import components
from mlops import REPO_ROOT


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
        rf"^## \[{re.escape(components.__version__)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", changelog, re.M
    )


def test_all_is_unique_and_lists_exactly_the_lazy_exports() -> None:
    assert len(set(components.__all__)) == len(components.__all__)
    assert set(components.__all__) - {"__version__"} == set(components._EXPORTS)


@pytest.mark.parametrize("name", components.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(components, name) is not None


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
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
    for imported in re.findall(r"^from components import (.+)$", text, re.M):
        for name in (n.strip(" ()") for n in imported.split(",")):
            assert name in components.__all__, name
