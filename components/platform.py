"""MlopsPlatform: the whole platform of one environment, composed from the building blocks."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.config import PlatformConfig
from components.network import Network, NetworkArgs


class MlopsPlatform(pulumi.ComponentResource):
    """Composes the platform's components for one environment from a validated :class:`PlatformConfig`.

    Every AWS resource below it uses one explicit AWS provider whose default tags carry the
    governance tag set, so no resource can be created untagged.
    """

    def __init__(self, name: str, config: PlatformConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:platform:MlopsPlatform", name, None, opts)
        self.config = config
        self.aws_provider = aws.Provider(
            f"{name}-aws",
            region=config.region,
            default_tags=aws.ProviderDefaultTagsArgs(tags=config.governance_tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, providers={"aws": self.aws_provider})

        # Zones in this account and region, without Local or Wavelength zones.
        zones = aws.get_availability_zones(
            state="available",
            filters=[
                aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])
            ],
            opts=pulumi.InvokeOptions(provider=self.aws_provider, parent=self),
        ).names
        if len(zones) < config.network.zone_count:
            raise ValueError(
                f"{config.region} offers {len(zones)} availability zones; networkZoneCount asks for "
                f"{config.network.zone_count}"
            )

        self.network = Network(
            f"{config.name}",
            NetworkArgs(
                cidr=config.network.vpc_cidr,
                availability_zones=list(zones[: config.network.zone_count]),
                nat_gateways=config.network.nat_gateways,
                cluster_name=f"{config.name}-eks",
            ),
            opts=child,
        )
        self.register_outputs({"vpc_id": self.network.vpc_id})
