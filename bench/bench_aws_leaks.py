"""Leak test of the aws target, rehearsed on the embedded AWS: N runs of the pipeline layer, each sent
SIGTERM after a different number of writes (the first bucket, mid-stack, mid-push, at the approval,
...), then every harness-tagged resource (and run-named log group) in the run's accounts is counted:
after the run's own teardown, and again after a sweep for whatever teardown left. Done when both
columns are 0 for every run.

    .venv/bin/python bench/bench_aws_leaks.py [--runs 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from gitops_harness.config import Accounts
from gitops_harness.emulator.testing import running_emulator
from gitops_harness.rehearsal import is_write, leftovers, requests, run_pipeline_layer, write_rehearsal_config


def kill_points(runs: int, total_writes: int) -> list[int | None]:
    """``runs`` distinct write counts spread over a whole run, the last run left to finish."""
    step = max(1, total_writes // max(1, runs - 1))
    points: list[int | None] = sorted({1 + i * step for i in range(runs - 1)})
    return [*points, None]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with running_emulator(time_scale=0.0167) as emulator, tempfile.TemporaryDirectory() as tmp:
        # a complete run first, to know how many writes a run makes
        full = write_rehearsal_config(
            Path(tmp) / "full", emulator.endpoint_url, Accounts("740000000001", "750000000001")
        )
        before = len(requests(emulator.endpoint_url))
        outcome = run_pipeline_layer(full, endpoint_url=emulator.endpoint_url)
        total = sum(
            1
            for e in requests(emulator.endpoint_url)[before:]
            if e["account"] in ("740000000001", "750000000001") and is_write(e)
        )
        print(f"a complete run: {total} writes, {outcome.seconds:.1f}s, exit {outcome.returncode}")
        print(
            f"{'run':>3} {'killed at write':>15} {'last step':<56} {'s':>5} {'after teardown':>14} {'after sweep':>11}"
        )
        worst = 0
        for number, point in enumerate(kill_points(args.runs, total), 1):
            accounts = Accounts(f"74{number:010d}", f"75{number:010d}")
            config = write_rehearsal_config(Path(tmp) / f"run{number}", emulator.endpoint_url, accounts)
            started = time.monotonic()
            outcome = run_pipeline_layer(config, endpoint_url=emulator.endpoint_url, kill_after_writes=point)
            after_teardown = leftovers(config)
            after_sweep = leftovers(config, sweep=True) if after_teardown else []
            worst = max(worst, len(after_sweep))
            killed = "-" if outcome.killed_at_write is None else str(outcome.killed_at_write)
            print(
                f"{number:>3} {killed:>15} {outcome.last_progress[:56]:<56} {time.monotonic() - started:5.1f} "
                f"{len(after_teardown):>14} {len(after_sweep):>11}",
                flush=True,
            )
            for item in after_teardown:
                print(f"      left after teardown: {item.kind} {item.name}")
        print("leaks after sweep:", worst)
        return 1 if worst else 0


if __name__ == "__main__":
    raise SystemExit(main())
