"""Where a component runs: the AWS account, region and partition it builds ARNs and policies for.

Components take these as optional arguments (``MlopsPlatform`` passes them, so a stack asks AWS once);
a component used on its own looks them up with data-source invokes through its own provider.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class AwsContext:
    """The account, region and partition resources are created in.

    Attributes:
        account_id: The 12-digit AWS account ID.
        region: The region name, e.g. ``eu-west-1``.
        partition: ``aws``, ``aws-cn`` or ``aws-us-gov``.
        dns_suffix: The partition's DNS suffix (``amazonaws.com``; ``amazonaws.com.cn`` in China).
    """

    account_id: str
    region: str
    partition: str = "aws"
    dns_suffix: str = "amazonaws.com"

    def service(self, service: str) -> str:
        """The regional endpoint host of a service, as IAM and KMS conditions name it
        (``s3.eu-west-1.amazonaws.com``)."""
        return f"{service}.{self.region}.{self.dns_suffix}"

    @property
    def root_arn(self) -> str:
        """The account's root principal (the account itself, whose IAM policies then decide)."""
        return f"arn:{self.partition}:iam::{self.account_id}:root"

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:{self.partition}:{service}:{region}:{self.account_id}:{resource}"


def lookup(
    parent: pulumi.Resource, *, account_id: str | None = None, region: str | None = None
) -> AwsContext:
    """Fill what the caller did not pass with invokes through ``parent``'s AWS provider."""
    opts = pulumi.InvokeOptions(parent=parent)
    if account_id is None:
        account_id = aws.get_caller_identity(opts=opts).account_id
    if region is None:
        region = aws.get_region(opts=opts).region
    partition = aws.get_partition(opts=opts)
    return AwsContext(
        account_id=account_id, region=region, partition=partition.partition, dns_suffix=partition.dns_suffix
    )
