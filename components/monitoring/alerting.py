"""Where alerts go: Alertmanager's routing (:func:`alertmanager_config`), the SNS topic's policy
(:func:`topic_policy`) and what Alertmanager's role may do with the topic (:func:`alertmanager_publish_policy`).

Pure functions: documents are built in Python and serialised with ``json.dumps``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi

__all__ = ["alertmanager_config", "alertmanager_publish_policy", "arn_parts", "topic_policy"]


def arn_parts(arn: str) -> tuple[str, str]:
    """(partition, account) of an ARN such as arn:aws:iam::123456789012:oidc-provider/..."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or not re.match(r"^\d{12}$", parts[4]):
        raise ValueError(f"{arn!r} is not an account-scoped ARN")
    return parts[1], parts[4]


def topic_policy(topic_arn: str, publisher_role_arn: str, provider_arn: str, region: str) -> str:
    """Only CloudWatch alarms of this account and the Alertmanager role may publish; TLS only."""
    partition, account = arn_parts(provider_arn)
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "CloudWatchAlarmsPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {
                            "aws:SourceArn": f"arn:{partition}:cloudwatch:{region}:{account}:alarm:*"
                        },
                    },
                },
                {
                    "Sid": "AlertmanagerPublish",
                    "Effect": "Allow",
                    "Principal": {"AWS": publisher_role_arn},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                },
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        }
    )


def alertmanager_config(
    topic_arn: pulumi.Input[str], region: str, heartbeat_url_secret: str | None = None
) -> dict[str, Any]:
    """Alertmanager's routing: everything reaches the SNS topic except ``Watchdog`` (the always-firing
    heartbeat), which goes to ``heartbeat``: a dead-man's-switch URL read from a mounted Secret when
    ``heartbeat_url_secret`` is given, no integration otherwise (so it does not mail anyone every few
    hours). There is no ``null`` receiver. ``InfoInhibitor`` (a meta-alert) is silenced by the last
    inhibition rule, as in the chart's own configuration.

    SigV4 gets only the region: with no keys and no ``role_arn``, Alertmanager's AWS SDK uses the
    default credential chain, i.e. the IRSA web-identity token of its service account.
    """
    sns = {
        "topic_arn": topic_arn,
        "sigv4": {"region": region},
        "send_resolved": True,
        # SNS subjects are limited to 100 printable ASCII characters; attributes must be non-empty.
        "subject": '[{{ .Status | toUpper }}] {{ .GroupLabels.alertname }} ({{ or .CommonLabels.severity "mixed" }})',
        "attributes": {
            "severity": '{{ or .CommonLabels.severity "mixed" }}',
            "status": "{{ .Status }}",
            "source": "alertmanager",
        },
    }
    heartbeat: dict[str, Any] = {"name": "heartbeat"}
    if heartbeat_url_secret:
        # The URL stays in the cluster: Alertmanager reads it from the Secret mounted by the operator.
        heartbeat["webhook_configs"] = [
            {
                "url_file": f"/etc/alertmanager/secrets/{heartbeat_url_secret}/url",
                "send_resolved": False,
            }
        ]
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": "sns",
            "group_by": ["alertname", "namespace", "severity"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "24h",
            "routes": [
                {"matchers": ['alertname = "Watchdog"'], "receiver": "heartbeat", "repeat_interval": "5m"},
                {
                    "matchers": ['severity = "critical"'],
                    "receiver": "sns",
                    "group_wait": "10s",
                    "repeat_interval": "4h",
                },
                {"matchers": ['severity = "warning"'], "receiver": "sns", "repeat_interval": "12h"},
            ],
        },
        "receivers": [
            {"name": "sns", "sns_configs": [sns]},
            heartbeat,
        ],
        "inhibit_rules": [
            {
                "source_matchers": ['severity = "critical"'],
                "target_matchers": ['severity =~ "warning|info"'],
                "equal": ["namespace", "alertname"],
            },
            {
                "source_matchers": ['severity = "warning"'],
                "target_matchers": ['severity = "info"'],
                "equal": ["namespace", "alertname"],
            },
            {
                "source_matchers": ['alertname = "InfoInhibitor"'],
                "target_matchers": ['severity = "info"'],
                "equal": ["namespace"],
            },
            {"target_matchers": ['alertname = "InfoInhibitor"']},
        ],
        "templates": ["/etc/alertmanager/config/*.tmpl"],
    }


def alertmanager_publish_policy(topic_arn: str, kms_key_arn: str, region: str) -> str:
    """Alertmanager's role: publish to the alert topic, and use the topic's KMS key through SNS only."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Publish", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic_arn},
                {
                    "Sid": "EncryptForTopic",
                    "Effect": "Allow",
                    "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                    "Resource": kms_key_arn,
                    "Condition": {"StringEquals": {"kms:ViaService": f"sns.{region}.amazonaws.com"}},
                },
            ],
        }
    )
