"""Time `gitops-harness policy` against what a user would otherwise run by hand on the same templates:
checkov with the custom checks, then cfn-lint — both timed in the same run.

    python bench/bench_policy.py [--runs 3] [PATH ...]

Prints the median wall time of N runs of the policy gate, the median of N runs of the by-hand
sequence (checkov --external-checks-dir policies, then cfn-lint, each a fresh process as a person
would type them) and their ratio. The gate runs the two tools side by side, so it should take
clearly less than their sum.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
from pathlib import Path

from gitops_harness.policy.checkov_env import checkov_executable
from gitops_harness.policy.checkov_scan import OFFLINE_ENV
from gitops_harness.policy.templates import discover_templates
from timing import REPO, report, time_command

CFN_LINT_EXIT_CODES = tuple(range(0, 16, 2))  # bit flags: 2 errors, 4 warnings, 8 informational


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("paths", nargs="*", default=["fixtures/pipeline"])
    args = parser.parse_args()
    checkov = checkov_executable()
    os.environ.setdefault("GITOPS_HARNESS_CHECKOV_VENV", str(checkov.parent.parent))
    os.chdir(REPO)
    templates = [str(t) for t in discover_templates(args.paths).templates]
    cfn_lint = str(Path(sys.executable).with_name("cfn-lint"))
    by_hand_checkov = [str(checkov), "--framework", "cloudformation", "--external-checks-dir", "policies"]
    by_hand_checkov += [a for t in templates for a in ("--file", t)] + ["--compact", "--skip-download"]
    by_hand: list[float] = []
    gate: list[float] = []
    cpu = {"gate": 0.0, "by hand": 0.0}  # CPU seconds of the processes (and checkov under the gate)
    with tempfile.TemporaryDirectory() as reports:
        command = [sys.executable, "-m", "gitops_harness", "policy", *args.paths, "--output-dir", reports]
        for _ in range(args.runs):  # interleaved, so load on the shared machine hits both alike
            before = _children_cpu()
            checkov_s = time_command(by_hand_checkov, runs=1, env=OFFLINE_ENV, ok_codes=(0, 1))[0]
            lint_s = time_command([cfn_lint, *templates], runs=1, ok_codes=CFN_LINT_EXIT_CODES)[0]
            by_hand.append(checkov_s + lint_s)
            middle = _children_cpu()
            # exit 1 (failures found) is still a complete, comparable run
            gate += time_command(command, runs=1, ok_codes=(0, 1))
            cpu["by hand"] += middle - before
            cpu["gate"] += _children_cpu() - middle
    report(
        f"gitops-harness policy {' '.join(args.paths)}",
        gate,
        "checkov (custom checks) then cfn-lint, by hand",
        by_hand,
    )
    # On a loaded machine side by side cannot beat one after the other; CPU shows the work each does.
    print(
        f"CPU per run: gate {cpu['gate'] / args.runs:.2f} s, by hand {cpu['by hand'] / args.runs:.2f} s; "
        f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    return 0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    raise SystemExit(main())
