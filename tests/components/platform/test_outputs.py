"""The stack outputs contract: export names, exporting, reading back through a StackReference, docs."""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any

import pulumi
import pytest

from mlops_platform.components.platform import outputs as contract
from mlops_platform.components.platform.outputs import (
    CONTRACT_VERSION_EXPORT,
    EXPORT_NAMES,
    OUTPUTS_VERSION,
    PlatformContractError,
    PlatformOutputs,
    contract_exports,
    export_platform_outputs,
    stack_outputs,
)
from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.fakecloud import FakeCloud
from mlops_platform.mlops.fakeplatform import platform_outputs
from mlops_platform.mlops.graph import Secret

STACK = "acme/mlops-platform/prod"
REQUIRED_FIELDS = {
    "artifact_bucket_name",
    "artifact_bucket_arn",
    "database_endpoint",
    "database_port",
    "database_secret_arn",
    "cluster_name",
    "cluster_endpoint",
    "oidc_provider_arn",
    "oidc_issuer",
    "kubeconfig",
    "ecr_repository_urls",
    "mlflow_url",
    "alert_topic_arn",
    "kms_data_key_arn",
    "kms_logs_key_arn",
    "kms_cluster_key_arn",
    "vpc_id",
    "private_subnet_ids",
    "node_security_group_id",
    "node_role_arn",
    "environment",
    "contract_version",
}


def test_contract_has_every_documented_field_with_a_unique_camel_case_export() -> None:
    assert set(EXPORT_NAMES) == REQUIRED_FIELDS
    names = list(EXPORT_NAMES.values())
    assert len(set(names)) == len(names)
    for name in names:
        assert re.fullmatch(r"[a-z][A-Za-z0-9]*", name), name
    assert EXPORT_NAMES["contract_version"] == CONTRACT_VERSION_EXPORT == "contractVersion"
    assert OUTPUTS_VERSION == "1"
    for f in fields(PlatformOutputs):
        assert len(f.metadata["doc"]) > 20, f"{f.name} needs a real description"
    assert {"kubeconfig"} == contract.SECRET_FIELDS


def test_platform_outputs_is_frozen() -> None:
    values: dict[str, Any] = {name: pulumi.Output.from_input("x") for name in EXPORT_NAMES}
    outputs = PlatformOutputs(**values)
    with pytest.raises(AttributeError):
        outputs.vpc_id = pulumi.Output.from_input("y")  # type: ignore[misc]


def _values() -> dict[str, Any]:
    by_export = platform_outputs(STACK)
    return {field: by_export[export] for field, export in EXPORT_NAMES.items() if field != "contract_version"}


def test_export_platform_outputs_exports_every_name_and_the_version() -> None:
    graph = run_callable(lambda: export_platform_outputs(_values()))
    assert set(graph.outputs) == set(EXPORT_NAMES.values())
    assert graph.outputs[CONTRACT_VERSION_EXPORT] == OUTPUTS_VERSION
    assert isinstance(graph.outputs["kubeconfig"], Secret)
    assert not isinstance(graph.outputs["artifactBucketArn"], Secret)
    assert graph.outputs["databasePort"] == 5432
    assert graph.outputs["ecrRepositoryUrls"]["training"].endswith("/mlops-prod/training")


def test_export_platform_outputs_rejects_holes_and_unknown_keys() -> None:
    values = _values()
    del values["kubeconfig"], values["vpc_id"]
    values["bucket"] = "x"
    with pytest.raises(ValueError, match=r"missing kubeconfig, vpc_id; unknown bucket"):
        export_platform_outputs(values)
    with pytest.raises(ValueError, match="unknown contract_version"):
        export_platform_outputs({**_values(), "contract_version": "2"})


def test_contract_exports_are_by_export_name_in_field_order_with_the_version_last() -> None:
    values = _values()
    exports = contract_exports(values)
    assert list(exports) == [EXPORT_NAMES[f.name] for f in fields(PlatformOutputs)]
    assert exports[CONTRACT_VERSION_EXPORT] == OUTPUTS_VERSION
    assert exports["vpcId"] is values["vpc_id"]
    assert (
        isinstance(exports["kubeconfig"], pulumi.Output) and exports["kubeconfig"] is not values["kubeconfig"]
    )


def test_stack_outputs_put_the_contract_first_then_the_operational_outputs() -> None:
    values = _values()
    flow_logs = pulumi.Output.from_input("flow-logs")
    exports = stack_outputs(
        values, {"flowLogGroupName": flow_logs, "alertTopicArn": values["alert_topic_arn"]}
    )
    assert list(exports) == [*contract_exports(values), "flowLogGroupName"]
    assert exports["flowLogGroupName"] is flow_logs
    assert exports["alertTopicArn"] is values["alert_topic_arn"], "a repeated contract export keeps its value"


def test_stack_outputs_refuse_an_operational_output_that_redefines_a_contract_export() -> None:
    with pytest.raises(ValueError, match="'vpcId' is a contract export"):
        stack_outputs(_values(), {"vpcId": pulumi.Output.from_input("vpc-other")})
    with pytest.raises(ValueError, match="missing vpc_id"):
        stack_outputs({k: v for k, v in _values().items() if k != "vpc_id"}, {})


def _read(exports: dict[str, Any], *, secret: list[str] | None = None) -> Any:
    """Read STACK through PlatformOutputs.from_stack and export every field, so the graph shows them."""

    def program() -> None:
        platform = PlatformOutputs.from_stack(STACK)
        for f in fields(PlatformOutputs):
            pulumi.export(f.name, getattr(platform, f.name))

    return run_callable(program, mocks=FakeCloud(stack_references={STACK: exports}))


def test_from_stack_reads_every_output_typed() -> None:
    raw = platform_outputs(STACK)
    raw["databasePort"] = 5432.0  # JSON numbers can arrive as floats
    graph = _read(raw)
    ref = graph.one("pulumi:pulumi:StackReference", STACK)
    assert ref.inputs["name"] == STACK
    out = graph.outputs
    assert out["database_port"] == 5432 and isinstance(out["database_port"], int)
    assert out["cluster_name"] == "mlops-prod-eks"
    assert out["private_subnet_ids"] == raw["privateSubnetIds"]
    assert out["ecr_repository_urls"] == raw["ecrRepositoryUrls"]
    assert out["contract_version"] == OUTPUTS_VERSION
    # kubeconfig is a secret even when the referenced stack did not mark it as one.
    assert isinstance(out["kubeconfig"], Secret)
    assert not isinstance(out["vpc_id"], Secret)


def test_from_stack_refuses_another_contract_version() -> None:
    raw = {**platform_outputs(STACK), CONTRACT_VERSION_EXPORT: "2"}
    with pytest.raises(PlatformContractError, match=r"contract version '2'.*reads version '1'"):
        _read(raw)


def test_from_stack_refuses_a_stack_without_the_contract() -> None:
    with pytest.raises(PlatformContractError, match="exports no 'contractVersion'"):
        _read({"vpcId": "vpc-1"})


def test_from_stack_names_every_missing_output() -> None:
    raw = platform_outputs(STACK)
    del raw["kubeconfig"], raw["alertTopicArn"]
    with pytest.raises(PlatformContractError, match="lacks the outputs kubeconfig, alertTopicArn"):
        _read(raw)


def test_fake_cloud_answers_any_platform_stack_with_the_contract() -> None:
    graph = run_callable(
        lambda: pulumi.export("env", PlatformOutputs.from_stack("acme/mlops-platform/staging").environment)
    )
    assert graph.outputs["env"] == "staging"


def test_docs_table_is_generated_from_the_contract() -> None:
    text = contract.DOCS_PATH.read_text(encoding="utf-8")
    assert text == contract.render_docs(text), (
        "docs/outputs.md is stale: run `python -m mlops_platform.components.platform.outputs --write`"
    )
    for export in EXPORT_NAMES.values():
        assert f"| `{export}` |" in text
    assert contract.main(["--check"]) == 0


def test_platform_stack_exports_the_whole_contract() -> None:
    """The platform's own program (stacks/__main__.py) exports the contract MlopsPlatform declares."""
    from mlops_platform.mlops import REPO_ROOT
    from mlops_platform.mlops.engine import render

    graph = render("dev", REPO_ROOT)
    assert set(EXPORT_NAMES.values()) <= set(graph.outputs)
    assert graph.outputs[CONTRACT_VERSION_EXPORT] == OUTPUTS_VERSION
    assert isinstance(graph.outputs["kubeconfig"], Secret)
    assert graph.outputs["environment"] == "dev"
    assert "mlflow" in graph.outputs["ecrRepositoryUrls"]


class _SecretKubeconfigCloud(FakeCloud):
    """Answers the StackReference like the real engine when the platform exported kubeconfig as a secret."""

    def new_resource(self, args: Any) -> tuple[str | None, dict[str, Any]]:
        rid, state = super().new_resource(args)
        if args.typ == "pulumi:pulumi:StackReference":
            outputs = dict(state["outputs"])
            outputs["kubeconfig"] = pulumi.Output.secret(outputs["kubeconfig"])
            state = {**state, "outputs": outputs, "secretOutputNames": ["kubeconfig"]}
        return rid, state


def test_one_secret_output_does_not_make_every_field_secret() -> None:
    def program() -> None:
        platform = PlatformOutputs.from_stack(STACK)
        pulumi.export("vpc", platform.vpc_id)
        pulumi.export("kubeconfig", platform.kubeconfig)

    graph = run_callable(
        program, mocks=_SecretKubeconfigCloud(stack_references={STACK: platform_outputs(STACK)})
    )
    assert isinstance(graph.outputs["kubeconfig"], Secret)
    assert not isinstance(graph.outputs["vpc"], Secret), "an ARN or ID must not turn secret"
