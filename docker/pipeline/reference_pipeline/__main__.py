"""Dispatch ``python -m reference_pipeline <step> --<input> VALUE ... --outputs-dir DIR``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from reference_pipeline import evaluate, prepare, register, train
from reference_pipeline.common import StepError

STEPS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {
    "prepare": (prepare.add_arguments, prepare.run),
    "train": (train.add_arguments, train.run),
    "evaluate": (evaluate.add_arguments, evaluate.run),
    "register": (register.add_arguments, register.run),
}


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m reference_pipeline")
    sub = root.add_subparsers(dest="step", required=True)
    for name, (add_arguments, run) in STEPS.items():
        step = sub.add_parser(name)
        add_arguments(step)
        step.add_argument("--outputs-dir", required=True, help="one file per output parameter")
        step.set_defaults(run=run)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except StepError as err:
        print(f"{args.step}: {err}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
