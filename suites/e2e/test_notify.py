"""Chat notifications: CodeStar notification rules -> SNS (KMS topic) -> the chat-notifier Lambda -> chat,
and the notifier's AfterAllowTraffic hook posting the end of the traffic shift before it reports to
CodeDeploy. On the embedded and localstack targets chat is the target's own receiver (chat_receiver.py,
capability chat-receiver); every wait is on the receiver's record, with a deadline.

On a target without a receiver (aws) the receiver tests skip with the reason and delivery is proved by
what the account offers: the notifier's own log lines in CloudWatch Logs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest
from conftest import BUILD_DEADLINE, TRIGGER_DEADLINE

from gitops_harness.chat_receiver import ChatPost, ChatReceiver
from gitops_harness.deployments import BlueGreenDeployment, settle_deployment_group
from gitops_harness.faults import deploy_directly, primary_task_definition, register_variant
from gitops_harness.release import CLAIMS, ReleaseRun, follow_release
from gitops_harness.targets import require, require_suite
from gitops_harness.waiting import wait_until

pytestmark = [pytest.mark.suite("pipeline"), pytest.mark.suite("notify")]

FAST_CONFIG = "CodeDeployDefault.ECSAllAtOnce"
CHAT_DEADLINE = 60  # wall seconds from the event to its chat post (SNS, Lambda start, one retry)
SETTLE_DEADLINE = 120
RETRY_BACKOFF = 1.0  # fixtures/chat-notifier/handler.py RETRY_BACKOFF_SECONDS
WEBHOOK_TIMEOUT = 5.0  # handler.py's default WEBHOOK_TIMEOUT_SECONDS


@dataclass
class NotifiedRelease:
    chat: ChatReceiver
    commit: str
    started: float
    release: ReleaseRun
    build_post: ChatPost
    approval_post: ChatPost
    shift_post: ChatPost


def _receiver(target) -> ChatReceiver:
    require(target, "chat-receiver", why="chat posts are read from the target's own webhook receiver")
    return target.chat


def _shift(text: str) -> bool:
    return "Traffic shift complete" in text


def _since(started: float, *needles: str) -> Callable[[ChatPost], bool]:
    return lambda p: p.at >= started and all(n in p.text for n in needles)


@pytest.fixture(scope="module")
def notified(request: pytest.FixtureRequest, target) -> NotifiedRelease:
    """One commit pushed, built, approved and deployed, with its chat posts."""
    require_suite(target, "notify_receiver")
    chat = target.chat
    pipeline = request.getfixturevalue("pipeline")
    stacks = pipeline.deployment
    settle_deployment_group(
        target.client("codedeploy", "pipeline"),
        stacks.codedeploy_application,
        stacks.deployment_group,
        timeout=SETTLE_DEADLINE,
    )
    pipeline.stop_running_executions("notify suite starts from an idle pipeline")
    chat.recover()
    started = time.time()
    version = f"8.{int(started)}.0"
    commit = pipeline.push_app({"VERSION": f"{version}\n"}, "notify release")
    execution = pipeline.wait_for_execution(commit, timeout=TRIGGER_DEADLINE)
    approval = pipeline.wait_for_approval(execution["pipelineExecutionId"], timeout=BUILD_DEADLINE)
    [build_post] = chat.wait_for(
        _since(started, "Build finished", stacks.build_project, commit),
        timeout=CHAT_DEADLINE,
        describe=f"the build-succeeded post for {commit[:12]}",
    )
    [approval_post] = chat.wait_for(
        _since(started, "Approval needed", stacks.pipeline_name),
        timeout=CHAT_DEADLINE,
        describe="the approval-needed post",
    )
    image_uri = json.loads(pipeline.output_artifact(approval.execution_id)["imageDetail.json"])["ImageURI"]
    release = follow_release(pipeline, approval, image_uri, f"{version}+{commit[:12]}")
    [shift_post] = chat.wait_for(
        _since(started, "Traffic shift complete", release.deployment.id),
        timeout=CHAT_DEADLINE,
        describe=f"the traffic-shifted post for {release.deployment.id}",
    )
    return NotifiedRelease(chat, commit, started, release, build_post, approval_post, shift_post)


def test_build_succeeded_posts_one_message_with_project_commit_and_link(notified, pipeline):
    posts = notified.chat.delivered(_since(notified.started, "Build finished", notified.commit))
    assert posts == [notified.build_post], notified.chat.describe()
    text = notified.build_post.text
    assert "succeeded" in text and pipeline.deployment.build_project in text
    assert "/codesuite/codebuild/" in text and "/build/" in text  # the link to the build


def test_approval_needed_posts_a_message(notified, pipeline):
    text = notified.approval_post.text
    assert pipeline.deployment.pipeline_name in text
    assert "codepipeline/pipelines/" in text  # where to review it


def test_traffic_shifted_posts_once_after_prod_is_green_and_before_succeeded(notified):
    release = notified.release
    assert release.problems()[CLAIMS[6]] == [], release.describe()
    full_green = [s.at for s in release.weight_steps if s.green >= 100.0]
    assert full_green, f"prod never seen at 100% green: {release.describe()}"
    posted = datetime.fromtimestamp(notified.shift_post.at, full_green[0].tzinfo)
    assert posted >= full_green[0], f"posted {posted}, prod 100% green at {full_green[0]}"
    assert posted <= release.info["completeTime"], (
        f"posted {posted}, Succeeded {release.info['completeTime']}"
    )
    # the deployment is over, so no late duplicate can still come from this hook
    shifts = notified.chat.delivered(
        _since(notified.started, "Traffic shift complete", release.deployment.id)
    )
    assert shifts == [notified.shift_post], notified.chat.describe()


def test_build_failed_posts_one_message_with_project_commit_and_link(idle_pipeline, target):
    chat = _receiver(target)
    pipeline = idle_pipeline
    dockerfile = (pipeline.config.app_dir / "Dockerfile").read_text()
    started = time.time()
    sha = pipeline.push_app({"Dockerfile": dockerfile + "COPY missing.txt /app/\n"}, "a build that fails")
    try:
        execution_id = pipeline.wait_for_execution(sha, timeout=TRIGGER_DEADLINE)["pipelineExecutionId"]
        pipeline.wait_until_finished(execution_id, timeout=BUILD_DEADLINE)
        [post] = chat.wait_for(
            _since(started, "Build finished", "FAILED", sha),
            timeout=CHAT_DEADLINE,
            describe=f"the build-failed post for {sha[:12]}",
        )
    finally:
        fixed = pipeline.push_app({"Dockerfile": dockerfile}, "fix the Dockerfile")
        pipeline.wait_for_execution(fixed, timeout=TRIGGER_DEADLINE)
    assert pipeline.deployment.build_project in post.text and "/build/" in post.text
    assert chat.delivered(_since(started, "Build finished", sha)) == [post], chat.describe()


# ---- chat outages during the AfterAllowTraffic hook --------------------------------------------------


class HookScene:
    """Direct deployments on the reference group whose AfterAllowTraffic hook is the chat notifier."""

    def __init__(self, pipeline, chat: ChatReceiver):
        self.pipeline, self.chat = pipeline, chat
        self.target, self.stacks = pipeline.target, pipeline.deployment
        self.codedeploy = self.target.client("codedeploy", "pipeline")
        self.lambda_ = self.target.client("lambda", "pipeline")
        self.deadline = 3600 * self.target.time_scale + SETTLE_DEADLINE

    def settle(self) -> None:
        settle_deployment_group(
            self.codedeploy, self.stacks.codedeploy_application, self.stacks.deployment_group, SETTLE_DEADLINE
        )

    def deploy(self) -> BlueGreenDeployment:
        self.settle()
        green = register_variant(
            self.target, primary_task_definition(self.target, self.stacks), version=f"hook-{time.time_ns()}"
        )
        return deploy_directly(
            self.target,
            self.stacks,
            green,
            hooks={"AfterAllowTraffic": self.stacks.chat_notifier_function},
            config_name=FAST_CONFIG,
        )

    def attempts(self, deployment: BlueGreenDeployment, started: float) -> list[ChatPost]:
        return self.chat.posts(_since(started, "Traffic shift complete", deployment.id))

    def wait_attempts(self, deployment: BlueGreenDeployment, started: float, count: int) -> list[ChatPost]:
        return wait_until(
            lambda: a if len(a := self.attempts(deployment, started)) >= count else None,
            timeout=CHAT_DEADLINE,
            describe_expected=f"{count} traffic-shift post attempt(s) for {deployment.id}",
            describe_seen=lambda _: self.chat.describe(),
        )

    def set_env(self, **changes: str | None) -> None:
        name = self.stacks.chat_notifier_function
        variables = dict(
            self.lambda_.get_function_configuration(FunctionName=name)
            .get("Environment", {})
            .get("Variables", {})
        )
        for key, value in changes.items():
            if value is None:
                variables.pop(key, None)
            else:
                variables[key] = value
        self.lambda_.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
        wait_until(
            lambda: (
                self.lambda_.get_function_configuration(FunctionName=name).get("LastUpdateStatus")
                in (None, "Successful")
            ),
            timeout=30,
            describe_expected=f"{name} configuration updated",
        )


@pytest.fixture
def hooks(pipeline, target) -> Iterator[HookScene]:
    chat = _receiver(target)
    require_suite(target, "notify_receiver")
    scene = HookScene(pipeline, chat)
    try:
        yield scene
    finally:
        chat.recover()
        scene.settle()


def test_chat_500s_do_not_fail_the_deployment_and_the_post_is_retried_once(hooks):
    hooks.chat.fail(500, times=None, match=_shift)
    started = time.time()
    deployment = hooks.deploy()
    info = deployment.wait_until_finished(timeout=hooks.deadline)
    attempts = hooks.wait_attempts(deployment, started, 2)
    assert info["status"] == "Succeeded", deployment.describe()
    assert [p.status for p in attempts] == [500, 500], hooks.chat.describe()
    assert attempts[1].at - attempts[0].at >= RETRY_BACKOFF * 0.9


def test_chat_429_is_retried_after_retry_after(hooks):
    hooks.chat.fail(429, times=1, retry_after=2, match=_shift)
    started = time.time()
    deployment = hooks.deploy()
    [delivered] = hooks.chat.wait_for(
        _since(started, "Traffic shift complete", deployment.id),
        timeout=CHAT_DEADLINE,
        describe=f"the traffic-shift post for {deployment.id} after a 429",
    )
    info = deployment.wait_until_finished(timeout=hooks.deadline)
    attempts = hooks.attempts(deployment, started)
    assert [p.status for p in attempts] == [429, 200], hooks.chat.describe()
    assert delivered.at - attempts[0].at >= 2 * 0.9  # waited out Retry-After
    assert info["status"] == "Succeeded", deployment.describe()


def test_a_chat_timeout_is_retried_and_does_not_fail_the_deployment(hooks):
    hooks.chat.slow(WEBHOOK_TIMEOUT + 2, times=1, match=_shift)
    started = time.time()
    deployment = hooks.deploy()
    hooks.chat.wait_for(
        _since(started, "Traffic shift complete", deployment.id),
        timeout=CHAT_DEADLINE,
        describe=f"the traffic-shift post for {deployment.id} after a timeout",
        count=2,  # the slow one is answered 200, too late for the notifier
    )
    attempts = hooks.attempts(deployment, started)
    assert len(attempts) == 2, hooks.chat.describe()
    assert attempts[1].at - attempts[0].at >= WEBHOOK_TIMEOUT * 0.9
    assert deployment.wait_until_finished(timeout=hooks.deadline)["status"] == "Succeeded"


def test_with_notify_failure_fails_hook_a_chat_outage_rolls_the_deployment_back(hooks):
    hooks.set_env(NOTIFY_FAILURE_FAILS_HOOK="true")
    try:
        hooks.chat.fail(500, times=None, match=_shift)
        started = time.time()
        deployment = hooks.deploy()
        info = deployment.wait_until_finished(timeout=hooks.deadline)
        assert hooks.wait_attempts(deployment, started, 2)
        assert info["status"] == "Failed", deployment.describe()
        assert (info.get("errorInformation") or {}).get("code") == "HOOK_EXECUTION_FAILURE", (
            deployment.describe()
        )
        rollback = deployment.rollback_deployment()
        assert rollback is not None, f"no rollbackInfo: {deployment.describe()}"
        assert rollback.wait_until_finished(timeout=hooks.deadline)["status"] == "Succeeded"
    finally:
        hooks.chat.recover()
        hooks.set_env(NOTIFY_FAILURE_FAILS_HOOK=None)


def test_the_webhook_url_never_appears_in_logs_or_output(notified, pipeline, target):
    secret = notified.chat.path.rsplit("/", 1)[-1]
    logs = target.client("logs", "pipeline")
    group = f"/aws/lambda/{pipeline.deployment.chat_notifier_function}"
    events = logs.filter_log_events(logGroupName=group)["events"]
    assert events, f"{group} has no log events"
    assert not [e for e in events if secret in e["message"]], f"{group} logs the webhook URL"
    assert secret not in notified.chat.describe()
    assert secret not in notified.release.describe()


def test_the_notifier_logs_each_delivery(pipeline, target):
    """What a real account offers (no receiver): the notifier's log lines for posted notifications."""
    require_suite(target, "notify")
    logs = target.client("logs", "pipeline")
    group = f"/aws/lambda/{pipeline.deployment.chat_notifier_function}"
    wait_until(
        lambda: (
            logs.filter_log_events(logGroupName=group, filterPattern='"posted build notification"')["events"]
            or None
        ),
        timeout=BUILD_DEADLINE,
        describe_expected=f"a 'posted build notification' line in {group}",
    )
