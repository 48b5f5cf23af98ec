"""Serving's alert rules, as plain values: the control plane's Deployments judged from kube-state-metrics (which
the monitoring stack already scrapes), so nothing needs to scrape the controllers themselves (KServe's metrics sit
behind kube-rbac-proxy with a self-signed certificate)."""

from __future__ import annotations

from typing import Any

from mlops_platform.components.serving import names

__all__ = ["CERT_MANAGER_DEPLOYMENTS", "KSERVE_DEPLOYMENT", "serving_rule_groups"]

KSERVE_DEPLOYMENT = "kserve-controller-manager"
CERT_MANAGER_DEPLOYMENTS = ("cert-manager", "cert-manager-webhook", "cert-manager-cainjector")


def _unavailable(namespace: str, deployments: str) -> str:
    return (
        f'max by (namespace, deployment) (kube_deployment_status_replicas_available{{namespace="{namespace}", '
        f'deployment=~"{deployments}"}}) < 1'
    )


def serving_rule_groups(
    kserve_namespace: str = names.KSERVE_NAMESPACE, cert_manager_namespace: str = names.CERT_MANAGER_NAMESPACE
) -> list[dict[str, Any]]:
    """The ``serving`` rule group: KServe's controller or a cert-manager Deployment without an available replica
    for 10 minutes (critical: new predictor pods are refused, certificates are not renewed)."""
    return [
        {
            "name": "serving",
            "rules": [
                {
                    "alert": "KServeControllerUnavailable",
                    "expr": _unavailable(kserve_namespace, KSERVE_DEPLOYMENT),
                    "for": "10m",
                    "labels": {"severity": "critical"},
                    "annotations": {
                        "summary": "KServe's controller has no available replica",
                        "description": "No InferenceService can be created or changed and KServe's pod webhook "
                        "refuses new predictor pods (running predictors keep serving). "
                        f"kubectl -n {kserve_namespace} get pods; kubectl -n {kserve_namespace} logs "
                        f"deploy/{KSERVE_DEPLOYMENT} -c manager (docs/operations.md, section 10).",
                    },
                },
                {
                    "alert": "CertManagerUnavailable",
                    "expr": _unavailable(cert_manager_namespace, "|".join(CERT_MANAGER_DEPLOYMENTS)),
                    "for": "10m",
                    "labels": {"severity": "critical"},
                    "annotations": {
                        "summary": "cert-manager's {{ $labels.deployment }} has no available replica",
                        "description": "Certificates (KServe's webhook certificate among them) are neither issued "
                        "nor renewed, and cert-manager's webhook refuses changes to its objects. "
                        f"kubectl -n {cert_manager_namespace} get pods.",
                    },
                },
            ],
        }
    ]
