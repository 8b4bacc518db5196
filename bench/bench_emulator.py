"""The embedded AWS's speed, medians of repeated runs with a baseline measured in the same run:

- cold start: `gitops-harness emulator --port P` until /_localstack/health answers
  (baseline: the bare interpreter starting);
- deploy: both reference stacks through CreateStack, then teardown (baseline: a one-bucket stack);
- push -> approval pending: a commit through the GitLab mirror until the execution waits at the
  manual approval (baseline: push -> execution started, i.e. the trigger alone).

    .venv/bin/python bench/bench_emulator.py [--runs 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from gitops_harness.config import load_config
from gitops_harness.pipeline import PipelineUnderTest
from gitops_harness.stacks import StackSpec, deploy, deploy_stacks, teardown
from gitops_harness.targets import make_target
from gitops_harness.waiting import wait_until
from timing import REPO, report

ONE_BUCKET = '{"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}'


def cold_start(runs: int) -> None:
    def start_once() -> float:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "gitops_harness", "emulator", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=REPO,
        )
        try:
            endpoint = wait_until(
                lambda: _endpoint_line(proc), timeout=60, describe_expected="the endpoint line", interval=0.01
            )
            wait_until(
                lambda: _healthy(endpoint), timeout=60, describe_expected="a health answer", interval=0.01
            )
            return time.perf_counter() - started
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    def interpreter() -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        return time.perf_counter() - started

    report(
        "emulator cold start (process start -> health answers)",
        [start_once() for _ in range(runs)],
        "python -c pass",
        [interpreter() for _ in range(runs)],
    )


def _endpoint_line(proc: subprocess.Popen) -> str | None:
    line = proc.stdout.readline() if proc.stdout else ""
    return line.split("endpoint:", 1)[1].strip() if "endpoint:" in line else None


def _healthy(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/_localstack/health", timeout=2) as answer:  # noqa: S310
            return answer.status == 200
    except OSError:
        return False


def deploy_and_pipeline(runs: int) -> None:
    config = load_config(REPO / "harness.yaml")
    deploys, small, pushes, triggers = [], [], [], []
    with make_target(config) as target:
        for run in range(runs):
            spec = StackSpec(
                key="bench", name=f"bench-one-bucket-{run}", account="pipeline", template=ONE_BUCKET
            )
            started = time.perf_counter()
            deploy_stacks(target, [spec])
            small.append(time.perf_counter() - started)
            teardown(target, [spec], force=True)

            started = time.perf_counter()
            deployment = deploy(target, config)
            deploys.append(time.perf_counter() - started)
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    pipeline = PipelineUnderTest.connect(target, config, deployment, Path(tmp))
                    started = time.perf_counter()
                    sha = pipeline.push_app({"VERSION": f"bench-{run}\n"}, "bench")
                    execution = pipeline.wait_for_execution(sha, timeout=60)
                    triggers.append(time.perf_counter() - started)
                    pipeline.wait_for_approval(execution["pipelineExecutionId"], timeout=240)
                    pushes.append(time.perf_counter() - started)
                    pipeline.stop_running_executions("bench run over")
                    pipeline.close()
            finally:
                teardown(target, deployment, force=True)
    report("deploy both reference stacks", deploys, "a one-bucket stack", small)
    report("push -> approval pending", pushes, "push -> execution started", triggers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cold_start(args.runs)
    deploy_and_pipeline(args.runs)


if __name__ == "__main__":
    main()
