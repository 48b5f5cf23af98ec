"""Findings of ``mlops verify`` that we accept, each listed once with its reason.

One list for every layer. An entry matches a finding by layer, check and a regular expression searched in
``"<resource name> <object> <path> <message>"``; a matched finding is reported as accepted (with the reason),
never as a failure. An entry that matches nothing in any shipped stack is itself an error (a test renders
every stack and fails on such an entry), so the list cannot rot.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from mlops_platform.components.deploy_runner import REGIONAL_SERVICES
from mlops_platform.mlops.verify.model import Finding


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
_DCGM_EXPORTER = r"^\S+-dcgm-exporter apps/v1 DaemonSet monitoring-node-exporter/dcgm-exporter "
_MPS_DAEMON = (
    r"^\S+-nvidia-device-plugin apps/v1 DaemonSet kube-system/nvidia-device-plugin-mps-control-daemon .*: "
)
_MPS_CONTAINER = r"container 'mps-control-daemon-(mounts|ctr)' "
_MPS_DAEMON_CHECKS: dict[str, str] = {
    "k8s-no-privileged": _MPS_CONTAINER + "runs privileged",
    "k8s-no-privilege-escalation": _MPS_CONTAINER + "does not set allowPrivilegeEscalation=false",
    "k8s-run-as-non-root": _MPS_CONTAINER + "does not set runAsNonRoot=true",
    "k8s-no-host-namespaces": r"the pod shares the node's namespace \(hostPID\)",
    "k8s-no-host-path": r"volume 'mps-(root|shm)' mounts a hostPath",
    "k8s-allowed-registries": _MPS_CONTAINER
    + r"image 'nvcr\.io/nvidia/k8s-device-plugin:v\d+\.\d+\.\d+' is not from an allowed registry",
    "k8s-read-only-root-fs": _MPS_CONTAINER + "has a writable root filesystem",
    "k8s-drop-all-capabilities": _MPS_CONTAINER + "does not drop ALL capabilities",
    "k8s-probes": r"container 'mps-control-daemon-ctr' lacks livenessProbe and readinessProbe",
}
"""What the pack finds on the chart's MPS control daemon, per check, naming its containers and volumes
(tests/mlops/verify/test_accepted.py proves the DaemonSet never schedules on a node of the platform)."""

_REGIONAL_ACTIONS = [f"{service}:*" for service in REGIONAL_SERVICES]
_REGIONAL_STATEMENT = (
    re.escape('statement {"Action": ' + json.dumps(_REGIONAL_ACTIONS) + ', "Condition": ')
    + r'\{"StringEquals": \{"aws:RequestedRegion": "[a-z0-9-]+"\}\}, "Effect": "Allow", "Resource": "\*", '
    + r'"Sid": "RegionalPlatformServices"\}'
)
"""The deploy role's regional statement exactly as components/deploy_runner.py builds it: an action added
to it on ``*`` changes the quoted statement, and the finding is no longer accepted."""
_REGIONAL_EXPANDED = r"\[(\"(" + "|".join(map(re.escape, REGIONAL_SERVICES)) + r'):[A-Za-z0-9]+"(, )?)+\]; '


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
        r"^\S+ policy Statement\[0\] statement 0 \(EnableAccountAdministration\): .*kms:CreateKey.*"
        r'\]; statement \{"Action": "kms:\*", "Effect": "Allow", "Principal": \{"AWS": '
        r'"arn:aws[-a-z]*:iam::\d{12}:root"\}, ',
        "AWS's default key-policy statement (account root, kms:*). In a key policy the resource is the key "
        "itself, so kms:* grants only the actions on this key; parliament expands kms:* into account-level "
        "actions too (CreateKey, CreateAlias, custom key stores...) and finds no key ARN format for them.",
    ),
    Accepted(
        "iam",
        "RESOURCE_MISMATCH",
        r"^\S+-karpenter-controller policy Statement\[\d+\] statement \d+ \((LaunchFromImagesSubnetsAndSecurityGroups|"
        r"LaunchFromOwnLaunchTemplates|CreateTaggedNodes)\): MEDIUM No resources match for the given action",
        "A launch (ec2:RunInstances, ec2:CreateFleet) is authorized per resource it touches, each against the "
        "statements that name that resource type: Karpenter's controller gets the referenced images, snapshots, "
        "subnets and security groups in one statement, its own launch templates in one with their ownership "
        "tags, and what it creates (fleets, instances, volumes, interfaces) in one with request-tag conditions, "
        "as Karpenter's reference policy does. parliament wants every resource type of the action in each statement.",
    ),
    Accepted(
        "iam",
        "RESOURCE_MISMATCH",
        r"^\S+-karpenter-controller policy Statement\[\d+\] statement \d+ \(ReadAmiAliasParameters\): MEDIUM No "
        r"resources match for the given action: \[\{\"action\": \"ssm:GetParameter\"",
        "The EKS AMI parameters are AWS public parameters, whose ARNs have no account "
        "(arn:<partition>:ssm:<region>::parameter/aws/service/...); parliament's format wants an account field.",
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
    Accepted(
        "iam",
        "UNKNOWN_CONDITION_FOR_ACTION",
        r"^\S+-deploy-role inlinePolicies\[deploy-platform\] Statement\[\d+\] statement \d+ \(SecretsAndStateKey\): "
        r"MEDIUM .*Unknown condition kms:ResourceAliases for action kms:(Decrypt|Encrypt|GenerateDataKey|DescribeKey);",
        "kms:ResourceAliases is a condition key of KMS's key resource type (the Service Authorization Reference "
        "lists it under the key resource, which every one of these actions is authorized on); parliament looks "
        "condition keys up only in each action's own list and never in its resource type's, so it knows the key "
        "but calls it unknown for the action. It is AWS's documented way to grant a key by its alias.",
    ),
    Accepted(
        "iam",
        "RESOURCE_POLICY_PRIVILEGE_ESCALATION",
        r"^\S+-deploy-role inlinePolicies\[deploy-platform\] .*on arn:aws[-a-z]*:s3:::mlops-[a-z]+-\* due to "
        r"s3:(GetObject|PutObject|DeleteObject) not being allowed, but does allow "
        r"s3:(PutBucketPolicy|PutLifecycleConfiguration)$",
        "The deploy role administers the environment's buckets, and a bucket's administrator writes its policy "
        "(the artifact bucket's TLS-only and SSE-KMS denies) and its lifecycle rules (noncurrent-version "
        "expiry): it writes the ones the program renders. Object access is withheld so the deployer never "
        "reads or writes artifacts in passing; it cannot be withheld from whoever owns a bucket's policy.",
    ),
    Accepted(
        "iam",
        "RESOURCE_STAR",
        r"^\S+-deploy-role inlinePolicies\[deploy-platform\] Statement\[0\] statement 0 "
        r"\(RegionalPlatformServices\): LOW Unnecessary use of Resource \*: "
        + _REGIONAL_EXPANDED
        + _REGIONAL_STATEMENT,
        "The deploy runner creates and deletes the environment's VPC, subnets, route tables, security groups, "
        "instances and launch templates, DB instances and their groups, repositories, log groups, topics and "
        "alarms: most are named by IDs AWS assigns at creation, so no ARN can be written in advance "
        "(components/deploy_runner.py REGIONAL_SERVICES). The grant is bounded by the stack's region "
        "(aws:RequestedRegion); S3, KMS, EKS, IAM and Secrets Manager are scoped to the platform's names.",
    ),
    Accepted(
        "iam",
        "RESOURCE_STAR",
        r"^\S+-deploy-role inlinePolicies\[deploy-platform\] Statement\[\d+\] statement \d+ "
        r'\(CreateEnvironmentKeys\): LOW Unnecessary use of Resource \*: \["kms:TagResource"\]; '
        r'statement \{"Action": \["kms:CreateKey", "kms:TagResource"\], "Condition": \{"StringEquals": '
        r'\{"aws:RequestTag/environment": "[a-z]+", "aws:RequestedRegion": "[a-z0-9-]+"\}\}, "Effect": "Allow", '
        r'"Resource": "\*", "Sid": "CreateEnvironmentKeys"\}',
        "CreateKey with tags is also authorised for kms:TagResource on the key being created, which has no ARN "
        "yet: AWS's KMS guide grants both on '*' for tagging at creation. The statement is pinned to requests "
        "tagging environment=<env> in the stack's region; parliament knows TagResource only on existing keys.",
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
        "k8s-probes",
        r"^\S+-pipelines-argo apps/v1 Deployment argo/argo-workflows-workflow-controller .*: "
        r"container 'controller' lacks readinessProbe",
        "Argo's workflow controller serves no traffic (a leader-elected reconciler, no Service behind it but "
        "metrics), so readiness gates nothing; the chart has no readiness value, and its liveness probe "
        "(/healthz on 6060) is on.",
    ),
    Accepted(
        "policy",
        "k8s-probes",
        r"^\S+-serving-cert-manager apps/v1 Deployment cert-manager/cert-manager .*: "
        r"container 'cert-manager-controller' lacks readinessProbe",
        "cert-manager's controller serves no traffic (a leader-elected reconciler; its Service carries only "
        "metrics), so readiness gates nothing; the chart has no readiness value, and its liveness probe "
        "(/livez on 9403) is on.",
    ),
    Accepted(
        "policy",
        "k8s-probes",
        r"^\S+-serving-cert-manager apps/v1 Deployment cert-manager/cert-manager-cainjector .*: "
        r"container 'cert-manager-cainjector' lacks livenessProbe and readinessProbe",
        "cert-manager's CA injector is a leader-elected reconciler that serves no traffic (no Service but "
        "metrics); the chart renders no probe for it and has no value to add one.",
    ),
    Accepted(
        "policy",
        "k8s-probes",
        r"^\S+-serving-kserve apps/v1 Deployment kserve/kserve-controller-manager .*: "
        r"container 'kube-rbac-proxy' lacks livenessProbe and readinessProbe",
        "KServe's chart (v0.20.0) renders the kube-rbac-proxy sidecar (the controller's metrics over HTTPS) with "
        "no probe and no value to add one; the manager container, which serves the webhooks, has both.",
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
    Accepted(
        "policy",
        "k8s-run-as-non-root",
        _DCGM_EXPORTER + r".*: container 'exporter' runs as UID 0",
        "The image's entrypoint (dcgm-exporter-entrypoint.sh) runs ldconfig to find libdcgm.so and setcap "
        "cap_sys_admin on the exporter binary before it starts, both as root; the profiling counters "
        "(DCGM_FI_PROF_*) of the default counter set need SYS_ADMIN. It drops every other capability and "
        "escalation, and runs alone with node-exporter in the node-exporter namespace.",
    ),
    Accepted(
        "policy",
        "k8s-read-only-root-fs",
        _DCGM_EXPORTER + r".*: container 'exporter' has a writable root filesystem",
        "The image's entrypoint writes to its own root file system before the exporter starts: ldconfig "
        "rewrites /etc/ld.so.cache and setcap sets a file capability on /usr/bin/dcgm-exporter, and the "
        "script stops on the first failure (set -e); an emptyDir cannot stand in for /etc or /usr/bin.",
    ),
    Accepted(
        "policy",
        "k8s-no-host-path",
        _DCGM_EXPORTER + r".*: volume 'pod-gpu-resources' mounts a hostPath",
        "The kubelet's pod-resources API socket (/var/lib/kubelet/pod-resources, mounted read-only): the "
        "exporter asks it which pod holds which GPU, to label each GPU's series with its pod.",
    ),
    Accepted(
        "policy",
        "k8s-allowed-registries",
        _DCGM_EXPORTER + r".*: container 'exporter' image "
        r"'nvcr\.io/nvidia/k8s/dcgm-exporter:\d+\.\d+\.\d+-\d+\.\d+\.\d+-distroless' is not from an allowed registry",
        "NVIDIA publishes dcgm-exporter only on its own registry nvcr.io (NGC), pinned to the chart's "
        "DCGM-and-exporter version tag; the pack's default registry list has no NVIDIA entry.",
    ),
    *(
        Accepted(
            "policy",
            check,
            _MPS_DAEMON + tail,
            "The chart renders the MPS control daemon whenever the device plugin is enabled, with no value to "
            "leave it out; it is scheduled only on nodes labelled nvidia.com/mps.capable=true, a label set only "
            "when MPS sharing is configured (by GPU feature discovery, disabled here); the platform configures "
            "no sharing, so it never runs.",
        )
        for check, tail in _MPS_DAEMON_CHECKS.items()
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
