"""Loading a stack's configuration: Pulumi config keys, parsing, validation and the run's checks.

Values arrive the way Pulumi passes them to a program: strings, with arrays JSON-encoded. :func:`build`
parses each to exactly its field's type (``"3"`` -> ``3``; ``"3.5"`` for an integer is an error), overlays
them on the profile of the stack's ``environment`` (:mod:`mlops_platform.components.platform.profiles`) and validates the
result against :class:`~mlops_platform.components.platform.settings.PlatformConfig`, naming every problem at once in a
:class:`ConfigError`. :func:`review` makes the checks that depend on the day and on what the run is (a real
update refuses placeholders and an out-of-support Kubernetes version in staging and prod);
:func:`from_pulumi` does both inside a running Pulumi program.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import json
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_origin

from pydantic import ValidationError

from mlops_platform.components.cluster.versions import SUPPORT_CALENDAR, support_status
from mlops_platform.components.governance import ENVIRONMENTS, PROJECT
from mlops_platform.components.platform.profiles import profile
from mlops_platform.components.platform.settings import (
    FLOOR_ERROR,
    PATTERN_WORDS,
    SECTIONS,
    PlatformConfig,
    floor_problems,
    key_for,
    requirement_problems,
)

# --------------------------------------------------------------------------------------------------
# Pulumi config keys and parsing
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeySpec:
    """One Pulumi config key of the project, as ``Pulumi.yaml`` declares it."""

    key: str
    """The key without the ``mlops-platform:`` namespace, e.g. ``databaseInstanceClass``."""
    section: str
    """The :data:`~mlops_platform.components.platform.settings.SECTIONS` entry the key belongs to, e.g. ``database``."""
    field: str
    """The section's field, e.g. ``instance_class``."""
    kind: Literal["string", "integer", "boolean", "array"]
    """The type Pulumi declares and :func:`build` parses the value to."""
    description: str
    """The field's description (also Pulumi.yaml's)."""
    required: bool
    """Whether a stack must set it (the governance keys but notEnvironment); every other key has a default."""


def _kind(annotation: Any) -> Literal["string", "integer", "boolean", "array"]:
    origin = get_origin(annotation)
    if annotation is bool:
        return "boolean"
    if annotation is int:
        return "integer"
    if origin is list:
        return "array"
    if annotation is str or origin is Literal:
        return "string"
    if origin in (typing.Union, types.UnionType):  # pragma: no cover - no optional keys today
        raise TypeError("config fields must not be optional; use a profile default")
    raise TypeError(f"unsupported config field type {annotation!r}")


def key_specs() -> list[KeySpec]:
    """Every config key of the project, in schema order."""
    specs = []
    for section, model in SECTIONS.items():
        for name, info in model.model_fields.items():
            specs.append(
                KeySpec(
                    key=key_for(section, name),
                    section=section,
                    field=name,
                    kind=_kind(info.annotation),
                    description=info.description or "",
                    required=section == "governance" and info.is_required(),
                )
            )
    return specs


KEYS: dict[str, KeySpec] = {s.key: s for s in key_specs()}


class ConfigError(Exception):
    """A stack configuration that did not validate. ``problems`` holds one ``(key, message)`` each."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [f"{self.source}: {key}: {message}" for key, message in self.problems]


_INT = re.compile(r"^-?\d+$")


def _parse(spec: KeySpec, raw: Any) -> Any:
    """Parse one value as Pulumi hands it to a program (a string; arrays JSON-encoded)."""
    if raw is None:
        raise ValueError("has no value; set one (a YAML `~` or an empty value is null, not text)")
    if not isinstance(raw, str):
        raw = (
            json.dumps(raw)
            if isinstance(raw, list | dict)
            else str(raw).lower()
            if isinstance(raw, bool)
            else str(raw)
        )
    if spec.kind == "string":
        return raw
    if spec.kind == "integer":
        if not _INT.match(raw.strip()):
            raise ValueError(f"must be an integer, got {raw!r}")
        return int(raw)
    if spec.kind == "boolean":
        if raw not in ("true", "false"):
            raise ValueError(f"must be true or false (lowercase), got {raw!r}")
        return raw == "true"
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise ValueError(f"must be a list (a YAML sequence such as [a, b]), got {raw!r}") from None
    if not isinstance(value, list):
        raise ValueError(f"must be a list (a YAML sequence such as [a, b]), got {raw!r}")
    return value


_TYPE_WORDS = {
    "string_type": "text (quote it in YAML)",
    "int_type": "a whole number",
    "bool_type": "true or false",
    "list_type": "a list",
}


def _message(err: Mapping[str, Any]) -> str:
    """A pydantic error in words: what is allowed and the value received (repr, so ``'x '`` shows)."""
    msg = str(err.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    ctx = err.get("ctx") or {}
    kind = str(err.get("type"))
    if kind == "literal_error" and "expected" in ctx:
        msg = f"must be one of {ctx['expected']}"
    elif kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern"))
        msg = f"must be {PATTERN_WORDS.get(pattern, f'text matching {pattern}')}"
    elif kind == "greater_than_equal":
        msg = f"must be at least {ctx.get('ge')}"
    elif kind == "less_than_equal":
        msg = f"must be at most {ctx.get('le')}"
    elif kind == "too_short":
        msg = f"must list at least {ctx.get('min_length')} item(s)"
    elif kind in _TYPE_WORDS:
        msg = f"must be {_TYPE_WORDS[kind]}"
    index = next((p for p in err.get("loc", ())[2:] if isinstance(p, int)), None)
    if index is not None:
        msg = f"item {index + 1}: {msg}"
    value = err.get("input")
    shown = [repr(v) for v in value] if isinstance(value, list) else [repr(value)]
    if isinstance(value, str | int | float | list) and not any(r in msg for r in [repr(value), *shown]):
        msg = f"{msg}, got {value!r}"
    return msg


# Namespaces a stack of the platform may set besides its own (providers, Pulumi itself).
_OTHER_NAMESPACES = ("aws", "kubernetes", "pulumi", "random", "tls", "command")


def _read(
    values: Mapping[str, Any], prefix: str, secret_keys: typing.Collection[str] = ()
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The project's keys of ``values`` parsed to their fields' types (by key without ``prefix``), and a
    problem for each unknown key, each key in a misspelt namespace, each secret (no key holds one), each
    value that does not parse and each required key that is absent."""
    problems: list[tuple[str, str]] = []
    parsed: dict[str, Any] = {}
    for full_key, raw in values.items():
        if not isinstance(full_key, str):
            continue
        if not full_key.startswith(prefix):
            namespace = full_key.split(":", 1)[0]
            if namespace not in _OTHER_NAMESPACES and difflib.get_close_matches(
                namespace, [prefix[:-1]], n=1, cutoff=0.75
            ):
                problems.append(
                    (full_key, f"namespace {namespace!r} is not the project's: did you mean {prefix}?")
                )
            continue
        key = full_key[len(prefix) :]
        spec = KEYS.get(key)
        if spec is None:
            close = [k for k in KEYS if k.lower().startswith(key[:4].lower())][:5]
            if key == prefix[:-1]:
                close = []
                hint = f" (keys are written {prefix}owner, not nested under {prefix[:-1]}:)"
            else:
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
            problems.append((full_key, f"unknown key{hint}; allowed keys are listed in Pulumi.yaml"))
            continue
        if full_key in secret_keys:
            problems.append(
                (
                    full_key,
                    "is a secret (`secure:`), but no key of the platform holds one: each is plain "
                    f"configuration (this one: {spec.description.rstrip('.')}); set it in clear text, "
                    f"`pulumi config set {key} <value>` without --secret",
                )
            )
            continue
        try:
            parsed[key] = _parse(spec, raw)
        except ValueError as exc:
            problems.append((full_key, str(exc)))

    for spec in KEYS.values():
        if (
            spec.required
            and spec.key not in parsed
            and not any(k == f"{prefix}{spec.key}" for k, _ in problems)
        ):
            problems.append((f"{prefix}{spec.key}", "is required: " + spec.description))
    return parsed, problems


def _overlay(parsed: Mapping[str, Any], environment: str, region: str | None) -> dict[str, Any]:
    """The model's input: the environment's profile with the stack's parsed values set on it."""
    data: dict[str, Any] = {"region": region}
    defaults = profile(environment)
    for section in SECTIONS:
        data[section] = dict(defaults[section])
    for key, value in parsed.items():
        spec = KEYS[key]
        data[spec.section][spec.field] = value
    return data


def _validation_problems(exc: ValidationError, prefix: str) -> list[tuple[str, str]]:
    """Each pydantic error as ``(config key, message)``: the field's key, every key of a section for a
    section-wide rule, ``environment`` for a rule across sections."""
    problems: list[tuple[str, str]] = []
    for err in exc.errors():
        if err["type"] == FLOOR_ERROR:
            continue  # build reports each floor violation under its own key
        loc = [str(p) for p in err["loc"]]
        if err["type"] == "missing" and len(loc) >= 2 and loc[0] in SECTIONS:
            spec = KEYS.get(key_for(loc[0], loc[1]))
            if spec is not None and spec.required:
                continue  # _read reported it, with what to set
        if loc and loc[0] == "region":
            problems.append(("aws:region", _message(err)))
        elif len(loc) >= 2 and loc[0] in SECTIONS and loc[1] in SECTIONS[loc[0]].model_fields:
            problems.append((f"{prefix}{key_for(loc[0], loc[1])}", _message(err)))
        elif len(loc) >= 1 and loc[0] in SECTIONS:
            keys = ", ".join(f"{prefix}{s.key}" for s in KEYS.values() if s.section == loc[0])
            problems.append((keys, _message(err)))
        else:
            problems.append((f"{prefix}environment", _message(err)))
    return problems


def _stack_problems(
    parsed: Mapping[str, Any], environment: str, stack: str | None, prefix: str
) -> list[tuple[str, str]]:
    """A stack named like an environment (dev, staging, prod) declares that environment, or names itself in
    ``notEnvironment`` to state that it is not that environment; ``notEnvironment`` names no other stack."""
    if stack is None:
        return []
    opt_key = key_for("governance", "not_environment")
    opt_out = parsed.get(opt_key, "")
    named = stack if stack in ENVIRONMENTS else None
    problems: list[tuple[str, str]] = []
    if opt_out in ENVIRONMENTS:  # any other value is refused by the field's own check
        if opt_out != stack:
            allowed = (
                f"empty, or {stack!r} (this stack's name) to state that it is not the {stack} environment"
                if named
                else "empty: only a stack named dev, staging or prod may state that it is not that environment"
            )
            problems.append(
                (
                    f"{prefix}{opt_key}",
                    f"{opt_out!r} does not name this stack ({stack!r}); allowed: {allowed}",
                )
            )
        elif environment == stack:
            problems.append(
                (
                    f"{prefix}{opt_key}",
                    f"{opt_out!r} states that this stack is not the {stack} environment, but "
                    f"{prefix}environment is {environment!r}; allowed here: empty",
                )
            )
    if named and environment != named and opt_out != named:
        problems.append(
            (
                f"{prefix}environment",
                f"{environment!r} in the stack named {named!r}; allowed: {named!r}, or set "
                f"{prefix}{opt_key}: {named} to state that this stack is not the {named} environment",
            )
        )
    return problems


def build(
    values: Mapping[str, Any],
    *,
    region: str | None,
    source: str,
    namespace: str = PROJECT,
    today: _dt.date | None = None,
    stack: str | None = None,
    secret_keys: typing.Collection[str] = (),
) -> PlatformConfig:
    """Validate a stack's config (``{"mlops-platform:owner": "...", "aws:region": "..."}``) and overlay it
    on its environment profile. Raises :class:`ConfigError` naming every problem at once, each setting below
    its environment's floor (:data:`~mlops_platform.components.platform.settings.FLOORS`) under its own key.
    ``secret_keys`` are the keys set as secrets (``secure:``); none of the platform's may be one.

    With ``stack`` (the stack's name) a stack named dev, staging or prod must declare that environment or
    name itself in ``notEnvironment``. With ``today`` the Kubernetes version is also checked against the EKS
    support calendar on that date: in staging and prod a version past its end of standard support is
    refused (:func:`support_problems`)."""
    prefix = f"{namespace}:"
    parsed, problems = _read(values, prefix, secret_keys)
    if region is None:
        problems.append(("aws:region", "is required, e.g. eu-west-1"))
    elif "aws:region" in secret_keys:
        problems.append(
            ("aws:region", "is a secret (`secure:`); set the region in clear text, e.g. eu-west-1")
        )

    environment = parsed.get("environment")
    if environment is not None and environment not in ENVIRONMENTS:
        problems.append((f"{prefix}environment", f"must be one of {list(ENVIRONMENTS)}, got {environment!r}"))
        environment = None
    if environment is None:
        # Without a profile nothing else can be checked meaningfully.
        raise ConfigError(source, problems)

    problems.extend(_stack_problems(parsed, environment, stack, prefix))
    data = _overlay(parsed, environment, region)
    floor = [
        (f"{prefix}{key}", message)
        for key, message in floor_problems(environment, data) + requirement_problems(data)
    ]
    try:
        config = PlatformConfig.model_validate(data)
    except ValidationError as exc:
        # One line per key: what is reported above is not repeated (a missing key is not also pydantic's
        # "Field required"), and every floor violation is reported whatever else is wrong, unless its key
        # already has a problem of its own.
        reported = {key for key, _ in problems}
        problems.extend(p for p in _validation_problems(exc, prefix) if p[0] not in reported)
        reported.update(key for key, _ in problems)
        problems.extend(p for p in floor if p[0] not in reported)
        raise ConfigError(source, problems) from None
    if today is not None:
        refused, _ = support_problems(config, today, namespace=namespace)
        problems.extend(refused)
    if problems:
        raise ConfigError(source, problems)
    return config


# --------------------------------------------------------------------------------------------------
# Checks over a validated config that depend on the day or on what the run is (a real update or not)
# --------------------------------------------------------------------------------------------------

STRICT_ENVIRONMENTS = ("staging", "prod")
"""Environments in which a real update refuses placeholders and an out-of-support Kubernetes version."""


def support_problems(
    config: PlatformConfig, today: _dt.date, *, namespace: str = PROJECT
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(refusals, warnings)`` of the cluster's Kubernetes version against the EKS support calendar
    (:data:`mlops_platform.components.cluster.versions.SUPPORT_CALENDAR`) on ``today``, each ``(key, message)``.

    Past the end of standard support: refused in staging and prod, a warning in dev. Within
    :data:`mlops_platform.components.cluster.versions.SUPPORT_WARNING_DAYS` of it: a warning everywhere."""
    key = f"{namespace}:{key_for('cluster', 'kubernetes_version')}"
    version = config.cluster.kubernetes_version
    state, message = support_status(version, today)
    if state == "unknown":
        known = sorted(SUPPORT_CALENDAR)
        return [(key, f"{message} (known: {known}); add its release and support dates")], []
    if state == "extended":
        if config.environment in STRICT_ENVIRONMENTS:
            return [(key, f"{message}; {config.environment} runs standard support only")], []
        return [], [(key, message)]
    if state == "ending":
        return [], [(key, message)]
    return [], []


# Reserved for documentation and testing (RFC 2606, RFC 6761): nothing there reads e-mail or answers HTTPS.
_RESERVED_TLDS = frozenset({"test", "invalid", "example", "localhost"})
DOCUMENTATION_ACCOUNT = "123456789012"
"""The AWS account ID of the documentation's examples: an ARN in it never names a real principal."""
_HOST = re.compile(r"^[a-z][a-z0-9+.-]*://(?:[^@/\s]*@)?([^/:?#\s]+)", re.IGNORECASE)


def _reserved_domain(host: str) -> bool:
    labels = host.lower().rstrip(".").split(".")
    if labels[-1] in _RESERVED_TLDS:
        return True
    # example.com / example.org / example.net (RFC 2606) and their look-alikes (example.co.uk), any subdomain
    return len(labels) >= 2 and (labels[-2] == "example" or (len(labels) >= 3 and labels[-3] == "example"))


def _config_strings(config: PlatformConfig, namespace: str) -> list[tuple[str, str]]:
    """Every string value of the config (list items included) with its Pulumi config key."""
    out: list[tuple[str, str]] = []
    for section in SECTIONS:
        model = getattr(config, section)
        for field in type(model).model_fields:
            value = getattr(model, field)
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str):
                    out.append((f"{namespace}:{key_for(section, field)}", item))
    return out


def placeholder_problems(config: PlatformConfig, *, namespace: str = PROJECT) -> list[str]:
    """What in a validated config is still a placeholder, one ``"<key>: <what is wrong and what to set>"``
    line each: an address or URL on a reserved domain (``example.*``, ``*.test``, ``*.invalid``,
    ``*.example``) in any key, an ARN in the documentation account 123456789012, no cluster administrator,
    and (prod) no alert subscription.

    A real update of staging or prod refuses them; every other run prints them as warnings
    (:func:`review`). Keys added to the schema are covered by the address and ARN scan without change."""
    lines: list[str] = []
    for key, value in _config_strings(config, namespace):
        host = ""
        url = _HOST.match(value)
        if url:
            host = url.group(1)
        elif not value.startswith("arn:") and re.match(r"^[^@\s]+@[^@\s]+$", value):
            host = value.rsplit("@", 1)[1]
        if host and _reserved_domain(host):
            what = "e-mail address" if "@" in value and not url else "URL"
            lines.append(
                f"{key}: {value!r} is a placeholder {what} on a reserved domain ({host}); set the real "
                "address alerts and notifications must reach"
            )
        if value.startswith("arn:") and value.split(":")[4:5] == [DOCUMENTATION_ACCOUNT]:
            lines.append(
                f"{key}: {value!r} is in the documentation account {DOCUMENTATION_ACCOUNT}; set the ARN in "
                "your own account"
            )
    if not config.cluster.admin_principal_arns:
        lines.append(
            f"{namespace}:{key_for('cluster', 'admin_principal_arns')}: empty, so no human can reach the "
            "cluster; set the IAM role ARN(s) of the platform administrators (e.g. "
            "arn:aws:iam::<account>:role/aws-reserved/sso.amazonaws.com/<region>/AWSReservedSSO_<name>)"
        )
    monitoring = config.monitoring
    if config.environment == "prod" and not (monitoring.alert_emails or monitoring.alert_https_endpoints):
        lines.append(
            f"{namespace}:{key_for('monitoring', 'alert_emails')}: no alert subscription, so prod alerts "
            f"reach nobody; set monitoringAlertEmails (the on-call address) or monitoringAlertHttpsEndpoints"
        )
    return lines


def review(
    config: PlatformConfig, *, source: str, today: _dt.date, real_update: bool, namespace: str = PROJECT
) -> list[str]:
    """The checks a run makes once the config validated; returns the warning lines to print.

    On a real update (``pulumi up``) of staging or prod, placeholders (:func:`placeholder_problems`) and a
    Kubernetes version past its end of standard support raise :class:`ConfigError`. Previews, offline runs
    (``mlops plan/check/verify``) and dev get the same lines as warnings."""
    placeholders = placeholder_problems(config, namespace=namespace)
    refused, warned = support_problems(config, today, namespace=namespace)
    if real_update and config.environment in STRICT_ENVIRONMENTS:
        problems = [tuple(line.split(": ", 1)) for line in placeholders] + refused
        if problems:
            raise ConfigError(source, [(k, m) for k, m in problems])
        return [f"{source}: {k}: {m}" for k, m in warned]
    lines = [f"{source}: {line}" for line in placeholders]
    lines += [f"{source}: {k}: {m}" for k, m in refused + warned]
    return lines


def from_pulumi(source: str = "stack config", *, today: _dt.date | None = None) -> PlatformConfig:
    """Build the config inside a running Pulumi program (the real engine or the offline one).

    A real update (``pulumi up``: ``pulumi.runtime.is_dry_run()`` is False) of staging or prod refuses
    placeholders and an out-of-support Kubernetes version (:func:`review`); a preview, an offline render and
    dev log the same lines as warnings. ``today`` defaults to the current UTC date."""
    import pulumi

    values: dict[str, Any] = {}
    cfg = pulumi.Config(PROJECT)
    for key in KEYS:
        raw = cfg.get(key)
        if raw is not None:
            values[f"{PROJECT}:{key}"] = raw
    present = {**pulumi.runtime.config.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    for k in present:
        if k.startswith(f"{PROJECT}:") and k not in values:
            values[k] = pulumi.runtime.config.get_config(k)
    region = pulumi.Config("aws").get("region")
    secret_env = pulumi.runtime.config.get_config_secret_keys_env()
    secrets = [
        k for k in [*values, "aws:region"] if pulumi.runtime.config.is_config_secret(k) or k in secret_env
    ]
    config = build(values, region=region, source=source, secret_keys=secrets, stack=pulumi.get_stack())
    day = today or _dt.datetime.now(_dt.timezone.utc).date()
    for line in review(config, source=source, today=day, real_update=not pulumi.runtime.is_dry_run()):
        pulumi.log.warn(line)
    return config
