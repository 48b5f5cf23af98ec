"""Findings of ``mlops verify`` that we accept, each listed once with its reason.

One list for every layer. An entry matches a finding by layer, check and a regular expression searched in
``"<resource name> <object> <path> <message>"``; a matched finding is reported as accepted (with the reason),
never as a failure. An entry that matches nothing in any shipped stack is itself an error (a test renders
every stack and fails on such an entry), so the list cannot rot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from mlops.verify.model import Finding


@dataclass(frozen=True)
class Accepted:
    layer: str
    check: str
    match: str
    """A regular expression searched (re.search) in :func:`subject` of the finding."""
    reason: str

    def matches(self, finding: Finding) -> bool:
        return (
            finding.layer == self.layer
            and finding.check == self.check
            and re.search(self.match, subject(finding)) is not None
        )


def subject(finding: Finding) -> str:
    return f"{finding.name} {finding.object} {finding.path} {finding.message}"


_OIDC_ISSUER = r"oidc\.eks\.[a-z0-9-]+\.amazonaws\.com/id/[0-9A-F]{32}"
_NODE_EXPORTER = (
    r"^\S+-kube-prometheus-stack apps/v1 DaemonSet monitoring-node-exporter/"
    r"kube-prometheus-stack-prometheus-node-exporter "
)
_DEVICE_PLUGIN = r"^\S+-nvidia-device-plugin apps/v1 DaemonSet kube-system/nvidia-device-plugin "
_MPS_DAEMON_CHECKS = (
    "k8s-no-privileged",
    "k8s-no-privilege-escalation",
    "k8s-run-as-non-root",
    "k8s-no-host-namespaces",
    "k8s-no-host-path",
    "k8s-allowed-registries",
    "k8s-read-only-root-fs",
    "k8s-drop-all-capabilities",
    "k8s-probes",
)

ACCEPTED: tuple[Accepted, ...] = (
    # ---- iam (parliament) -----------------------------------------------------------------------------
    Accepted(
        "iam",
        "UNKNOWN_FEDERATION_SOURCE",
        rf"^\S+ assumeRolePolicy .*Unknown federation source: arn:aws[-a-z]*:iam::\d{{12}}:oidc-provider/{_OIDC_ISSUER};",
        "IRSA trust policies federate the cluster's IAM OIDC provider; parliament knows only SAML providers "
        "and Cognito/Amazon/Facebook/Google as federation sources, not IAM OIDC providers.",
    ),
    Accepted(
        "iam",
        "UNKNOWN_CONDITION_FOR_ACTION",
        rf"^\S+ assumeRolePolicy .*Unknown condition {_OIDC_ISSUER}:(sub|aud) for action "
        r"sts:AssumeRoleWithWebIdentity;",
        "The <issuer>:sub and <issuer>:aud keys of an IAM OIDC provider are the documented way to pin an IRSA "
        "role to one service account; parliament's action table lists only the Cognito/Amazon/Facebook/Google "
        "web-identity keys.",
    ),
    Accepted(
        "iam",
        "RESOURCE_MISMATCH",
        r"^\S+ policy Statement\[0\] statement 0 \(EnableAccountAdministration\): .*kms:CreateKey",
        "AWS's default key-policy statement (account root, kms:*). In a key policy the resource is the key "
        "itself, so kms:* grants only the actions on this key; parliament expands kms:* into account-level "
        "actions too (CreateKey, CreateAlias, custom key stores...) and finds no key ARN format for them.",
    ),
    Accepted(
        "iam",
        "MISMATCHED_TYPE",
        r"^\S+-logs policy Statement\[1\] statement 1 \(AllowCloudWatchLogsForAccountLogGroups\): .*ArnLike "
        r"requires a value of type Arn but given String",
        "AWS's documented key policy for CloudWatch Logs matches kms:EncryptionContext:aws:logs:arn with ArnLike "
        "(the context value is the log group's ARN); parliament types every encryption-context key as String.",
    ),
    Accepted(
        "iam",
        "MISMATCHED_TYPE_BUT_USABLE",
        r"^\S+-artifacts-bucket policy Statement\[2\] statement 2 \(DenyUploadsWithAnotherKey\): .*"
        r"StringNotEquals requires a value of type String but given Arn",
        "The deny compares the whole key ARN exactly (AWS's documented form for "
        "s3:x-amz-server-side-encryption-aws-kms-key-id); ArnNotEquals would decide the same; parliament "
        "rates it LOW, usable.",
    ),
    Accepted(
        "iam",
        "RESOURCE_STAR",
        r"^\S+-grafana-cloudwatch policy Statement\[0\] statement 0 \(ReadMetrics\): LOW .*"
        r'\["cloudwatch:DescribeAlarmHistory", "cloudwatch:DescribeAlarms", "cloudwatch:GetInsightRuleReport"\];',
        "Grafana's CloudWatch data source lists every alarm and insight rule of the account (read-only); "
        "an alarm:*/insight-rule/* ARN would grant the same set, and whether CloudWatch authorizes a "
        "name-less DescribeAlarms against it is not documented, so the read stays on '*' (the pack's "
        "wildcard-resource rule allows read-only actions).",
    ),
    # ---- policy (the pack's Kubernetes rules over chart objects) ----------------------------------------
    Accepted(
        "policy",
        "k8s-no-host-namespaces",
        _NODE_EXPORTER + r".*: the pod shares the node's namespace \((hostNetwork|hostPID)\)",
        "node-exporter reports the node itself: its network interfaces and sockets (hostNetwork) and its "
        "processes (hostPID); in a pod namespace it would report the pod's. It runs alone in its own namespace.",
    ),
    Accepted(
        "policy",
        "k8s-no-host-path",
        _NODE_EXPORTER + r".*: volume '(proc|sys|root)' mounts a hostPath",
        "node-exporter reads the node's /proc, /sys and root filesystem (mounted read-only by the chart) to "
        "export CPU, memory, disk and filesystem metrics of the node.",
    ),
    Accepted(
        "policy",
        "k8s-namespace-default-deny",
        r"^\S+-node-exporter-namespace v1 Namespace monitoring-node-exporter .*chart workloads there: "
        r"apps/v1 DaemonSet monitoring-node-exporter/kube-prometheus-stack-prometheus-node-exporter$",
        "The namespace holds only node-exporter, which runs on the host network, where NetworkPolicies do not "
        "apply; who reaches its port is decided by the node security group.",
    ),
    Accepted(
        "policy",
        "k8s-run-as-non-root",
        _DEVICE_PLUGIN + r".*: container 'nvidia-device-plugin-ctr' does not set runAsNonRoot=true",
        "The device plugin creates its socket in the kubelet's root-owned /var/lib/kubelet/device-plugins "
        "and registers through it; NVIDIA supports it only as root (it drops ALL capabilities and escalation).",
    ),
    Accepted(
        "policy",
        "k8s-no-host-path",
        _DEVICE_PLUGIN
        + r".*: volume '(kubelet-device-plugins-dir|mps-root|mps-shm|cdi-root)' mounts a hostPath",
        "The kubelet's device-plugin socket directory (the device-plugin API), the CDI spec directory the "
        "runtime reads, and the MPS directories the chart always mounts: a device plugin works through them.",
    ),
    Accepted(
        "policy",
        "k8s-probes",
        _DEVICE_PLUGIN + r".*: container 'nvidia-device-plugin-ctr' lacks livenessProbe and readinessProbe",
        "The device plugin serves no health endpoint and the chart has no probe values; its health is its "
        "registration with the kubelet (a node whose plugin fails advertises no nvidia.com/gpu).",
    ),
    Accepted(
        "policy",
        "k8s-allowed-registries",
        _DEVICE_PLUGIN
        + r".*: container 'nvidia-device-plugin-ctr' image 'nvcr\.io/nvidia/k8s-device-plugin:v\d+\.\d+\.\d+' "
        r"is not from an allowed registry",
        "NVIDIA publishes the device plugin image only on its own registry nvcr.io (NGC), pinned to the "
        "chart's version tag; the pack's default registry list has no NVIDIA entry.",
    ),
    *(
        Accepted(
            "policy",
            check,
            r"^\S+-nvidia-device-plugin apps/v1 DaemonSet kube-system/nvidia-device-plugin-mps-control-daemon ",
            "The chart renders the MPS control daemon whenever the device plugin is enabled, with no value to "
            "leave it out; it is scheduled only on nodes labelled nvidia.com/mps.capable=true, a label set only "
            "when MPS sharing is configured (by GPU feature discovery, disabled here); the platform configures "
            "no sharing, so it never runs.",
        )
        for check in _MPS_DAEMON_CHECKS
    ),
)
"""Every accepted finding, with its reason. Keep each entry as narrow as the finding it accepts."""


def apply(
    findings: Iterable[Finding], accepted: Iterable[Accepted] = ACCEPTED
) -> tuple[list[Finding], list[tuple[Finding, Accepted]]]:
    """Split findings into (failures, accepted findings with the entry that accepted each)."""
    entries = tuple(accepted)
    kept: list[Finding] = []
    taken: list[tuple[Finding, Accepted]] = []
    for finding in findings:
        entry = next((e for e in entries if e.matches(finding)), None)
        if entry is None:
            kept.append(finding)
        else:
            taken.append((finding, entry))
    return kept, taken


def unused(findings: Iterable[Finding], accepted: Iterable[Accepted] = ACCEPTED) -> list[Accepted]:
    """The entries that match none of ``findings`` (over every shipped stack, this must be empty)."""
    seen = list(findings)
    return [e for e in accepted if not any(e.matches(f) for f in seen)]
