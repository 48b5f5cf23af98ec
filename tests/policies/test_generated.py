"""Files generated from the rule catalogue stay in step with it; the pack matches the catalogue."""

from __future__ import annotations

import json

from mlops_platform.mlops import REPO_ROOT, policytools
from mlops_platform.policies.pack import build_policies
from mlops_platform.policies.rules import RULES
from mlops_platform.policies.rules.catalogue import CATALOGUE


def test_generated_files_are_up_to_date() -> None:
    assert policytools.stale(REPO_ROOT) == [], "run `mlops policy-config --write`"


def test_every_rule_has_catalogue_metadata_and_vice_versa() -> None:
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    assert list(CATALOGUE) == names
    assert [p.name for p in build_policies()] == names
    for name, meta in CATALOGUE.items():
        assert meta.severity in ("low", "medium", "high", "critical"), name
        assert meta.remediation and meta.description, name
        assert meta.level("prod") == "mandatory", name
        assert all(level in ("advisory", "mandatory") for level in meta.enforcement), name


def test_configs_are_pulumi_policy_pack_configs() -> None:
    for env in ("dev", "staging", "prod"):
        config = json.loads((REPO_ROOT / "policies" / "config" / f"{env}.json").read_text())
        assert set(config) == set(CATALOGUE)
        for name, entry in config.items():
            assert entry["enforcementLevel"] == CATALOGUE[name].level(env)
            assert entry["environment"] == env
    dev = json.loads((REPO_ROOT / "policies" / "config" / "dev.json").read_text())
    assert dev["k8s-probes"]["enforcementLevel"] == "advisory"
    assert dev["rds-not-public"]["enforcementLevel"] == "mandatory"


def test_readme_table_lists_every_rule() -> None:
    text = (REPO_ROOT / "policies" / "README.md").read_text()
    table = text.split(policytools.BEGIN, 1)[1].split(policytools.END, 1)[0]
    for name in CATALOGUE:
        assert f"| `{name}` |" in table


def test_pulumi_policy_yaml() -> None:
    import yaml

    data = yaml.safe_load((REPO_ROOT / "policies" / "PulumiPolicy.yaml").read_text())
    assert data["runtime"]["name"] == "python"
    assert data["version"] == "0.1.0" and data["description"]
    assert (
        REPO_ROOT / "policies" / data["runtime"]["options"]["virtualenv"]
    ).resolve() == REPO_ROOT / ".venv"


def test_main_only_builds_the_pack() -> None:
    import ast

    tree = ast.parse((REPO_ROOT / "policies" / "__main__.py").read_text())
    calls = [n.value for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)]
    # The fast servicer is installed here, explicitly, then the pack is built: nothing else runs.
    names = [c.func.id for c in calls if isinstance(c.func, ast.Name)]
    assert names == ["install_fast_servicer", "PolicyPack"] and len(calls) == 2
    assert not [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]
