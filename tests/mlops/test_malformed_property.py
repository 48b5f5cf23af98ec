"""Property: a stack file with a known number of planted problems makes `mlops plan` and `mlops check` exit 2
with exactly one line per problem on stderr, each naming its key; no traceback, nothing on stdout.

The generators plant problems whose reporting is one line under the key by contract: values of the wrong
type, integers outside their field's bounds, values outside an enumeration, malformed CIDR blocks and
versions/windows, an invalid region and unknown keys. The bounds, enumerations and types are read from the
schema (components/platform/settings.py), so a key added there is covered without change. The test holds to
the contract ("one line per problem, each naming its key"), not to the wording of the messages. A file that is
not UTF-8 is one problem of the file: one line naming it.

Both commands run in process (`main(argv)` with `--root` at a copy of the project); `check` starts the policy
pack and stops it once the config is refused, which is most of its cost (about 0.1 s an example).
"""

from __future__ import annotations

import shutil
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import annotated_types
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_platform.components.platform.loader import KEYS, KeySpec
from mlops_platform.components.platform.settings import SECTIONS
from mlops_platform.mlops.cli import main

REPO = Path(__file__).resolve().parents[2]
STACK = "dev"
SOURCE = f"stacks/Pulumi.{STACK}.yaml"
NS = "mlops-platform:"
BASE: dict[str, Any] = yaml.safe_load((REPO / SOURCE).read_text(encoding="utf-8"))
COMMANDS = ("plan", "check")

# An invalid environment leaves no profile to validate the rest against (the loader then reports only what
# it could check), so the planted problems never touch it.
SPARED = {"environment"}
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

Problem = tuple[str, Any]
"""A planted problem: the full config key and the YAML value that is wrong for it."""


def _field(spec: KeySpec) -> Any:
    return SECTIONS[spec.section].model_fields[spec.field]


def _specs(kind: str, pick: Callable[[KeySpec], bool] = lambda s: True) -> list[KeySpec]:
    return [s for s in KEYS.values() if s.kind == kind and s.key not in SPARED and pick(s)]


def _bounds(spec: KeySpec) -> tuple[int | None, int | None]:
    low = high = None
    for item in _field(spec).metadata:
        if isinstance(item, annotated_types.Ge) and isinstance(item.ge, int):
            low = item.ge
        elif isinstance(item, annotated_types.Le) and isinstance(item.le, int):
            high = item.le
    return low, high


def _choices(spec: KeySpec) -> tuple[str, ...]:
    annotation = _field(spec).annotation
    return get_args(annotation) if get_origin(annotation) is Literal else ()


# Plain words: no digits (so never an integer, a version or a window), no brackets or braces (so never a JSON
# list or object), never a spelling of true/false.
_BOOLISH = {"true", "false", "yes", "no", "on", "off", "y", "n"}
words = st.text(alphabet=string.ascii_letters + " -_./@", min_size=1, max_size=12).filter(
    lambda s: s.strip() != "" and s.strip().lower() not in _BOOLISH
)
json_non_lists = st.recursive(
    words | st.integers() | st.booleans(),
    lambda children: st.dictionaries(
        st.text(string.ascii_letters, min_size=1, max_size=5), children, max_size=3
    ),
    max_leaves=5,
)
bad_cidrs = st.one_of(
    st.tuples(st.integers(0, 255), st.integers(33, 99)).map(lambda t: f"10.{t[0]}.0.0/{t[1]}"),
    st.tuples(st.integers(256, 999), st.integers(8, 32)).map(lambda t: f"10.{t[0]}.0.0/{t[1]}"),
    words,
)


def _keyed(
    specs: list[KeySpec], values: Callable[[KeySpec], st.SearchStrategy[Any]]
) -> st.SearchStrategy[Problem]:
    return st.sampled_from(specs).flatmap(lambda s: values(s).map(lambda v: (f"{NS}{s.key}", v)))


def _out_of_range(spec: KeySpec) -> st.SearchStrategy[int]:
    low, high = _bounds(spec)
    options = []
    if low is not None:
        options.append(st.integers(low - 1000, low - 1))
    if high is not None:
        options.append(st.integers(high + 1, high + 100_000))
    return st.one_of(options)


BOUNDED = _specs("integer", lambda s: _bounds(s) != (None, None))
ENUMS = _specs("string", lambda s: bool(_choices(s)))
SHAPED = [KEYS[k] for k in ("databaseEngineVersion", "databaseBackupWindow", "databaseMaintenanceWindow")]
KNOWN = {k.lower() for k in KEYS}

problem_kinds: dict[str, st.SearchStrategy[Problem]] = {
    "integer of the wrong type": _keyed(_specs("integer"), lambda s: words),
    "boolean of the wrong type": _keyed(_specs("boolean"), lambda s: words),
    "list of the wrong type": _keyed(_specs("array"), lambda s: json_non_lists),
    "integer out of range": _keyed(BOUNDED, _out_of_range),
    "value outside its enumeration": _keyed(ENUMS, lambda s: words.filter(lambda v: v not in _choices(s))),
    "malformed version or window": _keyed(SHAPED, lambda s: words),
    "bad VPC CIDR": bad_cidrs.map(lambda v: (f"{NS}networkVpcCidr", v)),
    "bad API access CIDR": bad_cidrs.map(lambda v: (f"{NS}clusterApiAccessCidrs", [v])),
    "bad region": words.map(lambda v: ("aws:region", v)),
    "unknown key": st.text(alphabet=string.ascii_letters, min_size=1, max_size=12)
    .filter(lambda k: k.lower() not in KNOWN)
    .map(lambda k: (f"{NS}{k}", "1")),
}
planted = st.lists(st.one_of(*problem_kinds.values()), min_size=1, max_size=6, unique_by=lambda p: p[0])


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project files (not the code) whose dev stack file each example rewrites."""
    root = tmp_path_factory.mktemp("malformed")
    shutil.copy(REPO / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copytree(REPO / "stacks", root / "stacks", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _run(capsys: pytest.CaptureFixture[str], project: Path, command: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--root", str(project), command, STACK])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_every_kind_plants_a_key_of_the_schema() -> None:
    """The generators are not empty: the schema still has keys of each kind."""
    assert BOUNDED and ENUMS and _specs("integer") and _specs("boolean") and _specs("array")
    assert {f"{NS}{s.key}" for s in SHAPED} <= {f"{NS}{k}" for k in KEYS}
    assert {"networkVpcCidr", "clusterApiAccessCidrs"} <= set(KEYS)


@SETTINGS
@given(problems=planted)
def test_planted_problems_give_one_line_each_naming_its_key(
    problems: list[Problem], project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = {**BASE, "config": {**BASE["config"], **dict(problems)}}
    (project / SOURCE).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    planted_keys = sorted(key for key, _ in problems)
    for command in COMMANDS:
        code, out, err = _run(capsys, project, command)
        lines = err.splitlines()
        assert code == 2, (command, problems, err)
        assert out == "", (command, "nothing on stdout")
        assert "Traceback" not in err, (command, err)
        assert len(lines) == len(problems), (command, problems, lines)
        named = []
        for line in lines:
            assert line.startswith(f"{SOURCE}: "), (command, line)
            rest = line[len(SOURCE) + 2 :]
            keys = [k for k in planted_keys if rest.startswith(f"{k}: ")]
            assert len(keys) == 1, (command, line, planted_keys)
            named += keys
        assert sorted(named) == planted_keys, (command, lines)


INVALID_UTF8 = [b"\xff", b"\xfe", b"\x80", b"\xc3\x28", b"\xe9t\xe9", b"\xed\xa0\x80", b"\xf0\x28\x8c\x28"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.floats(0, 1), garbage=st.sampled_from(INVALID_UTF8))
def test_a_stack_file_that_is_not_utf8_is_one_line_naming_the_file(
    where: float, garbage: bytes, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (REPO / SOURCE).read_bytes()
    at = int(where * len(text))
    (project / SOURCE).write_bytes(text[:at] + garbage + text[at:])
    line_no = text[:at].count(b"\n") + 1
    for command in COMMANDS:
        code, out, err = _run(capsys, project, command)
        assert (code, out) == (2, ""), (command, err)
        assert "Traceback" not in err
        lines = err.splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"{SOURCE} (line {line_no}): not UTF-8"), lines[0]
