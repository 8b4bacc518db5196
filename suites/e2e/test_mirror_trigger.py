"""Mirror triggering: a GitLab push to main reaches CodeCommit through the push mirror and starts
exactly one pipeline execution for that commit; other refs and refused pushes start nothing."""

from __future__ import annotations

import pytest
from conftest import BUILD_DEADLINE, TRIGGER_DEADLINE

from gitops_harness.gitlab import MirrorCredentials, MirrorError
from gitops_harness.pipeline import APPROVAL_STAGE, BUILD_STAGE

# Not suite("pipeline"): where the reference pipeline stack cannot deploy (LocalStack community), the
# mirror leg alone runs these (mirror_pipeline in conftest.py).
pytestmark = [pytest.mark.suite("mirror")]


@pytest.fixture
def idle_pipeline(mirror_pipeline):
    yield mirror_pipeline
    mirror_pipeline.stop_running_executions("test finished")


def test_push_to_main_starts_exactly_one_execution_for_the_pushed_commit(idle_pipeline):
    pipeline = idle_pipeline
    sha = pipeline.push_app({"VERSION": "1.1.0\n"}, "bump to 1.1.0")
    execution = pipeline.wait_for_execution(sha, timeout=TRIGGER_DEADLINE)
    assert [r["revisionId"] for r in execution["sourceRevisions"]] == [sha]
    assert execution["trigger"]["triggerType"] in (
        "CloudWatchEvent",
        "PutActionRevision",
        "StartPipelineExecution",
    )
    # By the time the build is over, a duplicate trigger would long have started a second execution.
    pipeline.wait_for_approval(execution["pipelineExecutionId"], timeout=BUILD_DEADLINE)
    assert len(pipeline.executions_for(sha)) == 1


def test_other_branches_and_tags_start_nothing(idle_pipeline):
    pipeline = idle_pipeline
    branch_sha = pipeline.push_app({"NOTES": "release branch\n"}, "release work", branch="release/1.0")
    assert pipeline.project.mirror_status().last_error is None
    pipeline.project.tag("v1.0.0", branch_sha)
    # An ordered marker instead of waiting for nothing: the next main push's execution appears only
    # after the branch and tag events were delivered and ignored.
    marker = pipeline.push_app({"VERSION": "1.2.0\n"}, "bump to 1.2.0")
    pipeline.wait_for_execution(marker, timeout=TRIGGER_DEADLINE)
    assert pipeline.executions_for(branch_sha) == []
    repo = pipeline.target.client("codecommit", "management").get_branch(
        repositoryName=pipeline.deployment.repository_name, branchName="release/1.0"
    )
    assert repo["branch"]["commitId"] == branch_sha  # it was mirrored, and still started nothing


def test_quick_pushes_follow_superseded_semantics(idle_pipeline):
    """SUPERSEDED: one execution per stage at a time; a newer execution arriving at a stage boundary
    replaces the one waiting there; the one inside the stage (here: at the approval) is not touched."""
    pipeline = idle_pipeline
    first = pipeline.push_app({"VERSION": "2.0.0\n"}, "first")
    second = pipeline.push_app({"VERSION": "2.0.1\n"}, "second, right after the first")
    first_id = pipeline.wait_for_execution(first, timeout=TRIGGER_DEADLINE)["pipelineExecutionId"]
    second_id = pipeline.wait_for_execution(second, timeout=TRIGGER_DEADLINE)["pipelineExecutionId"]
    assert pipeline.execution(first_id)["executionMode"] == "SUPERSEDED"
    held = pipeline.wait_for_approval(first_id, timeout=BUILD_DEADLINE)

    # The second execution builds, then waits at the Approve boundary while the first holds the stage.
    pipeline.wait_for_stage_action(second_id, BUILD_STAGE, timeout=BUILD_DEADLINE, status="Succeeded")
    third = pipeline.push_app({"VERSION": "2.0.2\n"}, "third")
    third_id = pipeline.wait_for_execution(third, timeout=TRIGGER_DEADLINE)["pipelineExecutionId"]
    # The third arrives at the same boundary: the waiting second is superseded; the first is untouched.
    pipeline.wait_for_status(second_id, {"Superseded"}, timeout=BUILD_DEADLINE)
    assert pipeline.stage_actions(second_id, APPROVAL_STAGE) == []
    assert pipeline.pending_approval(first_id) == held

    # Only after the first leaves the stage does the newest execution enter it.
    pipeline.answer(held, "Rejected", "make way for the newer commit")
    assert pipeline.wait_for_approval(third_id, timeout=BUILD_DEADLINE).execution_id == third_id
    assert pipeline.execution(first_id)["status"] == "Failed"


def test_mirror_push_with_wrong_credentials_is_refused_and_starts_nothing(idle_pipeline):
    pipeline = idle_pipeline
    project = pipeline.project
    good = pipeline.mirror_credentials
    project.update_mirror_credentials(MirrorCredentials(good.username, good.password + "-wrong"))
    try:
        with pytest.raises(MirrorError, match="403|401|denied|Authentication"):
            pipeline.push_app({"VERSION": "3.0.0-refused\n"}, "pushed with a wrong password")
        refused = project.head("main")
        assert "wrong" not in (project.mirror_status().last_error or "")  # git's message, not the secret
        assert project.mirror_status().last_error
    finally:
        project.update_mirror_credentials(good)
    codecommit = pipeline.target.client("codecommit", "management")
    head = codecommit.get_branch(repositoryName=pipeline.deployment.repository_name, branchName="main")
    assert head["branch"]["commitId"] != refused
    # With the right credentials the next update carries the refused commit too; its execution is for
    # the new head, and none ever ran for the refused one alone.
    marker = pipeline.push_app({"VERSION": "3.0.1\n"}, "pushed with the right password")
    pipeline.wait_for_execution(marker, timeout=TRIGGER_DEADLINE)
    assert pipeline.executions_for(refused) == []
