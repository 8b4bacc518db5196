"""A commit whose build fails: the execution ends Failed at Build, the build's log says why, and the
build-failed notification is published for the chat notifier."""

from __future__ import annotations

import pytest
from conftest import BUILD_DEADLINE, TRIGGER_DEADLINE

from gitops_harness.pipeline import APPROVAL_STAGE, BUILD_STAGE
from gitops_harness.probes import SnsProbe
from gitops_harness.targets import require

pytestmark = [pytest.mark.suite("pipeline"), pytest.mark.suite("build_failures")]

BROKEN_LINE = "COPY does-not-exist.txt /app/\n"


@pytest.fixture
def broken_then_fixed(idle_pipeline):
    """A broken Dockerfile for the test; the next commit puts the working one back."""
    dockerfile = (idle_pipeline.config.app_dir / "Dockerfile").read_text()
    yield dockerfile + BROKEN_LINE
    fixed = idle_pipeline.push_app({"Dockerfile": dockerfile}, "fix the Dockerfile")
    # Wait for the fix's execution to exist, so idle_pipeline stops it instead of missing it.
    idle_pipeline.wait_for_execution(fixed, timeout=TRIGGER_DEADLINE)


def test_failing_build_fails_the_execution_at_build_with_log_and_notification(
    idle_pipeline, broken_then_fixed
):
    pipeline = idle_pipeline
    require(
        pipeline.target, "chat", why="the build-failed notification comes from a CodeStar notification rule"
    )
    sns, sqs = pipeline.target.client("sns", "pipeline"), pipeline.target.client("sqs", "pipeline")
    tags = pipeline.target.resource_tags()  # aws: teardown and sweep find the probe by the run id
    with SnsProbe(sns, sqs, pipeline.deployment.notification_topic_arn, tags=tags) as notifications:
        sha = pipeline.push_app({"Dockerfile": broken_then_fixed}, "a Dockerfile that cannot build")
        execution_id = pipeline.wait_for_execution(sha, timeout=TRIGGER_DEADLINE)["pipelineExecutionId"]
        execution = pipeline.wait_until_finished(execution_id, timeout=BUILD_DEADLINE)
        build_id = pipeline.build_id(execution_id)
        notice = notifications.wait_for(
            lambda n: (
                n.json.get("detail", {}).get("build-id", "").endswith(build_id.split(":")[-1])
                and n.json["detail"].get("build-status") == "FAILED"
            ),
            timeout=TRIGGER_DEADLINE,
            describe=f"the build-failed notification for {build_id}",
        )

    assert execution["status"] == "Failed"
    [build_action] = pipeline.stage_actions(execution_id, BUILD_STAGE)
    assert build_action["status"] == "Failed"
    assert pipeline.stage_actions(execution_id, APPROVAL_STAGE) == []

    codebuild = pipeline.target.client("codebuild", "pipeline")
    [build] = codebuild.batch_get_builds(ids=[build_id])["builds"]
    assert build["buildStatus"] == "FAILED"
    failed_phase = next(p for p in build["phases"] if p.get("phaseStatus") == "FAILED")
    assert failed_phase["phaseType"] == "BUILD"
    logs = pipeline.target.client("logs", "pipeline").get_log_events(
        logGroupName=build["logs"]["groupName"], logStreamName=build["logs"]["streamName"], startFromHead=True
    )
    text = "\n".join(e["message"] for e in logs["events"])
    assert "does-not-exist.txt" in text  # the log names the cause
    assert notice.json["detail"]["project-name"] == pipeline.deployment.build_project
