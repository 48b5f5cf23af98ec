"""The VPC interface endpoints a stack may create: what each is for, the default set, and their policy.

A plain module (no Pulumi import) so that the config schema (:mod:`mlops_platform.components.platform.config`) validates
``networkInterfaceEndpointServices`` against the same catalogue :class:`mlops_platform.components.network.network.Network` builds from.
Every interface endpoint is billed per availability zone and hour (about 0.01 USD in most regions, plus a per-GB
data charge), so the set is chosen per environment profile; docs/components-data.md lists the cost.
"""

from __future__ import annotations

import json

__all__ = [
    "ENDPOINTS_WITHOUT_POLICY",
    "ENDPOINT_SERVICE_PURPOSES",
    "INTERFACE_ENDPOINT_SERVICES",
    "KARPENTER_ENDPOINTS",
    "REQUIRED_ENDPOINTS",
    "ecr_layer_bucket_arn",
    "endpoint_policy",
]

ENDPOINT_SERVICE_PURPOSES: dict[str, str] = {
    "s3": "S3 for MLflow's artifact proxy (and, through private DNS, every S3 call made in the VPC): "
    "MLflow's NetworkPolicy admits HTTPS to the VPC CIDR only, and a NetworkPolicy cannot name the S3 prefix "
    "list the gateway endpoint routes to",
    "sts": "STS for IRSA's AssumeRoleWithWebIdentity (MLflow, External Secrets, the EBS CSI driver, "
    "Alertmanager, Grafana); MLflow reaches it only inside the VPC",
    "ecr.api": "ECR API for image pulls by the nodes (kubelet) without NAT",
    "ecr.dkr": "ECR registry for image pulls by the nodes without NAT",
    "logs": "CloudWatch Logs for the nodes' and add-ons' log shipping without NAT",
    "secretsmanager": "Secrets Manager for the database tenant jobs (the RDS-managed master secret, the tenants' "
    "secrets) and the External Secrets Operator",
    "sns": "SNS for Alertmanager's receiver: the monitoring namespace's egress is closed to the VPC",
    "monitoring": "CloudWatch metrics for Grafana's CloudWatch data source: the monitoring namespace's egress "
    "is closed to the VPC",
    "ec2": "EC2 for Karpenter's controller (fleets, instances, launch templates, subnet and security-group "
    "discovery; its egress is closed to the VPC) and the VPC CNI's IP address management",
    "ssm": "SSM Parameter Store for Karpenter's AMI alias (the EKS AMI release's image IDs)",
    "sqs": "SQS for Karpenter's interruption queue (Spot warnings, rebalance, health events)",
    "eks": "EKS for Karpenter's DescribeCluster (the API endpoint and the Service CIDR its nodes are given)",
}
"""Interface endpoints a stack may create (``networkInterfaceEndpointServices``), each with who uses it."""

KARPENTER_ENDPOINTS: tuple[str, ...] = ("ec2", "ssm", "sqs", "eks", "sts")
"""What Karpenter's controller needs (its NetworkPolicy admits HTTPS to the VPC CIDR only): EC2, SSM (the AMI
alias), SQS (the interruption queue), EKS (DescribeCluster) and STS (IRSA). Required with ``karpenterEnabled``."""

INTERFACE_ENDPOINT_SERVICES: tuple[str, ...] = (
    "s3",
    "sts",
    "sns",
    "monitoring",
    "secretsmanager",
    "ecr.api",
    "ecr.dkr",
    "logs",
    "ec2",
    "ssm",
    "sqs",
    "eks",
)
"""The full set: what the platform's workloads and controllers call today, so that MLflow's egress can be
closed to the VPC (``s3``, ``sts``, ``sns``, ``monitoring``) and the controllers do not depend on NAT for AWS APIs."""

REQUIRED_ENDPOINTS: tuple[str, ...] = ("s3", "sts", "sns", "monitoring", "secretsmanager")
"""What the closed egress of MLflow (S3, STS), of the monitoring namespace (SNS for Alertmanager, CloudWatch
for Grafana, STS for both) and of the database tenant jobs (Secrets Manager, STS) needs in every profile: their
NetworkPolicies admit HTTPS to the VPC CIDR only."""

ENDPOINTS_WITHOUT_POLICY: tuple[str, ...] = ("sts",)
"""Interface endpoints left on the default (full-access) policy: AssumeRoleWithWebIdentity is an unsigned
request, so an endpoint policy pinning ``aws:PrincipalAccount`` would refuse every IRSA token exchange."""


def ecr_layer_bucket_arn(region: str, partition: str = "aws") -> str:
    """The objects of the AWS-owned bucket ECR serves image layers from (``prod-<region>-starport-layer-bucket``).

    Every image pull - ours, and the EKS add-ons' from AWS's own registries - downloads its layers from this
    bucket through URLs that ECR presigns with credentials of an AWS account, not ours."""
    return f"arn:{partition}:s3:::prod-{region}-starport-layer-bucket/*"


def endpoint_policy(account_id: str, *, service: str = "", region: str = "", partition: str = "aws") -> str:
    """Interface-endpoint policy: only principals of this account may use the endpoint (a data-perimeter
    control: credentials of another account cannot move data through our endpoints). Resources are not
    pinned for our own principals.

    The S3 endpoint (``service="s3"``) also admits reads of ECR's layer bucket by anyone: with private DNS for
    every resolver, all S3 traffic of the VPC goes through it, and the presigned layer downloads of every image
    pull are signed by ECR's own account, which the account condition would refuse (nodes would never pull an
    image, the VPC CNI's included). The grant is ``s3:GetObject`` on that one AWS-owned bucket only."""
    statements: list[dict[str, object]] = [
        {
            "Sid": "PrincipalsOfThisAccountOnly",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalAccount": account_id}},
        }
    ]
    if service == "s3":
        if not region:
            raise ValueError("the S3 endpoint policy needs the region of ECR's layer bucket")
        statements.append(
            {
                "Sid": "EcrImageLayers",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": ecr_layer_bucket_arn(region, partition),
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})
