"""The offline StackReference: every stack-name form Pulumi accepts, and a refusal for what it cannot answer.

Pulumi's rules (pulumi/pulumi pkg/backend/httpstate/backend.go ``parseStackName``, pkg/backend/diy/store.go
``ParseReference``, sdk/go/common/tokens ``ParseStackName``): ``<stack>``, ``<org>/<stack>`` or
``<org>/<project>/<stack>``; an omitted project is the program's own, an omitted organization the backend's
default; names are 1-100 letters, digits, ``-``, ``_`` or ``.``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest

from mlops_platform.components.platform.outputs import EXPORT_NAMES
from mlops_platform.mlops.cli import main
from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.fakecloud import FakeCloud
from mlops_platform.mlops.fakeplatform import (
    StackName,
    StackReferenceError,
    parse_stack_name,
    platform_outputs,
)

CONTRACT = sorted(EXPORT_NAMES.values())


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("dev", StackName(None, "consumer", "dev")),
        ("acme/dev", StackName("acme", "consumer", "dev")),
        ("acme/mlops-platform/prod", StackName("acme", "mlops-platform", "prod")),
        ("organization/mlops-platform/staging", StackName("organization", "mlops-platform", "staging")),
        # Pulumi reads an empty organization or project as omitted.
        ("/mlops-platform/dev", StackName(None, "mlops-platform", "dev")),
        ("acme//dev", StackName("acme", "consumer", "dev")),
        ("my.org/my_project-2/stack.v1_x", StackName("my.org", "my_project-2", "stack.v1_x")),
        ("s" * 100, StackName(None, "consumer", "s" * 100)),
    ],
)
def test_stack_name_forms_pulumi_accepts(name: str, expected: StackName) -> None:
    assert parse_stack_name(name, project="consumer") == expected


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "a/b/c/d",
            "Pulumi could not parse it, a stack name is <stack>, <org>/<stack> or <org>/<project>/<stack>",
        ),
        ("", "the stack name '' is not one Pulumi accepts"),
        ("acme/mlops-platform/", "the stack name '' is not one Pulumi accepts"),
        ("acme/mlops platform/dev", "the project name 'mlops platform' is not one Pulumi accepts"),
        ("dev ", "the stack name 'dev ' is not one Pulumi accepts: 1 to 100 letters, digits"),
        ("s" * 101, "is not one Pulumi accepts"),
        ("acme/p/dev!", "the stack name 'dev!'"),
    ],
)
def test_stack_names_pulumi_refuses(name: str, message: str) -> None:
    with pytest.raises(StackReferenceError, match=r"^StackReference ") as info:
        parse_stack_name(name, project="consumer")
    assert message in str(info.value)
    assert repr(name) in str(info.value)


def _read(name: str, *, project: str, output: str = "environment", cloud: FakeCloud | None = None) -> Any:
    seen: dict[str, Any] = {}

    def program() -> None:
        ref = pulumi.StackReference("platform", stack_name=name)
        ref.get_output(output).apply(lambda v: seen.setdefault("value", v))
        ref.outputs.apply(lambda v: seen.setdefault("outputs", v))

    run_callable(program, project=project, stack="dev", mocks=cloud)
    return seen


@pytest.mark.parametrize(
    ("project", "name", "environment"),
    [
        ("team-project", "acme/mlops-platform/prod", "prod"),
        ("team-project", "organization/mlops-platform/dev", "dev"),
        ("team-project", "/mlops-platform/staging", "staging"),
        # From a program of the platform project itself, the short forms name the platform's stacks.
        ("mlops-platform", "dev", "dev"),
        ("mlops-platform", "acme/staging", "staging"),
        ("mlops-platform", "acme//prod", "prod"),
    ],
)
def test_every_form_naming_a_platform_stack_is_answered_with_the_contract(
    project: str, name: str, environment: str
) -> None:
    seen = _read(name, project=project)
    assert seen["value"] == environment
    assert sorted(seen["outputs"]) == CONTRACT


def test_the_short_forms_answer_what_the_fully_qualified_name_does() -> None:
    full = _read("organization/mlops-platform/dev", project="mlops-platform")["outputs"]
    assert _read("dev", project="mlops-platform")["outputs"] == full
    assert full == platform_outputs("organization/mlops-platform/dev")


@pytest.mark.parametrize(
    ("project", "name", "message"),
    [
        (
            "team-project",
            "dev",
            "StackReference 'dev' names stack 'dev' of project 'team-project' (a name without a project refers "
            "to the program's own project); offline, only the platform's stacks are answered: "
            "<org>/mlops-platform/<environment>, the environment one of dev, staging, prod",
        ),
        (
            "team-project",
            "acme/prod",
            "names stack 'prod' of project 'team-project' (two parts are <org>/<stack>: a name without a project",
        ),
        # Not <project>/<stack>: Pulumi reads two parts as the organization and the stack.
        ("team-project", "mlops-platform/dev", "names stack 'dev' of project 'team-project' (two parts are"),
        ("team-project", "acme/data-platform/prod", "names stack 'prod' of project 'data-platform';"),
        (
            "team-project",
            "acme/mlops-platform/qa",
            "StackReference 'acme/mlops-platform/qa': 'qa' is not an environment of the platform; offline a "
            "platform stack is known by its environment, so its name must be one of dev, staging, prod",
        ),
        ("mlops-platform", "sandbox", "'sandbox' is not an environment of the platform"),
        ("team-project", "acme/mlops-platform/Prod", "'Prod' is not an environment of the platform"),
        ("team-project", "a/b/c/d", "StackReference 'a/b/c/d': Pulumi could not parse it"),
    ],
)
def test_a_reference_the_fake_cannot_answer_is_refused_where_it_is_created(
    project: str, name: str, message: str
) -> None:
    with pytest.raises(StackReferenceError) as info:
        _read(name, project=project)
    assert message in str(info.value)
    # Raised by the constructor, so the traceback ends at the program's StackReference(...) line.
    assert any(frame.name == "program" for frame in _frames(info.value))


def _frames(error: BaseException) -> list[Any]:
    import traceback

    return list(traceback.extract_tb(error.__traceback__))


@pytest.mark.parametrize("method", ["get_output", "require_output"])
@pytest.mark.parametrize("output", ["databaseAddress", "clusterCertificateAuthority", "vpcid", ""])
def test_an_output_outside_the_contract_is_refused_with_the_known_names(method: str, output: str) -> None:
    def program() -> None:
        ref = pulumi.StackReference("acme/mlops-platform/prod")
        getattr(ref, method)(output)

    with pytest.raises(StackReferenceError) as info:
        run_callable(program, project="team-project")
    assert str(info.value) == (
        f"StackReference 'acme/mlops-platform/prod' has no output {output!r}; the platform's outputs contract "
        f"(mlops_platform.components.platform.outputs) has: {', '.join(CONTRACT)}"
    )


def test_every_contract_output_reads_back() -> None:
    for output in CONTRACT:
        assert _read("acme/mlops-platform/prod", project="team-project", output=output)["value"] is not None


def test_a_given_stack_answers_with_its_outputs_only() -> None:
    cloud = FakeCloud(stack_references={"acme/other/prod": {"url": "https://x"}})
    assert _read("acme/other/prod", project="team-project", output="url", cloud=cloud)["value"] == "https://x"
    with pytest.raises(StackReferenceError, match=r"has no output 'uri'; its outputs are: url$"):
        _read("acme/other/prod", project="team-project", output="uri", cloud=cloud)


def test_the_platform_region_is_the_configured_one_never_a_made_up_one() -> None:
    arn = _read("acme/mlops-platform/prod", project="t", output="kmsDataKeyArn", cloud=FakeCloud("us-east-2"))
    assert arn["value"].startswith("arn:aws:kms:us-east-2:")
    with pytest.raises(StackReferenceError, match="the platform stack's region is not known offline"):
        _read("acme/mlops-platform/prod", project="t", cloud=FakeCloud(region=None))


def test_the_sdk_is_left_as_it_was_after_a_render() -> None:
    before = dict(vars(pulumi.StackReference))
    with pytest.raises(StackReferenceError):
        _read("acme/mlops-platform/qa", project="t")
    assert dict(vars(pulumi.StackReference)) == before


# ---- through the command line: one line at the consumer's own line, exit 2 ---------------------------------


def consumer(tmp_path: Path, program: str, *, region: str | None = "eu-west-1") -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: consumer\nruntime: python\n")
    config = f"config:\n  aws:region: {region}\n" if region else "config: {}\n"
    (tmp_path / "Pulumi.dev.yaml").write_text(config)
    (tmp_path / "__main__.py").write_text(program)
    return tmp_path


def plan(root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    code = main(["--root", str(root), "plan", "dev", *extra])
    out, err = capsys.readouterr()
    return code, out, err


_HEAD = "import pulumi\nfrom mlops_platform.components import PlatformOutputs\n\n"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            'platform = PlatformOutputs.from_stack("acme/mlops-platform/qa")',
            "StackReference 'acme/mlops-platform/qa': 'qa' is not an environment of the platform",
        ),
        (
            'platform = PlatformOutputs.from_stack("prod")',
            "StackReference 'prod' names stack 'prod' of project 'consumer'",
        ),
        (
            'pulumi.StackReference("acme/mlops-platform/prod").get_output("databaseAddress")',
            "StackReference 'acme/mlops-platform/prod' has no output 'databaseAddress'; the platform's outputs "
            "contract (mlops_platform.components.platform.outputs) has: alertTopicArn, artifactBucketArn,",
        ),
    ],
)
def test_cli_reports_a_refused_reference_at_the_consumers_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, message: str
) -> None:
    root = consumer(tmp_path, _HEAD + line + "\n")
    code, out, err = plan(root, capsys)
    assert code == 2
    assert out == ""
    (reported,) = err.splitlines()
    assert reported.startswith(f"__main__.py:4: {message}"), reported
    assert "Traceback" not in err


def test_cli_refuses_a_platform_reference_without_a_region(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    program = _HEAD + 'platform = PlatformOutputs.from_stack("acme/mlops-platform/dev")\n'
    root = consumer(tmp_path, program, region=None)
    code, out, err = plan(root, capsys)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "__main__.py:4: StackReference 'acme/mlops-platform/dev': the platform stack's region is not known "
        "offline; it is taken to be this stack's, and neither aws:region nor AWS_REGION is set"
    ]
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    program += 'pulumi.export("key", platform.kms_data_key_arn)\n'
    (root / "__main__.py").write_text(program)
    code, out, err = plan(root, capsys, "--format", "json")
    assert code == 0, err
    assert '"arn:aws:kms:ap-south-1:' in out
