"""Serving's alert rules under promtool (Debian's prometheus package): each fires after 10 minutes without an
available replica, and not while one is available."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_platform.components.serving.rules import serving_rule_groups

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool (Debian package prometheus) is not installed"
)


def _series(namespace: str, deployment: str, values: str) -> dict[str, str]:
    return {
        "series": f'kube_deployment_status_replicas_available{{namespace="{namespace}",deployment="{deployment}",'
        f'job="kube-state-metrics"}}',
        "values": values,
    }


def _alert(name: str, at: str, exp: list[dict[str, Any]]) -> dict[str, Any]:
    return {"eval_time": at, "alertname": name, "exp_alerts": exp}


def test_rules_fire_after_ten_minutes_without_an_available_replica(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": serving_rule_groups()}), encoding="utf-8")
    kserve = {"severity": "critical", "namespace": "kserve", "deployment": "kserve-controller-manager"}
    webhook = {"severity": "critical", "namespace": "cert-manager", "deployment": "cert-manager-webhook"}
    tests = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    # KServe's controller: up for 5 minutes, then none available for 20.
                    _series("kserve", "kserve-controller-manager", "1x5 0x20"),
                    # cert-manager's webhook: down from the start; its controller and CA injector stay up.
                    _series("cert-manager", "cert-manager-webhook", "0x25"),
                    _series("cert-manager", "cert-manager", "2x25"),
                    _series("cert-manager", "cert-manager-cainjector", "2x25"),
                ],
                "alert_rule_test": [
                    _alert("KServeControllerUnavailable", "4m", []),
                    _alert("KServeControllerUnavailable", "14m", []),
                    _alert(
                        "KServeControllerUnavailable",
                        "17m",
                        [
                            {
                                "exp_labels": kserve,
                                "exp_annotations": _annotations("KServeControllerUnavailable"),
                            }
                        ],
                    ),
                    _alert("CertManagerUnavailable", "9m", []),
                    _alert(
                        "CertManagerUnavailable",
                        "11m",
                        [
                            {
                                "exp_labels": webhook,
                                "exp_annotations": _annotations("CertManagerUnavailable", webhook),
                            }
                        ],
                    ),
                ],
            }
        ],
    }
    test_file = tmp_path / "test.yaml"
    test_file.write_text(yaml.safe_dump(tests), encoding="utf-8")
    assert PROMTOOL is not None
    done = subprocess.run(
        [PROMTOOL, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _annotations(alert: str, labels: dict[str, str] | None = None) -> dict[str, str]:
    (rule,) = [r for g in serving_rule_groups() for r in g["rules"] if r["alert"] == alert]
    out = dict(rule["annotations"])
    if labels:
        out = {k: v.replace("{{ $labels.deployment }}", labels["deployment"]) for k, v in out.items()}
    return out
