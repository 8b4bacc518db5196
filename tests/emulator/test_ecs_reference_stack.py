"""The reference pipeline stack on the embedded AWS: its first (blue) task set runs the InitialImage's
stand-in command with the host's python, so the production listener answers before any deployment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ecs_helpers import TIME_SCALE, get, healthy_targets, task_processes

from gitops_harness.config import Accounts, load_config
from gitops_harness.stacks import deploy_stacks, pipeline_specs, teardown, upload_chat_notifier
from gitops_harness.targets.embedded import EmbeddedTarget
from gitops_harness.waiting import wait_until

ACCOUNTS = Accounts(management="777788889990", pipeline="777788889991")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def target() -> Iterator[EmbeddedTarget]:
    with EmbeddedTarget(ACCOUNTS, time_scale=TIME_SCALE) as started:
        yield started  # type: ignore[misc]


def test_the_blue_task_set_of_the_reference_stack_answers_through_the_production_listener(
    target: EmbeddedTarget, tmp_path: Path
) -> None:
    config_file = tmp_path / "harness.yaml"
    config_file.write_text(
        f"""project: ecs-reference
accounts: {{management: "{ACCOUNTS.management}", pipeline: "{ACCOUNTS.pipeline}"}}
pipeline:
  templates: {{management: {REPO}/fixtures/pipeline/management-account.yaml, pipeline: {REPO}/fixtures/pipeline/pipeline-account.yaml}}
app: {{chat_notifier_dir: {REPO}/fixtures/chat-notifier}}
"""
    )
    config = load_config(config_file)
    specs = pipeline_specs(target, config, upload_chat_notifier(target, config))
    try:
        deployed = {stack.spec.key: stack for stack in deploy_stacks(target, specs, timeout=120, keep=False)}
        out = deployed["pipeline"].outputs
        elbv2 = target.client("elbv2", "pipeline")
        blue = elbv2.describe_target_groups(Names=[out["BlueTargetGroupName"]])["TargetGroups"][0]
        # InitialImage is a public image, not in the emulated ECR: its task definition command runs
        (registered,) = healthy_targets(target, blue["TargetGroupArn"], timeout=30)
        address = registered["Target"]["Id"]
        assert task_processes(address)
        assert "alb-data-plane" in target.capabilities
        wait_until(
            lambda: get(target.listener_url(out["ProductionListenerArn"]) + "/health"),
            timeout=10,
            describe_expected="200 from the blue stand-in through the production listener",
            accept=lambda answer: answer[0] == 200,
        )
        assert get(target.listener_url(out["TestListenerArn"]) + "/")[0] == 200
    finally:
        teardown(target, specs, timeout=120)
    wait_until(
        lambda: task_processes(address),
        timeout=15,
        describe_expected="the blue task's process gone once the stack is deleted",
        accept=lambda pids: not pids,
    )
