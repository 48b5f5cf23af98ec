"""The runbooks say what the code does: ESO refresh and rotation commands against the rendered
ExternalSecrets, and the "where versions live" table against the modules it names."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from mlops_platform.mlops.engine import render
from mlops_platform.mlops.graph import reveal

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FORCE_SYNC = re.compile(
    r"kubectl(?: -n (?P<ns1>[\w-]+))? annotate (?:externalsecret|es)(?: -n (?P<ns2>[\w-]+))? (?P<name>[\w-]+)"
    r"(?: -n (?P<ns3>[\w-]+))? force-sync"
)


@pytest.fixture(scope="module")
def external_secrets() -> dict[tuple[str, str], dict[str, Any]]:
    graph = render("prod", REPO)
    found = {}
    for res in graph.of_type("kubernetes:external-secrets.io/v1:ExternalSecret"):
        inputs = reveal(res.inputs)
        meta = inputs.get("metadata") or {}
        found[(meta.get("namespace"), meta.get("name"))] = inputs.get("spec") or {}
    assert found, "no ExternalSecret rendered"
    return found


def doc_texts() -> list[tuple[str, str]]:
    return [(p.relative_to(REPO).as_posix(), p.read_text(encoding="utf-8")) for p in DOCS]


def test_force_sync_is_only_advised_where_eso_honours_it(external_secrets: dict) -> None:
    advised = []
    for path, text in doc_texts():
        for m in FORCE_SYNC.finditer(text):
            ns = m.group("ns1") or m.group("ns2") or m.group("ns3")
            key = (ns, m.group("name"))
            assert key in external_secrets, (
                f"{path}: {m.group(0)} names no ExternalSecret the platform creates"
            )
            policy = external_secrets[key].get("refreshPolicy", "Periodic")
            assert policy != "CreatedOnce", (
                f"{path}: {m.group(0)}: ESO never refreshes a CreatedOnce ExternalSecret on force-sync; "
                "delete the target Secret instead"
            )
            advised.append(key)
    assert advised, "the runbooks should still show how to force a refresh of a Periodic ExternalSecret"


def test_documented_refresh_intervals_match_the_code(external_secrets: dict) -> None:
    names = {name: spec for (_, name), spec in external_secrets.items()}
    checked = 0
    for path, text in doc_texts():
        for paragraph in re.split(r"\n\s*\n|\|", text):
            intervals = re.findall(r"refreshInterval: (\w+)", paragraph)
            mentioned = [n for n in names if f"`{n}`" in paragraph]
            if not intervals or len(mentioned) != 1:
                continue
            spec = names[mentioned[0]]
            for value in intervals:
                assert value == spec.get("refreshInterval"), (
                    f"{path}: `{mentioned[0]}` refreshInterval {value}"
                )
                checked += 1
    assert checked >= 2
    for _, text in doc_texts():
        assert "every 15 minutes" not in text, "no ExternalSecret refreshes every 15 minutes"


def module_constants(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        out |= {t.id for t in targets if isinstance(t, ast.Name)}
    return out


def test_version_table_names_the_modules_that_pin_them() -> None:
    text = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    section = text.split("## 2. Upgrading Kubernetes and add-ons", 1)[1].split("\n## ", 1)[0]
    pairs = re.findall(r"`([A-Z][A-Z0-9_]+)` in `(components/[\w/]+\.py)`", section)
    assert len(pairs) >= 5
    for const, module in pairs:
        assert const in module_constants(REPO / module), f"operations.md: {const} is not defined in {module}"
