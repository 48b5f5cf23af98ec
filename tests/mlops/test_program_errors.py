"""A program that raises offline is reported at its own file:line, on one line; `--traceback` shows the rest."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mlops_platform.mlops.cli import build_parser, main

HELPERS = """\
def explode(value):
    if value:
        raise RuntimeError("boom")
    return value
"""


def consumer(root: Path, program: str, files: dict[str, str] | None = None) -> Path:
    """A consumer project: its own Pulumi.yaml, a dev stack, ``__main__.py`` and helper modules."""
    (root / "Pulumi.yaml").write_text("name: consumer\nruntime: python\n")
    (root / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (root / "__main__.py").write_text(textwrap.dedent(program))
    for rel, text in (files or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def run(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--root", str(root), *args])
    out, err = capsys.readouterr()
    return code, out, err


BOOM = "the program failed offline: RuntimeError: boom (--traceback prints the whole traceback)"


@pytest.mark.parametrize(
    ("program", "files", "expected"),
    [
        # Raised in a helper module the program imports: that module's line, not the stack file.
        ("import helpers\nhelpers.explode(1)\n", {"helpers.py": HELPERS}, f"helpers.py:3: {BOOM}"),
        # In a package of the project.
        (
            "from lib import util\nutil.explode(1)\n",
            {"lib/__init__.py": "", "lib/util.py": HELPERS},
            f"lib/util.py:3: {BOOM}",
        ),
        # In an apply callback, after the program's top level has run.
        (
            """\
            import pulumi
            import helpers
            from mlops_platform.components import PlatformOutputs

            platform = PlatformOutputs.from_stack("acme/mlops-platform/dev")
            pulumi.export("x", platform.vpc_id.apply(helpers.explode))
            """,
            {"helpers.py": HELPERS},
            f"helpers.py:3: {BOOM}",
        ),
        # Raised in the platform's own library (not the consumer's code): the consumer's line that called it.
        (
            """\
            from mlops_platform.components.platform.outputs import contract_exports

            contract_exports({"vpc_id": "vpc-1"})
            """,
            {},
            "__main__.py:3: the program failed offline: ValueError: outputs contract: missing ",
        ),
        # In the program itself.
        ('x = {}\ny = x["missing"]\n', {}, "__main__.py:2: the program failed offline: KeyError: 'missing' "),
        # pulumi.RunError is the SDK's "report without a traceback": its message, at its line.
        (
            "import pulumi\n\nraise pulumi.RunError(\"consumer:team: 'X' must be lowercase\")\n",
            {},
            "__main__.py:3: consumer:team: 'X' must be lowercase",
        ),
    ],
)
def test_plan_names_the_programs_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], program: str, files: dict[str, str], expected: str
) -> None:
    root = consumer(tmp_path, program, files)
    code, out, err = run(root, capsys, "plan", "dev")
    assert code == 2
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith(expected), line
    assert "Pulumi.dev.yaml" not in line
    assert "Traceback" not in err


def test_a_multi_line_message_stays_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = consumer(tmp_path, 'raise ValueError("first\\n  second\\n")\n')
    code, _, err = run(root, capsys, "plan", "dev")
    assert code == 2
    assert err.splitlines() == [
        "__main__.py:1: the program failed offline: ValueError: first; second (--traceback prints the whole "
        "traceback)"
    ]


def test_traceback_flag_prints_the_whole_traceback_then_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = consumer(tmp_path, "import helpers\nhelpers.explode(1)\n", {"helpers.py": HELPERS})
    code, out, err = run(root, capsys, "plan", "dev", "--traceback")
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert any(str(root / "helpers.py") in line and "line 3" in line for line in lines)
    assert any(str(root / "__main__.py") in line and "line 2" in line for line in lines)
    assert lines[-2] == "RuntimeError: boom"
    assert lines[-1] == f"helpers.py:3: {BOOM}"


def test_check_reports_the_same_line_and_takes_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = consumer(tmp_path, "import helpers\nhelpers.explode(1)\n", {"helpers.py": HELPERS})
    code, out, err = run(root, capsys, "check", "dev")
    assert (code, out, err.splitlines()) == (2, "", [f"helpers.py:3: {BOOM}"])
    code, out, err = run(root, capsys, "check", "dev", "--traceback")
    assert (code, out) == (2, "")
    assert err.startswith("Traceback (most recent call last):")
    assert err.splitlines()[-1] == f"helpers.py:3: {BOOM}"


@pytest.mark.parametrize("command", ["plan", "check", "verify"])
def test_traceback_is_an_option_of_every_rendering_command(command: str) -> None:
    parser = build_parser()
    assert parser.parse_args([command, "dev", "--traceback"]).traceback is True
    assert parser.parse_args([command, "dev"]).traceback is False


def test_a_second_render_runs_the_edited_helper_not_a_stale_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = consumer(tmp_path, "import helpers\nhelpers.explode(1)\n", {"helpers.py": HELPERS})
    assert run(root, capsys, "plan", "dev")[0] == 2
    (root / "helpers.py").write_text("def explode(value):\n    return value\n")
    code, _, err = run(root, capsys, "plan", "dev")
    assert code == 0, err


def test_the_platforms_own_components_count_as_the_program_in_this_repository() -> None:
    from mlops_platform.mlops import REPO_ROOT
    from mlops_platform.mlops.engine import failure_position

    def component_fails() -> None:
        from mlops_platform.components.platform.outputs import contract_exports

        contract_exports({})

    with pytest.raises(ValueError) as info:
        component_fails()
    position = failure_position(info.value, REPO_ROOT)
    assert position is not None and position.file == "components/platform/outputs.py"
    # For any other project, the library is not its code: the last frame of the test module is.
    outside = failure_position(info.value, Path(__file__).parent)
    assert outside is not None and outside.file == Path(__file__).name
