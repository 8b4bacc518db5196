"""--target localstack against the embedded target, in the same run (medians, runs alternated):

- start: target start until its capabilities are read (LocalStack 4.14.0 in host mode with the plugin,
  from the Makefile's .venv-localstack, against the in-process embedded emulator);
- mirror-leg stacks: the reference management-account stack and fixtures/localstack/mirror-pipeline.yaml
  (gitops_harness.mirror_leg) through CreateStack until CREATE_COMPLETE, each target's own CloudFormation
  (LocalStack's with the plugin's resource providers);
- push -> approval pending (the issue's measure): a commit pushed over HTTPS (the mirror user's IAM
  service-specific credentials) until GetPipelineState shows the execution for that commit waiting at
  the manual approval: CodeCommit's event, the management rule forwarding it to the pipeline account's
  bus, that bus's rule starting the execution (on LocalStack: its EventBridge, the plugin's CodePipeline
  target sender), source, build, approval. Also push -> execution listed, the trigger part of it. The
  reference pipeline-account stack does not deploy on LocalStack community (ECS/ELBv2 types), so both
  targets run the mirror leg, the same stacks.

    GITOPS_HARNESS_LOCALSTACK_VENV=.venv-localstack .venv/bin/python bench/bench_localstack.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from gitops_harness.config import load_config
from gitops_harness.mirror_leg import TEMPLATE, deploy_mirror_leg
from gitops_harness.pipeline import PipelineUnderTest
from gitops_harness.stacks import teardown
from gitops_harness.targets import make_target
from gitops_harness.targets.localstack import LocalStackTarget
from gitops_harness.targets.localstack_host import VENV_ENV
from timing import REPO, report

TARGETS = ("localstack", "embedded")


def _push_to_approval(pipeline: PipelineUnderTest, run: int) -> tuple[float, float]:
    """(push -> execution listed, push -> approval pending) seconds for one commit."""
    started = time.perf_counter()
    sha = pipeline.push_app({"VERSION": f"bench-{run}\n"}, f"bench push {run}")
    execution = pipeline.wait_for_execution(sha, timeout=120)
    listed = time.perf_counter() - started
    pipeline.wait_for_approval(execution["pipelineExecutionId"], timeout=300)
    return listed, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    if not os.environ.get(VENV_ENV):
        print(f"skipped: {VENV_ENV} is not set (make .venv-localstack/.installed)")
        return 0
    config = load_config(REPO / "harness.yaml")
    starts: dict[str, list[float]] = {name: [] for name in TARGETS}
    stacks: dict[str, list[float]] = {name: [] for name in TARGETS}
    triggers: dict[str, list[float]] = {name: [] for name in TARGETS}
    approvals: dict[str, list[float]] = {name: [] for name in TARGETS}
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    for run in range(runs):
        for name in TARGETS:
            target = (
                LocalStackTarget.from_config(config)
                if name == "localstack"
                else make_target(config, "embedded")
            )
            if name == "localstack":
                target._start_host = True  # noqa: SLF001 - the bench always runs its own LocalStack
            started = time.perf_counter()
            target.start()
            try:
                starts[name].append(time.perf_counter() - started)
                started = time.perf_counter()
                deployment = deploy_mirror_leg(target, config, REPO / TEMPLATE, timeout=300)
                stacks[name].append(time.perf_counter() - started)
                try:
                    with tempfile.TemporaryDirectory() as tmp:
                        pipeline = PipelineUnderTest.connect(target, config, deployment, Path(tmp))
                        try:
                            listed, pending = _push_to_approval(pipeline, run)
                            triggers[name].append(listed)
                            approvals[name].append(pending)
                        finally:
                            pipeline.stop_running_executions("bench over")
                            pipeline.close()
                finally:
                    teardown(target, deployment, timeout=300, force=True)
            finally:
                target.stop()
            print(
                f"run {run + 1} {name}: start {starts[name][-1]:.2f} s, stacks {stacks[name][-1]:.2f} s, "
                f"push -> execution {triggers[name][-1]:.2f} s, push -> approval pending {approvals[name][-1]:.2f} s",
                flush=True,
            )
    report(
        "localstack target start (host mode, plugin)",
        starts["localstack"],
        "embedded start",
        starts["embedded"],
    )
    report(
        "mirror-leg stacks CREATE_COMPLETE on localstack",
        stacks["localstack"],
        "embedded",
        stacks["embedded"],
    )
    report("push -> execution listed on localstack", triggers["localstack"], "embedded", triggers["embedded"])
    report(
        "push -> approval pending on localstack", approvals["localstack"], "embedded", approvals["embedded"]
    )
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
