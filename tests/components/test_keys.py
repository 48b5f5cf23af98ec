"""Keys under the recording monitor: three rotating keys, aliases, key policies, protection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_platform.components.aws_context import AwsContext
from mlops_platform.components.keys import PURPOSES, Keys, KeysArgs, key_policy
from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.fakecloud import ACCOUNT_ID, FakeCloud
from mlops_platform.mlops.graph import Graph

REPO = Path(__file__).resolve().parents[2]
CTX = AwsContext(account_id="210987654321", region="eu-central-1")


def render(args: KeysArgs, region: str = "eu-west-1") -> Graph:
    return run_callable(lambda: Keys("kms", args), root=REPO, config={"aws:region": region})


@pytest.fixture(scope="module")
def graph() -> Graph:
    return render(KeysArgs(prefix="mlops-test", deletion_window_days=14, protect=True, aws_context=CTX))


def policy_of(graph: Graph, purpose: str) -> dict:
    return json.loads(graph.one("aws:kms/key:Key", f"kms-{purpose}").inputs["policy"])


def test_one_rotating_symmetric_key_per_purpose(graph: Graph) -> None:
    keys = graph.of_type("aws:kms/key:Key")
    assert sorted(k.name for k in keys) == sorted(f"kms-{p}" for p in PURPOSES)
    component = graph.one("mlops:keys:Keys", "kms")
    for key in keys:
        assert key.parent == component.urn
        assert key.inputs["enableKeyRotation"] is True
        assert key.inputs["rotationPeriodInDays"] == 365
        assert key.inputs["deletionWindowInDays"] == 14
        assert key.inputs["keyUsage"] == "ENCRYPT_DECRYPT"
        assert key.inputs["customerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
        assert key.inputs["multiRegion"] is False
        assert key.inputs["bypassPolicyLockoutSafetyCheck"] is False
        assert key.protect and key.retain_on_delete


def test_aliases_name_each_key(graph: Graph) -> None:
    by_urn = graph.by_urn()
    for purpose in PURPOSES:
        alias = graph.one("aws:kms/alias:Alias", f"kms-{purpose}")
        assert alias.inputs["name"] == f"alias/mlops-test-{purpose}"
        key = graph.one("aws:kms/key:Key", f"kms-{purpose}")
        assert alias.inputs["targetKeyId"] == key.outputs["keyId"]
        assert key.urn in alias.property_dependencies["targetKeyId"]
        assert alias.parent is not None
        assert by_urn[alias.parent].type == "mlops:keys:Keys"


def pinned_to_one_role(statement: dict, account: str) -> bool:
    """A '*' principal the conditions narrow to one role of ``account``: kms:CallerAccount is the account and
    aws:PrincipalArn (ArnEquals, no wildcard) is exactly one role ARN of it."""
    condition = statement.get("Condition", {})
    arn = condition.get("ArnEquals", {}).get("aws:PrincipalArn")
    return (
        statement["Principal"] == {"AWS": "*"}
        and condition.get("StringEquals", {}).get("kms:CallerAccount") == account
        and isinstance(arn, str)
        and "*" not in arn
        and "?" not in arn
        and arn.startswith(f"arn:aws:iam::{account}:role/")
    )


def test_every_policy_is_administered_by_the_concrete_account_and_no_wildcard_principal(graph: Graph) -> None:
    for purpose in PURPOSES:
        policy = policy_of(graph, purpose)
        root = policy["Statement"][0]
        assert root["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}
        assert root["Action"] == "kms:*"
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow"
            assert statement["Principal"] != "*"
            if "*" in json.dumps(statement["Principal"]):
                # '*' only pinned to one role of the account (a role the key may predate): the EKS cluster role,
                # the EC2 Spot service-linked role; see the cluster-key tests below.
                assert pinned_to_one_role(statement, "210987654321"), statement["Sid"]


def test_an_unpinned_wildcard_principal_is_not_taken_for_a_pinned_one() -> None:
    spot = "arn:aws:iam::210987654321:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot"
    pinned = {
        "Principal": {"AWS": "*"},
        "Condition": {
            "StringEquals": {"kms:CallerAccount": "210987654321"},
            "ArnEquals": {"aws:PrincipalArn": spot},
        },
    }
    assert pinned_to_one_role(pinned, "210987654321")
    for unpinned in (
        {"Principal": {"AWS": "*"}},
        {**pinned, "Condition": {"StringEquals": {"kms:CallerAccount": "210987654321"}}},
        {**pinned, "Condition": {"ArnEquals": {"aws:PrincipalArn": spot}}},
        {
            **pinned,
            "Condition": {
                **pinned["Condition"],
                "ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::210987654321:role/*"},
            },
        },
        {**pinned, "Condition": {**pinned["Condition"], "ArnEquals": {"aws:PrincipalArn": [spot, spot]}}},
        {
            **pinned,
            "Condition": {**pinned["Condition"], "StringEquals": {"kms:CallerAccount": "111111111111"}},
        },
    ):
        assert not pinned_to_one_role(unpinned, "210987654321"), unpinned


def test_logs_key_admits_cloudwatch_logs_for_the_accounts_log_groups_only(graph: Graph) -> None:
    statements = policy_of(graph, "logs")["Statement"]
    logs = [s for s in statements if s["Principal"] == {"Service": "logs.eu-central-1.amazonaws.com"}]
    assert len(logs) == 1
    assert "kms:GenerateDataKey*" in logs[0]["Action"]
    assert logs[0]["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-central-1:210987654321:log-group:*"
        }
    }
    # No other key admits CloudWatch Logs.
    for purpose in ("data", "cluster"):
        assert "logs." not in json.dumps(policy_of(graph, purpose))


def test_data_key_is_used_through_the_data_services_of_the_account(graph: Graph) -> None:
    statements = {s["Sid"]: s for s in policy_of(graph, "data")["Statement"]}
    use = statements["AllowAccountUseThroughDataServices"]
    assert use["Condition"]["StringEquals"]["kms:CallerAccount"] == "210987654321"
    assert use["Condition"]["StringEquals"]["kms:ViaService"] == [
        "s3.eu-central-1.amazonaws.com",
        "rds.eu-central-1.amazonaws.com",
        "secretsmanager.eu-central-1.amazonaws.com",
        "sns.eu-central-1.amazonaws.com",
    ]
    grants = statements["AllowGrantsForDataServices"]
    assert grants["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}


def test_cloudwatch_alarms_use_the_data_key_only_for_alarms_of_this_account(graph: Graph) -> None:
    statements = {s["Sid"]: s for s in policy_of(graph, "data")["Statement"]}
    alarms = statements["AllowCloudWatchAlarmsToEncryptedTopics"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert alarms["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "210987654321"},
        "ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:eu-central-1:210987654321:alarm:*"},
    }


def test_cluster_key_grants_the_named_cluster_role_directly(graph: Graph) -> None:
    statements = {s["Sid"]: s for s in policy_of(graph, "cluster")["Statement"]}
    role = statements["AllowEksClusterRoleEnvelopeEncryption"]
    # '*' because the role does not exist yet when the key is created (KMS rejects a policy naming an
    # unknown principal); the account and the role's exact ARN pin it.
    assert role["Principal"] == {"AWS": "*"}
    assert role["Action"] == ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"]
    assert role["Condition"] == {
        "StringEquals": {"kms:CallerAccount": "210987654321"},
        "ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::210987654321:role/mlops-test-eks-cluster"},
    }
    assert "kms:*" not in role["Action"] and "kms:CreateGrant" not in role["Action"]


def test_cluster_role_name_can_be_given_and_is_required_for_the_cluster_key() -> None:
    doc = key_policy("cluster", CTX, cluster_role="other-cluster")
    (role,) = [s for s in doc["Statement"] if s["Sid"] == "AllowEksClusterRoleEnvelopeEncryption"]
    assert role["Condition"]["ArnEquals"]["aws:PrincipalArn"].endswith(":role/other-cluster")
    with pytest.raises(ValueError, match="cluster role"):
        key_policy("cluster", CTX)


def test_cluster_key_is_used_through_eks_and_ec2_and_by_auto_scaling() -> None:
    statements = {s["Sid"]: s for s in key_policy("cluster", CTX, cluster_role="c")["Statement"]}
    use = statements["AllowAccountUseThroughEksAndEc2"]
    assert use["Condition"]["StringEquals"]["kms:ViaService"] == [
        "eks.eu-central-1.amazonaws.com",
        "ec2.eu-central-1.amazonaws.com",
    ]
    slr = f"arn:aws:iam::{CTX.account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    # Node root volumes are encrypted by Auto Scaling's service-linked role, and only it gets these.
    assert statements["AllowAutoScalingToUseTheKeyForNodeVolumes"]["Principal"] == {"AWS": slr}
    grant = statements["AllowAutoScalingGrantsForNodeVolumes"]
    assert grant["Principal"] == {"AWS": slr} and grant["Action"] == "kms:CreateGrant"
    assert grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def test_cluster_key_lets_the_spot_role_encrypt_node_volumes_only_with_karpenter(graph: Graph) -> None:
    spot = "arn:aws:iam::210987654321:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot"
    pinned = {
        "StringEquals": {"kms:CallerAccount": "210987654321"},
        "ArnEquals": {"aws:PrincipalArn": spot},
    }
    # The Keys of the graph keep the default interruption queue (Karpenter on).
    statements = {s["Sid"]: s for s in policy_of(graph, "cluster")["Statement"]}
    use = statements["AllowEc2SpotToUseTheKeyForNodeVolumes"]
    assert use["Principal"] == {"AWS": "*"} and use["Condition"] == pinned
    assert use["Action"] == [
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ReEncrypt*",
        "kms:GenerateDataKey*",
        "kms:DescribeKey",
    ]
    grant = statements["AllowEc2SpotGrantsForNodeVolumes"]
    assert grant["Principal"] == {"AWS": "*"} and grant["Action"] == "kms:CreateGrant"
    assert grant["Condition"] == {**pinned, "Bool": {"kms:GrantIsForAWSResource": "true"}}
    # Without Karpenter (no interruption queue) nothing launches Spot nodes: no Spot statement.
    without = key_policy("cluster", CTX, cluster_role="c")
    assert not [s for s in without["Statement"] if "Spot" in s["Sid"]]
    with_queue = key_policy("cluster", CTX, cluster_role="c", interruption_queue="c-karpenter")
    assert {"AllowEc2SpotToUseTheKeyForNodeVolumes", "AllowEc2SpotGrantsForNodeVolumes"} <= {
        s["Sid"] for s in with_queue["Statement"]
    }


def test_unknown_purpose_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown key purpose"):
        key_policy("backups", CTX)


def test_account_and_region_are_looked_up_when_not_given() -> None:
    graph = render(KeysArgs(prefix="solo"), region="us-east-2")
    statements = policy_of(graph, "logs")["Statement"]
    assert statements[0]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}
    assert statements[1]["Principal"] == {"Service": "logs.us-east-2.amazonaws.com"}
    # Safe defaults when used alone: longest deletion window, protected.
    for key in graph.of_type("aws:kms/key:Key"):
        assert key.inputs["deletionWindowInDays"] == 30
        assert key.protect and key.retain_on_delete


def test_unprotected_keys_when_the_caller_opts_out() -> None:
    graph = run_callable(
        lambda: Keys("kms", KeysArgs(prefix="dev", deletion_window_days=7, protect=False, aws_context=CTX)),
        root=REPO,
        mocks=FakeCloud(),
    )
    for key in graph.of_type("aws:kms/key:Key"):
        assert not key.protect and not key.retain_on_delete
        assert key.inputs["deletionWindowInDays"] == 7


@pytest.mark.parametrize("window", [6, 31])
def test_deletion_window_out_of_range(window: int) -> None:
    with pytest.raises(ValueError, match="deletion_window_days"):
        render(KeysArgs(prefix="x", deletion_window_days=window, aws_context=CTX))


@pytest.mark.parametrize(
    ("purpose", "sids"),
    [
        ("logs", ["EnableAccountAdministration", "AllowCloudWatchLogsForAccountLogGroups"]),
        (
            "data",
            [
                "EnableAccountAdministration",
                "AllowAccountUseThroughDataServices",
                "AllowGrantsForDataServices",
                "AllowCloudWatchAlarmsToEncryptedTopics",
            ],
        ),
        (
            "cluster",
            [
                "EnableAccountAdministration",
                "AllowEksClusterRoleEnvelopeEncryption",
                "AllowAccountUseThroughEksAndEc2",
                "AllowAutoScalingToUseTheKeyForNodeVolumes",
                "AllowAutoScalingGrantsForNodeVolumes",
            ],
        ),
    ],
)
def test_each_purpose_is_the_administration_statement_then_its_own_in_order(
    purpose: str, sids: list[str]
) -> None:
    doc = key_policy(purpose, CTX, cluster_role="mlops-prod-eks-cluster")
    assert doc["Version"] == "2012-10-17"
    assert doc["Id"] == f"{purpose}-key-policy"
    assert [s["Sid"] for s in doc["Statement"]] == sids
    assert doc["Statement"][0] == {
        "Sid": "EnableAccountAdministration",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
        "Action": "kms:*",
        "Resource": "*",
    }


def test_data_key_grants_need_an_aws_resource_and_a_data_service() -> None:
    statements = {s["Sid"]: s for s in key_policy("data", CTX)["Statement"]}
    grants = statements["AllowGrantsForDataServices"]["Condition"]
    assert grants == {
        "StringEquals": {
            "kms:CallerAccount": "210987654321",
            "kms:ViaService": [
                "s3.eu-central-1.amazonaws.com",
                "rds.eu-central-1.amazonaws.com",
                "secretsmanager.eu-central-1.amazonaws.com",
                "sns.eu-central-1.amazonaws.com",
            ],
        },
        "Bool": {"kms:GrantIsForAWSResource": "true"},
    }
    assert statements["AllowAccountUseThroughDataServices"]["Condition"] == {
        "StringEquals": grants["StringEquals"]
    }
