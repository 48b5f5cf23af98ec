"""components.monitoring.alerting: Alertmanager's routing, the topic policy, Alertmanager's publish policy."""

from __future__ import annotations

from monitoring_support import base_args, render, topic_arn, values

from mlops.graph import Graph


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
