"""The fake cloud behind the offline engine: deterministic, realistic answers for resource
registrations and data-source calls, so downstream resources see ARNs, IDs and endpoints shaped
like AWS's own.

Every answer is derived from the resource's URN, so two renders of the same program agree.
A data source it has no answer for fails with a message naming the function.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import pulumi
from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks

ACCOUNT_ID = "123456789012"
PARTITION = "aws"
DEFAULT_REGION = "eu-west-1"


class OfflineCallError(Exception):
    """Raised for a data-source call the offline engine cannot answer."""


def _hex(seed: str, n: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


def _physical_name(args: MockResourceArgs, seed: str) -> str:
    for key in (
        "name",
        "bucket",
        "clusterName",
        "nodeGroupName",
        "repositoryName",
        "identifier",
        "roleName",
        "functionName",
    ):
        value = args.inputs.get(key)
        if isinstance(value, str) and value:
            return value
    return f"{args.name}-{_hex(seed, 7)}"


class FakeCloud(Mocks):
    """Answers the engine's questions the way AWS and Kubernetes would, deterministically."""

    def __init__(
        self,
        region: str | None = DEFAULT_REGION,
        *,
        stack_references: dict[str, dict[str, Any]] | None = None,
        account_id: str = ACCOUNT_ID,
    ) -> None:
        # ``region=None``: the program configured none. Its own resources' ARNs still need one, but a
        # platform stack's outputs are never answered for a region made up here.
        self.configured_region = region
        self.region = region or DEFAULT_REGION
        self.account_id = account_id
        self.stack_references = stack_references or {}
        self._calls: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "aws:index/getAvailabilityZones:getAvailabilityZones": self._zones,
            "aws:index/getCallerIdentity:getCallerIdentity": self._caller,
            "aws:index/getRegion:getRegion": self._region,
            "aws:index/getPartition:getPartition": self._partition,
            "aws:iam/getSessionContext:getSessionContext": self._session_context,
        }

    # ---- data sources -----------------------------------------------------------------------------
    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        handler = self._calls.get(args.token)
        if handler is None:
            raise OfflineCallError(
                f"the offline engine has no answer for data source {args.token!r}; "
                "add one to mlops_platform.mlops.fakecloud.FakeCloud or avoid the call"
            )
        return handler(args.args), []

    def _zones(self, _: dict[str, Any]) -> dict[str, Any]:
        letters = "abcd"
        return {
            "id": self.region,
            "names": [f"{self.region}{c}" for c in letters],
            "zoneIds": [
                f"{self.region[:3]}{self.region.split('-')[-1]}-az{i + 1}" for i in range(len(letters))
            ],
            "state": "available",
            "groupNames": [self.region],
        }

    def _caller(self, _: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.account_id,
            "accountId": self.account_id,
            "arn": f"arn:{PARTITION}:sts::{self.account_id}:assumed-role/offline/engine",
            "userId": "AROAOFFLINE:engine",
        }

    def _region(self, _: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.region,
            "name": self.region,
            "region": self.region,
            "endpoint": f"ec2.{self.region}.amazonaws.com",
            "description": self.region,
        }

    def _session_context(self, args: dict[str, Any]) -> dict[str, Any]:
        """An assumed-role session ARN resolves to its role; any other ARN passes through."""
        arn = str(args.get("arn", ""))
        parts = arn.split(":", 5)
        if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
            _, role, session = parts[5].split("/", 2)
            issuer = f"arn:{PARTITION}:iam::{parts[4]}:role/{role}"
            return {
                "id": arn,
                "arn": arn,
                "issuerArn": issuer,
                "issuerId": f"AROA{_hex(role, 17).upper()}",
                "issuerName": role,
                "sessionName": session,
            }
        return {"id": arn, "arn": arn, "issuerArn": arn, "issuerId": "", "issuerName": "", "sessionName": ""}

    def _partition(self, _: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": PARTITION,
            "partition": PARTITION,
            "dnsSuffix": "amazonaws.com",
            "reverseDnsPrefix": "com.amazonaws",
        }

    # ---- stack references -------------------------------------------------------------------------
    def stack_reference_outputs(self, name: str, *, project: str) -> dict[str, Any]:
        """The outputs a StackReference to ``name`` from a program of ``project`` reads.

        A stack given to the constructor answers with its outputs; any other name must resolve (as the
        Pulumi CLI resolves it) to a stack of the platform project named after an environment, and answers
        with the whole outputs contract. Anything else raises
        :class:`~mlops_platform.mlops.fakeplatform.StackReferenceError`."""
        from mlops_platform.mlops import fakeplatform

        if name in self.stack_references:
            return self.stack_references[name]
        ref = fakeplatform.resolve_platform_stack(name, project=project)
        if self.configured_region is None:
            raise fakeplatform.StackReferenceError(
                f"StackReference {name!r}: the platform stack's region is not known offline; it is taken to be "
                "this stack's, and neither aws:region nor AWS_REGION is set"
            )
        return fakeplatform.platform_outputs(str(ref), region=self.region, account_id=self.account_id)

    def check_stack_output(self, name: str, output: str, *, project: str) -> None:
        """Refuse reading ``output`` from the StackReference to ``name`` when its stack has no such output."""
        from mlops_platform.mlops import fakeplatform

        outputs = self.stack_reference_outputs(name, project=project)
        if output not in outputs:
            raise fakeplatform.unknown_output(
                name, output, outputs, contract=name not in self.stack_references
            )

    # ---- resources --------------------------------------------------------------------------------
    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ == "pulumi:pulumi:StackReference":
            name = str(args.resource_id or args.inputs.get("name", args.name))
            outputs = self.stack_reference_outputs(name, project=pulumi.get_project())
            return name, {"name": name, "outputs": outputs, "secretOutputNames": []}
        if args.custom is False and not args.typ.startswith("pulumi:providers:"):
            return None, {}
        seed = f"{args.typ}::{args.name}"
        if args.typ.startswith("pulumi:providers:"):
            return f"{_hex(seed, 8)}-0000-4000-8000-{_hex(seed + 'p', 12)}", dict(args.inputs)
        state = dict(args.inputs)
        rid = self._augment(args, seed, state)
        return rid, state

    @staticmethod
    def _engine_version(requested: str) -> str:
        """RDS answers a major-only request (``"17"``) with that major's default minor."""
        return f"{requested}.6" if requested.isdigit() else requested

    def _arn(self, service: str, resource: str, *, regional: bool = True, account: bool = True) -> str:
        return (
            f"arn:{PARTITION}:{service}:{self.region if regional else ''}:"
            f"{self.account_id if account else ''}:{resource}"
        )

    def _augment(self, args: MockResourceArgs, seed: str, state: dict[str, Any]) -> str:
        """Fill in the computed outputs of a resource; returns its physical ID."""
        typ, inputs = args.typ, args.inputs
        name = _physical_name(args, seed)
        module = typ.split(":")[1].split("/")[0] if ":" in typ else "x"
        short = _hex(seed, 17)
        rid = name

        if typ == "kubernetes:helm.sh/v3:Release":
            release = str(inputs.get("name") or f"{args.name}-{_hex(seed, 8)}")
            namespace = str(inputs.get("namespace") or "default")
            state.update(
                name=release,
                namespace=namespace,
                status={
                    "name": release,
                    "namespace": namespace,
                    "chart": inputs.get("chart"),
                    "version": inputs.get("version"),
                    "status": "deployed",
                    "revision": 1,
                },
            )
            return f"{namespace}/{release}"

        if typ.startswith("kubernetes:"):
            meta = dict(inputs.get("metadata") or {})
            meta.setdefault("name", f"{args.name}-{_hex(seed, 8)}")
            meta.setdefault(
                "uid",
                f"{_hex(seed, 8)}-{_hex(seed + 'u', 4)}-4{_hex(seed, 3)}-8{_hex(seed, 3)}-"
                f"{_hex(seed + 'v', 12)}",
            )
            state["metadata"] = meta
            ns = meta.get("namespace")
            return f"{ns}/{meta['name']}" if ns else str(meta["name"])

        if typ == "aws:ec2/vpc:Vpc":
            rid = f"vpc-{short}"
            state.update(
                arn=self._arn("ec2", f"vpc/{rid}"),
                defaultSecurityGroupId=f"sg-{_hex(seed + 'dsg', 17)}",
                mainRouteTableId=f"rtb-{_hex(seed + 'rt', 17)}",
                defaultNetworkAclId=f"acl-{_hex(seed + 'acl', 17)}",
                ownerId=self.account_id,
            )
        elif typ == "aws:ec2/subnet:Subnet":
            rid = f"subnet-{short}"
            state.update(arn=self._arn("ec2", f"subnet/{rid}"), ownerId=self.account_id)
        elif typ in (
            "aws:ec2/securityGroup:SecurityGroup",
            "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        ):
            rid = f"sg-{short}"
            state.update(arn=self._arn("ec2", f"security-group/{rid}"), ownerId=self.account_id)
            if typ == "aws:ec2/securityGroup:SecurityGroup":
                state.setdefault("name", name)
        elif typ in (
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        ):
            rid = f"sgr-{short}"
            state.update(arn=self._arn("ec2", f"security-group-rule/{rid}"), securityGroupRuleId=rid)
        elif typ in ("aws:rds/subnetGroup:SubnetGroup", "aws:rds/parameterGroup:ParameterGroup"):
            # The provider autonames these (lowercase); the name is what an instance refers to.
            rid = name.lower()
            kind = "subgrp" if typ.endswith("SubnetGroup") else "pg"
            state.update(name=rid, arn=self._arn("rds", f"{kind}:{rid}"))
        elif typ == "aws:ec2/eip:Eip":
            rid = f"eipalloc-{short}"
            octets = [int(_hex(seed + str(i), 2), 16) for i in range(2)]
            state.update(publicIp=f"52.16.{octets[0]}.{octets[1]}", allocationId=rid)
        elif typ == "aws:ec2/natGateway:NatGateway":
            rid = f"nat-{short}"
        elif typ == "aws:ec2/internetGateway:InternetGateway":
            rid = f"igw-{short}"
            state["arn"] = self._arn("ec2", f"internet-gateway/{rid}")
        elif typ == "aws:ec2/routeTable:RouteTable":
            rid = f"rtb-{short}"
        elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
            rid = f"lt-{short}"
            state.update(arn=self._arn("ec2", f"launch-template/{rid}"), latestVersion=1, defaultVersion=1)
        elif typ == "aws:ec2/vpcEndpoint:VpcEndpoint":
            rid = f"vpce-{short}"
            state["arn"] = self._arn("ec2", f"vpc-endpoint/{rid}")
        elif typ == "aws:ec2/flowLog:FlowLog":
            rid = f"fl-{short}"
            state["arn"] = self._arn("ec2", f"vpc-flow-log/{rid}")
        elif typ == "aws:kms/key:Key":
            rid = f"{_hex(seed, 8)}-{_hex(seed + 'a', 4)}-4{_hex(seed, 3)}-8{_hex(seed, 3)}-{_hex(seed + 'b', 12)}"
            state.update(arn=self._arn("kms", f"key/{rid}"), keyId=rid)
        elif typ == "aws:kms/alias:Alias":
            rid = str(inputs.get("name", f"alias/{name}"))
            state["arn"] = self._arn("kms", rid)
        elif typ in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
            bucket = str(inputs.get("bucket") or f"{args.name}-{_hex(seed, 7)}")
            rid = bucket
            state.update(
                bucket=bucket,
                arn=f"arn:{PARTITION}:s3:::{bucket}",
                bucketDomainName=f"{bucket}.s3.amazonaws.com",
                bucketRegionalDomainName=f"{bucket}.s3.{self.region}.amazonaws.com",
                region=self.region,
                hostedZoneId="Z1BKCTXD74EZPE",
            )
        elif typ == "aws:iam/role:Role":
            state.update(
                arn=f"arn:{PARTITION}:iam::{self.account_id}:role/{name}",
                name=name,
                uniqueId=f"AROA{_hex(seed, 17).upper()}",
            )
        elif typ == "aws:iam/policy:Policy":
            state.update(
                arn=f"arn:{PARTITION}:iam::{self.account_id}:policy/{name}",
                name=name,
                policyId=f"ANPA{_hex(seed, 17).upper()}",
            )
        elif typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            url = str(inputs.get("url", "")).removeprefix("https://")
            rid = f"arn:{PARTITION}:iam::{self.account_id}:oidc-provider/{url}"
            state["arn"] = rid
        elif typ == "aws:iam/instanceProfile:InstanceProfile":
            state["arn"] = f"arn:{PARTITION}:iam::{self.account_id}:instance-profile/{name}"
        elif typ == "aws:eks/cluster:Cluster":
            oidc = _hex(seed, 32).upper()
            state.update(
                arn=self._arn("eks", f"cluster/{name}"),
                endpoint=f"https://{oidc}.gr7.{self.region}.eks.amazonaws.com",
                certificateAuthority={"data": base64.b64encode(b"offline-cluster-ca").decode()},
                identities=[
                    {"oidcs": [{"issuer": f"https://oidc.eks.{self.region}.amazonaws.com/id/{oidc}"}]}
                ],
                platformVersion="eks.1",
                status="ACTIVE",
                clusterId=f"{_hex(seed, 8)}-{_hex(seed + 'c', 4)}",
            )
            vpc = dict(inputs.get("vpcConfig") or {})
            vpc.setdefault("clusterSecurityGroupId", f"sg-{_hex(seed + 'csg', 17)}")
            vpc.setdefault("vpcId", f"vpc-{_hex(seed + 'v', 17)}")
            state["vpcConfig"] = vpc
        elif typ == "aws:eks/nodeGroup:NodeGroup":
            cluster = inputs.get("clusterName", "cluster")
            state.update(
                arn=self._arn("eks", f"nodegroup/{cluster}/{name}/{_hex(seed, 8)}"),
                status="ACTIVE",
                resources=[{"autoscalingGroups": [{"name": f"eks-{name}-{_hex(seed, 8)}"}]}],
            )
            rid = f"{cluster}:{name}"
        elif typ == "aws:eks/addon:Addon":
            state["arn"] = self._arn("eks", f"addon/{inputs.get('clusterName')}/{inputs.get('addonName')}/x")
        elif typ == "aws:rds/instance:Instance":
            ident = str(inputs.get("identifier") or name)
            host = f"{ident}.c{_hex(seed, 11)}.{self.region}.rds.amazonaws.com"
            port = int(inputs.get("port") or 5432)
            rid = ident
            state.update(
                arn=self._arn("rds", f"db:{ident}"),
                address=host,
                endpoint=f"{host}:{port}",
                port=port,
                identifier=ident,
                resourceId=f"db-{_hex(seed, 26).upper()}",
                hostedZoneId="Z29XKXDKYMONMX",
                engineVersionActual=self._engine_version(str(inputs.get("engineVersion") or "")),
            )
            if inputs.get("manageMasterUserPassword"):
                state["masterUserSecrets"] = [
                    {
                        "secretArn": self._arn(
                            "secretsmanager", f"secret:rds!db-{_hex(seed, 8)}-{_hex(seed, 6)}"
                        ),
                        "kmsKeyId": inputs.get("masterUserSecretKmsKeyId", ""),
                        "secretStatus": "active",
                    }
                ]
        elif typ == "aws:ecr/repository:Repository":
            repo = str(inputs.get("name") or name)
            state.update(
                arn=self._arn("ecr", f"repository/{repo}"),
                registryId=self.account_id,
                repositoryUrl=f"{self.account_id}.dkr.ecr.{self.region}.amazonaws.com/{repo}",
            )
            rid = repo
        elif typ == "aws:sns/topic:Topic":
            state["arn"] = self._arn("sns", name)
            rid = state["arn"]
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            state["arn"] = self._arn("logs", f"log-group:{name}")
        elif typ == "aws:secretsmanager/secret:Secret":
            state["arn"] = self._arn("secretsmanager", f"secret:{name}-{_hex(seed, 6)}")
            rid = state["arn"]
        elif typ == "aws:cloudwatch/metricAlarm:MetricAlarm":
            state["arn"] = self._arn("cloudwatch", f"alarm:{name}")
        elif typ == "aws:sns/topicSubscription:TopicSubscription":
            topic = str(inputs.get("topic") or self._arn("sns", "topic"))
            rid = (
                f"{topic}:{_hex(seed, 8)}-{_hex(seed + 's', 4)}-{_hex(seed + 't', 4)}-{_hex(seed + 'u', 12)}"
            )
            state.update(
                arn=rid, ownerId=self.account_id, pendingConfirmation=inputs.get("protocol") == "email"
            )
        else:
            state.setdefault("arn", self._arn(module, name))
        state.setdefault("id", rid)
        return rid
