"""Benchmark of ``mlops verify``.

    .venv/bin/python benchmarks/bench_verify.py [--stack prod] [--runs 3] [--charts ../shared/charts]
                                                [--layer MODULE ...]

Times ``mlops verify STACK`` end to end (a fresh process: render the stack offline, find helm, render every
Helm release twice, run every layer, report) and prints the wall and CPU time of each run and the seconds
of each layer from the JSON report. Target: prod in <= 20 s on the project's 2-core CI machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(stack: str, charts: str | None, layers: list[str]) -> tuple[float, float, dict]:
    mlops = ROOT / ".venv" / "bin" / "mlops"
    command = [str(mlops) if mlops.exists() else sys.executable, "verify", stack, "--format", "json"]
    if not mlops.exists():
        command[1:1] = ["-m", "mlops_platform.mlops.cli"]
    if charts:
        command += ["--charts", charts]
    for layer in layers:
        command += ["--layer", layer]
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"mlops verify {stack} exited {done.returncode}:\n{done.stderr}")
    return wall, _children_cpu() - cpu, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--charts", default=os.environ.get("MLOPS_CHARTS") or str(ROOT.parent / "shared" / "charts")
    )
    parser.add_argument("--layer", action="append", default=[], help="only these layers after helm")
    args = parser.parse_args()

    print(
        f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (wall times include waiting)"
    )
    runs = [run_once(args.stack, args.charts, args.layer) for _ in range(args.runs)]
    best = min(runs, key=lambda r: r[0])
    for i, (wall, cpu, report) in enumerate(runs, 1):
        layers = report["summary"]["layers"]
        per_layer = ", ".join(f"{name} {layer['seconds']:.2f} s" for name, layer in layers.items())
        print(
            f"run {i}: wall {wall:.2f} s, CPU {cpu:.2f} s; {report['summary']['releases']} releases, "
            f"{report['summary']['findings']} finding(s); layers: {per_layer}"
        )
    print(
        f"mlops verify {args.stack} (end to end, {args.runs} runs): best wall {best[0]:.2f} s "
        f"(CPU {best[1]:.2f} s), worst wall {max(r[0] for r in runs):.2f} s; target <= 20 s"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
