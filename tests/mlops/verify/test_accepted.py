"""The accepted-findings list: every entry has a reason, and every entry still matches a finding.

The unused-entry test runs the whole of ``mlops verify`` (every layer, helm included) on dev, staging and
prod.
"""

from __future__ import annotations

import base64
import json
import re

import pytest

from mlops_platform.mlops.verify import accepted
from mlops_platform.mlops.verify.model import Finding

LAYERS = {"helm", "values", "schema", "crd", "semantics", "iam", "policy"}
STACKS = ("dev", "staging", "prod")


@pytest.mark.parametrize("entry", accepted.ACCEPTED, ids=lambda e: f"{e.layer}:{e.check}")
def test_every_entry_is_well_formed(entry):
    assert entry.layer in LAYERS
    assert entry.check
    re.compile(entry.match)
    assert len(entry.reason) > 40, "an accepted finding carries its reason"


def test_no_entry_is_listed_twice():
    keys = [(e.layer, e.check, e.match) for e in accepted.ACCEPTED]
    assert len(keys) == len(set(keys))


def _finding(layer: str, check: str, name: str, message: str) -> Finding:
    return Finding(layer=layer, check=check, message=message, name=name)


def test_apply_and_unused():
    entry = accepted.Accepted(
        "iam", "UNKNOWN_ACTION", r"^role-a policy ", "the reason, long enough for the test"
    )
    miss = _finding("iam", "UNKNOWN_ACTION", "role-b", "x")
    other_check = _finding("iam", "RESOURCE_STAR", "role-a", "x")
    hit = Finding(layer="iam", check="UNKNOWN_ACTION", message="x", name="role-a", object="policy")
    kept, taken = accepted.apply([hit, miss, other_check], [entry])
    assert kept == [miss, other_check] and taken == [(hit, entry)]
    assert accepted.unused([miss, other_check], [entry]) == [entry]
    assert accepted.unused([hit], [entry]) == []


def test_no_entry_matches_nothing(verified):
    """An accepted finding that no shipped stack produces any more is an error: remove the entry. Every
    layer runs (the runner, helm included, with the cluster's own Kubernetes version) on dev, staging and
    prod; what the list does not accept would fail `mlops verify`."""
    results = [verified(env) for env in STACKS]
    assert all(set(r.layers) == LAYERS and not r.accepted for r in results)
    findings = [f for r in results for f in r.findings]
    unused = accepted.unused(findings)
    assert unused == [], "\n".join(f"{e.layer} {e.check} {e.match!r}" for e in unused)
    kept, _ = accepted.apply(findings)
    assert kept == [], [f"{f.layer}/{f.check} {f.name}: {f.message}" for f in kept]


MPS_LABEL = "nvidia.com/mps.capable"


def test_the_mps_control_daemon_never_schedules_on_a_node_of_the_platform(stacks, releases_of):
    """The MPS control daemon's findings are accepted because it never runs: its DaemonSet selects nodes
    labelled nvidia.com/mps.capable=true, and nothing of the platform sets that label (no node group, no
    launch template, no other object: GPU feature discovery, which would, is not installed)."""
    daemons = []
    for env in STACKS:
        for release in releases_of(env):
            for manifest in release.manifests:
                text = json.dumps(manifest.obj)
                if manifest.obj.get("kind") == "DaemonSet" and manifest.obj["metadata"]["name"].endswith(
                    "mps-control-daemon"
                ):
                    daemons.append(manifest.obj)
                    continue
                assert MPS_LABEL not in text, f"{env}: {manifest.obj['kind']} {manifest.obj['metadata']}"
                assert "gpu-feature-discovery" not in manifest.obj["metadata"]["name"]
        for resource in stacks[env].resources:
            if resource.type == "aws:eks/nodeGroup:NodeGroup":
                assert MPS_LABEL not in (resource.inputs.get("labels") or {}), resource.name
            inputs = json.dumps(resource.inputs, default=str)
            user_data = str(resource.inputs.get("userData") or "")
            try:
                inputs += base64.b64decode(user_data, validate=True).decode("utf-8", "replace")
            except ValueError:
                inputs += user_data
            assert MPS_LABEL not in inputs, f"{env}: {resource.type} {resource.name} sets {MPS_LABEL}"
    assert daemons, "prod's GPU node group installs the device plugin and its MPS daemon"
    for daemon in daemons:
        assert daemon["spec"]["template"]["spec"]["nodeSelector"][MPS_LABEL] == "true"


def test_the_mps_daemon_entries_name_its_containers_and_volumes():
    mps = [e for e in accepted.ACCEPTED if "mps-control-daemon" in e.match]
    assert {e.check for e in mps} == set(accepted._MPS_DAEMON_CHECKS)
    other = Finding(
        layer="policy",
        check="k8s-no-privileged",
        message="mandatory: container 'sidecar' runs privileged",
        name="mlops-prod-eks-nvidia-device-plugin",
        object="apps/v1 DaemonSet kube-system/nvidia-device-plugin-mps-control-daemon",
    )
    assert accepted.apply([other])[0] == [other], "a new container of the daemon is a finding"


def _regional(actions: list[str]) -> Finding:
    statement = {
        "Action": actions,
        "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
        "Effect": "Allow",
        "Resource": "*",
        "Sid": "RegionalPlatformServices",
    }
    expanded = json.dumps(
        ["ec2:RunInstances", "s3:GetObject" if "s3:*" in actions else "rds:CreateDBInstance"]
    )
    return Finding(
        layer="iam",
        check="RESOURCE_STAR",
        name="mlops-dev-deploy-role",
        object="inlinePolicies[deploy-platform]",
        path="Statement[0]",
        message=f"statement 0 (RegionalPlatformServices): LOW Unnecessary use of Resource *: {expanded}; "
        f"statement {json.dumps(statement, sort_keys=True)}",
    )


def test_the_regional_resource_star_entry_is_the_exact_statement_deploy_runner_builds():
    from mlops_platform.components.deploy_runner import REGIONAL_SERVICES

    built = [f"{s}:*" for s in REGIONAL_SERVICES]
    kept, _ = accepted.apply([_regional(built)])
    assert kept == []
    widened = _regional([*built, "s3:*"])
    assert accepted.apply([widened])[0] == [widened], "a new action on * is a finding"


def _key_admin(action: str) -> Finding:
    statement = {
        "Action": action,
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Resource": "arn:aws:kms:eu-west-1:123456789012:key/k",
        "Sid": "EnableAccountAdministration",
    }
    return Finding(
        layer="iam",
        check="RESOURCE_MISMATCH",
        name="mlops-dev-data",
        object="policy",
        path="Statement[0]",
        message="statement 0 (EnableAccountAdministration): MEDIUM No resources match for the given action: "
        '[{"action": "kms:CreateKey", "required_format": "*"}]; '
        f"statement {json.dumps(statement, sort_keys=True)}",
    )


def test_the_key_administration_entry_needs_kms_star_in_the_statement():
    assert accepted.apply([_key_admin("kms:*")])[0] == []
    other = _key_admin("kms:CreateKey")
    assert accepted.apply([other])[0] == [other]
