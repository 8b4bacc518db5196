"""Leak test of the aws target, rehearsed on the embedded AWS: N runs of the pipeline layer, each sent
SIGTERM at a different moment (spread from the first second to the end of a complete run: while the
code bucket is made, mid-stack, mid-push, at the approval, during teardown), then every harness-tagged
resource (and run-named log group) in the run's accounts is counted: after the run's own teardown, and
again after a sweep for whatever teardown left. Done when the last column is 0 for every run.

    .venv/bin/python bench/bench_aws_leaks.py [--runs 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from gitops_harness.config import Accounts
from gitops_harness.emulator.testing import running_emulator
from gitops_harness.rehearsal import leftovers, run_pipeline_layer, write_rehearsal_config


def kill_points(runs: int, seconds: float) -> list[float | None]:
    """``runs - 1`` moments spread over a run's writing time (from its first write to its exit), then
    one run left to finish. Time, not write
    counts: the accounts' writes include the emulator's own control planes, which go on writing after
    the run has moved on, so a count says little about the run's step."""
    count = max(1, runs - 1)
    return [*(i * 0.95 * seconds / count for i in range(count)), None]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with running_emulator(time_scale=0.0167) as emulator, tempfile.TemporaryDirectory() as tmp:
        # Complete runs watched from their first write (kill_after_seconds far beyond the end): the
        # shortest warm one (the first pays for moto's CloudFormation loading) says how long a run
        # writes; kill moments are spread over it, and every run that still ends unkilled shortens it.
        writing = float("inf")
        for number in range(3):
            full = write_rehearsal_config(
                Path(tmp) / f"full{number}",
                emulator.endpoint_url,
                Accounts(f"74000000009{number}", f"75000000009{number}"),
            )
            complete = run_pipeline_layer(full, endpoint_url=emulator.endpoint_url, kill_after_seconds=3600)
            if number:
                writing = min(writing, complete.seconds - (complete.first_write_seconds or 0.0))
            print(
                f"a complete run: {complete.seconds:.1f}s ({complete.seconds - (complete.first_write_seconds or 0):.1f}s "
                f"from its first write), exit {complete.returncode}, left {len(leftovers(full))}",
                flush=True,
            )
        print(
            f"{'run':>3} {'kill at s after 1st write':>25} {'writes':>6} {'step when killed':<52} {'s':>5} {'after teardown':>14} "
            f"{'after sweep':>11}"
        )
        worst, killed, steps = 0, 0, set()
        fractions = [None if p is None else p / writing for p in kill_points(args.runs, writing)]
        for number, fraction in enumerate(fractions, 1):
            point = None if fraction is None else fraction * writing
            accounts = Accounts(f"74{number:010d}", f"75{number:010d}")
            config = write_rehearsal_config(Path(tmp) / f"run{number}", emulator.endpoint_url, accounts)
            started = time.monotonic()
            outcome = run_pipeline_layer(config, endpoint_url=emulator.endpoint_url, kill_after_seconds=point)
            after_teardown = leftovers(config)
            after_sweep = leftovers(config, sweep=True) if after_teardown else []
            worst = max(worst, len(after_sweep))
            at = "-" if point is None else f"{point:.1f}"
            writes = "-" if outcome.killed_at_write is None else str(outcome.killed_at_write)
            print(
                f"{number:>3} {at:>25} {writes:>6} {outcome.step[:52]:<52} "
                f"{time.monotonic() - started:5.1f} {len(after_teardown):>14} {len(after_sweep):>11}",
                flush=True,
            )
            if outcome.killed_at_write is not None:
                killed += 1
                steps.add(
                    outcome.step.split(":")[0].split(" ")[0]
                    if outcome.step.startswith("execution")
                    else outcome.step
                )
            if point is not None and outcome.killed_at_write is None and outcome.first_write_seconds:
                writing = min(writing, outcome.seconds - outcome.first_write_seconds)
            for item in after_teardown:
                print(f"      left after teardown: {item.kind} {item.name}")
        print(
            f"{killed} of {len(fractions)} runs killed mid-way, in {len(steps)} different steps: {sorted(steps)}"
        )
        print("tagged resources left after teardown or sweep:", worst)
        return 1 if worst else 0


if __name__ == "__main__":
    raise SystemExit(main())
