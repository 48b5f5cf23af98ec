"""``mlops``: the platform's command line.

mlops plan STACK [--format text|json]   render a stack offline and print its resource tree
mlops schema [--check|--write]          keep Pulumi.yaml's typed config block in step with the schema
mlops bootstrap --region R [--dry-run]  create the S3 state backend and the secrets KMS key (boto3)
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


def cmd_bootstrap(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError

    from mlops.bootstrap import BootstrapError, Bootstrapper, format_report

    session = boto3.Session(profile_name=args.profile) if args.profile else boto3.Session()
    region = args.region or session.region_name
    if not region:
        return _fail(["mlops bootstrap: no region; pass --region or set AWS_REGION"])
    environments = [e.strip() for e in args.environments.split(",") if e.strip()]
    try:
        report = Bootstrapper(
            session,
            region=region,
            bucket=args.bucket,
            key_alias=args.key_alias,
            noncurrent_days=args.noncurrent_days,
        ).run(dry_run=args.dry_run)
    except BootstrapError as err:
        return _fail([f"mlops bootstrap: {err}"])
    except BotoCoreError as err:  # no credentials, no network...
        return _fail([f"mlops bootstrap: {err}"])
    lines = format_report(report, org=args.org, environments=environments)
    print("\n".join(lines), file=sys.stdout if report.ok else sys.stderr)
    return EXIT_OK if report.ok else EXIT_VIOLATIONS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops", description="mlops-platform: offline plan, checks and tools"
    )
    parser.add_argument(
        "--root", default=str(REPO_ROOT), help="the Pulumi project directory (default: this repo)"
    )
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

    from mlops.bootstrap import (
        DEFAULT_ENVIRONMENTS,
        DEFAULT_KEY_ALIAS,
        DEFAULT_NONCURRENT_DAYS,
        DIY_ORGANIZATION,
    )

    boot = sub.add_parser(
        "bootstrap",
        help="create (idempotently) the S3 state bucket and the KMS key for the awskms:// secrets provider",
    )
    boot.add_argument("--region", help="AWS region (default: the AWS profile's or AWS_REGION)")
    boot.add_argument("--profile", help="AWS named profile (default: the standard credential chain)")
    boot.add_argument("--bucket", help="state bucket name (default: <account>-<region>-pulumi-state)")
    boot.add_argument(
        "--key-alias", default=DEFAULT_KEY_ALIAS, help=f"KMS key alias (default: {DEFAULT_KEY_ALIAS})"
    )
    boot.add_argument(
        "--noncurrent-days",
        type=int,
        default=DEFAULT_NONCURRENT_DAYS,
        help=f"days to keep noncurrent state versions (default: {DEFAULT_NONCURRENT_DAYS})",
    )
    boot.add_argument(
        "--org",
        default=DIY_ORGANIZATION,
        help="organization in the printed stack names (S3 backend: organization)",
    )
    boot.add_argument(
        "--environments",
        default=",".join(DEFAULT_ENVIRONMENTS),
        help="comma-separated stacks to print `pulumi stack init` lines for",
    )
    boot.add_argument("--dry-run", action="store_true", help="show what would be created; change nothing")
    boot.set_defaults(func=cmd_bootstrap)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
