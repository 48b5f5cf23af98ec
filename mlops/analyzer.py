"""Drive a CrossGuard policy pack over the gRPC analyzer protocol, the way the Pulumi CLI does.

The pack is started as the CLI starts it (``python __main__.py`` in the pack's directory); it prints the
port of its analyzer server on stdout. The offline engine's graph is then sent through the protocol:
``GetAnalyzerInfo``, ``Configure`` (the ``--policy-pack-config`` document), ``ConfigureStack`` (the
stack's config and tags, as the engine sends them: :func:`engine_stack_tags`), ``Analyze`` for every resource (with its provider, options, parent, dependencies) and ``AnalyzeStack``
once. The subprocess is always stopped, whatever happens.

Secret values are sent wrapped in Pulumi's secret signature, as the engine sends them; they are never
printed.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from mlops_platform.mlops.graph import Graph, Resource, Secret, SourcePosition
from mlops_platform.mlops.stackconfig import StackConfig

SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
_MAX_MESSAGE = 400 * 1024 * 1024
_CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", _MAX_MESSAGE),
    ("grpc.max_receive_message_length", _MAX_MESSAGE),
]
_LEVELS = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
    analyzer_pb2.REMEDIATE: "remediate",
}
_LEVEL_VALUES = {v: k for k, v in _LEVELS.items()}
_SEVERITIES = {
    analyzer_pb2.POLICY_SEVERITY_LOW: "low",
    analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium",
    analyzer_pb2.POLICY_SEVERITY_HIGH: "high",
    analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical",
}
_PREVIEW_MARKER = "during preview:"


class AnalyzerError(Exception):
    """The pack or its config is broken (exit code 2)."""


@dataclass
class PolicyMeta:
    name: str
    description: str
    severity: str
    enforcement: str
    remediation: str = ""
    framework: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    url: str = ""
    kind: str = "resource"


@dataclass
class Violation:
    policy: str
    enforcement: str
    severity: str
    urn: str
    type: str
    name: str
    message: str
    source: SourcePosition | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "enforcement": self.enforcement,
            "severity": self.severity,
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "message": self.message,
            "source": None if self.source is None else {"file": self.source.file, "line": self.source.line},
        }


@dataclass
class CheckResult:
    stack: str
    project: str
    pack_name: str
    pack_version: str
    policies: dict[str, PolicyMeta]
    resources: int
    violations: list[Violation]
    undetermined: list[Violation] = field(default_factory=list)
    """Policies the pack could not run because a value was unknown (as under a preview)."""
    stack_file: str | None = None
    """The stack's config file (relative path): where stack-level findings are located in SARIF."""

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.enforcement == "mandatory"]

    @property
    def advisory(self) -> list[Violation]:
        return [v for v in self.violations if v.enforcement != "mandatory"]

    def by_policy(self, name: str) -> list[Violation]:
        return [v for v in self.violations if v.policy == name]


# --------------------------------------------------------------------------------------------------
# Encoding the graph the way the engine marshals properties
# --------------------------------------------------------------------------------------------------


def encode(value: Any) -> Any:
    if isinstance(value, Secret):
        return {SIG_KEY: SECRET_SIG, "value": encode(value.value)}
    if isinstance(value, dict):
        if "@resource" in value and set(value) <= {"@resource", "id"}:
            return value.get("id") or value["@resource"]
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if value == "@unknown":
        return UNKNOWN
    return value


def secret_strings(graph: Graph) -> list[str]:
    """Every secret string in the graph's inputs and outputs (to scrub them from messages)."""
    found: set[str] = set()

    def walk(value: Any, secret: bool) -> None:
        if isinstance(value, Secret):
            walk(value.value, True)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v, secret)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v, secret)
        elif secret and isinstance(value, str) and len(value) >= 4:
            found.add(value)

    for r in graph.resources:
        walk(r.inputs, False)
        walk(r.outputs, False)
    return sorted(found, key=len, reverse=True)


def scrub(message: str, secrets: list[str]) -> str:
    for value in secrets:
        if value in message:
            message = message.replace(value, "[secret]")
    return message


def _struct(props: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(encode(props))
    return s


def _options(r: Resource) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=r.protect,
        ignoreChanges=list(r.ignore_changes),
        deleteBeforeReplace=bool(r.delete_before_replace),
        deleteBeforeReplaceDefined=r.delete_before_replace is not None,
        additionalSecretOutputs=list(r.additional_secret_outputs),
        aliases=list(r.aliases),
        parent=r.parent or "",
    )


class _Encoder:
    """Builds requests, encoding each provider once."""

    def __init__(self, graph: Graph) -> None:
        self.by_urn = graph.by_urn()
        self._providers: dict[str, analyzer_pb2.AnalyzerProviderResource] = {}

    def provider(self, r: Resource) -> analyzer_pb2.AnalyzerProviderResource | None:
        if not r.provider or r.provider not in self.by_urn:
            return None
        if r.provider not in self._providers:
            p = self.by_urn[r.provider]
            self._providers[r.provider] = analyzer_pb2.AnalyzerProviderResource(
                type=p.type, properties=_struct(p.inputs), urn=p.urn, name=p.name
            )
        return self._providers[r.provider]

    def analyze(self, r: Resource) -> analyzer_pb2.AnalyzeRequest:
        return analyzer_pb2.AnalyzeRequest(
            type=r.type,
            properties=_struct(r.inputs),
            urn=r.urn,
            name=r.name,
            options=_options(r),
            provider=self.provider(r),
        )

    def stack_resource(self, r: Resource) -> analyzer_pb2.AnalyzerResource:
        # Stack policies see the resources' state (outputs) under the engine; offline, the fake cloud's
        # outputs are the inputs plus the computed values.
        props = {**r.inputs, **r.outputs} if r.outputs else r.inputs
        return analyzer_pb2.AnalyzerResource(
            type=r.type,
            properties=_struct(props),
            urn=r.urn,
            name=r.name,
            options=_options(r),
            provider=self.provider(r),
            parent=r.parent or "",
            dependencies=list(r.dependencies),
            propertyDependencies={
                k: analyzer_pb2.AnalyzerPropertyDependencies(urns=v)
                for k, v in r.property_dependencies.items()
            },
        )


# --------------------------------------------------------------------------------------------------
# The pack process
# --------------------------------------------------------------------------------------------------


class PackProcess:
    """A started policy pack: ``python __main__.py`` in the pack's directory, connected on demand."""

    def __init__(self, pack_dir: Path) -> None:
        main = pack_dir / "__main__.py"
        if not main.exists():
            raise AnalyzerError(f"{main}: the policy pack's entry point is missing")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "__main__.py"],
            cwd=pack_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.channel: grpc.Channel | None = None
        self.stub: analyzer_pb2_grpc.AnalyzerStub | None = None

    def connect(self, timeout: float = 60.0) -> analyzer_pb2_grpc.AnalyzerStub:
        """Wait for the port the pack prints, then connect (once)."""
        if self.stub is None:
            port = _read_port(self.proc, timeout)
            self.channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=_CHANNEL_OPTIONS)
            grpc.channel_ready_future(self.channel).result(timeout=timeout)
            self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)
        return self.stub

    def stop(self) -> None:
        if self.channel is not None:
            self.channel.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@contextmanager
def pack_process(pack_dir: Path) -> Iterator[PackProcess]:
    """Start the pack now (it boots while the caller renders) and always stop it afterwards."""
    pack = PackProcess(pack_dir)
    try:
        yield pack
    finally:
        pack.stop()


@contextmanager
def start_pack(pack_dir: Path, *, timeout: float = 60.0) -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """Start ``python __main__.py`` in ``pack_dir``, read its port and yield a connected stub."""
    with pack_process(pack_dir) as pack:
        yield pack.connect(timeout)


def _read_port(proc: subprocess.Popen[bytes], timeout: float) -> int:
    assert proc.stdout is not None and proc.stderr is not None
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AnalyzerError(f"the policy pack printed no port within {timeout:.0f}s")
        ready, _, _ = select.select([proc.stdout], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(proc.stdout.fileno(), 64)
        if not chunk:
            err = proc.stderr.read().decode(errors="replace").strip()
            raise AnalyzerError(
                "the policy pack exited before it started its server" + (f":\n{_tail(err)}" if err else "")
            )
        line += chunk
    try:
        return int(line.strip().splitlines()[0])
    except ValueError:
        raise AnalyzerError(f"the policy pack printed {line!r} instead of its port") from None


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------------


def load_config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AnalyzerError(f"{path}: policy pack config not found") from None
    except OSError as err:
        raise AnalyzerError(f"{path}: policy pack config cannot be read ({err.strerror or err})") from None
    except ValueError as err:
        raise AnalyzerError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise AnalyzerError(f"{path}: expected an object of policy name -> config")
    return data


PULUMI_TAGS_KEY = "pulumi:tags"
"""The stack config key whose object the Pulumi CLI adds to the stack's tags."""


def engine_stack_tags(stack_file: StackConfig) -> dict[str, str]:
    """The stack tags the Pulumi CLI gives a stack from its files (``GetEnvironmentTagsForCurrentStack``), which
    the engine then sends in ``ConfigureStack``: ``pulumi:project``, ``pulumi:runtime`` and
    ``pulumi:description`` from Pulumi.yaml, and each entry of the stack config's ``pulumi:tags`` object.
    Tags set on the backend alone (``pulumi stack tag set``) and the git metadata tags have no file offline."""
    import yaml

    project_path = stack_file.project.root / "Pulumi.yaml"
    try:
        doc = yaml.safe_load(project_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise AnalyzerError(f"{project_path}: cannot be read for the stack's tags ({err})") from None
    doc = doc if isinstance(doc, dict) else {}
    runtime = doc.get("runtime")
    tags = {"pulumi:project": stack_file.project.name}
    if runtime is not None:
        tags["pulumi:runtime"] = str(runtime.get("name", "") if isinstance(runtime, dict) else runtime)
    if doc.get("description") is not None:
        tags["pulumi:description"] = str(doc["description"])
    raw = stack_file.values.get(PULUMI_TAGS_KEY)
    if raw is None:
        return tags
    try:
        given: Any = json.loads(raw)
    except ValueError:
        given = raw
    if not isinstance(given, dict):
        raise AnalyzerError(
            f"{stack_file.relpath}: {PULUMI_TAGS_KEY}: {raw!r} is not an object of tag names to strings"
        )
    bad = [
        f"{stack_file.relpath}: {PULUMI_TAGS_KEY}.{name}: {json.dumps(value)} is not a string "
        "(a stack tag's value is text)"
        for name, value in given.items()
        if not isinstance(value, str)
    ]
    if bad:
        raise AnalyzerError("\n".join(bad))
    tags.update({str(name): str(value) for name, value in given.items()})
    return tags


def _configure_request(
    config: dict[str, Any], policies: dict[str, PolicyMeta], source: str
) -> analyzer_pb2.ConfigureAnalyzerRequest:
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    default_level = config.get("all")
    if isinstance(default_level, dict):
        default_level = default_level.get("enforcementLevel")
    if default_level is not None and default_level not in _LEVEL_VALUES:
        raise AnalyzerError(
            f"{source}: all.enforcementLevel {default_level!r} is not one of {', '.join(_LEVEL_VALUES)}"
        )
    for name, entry in config.items():
        if name == "all":
            continue
        if name not in policies:
            raise AnalyzerError(f"{source}: {name!r} is not a policy of this pack")
        if isinstance(entry, str):
            entry = {"enforcementLevel": entry}
        if not isinstance(entry, dict):
            raise AnalyzerError(f"{source}: {name}: expected an enforcement level or an object")
        entry = dict(entry)
        level = entry.pop("enforcementLevel", default_level or policies[name].enforcement)
        if level not in _LEVEL_VALUES:
            raise AnalyzerError(
                f"{source}: {name}.enforcementLevel {level!r} is not one of {', '.join(_LEVEL_VALUES)}"
            )
        props = struct_pb2.Struct()
        props.update(entry)
        request.policyConfig[name].CopyFrom(
            analyzer_pb2.PolicyConfig(enforcementLevel=_LEVEL_VALUES[level], properties=props)
        )
    # Policies absent from the file keep their default level (or the file's "all" level), as the CLI does.
    for name, meta in policies.items():
        if name not in request.policyConfig:
            level = default_level or meta.enforcement
            request.policyConfig[name].CopyFrom(
                analyzer_pb2.PolicyConfig(enforcementLevel=_LEVEL_VALUES[level])
            )
    return request


# --------------------------------------------------------------------------------------------------
# The check
# --------------------------------------------------------------------------------------------------


def _policy_meta(info: analyzer_pb2.AnalyzerInfo) -> dict[str, PolicyMeta]:
    out: dict[str, PolicyMeta] = {}
    for p in info.policies:
        fw = {
            k: getattr(p.framework, k)
            for k in ("name", "version", "reference", "specification")
            if getattr(p.framework, k)
        }
        out[p.name] = PolicyMeta(
            name=p.name,
            description=p.description,
            severity=_SEVERITIES.get(p.severity, "medium"),
            enforcement=_LEVELS.get(p.enforcementLevel, "advisory"),
            remediation=p.remediation_steps,
            framework=fw,
            tags=list(p.tags),
            url=p.url,
            kind="stack" if p.policy_type == analyzer_pb2.POLICY_TYPE_STACK else "resource",
        )
    return out


def _strip(message: str, description: str) -> str:
    if message.startswith(description):
        rest = message[len(description) :].lstrip("\n")
        return rest or description
    return message


def analyze(
    graph: Graph,
    *,
    pack_dir: Path,
    config: dict[str, Any] | None = None,
    config_source: str = "policy config",
    stack_config: dict[str, str] | None = None,
    secret_keys: list[str] | None = None,
    stack_tags: Mapping[str, str] | None = None,
    window: int = 64,
) -> CheckResult:
    """Run the pack in ``pack_dir`` over ``graph``; see the module docstring."""
    with start_pack(pack_dir) as stub:
        result = analyze_with(
            stub,
            graph,
            config=config,
            config_source=config_source,
            stack_config=stack_config,
            secret_keys=secret_keys,
            stack_tags=stack_tags,
            window=window,
        )
    result.pack_version = pack_version(pack_dir) or result.pack_version
    return result


def analyze_with(
    stub: analyzer_pb2_grpc.AnalyzerStub,
    graph: Graph,
    *,
    config: dict[str, Any] | None = None,
    config_source: str = "policy config",
    stack_config: dict[str, str] | None = None,
    secret_keys: list[str] | None = None,
    stack_tags: Mapping[str, str] | None = None,
    window: int = 64,
) -> CheckResult:
    """Like :func:`analyze`, on an already started pack (tests start it once per session).

    ``stack_config`` and ``stack_tags`` go to ``ConfigureStack`` as the engine sends them: every config
    value as its string (secret values, which cannot be decrypted offline, left out and their keys listed)
    and the stack's tags (:func:`engine_stack_tags`; by default only ``pulumi:project``)."""
    try:
        info = stub.GetAnalyzerInfo(empty_pb2.Empty())
        policies = _policy_meta(info)
        request = _configure_request(config or {}, policies, config_source)
    except grpc.RpcError as err:
        raise AnalyzerError(f"the policy pack failed to start the analysis: {_rpc_detail(err)}") from None
    try:
        stub.Configure(request)
    except grpc.RpcError as err:
        if err.code() == grpc.StatusCode.INVALID_ARGUMENT:  # type: ignore[attr-defined]
            # The pack refused the config: one line per problem, each naming the file.
            raise AnalyzerError(
                "\n".join(f"{config_source}: {line}" for line in _rpc_detail(err).splitlines() if line)
            ) from None
        raise AnalyzerError(f"the policy pack failed to start the analysis: {_rpc_detail(err)}") from None
    tags = {"pulumi:project": graph.project} if stack_tags is None else dict(stack_tags)
    try:
        stub.ConfigureStack(
            analyzer_pb2.AnalyzerStackConfigureRequest(
                stack=graph.stack,
                project=graph.project,
                organization="organization",
                dry_run=True,
                config={k: v for k, v in (stack_config or {}).items() if k not in (secret_keys or [])},
                config_secret_keys=list(secret_keys or []),
                tags=tags,
            )
        )
    except grpc.RpcError as err:
        raise AnalyzerError(f"the policy pack failed to start the analysis: {_rpc_detail(err)}") from None

    by_urn = graph.by_urn()
    encoder = _Encoder(graph)
    resources = [r for r in graph.resources if r.type != "pulumi:pulumi:Stack"]
    violations: list[Violation] = []
    undetermined: list[Violation] = []
    secrets = secret_strings(graph)

    def collect(response: analyzer_pb2.AnalyzeResponse, default_urn: str | None) -> None:
        for d in response.diagnostics:
            urn = d.urn or default_urn or ""
            r = by_urn.get(urn)
            description = policies[d.policyName].description if d.policyName in policies else d.description
            v = Violation(
                policy=d.policyName,
                enforcement=_LEVELS.get(d.enforcementLevel, "advisory"),
                severity=_SEVERITIES.get(d.severity)
                or (policies[d.policyName].severity if d.policyName in policies else "medium"),
                urn=urn,
                type=r.type if r else "pulumi:pulumi:Stack",
                name=r.name if r else graph.stack,
                message=scrub(_strip(d.message, description), secrets),
                source=r.source if r else None,
            )
            (undetermined if _PREVIEW_MARKER in d.message and not d.urn else violations).append(v)

    try:
        pending: deque[tuple[Any, str]] = deque()
        for r in resources:
            pending.append((stub.Analyze.future(encoder.analyze(r)), r.urn))
            if len(pending) >= window:
                future, urn = pending.popleft()
                collect(future.result(), urn)
        while pending:
            future, urn = pending.popleft()
            collect(future.result(), urn)
        stack_request = analyzer_pb2.AnalyzeStackRequest(
            resources=[encoder.stack_resource(r) for r in resources]
        )
        collect(stub.AnalyzeStack(stack_request), None)
    except grpc.RpcError as err:
        raise AnalyzerError(f"the policy pack failed during the analysis: {_rpc_detail(err)}") from None

    return CheckResult(
        stack=graph.stack,
        project=graph.project,
        pack_name=info.name,
        pack_version=info.version,
        policies=policies,
        resources=len(resources),
        violations=violations,
        undetermined=undetermined,
    )


def _rpc_detail(err: grpc.RpcError) -> str:
    details = getattr(err, "details", None)
    text = details() if callable(details) else str(err)
    return _tail(str(text), 20)


def pack_version(pack_dir: Path) -> str | None:
    """The version in ``PulumiPolicy.yaml`` (the CLI reports it instead of the SDK's placeholder)."""
    path = pack_dir / "PulumiPolicy.yaml"
    if not path.exists():
        return None
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    version = data.get("version")
    return str(version) if version is not None else None
