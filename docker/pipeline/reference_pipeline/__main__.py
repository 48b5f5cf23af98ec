"""Dispatch ``python -m reference_pipeline <step> --<input> VALUE ... --outputs-dir DIR``.

Only the chosen step's module is imported (prepare does not pay for importing MLflow)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from reference_pipeline.common import StepError

#: Step name -> module; each module has ``add_arguments(parser)`` and ``run(args) -> int``.
STEPS = {
    "prepare": "reference_pipeline.prepare",
    "train": "reference_pipeline.train",
    "evaluate": "reference_pipeline.evaluate",
    "register": "reference_pipeline.register",
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in STEPS:
        print(f"usage: python -m reference_pipeline {{{','.join(STEPS)}}} ...", file=sys.stderr)
        return 2
    module = importlib.import_module(STEPS[argv[0]])
    parser = argparse.ArgumentParser(prog=f"python -m reference_pipeline {argv[0]}")
    module.add_arguments(parser)
    parser.add_argument("--outputs-dir", required=True, help="one file per output parameter")
    args = parser.parse_args(argv[1:])
    try:
        return int(module.run(args))
    except StepError as err:
        print(f"{argv[0]}: {err}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
