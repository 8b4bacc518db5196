"""The nightly roles' IAM policies (docs/iam) against what the harness really needs: every action the
aws target calls during a complete rehearsal run, what a sweep may call, and what CloudFormation's
handlers need for each resource type in the templates. Fails when the harness starts calling an action
the policy lacks: regenerate with `python -m gitops_harness.targets.aws_policy --calls <file>`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_harness.chat_receiver import ChatReceiver
from gitops_harness.config import Accounts
from gitops_harness.emulator.testing import running_emulator
from gitops_harness.rehearsal import leftovers, run_pipeline_layer, write_rehearsal_config
from gitops_harness.sweep import SWEEP_ACTIONS
from gitops_harness.targets.aws import CALLS_FILE_ENV
from gitops_harness.targets.aws_policy import (
    load_policy,
    missing_actions,
    policy_document,
    resource_permissions,
    stack_permissions,
)

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = {
    "management": REPO / "fixtures/pipeline/management-account.yaml",
    "pipeline": REPO / "fixtures/pipeline/pipeline-account.yaml",
}


@pytest.mark.parametrize("account", ["management", "pipeline"])
def test_the_policy_covers_the_stacks_and_the_sweep(account: str) -> None:
    policy = load_policy(account)
    assert missing_actions(stack_permissions(TEMPLATES[account]), policy) == []
    assert missing_actions(SWEEP_ACTIONS, policy) == []
    assert policy["Statement"][0]["Effect"] == "Allow" and "*" not in policy["Statement"][0]["Action"]


def test_stack_permissions_come_from_cloudformations_registry() -> None:
    assert {"ecs:CreateService", "ecs:DeleteService", "iam:PassRole"} <= resource_permissions(
        "AWS::ECS::Service"
    )
    with pytest.raises(KeyError, match="not in CloudFormation's resource registry"):
        resource_permissions("AWS::Nope::Thing")


def test_missing_actions_matches_like_iam() -> None:
    policy = policy_document(["s3:Get*", "SQS:DeleteQueue"], "pipeline")
    assert missing_actions(["s3:GetObject", "sqs:deletequeue", "sqs:CreateQueue"], policy) == [
        "sqs:CreateQueue"
    ]


@pytest.mark.slow
def test_a_complete_rehearsal_run_passes_calls_only_allowed_actions_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = tmp_path / "calls.json"
    monkeypatch.setenv(CALLS_FILE_ENV, str(calls))
    with running_emulator(time_scale=0.0167) as emulator, ChatReceiver() as chat:
        monkeypatch.setenv("REHEARSAL_WEBHOOK", chat.url)  # the notifier posts: the notify verdict runs
        config = write_rehearsal_config(
            tmp_path / "run",
            emulator.endpoint_url,
            Accounts("760000000001", "760000000002"),
            chat={"webhook_url_env": "REHEARSAL_WEBHOOK"},
        )
        outcome = run_pipeline_layer(config, endpoint_url=emulator.endpoint_url)
        assert outcome.returncode == 0, outcome.stderr_tail
        checked = [v for v in outcome.verdicts if not v["skipped"]]
        assert [v["assertion"] for v in checked if not v["passed"]] == []
        assert {v["area"] for v in checked} >= {"stacks", "mirror", "approval", "artifacts", "notify"}
        assert leftovers(config) == []
    recorded = json.loads(calls.read_text())
    assert "cloudformation:CreateStack" in recorded["pipeline"]
    for account, actions in recorded.items():
        assert missing_actions(actions, load_policy(account)) == [], (
            f"docs/iam/nightly-{account}-account.json"
        )
