"""Executions started by the CodeCommit event rule, as AWS runs them: trigger CloudWatchEvent with the
rule's ARN, and each execution builds the commit its event names (detail.commitId), not whatever the
branch points at when its source action runs. Driven like the reference pipeline: git pushes to the
management account's repository, its rule forwards to the pipeline account's bus, whose rule starts
the pipeline as a role EventBridge assumes. Replaying the archived events after main has moved on shows
the commit comes from the event, whatever the timing."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from codepipeline_demo_planes import DemoCodeBuild
from codepipeline_fixtures import REGION, Environment, plane, wait_until
from test_codecommit_over_frontdoor import git_user, isolated_git

from gitops_harness.emulator.codecommit import aws_clone_url_http
from gitops_harness.emulator.codecommit.events import branch_pattern
from gitops_harness.emulator.codecommit.plane import CodeCommit
from gitops_harness.emulator.codepipeline.plane import CodePipeline
from gitops_harness.emulator.iam.plane import IamServiceSpecificCredentials
from gitops_harness.emulator.testing import running_emulator

PIPELINE = "evented"
# accounts and a bucket of this module's own: moto's state is shared by the modules a worker runs
PIPE, MGMT, BUCKET = "333333333311", "333333333312", "cp-event-trigger-artifacts"


@pytest.fixture(scope="module")
def env():
    with running_emulator(
        planes=[CodeCommit, CodePipeline, DemoCodeBuild, IamServiceSpecificCredentials], time_scale=0.001
    ) as aws:
        yield Environment(aws, plane(aws, CodeCommit), pipe=PIPE, mgmt=MGMT, bucket=BUCKET)


@pytest.fixture(scope="module")
def rule_arn(env) -> str:
    """The reference wiring: the management account's rule sends main's changes to the pipeline
    account's bus (its policy lets the management account put events), where a rule starts the pipeline."""
    aws = env.aws
    pipe_events, mgmt_events = aws.client("events", account=PIPE), aws.client("events", account=MGMT)
    pipe_events.put_permission(
        EventBusName="default", Action="events:PutEvents", Principal=MGMT, StatementId="mgmt"
    )
    pattern = json.dumps(branch_pattern())
    mgmt_events.put_rule(Name="to-pipeline-account", EventPattern=pattern)
    mgmt_events.put_targets(
        Rule="to-pipeline-account",
        Targets=[{"Id": "bus", "Arn": f"arn:aws:events:{REGION}:{PIPE}:event-bus/default"}],
    )
    iam = aws.client("iam", account=PIPE)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName="start-pipeline", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    start = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "codepipeline:StartPipelineExecution",
                "Resource": f"arn:aws:codepipeline:{REGION}:{PIPE}:{PIPELINE}",
            }
        ],
    }
    iam.put_role_policy(RoleName="start-pipeline", PolicyName="start", PolicyDocument=json.dumps(start))
    # an archive of what reaches the pipeline account's bus, for a replay once the branch has moved on
    pipe_events.create_archive(
        ArchiveName="codecommit-events",
        EventSourceArn=f"arn:aws:events:{REGION}:{PIPE}:event-bus/default",
        EventPattern=pattern,
    )
    arn = pipe_events.put_rule(Name="start-evented", EventPattern=pattern)["RuleArn"]
    pipe_events.put_targets(
        Rule="start-evented",
        Targets=[
            {
                "Id": "pipeline",
                "Arn": f"arn:aws:codepipeline:{REGION}:{PIPE}:{PIPELINE}",
                "RoleArn": role["Arn"],
            }
        ],
    )
    env.cp.create_pipeline(pipeline=env.declaration(PIPELINE, approval=False, deploy=False))
    return arn


def _source_files(env, execution_id: str) -> dict[str, bytes]:
    """The Source action's output artifact (the CODE_ZIP in the artifact bucket), unzipped."""
    details = env.cp.list_action_executions(
        pipelineName=PIPELINE, filter={"pipelineExecutionId": execution_id}
    )["actionExecutionDetails"]
    source = next(d for d in details if d["actionName"] == "Source")
    location = source["output"]["outputArtifacts"][0]["s3location"]
    body = env.aws.client("s3", account=PIPE).get_object(Bucket=location["bucket"], Key=location["key"])
    with zipfile.ZipFile(io.BytesIO(body["Body"].read())) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_two_quick_pushes_give_two_executions_each_with_its_commit(env, rule_arn, tmp_path):
    username, password, _ = git_user(env.aws, MGMT, "gitlab-mirror", "app")
    git = isolated_git(tmp_path, env.aws.endpoint_url, username, password)
    work = tmp_path / "work"
    git("clone", "-q", aws_clone_url_http(REGION, "app"), str(work))
    first = git.commit(work, "README.md", "one\n")
    git("push", "-q", "origin", "main", cwd=work)
    second = git.commit(work, "README.md", "two\n")
    git("push", "-q", "origin", "main", cwd=work)

    def evented() -> list[dict]:
        summaries = env.cp.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"]
        done = [s for s in summaries if s["status"] in ("Succeeded", "Failed", "Superseded", "Stopped")]
        return summaries if len(summaries) == 2 and len(done) == 2 else []

    summaries = wait_until("two executions started by the rule, finished", evented, timeout=60)
    assert [s["status"] for s in summaries] == ["Succeeded", "Succeeded"]
    for summary in summaries:
        assert summary["trigger"] == {"triggerType": "CloudWatchEvent", "triggerDetail": rule_arn}
    # newest first: each execution carries the commit its push's event named
    assert [s["sourceRevisions"][0]["revisionId"] for s in summaries] == [second, first]

    for summary, commit, content in ((summaries[1], first, b"one\n"), (summaries[0], second, b"two\n")):
        execution_id = summary["pipelineExecutionId"]
        execution = env.cp.get_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=execution_id)
        assert execution["pipelineExecution"]["trigger"]["triggerType"] == "CloudWatchEvent"
        assert execution["pipelineExecution"]["artifactRevisions"][0]["revisionId"] == commit
        assert _source_files(env, execution_id)["README.md"] == content
        details = env.cp.list_action_executions(
            pipelineName=PIPELINE, filter={"pipelineExecutionId": execution_id}
        )["actionExecutionDetails"]
        source = next(d for d in details if d["actionName"] == "Source")
        assert source["output"]["outputVariables"]["CommitId"] == commit
        build = next(d for d in details if d["actionName"] == "BuildImage")
        assert f"commit {commit}" in build["input"]["resolvedConfiguration"]["EnvironmentVariables"]

    # Replaying the archived events now, when main has long been at the second commit: the execution
    # of the first push's event still builds the first commit (the branch head would be the second).
    events = env.aws.client("events", account=PIPE)
    archive = events.describe_archive(ArchiveName="codecommit-events")
    assert archive["EventCount"] >= 2
    events.start_replay(
        ReplayName="again",
        EventSourceArn=archive["ArchiveArn"],
        EventStartTime=summaries[-1]["startTime"] - timedelta(minutes=1),
        EventEndTime=summaries[0]["lastUpdateTime"] + timedelta(minutes=1),
        Destination={"Arn": f"arn:aws:events:{REGION}:{PIPE}:event-bus/default"},
    )

    def replayed() -> list[dict]:
        summaries = env.cp.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"]
        done = [s for s in summaries if s["status"] == "Succeeded"]
        return summaries[:-2] if len(summaries) >= 4 and len(done) >= 4 else []

    again = wait_until("two executions started by the replayed events, finished", replayed, timeout=60)
    assert sorted(s["sourceRevisions"][0]["revisionId"] for s in again) == sorted([first, second])
    assert all(s["trigger"] == {"triggerType": "CloudWatchEvent", "triggerDetail": rule_arn} for s in again)


def test_a_manual_start_still_reports_its_caller_and_builds_the_branch_head(env, rule_arn):
    head = env.aws.client("codecommit", account=MGMT).get_branch(repositoryName="app", branchName="main")
    execution_id = env.cp.start_pipeline_execution(name=PIPELINE)["pipelineExecutionId"]
    env.wait_status(PIPELINE, execution_id, "Succeeded", timeout=30)
    [summary] = [
        s
        for s in env.cp.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"]
        if s["pipelineExecutionId"] == execution_id
    ]
    assert summary["trigger"]["triggerType"] == "StartPipelineExecution"
    assert summary["trigger"]["triggerDetail"].startswith(f"arn:aws:iam::{PIPE}:")
    assert summary["sourceRevisions"][0]["revisionId"] == head["branch"]["commitId"]
