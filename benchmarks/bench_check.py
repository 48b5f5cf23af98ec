"""Benchmark of the offline policy check.

    .venv/bin/python benchmarks/bench_check.py [--sizes 1000,5000,10000]

Times ``mlops check prod`` end to end (a fresh process: render, start the pack, analyze, report) and the
evaluation of N synthetic resources through the analyzer protocol (the pack already started), and prints
the figures and the cost per resource to show it is linear.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "support"))  # the policy test kit

from policytest import POLICY_PACK, Checker  # noqa: E402

from mlops_platform.mlops.analyzer import pack_process  # noqa: E402
from mlops_platform.mlops.graph import Graph  # noqa: E402


def synthetic(n: int) -> Graph:
    """``n`` resources: the compliant baseline stack repeated with unique names (every rule has work)."""
    from policybaseline import baseline

    base = baseline("prod")
    resources = []
    copies = 0
    while len(resources) < n:
        for r in base.resources:
            if len(resources) >= n:
                break
            if r.type.startswith("pulumi:providers:") and copies:
                continue
            clone = type(r)(**{**r.__dict__})
            if copies and not r.type.startswith("pulumi:providers:"):
                clone.urn = f"{r.urn}-{copies}"
                clone.name = f"{r.name}-{copies}"
                clone.property_dependencies = {
                    k: [f"{u}-{copies}" if "providers" not in u else u for u in v]
                    for k, v in r.property_dependencies.items()
                }
            resources.append(clone)
        copies += 1
    return Graph(project=base.project, stack=base.stack, resources=resources)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_cli(stack: str, runs: int) -> list[tuple[float, float]]:
    """(wall, CPU of the CLI and its pack process) per run."""
    times = []
    for _ in range(runs):
        cpu = _children_cpu()
        t = time.perf_counter()
        proc = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "mlops"), "check", stack, "--format", "json"],
            capture_output=True,
            check=False,
        )
        times.append((time.perf_counter() - t, _children_cpu() - cpu))
        if proc.returncode not in (0, 1):
            raise SystemExit(proc.stderr.decode())
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,5000,10000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    print(
        f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (wall times include waiting)"
    )
    cli = time_cli("prod", args.runs)
    best = min(cli)
    print(
        f"mlops check prod (end to end, {args.runs} runs): best wall {best[0]:.2f} s (CPU {best[1]:.2f} s), "
        f"worst wall {max(c[0] for c in cli):.2f} s"
    )

    with pack_process(POLICY_PACK) as pack:
        checker = Checker(pack.connect())
        checker.run(synthetic(100), "prod")  # warm-up
        for n in [int(s) for s in args.sizes.split(",")]:
            graph = synthetic(n)
            cpu0, pack0 = time.process_time(), _process_cpu(pack.proc.pid)
            t = time.perf_counter()
            result = checker.run(graph, "prod")
            elapsed = time.perf_counter() - t
            cpu = time.process_time() - cpu0 + _process_cpu(pack.proc.pid) - pack0
            print(
                f"{n:>6} synthetic resources: wall {elapsed:6.2f} s, CPU {cpu:6.2f} s "
                f"({elapsed / n * 1e3:.3f} ms/resource wall, {len(result.violations)} violations, "
                f"{len(result.policies)} policies)"
            )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
