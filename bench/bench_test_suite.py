"""Time the test suite as `make test` runs it (after set-up), against bare pytest start-up.

.venv/bin/python bench/bench_test_suite.py [--runs 3]
"""

from __future__ import annotations

import argparse

from timing import VENV_BIN, report, time_command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    python = str(VENV_BIN / "python")
    baseline = time_command([python, "-m", "pytest", "--version"], runs=args.runs)
    # The command `make test` runs (after set-up): one worker per core, a file per worker.
    suite = time_command(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "auto", "--dist", "loadfile"],
        runs=args.runs,
    )
    report("make test (pytest, whole suite)", suite, "pytest --version", baseline)


if __name__ == "__main__":
    main()
