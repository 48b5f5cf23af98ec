"""KubernetesCluster under the recording monitor."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from compute_support import ADMIN, DEPLOYER, REGION, config, plain, policy, render_platform

from mlops_platform.components.cluster.access import CLUSTER_ADMIN_POLICY
from mlops_platform.components.cluster.cluster import (
    CONTROL_PLANE_LOG_TYPES,
    KubernetesCluster,
    KubernetesClusterArgs,
)
from mlops_platform.components.cluster.node_groups import NodeGroupSpec, gpu_node_group
from mlops_platform.components.cluster.versions import (
    ADDON_VERSIONS,
    DEFAULT_KUBERNETES_VERSION,
    NVIDIA_DEVICE_PLUGIN_CHART_VERSION,
)
from mlops_platform.components.keys import cluster_role_name
from mlops_platform.components.platform.config import ConfigError
from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.graph import Graph, Resource, Secret

KEY = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-4333-8444-555555555555"
LOGS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/66666666-2222-4333-8444-555555555555"


def render(**overrides: Any) -> Graph:
    args: dict[str, Any] = {
        "vpc_id": "vpc-0123",
        "private_subnet_ids": ["subnet-a", "subnet-b", "subnet-c"],
        "secrets_key_arn": KEY,
        "logs_key_arn": LOGS_KEY,
        "volume_key_arn": KEY,
        "region": REGION,
        "system_nodes": NodeGroupSpec(["m6i.large"], 2, 3, 2),
        "workload_nodes": NodeGroupSpec(["m6i.xlarge"], 0, 4, 1, disk_size_gib=100),
        "admin_principal_arns": [ADMIN],
        "deployer_principal_arn": DEPLOYER,
    }
    args.update(overrides)
    return run_callable(
        lambda: KubernetesCluster("c1", KubernetesClusterArgs(**args)), config={"aws:region": REGION}
    )


@pytest.fixture(scope="module")
def graph() -> Graph:
    return render(gpu_nodes=gpu_node_group(NodeGroupSpec(["g5.xlarge"], 0, 1, 0, disk_size_gib=200)))


def cluster(g: Graph) -> Resource:
    return g.one("aws:eks/cluster:Cluster")


def test_endpoint_is_private_without_an_allow_list(graph: Graph) -> None:
    vpc = cluster(graph).inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc
    assert vpc["subnetIds"] == ["subnet-a", "subnet-b", "subnet-c"]


def test_public_endpoint_only_for_the_given_cidrs() -> None:
    vpc = cluster(render(public_access_cidrs=["203.0.113.0/24"])).inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True
    assert vpc["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert vpc["endpointPrivateAccess"] is True


def test_prod_stack_endpoint_is_private_and_prod_refuses_an_allow_list() -> None:
    g, _ = render_platform("prod")
    assert cluster(g).inputs["vpcConfig"]["endpointPublicAccess"] is False
    with pytest.raises(ConfigError, match="clusterPublicAccessCidrs"):
        config("prod", clusterPublicAccessCidrs=json.dumps(["203.0.113.0/24"]))


def test_api_authentication_with_access_entries_for_admins_and_deployer(graph: Graph) -> None:
    access = cluster(graph).inputs["accessConfig"]
    assert access == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    entries = {r.inputs["principalArn"]: r for r in graph.of_type("aws:eks/accessEntry:AccessEntry")}
    assert set(entries) == {ADMIN, DEPLOYER}
    assert all(e.inputs["type"] == "STANDARD" for e in entries.values())
    assocs = graph.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert {a.inputs["principalArn"] for a in assocs} == {ADMIN, DEPLOYER}
    for a in assocs:
        assert a.inputs["policyArn"] == CLUSTER_ADMIN_POLICY
        assert a.inputs["accessScope"] == {"type": "cluster"}
    # No aws-auth ConfigMap anywhere.
    assert not [r for r in graph.of_type("kubernetes:core/v1:ConfigMap") if "aws-auth" in str(r.inputs)]


def test_deployer_listed_as_admin_gets_one_entry() -> None:
    g = render(admin_principal_arns=[ADMIN, DEPLOYER])
    assert len(g.of_type("aws:eks/accessEntry:AccessEntry")) == 2


def test_secrets_encryption_and_all_control_plane_logs(graph: Graph) -> None:
    c = cluster(graph)
    assert c.inputs["encryptionConfig"] == {"provider": {"keyArn": KEY}, "resources": ["secrets"]}
    assert sorted(c.inputs["enabledClusterLogTypes"]) == sorted(CONTROL_PLANE_LOG_TYPES)
    assert len(CONTROL_PLANE_LOG_TYPES) == 5
    log = graph.one("aws:cloudwatch/logGroup:LogGroup")
    assert log.inputs["name"] == "/aws/eks/c1/cluster"
    assert log.inputs["kmsKeyId"] == LOGS_KEY
    assert log.inputs["retentionInDays"] == 365
    assert log.urn in c.dependencies
    assert c.inputs["bootstrapSelfManagedAddons"] is False
    assert c.inputs["deletionProtection"] is True


def test_cluster_role_is_named_and_gets_no_iam_kms_policy_to_wait_for(graph: Graph) -> None:
    # The secrets key's policy grants the role by name (mlops_platform.components.keys); an inline IAM policy would be a
    # second grant whose propagation CreateCluster could race (terraform-provider-aws#49247).
    role = graph.one("aws:iam/role:Role", "c1-cluster")
    assert role.inputs["name"] == cluster_role_name("c1") == "c1-cluster"
    assert not [p for p in graph.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.startswith("c1-cluster")]
    by_urn = graph.by_urn()
    deps = {by_urn[u].type for u in cluster(graph).dependencies if u in by_urn}
    assert "aws:iam/rolePolicy:RolePolicy" not in deps


def test_platform_cluster_key_grants_exactly_the_cluster_role_before_it_exists() -> None:
    g, _ = render_platform("prod")
    (role,) = [r for r in g.of_type("aws:iam/role:Role") if r.name.endswith("-eks-cluster")]
    (eks,) = g.of_type("aws:eks/cluster:Cluster")
    assert eks.inputs["roleArn"] == role.outputs["arn"]
    key = next(k for k in g.of_type("aws:kms/key:Key") if k.inputs["tags"]["purpose"] == "cluster")
    assert eks.inputs["encryptionConfig"]["provider"]["keyArn"] == key.outputs["arn"]
    stmt = next(
        s for s in policy(key)["Statement"] if s.get("Sid") == "AllowEksClusterRoleEnvelopeEncryption"
    )
    assert stmt["Condition"]["ArnEquals"]["aws:PrincipalArn"] == role.outputs["arn"]
    assert stmt["Action"] == ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"]
    # The key comes first and names the role only in a condition: it never depends on the role.
    assert role.urn not in key.dependencies


def irsa_condition(role: Resource) -> tuple[str, dict[str, str]]:
    doc = policy(role, "assumeRolePolicy")
    (stmt,) = doc["Statement"]
    assert stmt["Action"] == "sts:AssumeRoleWithWebIdentity"
    return stmt["Principal"]["Federated"], stmt["Condition"]["StringEquals"]


@pytest.mark.parametrize(
    ("role", "subject"),
    [
        ("c1-vpc-cni", "system:serviceaccount:kube-system:aws-node"),
        ("c1-ebs-csi", "system:serviceaccount:kube-system:ebs-csi-controller-sa"),
    ],
)
def test_add_on_roles_trust_exactly_their_service_account(graph: Graph, role: str, subject: str) -> None:
    provider = graph.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    federated, cond = irsa_condition(graph.one("aws:iam/role:Role", role))
    assert federated == provider.outputs["arn"]
    issuer = provider.inputs["url"].removeprefix("https://")
    assert cond == {f"{issuer}:sub": subject, f"{issuer}:aud": "sts.amazonaws.com"}
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]


def test_node_role_has_only_worker_and_pull_policies(graph: Graph) -> None:
    node_role = graph.one("aws:iam/role:Role", "c1-nodes")
    attached = [
        r.inputs["policyArn"]
        for r in graph.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.inputs["role"] == node_role.outputs["name"]
    ]
    assert sorted(attached) == [
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    ]
    assert not [r for r in graph.of_type("aws:iam/rolePolicy:RolePolicy") if r.inputs["role"] == node_role.id]
    assert json.loads(node_role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": "ec2.amazonaws.com"
    }


def test_launch_templates_require_imdsv2_hop_limit_one_and_encrypted_gp3(graph: Graph) -> None:
    node_sg = graph.one("aws:ec2/securityGroup:SecurityGroup", "c1-nodes")
    lts = graph.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    assert len(lts) == 3
    for lt in lts:
        assert lt.inputs["metadataOptions"] == {
            "httpEndpoint": "enabled",
            "httpTokens": "required",
            "httpPutResponseHopLimit": 1,
            "instanceMetadataTags": "disabled",
        }
        (bdm,) = lt.inputs["blockDeviceMappings"]
        assert bdm["ebs"]["volumeType"] == "gp3"
        assert bdm["ebs"]["encrypted"] == "true"
        assert bdm["ebs"]["kmsKeyId"] == KEY
        assert "keyName" not in lt.inputs
        assert lt.inputs["vpcSecurityGroupIds"] == [node_sg.id]
    assert (
        graph.one("aws:ec2/launchTemplate:LaunchTemplate", "c1-workload").inputs["blockDeviceMappings"][0][
            "ebs"
        ]["volumeSize"]
        == 100
    )


def test_node_groups_private_no_ssh_and_gpu_tainted(graph: Graph) -> None:
    groups = {r.name: r for r in graph.of_type("aws:eks/nodeGroup:NodeGroup")}
    assert set(groups) == {"c1-system", "c1-workload", "c1-gpu"}
    for g in groups.values():
        assert g.inputs["subnetIds"] == ["subnet-a", "subnet-b", "subnet-c"]
        assert "remoteAccess" not in g.inputs
        assert "diskSize" not in g.inputs
        assert g.inputs["launchTemplate"]["id"].startswith("lt-")
    gpu = groups["c1-gpu"].inputs
    assert gpu["amiType"] == "AL2023_x86_64_NVIDIA"
    assert gpu["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    assert gpu["labels"]["nvidia.com/gpu.present"] == "true"
    assert gpu["labels"]["mlops.platform/node-group"] == "gpu"
    assert "taints" not in groups["c1-system"].inputs
    assert groups["c1-system"].inputs["amiType"] == "AL2023_x86_64_STANDARD"


def test_no_gpu_group_unless_asked() -> None:
    names = {r.name for r in render().of_type("aws:eks/nodeGroup:NodeGroup")}
    assert names == {"c1-system", "c1-workload"}


@pytest.mark.parametrize(
    ("env", "pools"), [("dev", {"general"}), ("staging", {"general", "gpu"}), ("prod", {"general", "gpu"})]
)
def test_node_groups_and_pools_per_environment(env: str, pools: set[str]) -> None:
    """The system group is the only fixed group by default; workloads get Karpenter's pools."""
    g, cfg = render_platform(env)
    found = {r.name.rsplit("-", 1)[1]: r for r in g.of_type("aws:eks/nodeGroup:NodeGroup")}
    assert set(found) == {"system"}
    assert found["system"].inputs["scalingConfig"]["minSize"] == cfg.system_nodes.min_size
    names = {r.inputs["metadata"]["name"] for r in g.of_type("kubernetes:karpenter.sh/v1:NodePool")}
    assert names == pools


def test_the_fixed_groups_stay_when_a_stack_keeps_them() -> None:
    g, cfg = render_platform("prod", workloadNodesEnabled="true", gpuNodesEnabled="true")
    found = {r.name.rsplit("-", 1)[1]: r for r in g.of_type("aws:eks/nodeGroup:NodeGroup")}
    assert set(found) == {"system", "workload", "gpu"}
    assert found["workload"].inputs["instanceTypes"] == cfg.workload_nodes.instance_types


def test_add_ons_pinned_with_network_policy_and_own_roles(graph: Graph) -> None:
    addons = {r.inputs["addonName"]: r for r in graph.of_type("aws:eks/addon:Addon")}
    assert set(addons) == {"vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver", "metrics-server"}
    for name, addon in addons.items():
        assert addon.inputs["addonVersion"] == ADDON_VERSIONS[DEFAULT_KUBERNETES_VERSION][name]
    assert json.loads(addons["vpc-cni"].inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}
    roles = {r.name: r for r in graph.of_type("aws:iam/role:Role")}
    assert addons["vpc-cni"].inputs["serviceAccountRoleArn"] == roles["c1-vpc-cni"].outputs["arn"]
    assert addons["aws-ebs-csi-driver"].inputs["serviceAccountRoleArn"] == roles["c1-ebs-csi"].outputs["arn"]
    # Networking add-ons come before the nodes; Deployments' add-ons after the system nodes.
    groups = {r.name: r.urn for r in graph.of_type("aws:eks/nodeGroup:NodeGroup")}
    for r in graph.of_type("aws:eks/nodeGroup:NodeGroup"):
        assert addons["vpc-cni"].urn in r.dependencies
    for name in ("coredns", "aws-ebs-csi-driver", "metrics-server"):
        assert groups["c1-system"] in addons[name].dependencies
    # metrics-server runs with its EKS defaults (no IRSA role, no configuration values to drift from).
    assert not addons["metrics-server"].inputs.get("serviceAccountRoleArn")
    assert not addons["metrics-server"].inputs.get("configurationValues")


def upstream(graph: Graph, urn: str) -> set[str]:
    """Every resource ``urn`` waits for, directly or through others (dependencies and parents' waits)."""
    by_urn = graph.by_urn()
    seen: set[str] = set()
    todo = [urn]
    while todo:
        r = by_urn.get(todo.pop())
        if r is None:
            continue
        for dep in [*r.dependencies, *(d for ds in r.property_dependencies.values() for d in ds)]:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_only_the_system_group_gates_add_ons_the_provider_and_in_cluster_objects(graph: Graph) -> None:
    # A GPU (or workload) group stuck on capacity or a 0 "G and VT" vCPU quota must not block CoreDNS, the
    # EBS CSI driver, the Kubernetes provider or any object created through it.
    groups = {r.name: r.urn for r in graph.of_type("aws:eks/nodeGroup:NodeGroup")}
    assert set(groups) == {"c1-system", "c1-workload", "c1-gpu"}
    gated = [
        *graph.of_type("aws:eks/addon:Addon"),
        graph.one("pulumi:providers:kubernetes"),
        *[r for r in graph.resources if r.type.startswith("kubernetes:")],
    ]
    assert len(gated) >= 7
    for r in gated:
        waits = upstream(graph, r.urn)
        assert groups["c1-gpu"] not in waits, r.name
        assert groups["c1-workload"] not in waits, r.name
    provider = graph.one("pulumi:providers:kubernetes")
    assert groups["c1-system"] in provider.dependencies


def test_unknown_kubernetes_version_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"no pinned add-on versions for Kubernetes 1\.99"):
        render(kubernetes_version="1.99")


def test_kubeconfig_is_secret_and_uses_aws_eks_get_token(graph: Graph) -> None:
    provider = graph.one("pulumi:providers:kubernetes")
    assert isinstance(provider.inputs["kubeconfig"], Secret)
    kubeconfig = json.loads(plain(provider, "kubeconfig"))
    exec_ = kubeconfig["users"][0]["user"]["exec"]
    assert exec_["command"] == "aws"
    assert exec_["args"] == [
        "eks",
        "get-token",
        "--cluster-name",
        "c1",
        "--region",
        REGION,
        "--output",
        "json",
    ]
    assert kubeconfig["clusters"][0]["cluster"]["server"] == cluster(graph).outputs["endpoint"]
    assert "token" not in json.dumps(kubeconfig["users"][0]["user"]).replace("get-token", "")


def test_default_storage_class_is_encrypted_gp3_on_the_cluster_provider(graph: Graph) -> None:
    sc = graph.one("kubernetes:storage.k8s.io/v1:StorageClass")
    provider = graph.one("pulumi:providers:kubernetes")
    assert sc.provider == provider.urn
    assert sc.inputs["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert sc.inputs["provisioner"] == "ebs.csi.aws.com"
    assert sc.inputs["parameters"] == {"type": "gp3", "encrypted": "true", "kmsKeyId": KEY}
    assert sc.inputs["volumeBindingMode"] == "WaitForFirstConsumer"
    assert sc.inputs["allowVolumeExpansion"] is True


def test_node_security_group_rules(graph: Graph) -> None:
    node_sg = graph.one("aws:ec2/securityGroup:SecurityGroup", "c1-nodes")
    cp_sg = graph.one("aws:ec2/securityGroup:SecurityGroup", "c1-control-plane")
    assert cluster(graph).inputs["vpcConfig"]["securityGroupIds"] == [cp_sg.id]
    ingress = graph.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    to_nodes = [r for r in ingress if r.inputs["securityGroupId"] == node_sg.id]
    # Nodes admit only themselves and the control plane: no CIDR-based ingress.
    assert to_nodes and all("cidrIpv4" not in r.inputs for r in to_nodes)
    assert {r.inputs["referencedSecurityGroupId"] for r in to_nodes} == {node_sg.id, cp_sg.id}
    to_cp = [r for r in ingress if r.inputs["securityGroupId"] == cp_sg.id]
    assert [(r.inputs["referencedSecurityGroupId"], r.inputs["fromPort"]) for r in to_cp] == [
        (node_sg.id, 443)
    ]


def test_each_pinned_kubernetes_version_renders_its_own_add_on_row() -> None:
    for version, row in ADDON_VERSIONS.items():
        g = render(kubernetes_version=version)
        assert cluster(g).inputs["version"] == version
        assert {
            r.inputs["addonName"]: r.inputs["addonVersion"] for r in g.of_type("aws:eks/addon:Addon")
        } == row
        assert all(v.startswith("v") and "-eksbuild." in v for v in row.values())


def test_gpu_group_gets_the_pinned_nvidia_device_plugin_on_the_cluster_provider(graph: Graph) -> None:
    release = graph.one("kubernetes:helm.sh/v3:Release")
    assert release.name == "c1-nvidia-device-plugin"
    assert release.provider == graph.one("pulumi:providers:kubernetes").urn
    assert release.inputs["chart"] == "nvidia-device-plugin"
    assert release.inputs["version"] == NVIDIA_DEVICE_PLUGIN_CHART_VERSION
    assert re.fullmatch(r"\d+\.\d+\.\d+", NVIDIA_DEVICE_PLUGIN_CHART_VERSION)
    assert release.inputs["repositoryOpts"] == {"repo": "https://nvidia.github.io/k8s-device-plugin"}
    assert release.inputs["namespace"] == "kube-system"
    values = release.inputs["values"]
    # Only on GPU nodes (the label every GPU node of the platform carries), tolerating exactly the taint.
    assert values["nodeSelector"] == {"mlops.platform/accelerator": "nvidia"}
    (term,) = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert term == {
        "matchExpressions": [{"key": "mlops.platform/accelerator", "operator": "In", "values": ["nvidia"]}]
    }
    gpu = graph.one("aws:eks/nodeGroup:NodeGroup", "c1-gpu")
    assert gpu.inputs["labels"]["mlops.platform/accelerator"] == "nvidia"
    assert values["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ]
    resources = values["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
    assert values["gfd"] == {"enabled": False}


def test_device_plugin_tolerates_every_taint_of_the_gpu_group() -> None:
    spec = gpu_node_group(NodeGroupSpec(["g5.xlarge"], 0, 1, 0, taints=[("team", "vision", "NO_EXECUTE")]))
    values = render(gpu_nodes=spec).one("kubernetes:helm.sh/v3:Release").inputs["values"]
    assert {(t["key"], t["value"], t["effect"]) for t in values["tolerations"]} == {
        ("nvidia.com/gpu", "true", "NoSchedule"),
        ("team", "vision", "NoExecute"),
    }


def test_no_device_plugin_without_a_gpu_group() -> None:
    assert not render().of_type("kubernetes:helm.sh/v3:Release")


def test_prod_device_plugin_on_its_gpu_pool() -> None:
    g, _ = render_platform("prod")
    (release,) = [
        r for r in g.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "nvidia-device-plugin"
    ]
    assert release.inputs["version"] == NVIDIA_DEVICE_PLUGIN_CHART_VERSION
    assert release.inputs["values"]["nodeSelector"] == {"mlops.platform/accelerator": "nvidia"}
    # prod's GPUs come from the Karpenter pool (no fixed GPU group), whose nodes carry the label.
    assert not [r for r in g.of_type("aws:eks/nodeGroup:NodeGroup") if r.name.endswith("-gpu")]
    (pool,) = [r for r in g.of_type("kubernetes:karpenter.sh/v1:NodePool") if r.name.endswith("-gpu-pool")]
    assert pool.inputs["spec"]["template"]["metadata"]["labels"]["mlops.platform/accelerator"] == "nvidia"


def test_pulumi_owns_the_desired_size(graph: Graph) -> None:
    # No cluster autoscaler is installed, so nothing else may own the count: Pulumi sets it from config.
    assert all("autoscaler" not in r.inputs["chart"] for r in graph.of_type("kubernetes:helm.sh/v3:Release"))
    groups = graph.of_type("aws:eks/nodeGroup:NodeGroup")
    for g in groups:
        assert not g.ignore_changes
    sizes = {r.name: r.inputs["scalingConfig"] for r in groups}
    assert sizes["c1-system"] == {"minSize": 2, "maxSize": 3, "desiredSize": 2}
    assert sizes["c1-workload"] == {"minSize": 0, "maxSize": 4, "desiredSize": 1}


def test_irsa_add_ons_wait_for_their_role_permissions(graph: Graph) -> None:
    addons = {r.inputs["addonName"]: r for r in graph.of_type("aws:eks/addon:Addon")}
    cni_policy = graph.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "c1-vpc-cni")
    assert cni_policy.inputs["policyArn"] == "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
    assert cni_policy.urn in addons["vpc-cni"].dependencies
    ebs_policy = graph.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "c1-ebs-csi")
    assert ebs_policy.inputs["policyArn"] == "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
    ebs_kms = graph.one("aws:iam/rolePolicy:RolePolicy", "c1-ebs-csi-kms")
    assert {ebs_policy.urn, ebs_kms.urn} <= set(addons["aws-ebs-csi-driver"].dependencies)


def policy_arns(g: Graph) -> set[str]:
    return {
        *(r.inputs["policyArn"] for r in g.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")),
        *(
            r.inputs["policyArn"]
            for r in g.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
        ),
    }


def test_standard_partition_arns_are_unchanged(graph: Graph) -> None:
    assert policy_arns(graph) == {
        "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
        "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
    }
    assert CLUSTER_ADMIN_POLICY == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def test_managed_policy_arns_follow_the_partition() -> None:
    arns = policy_arns(render(partition="aws-us-gov"))
    assert len(arns) == 6
    assert all(a.startswith("arn:aws-us-gov:") for a in arns), arns
    assert "arn:aws-us-gov:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy" in arns
    assert "arn:aws-us-gov:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy" in arns


def test_api_access_cidrs_reach_the_private_endpoint_on_443_only() -> None:
    cidrs = ["10.8.0.0/16", "192.168.50.0/24"]
    g = render(api_access_cidrs=cidrs)
    cp_sg = g.one("aws:ec2/securityGroup:SecurityGroup", "c1-control-plane")
    rules = [
        r
        for r in g.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == cp_sg.id and "cidrIpv4" in r.inputs
    ]
    assert sorted(r.inputs["cidrIpv4"] for r in rules) == cidrs
    for r in rules:
        assert (r.inputs["ipProtocol"], r.inputs["fromPort"], r.inputs["toPort"]) == ("tcp", 443, 443)
        assert r.inputs["cidrIpv4"] in r.inputs["description"]
    # The endpoint stays private: these are rules on its security group, not a public allow-list.
    assert cluster(g).inputs["vpcConfig"]["endpointPublicAccess"] is False


def test_no_cidr_rules_on_the_control_plane_by_default(graph: Graph) -> None:
    rules = graph.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert all("cidrIpv4" not in r.inputs for r in rules)


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "8.8.8.0/24", "10.0.0.1/8", "not-a-cidr"])
def test_api_access_cidrs_must_be_private_networks(cidr: str) -> None:
    with pytest.raises(ValueError, match="api_access_cidrs"):
        render(api_access_cidrs=[cidr])


def test_platform_admits_the_configured_private_networks_to_the_api() -> None:
    """clusterApiAccessCidrs reaches the control-plane security group (and only 443)."""
    from mlops_platform.components.platform.platform import MlopsPlatform
    from mlops_platform.mlops.engine import run_callable

    cfg = config("prod", clusterApiAccessCidrs='["10.200.0.0/16"]')
    graph = run_callable(lambda: MlopsPlatform("mlops", cfg), config={"aws:region": REGION})
    rules = [
        r
        for r in graph.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs.get("cidrIpv4") == "10.200.0.0/16"
    ]
    assert [(r.inputs["fromPort"], r.inputs["toPort"]) for r in rules] == [(443, 443)]
    assert graph.one("aws:eks/cluster:Cluster").inputs["vpcConfig"]["endpointPublicAccess"] is False


def test_device_plugin_container_has_a_read_only_root_filesystem(graph: Graph) -> None:
    """The chart's ``securityContext`` value replaces its default (escalation off, ALL dropped) as a whole:
    ours keeps both and adds the read-only root file system verify's policy layer asked for."""
    values = graph.one("kubernetes:helm.sh/v3:Release").inputs["values"]
    assert values["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert "privileged" not in values["securityContext"]
