"""Time `gitops-harness policy fixtures/pipeline` against bare checkov startup, measured in the same run.

    python bench/bench_policy.py [--runs 3] [PATH ...]

Prints the median wall time of N runs of the policy gate, the median of N `checkov --version` runs
(the unavoidable cost of starting checkov) and their ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

from gitops_harness.policy.checkov_env import checkov_executable
from timing import report, time_command


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("paths", nargs="*", default=["fixtures/pipeline"])
    args = parser.parse_args()
    checkov = checkov_executable()
    os.environ.setdefault("GITOPS_HARNESS_CHECKOV_VENV", str(checkov.parent.parent))
    baseline = time_command([str(checkov), "--version"], runs=args.runs)
    with tempfile.TemporaryDirectory() as reports:
        gate = [sys.executable, "-m", "gitops_harness", "policy", *args.paths, "--output-dir", reports]
        # exit 1 (failures found) is still a complete, comparable run
        policy = time_command(gate, runs=args.runs, ok_codes=(0, 1))
    report(f"gitops-harness policy {' '.join(args.paths)}", policy, "checkov --version", baseline)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
