"""Karpenter on the rendered platform: the controller's scoping, the node identity, the interruption queue, the
node classes and pools from config, and the config checks around them."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from compute_support import config, render_platform
from config_support import problems
from verify_kit import project_helm, shared_charts

from mlops_platform.components.aws_context import AwsContext
from mlops_platform.components.cluster.karpenter import (
    GPU_POOL_TAINT,
    INTERRUPTION_EVENTS,
    NodePoolSpec,
    node_pool_spec,
)
from mlops_platform.components.cluster.karpenter_iam import controller_policy, queue_policy
from mlops_platform.components.keys import interruption_queue_name, key_policy
from mlops_platform.components.monitoring.network_policies import PROMETHEUS_POD_LABELS
from mlops_platform.mlops.graph import Graph, Resource, reveal
from mlops_platform.mlops.verify import helm as helm_layer

NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
RELEASE = "kubernetes:helm.sh/v3:Release"


def statements(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in doc["Statement"]}


def by_chart(g: Graph, chart: str) -> Resource:
    """The release of the chart named ``chart`` (the last segment of its reference: an OCI chart is named by
    its full reference)."""
    (release,) = [r for r in g.of_type(RELEASE) if r.inputs["chart"].rsplit("/", 1)[-1] == chart]
    return release


@pytest.fixture(scope="module")
def prod() -> Graph:
    return render_platform("prod")[0]


def test_controller_policy_is_scoped_like_the_reference() -> None:
    doc = controller_policy(
        cluster_name="c1",
        cluster_arn="arn:aws:eks:eu-west-1:123456789012:cluster/c1",
        region="eu-west-1",
        partition="aws",
        node_role_arn="arn:aws:iam::123456789012:role/c1-karpenter-nodes",
        queue_arn="arn:aws:sqs:eu-west-1:123456789012:c1-karpenter",
        volume_key_arn="arn:aws:kms:eu-west-1:123456789012:key/k",
    )
    s = statements(doc)
    # What it creates carries the cluster's ownership tag and a node pool; what it deletes or re-tags, too.
    create = s["CreateTaggedNodes"]["Condition"]
    assert create["StringEquals"] == {
        "aws:RequestTag/kubernetes.io/cluster/c1": "owned",
        "aws:RequestTag/eks:eks-cluster-name": "c1",
    }
    assert create["StringLike"] == {"aws:RequestTag/karpenter.sh/nodepool": "*"}
    for sid in ("DeleteOwnNodes", "TagOwnNodes", "LaunchFromOwnLaunchTemplates"):
        assert s[sid]["Condition"]["StringEquals"]["aws:ResourceTag/kubernetes.io/cluster/c1"] == "owned"
    assert s["TagOwnNodes"]["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"] == [
        "eks:eks-cluster-name",
        "karpenter.sh/nodeclaim",
        "Name",
    ]
    # One role passed, to EC2 only; one queue; one cluster; the region only.
    assert s["PassNodeRoleToEc2"]["Resource"] == "arn:aws:iam::123456789012:role/c1-karpenter-nodes"
    assert (
        s["PassNodeRoleToEc2"]["Condition"]["StringEquals"]["iam:PassedToService"][0] == "ec2.amazonaws.com"
    )
    assert s["ReadInterruptionQueue"]["Resource"] == "arn:aws:sqs:eu-west-1:123456789012:c1-karpenter"
    assert s["DiscoverApiEndpointAndServiceCidr"]["Resource"].endswith(":cluster/c1")
    assert s["ReadInRegion"]["Condition"] == {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}
    # No instance-profile writes (the profile is ours), no Pricing API (isolatedVPC), no zonal shift.
    granted = {
        a
        for st in doc["Statement"]
        for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    }
    # No IAM action but PassRole: the profile is ours and named (spec.instanceProfile), and isolatedVPC turns
    # off the clean-up of the profiles Karpenter would create (its only GetInstanceProfile and
    # ListInstanceProfiles calls in v1.14.1).
    assert {a for a in granted if a.startswith("iam:")} == {"iam:PassRole"}
    assert not {a for a in granted if a.startswith(("pricing:", "arc-zonal-shift:"))}
    # The volume key through EC2 only, grants for AWS resources only.
    grant = s["GrantVolumeKeyToEbs"]["Condition"]
    assert grant["Bool"] == {"kms:GrantIsForAWSResource": "true"}
    assert grant["StringEquals"] == {"kms:ViaService": "ec2.eu-west-1.amazonaws.com"}
    assert s["EncryptNodeVolumes"]["Condition"]["StringEquals"] == {
        "kms:ViaService": "ec2.eu-west-1.amazonaws.com"
    }
    assert s["DecryptInterruptionMessages"]["Condition"]["StringEquals"] == {
        "kms:ViaService": "sqs.eu-west-1.amazonaws.com"
    }


def test_queue_policy_admits_this_clusters_rules_only_and_tls() -> None:
    rules = ["arn:aws:events:eu-west-1:123456789012:rule/a", "arn:aws:events:eu-west-1:123456789012:rule/b"]
    s = statements(queue_policy("arn:aws:sqs:eu-west-1:123456789012:q", rules))
    send = s["EventBridgeRulesOfThisCluster"]
    assert send["Principal"] == {"Service": "events.amazonaws.com"}
    assert send["Action"] == "sqs:SendMessage"
    assert send["Condition"] == {"ArnEquals": {"aws:SourceArn": rules}}
    assert s["DenyPlainHttp"]["Effect"] == "Deny"
    assert s["DenyPlainHttp"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_cluster_key_lets_eventbridge_encrypt_for_the_queue_only() -> None:
    ctx = AwsContext(
        account_id="123456789012", region="eu-west-1", partition="aws", dns_suffix="amazonaws.com"
    )
    doc = key_policy(
        "cluster", ctx, cluster_role="c1-cluster", interruption_queue=interruption_queue_name("c1")
    )
    stmt = statements(doc)["AllowEventBridgeToKarpenterInterruptionQueue"]
    assert stmt["Principal"] == {"Service": "events.amazonaws.com"}
    assert stmt["Condition"] == {
        "StringEquals": {
            "kms:EncryptionContext:aws:sqs:arn": "arn:aws:sqs:eu-west-1:123456789012:c1-karpenter"
        }
    }
    without = key_policy("cluster", ctx, cluster_role="c1-cluster")
    assert "AllowEventBridgeToKarpenterInterruptionQueue" not in statements(without)


def test_gpu_pool_is_tainted_labelled_and_limited() -> None:
    spec = node_pool_spec(NodePoolSpec("gpu", ["g5"], gpu_limit=4, expected_nodes=1))
    template = spec["template"]
    assert (
        template["spec"]["taints"]
        == [GPU_POOL_TAINT]
        == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
    )
    assert template["metadata"]["labels"]["mlops.platform/accelerator"] == "nvidia"
    assert spec["limits"] == {"cpu": "64", "memory": "256Gi", "nvidia.com/gpu": "4"}
    general = node_pool_spec(NodePoolSpec("general", ["m7i"]))
    assert "taints" not in general["template"]["spec"]
    assert "nvidia.com/gpu" not in general["limits"]


@pytest.mark.parametrize(
    ("env", "capacity", "families"),
    [
        ("dev", ["spot", "on-demand"], None),
        ("staging", ["spot", "on-demand"], ["g5", "g6"]),
        ("prod", ["on-demand"], ["g5", "g6", "g6e"]),
    ],
)
def test_pools_per_environment(env: str, capacity: list[str], families: list[str] | None) -> None:
    g, cfg = render_platform(env)
    pools = {r.inputs["metadata"]["name"]: reveal(r.inputs) for r in g.of_type(NODE_POOL)}
    general = {q["key"]: q["values"] for q in pools["general"]["spec"]["template"]["spec"]["requirements"]}
    assert general["karpenter.sh/capacity-type"] == capacity
    assert general["karpenter.k8s.aws/instance-family"] == cfg.general_pool.instance_families
    assert pools["general"]["spec"]["limits"]["cpu"] == str(cfg.general_pool.cpu_limit)
    assert pools["general"]["metadata"]["annotations"] == {
        "mlops.platform/expected-nodes": str(cfg.general_pool.expected_nodes)
    }
    if families is None:
        assert "gpu" not in pools
    else:
        gpu = {q["key"]: q["values"] for q in pools["gpu"]["spec"]["template"]["spec"]["requirements"]}
        assert gpu["karpenter.k8s.aws/instance-family"] == families
        assert gpu["karpenter.sh/capacity-type"] == ["on-demand"]
        assert gpu["kubernetes.io/arch"] == ["amd64"]


def test_node_classes_are_hardened_and_select_by_discovery_tag(prod: Graph) -> None:
    classes = {r.inputs["metadata"]["name"]: reveal(r.inputs)["spec"] for r in prod.of_type(NODE_CLASS)}
    assert set(classes) == {"general", "gpu"}
    key = prod.one("aws:kms/key:Key", "mlops-prod-cluster").outputs["arn"]
    profile = prod.one("aws:iam/instanceProfile:InstanceProfile")
    for spec in classes.values():
        assert spec["amiSelectorTerms"] == [{"alias": "al2023@v20260930"}]
        assert spec["instanceProfile"] == profile.inputs["name"] == "mlops-prod-eks-karpenter-nodes"
        assert spec["metadataOptions"]["httpTokens"] == "required"
        assert spec["metadataOptions"]["httpPutResponseHopLimit"] == 1
        (device,) = spec["blockDeviceMappings"]
        assert device["ebs"]["encrypted"] is True and device["ebs"]["kmsKeyID"] == key
        assert device["ebs"]["volumeType"] == "gp3"
        assert (
            spec["subnetSelectorTerms"]
            == spec["securityGroupSelectorTerms"]
            == [{"tags": {"karpenter.sh/discovery": "mlops-prod-eks"}}]
        )
        assert {"environment", "owner", "cost-center", "data-classification", "managed-by"} <= set(
            spec["tags"]
        )
    assert classes["gpu"]["blockDeviceMappings"][0]["ebs"]["volumeSize"] == "300Gi"
    # What the node classes select carries the tag: the private subnets (only) and the node security group.
    tagged = [
        r.name
        for r in prod.of_type("aws:ec2/subnet:Subnet")
        if r.inputs["tags"].get("karpenter.sh/discovery")
    ]
    assert sorted(tagged) == [f"mlops-prod-private-{i}" for i in range(3)]
    nodes_sg = prod.one("aws:ec2/securityGroup:SecurityGroup", "mlops-prod-eks-nodes")
    assert nodes_sg.inputs["tags"]["karpenter.sh/discovery"] == "mlops-prod-eks"


def test_node_role_joins_through_an_ec2_linux_entry_and_pulls_images(prod: Graph) -> None:
    role = prod.one("aws:iam/role:Role", "mlops-prod-eks-karpenter-nodes")
    (entry,) = [
        r
        for r in prod.of_type("aws:eks/accessEntry:AccessEntry")
        if r.name == "mlops-prod-eks-karpenter-nodes"
    ]
    assert entry.inputs["type"] == "EC2_LINUX"
    assert entry.inputs["principalArn"] == role.outputs["arn"]
    attached = sorted(
        r.inputs["policyArn"].rsplit("/", 1)[-1]
        for r in prod.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.name.startswith("mlops-prod-eks-karpenter-nodes-")
    )
    assert attached == ["AmazonEC2ContainerRegistryPullOnly", "AmazonEKSWorkerNodePolicy"]


def test_controller_runs_on_the_system_group_with_its_queue_and_role(prod: Graph) -> None:
    release = by_chart(prod, "karpenter")
    crds = by_chart(prod, "karpenter-crd")
    assert release.inputs["version"] == crds.inputs["version"] == "1.14.1"
    # The OCI charts by their full reference, never an oci:// URL in repositoryOpts (which pulumi-kubernetes
    # cannot pull from at `up`: pulumi/pulumi-kubernetes#2158).
    assert release.inputs["chart"] == "oci://public.ecr.aws/karpenter/karpenter"
    assert crds.inputs["chart"] == "oci://public.ecr.aws/karpenter/karpenter-crd"
    assert "repositoryOpts" not in release.inputs and "repositoryOpts" not in crds.inputs
    assert (release.inputs["name"], crds.inputs["name"]) == ("karpenter", "karpenter-crd")
    assert release.inputs["skipCrds"] is True
    values = reveal(release.inputs["values"])
    assert values["nodeSelector"]["mlops.platform/node-group"] == "system"
    (term,) = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert {"key": "karpenter.sh/nodepool", "operator": "DoesNotExist"} in term["matchExpressions"]
    queue = prod.one("aws:sqs/queue:Queue")
    assert values["settings"]["interruptionQueue"] == queue.inputs["name"] == "mlops-prod-eks-karpenter"
    assert values["settings"]["clusterName"] == "mlops-prod-eks"
    assert values["settings"]["isolatedVPC"] is True
    # Monitoring scrapes it (its ServiceMonitor waits for the CRD); the chart's would race the CRD's install.
    assert values["serviceMonitor"] == {"enabled": False}
    role = prod.one("aws:iam/role:Role", "mlops-prod-eks-karpenter-controller")
    assert values["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"] == role.outputs["arn"]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    (cond,) = [s["Condition"]["StringEquals"] for s in trust["Statement"]]
    assert any(v == "system:serviceaccount:karpenter:karpenter" for v in cond.values())
    assert values["replicas"] == 2
    # The controller starts after its permissions, the nodes' access entry and the CRDs.
    assert crds.urn in release.dependencies
    # The node classes and pools come after the controller, so they are deleted before it: their finalizers
    # (draining and terminating the nodes) need the controller running.
    for custom in [*prod.of_type(NODE_CLASS), *prod.of_type(NODE_POOL)]:
        assert release.urn in custom.dependencies, custom.name
    namespace = prod.one("kubernetes:core/v1:Namespace", "mlops-prod-eks-karpenter")
    assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@dataclass(frozen=True)
class RecordingHelm(helm_layer.Helm):
    """A helm that records what it is asked to pull and pulls nothing."""

    calls: list[list[str]] = field(default_factory=list)

    def run(self, args: list[str], *, timeout: float = 0) -> subprocess.CompletedProcess[str]:
        self.calls.append(args)
        return subprocess.CompletedProcess(args, 1, "", "offline")


def test_verify_and_make_charts_find_the_oci_charts(prod: Graph, tmp_path: Path) -> None:
    specs = {
        s.chart: s for s in helm_layer.release_specs(prod) if s.repository == "oci://public.ecr.aws/karpenter"
    }
    assert set(specs) == {"karpenter", "karpenter-crd"}
    # `mlops verify` renders each from ../shared/charts/<chart>-<version> ...
    local = helm_layer.LocalCharts(shared_charts())
    for chart, spec in specs.items():
        assert local.locate(spec.chart, spec.version, spec.repository).name == f"{chart}-1.14.1"
    # ... and `make charts` (--pull-charts) pulls the OCI reference itself.
    recording = RecordingHelm(Path("helm"), "v4.0.0")
    with pytest.raises(helm_layer.ChartNotFound):
        helm_layer.PulledCharts(recording, tmp_path).locate(
            "karpenter", "1.14.1", specs["karpenter"].repository
        )
    assert recording.calls[0][:4] == [
        "pull",
        "oci://public.ecr.aws/karpenter/karpenter",
        "--version",
        "1.14.1",
    ]


def test_interruption_queue_is_encrypted_and_fed_by_five_rules(prod: Graph) -> None:
    queue = prod.one("aws:sqs/queue:Queue")
    key = prod.one("aws:kms/key:Key", "mlops-prod-cluster").outputs["arn"]
    assert queue.inputs["kmsMasterKeyId"] == key
    assert queue.inputs["messageRetentionSeconds"] == 300
    rules = [r for r in prod.of_type("aws:cloudwatch/eventRule:EventRule") if "karpenter" in r.name]
    patterns = sorted(json.loads(r.inputs["eventPattern"])["detail-type"][0] for r in rules)
    assert patterns == sorted(d for _, d in INTERRUPTION_EVENTS.values())
    # Named, so their alarms can name them before they exist.
    assert sorted(r.inputs["name"] for r in rules) == sorted(
        f"mlops-prod-eks-karpenter-{suffix}" for suffix in INTERRUPTION_EVENTS
    )
    targets = [r for r in prod.of_type("aws:cloudwatch/eventTarget:EventTarget") if "karpenter" in r.name]
    assert len(targets) == 5 and all(t.inputs["arn"] == queue.outputs["arn"] for t in targets)
    policy = json.loads(prod.one("aws:sqs/queuePolicy:QueuePolicy").inputs["policy"])
    sources = statements(policy)["EventBridgeRulesOfThisCluster"]["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert sorted(sources) == sorted(r.outputs["arn"] for r in rules)


def test_without_karpenter_nothing_of_it_is_rendered() -> None:
    g, _ = render_platform("dev", karpenterEnabled="false", gpuPoolEnabled="false")
    assert not g.of_type(NODE_POOL) and not g.of_type(NODE_CLASS) and not g.of_type("aws:sqs/queue:Queue")
    assert not [r for r in g.of_type(RELEASE) if "karpenter" in r.inputs["chart"]]


def test_config_refuses_what_karpenter_cannot_run_with() -> None:
    found = problems({"mlops-platform:karpenterEnabled": "false", "mlops-platform:environment": "staging"})
    assert any(k.endswith("gpuPoolEnabled") and "karpenterEnabled: true" in m for k, m in found), found
    found = problems(
        {
            "mlops-platform:networkInterfaceEndpointServices": json.dumps(
                ["s3", "sts", "sns", "monitoring", "secretsmanager"]
            )
        }
    )
    assert any(
        k.endswith("networkInterfaceEndpointServices") and "['ec2', 'ssm', 'sqs', 'eks']" in m
        for k, m in found
    ), found
    found = problems(
        {"mlops-platform:gpuPoolInstanceFamilies": json.dumps(["m7i"]), "mlops-platform:environment": "prod"}
    )
    assert any(k.endswith("gpuPoolInstanceFamilies") and "'m7i' has no NVIDIA GPU" in m for k, m in found), (
        found
    )
    found = problems({"mlops-platform:generalPoolInstanceFamilies": json.dumps(["m7i", "g5"])})
    assert any(k.endswith("generalPoolInstanceFamilies") and "GPU family" in m for k, m in found), found
    found = problems({"mlops-platform:generalPoolConsolidateAfter": "5 minutes"})
    assert any(
        k.endswith("generalPoolConsolidateAfter") and "a duration in s, m and h" in m for k, m in found
    ), found
    found = problems(
        {"mlops-platform:karpenterAmiAlias": "al2023@latest", "mlops-platform:environment": "staging"}
    )
    assert any(k.endswith("karpenterAmiAlias") and "staging's floor" in m for k, m in found), found
    assert config("dev", karpenterAmiAlias="al2023@latest").karpenter.ami_alias == "al2023@latest"


def test_monitoring_scrapes_the_charts_service_through_the_namespace_policy(prod: Graph) -> None:
    """Monitoring's ServiceMonitor selects the Service the pinned chart renders for the release ``karpenter``,
    by the port the controller serves metrics on, which the namespace's policy opens to our Prometheus."""
    release = by_chart(prod, "karpenter")
    values = reveal(release.inputs["values"])
    assert not {"nameOverride", "fullnameOverride", "additionalLabels"} & set(values)
    done = project_helm().run(
        [
            "template",
            release.inputs["name"],
            str(shared_charts() / "karpenter-1.14.1"),
            "--namespace",
            "karpenter",
            "--set",
            "settings.clusterName=mlops-prod-eks",
        ]
    )
    assert done.returncode == 0, done.stderr
    objects = [o for o in yaml.safe_load_all(done.stdout) if o]
    (service,) = [o for o in objects if o["kind"] == "Service"]
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    assert not [o for o in objects if o["kind"] == "ServiceMonitor"]
    monitor = reveal(
        prod.one("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "mlops-prod-karpenter").inputs
    )
    assert monitor["metadata"]["namespace"] == service["metadata"]["namespace"] == "karpenter"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    (port,) = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    (target,) = [p for p in container["ports"] if p["name"] == port["targetPort"]]
    # The namespace's ingress policy: our Prometheus pods (in Monitoring's namespace), to that port.
    policy = reveal(
        prod.one(
            "kubernetes:networking.k8s.io/v1:NetworkPolicy",
            "mlops-prod-eks-karpenter-allow-scrape-from-prometheus",
        ).inputs
    )
    assert policy["metadata"]["namespace"] == "karpenter"
    (rule,) = policy["spec"]["ingress"]
    assert [p["port"] for p in rule["ports"]] == [target["containerPort"]] == [8080]
    (peer,) = rule["from"]
    assert peer["podSelector"]["matchLabels"].items() <= PROMETHEUS_POD_LABELS.items()
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
    assert (
        prod.one("kubernetes:core/v1:Namespace", "mlops-prod-namespace").inputs["metadata"]["name"]
        == "monitoring"
    )
    assert (
        policy["spec"]["podSelector"]["matchLabels"].items()
        <= deployment["spec"]["template"]["metadata"]["labels"].items()
    )
