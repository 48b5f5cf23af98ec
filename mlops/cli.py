"""``mlops``: the platform's command line.

    mlops plan STACK [--format text|json]   render a stack offline and print its resource tree
    mlops schema [--check|--write]          keep Pulumi.yaml's typed config block in step with the schema
    mlops local [--port N] [--workers N]    the platform's MLflow with PostgreSQL and S3 on this machine
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from mlops import REPO_ROOT

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE = 0, 1, 2


def _fail(lines: Sequence[str]) -> int:
    for line in lines:
        print(line, file=sys.stderr)
    return EXIT_USAGE


def _render(stack: str, root: Path):
    """Validate the stack's config, then run its program offline. Returns (graph, None) or (None, lines)."""
    from components.config import PROJECT, ConfigError, build
    from mlops.engine import ProgramError, run_program
    from mlops.stackconfig import StackFileError, load_stack

    try:
        config = load_stack(root, stack)
    except StackFileError as err:
        return None, [str(err)]
    if config.project.name == PROJECT:
        try:
            build(config.values, region=config.values.get("aws:region"), source=config.relpath)
        except ConfigError as err:
            return None, err.lines()
    try:
        return run_program(config, root=root), None
    except ConfigError as err:
        return None, err.lines()
    except ProgramError as err:
        return None, [str(err)]
    except Exception as err:  # noqa: BLE001 - a failing program is reported, not dumped
        cause = err.__cause__
        if isinstance(cause, ConfigError):
            return None, cause.lines()
        return None, [f"{config.relpath}: the program failed offline: {type(err).__name__}: {err}"]


def cmd_plan(args: argparse.Namespace) -> int:
    from mlops.render import render_tree

    graph, problems = _render(args.stack, Path(args.root))
    if graph is None:
        return _fail(problems or ["unknown error"])
    if args.format == "json":
        print(json.dumps(graph.to_json(), indent=2, sort_keys=False))
    else:
        print(render_tree(graph))
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from mlops import schema

    root = Path(args.root)
    if args.write:
        schema.write(root)
        print(f"wrote {root / 'Pulumi.yaml'}")
        return EXIT_OK
    if args.check:
        if schema.check(root):
            print("Pulumi.yaml is up to date with components/config.py")
            return EXIT_OK
        return _fail(["Pulumi.yaml: config block is stale; run `mlops schema --write`"])
    print(schema.render(), end="")
    return EXIT_OK


def cmd_local(args: argparse.Namespace) -> int:
    from mlops.local import run

    return run(port=args.port, workers=args.workers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlops", description="mlops-platform: offline plan, checks and tools")
    parser.add_argument("--root", default=str(REPO_ROOT), help="the Pulumi project directory (default: this repo)")
    sub = parser.add_subparsers(dest="command", required=True)

    plan = sub.add_parser("plan", help="render a stack offline and print its resource tree")
    plan.add_argument("stack", help="stack name: dev, staging or prod (stacks/Pulumi.<stack>.yaml)")
    plan.add_argument("--format", choices=["text", "json"], default="text")
    plan.set_defaults(func=cmd_plan)

    schema = sub.add_parser("schema", help="print, check or rewrite Pulumi.yaml from the config schema")
    group = schema.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true")
    group.add_argument("--write", action="store_true")
    schema.set_defaults(func=cmd_schema)

    local = sub.add_parser(
        "local",
        help="run the platform's MLflow server with PostgreSQL (TLS) and S3 (moto) here, until Ctrl-C",
    )
    local.add_argument("--port", type=int, default=5000, help="MLflow's port on 127.0.0.1 (0: any free port)")
    local.add_argument("--workers", type=int, default=2, help="MLflow worker processes")
    local.set_defaults(func=cmd_local)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
