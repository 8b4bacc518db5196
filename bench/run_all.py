"""`make bench`: every benchmark in bench/, each printing its median and its ratio to a baseline
measured in the same run. Pass --runs N to change the repetitions (default 3)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = (
    "bench_policy.py",
    "bench_emulator.py",
    "bench_artifacts.py",
    "bench_lambda.py",
    "bench_alb.py",
    "bench_bluegreen.py",
    "bench_notify.py",
    "bench_test_suite.py",
    "bench_localstack.py",
    "bench_localstack_deploy.py",
)


def main() -> int:
    failed = 0
    for script in SCRIPTS:
        print(f"== {script}", flush=True)
        failed |= subprocess.run(
            [sys.executable, str(BENCH / script), *sys.argv[1:]], cwd=BENCH.parent
        ).returncode
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
