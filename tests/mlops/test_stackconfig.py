"""Reading project and stack files the way the Pulumi CLI hands config to a program."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pytest

from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.stackconfig import SECRET_PLACEHOLDER, StackFileError, load_stack


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


# --- YAML as the Pulumi CLI reads it (issue 13, item 8) -------------------------------------------------


@pytest.mark.parametrize(
    ("yaml_value", "handed"),
    [
        ("yes", "yes"),  # PyYAML's YAML 1.1 would say True
        ("on", "on"),
        ("0x3", "0x3"),  # not 3
        ("1.30", "1.30"),  # not 1.3
        ("017", "017"),
        ("1_000", "1_000"),
        ("2001-12-14", "2001-12-14"),  # not a date
        ("true", "true"),
        ("'quoted text'", "quoted text"),
        ('"1.30"', "1.30"),
        ("!!str 3", "3"),
        ("|\n    two\n    lines", "two\nlines\n"),
    ],
)
def test_a_top_level_scalar_is_handed_as_its_source_text(
    tmp_path: Path, yaml_value: str, handed: str
) -> None:
    write_project(tmp_path, f"config:\n  demo:v: {yaml_value}\n")
    assert load_stack(tmp_path, "dev").values["demo:v"] == handed


def test_arrays_and_objects_are_json_with_yaml_1_2_scalars(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        "config:\n"
        "  demo:list: [yes, 0x3, 0o17, 017, 1.30, '1.30', 1_000, 2001-12-14, true, False, ~, -4, !!str 3, x]\n"
        "  demo:obj:\n    a: {b: [1e3, .5]}\n    c: null\n",
    )
    values = load_stack(tmp_path, "dev").values
    assert json.loads(values["demo:list"]) == [
        "yes", 3, 15, 15, 1.3, "1.30", 1000, "2001-12-14", True, False, None, -4, "3", "x"
    ]  # fmt: skip
    assert values["demo:list"].startswith('["yes",3,15,15,1.3,"1.30",1000,')
    assert values["demo:obj"] == '{"a":{"b":[1000.0,0.5]},"c":null}'


@pytest.mark.parametrize("empty", ["~", "null", "", "Null"])
def test_a_key_without_a_value_is_refused(tmp_path: Path, empty: str) -> None:
    write_project(tmp_path, f"config:\n  demo:owner: {empty}\n  demo:other: ''\n")
    with pytest.raises(StackFileError) as err:
        load_stack(tmp_path, "dev")
    (line,) = err.value.lines
    assert "Pulumi.dev.yaml (line 2): demo:owner: has no value" in line
    assert repr(empty) in line if empty else "nothing after the colon" in line


def test_duplicate_keys_are_refused_at_every_level(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        "config:\n  demo:a: 1\n  demo:obj:\n    x: 1\n    x: 2\n  demo:a: 2\n  a: 3\nconfig: {}\n",
    )
    with pytest.raises(StackFileError) as err:
        load_stack(tmp_path, "dev")
    lines = err.value.lines
    assert len(lines) == 4, lines
    for expected in (
        "'config' is written twice (lines 1 and 8)",
        "'x' is written twice (lines 4 and 5)",
        "'demo:a' is written twice (lines 2 and 6)",
        "(line 7): 'a' and 'demo:a' (line 2) are the same key demo:a",
    ):
        assert sum(expected in line for line in lines) == 1, (expected, lines)


def test_a_duplicate_in_the_project_file_is_refused(tmp_path: Path) -> None:
    write_project(tmp_path, "config: {}\n")
    (tmp_path / "Pulumi.yaml").write_text("name: demo\nruntime: python\nname: other\n")
    with pytest.raises(StackFileError, match=r"Pulumi.yaml \(line 3\): 'name' is written twice"):
        load_stack(tmp_path, "dev")


def test_misplaced_top_level_keys_are_named(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        "confg:\n  demo:a: 1\n  b: 2\ndemo:size: 4\nflag: true\nsecretsprovider: passphrase\n"
        "environment: [team/dev]\nbogus: 1\n",
    )
    with pytest.raises(StackFileError) as err:
        load_stack(tmp_path, "dev")
    lines = err.value.lines
    assert len(lines) == 4, lines
    assert "(line 1): 'confg' is not a stack file key: did you mean `config:`? The keys under it are not " \
        "read: demo:a, b" in lines[0]  # fmt: skip
    assert "(line 4): 'demo:size' is a config key at the top level" in lines[1]
    assert "(line 5): 'flag' is a config key at the top level" in lines[2]  # declared in Pulumi.yaml
    assert "(line 8): 'bogus' is not a stack file key; the top level holds only `config:`" in lines[3]


def test_an_empty_stack_file_and_an_empty_config_are_no_keys(tmp_path: Path) -> None:
    write_project(tmp_path, "")
    for text in ("", "config:\n", "# only a comment\n"):
        (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text(text)
        assert load_stack(tmp_path, "dev").values == {"demo:size": "3"}
