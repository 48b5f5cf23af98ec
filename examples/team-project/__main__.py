"""A team's own stack on the MLOps platform.

It reads the platform stack's outputs through the typed contract (``PlatformOutputs.from_stack``) and
builds, with the platform's own components, what one team needs:

* an artifact bucket of its own (``ArtifactStore``), encrypted with the platform's data key;
* ECR repositories (``ContainerRegistry``) that only the platform's nodes may pull from;
* a Kubernetes namespace (Pod Security "restricted") and a service account whose IAM role (IRSA,
  trusted through the platform's OIDC provider) may read and write the team's bucket only;
* monitoring of the team's model (``ModelMonitoring``): scrape config, alerts and a dashboard.

Everything AWS goes through one explicit provider whose default tags carry the governance tag set.
"""

from __future__ import annotations

import re

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from mlops_platform.components import (
    DATA_CLASSIFICATIONS,
    ENVIRONMENTS,
    ArtifactStore,
    ArtifactStoreArgs,
    ContainerRegistry,
    ContainerRegistryArgs,
    ModelMonitoring,
    ModelMonitoringArgs,
    PlatformOutputs,
    irsa_trust_policy,
    pod_security_labels,
)

# What AWS accepts as a tag value (letters, digits, spaces and + - = . _ : / @); the provider tags everything.
TAG_VALUE = re.compile(r"[\w .:/=+@-]{1,256}")

config = pulumi.Config()
team = config.require("team")
if not re.fullmatch(r"[a-z][a-z0-9-]{1,20}", team):
    raise pulumi.RunError(f"team-project:team: {team!r} must be 2-21 lowercase letters, digits or dashes")


def _one_of(key: str, allowed: tuple[str, ...]) -> str:
    value = config.require(key)
    if value not in allowed:
        raise pulumi.RunError(f"team-project:{key}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _tag_value(key: str) -> str:
    value = config.require(key)
    if not TAG_VALUE.fullmatch(value):
        raise pulumi.RunError(f"team-project:{key}: {value!r} is not a valid AWS tag value")
    return value


# The governance tag set, checked against the platform's own vocabulary.
environment = _one_of("environment", ENVIRONMENTS)
owner = _tag_value("owner")
cost_center = _tag_value("costCenter")
data_classification = _one_of("dataClassification", DATA_CLASSIFICATIONS)
protect = config.get_bool("protect")
protect = True if protect is None else protect
if environment == "prod" and not protect:
    raise pulumi.RunError(
        "team-project:protect must be true in prod: the bucket and repositories hold the only copies"
    )
repositories: list[str] = config.get_object("repositories") or ["training", "serving"]  # type: ignore[assignment]
model_name = config.get("modelName") or "churn-classifier"

# ---- the platform this team builds on ---------------------------------------------------------------
platform = PlatformOutputs.from_stack(config.require("platformStack"))


def _same_environment(platform_env: str) -> str:
    if platform_env != environment:
        raise pulumi.RunError(
            f"team-project:platformStack is the {platform_env!r} platform, but this stack is {environment!r}; "
            "a team stack may only build on the platform of its own environment"
        )
    return platform_env


# The environment tag comes from the platform after the check, so nothing is created across environments.
checked_environment = platform.environment.apply(_same_environment)

provider = aws.Provider(
    "team-aws",
    region=aws.config.region,
    default_tags=aws.ProviderDefaultTagsArgs(
        tags={
            "environment": checked_environment,
            "owner": owner,
            "cost-center": cost_center,
            "data-classification": data_classification,
            "managed-by": "pulumi",
            "team": team,
        }
    ),
)
aws_opts = pulumi.ResourceOptions(provider=provider)
prefix = f"{team}-{environment}"

# ---- artifacts ----------------------------------------------------------------------------------------
account_id = aws.get_caller_identity(opts=pulumi.InvokeOptions(provider=provider)).account_id
artifacts = ArtifactStore(
    f"{prefix}-artifacts",
    ArtifactStoreArgs(
        bucket_name=f"{prefix}-artifacts-{account_id}",
        kms_key_arn=platform.kms_data_key_arn,
        protect=protect,
    ),
    opts=pulumi.ResourceOptions(providers={"aws": provider}),
)

# ---- images -------------------------------------------------------------------------------------------
registry = ContainerRegistry(
    f"{prefix}-registry",
    ContainerRegistryArgs(
        repositories=repositories,
        kms_key_arn=platform.kms_data_key_arn,
        puller_role_arn=platform.node_role_arn,
        name_prefix=f"{prefix}/",
        protect=protect,
    ),
    opts=pulumi.ResourceOptions(providers={"aws": provider}),
)

# ---- workload identity (IRSA) -------------------------------------------------------------------------
namespace_name = team
service_account_name = f"{team}-training"


# The platform's own trust policy: exactly one service account (its namespace and name, and the
# sts.amazonaws.com audience) may assume the role.
training_role = aws.iam.Role(
    f"{prefix}-training",
    name=f"{prefix}-training",
    description=f"Training jobs of team {team}: read and write the team's artifact bucket",
    assume_role_policy=pulumi.Output.all(platform.oidc_provider_arn, platform.oidc_issuer).apply(
        lambda a: irsa_trust_policy(a[0], a[1], namespace_name, service_account_name)
    ),
    max_session_duration=3600,
    opts=aws_opts,
)
aws.iam.RolePolicy(
    f"{prefix}-training-artifacts",
    role=training_role.id,
    policy=artifacts.read_write_policy,
    opts=aws_opts,
)

# ---- Kubernetes: namespace, service account, model monitoring ------------------------------------------
cluster = k8s.Provider("team-k8s", kubeconfig=platform.kubeconfig)
k8s_opts = pulumi.ResourceOptions(provider=cluster)
namespace = k8s.core.v1.Namespace(
    f"{prefix}-namespace",
    metadata=k8s.meta.v1.ObjectMetaArgs(
        name=namespace_name,
        labels={**pod_security_labels("restricted"), "team": team},
    ),
    opts=k8s_opts,
)
k8s.core.v1.ServiceAccount(
    f"{prefix}-training-sa",
    metadata=k8s.meta.v1.ObjectMetaArgs(
        name=service_account_name,
        namespace=namespace.metadata.name,
        annotations={"eks.amazonaws.com/role-arn": training_role.arn},
    ),
    automount_service_account_token=False,
    opts=k8s_opts,
)
ModelMonitoring(
    f"{prefix}-{model_name}",
    ModelMonitoringArgs(
        model_name=model_name,
        namespace=namespace.metadata.name,
        selector={"app.kubernetes.io/name": model_name},
        team=team,
    ),
    opts=pulumi.ResourceOptions(providers={"kubernetes": cluster}),
)

pulumi.export("artifactBucketName", artifacts.bucket_name)
pulumi.export("repositoryUrls", registry.repository_urls)
pulumi.export("trainingRoleArn", training_role.arn)
pulumi.export("namespace", namespace.metadata.name)
pulumi.export("mlflowUrl", platform.mlflow_url)
