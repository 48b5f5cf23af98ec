"""Shared helpers of the rule modules: plain values, environment lookup, tags, policy documents.

The check functions receive plain Python values (never the SDK's proxies), so they are easy to read and
test: :class:`Res` is one resource, :class:`Stack` every resource of the stack, :class:`Ctx` the rule's
config and the resolved environment. Rules are declared, metadata included, with the decorators of
:mod:`mlops_platform.policies.rules._registry`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# One source of truth: mlops_platform.components.governance (no dependency) defines the environments and the governance tag set
# (re-exported for the rule modules and their metadata).
from mlops_platform.components.governance import DATA_CLASSIFICATIONS as DATA_CLASSIFICATIONS
from mlops_platform.components.governance import ENVIRONMENTS as ENVIRONMENTS
from mlops_platform.components.governance import GOVERNANCE_TAG_KEYS as GOVERNANCE_TAG_KEYS

UNKNOWN_VALUES = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
        "030794c1-ac77-496b-92df-f27374a8bd58",
        "e48ece36-62e2-4504-bad9-02848725956a",
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
    }
)
"""The engine's sentinels for values not known during a preview (see pulumi_policy.proxy)."""


class Unknowns:
    """Where a converted value held preview unknowns: the top-level keys holding them, with a path each."""

    __slots__ = ("keys",)

    def __init__(self) -> None:
        self.keys: dict[str, list[str]] = {}


def plain(value: Any, unknowns: Unknowns | None = None, _path: tuple[str, ...] = ()) -> Any:
    """A plain ``dict``/``list`` copy of a (possibly proxied) property value.

    Unknown values (during a preview) are kept as the engine's sentinel strings and their path recorded in
    ``unknowns``; the rule wrappers turn a violation that may stem from them into the SDK's
    "can't run policy during preview" diagnostic instead of a false verdict."""
    if isinstance(value, str):
        if value in UNKNOWN_VALUES and unknowns is not None and _path:
            unknowns.keys.setdefault(_path[0], list(_path))
        return value
    if isinstance(value, bytes | int | float | bool) or value is None:
        return value
    if isinstance(value, Mapping):
        target = _target(value)
        return {k: plain(target[k], unknowns, (*_path, str(k))) for k in target}
    if isinstance(value, Iterable):
        target = _target(value)
        return [plain(v, unknowns, (*_path, str(i))) for i, v in enumerate(target)]
    return value


def _target(proxy: Any) -> Any:
    """The SDK's proxies expose their (already proxied) contents under ``__target`` without the unknown check."""
    if type(proxy).__name__ in ("_DictProxy", "_ListProxy"):
        return proxy["__target"]
    return proxy


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def truthy(value: Any) -> bool:
    """Booleans as the bridged providers send them (``true`` or ``"true"``)."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def maybe_json(value: Any) -> Any:
    """Decode a JSON-encoded string (policy documents, provider config); other values pass through."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(("{", "[")):
            try:
                return json.loads(text)
            except ValueError:
                return value
    return value


# --------------------------------------------------------------------------------------------------
# Context: environment and policy config
# --------------------------------------------------------------------------------------------------


_TAGS_CACHE: list[tuple[Any, dict[str, str]]] = [(None, {})]
"""``[(provider props, their default tags)]``, replaced as one tuple (the pack serves requests on threads)."""


def provider_default_tags(provider_props: Mapping[str, Any] | None) -> dict[str, str]:
    """The AWS provider's ``defaultTags.tags``; the engine sends the provider's nested inputs as JSON."""
    if not provider_props:
        return {}
    key, cached = _TAGS_CACHE[0]
    if key is provider_props:
        return dict(cached)
    tags = _default_tags(provider_props)
    _TAGS_CACHE[0] = (provider_props, tags)
    return dict(tags)


def _default_tags(provider_props: Mapping[str, Any]) -> dict[str, str]:
    default_tags = maybe_json(provider_props.get("defaultTags"))
    if not isinstance(default_tags, Mapping):
        return {}
    tags = maybe_json(default_tags.get("tags"))
    if not isinstance(tags, Mapping):
        return {}
    return {str(k): str(v) for k, v in tags.items() if isinstance(v, str | int | float | bool)}


def resource_tags(props: Mapping[str, Any]) -> dict[str, str]:
    tags = maybe_json(props.get("tags"))
    if not isinstance(tags, Mapping):
        return {}
    return {str(k): str(v) for k, v in tags.items() if isinstance(v, str | int | float | bool)}


_NO_DEFAULT: Any = object()


@dataclass
class Ctx:
    """What a check knows besides the resource: the policy's config, the resolved environment and the
    rule's properties for that environment (the catalogue's values, used where the config sets none)."""

    config: dict[str, Any]
    environment: str
    stack_tags: dict[str, str] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    """The rule's own properties (:class:`~mlops_platform.policies.rules._meta.Prop`) for ``environment``."""
    stack_environment: str | None = None
    """The stack's environment as the engine sent it (``ConfigureStack``), if it did."""

    @property
    def prod(self) -> bool:
        return self.environment == "prod"

    def get(self, key: str, default: Any = _NO_DEFAULT) -> Any:
        """The policy config's value of ``key``, else the rule's catalogue value for the environment (so a
        run without ``--policy-pack-config`` judges prod by prod's values, never by the weakest ones)."""
        value = self.config.get(key)
        if value is not None:
            return value
        if key in self.defaults:
            return self.defaults[key]
        if default is _NO_DEFAULT:
            raise KeyError(f"{key!r} is neither in the policy config nor a property of the rule")
        return default

    def environment_of(self, res: Res) -> str:
        """The environment a stack rule judges ``res`` by (see :func:`resolve_environment`)."""
        return resolve_environment(res.all_tags, self.config, self.stack_environment)


def stricter(*environments: str | None) -> str | None:
    """The strictest of ``environments`` in the order of ``ENVIRONMENTS`` (dev < staging < prod). Empty
    values are skipped; a value that is not an environment counts as prod. ``None`` when none is given."""
    last = len(ENVIRONMENTS) - 1
    ranks = [ENVIRONMENTS.index(e) if e in ENVIRONMENTS else last for e in environments if e]
    return ENVIRONMENTS[max(ranks)] if ranks else None


def resolve_environment(
    tags: Mapping[str, str], config: Mapping[str, Any], stack_environment: str | None = None
) -> str:
    """The environment a rule judges a resource by: the strictest of the resource's ``environment`` tag
    (own or provider default), the stack's environment (``ConfigureStack``) and the policy config's
    ``environment``. So an ``environment: dev`` tag in a prod stack relaxes nothing, and a prod tag in a
    dev stack is judged as prod; prod when none is known."""
    configured = config.get("environment")
    configured = configured if isinstance(configured, str) else None
    return stricter(tags.get("environment"), stack_environment, configured) or "prod"


class _SeenUnknown(threading.local):
    path: list[str] | None = None


UNKNOWN_SEEN = _SeenUnknown()
"""Set when a check reads a resource holding preview unknowns (reset by the rule wrappers); per thread,
since the pack's gRPC server analyzes requests on several threads."""


class Res:
    """One resource as a check sees it: plain inputs (or outputs, under a stack policy) and context.

    ``props`` may be given as the SDK's proxy (``raw_props``); it is converted on first use, so stack
    policies only pay for the resources they look at."""

    def __init__(
        self,
        type: str,
        name: str,
        urn: str,
        props: dict[str, Any] | None = None,
        provider_props: dict[str, Any] | None = None,
        *,
        raw_props: Any = None,
        unknown_keys: dict[str, list[str]] | None = None,
        protect: bool = False,
        parent: str | None = None,
        dependencies: list[str] | None = None,
        property_dependencies: dict[str, list[str]] | None = None,
    ) -> None:
        self.type = type
        self.name = name
        self.urn = urn
        self._props = props
        self._raw = raw_props
        self.unknown_keys = unknown_keys or {}
        self.provider_props = provider_props or {}
        self.protect = protect
        self.parent = parent
        self.dependencies = dependencies or []
        self.property_dependencies = property_dependencies or {}

    @property
    def props(self) -> dict[str, Any]:
        """All properties, without noting unknowns: read them through :meth:`get`, :meth:`path` or
        :meth:`everything` so a verdict resting on an unknown value is deferred."""
        if self._props is None:
            unknowns = Unknowns()
            self._props = plain(self._raw, unknowns) if self._raw is not None else {}
            self.unknown_keys = unknowns.keys
        return self._props

    def _note(self, key: str) -> None:
        path = self.unknown_keys.get(key) if self.unknown_keys else None
        if path is not None and UNKNOWN_SEEN.path is None:
            UNKNOWN_SEEN.path = [self.name, *path]

    def everything(self) -> dict[str, Any]:
        """All properties, noting any unknown among them."""
        props = self.props
        for key in self.unknown_keys:
            self._note(key)
        return props

    def get(self, key: str, default: Any = None) -> Any:
        props = self.props
        self._note(key)
        return props.get(key, default)

    def path(self, *keys: str | int, default: Any = None) -> Any:
        value: Any = self.props
        if keys and isinstance(keys[0], str):
            self._note(keys[0])
        for key in keys:
            if isinstance(key, int):
                if not isinstance(value, list) or len(value) <= key:
                    return default
                value = value[key]
            else:
                if not isinstance(value, Mapping) or key not in value:
                    return default
                value = value[key]
        return default if value is None else value

    @property
    def tags(self) -> dict[str, str]:
        return resource_tags({"tags": self.get("tags")})

    @property
    def all_tags(self) -> dict[str, str]:
        return {**provider_default_tags(self.provider_props), **self.tags}

    def deps_of(self, prop: str) -> list[str]:
        return self.property_dependencies.get(prop, [])


class Stack:
    """Every resource of the stack with lookups for joining settings that live on sibling resources."""

    def __init__(self, resources: list[Res]) -> None:
        self.resources = resources
        self.by_urn = {r.urn: r for r in resources}
        self._by_type: dict[str, list[Res]] = {}
        self._indexes: dict[tuple[tuple[str, ...], str], dict[str, list[Res]]] = {}
        for r in resources:
            self._by_type.setdefault(r.type, []).append(r)

    def of_type(self, *types: str) -> list[Res]:
        out: list[Res] = []
        for t in types:
            out.extend(self._by_type.get(t, []))
        return out

    def _index(self, types: tuple[str, ...], prop: str) -> dict[str, list[Res]]:
        """``{URN or value: [resources of types whose prop depends on / equals it]}``, built once."""
        key = (types, prop)
        index = self._indexes.get(key)
        if index is None:
            index = {}
            for r in self.of_type(*types):
                keys = set(r.deps_of(prop))
                keys.update(v for v in as_list(r.get(prop)) if isinstance(v, str) and v)
                for k in keys:
                    index.setdefault(k, []).append(r)
            self._indexes[key] = index
        return index

    def referencing(self, target: Res, types: Iterable[str], prop: str, ids: Iterable[Any] = ()) -> list[Res]:
        """Resources of ``types`` whose ``prop`` points at ``target``: through the property's dependencies
        (what the engine records when an output is passed) or by value (name/ID/ARN)."""
        index = self._index(tuple(types), prop)
        found: dict[str, Res] = {}
        for k in [target.urn, *(v for v in ids if isinstance(v, str) and v)]:
            for r in index.get(k, []):
                found.setdefault(r.urn, r)
        return list(found.values())

    def referenced(
        self, source: Res, prop: str, types: Iterable[str], id_props: Iterable[str] = ("id",)
    ) -> list[Res]:
        """The resources of ``types`` that ``source.prop`` points at (dependencies first, then values)."""
        types = tuple(types)
        found = [
            self.by_urn[u] for u in source.deps_of(prop) if u in self.by_urn and self.by_urn[u].type in types
        ]
        if found:
            return found
        wanted = [v for v in as_list(source.get(prop)) if isinstance(v, str) and v]
        if not wanted:
            return []
        out: dict[str, Res] = {}
        for id_prop in id_props:
            index = self._values(types, id_prop)
            for v in wanted:
                for r in index.get(v, []):
                    out.setdefault(r.urn, r)
        return list(out.values())

    def _values(self, types: tuple[str, ...], prop: str) -> dict[str, list[Res]]:
        key = (types, "=" + prop)
        index = self._indexes.get(key)
        if index is None:
            index = {}
            for r in self.of_type(*types):
                v = r.get(prop)
                if isinstance(v, str) and v:
                    index.setdefault(v, []).append(r)
            self._indexes[key] = index
        return index


# --------------------------------------------------------------------------------------------------
# IAM-style policy documents (IAM, key, bucket, topic and repository policies)
# --------------------------------------------------------------------------------------------------


def statements(document: Any) -> list[dict[str, Any]]:
    doc = maybe_json(document)
    if not isinstance(doc, Mapping):
        return []
    stmts = doc.get("Statement")
    return [s for s in as_list(stmts) if isinstance(s, Mapping)]  # type: ignore[misc]


def principals(stmt: Mapping[str, Any]) -> dict[str, list[str]]:
    """A statement's principals as ``{"AWS": [...], "Service": [...], "Federated": [...], "*": ["*"]}``."""
    p = stmt.get("Principal")
    if p is None:
        return {}
    if p == "*":
        return {"*": ["*"]}
    if isinstance(p, Mapping):
        return {str(k): [str(v) for v in as_list(val)] for k, val in p.items()}
    return {}


def is_public_principal(stmt: Mapping[str, Any]) -> bool:
    ps = principals(stmt)
    if "*" in ps:
        return True
    return any(v == "*" for v in ps.get("AWS", []))


# Condition keys that pin a statement with a ``*`` principal to known callers (matched lower-case), by kind:
# the kind decides which values are narrow enough. ``kms:ViaService`` is deliberately absent: it names the
# service a request comes through, not the caller's account (``kms:ViaService = s3.<region>.amazonaws.com``
# alone lets any account use the key through its own S3 buckets), so it only counts together with one of
# these. ``aws:ResourceOrgID`` is absent too: it describes the resource being accessed, not the caller.
_ACCOUNT_KEYS = frozenset(
    {"aws:sourceaccount", "aws:sourceowner", "aws:principalaccount", "kms:calleraccount"}
)
_ORG_KEYS = frozenset({"aws:principalorgid"})
_ORG_PATH_KEYS = frozenset({"aws:principalorgpaths"})
_ARN_KEYS = frozenset({"aws:sourcearn", "aws:principalarn"})
_NETWORK_KEYS = frozenset({"aws:sourcevpce", "aws:sourcevpc"})
_PINNING_CONDITION_KEYS = _ACCOUNT_KEYS | _ORG_KEYS | _ORG_PATH_KEYS | _ARN_KEYS | _NETWORK_KEYS

# Operators under which a pinning key restricts the request to the listed values. Negated operators allow
# everyone *else*; ``...IfExists`` and ``ForAllValues:`` hold when the key is absent; ``Null`` only tests
# presence.
_PINNING_OPERATORS = frozenset(
    {"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike"}
)


def _has_wildcard(value: str) -> bool:
    return "*" in value or "?" in value or "${" in value


def _pins(key: str, value: Any) -> bool:
    """Whether one condition value narrows ``key`` to known callers (no ``*``/``?`` where it matters)."""
    if not isinstance(value, str) or not value.strip() or value.strip() == "*":
        return False
    if "${" in value:  # a policy variable (e.g. ``${aws:PrincipalAccount}``) matches every caller
        return False
    if key in _ORG_PATH_KEYS:  # "o-abc/r-root/ou-x/*": the organization must be literal
        return not _has_wildcard(value.split("/", 1)[0])
    if key in _ARN_KEYS:
        parts = value.split(":", 5)
        if len(parts) < 6 or any(_has_wildcard(p) for p in parts[:3]):
            return False
        account, rest = parts[4], parts[5]
        if account:  # "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*" is pinned by the account
            return not _has_wildcard(account)
        # No account in the ARN (S3: "arn:aws:s3:::bucket"): the resource part must be literal.
        return not _has_wildcard(rest)
    return not _has_wildcard(value)  # accounts, organization IDs, VPCs and endpoints: literal only


def pins_arn(value: Any) -> bool:
    """Whether an ARN condition value names a literal partition, service and account (or, without an
    account, a literal resource): ``arn:aws:logs:eu-west-1:123456789012:log-group:*`` pins."""
    return _pins("aws:sourcearn", value)


def has_pinning_condition(stmt: Mapping[str, Any]) -> bool:
    """Whether a condition restricts the statement to known callers: a pinning key (account, organization,
    ARN, VPC endpoint) under a positive operator with only literal values. ``kms:ViaService`` alone does not
    pin (it only names the service a caller of *any* account goes through)."""
    return _pinned_by(stmt, _PINNING_CONDITION_KEYS)


_SOURCE_KEYS = frozenset({"aws:sourcearn", "aws:sourceaccount", "aws:sourceowner"})


def has_source_condition(stmt: Mapping[str, Any]) -> bool:
    """Whether a condition pins the resource a service principal acts for (``aws:SourceArn``,
    ``aws:SourceAccount``, ``aws:SourceOwner``) to literal values under a positive operator: the guard
    against a confused deputy when a service such as EventBridge is granted access."""
    return _pinned_by(stmt, _SOURCE_KEYS)


def _pinned_by(stmt: Mapping[str, Any], keys: frozenset[str]) -> bool:
    cond = stmt.get("Condition")
    if not isinstance(cond, Mapping):
        return False
    for op, body in cond.items():
        operator = str(op).lower()
        if operator.startswith("foranyvalue:"):
            operator = operator.split(":", 1)[1]
        if operator not in _PINNING_OPERATORS or not isinstance(body, Mapping):
            continue
        for k, val in body.items():
            key = str(k).lower()
            values = as_list(val)
            if key in keys and values and all(_pins(key, v) for v in values):
                return True
    return False


def public_allow_statements(document: Any) -> Iterator[dict[str, Any]]:
    """Allow statements open to everyone: a ``*`` principal without a condition that pins the caller."""
    for s in statements(document):
        if s.get("Effect") == "Allow" and is_public_principal(s) and not has_pinning_condition(s):
            yield s


def actions(stmt: Mapping[str, Any]) -> list[str]:
    return [str(a) for a in as_list(stmt.get("Action"))]


def resources_of(stmt: Mapping[str, Any]) -> list[str]:
    return [str(r) for r in as_list(stmt.get("Resource"))]


def sid(stmt: Mapping[str, Any]) -> str:
    return f"statement {stmt['Sid']!r}" if stmt.get("Sid") else "a statement"


def bool_setting(value: Any, default: bool) -> bool:
    return default if value is None else truthy(value)
