"""Reading a Pulumi project and a stack's config file the way the Pulumi CLI does.

Project-level ``config:`` defaults in Pulumi.yaml come first, then ``<stackConfigDir>/Pulumi.<stack>.yaml``.
Values are handed to the program as Pulumi hands them: strings, with arrays and objects JSON-encoded.
``secure:`` values cannot be decrypted offline; they become placeholders and their keys are marked secret.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SECRET_PLACEHOLDER = "offline-secret-placeholder"


class StackFileError(Exception):
    """A project or stack file that cannot be read; the message names the file."""


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


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StackFileError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise StackFileError(
            f"{path} (line {line}): not UTF-8 text (byte {exc.object[exc.start]:#04x}); Pulumi reads "
            "project and stack files as UTF-8, so save it in that encoding"
        ) from None
    except OSError as exc:
        raise StackFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        return yaml.safe_load(text)
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        char = chr(exc.character) if isinstance(exc.character, int) else exc.character
        raise StackFileError(
            f"{path} (line {line}): not valid YAML: the character {char!r} is not allowed in a YAML file"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise StackFileError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None


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


def _strip_secure(value: Any, *, found: list[bool]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            found[0] = True
            return SECRET_PLACEHOLDER
        return {k: _strip_secure(v, found=found) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_secure(v, found=found) for v in value]
    return value


def load_stack(root: Path, stack: str) -> StackConfig:
    project = load_project(root)
    path = project.stack_config_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = sorted(p.name.split(".")[1] for p in project.stack_config_dir.glob("Pulumi.*.yaml"))
        raise StackFileError(
            f"{path}: no such stack file; stacks in this project: {', '.join(known) or 'none'}"
        )
    doc = _read_yaml(path) or {}
    if not isinstance(doc, dict):
        raise StackFileError(f"{path}: expected a mapping with a `config:` key")
    raw = doc.get("config") or {}
    if not isinstance(raw, dict):
        raise StackFileError(f"{path}: `config` must be a mapping of keys to values")

    values: dict[str, str] = {}
    secret_keys: list[str] = []
    for full, spec in project.declared.items():
        if "default" in spec:
            values[full] = _to_pulumi_string(spec["default"])
        elif "value" in spec:
            values[full] = _to_pulumi_string(spec["value"])
    for key, value in raw.items():
        full = key if ":" in str(key) else f"{project.name}:{key}"
        found = [False]
        plain = _strip_secure(value, found=found)
        values[full] = _to_pulumi_string(plain)
        if found[0]:
            secret_keys.append(full)
    return StackConfig(project=project, stack=stack, path=path, values=values, secret_keys=secret_keys)
