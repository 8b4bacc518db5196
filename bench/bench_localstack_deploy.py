"""Both reference stacks (management, then pipeline) from CreateStack to CREATE_COMPLETE on --target localstack
(LocalStack 4.14.0 in host mode with the plugin: its CloudFormation, the plugin's providers and resource
providers) against the embedded target, in the same run, runs alternated, each deploy torn down before the next.

One LocalStack serves every run, so its first deploy also loads LocalStack's providers for ECS, ELBv2, Lambda,
CloudFormation (lazily, on their first request): that one is printed on its own and left out of the median, as
is the embedded target's first (moto's CloudFormation imports every model it has).

    GITOPS_HARNESS_LOCALSTACK_VENV=.venv-localstack .venv/bin/python bench/bench_localstack_deploy.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from gitops_harness.config import load_config
from gitops_harness.stacks import StackError, deploy, teardown
from gitops_harness.targets import make_target
from gitops_harness.targets.localstack import LocalStackTarget
from gitops_harness.targets.localstack_host import VENV_ENV
from timing import REPO, report


def _deploy_seconds(target: Any, config: Any) -> float:
    started = time.perf_counter()
    deployment = deploy(target, config, timeout=600)
    seconds = time.perf_counter() - started
    teardown(target, deployment, timeout=600)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    if not os.environ.get(VENV_ENV):
        print(f"skipped: {VENV_ENV} is not set (make .venv-localstack/.installed)")
        return 0
    config = load_config(REPO / "harness.yaml")
    localstack = LocalStackTarget.from_config(config)
    localstack._start_host = True  # noqa: SLF001 - the bench always runs its own LocalStack
    seconds: dict[str, list[float]] = {"localstack": [], "embedded": []}
    with localstack, make_target(config, "embedded") as embedded:
        if "cloudformation" not in localstack.capabilities:
            print(f"skipped: {localstack.explain('cloudformation')}")
            return 0
        targets = {"localstack": localstack, "embedded": embedded}
        for _ in range(runs + 1):  # the first of each is the cold one
            for name, target in targets.items():
                try:
                    seconds[name].append(_deploy_seconds(target, config))
                except StackError as error:
                    print(f"skipped: the reference stacks do not deploy on {name}: {error}")
                    return 0
    print(
        f"first deploy (cold providers): localstack {seconds['localstack'][0]:.2f} s, "
        f"embedded {seconds['embedded'][0]:.2f} s"
    )
    report(
        "both reference stacks CREATE_COMPLETE on localstack",
        seconds["localstack"][1:],
        "embedded",
        seconds["embedded"][1:],
    )
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
