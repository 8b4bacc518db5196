"""Shared timing for the benchmarks: run a command N times, report the median, and a ratio against
a baseline command measured in the same run (so numbers from different machines compare)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"


def time_command(
    argv: Sequence[str], *, runs: int, env: dict[str, str] | None = None, ok_codes: tuple[int, ...] = (0,)
) -> list[float]:
    """Wall-clock seconds of each run; a run exiting outside ok_codes aborts the benchmark with its output."""
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(
            argv, cwd=REPO, env={**os.environ, **(env or {})}, capture_output=True, text=True
        )
        seconds.append(time.perf_counter() - start)
        if proc.returncode not in ok_codes:
            sys.exit(
                f"benchmark command failed ({proc.returncode}): {' '.join(argv)}\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
            )
    return seconds


def report(name: str, seconds: list[float], baseline_name: str, baseline: list[float]) -> dict[str, float]:
    median, base = statistics.median(seconds), statistics.median(baseline)
    print(
        f"{name}: median {median:.2f} s over {len(seconds)} runs (min {min(seconds):.2f}, max {max(seconds):.2f}); "
        f"baseline {baseline_name}: {base:.2f} s; ratio {median / base:.2f}x"
    )
    return {"median_s": median, "baseline_s": base, "ratio": median / base}
