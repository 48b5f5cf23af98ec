"""What the offline engine captures: parents, dependencies, options, secrets, sources, data sources."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.fakecloud import OfflineCallError
from mlops_platform.mlops.graph import Secret

HERE = Path(__file__).resolve()
REPO = HERE.parents[2]


class Box(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("test:box:Box", name, None, opts)
        self.key = aws.kms.Key(
            f"{name}-key",
            enable_key_rotation=True,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=True,
                retain_on_delete=True,
                ignore_changes=["description"],
                delete_before_replace=True,
                aliases=[pulumi.Alias(name="old-key")],
            ),
        )
        self.secret = aws.secretsmanager.Secret(
            f"{name}-secret", kms_key_id=self.key.arn, opts=pulumi.ResourceOptions(parent=self)
        )
        self.version = aws.secretsmanager.SecretVersion(
            f"{name}-version",
            secret_id=self.secret.id,
            secret_string=pulumi.Output.secret("hunter2"),
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["secretString"]),
        )
        self.register_outputs({"key_arn": self.key.arn})


LINE_OF_BOX = inspect.getsourcelines(Box)[1]


def program() -> None:
    box = Box("box")
    pulumi.export("keyArn", box.key.arn)
    pulumi.export("password", pulumi.Output.secret("s3cret"))


@pytest.fixture(scope="module")
def graph():
    return run_callable(program, project="proj", stack="dev", root=REPO)


def test_parents_and_urns(graph) -> None:
    box = graph.one("test:box:Box")
    key = graph.one("aws:kms/key:Key")
    assert key.parent == box.urn
    assert key.urn == "urn:pulumi:dev::proj::test:box:Box$aws:kms/key:Key::box-key"
    assert box.parent is not None and box.parent.endswith("pulumi:pulumi:Stack::proj-dev")
    assert [r.name for r in graph.children(box.urn)] == ["box-key", "box-secret", "box-version"]


def test_dependencies_and_property_dependencies(graph) -> None:
    key = graph.one("aws:kms/key:Key")
    secret = graph.one("aws:secretsmanager/secret:Secret")
    assert secret.dependencies == [key.urn]
    assert secret.property_dependencies["kmsKeyId"] == [key.urn]
    assert secret.inputs["kmsKeyId"] == key.outputs["arn"]


def test_options(graph) -> None:
    key = graph.one("aws:kms/key:Key")
    assert key.protect and key.retain_on_delete
    assert key.ignore_changes == ["description"]
    assert key.delete_before_replace is True
    assert key.aliases, "aliases are recorded"
    plain = graph.one("aws:secretsmanager/secret:Secret")
    assert not plain.protect and not plain.retain_on_delete and plain.delete_before_replace is None
    version = graph.one("aws:secretsmanager/secretVersion:SecretVersion")
    assert "secretString" in version.additional_secret_outputs


def test_secret_inputs_are_marked_and_never_printed(graph) -> None:
    version = graph.one("aws:secretsmanager/secretVersion:SecretVersion")
    assert isinstance(version.inputs["secretString"], Secret)
    assert version.inputs["secretString"].value == "hunter2"
    assert "hunter2" not in repr(version.inputs)
    printed = json.dumps(graph.to_json())
    assert "hunter2" not in printed and "s3cret" not in printed
    assert version.to_json()["inputs"]["secretString"] == {"@secret": True}
    assert isinstance(graph.outputs["password"], Secret)
    assert graph.to_json()["outputs"]["password"] == {"@secret": True}


def test_source_positions_are_relative_to_the_repo(graph) -> None:
    key = graph.one("aws:kms/key:Key")
    assert key.source is not None
    assert key.source.file == "tests/mlops/test_engine.py"
    source_lines = HERE.read_text().splitlines()
    assert "aws.kms.Key(" in source_lines[key.source.line - 1]
    box = graph.one("test:box:Box")
    assert box.source is not None and "Box(" in source_lines[box.source.line - 1]


def test_fake_cloud_outputs_are_realistic_and_deterministic(graph) -> None:
    key = graph.one("aws:kms/key:Key")
    assert key.outputs["arn"].startswith("arn:aws:kms:eu-west-1:123456789012:key/")
    again = run_callable(program, project="proj", stack="dev", root=REPO)
    assert again.one("aws:kms/key:Key").outputs["arn"] == key.outputs["arn"]
    assert graph.outputs["keyArn"] == key.outputs["arn"]


def test_a_data_source_without_an_answer_names_the_function() -> None:
    def uses_unknown_data_source() -> None:
        aws.ec2.get_vpc(default=True)

    with pytest.raises(Exception) as info:
        run_callable(uses_unknown_data_source)
    text = str(info.value) + repr(info.value.__cause__ or "")
    assert "aws:ec2/getVpc:getVpc" in text
    assert isinstance(info.value, OfflineCallError) or "offline engine has no answer" in text


def test_data_sources_the_platform_uses_are_answered() -> None:
    seen: dict[str, object] = {}

    def program() -> None:
        seen["zones"] = aws.get_availability_zones(state="available").names
        seen["account"] = aws.get_caller_identity().account_id
        seen["partition"] = aws.get_partition().partition

    run_callable(program, config={"aws:region": "us-east-2"})
    assert seen == {
        "zones": ["us-east-2a", "us-east-2b", "us-east-2c", "us-east-2d"],
        "account": "123456789012",
        "partition": "aws",
    }
