"""Mirror triggering: a GitLab push to main reaches CodeCommit through the push mirror and starts
exactly one pipeline execution for that commit; other refs and refused pushes start nothing."""

from __future__ import annotations

import pytest
from conftest import BUILD_DEADLINE, TRIGGER_DEADLINE

from gitops_harness.gitlab import MirrorCredentials, MirrorError

pytestmark = [pytest.mark.suite("pipeline"), pytest.mark.suite("mirror")]


def test_push_to_main_starts_exactly_one_execution_for_the_pushed_commit(idle_pipeline):
    pipeline = idle_pipeline
    sha = pipeline.push_app({"VERSION": "1.1.0\n"}, "bump to 1.1.0")
    execution = pipeline.wait_for_execution(sha, timeout=TRIGGER_DEADLINE)
    assert [r["revisionId"] for r in execution["sourceRevisions"]] == [sha]
    assert execution["trigger"]["triggerType"] in ("CloudWatchEvent", "PutActionRevision", "StartPipelineExecution")
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


def test_two_quick_pushes_follow_superseded_semantics(idle_pipeline):
    pipeline = idle_pipeline
    first = pipeline.push_app({"VERSION": "2.0.0\n"}, "first of two")
    first_execution = pipeline.wait_for_execution(first, timeout=TRIGGER_DEADLINE)["pipelineExecutionId"]
    second = pipeline.push_app({"VERSION": "2.0.1\n"}, "second of two")
    second_execution = pipeline.wait_for_execution(second, timeout=TRIGGER_DEADLINE)["pipelineExecutionId"]
    assert pipeline.execution(first_execution)["executionMode"] == "SUPERSEDED"
    # The newer execution overtakes: the older one stops at a stage boundary as Superseded and only
    # the newer commit reaches the approval.
    pipeline.wait_for_status(first_execution, {"Superseded"}, timeout=BUILD_DEADLINE)
    approval = pipeline.wait_for_approval(second_execution, timeout=BUILD_DEADLINE)
    assert approval.execution_id == second_execution


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
