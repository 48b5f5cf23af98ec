"""mlops_platform.components.monitoring.alerting: Alertmanager's routing, the topic policy, Alertmanager's publish policy."""

from __future__ import annotations

import json

import pytest
from monitoring_support import ACCOUNT, KEY_ARN, PROVIDER_ARN, base_args, render, topic_arn, values

from mlops_platform.components.monitoring.alerting import (
    alertmanager_config,
    alertmanager_publish_policy,
    arn_parts,
    topic_policy,
)
from mlops_platform.mlops.graph import Graph


def test_alertmanager_routes_by_severity_to_sns_and_never_to_null(graph: Graph) -> None:
    config = values(graph)["alertmanager"]["config"]
    receivers = {r["name"]: r for r in config["receivers"]}
    assert "null" not in receivers
    route = config["route"]
    assert route["receiver"] == "sns"
    for sub in route["routes"]:
        assert sub["receiver"] in receivers
    by_matcher = {m: sub["receiver"] for sub in route["routes"] for m in sub["matchers"]}
    assert by_matcher['severity = "critical"'] == "sns"
    assert by_matcher['severity = "warning"'] == "sns"
    assert by_matcher['alertname = "Watchdog"'] == "heartbeat"
    sns = receivers["sns"]["sns_configs"][0]
    assert sns["topic_arn"] == topic_arn(graph)
    # Credentials come from the IRSA token: no keys, no role to assume on top of it.
    assert sns["sigv4"] == {"region": "eu-west-1"}
    assert sns["send_resolved"] is True
    assert values(graph)["alertmanager"]["tplConfig"] is False
    # Without a dead-man's switch, the heartbeat has no integration (and nothing is mounted).
    assert receivers["heartbeat"] == {"name": "heartbeat"}
    assert values(graph)["alertmanager"]["alertmanagerSpec"]["secrets"] == []


def test_heartbeat_posts_to_a_url_read_from_a_mounted_secret() -> None:
    v = values(render(base_args(heartbeat_url_secret="deadmans-switch")))
    receivers = {r["name"]: r for r in v["alertmanager"]["config"]["receivers"]}
    assert receivers["heartbeat"]["webhook_configs"] == [
        {"url_file": "/etc/alertmanager/secrets/deadmans-switch/url", "send_resolved": False}
    ]
    assert v["alertmanager"]["alertmanagerSpec"]["secrets"] == ["deadmans-switch"]


# ---- the pure documents ----------------------------------------------------------------------------------

TOPIC = f"arn:aws:sns:eu-west-1:{ACCOUNT}:mon-alerts"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/mon-alertmanager"


def test_arn_parts() -> None:
    assert arn_parts(PROVIDER_ARN) == ("aws", ACCOUNT)
    assert arn_parts(f"arn:aws-us-gov:iam::{ACCOUNT}:oidc-provider/x") == ("aws-us-gov", ACCOUNT)
    for bad in ("arn:aws:iam::aws:policy/x", "not-an-arn", "arn:aws:s3:::bucket"):
        with pytest.raises(ValueError, match="is not an account-scoped ARN"):
            arn_parts(bad)


def test_topic_policy_admits_this_accounts_alarms_and_the_alertmanager_role_over_tls() -> None:
    cloudwatch, alertmanager, deny = json.loads(topic_policy(TOPIC, ROLE, PROVIDER_ARN, "eu-west-1"))[
        "Statement"
    ]
    assert cloudwatch == {
        "Sid": "CloudWatchAlarmsPublish",
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": TOPIC,
        "Condition": {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:*"},
        },
    }
    assert alertmanager["Principal"] == {"AWS": ROLE} and alertmanager["Resource"] == TOPIC
    assert (deny["Effect"], deny["Principal"], deny["Condition"]) == (
        "Deny",
        "*",
        {"Bool": {"aws:SecureTransport": "false"}},
    )
    gov = json.loads(
        topic_policy(TOPIC, ROLE, f"arn:aws-us-gov:iam::{ACCOUNT}:oidc-provider/x", "us-gov-west-1")
    )
    assert gov["Statement"][0]["Condition"]["ArnLike"] == {
        "aws:SourceArn": f"arn:aws-us-gov:cloudwatch:us-gov-west-1:{ACCOUNT}:alarm:*"
    }


def test_alertmanager_publishes_to_the_topic_and_uses_its_key_through_sns_only() -> None:
    assert json.loads(alertmanager_publish_policy(TOPIC, KEY_ARN, "eu-west-1")) == {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Publish", "Effect": "Allow", "Action": "sns:Publish", "Resource": TOPIC},
            {
                "Sid": "EncryptForTopic",
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                "Resource": KEY_ARN,
                "Condition": {"StringEquals": {"kms:ViaService": "sns.eu-west-1.amazonaws.com"}},
            },
        ],
    }


def test_alertmanager_config_routes_and_inhibitions() -> None:
    config = alertmanager_config(TOPIC, "eu-west-1")
    assert [r["receiver"] for r in config["route"]["routes"]] == ["heartbeat", "sns", "sns"]
    assert [r["repeat_interval"] for r in config["route"]["routes"]] == ["5m", "4h", "12h"]
    assert config["receivers"][1] == {"name": "heartbeat"}
    assert config["inhibit_rules"][-1] == {"target_matchers": ['alertname = "InfoInhibitor"']}
    (sns,) = config["receivers"][0]["sns_configs"]
    assert sns["attributes"]["source"] == "alertmanager"
