"""``mlops``: the platform's command line.

mlops plan STACK [--format text|json|urns] [--layer all|aws|cluster]
                                        render a stack offline and print its resource tree; `--layer aws
                                        --format urns` prints the phase-1 `pulumi up --target` list
mlops check STACK [--format text|json|sarif|junit] [--output FILE]
                                        run the policy pack over the stack offline (exit 1: mandatory)
mlops verify STACK [--format text|json|sarif|junit] [--output FILE] [--charts DIR]
                                        the rendered stack checked by the real tools (helm, schemas, IAM)
                                        (exit 1: findings; 2: could not run)
mlops schema [--check|--write]          keep Pulumi.yaml's typed config block in step with the schema
mlops policy-config [--check|--write]   keep policies/config/*.json and the rules table in step
mlops bootstrap --region R [--dry-run]  create the S3 state backend and the secrets KMS key (boto3)
mlops local [--port N] [--workers N]    the platform's MLflow with PostgreSQL and S3 on this machine
mlops pipeline run --local [-p NAME=VALUE ...] [--step-sources DIR]
                                        the reference pipeline's rendered WorkflowTemplate, its steps run as
                                        processes against that local platform (exit 1: a step failed)

plan, check and verify report a program that raises at its file:line; --traceback prints the whole traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from mlops_platform.mlops import REPO_ROOT

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE = 0, 1, 2


def _fail(lines: Sequence[str]) -> int:
    for line in lines:
        print(line, file=sys.stderr)
    return EXIT_USAGE


_OUTPUT_ALLOWED = "give a file path in an existing, writable directory"
_PACK_FILES = ("PulumiPolicy.yaml", "__main__.py")


def _output_problem(command: str, output: str) -> str | None:
    """Why the report cannot be written to ``output`` (None: it can), found before any analysis runs.

    The file is opened for appending, so a path only the kernel refuses (``/proc/...``, a read-only
    file system) is caught too, also as root; a file this probe created is removed again."""
    prefix = f"mlops {command}: --output {output!r}"
    if not output.strip():
        return f"{prefix}: empty; {_OUTPUT_ALLOWED}"
    path = Path(output)
    try:
        if path.is_dir():
            return f"{prefix}: is a directory; {_OUTPUT_ALLOWED}"
        ancestor = next((p for p in path.parents if p.exists()), Path("."))
        if not ancestor.is_dir():
            return f"{prefix}: {str(ancestor)!r} is a file, not a directory; {_OUTPUT_ALLOWED}"
        if ancestor != path.parent:
            return f"{prefix}: the directory {str(path.parent)!r} does not exist; {_OUTPUT_ALLOWED}"
        existed = path.exists() or path.is_symlink()
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as err:
        return f"{prefix}: cannot be created or written ({err.strerror or err}); {_OUTPUT_ALLOWED}"
    if not existed:
        path.unlink(missing_ok=True)
    return None


def _pack_problem(command: str, pack: str) -> str | None:
    """Why ``pack`` is not a policy pack directory (None: it is one)."""
    prefix = f"mlops {command}: --policy-pack {pack!r}"
    allowed = (
        "give a policy pack directory, one holding PulumiPolicy.yaml and __main__.py (leave --policy-pack "
        "out for the pack this package ships)"
    )
    path = Path(pack)
    if not path.exists():
        return f"{prefix}: no such directory; {allowed}"
    if not path.is_dir():
        return f"{prefix}: is a file, not a directory; {allowed}"
    missing = [name for name in _PACK_FILES if not (path / name).is_file()]
    if missing:
        return f"{prefix}: not a policy pack (no {' and no '.join(missing)}); {allowed}"
    return None


def _preflight(args: argparse.Namespace) -> list[str]:
    """Problems with the command line's paths, one line each, before anything is rendered or analysed."""
    problems = []
    output = getattr(args, "output", None)
    if output is not None:
        problems.append(_output_problem(args.command, output))
    pack = getattr(args, "policy_pack", None)
    if pack is not None:
        problems.append(_pack_problem(args.command, pack))
    return [p for p in problems if p]


def _write_report(command: str, output: str, text: str) -> str | None:
    """Write the report; the reason as one line if the file system refuses it after all (a full disk)."""
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as err:
        return f"mlops {command}: --output {output!r}: cannot be written ({err.strerror or err})"
    return None


def _render(stack: str, root: Path, *, show_traceback: bool = False):
    """Validate the stack's config, then run its program offline. Returns (graph, None) or (None, lines).

    A program that raises is reported on one line at its own file:line (``--traceback``: the whole
    traceback first, on stderr)."""
    import traceback

    from mlops_platform.components.platform.config import PROJECT, ConfigError, build
    from mlops_platform.mlops.engine import ProgramError, describe_failure, run_program
    from mlops_platform.mlops.stackconfig import StackFileError, load_stack

    try:
        config = load_stack(root, stack)
    except StackFileError as err:
        return None, [str(err)]
    if config.project.name == PROJECT:
        try:
            build(
                config.values,
                region=config.values.get("aws:region"),
                source=config.relpath,
                secret_keys=config.secret_keys,
                stack=stack,
            )
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
        if show_traceback:
            sys.stderr.write("".join(traceback.format_exception(err)))
        return None, [describe_failure(err, config)]


_TRACEBACK_HELP = (
    "when the program raises, print its whole traceback (default: one line at the program's file:line)"
)


def cmd_plan(args: argparse.Namespace) -> int:
    from mlops_platform.mlops.layers import restrict, targets
    from mlops_platform.mlops.render import render_tree

    if args.format == "urns" and args.layer != "aws":
        return _fail(["mlops plan: --format urns lists the phase-1 targets; it needs --layer aws"])
    graph, problems = _render(args.stack, Path(args.root), show_traceback=args.traceback)
    if graph is None:
        return _fail(problems or ["unknown error"])
    if args.format == "urns":
        print("\n".join(targets(graph)))
        return EXIT_OK
    graph = restrict(graph, args.layer)
    if args.format == "json":
        print(json.dumps(graph.to_json(), indent=2, sort_keys=False))
    else:
        print(render_tree(graph))
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from mlops_platform.mlops.analyzer import (
        AnalyzerError,
        analyze_with,
        engine_stack_tags,
        load_config,
        pack_process,
        pack_version,
    )
    from mlops_platform.mlops.report import render as render_report
    from mlops_platform.mlops.stackconfig import StackFileError, load_stack
    from mlops_platform.mlops.stackenv import StackEnvironmentError, stack_environment

    pack_dir = Path(args.policy_pack)
    # --config overrides; otherwise the stack's own environment (key or tags, docs/library.md) picks it.
    config_path = Path(args.config) if args.config else None
    try:
        policy_config = load_config(config_path) if config_path is not None else {}
    except AnalyzerError as err:
        return _fail([str(err)])
    try:
        stack_file = load_stack(Path(args.root), args.stack)
        stack_values, secret_keys = dict(stack_file.values), list(stack_file.secret_keys)
        stack_relpath: str | None = stack_file.relpath
        stack_tags: dict[str, str] | None = engine_stack_tags(stack_file)
    except StackFileError:
        stack_file, stack_values, secret_keys, stack_relpath, stack_tags = None, {}, [], None, None
    except AnalyzerError as err:
        return _fail([str(err)])
    try:
        # The pack boots while the stack renders; it is stopped whatever happens.
        with pack_process(pack_dir) as pack:
            graph, problems = _render(args.stack, Path(args.root), show_traceback=args.traceback)
            if graph is None or stack_file is None:
                return _fail(problems or ["unknown error"])
            if config_path is None:
                try:
                    config_path = pack_dir / "config" / f"{stack_environment(stack_file, graph)}.json"
                except StackEnvironmentError as err:
                    return _fail(err.problems)
                policy_config = load_config(config_path)
            result = analyze_with(
                pack.connect(),
                graph,
                config=policy_config,
                config_source=str(config_path),
                stack_config=stack_values,
                secret_keys=secret_keys,
                stack_tags=stack_tags,
            )
        result.pack_version = pack_version(pack_dir) or result.pack_version
        result.stack_file = stack_relpath
    except AnalyzerError as err:
        return _fail([str(err)])
    text = render_report(result, args.format)
    if args.output:
        if problem := _write_report("check", args.output, text):
            return _fail([problem])
        print(
            f"wrote {args.output}: {len(result.mandatory)} mandatory, {len(result.advisory)} advisory "
            f"violation(s)",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(text)
    return EXIT_VIOLATIONS if result.mandatory else EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from mlops_platform.mlops.verify import helm as helm_layer
    from mlops_platform.mlops.verify.report import render as render_report
    from mlops_platform.mlops.verify.runner import LAYERS, verify

    try:
        helm = helm_layer.find_helm()
    except helm_layer.VerifyError as err:
        return _fail([f"mlops verify: {err}"])
    graph, problems = _render(args.stack, Path(args.root), show_traceback=args.traceback)
    if graph is None:
        return _fail(problems or ["unknown error"])
    try:
        result = verify(graph, args.stack, charts_dir=args.charts, helm=helm, layers=args.layers or LAYERS)
    except helm_layer.VerifyError as err:
        return _fail([f"mlops verify: {err}"])
    text = render_report(result, args.format)
    if args.output:
        if problem := _write_report("verify", args.output, text):
            return _fail([problem])
        print(
            f"wrote {args.output}: {len(result.findings)} finding(s), {len(result.accepted)} accepted",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(text)
    if result.incomplete:
        for finding in result.incomplete:
            where = finding.source or result.stack_file or args.stack
            print(f"mlops verify: could not verify: {where}: {finding.message}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_VIOLATIONS if result.findings else EXIT_OK


def cmd_policy_config(args: argparse.Namespace) -> int:
    from mlops_platform.mlops import policytools

    root = Path(args.root)
    if args.write:
        for path in policytools.write(root):
            print(f"wrote {path}")
        return EXIT_OK
    stale = policytools.stale(root)
    if stale:
        return _fail([f"{p}: stale; run `mlops policy-config --write`" for p in stale])
    print("policy configs, rules table and taggable types are up to date with the catalogue")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from mlops_platform.mlops import schema

    root = Path(args.root)
    if args.write:
        schema.write(root)
        print(f"wrote {root / 'Pulumi.yaml'}")
        return EXIT_OK
    if args.check:
        if schema.check(root):
            print("Pulumi.yaml is up to date with components/platform/settings.py")
            return EXIT_OK
        return _fail(["Pulumi.yaml: config block is stale; run `mlops schema --write`"])
    print(schema.render(), end="")
    return EXIT_OK


def cmd_bootstrap(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError

    from mlops_platform.mlops.bootstrap import BootstrapError, Bootstrapper, format_report

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


def cmd_local(args: argparse.Namespace) -> int:
    from mlops_platform.mlops.local import run

    return run(port=args.port, workers=args.workers)


def cmd_pipeline(args: argparse.Namespace) -> int:
    if not args.local:
        return _fail(
            [
                "mlops pipeline run: only --local runs here; submit to the cluster with "
                "`argo submit --from workflowtemplate/reference-training` (docs/pipelines.md)"
            ]
        )
    from mlops_platform.mlops.local.command import missing_extra
    from mlops_platform.mlops.local.pipeline import PipelineRunError, parse_parameters, run_local

    missing = missing_extra()
    if missing is not None:
        return _fail([f"mlops pipeline run --local needs {missing}: install the e2e extra (`make venv`)"])
    try:
        parameters = parse_parameters(args.parameters or [])
    except PipelineRunError as err:
        return _fail([f"mlops pipeline run: {err}"])
    return run_local(parameters, step_sources=Path(args.step_sources))


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
    plan.add_argument(
        "--format",
        choices=["text", "json", "urns"],
        default="text",
        help="urns (with --layer aws): one engine URN a line, the `pulumi up --target` list of phase 1",
    )
    plan.add_argument(
        "--layer",
        choices=["all", "aws", "cluster"],
        default="all",
        help="aws: what phase 1 creates from outside the VPC; cluster: what only the in-VPC runner can create",
    )
    plan.add_argument("--traceback", action="store_true", help=_TRACEBACK_HELP)
    plan.set_defaults(func=cmd_plan)

    check = sub.add_parser("check", help="run the policy pack over a stack offline (analyzer protocol)")
    check.add_argument(
        "stack", help="stack name: Pulumi.<stack>.yaml in the project's stack config directory"
    )
    check.add_argument("--format", choices=["text", "json", "sarif", "junit"], default="text")
    check.add_argument("--output", help="write the report to FILE instead of stdout")
    check.add_argument(
        "--config",
        help="policy pack config (default: <policy-pack>/config/<environment>.json, the environment from the "
        "stack's <project>:environment key or `environment` tag, the strictest if they differ)",
    )
    check.add_argument("--policy-pack", default=str(REPO_ROOT / "policies"), help="the policy pack directory")
    check.add_argument("--traceback", action="store_true", help=_TRACEBACK_HELP)
    check.set_defaults(func=cmd_check)

    verify = sub.add_parser(
        "verify",
        help="check the rendered stack with the real tools: helm, Kubernetes/CRD schemas, API rules, IAM",
    )
    verify.add_argument("stack", help="stack name: dev, staging or prod (stacks/Pulumi.<stack>.yaml)")
    verify.add_argument("--format", choices=["text", "json", "sarif", "junit"], default="text")
    verify.add_argument("--output", help="write the report to FILE instead of stdout")
    verify.add_argument(
        "--charts",
        help="directory of unpacked charts, <DIR>/<chart>-<version> (default: $MLOPS_CHARTS, else helm pull "
        "into ~/.cache/mlops/charts)",
    )
    verify.add_argument(
        "--root", default=argparse.SUPPRESS, help="the Pulumi project directory (default: this repo)"
    )
    verify.add_argument(
        "--layer",
        dest="layers",
        action="append",
        metavar="MODULE",
        help="run only this layer module after helm (repeatable; default: every layer)",
    )
    verify.add_argument("--traceback", action="store_true", help=_TRACEBACK_HELP)
    verify.set_defaults(func=cmd_verify)

    pconf = sub.add_parser(
        "policy-config", help="check or rewrite the files generated from the rule catalogue"
    )
    pgroup = pconf.add_mutually_exclusive_group()
    pgroup.add_argument("--check", action="store_true")
    pgroup.add_argument("--write", action="store_true")
    pconf.set_defaults(func=cmd_policy_config)

    schema = sub.add_parser("schema", help="print, check or rewrite Pulumi.yaml from the config schema")
    group = schema.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true")
    group.add_argument("--write", action="store_true")
    schema.set_defaults(func=cmd_schema)

    from mlops_platform.mlops.bootstrap import (
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

    local = sub.add_parser(
        "local",
        help="run the platform's MLflow server with PostgreSQL (TLS) and S3 (moto) here, until Ctrl-C",
    )
    local.add_argument("--port", type=int, default=5000, help="MLflow's port on 127.0.0.1 (0: any free port)")
    local.add_argument("--workers", type=int, default=2, help="MLflow worker processes")
    local.set_defaults(func=cmd_local)

    pipeline = sub.add_parser("pipeline", help="the reference training pipeline (docs/pipelines.md)")
    pipeline_sub = pipeline.add_subparsers(dest="pipeline_command", required=True)
    prun = pipeline_sub.add_parser(
        "run", help="run the rendered WorkflowTemplate's steps as processes against the local platform"
    )
    prun.add_argument(
        "--local", action="store_true", help="against `mlops local`'s MLflow, PostgreSQL and S3 (required)"
    )
    prun.add_argument(
        "-p",
        "--parameter",
        dest="parameters",
        action="append",
        metavar="NAME=VALUE",
        help="override a workflow parameter, as `argo submit -p` does (repeatable)",
    )
    prun.add_argument(
        "--step-sources",
        default=str(REPO_ROOT / "docker" / "pipeline"),
        help="the directory the step image copies its step package from (default: this repo's docker/pipeline)",
    )
    prun.set_defaults(func=cmd_pipeline)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    problems = _preflight(args)
    if problems:
        return _fail(problems)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
