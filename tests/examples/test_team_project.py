"""examples/team-project: a second Pulumi project that consumes the platform, rendered offline.

The platform stack is faked through FakeCloud's StackReference answers; everything else is the real
program with the real components.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from policytest import Checker

from mlops_platform.mlops import REPO_ROOT
from mlops_platform.mlops.engine import run_program
from mlops_platform.mlops.fakecloud import FakeCloud
from mlops_platform.mlops.fakeplatform import platform_outputs
from mlops_platform.mlops.graph import Graph, Secret
from mlops_platform.mlops.stackconfig import load_stack

EXAMPLE = REPO_ROOT / "examples" / "team-project"
PLATFORM = {"dev": "organization/mlops-platform/dev", "prod": "organization/mlops-platform/prod"}


def render_team_project(
    stack: str = "dev", *, outputs: dict | None = None, config: dict[str, str] | None = None
) -> Graph:
    """The example's resource graph for ``stack``, with the platform stack's outputs faked.

    Source positions are relative to the repository root (``examples/team-project/__main__.py``,
    ``components/...``), like the platform's own stacks, so policy reports point at real files."""
    ref = PLATFORM[stack]
    cloud = FakeCloud(region="eu-west-1", stack_references={ref: outputs or platform_outputs(ref)})
    loaded = load_stack(EXAMPLE, stack)
    loaded.values.update({f"team-project:{k}": v for k, v in (config or {}).items()})
    return run_program(loaded, mocks=cloud, root=REPO_ROOT)


@pytest.fixture(scope="module")
def dev() -> Graph:
    return render_team_project("dev")


def test_example_is_its_own_pulumi_project() -> None:
    import yaml

    project = yaml.safe_load((EXAMPLE / "Pulumi.yaml").read_text())
    assert project["name"] == "team-project"
    assert project["runtime"]["name"] == "python"
    assert project["main"] == "."
    stack = yaml.safe_load((EXAMPLE / "Pulumi.dev.yaml").read_text())["config"]
    assert stack["team-project:platformStack"] == PLATFORM["dev"]
    assert stack["aws:region"]


def test_reads_the_platform_through_one_stack_reference(dev: Graph) -> None:
    refs = dev.of_type("pulumi:pulumi:StackReference")
    assert [r.inputs["name"] for r in refs] == [PLATFORM["dev"]]


def test_governance_tags_on_its_own_provider(dev: Graph) -> None:
    provider = dev.one("pulumi:providers:aws", "team-aws")
    tags = json.loads(provider.inputs["defaultTags"])["tags"]
    assert tags == {
        "environment": "dev",
        "owner": "fraud-ml",
        "cost-center": "cc-ml-2001",
        "data-classification": "confidential",
        "managed-by": "pulumi",
        "team": "fraud",
    }
    aws_resources = [r for r in dev.resources if r.custom and r.type.startswith("aws:")]
    assert aws_resources
    assert all(r.provider and r.provider.endswith("::team-aws") for r in aws_resources), [
        r.urn for r in aws_resources if not (r.provider or "").endswith("::team-aws")
    ]


def test_uses_the_platform_components_with_the_platform_key(dev: Graph) -> None:
    outputs = platform_outputs(PLATFORM["dev"])
    store = dev.one("mlops:artifact_store:ArtifactStore", "fraud-dev-artifacts")
    registry = dev.one("mlops:container_registry:ContainerRegistry", "fraud-dev-registry")
    assert dev.of_type("mlops:monitoring:ModelMonitoring")
    buckets = [r for r in dev.of_type("aws:s3/bucket:Bucket") if r.parent == store.urn]
    assert {b.inputs["bucket"] for b in buckets} >= {"fraud-dev-artifacts-123456789012"}
    sse = dev.of_type(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    keys = {
        rule["applyServerSideEncryptionByDefault"].get("kmsMasterKeyId")
        for r in sse
        for rule in r.inputs["rules"]
    }
    assert outputs["kmsDataKeyArn"] in keys
    repos = [r for r in dev.of_type("aws:ecr/repository:Repository") if r.parent == registry.urn]
    assert sorted(r.inputs["name"] for r in repos) == ["fraud-dev/serving", "fraud-dev/training"]
    assert all(r.inputs["encryptionConfigurations"][0]["kmsKey"] == outputs["kmsDataKeyArn"] for r in repos)
    # dev does not protect (team-project:protect false); prod does, see below.
    assert not any(r.protect for r in buckets + repos)


def test_training_role_is_trusted_by_one_service_account_only(dev: Graph) -> None:
    outputs = platform_outputs(PLATFORM["dev"])
    role = dev.one("aws:iam/role:Role", "fraud-dev-training")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Federated": outputs["oidcProviderArn"]}
    host = outputs["oidcIssuer"].removeprefix("https://")
    assert statement["Condition"]["StringEquals"] == {
        f"{host}:sub": "system:serviceaccount:fraud:fraud-training",
        f"{host}:aud": "sts.amazonaws.com",
    }
    policy = dev.one("aws:iam/rolePolicy:RolePolicy", "fraud-dev-training-artifacts")
    document = json.loads(policy.inputs["policy"])
    resources = json.dumps(document)
    assert "arn:aws:s3:::fraud-dev-artifacts-123456789012" in resources
    assert outputs["artifactBucketArn"] not in resources  # the team's bucket, not the platform's


def test_kubernetes_objects_use_the_platform_kubeconfig_as_a_secret(dev: Graph) -> None:
    provider = dev.one("pulumi:providers:kubernetes", "team-k8s")
    assert isinstance(provider.inputs["kubeconfig"], Secret)
    namespace = dev.one("kubernetes:core/v1:Namespace", "fraud-dev-namespace")
    assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    sa = dev.one("kubernetes:core/v1:ServiceAccount", "fraud-dev-training-sa")
    assert sa.inputs["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(
        ":role/fraud-dev-training"
    )
    k8s_objects = [r for r in dev.resources if r.custom and r.type.startswith("kubernetes:")]
    assert all(r.provider and r.provider.endswith("::team-k8s") for r in k8s_objects)


def test_source_positions_point_at_repository_files(dev: Graph) -> None:
    role = dev.one("aws:iam/role:Role", "fraud-dev-training")
    assert role.source is not None and role.source.file == "examples/team-project/__main__.py"


def test_prod_protects_the_team_state() -> None:
    prod = render_team_project("prod")
    stateful = prod.of_type("aws:s3/bucket:Bucket") + prod.of_type("aws:ecr/repository:Repository")
    assert stateful and all(r.protect and r.retain_on_delete for r in stateful)


def test_refuses_a_platform_of_another_environment() -> None:
    with pytest.raises(Exception, match="is the 'prod' platform, but this stack is 'dev'"):
        render_team_project("dev", outputs=platform_outputs(PLATFORM["prod"]))


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("environment", "qa", "team-project:environment: 'qa' is not one of dev, staging, prod"),
        ("dataClassification", "secret", "'secret' is not one of public, internal, confidential, restricted"),
        ("owner", "fraud;ml", "team-project:owner: 'fraud;ml' is not a valid AWS tag value"),
    ],
)
def test_refuses_governance_values_the_platform_does_not_know(key: str, value: str, message: str) -> None:
    with pytest.raises(Exception, match=re.escape(message)):
        render_team_project("dev", config={key: value})


def test_mlops_plan_renders_the_example_with_the_built_in_fake_platform(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mlops_platform.mlops.cli import main

    assert main(["--root", str(EXAMPLE), "plan", "dev"]) == 0
    out = capsys.readouterr().out
    assert "team-project/dev" in out and "fraud-dev-training" in out


def test_example_path_is_a_directory() -> None:
    assert Path(EXAMPLE, "__main__.py").is_file()


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_policy_pack_is_clean_on_the_example(checker: Checker, stack: str) -> None:
    result = checker.run(render_team_project(stack), stack)
    assert result.violations == [], [(v.policy, v.name, v.message) for v in result.violations]
    assert result.undetermined == []
