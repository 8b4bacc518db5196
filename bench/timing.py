"""Shared timing for the benchmarks: run a command N times, report the median, and a ratio against
a baseline command measured in the same run (so numbers from different machines compare)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


@contextmanager
def reference_pipeline(needs: set[str], bench: str) -> Iterator[tuple[Any, Any, Any] | None]:
    """The reference stacks deployed on the embedded target and a pipeline handle: (target, stacks,
    pipeline), or None (said once) when the target lacks one of `needs`. Torn down afterwards."""
    import tempfile

    from gitops_harness.config import load_config
    from gitops_harness.pipeline import PipelineUnderTest
    from gitops_harness.stacks import deploy, teardown
    from gitops_harness.targets import make_target

    config = load_config(REPO / "harness.yaml")
    with make_target(config, "embedded") as target, tempfile.TemporaryDirectory() as tmp:
        missing = target.missing(needs)
        if missing:
            print(f"{bench}: skipped, the embedded target lacks {', '.join(sorted(missing))}")
            yield None
            return
        stacks = deploy(target, config)
        pipeline = PipelineUnderTest.connect(target, config, stacks, Path(tmp))
        try:
            yield target, stacks, pipeline
        finally:
            pipeline.stop_running_executions("bench over")
            pipeline.close()
            teardown(target, stacks)
