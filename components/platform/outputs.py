"""The platform stack's outputs: a versioned contract that other stacks read through a StackReference.

The platform declares every value of the contract once (``MlopsPlatform.outputs``, through
:func:`stack_outputs`) and its stack program exports them; a consumer stack reads them back, typed, with
:meth:`PlatformOutputs.from_stack`::

    platform = PlatformOutputs.from_stack("acme/mlops-platform/prod")
    bucket_arn = platform.artifact_bucket_arn          # pulumi.Output[str]

Each field of :class:`PlatformOutputs` carries its export name (camelCase) and its documentation;
:data:`EXPORT_NAMES` is derived from them, so the names live in exactly one place, and
``docs/outputs.md`` is generated from them (``python -m mlops_platform.components.platform.outputs --write``; a test fails
when the two drift).

Versioning: :data:`OUTPUTS_VERSION` is exported as ``contractVersion``. Adding an output is
backwards compatible and keeps the version; renaming, removing or changing the meaning or type of
one bumps it, and :meth:`PlatformOutputs.from_stack` refuses a stack whose version differs from the
one this library was built for, naming both, instead of failing later on a missing or odd value.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pulumi

OUTPUTS_VERSION = "1"
"""The version of the outputs contract this library exports and expects."""

CONTRACT_VERSION_EXPORT = "contractVersion"
"""The export that carries :data:`OUTPUTS_VERSION`."""


class PlatformContractError(pulumi.RunError):
    """A platform stack whose outputs do not match this library's contract (version or missing value).

    A :class:`pulumi.RunError`, so the Pulumi CLI reports it without a traceback."""


def _meta(export: str, kind: str, doc: str, *, secret: bool = False) -> dict[str, Any]:
    """A field's contract: its export name, its type as documented, its description, its secrecy."""
    return {"export": export, "kind": kind, "doc": doc, "secret": secret}


@dataclass(frozen=True)
class PlatformOutputs:
    """The outputs of one environment of the platform, as a consumer stack sees them.

    Every attribute is a :class:`pulumi.Output`; build one with :meth:`from_stack`.
    """

    artifact_bucket_name: pulumi.Output[str] = field(
        metadata=_meta(
            "artifactBucketName", "string", "Name of the S3 bucket that holds MLflow artifacts and models."
        )
    )
    artifact_bucket_arn: pulumi.Output[str] = field(
        metadata=_meta(
            "artifactBucketArn",
            "string",
            "ARN of the artifact bucket (scope IAM policies to it and `<arn>/*`).",
        )
    )
    database_endpoint: pulumi.Output[str] = field(
        metadata=_meta(
            "databaseEndpoint",
            "string",
            "DNS name of the PostgreSQL instance (RDS `address`, without the port); reachable only from the VPC.",
        )
    )
    database_port: pulumi.Output[int] = field(
        metadata=_meta("databasePort", "integer", "TCP port of the PostgreSQL instance.")
    )
    database_secret_arn: pulumi.Output[str] = field(
        metadata=_meta(
            "databaseSecretArn",
            "string",
            "ARN of the RDS-managed Secrets Manager secret with the master credentials (rotated by RDS).",
        )
    )
    cluster_name: pulumi.Output[str] = field(
        metadata=_meta("clusterName", "string", "Name of the EKS cluster.")
    )
    cluster_endpoint: pulumi.Output[str] = field(
        metadata=_meta(
            "clusterEndpoint",
            "string",
            "HTTPS endpoint of the Kubernetes API server (private unless configured).",
        )
    )
    oidc_provider_arn: pulumi.Output[str] = field(
        metadata=_meta(
            "oidcProviderArn",
            "string",
            "ARN of the cluster's IAM OIDC provider, the federated principal of IRSA trust policies.",
        )
    )
    oidc_issuer: pulumi.Output[str] = field(
        metadata=_meta(
            "oidcIssuer",
            "string",
            "OIDC issuer URL of the cluster (`https://oidc.eks.<region>.amazonaws.com/id/<id>`); its host is the "
            "condition key prefix of IRSA trust policies.",
        )
    )
    kubeconfig: pulumi.Output[str] = field(
        metadata=_meta(
            "kubeconfig",
            "string",
            "Kubeconfig (JSON) that authenticates with `aws eks get-token`; pass it to a `kubernetes.Provider`.",
            secret=True,
        )
    )
    ecr_repository_urls: pulumi.Output[dict[str, str]] = field(
        metadata=_meta(
            "ecrRepositoryUrls",
            "map of string",
            "ECR repository URLs keyed by the names in `registryRepositories`, without the environment prefix "
            '(`{"training": "<account>.dkr.ecr.<region>.amazonaws.com/mlops-prod/training"}`).',
        )
    )
    mlflow_url: pulumi.Output[str] = field(
        metadata=_meta(
            "mlflowUrl",
            "string",
            "In-cluster URL of the MLflow tracking server (`http://<service>.<namespace>.svc.cluster.local:<port>`).",
        )
    )
    alert_topic_arn: pulumi.Output[str] = field(
        metadata=_meta(
            "alertTopicArn",
            "string",
            "ARN of the SNS topic that receives the platform's alarms; subscribe to it.",
        )
    )
    kms_data_key_arn: pulumi.Output[str] = field(
        metadata=_meta(
            "kmsDataKeyArn",
            "string",
            "ARN of the KMS key that encrypts data at rest (S3, RDS, ECR, secrets).",
        )
    )
    kms_logs_key_arn: pulumi.Output[str] = field(
        metadata=_meta(
            "kmsLogsKeyArn", "string", "ARN of the KMS key that encrypts CloudWatch Logs and the SNS topic."
        )
    )
    kms_cluster_key_arn: pulumi.Output[str] = field(
        metadata=_meta(
            "kmsClusterKeyArn", "string", "ARN of the KMS key that envelope-encrypts Kubernetes secrets."
        )
    )
    vpc_id: pulumi.Output[str] = field(metadata=_meta("vpcId", "string", "ID of the platform's VPC."))
    private_subnet_ids: pulumi.Output[list[str]] = field(
        metadata=_meta(
            "privateSubnetIds", "list of string", "IDs of the private subnets (nodes, pods), one per zone."
        )
    )
    node_security_group_id: pulumi.Output[str] = field(
        metadata=_meta(
            "nodeSecurityGroupId",
            "string",
            "ID of the security group of the cluster's nodes (allow it as a source to reach your own services).",
        )
    )
    node_role_arn: pulumi.Output[str] = field(
        metadata=_meta(
            "nodeRoleArn",
            "string",
            "ARN of the IAM role of the cluster's nodes: the principal that pulls images, so grant it pull on "
            "your own ECR repositories.",
        )
    )
    environment: pulumi.Output[str] = field(
        metadata=_meta("environment", "string", "Environment profile: dev, staging or prod.")
    )
    contract_version: pulumi.Output[str] = field(
        metadata=_meta(
            CONTRACT_VERSION_EXPORT, "string", "Version of this outputs contract (`OUTPUTS_VERSION`)."
        )
    )

    @classmethod
    def from_stack(
        cls,
        stack: str,
        *,
        resource_name: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> PlatformOutputs:
        """Read a platform stack (``"<org>/mlops-platform/<env>"``) through a :class:`pulumi.StackReference`.

        Every field is required: a missing export fails the program naming each one. The referenced stack's
        ``contractVersion`` must equal :data:`OUTPUTS_VERSION`; every field depends on that check, so a
        consumer never creates anything from a contract it does not understand. ``kubeconfig`` is
        always a secret, whatever the referenced stack says.

        Args:
            stack: Fully qualified stack name (``org/project/stack``).
            resource_name: Logical name of the StackReference resource; defaults to ``stack``.
            opts: Options for the StackReference (e.g. ``parent``).
        """
        ref = pulumi.StackReference(resource_name or stack, stack_name=stack, opts=opts)

        def check(outputs: Mapping[str, Any]) -> str:
            version = outputs.get(CONTRACT_VERSION_EXPORT)
            if version is None:
                raise PlatformContractError(
                    f"stack {stack!r} exports no {CONTRACT_VERSION_EXPORT!r}: it is not an mlops-platform stack, "
                    "or it was deployed before the outputs contract existed; run `pulumi up` on it first"
                )
            if str(version) != OUTPUTS_VERSION:
                raise PlatformContractError(
                    f"stack {stack!r} exports outputs contract version {version!r}, but this library "
                    f"(mlops_platform.components.platform.outputs) reads version {OUTPUTS_VERSION!r}; upgrade the library or the "
                    "platform stack so that both agree"
                )
            missing = [name for name in EXPORT_NAMES.values() if name not in outputs]
            if missing:
                raise PlatformContractError(
                    f"stack {stack!r} (contract version {version}) lacks the outputs {', '.join(missing)}"
                )
            return str(version)

        # `outputs` as a whole is secret as soon as one output is (kubeconfig); the check's result is only
        # the version string, so unsecret it, or every field depending on it would turn secret.
        checked: pulumi.Output[str] = pulumi.Output.unsecret(ref.outputs.apply(check))

        values: dict[str, pulumi.Output[Any]] = {}
        for f in fields(cls):
            export = f.metadata["export"]
            # get_output (not require_output) keeps each output's own secretness and lets `check` name
            # every missing output at once instead of failing on the first KeyError.
            raw = ref.get_output(export)
            convert = _CONVERTERS.get(f.metadata["kind"], _identity)
            value = pulumi.Output.all(checked, raw).apply(lambda pair, c=convert: c(pair[1]))
            values[f.name] = pulumi.Output.secret(value) if f.metadata["secret"] else value
        return cls(**values)


def _identity(value: Any) -> Any:
    return value


def _to_int(value: Any) -> int:
    # Stack outputs travel as JSON: integers can come back as floats (5432.0).
    return int(value)


_CONVERTERS = {"integer": _to_int}

EXPORT_NAMES: Mapping[str, str] = MappingProxyType(
    {f.name: f.metadata["export"] for f in fields(PlatformOutputs)}
)
"""Field name -> stack export name (camelCase), the one place the export names are defined."""

SECRET_FIELDS: frozenset[str] = frozenset(f.name for f in fields(PlatformOutputs) if f.metadata["secret"])
"""Fields exported as Pulumi secrets."""


def contract_exports(values: Mapping[str, pulumi.Input[Any]]) -> dict[str, pulumi.Input[Any]]:
    """The contract's stack outputs by export name, in field order, ``contractVersion`` last.

    ``values`` maps each field name of :class:`PlatformOutputs` except ``contract_version`` to its value
    (an Output or a plain value). Every field is required and no other key is accepted: a contract with
    a hole is a bug in the platform stack, not something to discover in a consumer. Secret fields
    (``kubeconfig``) are wrapped with :func:`pulumi.Output.secret`.
    """
    expected = set(EXPORT_NAMES) - {"contract_version"}
    given = set(values)
    problems = []
    if missing := sorted(expected - given):
        problems.append(f"missing {', '.join(missing)}")
    if unknown := sorted(given - expected):
        problems.append(
            f"unknown {', '.join(unknown)} (the contract's fields are {', '.join(sorted(expected))})"
        )
    if problems:
        raise ValueError("outputs contract: " + "; ".join(problems))
    exports: dict[str, pulumi.Input[Any]] = {}
    for name in EXPORT_NAMES:
        if name == "contract_version":
            continue
        value = values[name]
        exports[EXPORT_NAMES[name]] = pulumi.Output.secret(value) if name in SECRET_FIELDS else value
    exports[CONTRACT_VERSION_EXPORT] = OUTPUTS_VERSION
    return exports


def export_platform_outputs(values: Mapping[str, pulumi.Input[Any]]) -> None:
    """Export the contract from a stack program: one ``pulumi.export`` per field of
    :func:`contract_exports` (which checks ``values``), plus the contract version."""
    for export, value in contract_exports(values).items():
        pulumi.export(export, value)


def stack_outputs(
    contract: Mapping[str, pulumi.Input[Any]], operational: Mapping[str, pulumi.Input[Any]]
) -> dict[str, pulumi.Input[Any]]:
    """Every output of the platform stack by export name: the contract (:func:`contract_exports` of
    ``contract``, by field name) first, then ``operational`` (by export name; not versioned).

    An operational output may repeat a contract export with the very same value (the monitoring wiring's
    exports include the alert topic, which is also in the contract); any other clash is an error, so a
    contract name can never be exported with something else."""
    exports = contract_exports(contract)
    for export, value in operational.items():
        if export in exports and exports[export] is not value:
            raise ValueError(
                f"stack output {export!r} is a contract export; an operational output may not redefine it"
            )
        exports.setdefault(export, value)
    return exports


# --------------------------------------------------------------------------------------------------
# Documentation: the table in docs/outputs.md is generated from the fields above.
# --------------------------------------------------------------------------------------------------

DOCS_PATH = Path(__file__).resolve().parents[2] / "docs" / "outputs.md"
_BEGIN = "<!-- outputs-table:begin (generated by `python -m mlops_platform.components.platform.outputs --write`) -->"
_END = "<!-- outputs-table:end -->"


def markdown_table() -> str:
    """The contract as a Markdown table: export name, field, type, secret, description."""
    rows = [
        "| Export | `PlatformOutputs` field | Type | Secret | Description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for f in dataclasses.fields(PlatformOutputs):
        doc = str(f.metadata["doc"]).replace("|", "\\|")
        secret = "yes" if f.metadata["secret"] else "no"
        rows.append(f"| `{f.metadata['export']}` | `{f.name}` | {f.metadata['kind']} | {secret} | {doc} |")
    return "\n".join(rows) + "\n"


def render_docs(text: str) -> str:
    """``text`` (docs/outputs.md) with the generated table between its markers replaced."""
    pattern = re.compile(re.escape(_BEGIN) + r".*?" + re.escape(_END), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"the outputs table markers are missing; add {_BEGIN!r} and {_END!r}")
    table = markdown_table().replace("\\", "\\\\")
    return pattern.sub(f"{_BEGIN}\n{table}{_END}", text, count=1)


def main(argv: list[str] | None = None) -> int:
    """``python -m mlops_platform.components.platform.outputs [--check|--write]``: print, check or rewrite the docs table."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print(markdown_table(), end="")
        return 0
    current = DOCS_PATH.read_text(encoding="utf-8")
    wanted = render_docs(current)
    if args == ["--write"]:
        DOCS_PATH.write_text(wanted, encoding="utf-8")
        print(f"wrote {DOCS_PATH}")
        return 0
    if args == ["--check"]:
        if current == wanted:
            return 0
        print(
            f"{DOCS_PATH}: the outputs table is stale; run `python -m mlops_platform.components.platform.outputs --write`",
            file=sys.stderr,
        )
        return 1
    print("usage: python -m mlops_platform.components.platform.outputs [--check|--write]", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
