"""Reading a Pulumi project and a stack's config file the way the Pulumi CLI does.

Project-level ``config:`` defaults in Pulumi.yaml come first, then ``<stackConfigDir>/Pulumi.<stack>.yaml``.
Values are handed to the program as Pulumi hands them: a top-level scalar as its source text (the CLI decodes
it into a string, so unquoted ``yes``, ``0x3`` and ``1.30`` arrive as ``"yes"``, ``"0x3"`` and ``"1.30"``),
arrays and objects JSON-encoded with their scalars read the way the CLI's YAML library (go-yaml v3, YAML 1.2
core schema) reads them (``[yes, 0x3, 1.30]`` -> ``["yes",3,1.3]``). ``secure:`` values cannot be decrypted
offline; they become placeholders and their keys are marked secret.

What the CLI refuses or a reader would not mean is refused here, every problem on its own line
(:class:`StackFileError`): a key written twice in one mapping (also ``owner`` next to
``mlops-platform:owner``), a key with no value (``owner: ~``), and a top-level key that is not a stack file
key (a config key outside ``config:``, a misspelt ``confg:``).
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SECRET_PLACEHOLDER = "offline-secret-placeholder"


class StackFileError(Exception):
    """A project or stack file that cannot be read; each line names the file and one problem."""

    def __init__(self, *lines: str) -> None:
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))


STACK_FILE_KEYS = ("config", "environment", "secretsprovider", "encryptedkey", "encryptionsalt")
"""The top-level keys of a Pulumi stack file (``Pulumi.<stack>.yaml``); ``environment`` imports ESC environments."""


@dataclass
class ProjectInfo:
    root: Path
    name: str
    main: Path
    stack_config_dir: Path
    declared: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class StackConfig:
    project: ProjectInfo
    stack: str
    path: Path
    values: dict[str, str]
    secret_keys: list[str]

    @property
    def relpath(self) -> str:
        try:
            return str(self.path.relative_to(self.project.root))
        except ValueError:
            return str(self.path)


def _compose(path: Path, shown: Path | str | None = None) -> yaml.Node | None:
    """The file's YAML node tree; errors name it as ``shown`` (default: ``path``)."""
    shown = path if shown is None else shown
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StackFileError(f"{shown}: file not found") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise StackFileError(
            f"{shown} (line {line}): not UTF-8 text (byte {exc.object[exc.start]:#04x}); Pulumi reads "
            "project and stack files as UTF-8, so save it in that encoding"
        ) from None
    except OSError as exc:
        raise StackFileError(f"{shown}: cannot be read ({exc.strerror or exc})") from None
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        char = chr(exc.character) if isinstance(exc.character, int) else exc.character
        raise StackFileError(
            f"{shown} (line {line}): not valid YAML: the character {char!r} is not allowed in a YAML file"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise StackFileError(f"{shown}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None


def _read_yaml(path: Path) -> Any:
    node = _compose(path)
    problems = _duplicates(node, path)
    if problems:
        raise StackFileError(*problems)
    return None if node is None else _value(node)


# --- YAML as the Pulumi CLI reads it (go-yaml v3: the YAML 1.2 core schema, not PyYAML's YAML 1.1) --------

_STR = "tag:yaml.org,2002:str"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
# Go's strconv.ParseInt(s, 0, 64) syntax after go-yaml removed underscores: 0x.., 0o.., 0b.., 0.. (octal), decimal
_INT = re.compile(r"^([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_IMPLICIT = yaml.SafeLoader("")


def _plain(node: yaml.ScalarNode) -> bool:
    """Whether the scalar is unquoted and untagged (its type comes from its text)."""
    if node.style is not None:
        return False
    if node.tag == _STR:  # `!!str 3` is tagged; a plain word resolves to str by itself
        return _IMPLICIT.resolve(yaml.ScalarNode, node.value, (True, False)) == _STR
    return node.tag.startswith("tag:yaml.org,2002:")


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and _plain(node) and node.value in _NULLS


def _scalar(node: yaml.ScalarNode) -> Any:
    text = node.value
    if not _plain(node):
        return text
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    number = _INT.match(text.replace("_", ""))
    if number:
        sign, digits = number.groups()
        if digits[:2].lower() in ("0x", "0o", "0b"):
            value = int(digits, 0)
        else:
            value = int(digits, 8) if len(digits) > 1 and digits[0] == "0" else int(digits)
        return -value if sign == "-" else value
    if _FLOAT.match(text.replace("_", "")):
        return float(text.replace("_", ""))
    return text  # timestamps, .inf and every other word stay text, as go-yaml hands them to interface{}


def _value(node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return {str(_value(k)): _value(v) for k, v in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [_value(v) for v in node.value]
    assert isinstance(node, yaml.ScalarNode)
    return _scalar(node)


def _duplicates(node: yaml.Node | None, path: Path | str) -> list[str]:
    """A line for every key written twice in one mapping (go-yaml refuses them; PyYAML keeps the last)."""
    if isinstance(node, yaml.SequenceNode):
        return [line for item in node.value for line in _duplicates(item, path)]
    if not isinstance(node, yaml.MappingNode):
        return []
    lines: list[str] = []
    seen: dict[str, int] = {}
    for key, value in node.value:
        name = str(_value(key))
        line = key.start_mark.line + 1
        if name in seen:
            lines.append(
                f"{path} (line {line}): {name!r} is written twice (lines {seen[name]} and {line}); a key "
                "may appear once in a mapping: keep the value you mean and delete the other"
            )
        else:
            seen[name] = line
        lines.extend(_duplicates(value, path))
    return lines


def load_project(root: Path) -> ProjectInfo:
    root = root.resolve()
    path = root / "Pulumi.yaml"
    doc = _read_yaml(path)
    if not isinstance(doc, dict) or "name" not in doc:
        raise StackFileError(f"{path}: not a Pulumi project file (no name)")
    name = str(doc["name"])
    main = root / str(doc.get("main", "."))
    stack_dir = root / str(doc.get("stackConfigDir", "."))
    declared: dict[str, dict[str, Any]] = {}
    for key, spec in (doc.get("config") or {}).items():
        full = key if ":" in key else f"{name}:{key}"
        declared[full] = spec if isinstance(spec, dict) else {"value": spec}
    return ProjectInfo(root=root, name=name, main=main, stack_config_dir=stack_dir, declared=declared)


def _to_pulumi_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _is_secure(node: yaml.Node) -> bool:
    return (
        isinstance(node, yaml.MappingNode)
        and len(node.value) == 1
        and isinstance(node.value[0][0], yaml.ScalarNode)
        and node.value[0][0].value == "secure"
    )


def _strip_secure(node: yaml.Node, *, found: list[bool]) -> Any:
    """The value of ``node`` as Python, a placeholder for each ``secure:`` value (``found[0]`` set then)."""
    if _is_secure(node):
        found[0] = True
        return SECRET_PLACEHOLDER
    if isinstance(node, yaml.MappingNode):
        return {str(_value(k)): _strip_secure(v, found=found) for k, v in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [_strip_secure(v, found=found) for v in node.value]
    return _value(node)


def _top_level_problems(doc: yaml.MappingNode, path: Path | str, project: ProjectInfo) -> list[str]:
    """A line for each top-level key that is not a stack file key, saying what it looks like."""
    lines: list[str] = []
    allowed = ", ".join(f"`{k}:`" for k in STACK_FILE_KEYS)
    for key, value in doc.value:
        name = str(_value(key))
        where = f"{path} (line {key.start_mark.line + 1})"
        if name in STACK_FILE_KEYS:
            if name == "environment" and isinstance(value, yaml.ScalarNode) and not _is_null(value):
                lines.append(
                    f"{where}: top-level `environment: {value.value}` imports Pulumi ESC environments (a "
                    f"list of names); a config key such as {project.name}:environment goes under `config:`"
                )
            continue
        if ":" in name or name in project.declared or f"{project.name}:{name}" in project.declared:
            lines.append(
                f"{where}: {name!r} is a config key at the top level of the stack file, where it is not "
                "read; indent it under `config:`"
            )
        elif difflib.get_close_matches(name, ["config"], n=1, cutoff=0.6):
            inner = [str(_value(k)) for k, _ in value.value] if isinstance(value, yaml.MappingNode) else []
            listed = f" The keys under it are not read: {', '.join(inner)}" if inner else ""
            lines.append(f"{where}: {name!r} is not a stack file key: did you mean `config:`?{listed}")
        else:
            lines.append(f"{where}: {name!r} is not a stack file key; the top level holds only {allowed}")
    return lines


def _shown(path: Path, root: Path) -> str:
    """``path`` as the messages name it: relative to the project, like the config errors' lines."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def load_stack(root: Path, stack: str) -> StackConfig:
    project = load_project(root)
    path = project.stack_config_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = sorted(p.name.split(".")[1] for p in project.stack_config_dir.glob("Pulumi.*.yaml"))
        raise StackFileError(
            f"{path}: no such stack file; stacks in this project: {', '.join(known) or 'none'}"
        )
    shown = _shown(path, project.root)
    doc = _compose(path, shown)
    if doc is None or _is_null(doc):
        doc = yaml.MappingNode("tag:yaml.org,2002:map", [])
    if not isinstance(doc, yaml.MappingNode):
        raise StackFileError(f"{shown}: expected a mapping with a `config:` key")
    problems = _duplicates(doc, shown) + _top_level_problems(doc, shown, project)
    raw: yaml.Node | None = next((v for k, v in doc.value if _value(k) == "config"), None)
    if raw is None or _is_null(raw):
        raw = yaml.MappingNode("tag:yaml.org,2002:map", [])
    if not isinstance(raw, yaml.MappingNode):
        raise StackFileError(*problems, f"{shown}: `config` must be a mapping of keys to values")

    values: dict[str, str] = {}
    secret_keys: list[str] = []
    for full, spec in project.declared.items():
        if "default" in spec:
            values[full] = _to_pulumi_string(spec["default"])
        elif "value" in spec:
            values[full] = _to_pulumi_string(spec["value"])
    written: dict[str, tuple[str, int]] = {}
    for key_node, node in raw.value:
        key = str(_value(key_node))
        full = key if ":" in key else f"{project.name}:{key}"
        line = key_node.start_mark.line + 1
        if full in written and written[full][0] != key:
            first, first_line = written[full]
            problems.append(
                f"{shown} (line {line}): {key!r} and {first!r} (line {first_line}) are the same key "
                f"{full}; write it once"
            )
        written.setdefault(full, (key, line))
        if _is_null(node):
            null = f"{node.value!r} is" if node.value else "nothing after the colon is"
            problems.append(
                f"{shown} (line {line}): {full}: has no value ({null} YAML for null); write the "
                "value (quoted if you mean that text), or delete the line to keep the default"
            )
            continue
        if isinstance(node, yaml.ScalarNode):
            values[full] = node.value  # the source text, as the Pulumi CLI hands a scalar to the program
            continue
        found = [False]
        values[full] = _to_pulumi_string(_strip_secure(node, found=found))
        if found[0]:
            secret_keys.append(full)
    if problems:
        raise StackFileError(*problems)
    return StackConfig(project=project, stack=stack, path=path, values=values, secret_keys=secret_keys)
