"""ContainerRegistry: ECR repositories for the platform's images (training, serving, MLflow)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from mlops_platform.components.aliases import component_options

PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")


def lifecycle_policy(keep_tagged_images: int, untagged_expiry_days: int) -> str:
    """Expire untagged images after ``untagged_expiry_days``; keep the newest ``keep_tagged_images`` tagged."""
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"Expire untagged images after {untagged_expiry_days} days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": untagged_expiry_days,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"Keep the last {keep_tagged_images} tagged images",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPatternList": ["*"],
                        "countType": "imageCountMoreThan",
                        "countNumber": keep_tagged_images,
                    },
                    "action": {"type": "expire"},
                },
            ]
        }
    )


def pull_policy(puller_role_arn: str | Sequence[str]) -> str:
    """A repository policy that lets exactly the given role(s) pull images, and nothing else."""
    principals = [puller_role_arn] if isinstance(puller_role_arn, str) else list(puller_role_arn)
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "NodeRolePull",
                    "Effect": "Allow",
                    "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
                    "Action": list(PULL_ACTIONS),
                }
            ],
        }
    )


@dataclass(frozen=True)
class ContainerRegistryArgs:
    """Arguments of :class:`ContainerRegistry`.

    Attributes:
        repositories: Repository names (lowercase; e.g. ``training``, ``serving``, ``mlflow``).
        kms_key_arn: Customer-managed KMS key that encrypts the images.
        puller_role_arn: The principal the repository policies grant pull to (the cluster's node role).
        additional_puller_role_arns: More roles granted pull, and nothing else (Karpenter's node role).
        name_prefix: Prefix of every repository name, e.g. ``mlops-prod/`` gives ``mlops-prod/training``.
        keep_tagged_images: Tagged images kept per repository (older ones expire).
        untagged_expiry_days: Days after which untagged images expire.
        scan_on_push: Basic vulnerability scan of every pushed image.
        protect: Pulumi ``protect`` and ``retain_on_delete`` on the repositories.
    """

    repositories: Sequence[str]
    kms_key_arn: pulumi.Input[str]
    puller_role_arn: pulumi.Input[str]
    additional_puller_role_arns: Sequence[pulumi.Input[str]] = ()
    name_prefix: str = ""
    keep_tagged_images: int = 100
    untagged_expiry_days: int = 7
    scan_on_push: bool = True
    protect: bool = True


class ContainerRegistry(pulumi.ComponentResource):
    """Private ECR repositories: immutable tags, scan on push, KMS encryption, a lifecycle policy and a
    repository policy granting pull to the node roles only. Deleting a repository that holds images fails
    (no ``force_delete``).

    Outputs: ``repository_urls`` and ``repository_arns`` (name -> value), ``repositories`` (the resources).
    """

    def __init__(
        self, name: str, args: ContainerRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        TOKEN = "mlops:container_registry:ContainerRegistry"
        super().__init__(TOKEN, name, None, component_options(TOKEN, opts))
        if len(set(args.repositories)) != len(args.repositories) or not args.repositories:
            raise ValueError("ContainerRegistry needs a non-empty list of unique repository names")
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)
        self.repositories: dict[str, aws.ecr.Repository] = {}
        for repo in args.repositories:
            r = aws.ecr.Repository(
                f"{name}-{repo}",
                name=f"{args.name_prefix}{repo}",
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                    scan_on_push=args.scan_on_push
                ),
                encryption_configurations=[
                    aws.ecr.RepositoryEncryptionConfigurationArgs(
                        encryption_type="KMS", kms_key=args.kms_key_arn
                    )
                ],
                force_delete=False,
                opts=stateful,
            )
            aws.ecr.LifecyclePolicy(
                f"{name}-{repo}",
                repository=r.name,
                policy=lifecycle_policy(args.keep_tagged_images, args.untagged_expiry_days),
                opts=child,
            )
            aws.ecr.RepositoryPolicy(
                f"{name}-{repo}",
                repository=r.name,
                policy=pulumi.Output.all(args.puller_role_arn, *args.additional_puller_role_arns).apply(
                    pull_policy
                ),
                opts=child,
            )
            self.repositories[repo] = r
        self.repository_urls: dict[str, pulumi.Output[str]] = {
            k: r.repository_url for k, r in self.repositories.items()
        }
        self.repository_arns: dict[str, pulumi.Output[str]] = {k: r.arn for k, r in self.repositories.items()}
        self.register_outputs(
            {"repository_urls": self.repository_urls, "repository_arns": self.repository_arns}
        )
