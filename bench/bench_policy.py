"""Time `gitops-harness policy fixtures/pipeline` against bare checkov startup, measured in the same run.

    python bench/bench_policy.py [--runs 3] [PATH ...]

Prints the median wall time of N runs of the policy gate, the median of N `checkov --version` runs
(the unavoidable cost of starting checkov) and their ratio.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from gitops_harness.policy.checkov_env import checkov_executable
from timing import REPO, report


def run_times(command: list[str], runs: int) -> list[float]:
    # Not timing.time_command: exit 1 (policy failures found) is still a complete, comparable run.
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if proc.returncode not in (0, 1):
            sys.exit(f"{' '.join(command)} exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("paths", nargs="*", default=["fixtures/pipeline"])
    args = parser.parse_args()
    checkov = checkov_executable()
    os.environ.setdefault("GITOPS_HARNESS_CHECKOV_VENV", str(checkov.parent.parent))
    baseline = run_times([str(checkov), "--version"], args.runs)
    with tempfile.TemporaryDirectory() as reports:
        gate = [sys.executable, "-m", "gitops_harness", "policy", *args.paths, "--output-dir", reports]
        policy = run_times(gate, args.runs)
    report(f"gitops-harness policy {' '.join(args.paths)}", policy, "checkov --version", baseline)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
