"""Layer ``iam``: parliament over every policy document of the platform; planted defects are caught."""

from __future__ import annotations

import copy
import json

import pytest

from mlops_platform.mlops.graph import Graph, Resource, SourcePosition
from mlops_platform.mlops.verify import accepted, iam
from mlops_platform.mlops.verify.model import VerifyContext

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def _graph(*resources: Resource) -> Graph:
    return Graph(project="mlops-platform", stack="test", resources=list(resources))


def _res(type_: str, name: str, inputs: dict, outputs: dict | None = None) -> Resource:
    return Resource(
        urn=f"urn:pulumi:test::mlops-platform::{type_}::{name}",
        type=type_,
        name=name,
        custom=True,
        inputs=inputs,
        outputs=outputs or {},
        source=SourcePosition("components/example.py", 42),
    )


def _policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _lint(*resources: Resource):
    return iam.check(VerifyContext(graph=_graph(*resources), stack="test", kube_version="1.34"))


BUCKET = "arn:aws:s3:::mlops-test-artifacts"


def test_a_clean_identity_policy_has_no_finding():
    doc = _policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/mlflow/*"})
    assert _lint(_res(ROLE_POLICY, "clean", {"policy": doc})) == []


@pytest.mark.parametrize(
    ("statement", "issue", "detail"),
    [
        # A misspelt action: parliament rates it LOW, and LOW counts.
        (
            {"Effect": "Allow", "Action": "s3:GetObjet", "Resource": f"{BUCKET}/*"},
            "UNKNOWN_ACTION",
            "GetObjet",
        ),
        # A condition key that s3:GetObject does not have (s3:prefix belongs to s3:ListBucket).
        (
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{BUCKET}/*",
                "Condition": {"StringLike": {"s3:prefix": "mlflow/*"}},
            },
            "UNKNOWN_CONDITION_FOR_ACTION",
            "s3:prefix",
        ),
        # An object action on the bucket's ARN: the statement can never allow anything.
        (
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": BUCKET},
            "RESOURCE_MISMATCH",
            "s3:GetObject",
        ),
        # A statement without an Effect.
        ({"Action": "s3:GetObject", "Resource": f"{BUCKET}/*"}, "MALFORMED", "Effect"),
        # A prefix no service has.
        ({"Effect": "Allow", "Action": "s4:GetObject", "Resource": "*"}, "UNKNOWN_PREFIX", "s4"),
    ],
)
def test_planted_defects_in_an_identity_policy_are_findings(statement, issue, detail):
    findings = _lint(_res(ROLE_POLICY, "planted", {"policy": _policy(statement)}))
    assert [f.check for f in findings] == [issue]
    f = findings[0]
    assert (f.layer, f.name, f.type, f.object, f.path) == (
        "iam",
        "planted",
        ROLE_POLICY,
        "policy",
        "Statement[0]",
    )
    assert f.source == SourcePosition("components/example.py", 42)
    assert detail in f.message
    # The message carries the statement itself.
    assert json.dumps(statement, sort_keys=True) in f.message
    # No accepted entry hides a planted defect.
    assert accepted.apply(findings)[0] == findings


def test_malformed_json_and_unknown_elements_are_findings():
    findings = _lint(
        _res(ROLE_POLICY, "not-json", {"policy": '{"Version": "2012-10-17", "Statement": ['}),
        _res(
            ROLE_POLICY, "misspelt-element", {"policy": json.dumps({"Version": "2012-10-17", "Statment": []})}
        ),
    )
    assert [(f.name, f.check) for f in findings] == [
        ("not-json", "MALFORMED_JSON"),
        ("misspelt-element", "MALFORMED"),
    ]
    assert findings[0].path == "" and "json parsing error" in findings[0].message


ROLE_ARN = "arn:aws:iam::123456789012:role/mlops-test-role"


def test_a_trust_policy_is_linted_with_the_role_as_its_resource():
    trust = _policy(
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    role = _res("aws:iam/role:Role", "role", {"assumeRolePolicy": trust}, {"arn": ROLE_ARN})
    # Without the implicit resource parliament would call every trust policy MALFORMED (no Resource).
    assert _lint(role) == []

    typo = _policy(
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRol"}
    )
    [finding] = _lint(_res("aws:iam/role:Role", "role", {"assumeRolePolicy": typo}, {"arn": ROLE_ARN}))
    assert (finding.check, finding.object) == ("UNKNOWN_ACTION", "assumeRolePolicy")
    assert ROLE_ARN in finding.message


def test_role_inline_policies_are_linted():
    inline = [
        {"name": "reads", "policy": _policy({"Effect": "Allow", "Action": "s3:GetObjet", "Resource": "*"})}
    ]
    role = _res("aws:iam/role:Role", "role", {"inlinePolicies": inline}, {"arn": ROLE_ARN})
    [finding] = _lint(role)
    assert (finding.check, finding.object) == ("UNKNOWN_ACTION", "inlinePolicies[reads]")


KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/0c3d16fb-6a6c-40c3-80c3-5c1a1b6d1ce0"


def test_a_key_policy_reads_star_as_the_key():
    doc = _policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": ["kms:Decrypt", "kms:DescribeKey"],
            "Resource": "*",
        }
    )
    # Linted as written, "*" would be RESOURCE_STAR; in a key policy it means this key.
    assert _lint(_res("aws:kms/key:Key", "key", {"policy": doc}, {"arn": KEY_ARN})) == []
    bad = _policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": "logs.eu-west-1.amazonaws.com"},
            "Action": "kms:DescribeKey",
            "Resource": "*",
            "Condition": {
                "ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-west-1:1:log-group:*"}
            },
        }
    )
    checks = {f.check for f in _lint(_res("aws:kms/key:Key", "key", {"policy": bad}, {"arn": KEY_ARN}))}
    assert "UNKNOWN_CONDITION_FOR_ACTION" in checks


def test_an_ecr_repository_policy_is_linted_with_the_repository_as_its_resource():
    repo = _res(
        "aws:ecr/repository:Repository",
        "repo",
        {"name": "mlops-test-mlflow"},
        {
            "name": "mlops-test-mlflow",
            "arn": "arn:aws:ecr:eu-west-1:123456789012:repository/mlops-test-mlflow",
        },
    )
    pull = {
        "Effect": "Allow",
        "Principal": {"AWS": ROLE_ARN},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
    }
    ok = _res(
        "aws:ecr/repositoryPolicy:RepositoryPolicy",
        "pull",
        {"repository": "mlops-test-mlflow", "policy": _policy(pull)},
    )
    assert _lint(repo, ok) == []
    wrong = {**pull, "Action": "ecr:GetAuthorizationTokens"}
    bad = _res(
        "aws:ecr/repositoryPolicy:RepositoryPolicy",
        "pull",
        {"repository": "mlops-test-mlflow", "policy": _policy(wrong)},
    )
    assert [f.check for f in _lint(repo, bad)] == ["UNKNOWN_ACTION"]


def test_a_document_of_an_unlisted_resource_type_is_found_by_its_shape():
    doc = _policy(
        {"Effect": "Allow", "Principal": {"AWS": ROLE_ARN}, "Action": "glacier:UploadArchiv", "Resource": "*"}
    )
    vault = _res("aws:glacier/vault:Vault", "vault", {"accessPolicy": doc, "lifecycle": {"rules": []}})
    [finding] = _lint(vault)
    assert (finding.check, finding.object) == ("UNKNOWN_ACTION", "accessPolicy")
    # ECR lifecycle policies are JSON without a Statement: not IAM, not linted.
    lifecycle = json.dumps({"rules": [{"rulePriority": 1, "action": {"type": "expire"}}]})
    assert _lint(_res("aws:ecr/lifecyclePolicy:LifecyclePolicy", "lc", {"policy": lifecycle})) == []


def test_a_document_with_a_value_unknown_offline_is_reported_not_linted():
    doc = _policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "@unknown"})
    [finding] = _lint(_res(ROLE_POLICY, "later", {"policy": doc}))
    assert finding.check == "UNDETERMINED"


# --------------------------------------------------------------------------------------------------
# The platform's own documents
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_platforms_documents_have_no_finding_but_accepted_ones(stacks, env):
    graph = stacks[env]
    docs = list(iam.documents(graph))
    kinds = {(d.resource.type, d.object) for d in docs}
    for expected in [
        ("aws:iam/role:Role", "assumeRolePolicy"),
        (ROLE_POLICY, "policy"),
        ("aws:kms/key:Key", "policy"),
        ("aws:s3/bucketPolicy:BucketPolicy", "policy"),
        ("aws:sns/topicPolicy:TopicPolicy", "policy"),
        ("aws:ecr/repositoryPolicy:RepositoryPolicy", "policy"),
        # The deploy runner's role carries its policy inline; the interface endpoints have their own.
        ("aws:iam/role:Role", "inlinePolicies[deploy-platform]"),
        ("aws:ec2/vpcEndpoint:VpcEndpoint", "policy"),
    ]:
        assert expected in kinds
    # The database tenant job's role (the only holder of the RDS master secret) is linted too.
    assert any(d.resource.type == ROLE_POLICY and d.resource.name.endswith("-db-tenant-job") for d in docs)
    findings = iam.check(VerifyContext(graph=graph, stack=env, kube_version="1.34"))
    failures, taken = accepted.apply(findings)
    assert failures == [], "\n".join(f"{f.name} {f.object} {f.check}: {f.message}" for f in failures)
    assert all(entry.reason for _, entry in taken)


def test_the_flow_log_role_can_find_its_log_group(stacks):
    """logs:DescribeLogGroups takes no resource ARN: scoped to the group it was never granted."""
    graph = stacks["prod"]
    [doc] = [
        d
        for d in iam.documents(graph)
        if d.resource.type == ROLE_POLICY and d.resource.name.endswith("-flow-logs")
    ]
    statements = json.loads(doc.text)["Statement"]
    describe = [s for s in statements if "logs:DescribeLogGroups" in json.dumps(s.get("Action"))]
    assert [s["Resource"] for s in describe] == ["*"]
    assert iam.lint(doc, graph) == []


def test_the_logs_key_grants_nothing_its_condition_cannot_allow(stacks):
    graph = stacks["prod"]
    key = next(r for r in graph.of_type("aws:kms/key:Key") if r.name.endswith("-logs"))
    [doc] = [d for d in iam.documents(graph) if d.resource is key]
    checks = sorted(f.check for f in iam.lint(doc, graph))
    # Only the two parliament limitations accepted in mlops/verify/accepted.py remain.
    assert checks == ["MISMATCHED_TYPE", "RESOURCE_MISMATCH"]


def test_documents_are_read_from_a_copy_not_changed(stacks):
    graph = stacks["dev"]
    before = copy.deepcopy([r.inputs for r in graph.resources])
    iam.check(VerifyContext(graph=graph, stack="dev", kube_version="1.34"))
    assert [r.inputs for r in graph.resources] == before


def test_setuptools_is_pinned_past_its_cves_and_still_ships_pkg_resources() -> None:
    """parliament imports pkg_resources (gone in setuptools 82); setuptools before 78.1.1 has
    CVE-2022-40897, CVE-2024-6345 and CVE-2025-47273. The pin sits between, and is what is installed."""
    import importlib.metadata
    import re as _re
    import warnings

    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    from mlops_platform.mlops import REPO_ROOT

    constraints = (REPO_ROOT / "constraints.txt").read_text(encoding="utf-8")
    (pin,) = _re.findall(r"^setuptools==(\S+)$", constraints, _re.M)
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (spec,) = _re.findall(r'^\s*"setuptools([^"]+)",$', pyproject, _re.M)
    assert SpecifierSet(spec) == SpecifierSet(">=78.1.1,<82")
    assert Version(pin) in SpecifierSet(spec)
    assert importlib.metadata.version("setuptools") == pin, "the venv runs the pinned setuptools"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pkg_resources  # noqa: F401
