"""Malformed stack files through `mlops plan` (issue 13, items 8 and 9): each is refused with exit 2, nothing
on stdout, no traceback, one line per problem naming the file, the key, the value received (quoted) and what
is allowed in words, never a regular expression or a pydantic phrase."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from config_support import BASE, SOURCE, make, problems

from mlops_platform.components.governance import PROJECT
from mlops_platform.components.platform.loader import ConfigError, build
from mlops_platform.components.platform.settings import NVIDIA_GPU_FAMILIES, PATTERN_WORDS, SECTIONS
from mlops_platform.mlops.cli import main

REPO = Path(__file__).resolve().parents[3]
NS = "mlops-platform"
HEAD = "config:\n  aws:region: eu-west-1\n"
GOVERNANCE = {
    "environment": "dev",
    "owner": "ml-platform",
    "costCenter": "cc-ml-1001",
    "dataClassification": "internal",
}


def stack(*lines: str, drop: tuple[str, ...] = (), head: str = HEAD) -> str:
    """A dev stack file: the governance keys (less ``drop``), then ``lines`` (each under ``config:``)."""
    body = [f"  {NS}:{k}: {v}" for k, v in GOVERNANCE.items() if k not in drop]
    return head + "\n".join(body + [f"  {line}" for line in lines]) + "\n"


# (id, stack file text, the fragments each expected line holds, one tuple per line)
CASES: list[tuple[str, str, list[tuple[str, ...]]]] = [
    # --- item 8: accepted and wrong -----------------------------------------------------------------
    ("owner-null", stack(f"{NS}:owner: ~", drop=("owner",)), [(f"{NS}:owner", "'~'", "has no value")]),
    ("owner-empty", stack(f"{NS}:owner:", drop=("owner",)), [(f"{NS}:owner", "has no value")]),
    (
        "duplicate-key",
        stack(f"{NS}:owner: team-b"),
        [("'mlops-platform:owner'", "written twice", "lines 4 and 7")],
    ),
    (
        "duplicate-by-namespace",
        stack("owner: team-b"),
        [("'owner'", "'mlops-platform:owner'", "same key")],
    ),
    (
        "duplicate-nested",
        stack(f"{NS}:clusterApiAccessCidrs: [10.1.0.0/16]", "aws:region: eu-west-2"),
        [("'aws:region'", "written twice")],
    ),
    (
        "secure-owner",
        stack(f"{NS}:owner:", "    secure: v1:AAAAbm90IGEgc2VjcmV0", drop=("owner",)),
        [(f"{NS}:owner", "is a secret", "`secure:`", "clear text", "pulumi config set owner")],
    ),
    (
        "secure-cidr",
        stack(f"{NS}:networkVpcCidr:", "    secure: v1:AAAAbm90IGEgc2VjcmV0"),
        [(f"{NS}:networkVpcCidr", "is a secret", "without --secret")],
    ),
    (
        "backup-window-hours",
        stack(f"{NS}:databaseBackupWindow: 25:00-26:00"),
        [(f"{NS}:databaseBackupWindow", "'25:00-26:00'", "hours 00 to 23")],
    ),
    (
        "backup-window-form",
        stack(f"{NS}:databaseBackupWindow: 2am-3am"),
        [(f"{NS}:databaseBackupWindow", "'2am-3am'", "hh:mm-hh:mm")],
    ),
    (
        "backup-window-too-short",
        stack(f"{NS}:databaseBackupWindow: 02:00-02:10"),
        [(f"{NS}:databaseBackupWindow", "'02:00-02:10'", "at least 30 minutes")],
    ),
    (
        "maintenance-window-day",
        stack(f"{NS}:databaseMaintenanceWindow: sunday:04:00-sunday:05:00"),
        [(f"{NS}:databaseMaintenanceWindow", "'sunday:04:00-sunday:05:00'", "mon, tue")],
    ),
    (
        "backup-overlaps-maintenance",
        stack(f"{NS}:databaseBackupWindow: 03:30-04:30"),  # the profile's maintenance: sun:04:00-sun:05:00
        [(f"{NS}:databaseMaintenanceWindow:", "'03:30-04:30'", "'sun:04:00-sun:05:00'", "overlaps")],
    ),
    (
        "backup-overlaps-maintenance-over-midnight",
        stack(
            f"{NS}:databaseBackupWindow: 23:30-00:30",
            f"{NS}:databaseMaintenanceWindow: mon:00:00-mon:01:00",
        ),
        [
            (
                f"{NS}:databaseMaintenanceWindow:",
                "'23:30-00:30'",
                "'mon:00:00-mon:01:00'",
                "databaseBackupWindow",
            )
        ],
    ),
    (
        "gpu-group-without-gpu",
        stack(f"{NS}:gpuNodesEnabled: true", f"{NS}:gpuNodesInstanceTypes: [m6i.large]"),
        [(f"{NS}:gpuNodesInstanceTypes", "'m6i.large'", "no NVIDIA GPU", "g5.xlarge")],
    ),
    (
        "gpu-group-amd-gpu",
        stack(f"{NS}:gpuNodesInstanceTypes: [g5.xlarge, g4ad.xlarge]"),
        [(f"{NS}:gpuNodesInstanceTypes", "'g4ad.xlarge'", "no NVIDIA GPU")],
    ),
    (
        "gpu-group-graviton",
        stack(f"{NS}:gpuNodesInstanceTypes: [g5g.xlarge]"),
        [(f"{NS}:gpuNodesInstanceTypes", "'g5g.xlarge'", "x86_64")],
    ),
    (
        "api-cidrs-overlap",
        stack(f"{NS}:clusterApiAccessCidrs: [10.1.0.0/16, 10.1.4.0/24]"),
        [(f"{NS}:clusterApiAccessCidrs", "'10.1.0.0/16'", "'10.1.4.0/24'", "overlap")],
    ),
    (
        "public-cidrs-twice",
        stack(f"{NS}:clusterPublicAccessCidrs: [203.0.113.0/24, 203.0.113.0/24]"),
        [(f"{NS}:clusterPublicAccessCidrs", "'203.0.113.0/24'", "listed twice")],
    ),
    # --- YAML as the Pulumi CLI hands it: a top-level scalar's source text, lists as JSON -------------
    (
        "yes-is-not-true",
        stack(f"{NS}:networkInterfaceEndpoints: yes"),
        [(f"{NS}:networkInterfaceEndpoints", "'yes'", "true or false")],
    ),
    (
        "hex-is-not-an-integer",
        stack(f"{NS}:networkZoneCount: 0x3"),
        [(f"{NS}:networkZoneCount", "'0x3'", "must be an integer")],
    ),
    (
        "version-keeps-its-text",
        stack(f"{NS}:clusterKubernetesVersion: 1.20"),
        [(f"{NS}:clusterKubernetesVersion", "'1.20'", "supported")],
    ),
    (
        "number-in-a-list",
        stack(f"{NS}:systemNodesInstanceTypes: [1.30]"),
        [(f"{NS}:systemNodesInstanceTypes", "item 1", "text", "got 1.3")],
    ),
    # --- item 9: words, not regular expressions; the value echoed -----------------------------------
    (
        "owner-pattern",
        stack(f"{NS}:owner: -team", drop=("owner",)),
        [(f"{NS}:owner", "'-team'", "a letter or digit, then letters, digits")],
    ),
    (
        "database-name-pattern",
        stack(f"{NS}:databaseName: 'MLflow '"),
        [(f"{NS}:databaseName", "'MLflow '", "a lowercase letter, then lowercase letters")],
    ),
    (
        "engine-version-pattern",
        stack(f"{NS}:databaseEngineVersion: 17"),
        [(f"{NS}:databaseEngineVersion", "'17'", "major.minor")],
    ),
    (
        "classification-trailing-space",
        stack(f"{NS}:dataClassification: 'secret '", drop=("dataClassification",)),
        [(f"{NS}:dataClassification", "'secret '", "must be one of")],
    ),
    (
        "out-of-range",
        stack(f"{NS}:networkZoneCount: 9"),
        [(f"{NS}:networkZoneCount", "must be at most 4", "got 9")],
    ),
    ("missing-owner-once", stack(drop=("owner",)), [(f"{NS}:owner", "is required")]),
    (
        "misplaced-top-level-key",
        stack(drop=("owner",)) + f"{NS}:owner: ml-platform\n",
        [("'mlops-platform:owner'", "top level", "under `config:`")],
    ),
    (
        "misspelt-config",
        stack(head="confg:\n  aws:region: eu-west-1\n"),
        [("'confg'", "did you mean `config:`", "mlops-platform:owner")],
    ),
    (
        "unknown-top-level-key",
        stack() + "secretprovider: awskms://alias/x\n",
        [("'secretprovider'", "not a stack file key", "`secretsprovider:`")],
    ),
    (
        "esc-environment-is-no-config",
        stack() + "environment: prod\n",
        [("`environment: prod`", "ESC", f"{NS}:environment goes under `config:`")],
    ),
    (
        "misspelt-namespace",
        stack("mlops-platfrom:networkZoneCount: 3"),
        [("mlops-platfrom:networkZoneCount", "'mlops-platfrom'", f"did you mean {NS}:")],
    ),
    (
        "nested-namespace",
        stack(f"{NS}:", "    networkZoneCount: 3"),
        [(f"{NS}:{NS}", "not nested")],
    ),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("malformed")
    shutil.copy(REPO / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copytree(REPO / "stacks", root / "stacks", ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_stack_is_refused_with_one_line_per_problem(
    project: Path, text: str, expected: list[tuple[str, ...]], capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "stacks" / "Pulumi.dev.yaml").write_text(text)
    code = main(["--root", str(project), "plan", "dev"])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == len(expected), lines
    for fragments in expected:
        hits = [line for line in lines if all(f in line for f in fragments)]
        assert hits, (fragments, lines)
    for line in lines:
        assert line.startswith("stacks/Pulumi.dev.yaml"), line  # relative to the project, as every error
        assert "Traceback" not in line and "^" not in line and "Field required" not in line
        assert "Input should" not in line and "placeholder" not in line


@pytest.mark.parametrize("case", ["secure-owner", "misspelt-config", "backup-overlaps-maintenance"])
def test_check_refuses_them_the_same_way(
    project: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`mlops check` validates the stack before analysing it: the same lines, exit 2, no report."""
    text, expected = next(c[1:] for c in CASES if c[0] == case)
    (project / "stacks" / "Pulumi.dev.yaml").write_text(text)
    code = main(["--root", str(project), "check", "dev", "--policy-pack", str(REPO / "policies")])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    (fragments,) = expected
    assert len(lines) == 1 and all(f in lines[0] for f in fragments), lines


def test_well_formed_edges_are_accepted(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The rules refuse only what is wrong: windows apart, a wrapped backup window, distinct CIDRs, GPUs."""
    text = stack(
        f"{NS}:databaseBackupWindow: 23:30-00:30",
        f"{NS}:databaseMaintenanceWindow: sun:04:00-sun:05:00",
        f"{NS}:clusterApiAccessCidrs: [10.1.0.0/16, 10.2.0.0/16]",
        f"{NS}:gpuNodesInstanceTypes: [g6e.xlarge, p5.48xlarge, g4dn.xlarge]",
        f"{NS}:networkZoneCount: '3'",
    )
    (project / "stacks" / "Pulumi.dev.yaml").write_text(text)
    code = main(["--root", str(project), "plan", "dev", "--layer", "aws", "--format", "urns"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "mlops-dev" in out


# --- the same rules where a program builds its config itself (build, from_pulumi) ------------------------


def test_a_none_value_is_no_text() -> None:
    """``build`` never turns None into the tag value "None"."""
    found = problems({f"{NS}:owner": None})
    assert found == [(f"{NS}:owner", found[0][1])] and "has no value" in found[0][1]


def test_build_refuses_secret_platform_keys_and_region() -> None:
    with pytest.raises(ConfigError) as info:
        build(BASE, region="eu-west-1", source=SOURCE, secret_keys=[f"{NS}:owner", "aws:region"])
    keys = [k for k, _ in info.value.problems]
    assert keys == [f"{NS}:owner", "aws:region"]
    assert all("is a secret" in m and "placeholder" not in m for _, m in info.value.problems)


def test_from_pulumi_refuses_a_secret_key(tmp_path: Path) -> None:
    from mlops_platform.components.platform.loader import from_pulumi
    from mlops_platform.mlops.engine import run_callable

    values = {**BASE, "aws:region": "eu-west-1"}
    # the engine may hand the program's ConfigError on as the cause of its own error
    with pytest.raises(Exception) as info:
        run_callable(
            from_pulumi, project=PROJECT, stack="dev", config=values, secret_keys=[f"{NS}:costCenter"]
        )
    error = info.value if isinstance(info.value, ConfigError) else info.value.__cause__
    assert isinstance(error, ConfigError), info.value
    assert [k for k, _ in error.problems] == [f"{NS}:costCenter"]


def test_every_field_pattern_is_said_in_words() -> None:
    for model in SECTIONS.values():
        for name, info in model.model_fields.items():
            for meta in info.metadata:
                pattern = getattr(meta, "pattern", None)
                if pattern is not None:
                    assert pattern in PATTERN_WORDS, (model.__name__, name, pattern)


def test_the_gpu_families_all_exist_as_instance_type_prefixes() -> None:
    for family in NVIDIA_GPU_FAMILIES:
        assert re.match(r"^[a-z][a-z0-9-]*$", family) and family[0] in "gp", family


def test_windows_that_touch_do_not_overlap() -> None:
    make({f"{NS}:databaseBackupWindow": "03:00-04:00"})  # ends as the maintenance window starts
    make({f"{NS}:databaseBackupWindow": "05:00-06:00"})  # starts as it ends
    with pytest.raises(ConfigError):
        make({f"{NS}:databaseBackupWindow": "03:00-04:01"})
