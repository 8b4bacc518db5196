"""The embedded AWS's speed, medians of repeated runs with a baseline measured in the same run:

- cold start: process start until the first STS GetCallerIdentity is answered, `gitops-harness emulator
  --port P` against moto_server (the venv's, same port kind, runs alternated) as the baseline;
- deploy: both reference stacks through CreateStack, then teardown (baseline: a one-bucket stack);
- push -> approval pending: a commit through the GitLab mirror until the execution waits at the
  manual approval (baseline: push -> execution started, i.e. the trigger alone).

    .venv/bin/python bench/bench_emulator.py [--runs 5] [--cold-start-only | --deploy-only]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from gitops_harness.config import load_config
from gitops_harness.pipeline import PipelineUnderTest
from gitops_harness.stacks import StackSpec, deploy, deploy_stacks, teardown
from gitops_harness.targets import make_target
from gitops_harness.waiting import wait_until
from timing import REPO, report

ONE_BUCKET = '{"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}'


def cold_start(runs: int) -> None:
    """Process start -> first GetCallerIdentity answer; the emulator and moto_server alternate, so both
    see the same machine load."""
    moto_server = Path(sys.executable).with_name("moto_server")
    emulator, moto = [], []
    for _ in range(runs):
        port = _free_port()
        emulator.append(
            _first_answer([sys.executable, "-m", "gitops_harness", "emulator", "--port", str(port)], port)
        )
        port = _free_port()
        moto.append(_first_answer([str(moto_server), "-p", str(port)], port))
    report(
        "emulator cold start (process start -> first STS GetCallerIdentity)", emulator, "moto_server", moto
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _first_answer(argv: Sequence[str], port: int) -> float:
    # the client is made before the process starts: only the server's start is measured
    sts = boto3.client(
        "sts",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="123456789012",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=30),
    )
    env = {k: v for k, v in os.environ.items() if k != "MOTO_ACCOUNT_ID"}
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO, env=env)
    try:
        wait_until(
            lambda: _caller(sts),
            timeout=60,
            describe_expected=f"a GetCallerIdentity answer from {argv[0]}",
            interval=0.005,
            max_interval=0.005,
        )
        return time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _caller(sts: object) -> bool:
    try:
        return bool(sts.get_caller_identity()["Account"])  # type: ignore[attr-defined]
    except (BotoCoreError, ClientError):
        return False


def deploy_and_pipeline(runs: int, *, deploy_only: bool = False) -> None:
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
            if deploy_only:
                teardown(target, deployment, force=True)
                continue
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
    if deploy_only:
        return
    report("push -> approval pending", pushes, "push -> execution started", triggers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold-start-only", action="store_true", help="skip the deploy and pipeline runs")
    parser.add_argument(
        "--deploy-only", action="store_true", help="only the stack deploys (no cold start, no pushes)"
    )
    args = parser.parse_args()
    if not args.deploy_only:
        cold_start(args.runs)
    if not args.cold_start_only:
        deploy_and_pipeline(args.runs, deploy_only=args.deploy_only)


if __name__ == "__main__":
    main()
