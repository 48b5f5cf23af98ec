"""The pack's analyzer servicer: pulumi-policy's, plus what the SDK drops on the floor.

- ``ConfigureStack``: the engine sends the stack's config (``<namespace>:<key>`` -> string, as
  ``pulumi config`` holds it) and tags; the SDK keeps only the tags. :class:`PackServicer` also records the
  config, and the stack's environment read from both (:func:`stack_environment`), for the rules
  (:func:`current`).
- ``Configure``: the SDK accepts any property in a rule's policy config and ignores the ones it does not
  know, so ``"minimumDay": 365`` silently leaves the rule at its default. :class:`PackServicer` refuses the
  whole config instead, naming the rule, the property and the properties it takes, and a value its
  property's schema refuses (the Pulumi CLI checks those too; the offline engine sends the file as it is)
  (:func:`config_problems`).

Importing this module patches nothing; :func:`mlops_platform.policies.fastpath.install` (called by
``policies/__main__.py``) installs this servicer or its fast subclass.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import grpc
from google.protobuf import json_format
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from pulumi_policy import policy as sdk

from mlops_platform.components.governance import PROJECT as PLATFORM_NAMESPACE
from mlops_platform.policies.rules._common import stricter

ENVIRONMENT_KEY = "environment"
"""The platform's config key (``mlops-platform:environment``) and the stack tag naming the environment."""
ALL = "all"
"""The engine sends the config file's ``all`` entry (a default enforcement level) as a policy of its own."""


def stack_environment(project: str, config: Mapping[str, str], tags: Mapping[str, str]) -> str | None:
    """The stack's environment from what ``ConfigureStack`` carries: the config value
    ``mlops-platform:environment`` (the platform's namespace, whatever the project is called),
    ``<project>:environment`` and the stack tag ``environment`` (``pulumi stack tag set``, or the stack
    file's ``pulumi:tags``). The strictest of those present; ``None`` when none is."""
    keys = {f"{PLATFORM_NAMESPACE}:{ENVIRONMENT_KEY}", f"{project}:{ENVIRONMENT_KEY}"}
    return stricter(*(config.get(k) for k in sorted(keys)), tags.get(ENVIRONMENT_KEY))


@dataclass(frozen=True)
class StackContext:
    """What ``ConfigureStack`` told the pack about the stack under analysis."""

    project: str = ""
    stack: str = ""
    config: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    environment: str | None = None
    """:func:`stack_environment` of the above."""


_CURRENT: list[StackContext] = [StackContext()]
"""The stack of the last ``ConfigureStack``, replaced as one object (the engine configures once per run,
before any ``Analyze``; requests are served on several threads)."""


def current() -> StackContext:
    return _CURRENT[0]


def remember(project: str, stack: str, config: Mapping[str, str], tags: Mapping[str, str]) -> StackContext:
    context = StackContext(
        project=project,
        stack=stack,
        config=MappingProxyType(dict(config)),
        tags=MappingProxyType(dict(tags)),
        environment=stack_environment(project, config, tags),
    )
    _CURRENT[0] = context
    return context


def config_problems(
    policy_config: Mapping[str, Mapping[str, Any]], schemas: Mapping[str, Mapping[str, Mapping[str, Any]]]
) -> list[str]:
    """One line per policy of ``policy_config`` that the pack does not have, per property a rule does not
    take (with the names it would accept) and per value its property's JSON schema refuses (``schemas``:
    each policy's config-schema properties)."""
    problems: list[str] = []
    for name in sorted(policy_config):
        if name == ALL:
            continue
        if name not in schemas:
            problems.append(f"{name!r} is not a policy of this pack{_hint(name, schemas)}")
            continue
        known = schemas[name]
        for prop, value in sorted((policy_config[name] or {}).items()):
            if prop not in known:
                problems.append(
                    f"{name}: unknown property {prop!r}{_hint(prop, known)}; the rule takes "
                    f"{', '.join(['enforcementLevel', *known])}"
                )
                continue
            error = best_match(Draft202012Validator(dict(known[prop])).iter_errors(value))
            if error is not None:
                where = "".join(f"[{p!r}]" for p in error.absolute_path)
                problems.append(f"{name}: {prop}{where}: {error.message}")
    return problems


def _hint(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _as_written(value: Any) -> Any:
    """Protobuf's ``Struct`` carries every number as a double: ``365`` arrives as ``365.0``. Whole numbers
    become ints again, so messages echo what the file says."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _as_written(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_written(v) for v in value]
    return value


def _schema_properties(policies: Iterable[Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for policy in policies:
        schema = getattr(policy, "config_schema", None)
        out[policy.name] = dict((schema.properties or {}) if schema is not None else {})
    return out


class PackServicer(sdk._PolicyAnalyzerServicer):
    """pulumi-policy's servicer that refuses unknown config properties and records the stack's config."""

    def Configure(self, request: Any, context: Any) -> Any:
        given = {
            k: _as_written(json_format.MessageToDict(v.properties)) for k, v in request.policyConfig.items()
        }
        problems = config_problems(given, _schema_properties(self._PolicyAnalyzerServicer__policies))  # type: ignore[attr-defined]
        if problems:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "\n".join(problems))
        return super().Configure(request, context)

    def ConfigureStack(self, request: Any, context: Any) -> Any:
        remember(request.project, request.stack, request.config, request.tags)
        return super().ConfigureStack(request, context)
