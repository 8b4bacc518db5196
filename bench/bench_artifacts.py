"""validate-artifacts' speed, medians with a baseline measured in the same run:

- static checks on one directory after import (fixtures/app against the reference pipeline template),
  each run parsing every buildspec command afresh (baseline: the same call without the buildspec, so the
  taskdef/appspec/imageDetail rules alone);
- `validate-artifacts --build fixtures/app`, wall time of the whole command (baseline: the same command
  without --build).

    .venv/bin/python bench/bench_artifacts.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from gitops_harness.artifacts.shell_commands import parse_command
from gitops_harness.artifacts.validate import validate_files
from gitops_harness.cfn_template import load_template
from timing import REPO, report, time_command

APP = REPO / "fixtures" / "app"
TEMPLATE = REPO / "fixtures" / "pipeline" / "pipeline-account.yaml"


def static(repeats: int = 50) -> None:
    template = load_template(TEMPLATE)
    files = {p.name: p.read_bytes() for p in APP.iterdir() if p.is_file()}
    without = {k: v for k, v in files.items() if k != "buildspec.yml"}
    validate_files(files, template)  # imports, botocore's model

    def timed(members: dict[str, bytes]) -> list[float]:
        out = []
        for _ in range(repeats):
            parse_command.cache_clear()
            start = time.perf_counter()
            validate_files(members, template, build_output=False)
            out.append(time.perf_counter() - start)
        return out

    with_buildspec, baseline = timed(files), timed(without)
    print(
        f"static checks on fixtures/app: median {statistics.median(with_buildspec) * 1000:.1f} ms over {repeats} "
        f"runs; baseline without the buildspec: {statistics.median(baseline) * 1000:.1f} ms"
    )


def build(runs: int) -> None:
    command = [sys.executable, "-m", "gitops_harness", "validate-artifacts", str(APP)]
    report(
        "validate-artifacts --build fixtures/app (wall time)",
        time_command([*command, "--build"], runs=runs),
        "without --build",
        time_command(command, runs=runs),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    static()
    build(args.runs)


if __name__ == "__main__":
    main()
