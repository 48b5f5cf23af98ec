"""The environment floor and a stack's name (issue 13, items 6 and 7).

Each setting below prod's floor is its own line under its own key, whatever else is wrong with the stack
file; a stack named dev, staging or prod declares that environment, or names itself in
``mlops-platform:notEnvironment`` to state that it is not that environment."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from config_support import BASE, SOURCE
from pydantic import ValidationError

from mlops_platform.components.governance import ENVIRONMENTS
from mlops_platform.components.platform.loader import KEYS, ConfigError, build
from mlops_platform.components.platform.profiles import profile
from mlops_platform.components.platform.settings import (
    FLOOR_ERROR,
    FLOORS,
    Floor,
    PlatformConfig,
    floor_problems,
)
from mlops_platform.mlops.cli import main
from mlops_platform.mlops.engine import run_program
from mlops_platform.mlops.stackconfig import load_stack

P = "mlops-platform:"
PROD = {**BASE, f"{P}environment": "prod"}
REPO = Path(__file__).resolve().parents[3]

BELOW_FLOOR = [
    # (key, the value as Pulumi hands it to the program, the line's message), in FLOORS order
    (
        "clusterPublicAccessCidrs",
        '["203.0.113.0/24"]',
        """["203.0.113.0/24"] is below prod's floor: must be empty (a private API endpoint only)""",
    ),
    ("artifactsForceDestroy", "true", "true is below prod's floor: must be false"),
    ("databaseDeletionProtection", "false", "false is below prod's floor: must be true"),
    ("databaseMultiAz", "false", "false is below prod's floor: must be true"),
    ("databaseBackupRetentionDays", "7", "7 is below prod's floor: must be at least 14"),
    ("protectionStatefulResources", "false", "false is below prod's floor: must be true"),
    ("kmsDeletionWindowDays", "7", "7 is below prod's floor: must be at least 14"),
    ("mlflowReplicas", "1", "1 is below prod's floor: must be at least 2"),
    (
        "karpenterAmiAlias",
        "al2023@latest",
        """"al2023@latest" is below prod's floor: must be pinned (a dated AMI release such as al2023@v20260930, never @latest)""",
    ),
]
ALL_BELOW = {f"{P}{key}": value for key, value, _ in BELOW_FLOOR}
FLOOR_LINES = [(f"{P}{key}", message) for key, _, message in BELOW_FLOOR]


def refused(values: dict[str, Any], *, stack: str | None = None, region: str | None = "eu-west-1") -> list:
    with pytest.raises(ConfigError) as info:
        build(values, region=region, source=SOURCE, stack=stack)
    return info.value.problems


# --- item 7: the floor, one line per key, always ----------------------------------------------------------


def test_the_table_covers_every_floor_key_in_order() -> None:
    assert [key for key, _, _ in BELOW_FLOOR] == [floor.key for floor in FLOORS["prod"]]


@pytest.mark.parametrize(("key", "value", "message"), BELOW_FLOOR)
def test_each_setting_below_the_floor_is_its_own_line_under_its_own_key(
    key: str, value: str, message: str
) -> None:
    assert refused({**PROD, f"{P}{key}": value}) == [(f"{P}{key}", message)]
    # dev has no floor, staging only the pinned AMI: the same value is accepted there.
    for environment in ("dev", "staging"):
        values = {**BASE, f"{P}environment": environment, f"{P}{key}": value}
        if environment == "staging" and key == "karpenterAmiAlias":
            assert refused(values) == [(f"{P}{key}", message.replace("prod's", "staging's"))]
            continue
        build(values, region="eu-west-1", source=SOURCE)


def test_every_violation_at_once_one_line_each_none_under_environment() -> None:
    problems = refused({**PROD, **ALL_BELOW})
    assert problems == FLOOR_LINES
    assert str(ConfigError(SOURCE, problems)).splitlines() == [f"{SOURCE}: {k}: {m}" for k, m in FLOOR_LINES]


UNRELATED = [
    # (what else is wrong, the values that say so, the region, the key its line is under)
    ("a value that does not parse", {f"{P}networkZoneCount": "three"}, "eu-west-1", f"{P}networkZoneCount"),
    ("a field out of range", {f"{P}networkZoneCount": "9"}, "eu-west-1", f"{P}networkZoneCount"),
    (
        "a bad field in the floor's own section",
        {f"{P}databaseInstanceClass": "m5.large"},
        "eu-west-1",
        f"{P}databaseInstanceClass",
    ),
    (
        "a value of the wrong type beside a floor key",
        {f"{P}mlflowAwaitRollout": "yes"},
        "eu-west-1",
        f"{P}mlflowAwaitRollout",
    ),
    (
        "a section-wide rule of the floor's section",
        {f"{P}databaseAllocatedStorageGib": "200", f"{P}databaseMaxAllocatedStorageGib": "100"},
        "eu-west-1",
        f"{P}databaseMaxAllocatedStorageGib",
    ),
    ("an unknown key", {f"{P}databaseMultiAZ": "true"}, "eu-west-1", f"{P}databaseMultiAZ"),
    ("a bad region", {}, "mars-north-1", "aws:region"),
    ("no region", {}, None, "aws:region"),
    ("a bad governance value", {f"{P}dataClassification": "secret"}, "eu-west-1", f"{P}dataClassification"),
]


@pytest.mark.parametrize(("what", "bad", "region", "bad_key"), UNRELATED, ids=[case[0] for case in UNRELATED])
def test_a_bad_field_elsewhere_hides_no_floor_violation(
    what: str, bad: dict[str, str], region: str | None, bad_key: str
) -> None:
    problems = refused({**PROD, **ALL_BELOW, **bad}, region=region)
    others = [p for p in problems if p not in FLOOR_LINES]
    assert [p for p in problems if p in FLOOR_LINES] == FLOOR_LINES, what
    assert len(others) == 1 and bad_key in others[0][0].split(", "), others


def test_a_key_refused_for_its_own_reason_is_not_reported_again_as_below_the_floor() -> None:
    # 3 days is outside KMS's 7-30 range: one line, the range; the floor speaks once the value is a real one.
    (problem,) = refused({**PROD, f"{P}kmsDeletionWindowDays": "3"})
    assert problem[0] == f"{P}kmsDeletionWindowDays" and "floor" not in problem[1]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_profile_meets_its_environments_floor(environment: str) -> None:
    assert floor_problems(environment, profile(environment)) == []


def test_a_config_validated_directly_is_held_to_the_floor_too() -> None:
    data: dict[str, Any] = {"region": "eu-west-1", **profile("prod")}
    data["governance"] = {
        "environment": "prod",
        "owner": "ml-platform",
        "cost_center": "cc-1",
        "data_classification": "internal",
    }
    assert PlatformConfig.model_validate(data).environment == "prod"
    data["database"] = {**data["database"], "deletion_protection": False}
    with pytest.raises(ValidationError) as info:
        PlatformConfig.model_validate(data)
    (error,) = info.value.errors()
    assert error["type"] == FLOOR_ERROR
    assert "databaseDeletionProtection: false is below prod's floor: must be true" in error["msg"]


@pytest.mark.parametrize(
    ("floor", "value", "holds"),
    [
        (Floor("database", "multi_az", "true"), True, True),
        (Floor("database", "multi_az", "true"), False, False),
        (Floor("database", "multi_az", "true"), "false", None),  # not a boolean: the field's check
        (Floor("mlflow", "replicas", "at least", 2), 2, True),
        (Floor("mlflow", "replicas", "at least", 2), 1, False),
        (Floor("mlflow", "replicas", "at least", 2), True, None),
        (Floor("mlflow", "replicas", "at least", 2), None, None),  # absent
        (Floor("cluster", "public_access_cidrs", "empty"), [], True),
        (Floor("cluster", "public_access_cidrs", "empty"), [1], False),
        (Floor("cluster", "public_access_cidrs", "empty"), "[]", None),
    ],
)
def test_a_floor_judges_only_values_of_its_fields_type(floor: Floor, value: Any, holds: bool | None) -> None:
    assert floor.holds(value) is holds


# --- item 6: a stack named like an environment declares it ------------------------------------------------

OPT = f"{P}notEnvironment"
MISMATCH = (
    "{env!r} in the stack named {stack!r}; allowed: {stack!r}, or set mlops-platform:notEnvironment: "
    "{stack} to state that this stack is not the {stack} environment"
)
STACK_CASES = [
    # (stack, environment, notEnvironment or None, the problems as (key, message fragment))
    ("prod", "prod", None, []),
    ("staging", "staging", None, []),
    ("dev", "dev", None, []),
    ("sandbox", "dev", None, []),
    (None, "dev", None, []),  # no stack name known: nothing to compare
    ("prod", "dev", None, [(f"{P}environment", MISMATCH.format(env="dev", stack="prod"))]),
    ("prod", "staging", None, [(f"{P}environment", MISMATCH.format(env="staging", stack="prod"))]),
    # a stricter environment than the name is a mismatch too: the name says what the stack is
    ("dev", "prod", None, [(f"{P}environment", MISMATCH.format(env="prod", stack="dev"))]),
    ("staging", "dev", None, [(f"{P}environment", MISMATCH.format(env="dev", stack="staging"))]),
    # the explicit opt-out, naming the stack itself
    ("prod", "dev", "prod", []),
    ("staging", "dev", "staging", []),
    ("dev", "prod", "dev", []),
    ("prod", "dev", "", [(f"{P}environment", MISMATCH.format(env="dev", stack="prod"))]),
    (
        "prod",
        "dev",
        "staging",
        [
            (
                OPT,
                "'staging' does not name this stack ('prod'); allowed: empty, or 'prod' (this stack's name)",
            ),
            (f"{P}environment", MISMATCH.format(env="dev", stack="prod")),
        ],
    ),
    (
        "prod",
        "prod",
        "prod",
        [
            (
                OPT,
                "'prod' states that this stack is not the prod environment, but mlops-platform:environment is",
            )
        ],
    ),
    (
        "sandbox",
        "dev",
        "prod",
        [
            (
                OPT,
                "'prod' does not name this stack ('sandbox'); allowed: empty: only a stack named dev, staging",
            )
        ],
    ),
    # not an environment at all: the field's own check, and the name still needs its environment
    ("prod", "dev", "qa", [(f"{P}environment", MISMATCH.format(env="dev", stack="prod")), (OPT, "")]),
]


@pytest.mark.parametrize(("stack", "environment", "opt_out", "expected"), STACK_CASES)
def test_a_stack_named_like_an_environment_declares_it_or_says_it_is_not(
    stack: str | None, environment: str, opt_out: str | None, expected: list[tuple[str, str]]
) -> None:
    values = {**BASE, f"{P}environment": environment}
    if opt_out is not None:
        values[OPT] = opt_out
    if not expected:
        config = build(values, region="eu-west-1", source=SOURCE, stack=stack)
        assert config.environment == environment
        return
    problems = refused(values, stack=stack)
    assert [k for k, _ in problems] == [k for k, _ in expected], problems
    for (_, message), (_, fragment) in zip(problems, expected, strict=True):
        assert message.startswith(fragment), message


def test_the_opt_out_renders_the_declared_environments_profile() -> None:
    values = {**BASE, f"{P}environment": "dev", OPT: "prod"}
    config = build(values, region="eu-west-1", source=SOURCE, stack="prod")
    assert config.governance_tags["environment"] == "dev"
    assert not config.database.multi_az and config.network.nat_gateways == "single"


def test_not_environment_is_the_one_optional_governance_key() -> None:
    governance = [spec for spec in KEYS.values() if spec.section == "governance"]
    assert {spec.key: spec.required for spec in governance} == {
        "environment": True,
        "owner": True,
        "costCenter": True,
        "dataClassification": True,
        "notEnvironment": False,
    }
    assert "notEnvironment" in (REPO / "Pulumi.yaml").read_text(encoding="utf-8")


# --- through the command line and the program, as the Pulumi CLI runs it ---------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project files (not the code) whose stack files a test may change."""
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copytree(REPO / "stacks", tmp_path / "stacks", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def set_keys(project: Path, stack: str, **values: Any) -> None:
    path = project / "stacks" / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["config"].update({f"{P}{key}": value for key, value in values.items()})
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")


def test_plan_refuses_a_prod_stack_file_that_declares_dev(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    set_keys(project, "prod", environment="dev")
    assert main(["--root", str(project), "plan", "prod"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"stacks/Pulumi.prod.yaml: {P}environment: " + MISMATCH.format(env="dev", stack="prod")
    ]


def test_plan_reports_each_floor_key_on_its_own_line_beside_a_bad_field(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    set_keys(project, "prod", databaseDeletionProtection=False, mlflowReplicas=1, databaseInstanceClass="big")
    assert main(["--root", str(project), "plan", "prod"]) == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and len(lines) == 3, lines
    assert lines[0].startswith(f"stacks/Pulumi.prod.yaml: {P}databaseInstanceClass: ")
    assert lines[1:] == [
        f"stacks/Pulumi.prod.yaml: {P}databaseDeletionProtection: false is below prod's floor: must be true",
        f"stacks/Pulumi.prod.yaml: {P}mlflowReplicas: 1 is below prod's floor: must be at least 2",
    ]


def test_plan_renders_a_stack_that_says_it_is_not_the_environment_it_is_named_after(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    set_keys(project, "prod", environment="dev", notEnvironment="prod")
    assert main(["--root", str(project), "plan", "prod", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["stack"] == "prod"
    assert sum(r["type"] == "aws:ec2/natGateway:NatGateway" for r in doc["resources"]) == 1  # dev's profile


def test_the_program_refuses_the_mismatch_on_its_own(project: Path) -> None:
    # What `pulumi up` runs: the stack program's from_pulumi reads the stack's name from the engine.
    set_keys(project, "prod", environment="dev")
    with pytest.raises(Exception) as info:
        run_program(load_stack(project, "prod"), root=project)
    error = info.value if isinstance(info.value, ConfigError) else info.value.__cause__
    assert isinstance(error, ConfigError), info.value
    assert error.problems == [(f"{P}environment", MISMATCH.format(env="dev", stack="prod"))]
