"""The offline engine: runs a real Pulumi program under a recording monitor and returns its graph.

The program is executed exactly as the Python language host would run it (``__main__.py`` of the
project's ``main`` directory, with the stack's config), but every resource registration lands in
:class:`RecordingMonitor`, which keeps what the Pulumi engine would receive - type, name, parent,
dependencies, property dependencies, provider, options, inputs and the source position - and lets
:class:`~mlops_platform.mlops.fakecloud.FakeCloud` answer with deterministic outputs.
"""

from __future__ import annotations

import contextlib
import os
import runpy
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.sync_await import _sync_await

from mlops_platform.mlops.fakecloud import DEFAULT_REGION, FakeCloud
from mlops_platform.mlops.graph import Graph, Resource, Secret, SourcePosition
from mlops_platform.mlops.stackconfig import StackConfig, load_stack

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"

_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


class ProgramError(Exception):
    """The program failed while it ran offline; the message says where."""


def _offline_target(ref: Any) -> str | None:
    target = getattr(ref, "_mlops_offline_target", None)
    return target if isinstance(target, str) else None


@contextlib.contextmanager
def _stack_references(cloud: FakeCloud) -> Iterator[None]:
    """While a program runs offline, a StackReference is checked where the program creates or reads it.

    The fake cloud answers a StackReference asynchronously, and ``get_output`` of a name the stack does not
    export is None in the SDK; here the reference's name is resolved when it is constructed and an output
    name checked when it is read, so an error is raised at the program's own line (and reported there, see
    :func:`describe_failure`), never as a None that fails much later."""
    cls = pulumi.StackReference
    originals = {
        name: cls.__dict__[name]
        for name in ("__init__", "get_output", "require_output", "get_output_details")
    }
    init, get_output, require_output, get_output_details = originals.values()

    def checked_init(self: Any, name: str, stack_name: str | None = None, opts: Any = None) -> None:
        target = stack_name if stack_name is not None else name
        if isinstance(target, str):
            cloud.stack_reference_outputs(target, project=pulumi.get_project())
            self._mlops_offline_target = target
        init(self, name, stack_name, opts)

    def check(self: Any, output: Any) -> None:
        target = _offline_target(self)
        if target is not None and isinstance(output, str):
            cloud.check_stack_output(target, output, project=pulumi.get_project())

    def checked_get_output(self: Any, name: Any) -> Any:
        check(self, name)
        return get_output(self, name)

    def checked_require_output(self: Any, name: Any) -> Any:
        check(self, name)
        return require_output(self, name)

    async def checked_get_output_details(self: Any, name: str) -> Any:
        check(self, name)
        return await get_output_details(self, name)

    replacements = {
        "__init__": checked_init,
        "get_output": checked_get_output,
        "require_output": checked_require_output,
        "get_output_details": checked_get_output_details,
    }
    for name, replacement in replacements.items():
        setattr(cls, name, replacement)
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(cls, name, original)


def decode(value: Any) -> Any:
    """Turn Pulumi's wire form of a property value into plain Python, keeping secrets wrapped."""
    if isinstance(value, dict):
        sig = value.get(_SIG_KEY)
        if sig == _SECRET_SIG:
            return Secret(decode(value.get("value")))
        if sig == _RESOURCE_SIG:
            return {"@resource": value.get("urn"), "id": decode(value.get("id"))}
        if sig is not None:
            return {k: decode(v) for k, v in value.items() if k != _SIG_KEY}
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    if value == _UNKNOWN:
        return "@unknown"
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _struct(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message) if message is not None else {}


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock resource monitor that records every registration in full."""

    def __init__(self, mocks: FakeCloud, root: Path) -> None:
        super().__init__(mocks)
        self.root = root
        self.records: list[Resource] = []
        self.stack_outputs: dict[str, Any] = {}

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The URN the Pulumi engine gives the resource (``generateURN``): the parent's *full* qualified type,
        except the root stack's, then ``$`` and the type. (The SDK's mock monitor keeps only the parent's last
        type, so a grandchild's URN would differ from the one ``pulumi up --target`` and aliases resolve.)"""
        qualified = type_
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != ROOT_STACK_TYPE:
                qualified = f"{parent_type}${type_}"
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), qualified, name])

    def _alias_urn(self, request: Any, alias: Any) -> str:
        """An alias as the URN the engine collapses it to (``collapseAliasToUrn``): an alias spec's name, type,
        stack and project default to the resource's own, its parent to the resource's current parent unless
        it names one or says there was none. Aliases a parent hands down are added by
        :func:`mlops_platform.mlops.graph.answering_urns`, as the engine adds them."""
        if alias.urn:
            return str(alias.urn)
        spec = alias.spec
        parent = "" if spec.noParent else spec.parentUrn or request.parent
        urn = self.make_urn(parent, spec.type or request.type, spec.name or request.name)
        if spec.stack or spec.project:
            head, project, rest = urn.split("::", 2)
            stack = head.removeprefix("urn:pulumi:")
            urn = f"urn:pulumi:{spec.stack or stack}::{spec.project or project}::{rest}"
        return urn

    def _position(self, pc: Any) -> SourcePosition | None:
        if not pc.uri:
            return None
        path = Path(unquote(urlparse(pc.uri).path)).resolve()
        try:
            rel = path.relative_to(self.root)
        except ValueError:
            return None
        if any(part in ("site-packages", ".venv") for part in rel.parts):
            return None
        return SourcePosition(file=rel.as_posix(), line=int(pc.line))

    def _source(self, request: Any) -> SourcePosition | None:
        """Where the program created the resource: the first frame in the project's own code.

        The SDK's own guess (``sourcePosition``) is right for resources and components but lands inside
        the provider SDK for provider resources, so fall back to the stack trace."""
        if request.HasField("sourcePosition"):
            found = self._position(request.sourcePosition)
            if found is not None:
                return found
        for frame in request.stackTrace.frames:
            found = self._position(frame.pc)
            if found is not None:
                return found
        return None

    @staticmethod
    def _provider_urn(ref: str) -> str | None:
        return ref.rsplit("::", 1)[0] if ref else None

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        aliases = [self._alias_urn(request, a) for a in request.aliases] + list(request.aliasURNs)
        record = Resource(
            urn=response.urn,
            type=request.type,
            name=request.name,
            custom=bool(request.custom) or request.type.startswith("pulumi:providers:"),
            id=response.id or None,
            parent=request.parent or None,
            provider=self._provider_urn(request.provider),
            dependencies=sorted(set(request.dependencies)),
            property_dependencies={
                k: sorted(set(v.urns)) for k, v in sorted(request.propertyDependencies.items())
            },
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            ignore_changes=list(request.ignoreChanges),
            delete_before_replace=request.deleteBeforeReplace if request.deleteBeforeReplaceDefined else None,
            aliases=[a for a in aliases if a],
            additional_secret_outputs=list(request.additionalSecretOutputs),
            inputs=decode(_struct(request.object)),
            outputs=decode(_struct(response.object)) if response.object else {},
            source=self._source(request),
        )
        self.records.append(record)
        return response

    def ReadResource(self, request: Any) -> Any:
        response = super().ReadResource(request)
        self.records.append(
            Resource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=True,
                id=request.id or None,
                parent=request.parent or None,
                provider=self._provider_urn(request.provider),
                dependencies=list(request.dependencies),
                inputs=decode(_struct(request.properties)),
                outputs=decode(_struct(response.properties)),
                source=None,
            )
        )
        return response


_VENDORED = frozenset({"site-packages", "dist-packages", ".venv", "venv"})
"""Path parts of installed code: frames and modules there are never the program's own."""


def _imported_from(main: Path, before: set[str]) -> list[str]:
    """The modules imported since ``before`` from files under ``main``: the program's own (never this
    distribution's, nor an installed package's)."""
    main = main.resolve()
    ours = Path(__file__).resolve().parents[1]
    found = []
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if name in before or not file:
            continue
        path = Path(file).resolve()
        if not path.is_relative_to(main) or any(
            path.is_relative_to(ours / pkg) for pkg in ("components", "mlops", "policies")
        ):
            continue
        if not _VENDORED.intersection(path.relative_to(main).parts):
            found.append(name)
    return found


@contextlib.contextmanager
def _program_context(main: Path | None) -> Iterator[None]:
    """The program runs in its ``main`` directory with it first on ``sys.path``, as under the language host;
    the modules it imported from there are forgotten afterwards, so the next render (another project's
    ``helpers.py``, or this one edited) imports its own code, not a stale copy."""
    old_cwd = os.getcwd()
    old_path = list(sys.path)
    before = set(sys.modules)
    if main is not None:
        os.chdir(main)
        sys.path.insert(0, str(main))
    try:
        yield
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path
        if main is not None:
            for name in _imported_from(main, before):
                del sys.modules[name]


def _resolve(value: Any) -> Any:
    output = pulumi.Output.from_input(value)
    resolved = _sync_await(output.future())
    secret = _sync_await(output.is_secret())
    return Secret(resolved) if secret else resolved


def run_callable(
    program: Callable[[], Any],
    *,
    project: str = "test",
    stack: str = "test",
    config: dict[str, str] | None = None,
    secret_keys: list[str] | None = None,
    mocks: FakeCloud | None = None,
    root: Path | None = None,
    cwd: Path | None = None,
    preview: bool = False,
) -> Graph:
    """Run ``program`` (anything that creates resources) as a Pulumi program offline; return its graph.

    This is what the tests use to render one component on its own, and what :func:`run_program` uses
    to run a project's ``__main__.py``. ``preview`` is what ``pulumi.runtime.is_dry_run()`` answers the
    program: True as under ``pulumi preview``, False as under ``pulumi up``."""
    values = dict(config or {})
    cloud = mocks or FakeCloud(region=values.get("aws:region", DEFAULT_REGION))
    monitor = RecordingMonitor(cloud, (root or Path.cwd()).resolve())

    pulumi_settings.ROOT.set(None)
    set_all_config(values, list(secret_keys or []))
    pulumi_mocks.set_mocks(cloud, project=project, stack=stack, preview=preview, monitor=monitor)
    # Outputs that failed in an earlier program stay tracked "to be picked up at program exit"; clear
    # them (as pulumi.runtime.test does) so one failed render cannot fail the next one.
    ambient: Any = pulumi_settings.SETTINGS  # context properties the SDK's stubs do not describe
    ambient.rpc_manager.clear()
    ambient.outputs.clear()

    error: BaseException | None = None
    with _program_context(cwd), _stack_references(cloud):
        try:
            _sync_await(pulumi.runtime.stack.run_pulumi_func(program))
        except BaseException as exc:  # noqa: BLE001 - re-raised once the runtime is settled
            error = exc
    if error is not None:
        raise error

    stack_resource = pulumi_settings.get_root_resource()
    outputs: dict[str, Any] = {}
    if isinstance(stack_resource, pulumi.runtime.stack.Stack):
        for key, value in stack_resource.outputs.items():
            outputs[key] = _resolve(value)
    return Graph(project=project, stack=stack, resources=list(monitor.records), outputs=outputs)


def run_program(
    config: StackConfig,
    *,
    mocks: FakeCloud | None = None,
    root: Path | None = None,
    preview: bool = True,
) -> Graph:
    """Run the project's program (``<main>/__main__.py``) for one stack offline and return the graph.

    An offline render is a preview (``pulumi.runtime.is_dry_run()`` is True): nothing is created, so the
    program's real-update guards (mlops_platform.components.platform.config.review) warn instead of refusing. ``preview=False``
    runs it as ``pulumi up`` would."""
    project = config.project
    entry = project.main / "__main__.py"
    if not entry.exists():
        raise ProgramError(f"{entry}: the project's program entry point is missing")
    if mocks is None:
        # The region the AWS provider would use: the stack's aws:region, else the environment's. None is
        # passed on as None, so nothing read from a platform stack is made up for a region never chosen.
        region = (
            config.values.get("aws:region")
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
        )
        mocks = FakeCloud(region=region)
    return run_callable(
        lambda: runpy.run_path(str(entry), run_name="__main__"),
        project=project.name,
        stack=config.stack,
        config=config.values,
        secret_keys=config.secret_keys,
        mocks=mocks,
        root=root or project.root,
        cwd=project.main,
        preview=preview,
    )


def _not_the_program(root: Path) -> list[Path]:
    """Code of this distribution that is not the program being rendered: the offline machinery
    (``mlops_platform.mlops``) always, the components and policies too unless ``root`` is this repository
    (there they are the platform program's own code). Resolved: in this repository ``mlops_platform/``
    links to the top-level folders."""
    from mlops_platform.mlops import REPO_ROOT

    base = Path(__file__).resolve().parents[1]
    if root == REPO_ROOT.resolve():
        return [base / "mlops"]
    return [base / name for name in ("components", "mlops", "policies")]


def failure_position(error: BaseException, root: Path) -> SourcePosition | None:
    """The program's own line an exception comes from: the last traceback frame inside the project ``root``.

    Frames in installed packages (``site-packages``, a virtualenv) do not count, nor this distribution's
    (see :func:`_not_the_program`). An exception without such a frame is looked up in its cause, then its
    context."""
    root = root.resolve()
    own = _not_the_program(root)
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found: SourcePosition | None = None
        for frame in traceback.extract_tb(current.__traceback__):
            path = Path(frame.filename).resolve()
            if not path.is_relative_to(root) or any(path.is_relative_to(p) for p in own):
                continue
            rel = path.relative_to(root)
            if _VENDORED.intersection(rel.parts):
                continue
            found = SourcePosition(file=rel.as_posix(), line=frame.lineno or 0)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def describe_failure(error: BaseException, config: StackConfig) -> str:
    """One line for an exception the program raised offline: the project's file:line it comes from, then
    the error. A :class:`pulumi.RunError` (the SDK's "report this without a traceback") or a refused
    StackReference is its message; anything else is its type and message."""
    from mlops_platform.mlops.fakeplatform import StackReferenceError

    project = config.project
    position = failure_position(error, project.root)
    if position is not None:
        where = f"{position.file}:{position.line}"
    else:
        entry = project.main / "__main__.py"
        where = (
            entry.relative_to(project.root).as_posix() if entry.is_relative_to(project.root) else str(entry)
        )
    message = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
    if isinstance(error, pulumi.RunError | StackReferenceError):
        return f"{where}: {message or type(error).__name__}"
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return f"{where}: the program failed offline: {text} (--traceback prints the whole traceback)"


def render(stack: str, root: Path, *, mocks: FakeCloud | None = None, preview: bool = True) -> Graph:
    """Load ``root``'s project and the stack's config file, then run the program offline."""
    return run_program(load_stack(root, stack), mocks=mocks, root=root, preview=preview)
