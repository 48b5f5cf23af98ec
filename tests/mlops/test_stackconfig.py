"""Reading project and stack files the way the Pulumi CLI hands config to a program."""

from __future__ import annotations

from pathlib import Path

import pulumi

from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.stackconfig import SECRET_PLACEHOLDER, load_stack


def write_project(root: Path, stack_yaml: str) -> None:
    (root / "Pulumi.yaml").write_text(
        "name: demo\nruntime: python\nmain: app/\nstackConfigDir: stacks\n"
        "config:\n  size:\n    type: integer\n    default: 3\n  flag:\n    type: boolean\n"
    )
    (root / "stacks").mkdir()
    (root / "stacks" / "Pulumi.dev.yaml").write_text(stack_yaml)


def test_values_are_strings_as_pulumi_passes_them(tmp_path: Path) -> None:
    write_project(tmp_path, "config:\n  aws:region: eu-west-1\n  demo:flag: true\n  demo:list: [a, b]\n")
    cfg = load_stack(tmp_path, "dev")
    assert cfg.values == {
        "demo:size": "3",
        "aws:region": "eu-west-1",
        "demo:flag": "true",
        "demo:list": '["a","b"]',
    }
    assert cfg.relpath == "stacks/Pulumi.dev.yaml"
    assert cfg.project.main == tmp_path.resolve() / "app"


def test_secure_values_become_secret_placeholders(tmp_path: Path) -> None:
    write_project(tmp_path, "config:\n  demo:token:\n    secure: v1:abcdef\n  demo:plain: x\n")
    cfg = load_stack(tmp_path, "dev")
    assert cfg.values["demo:token"] == SECRET_PLACEHOLDER
    assert cfg.secret_keys == ["demo:token"]

    seen: dict[str, object] = {}

    def program() -> None:
        conf = pulumi.Config("demo")
        token = conf.require_secret("token")
        seen["plain"] = conf.get("plain")
        pulumi.export("token", token)

    graph = run_callable(program, project="demo", stack="dev", config=cfg.values, secret_keys=cfg.secret_keys)
    assert seen["plain"] == "x"
    assert graph.to_json()["outputs"]["token"] == {"@secret": True}
