"""CodePipeline executions end to end on the embedded AWS: CodeCommit source in another account, a demo
build, manual approval, CodeDeployToECS against a demo CodeDeploy, events on EventBridge."""

from __future__ import annotations

import json
import time

import pytest
from codepipeline_demo_planes import DemoCodeBuild, DemoCodeDeploy
from codepipeline_fixtures import BUCKET, MGMT, PIPE, Environment, commit, plane, wait_until

from gitops_harness.emulator.codecommit.plane import CodeCommit
from gitops_harness.emulator.codepipeline.plane import CodePipeline
from gitops_harness.emulator.testing import running_emulator


@pytest.fixture(scope="module")
def env():
    # one AWS minute = 0.06 s: build polls (5 s) take 5 ms, a 5-minute approval timeout 0.3 s
    with running_emulator(
        planes=[CodeCommit, CodePipeline, DemoCodeBuild, DemoCodeDeploy], time_scale=0.001
    ) as aws:
        yield Environment(aws, plane(aws, CodeCommit))


def test_full_run_approved_and_deployed(env):
    cp = env.cp
    cp.create_pipeline(pipeline=env.declaration("full"))
    started = time.monotonic()
    execution_id = cp.start_pipeline_execution(name="full")["pipelineExecutionId"]
    token = wait_until("the approval token", lambda: env.pending_token("full", execution_id))
    latency = time.monotonic() - started
    print(f"start -> approval pending: {latency:.3f}s")

    with pytest.raises(cp.exceptions.InvalidApprovalTokenException):
        cp.put_approval_result(
            pipelineName="full",
            stageName="Approve",
            actionName="ApproveDeployment",
            result={"summary": "x", "status": "Approved"},
            token="0" * 8 + "-0000-0000-0000-" + "0" * 12,
        )

    # the approval message, in AWS's format, with CustomData's variable resolved from the build
    sqs = env.aws.client("sqs", account=PIPE)
    messages = wait_until(
        "the approval SNS message", lambda: sqs.receive_message(QueueUrl=env.approvals).get("Messages")
    )
    message = json.loads(messages[0]["Body"])
    assert message["approval"]["token"] == token
    assert message["approval"]["pipelineName"] == "full" and message["approval"]["stageName"] == "Approve"
    assert message["approval"]["customData"].startswith(
        f"Deploy {PIPE}.dkr.ecr.us-east-1.amazonaws.com/app@sha256:"
    )
    assert message["approval"]["approvalReviewLink"].endswith(f"/full/Approve/ApproveDeployment/{token}")
    assert message["consoleLink"] and message["region"] == "us-east-1" and message["approval"]["expires"]

    cp.put_approval_result(
        pipelineName="full",
        stageName="Approve",
        actionName="ApproveDeployment",
        result={"summary": "ship it", "status": "Approved"},
        token=token,
    )
    with pytest.raises(cp.exceptions.ApprovalAlreadyCompletedException):
        cp.put_approval_result(
            pipelineName="full",
            stageName="Approve",
            actionName="ApproveDeployment",
            result={"summary": "again", "status": "Approved"},
            token=token,
        )

    # the deploy action waits for the deployment, then follows its status
    deploy = wait_until(
        "the deployment", lambda: env.action_state("full", "Deploy").get("externalExecutionId")
    )
    assert env.action_state("full", "Deploy")["status"] == "InProgress"
    assert env.status("full", execution_id) == "InProgress"
    codedeploy = plane(env.aws, DemoCodeDeploy)
    appspec = codedeploy.store.get(PIPE, "us-east-1").deployments[deploy]["revision"]["appSpecContent"][
        "content"
    ]
    assert f"arn:aws:ecs:us-east-1:{PIPE}:task-definition/app:" in appspec
    assert codedeploy.finish(PIPE, "Succeeded") == [deploy]
    env.wait_status("full", execution_id, "Succeeded")

    summary = cp.list_pipeline_executions(pipelineName="full")["pipelineExecutionSummaries"][0]
    assert summary["sourceRevisions"][0]["revisionId"] == env.head
    assert summary["sourceRevisions"][0]["revisionSummary"] == "first commit"
    details = {
        d["actionName"]: d
        for d in cp.list_action_executions(pipelineName="full", filter={"pipelineExecutionId": execution_id})[
            "actionExecutionDetails"
        ]
    }
    source_vars = details["Source"]["output"]["outputVariables"]
    assert source_vars["CommitId"] == env.head and source_vars["BranchName"] == "main"
    assert source_vars["RepositoryName"] == "app" and source_vars["CommitMessage"] == "first commit"
    assert source_vars["AuthorDate"].endswith("Z") and source_vars["CommitterDate"].endswith("Z")
    assert details["BuildImage"]["output"]["outputVariables"]["STAGE_LABEL"] == f"commit {env.head}"
    assert details["ApproveDeployment"]["updatedBy"]
    # the CodeBuild contract: the input artifact as an S3 source, the output location as the override
    request = plane(env.aws, DemoCodeBuild).requests[-1]
    assert request["sourceTypeOverride"] == "S3"
    assert request["sourceLocationOverride"].startswith(f"{BUCKET}/full/SourceOutput/")
    assert request["encryptionKeyOverride"] == env.key_arn
    # artifacts are SSE-KMS objects under <pipeline>/<artifact>/ in the artifact bucket
    location = details["Source"]["output"]["outputArtifacts"][0]["s3location"]
    head = env.aws.client("s3", account=PIPE).head_object(Bucket=location["bucket"], Key=location["key"])
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == env.key_arn

    for detail_type, state in [
        ("CodePipeline Pipeline Execution State Change", "STARTED"),
        ("CodePipeline Stage Execution State Change", "SUCCEEDED"),
        ("CodePipeline Action Execution State Change", "SUCCEEDED"),
        ("CodePipeline Pipeline Execution State Change", "SUCCEEDED"),
    ]:
        event = env.wait_event(
            lambda e, dt=detail_type, st=state: (
                e["detail-type"] == dt
                and e["detail"]["state"] == st
                and e["detail"]["execution-id"] == execution_id
            ),
            f"{detail_type} {state}",
        )
        assert event["source"] == "aws.codepipeline" and event["account"] == PIPE
        assert event["resources"] == [f"arn:aws:codepipeline:us-east-1:{PIPE}:full"]


def test_rejected_fails_stage_and_execution_then_retry(env):
    cp = env.cp
    cp.create_pipeline(pipeline=env.declaration("reject", deploy=False))
    execution_id = cp.start_pipeline_execution(name="reject")["pipelineExecutionId"]
    token = wait_until("the approval token", lambda: env.pending_token("reject", execution_id))
    cp.put_approval_result(
        pipelineName="reject",
        stageName="Approve",
        actionName="ApproveDeployment",
        result={"summary": "no", "status": "Rejected"},
        token=token,
    )
    env.wait_status("reject", execution_id, "Failed")
    state = {s["stageName"]: s for s in cp.get_pipeline_state(name="reject")["stageStates"]}
    assert state["Approve"]["latestExecution"]["status"] == "Failed"
    assert state["Approve"]["actionStates"][0]["latestExecution"]["status"] == "Failed"
    assert "token" not in state["Approve"]["actionStates"][0]["latestExecution"]
    with pytest.raises(cp.exceptions.StageNotRetryableException):
        cp.retry_stage_execution(
            pipelineName="reject",
            stageName="Build",
            pipelineExecutionId=execution_id,
            retryMode="FAILED_ACTIONS",
        )

    cp.retry_stage_execution(
        pipelineName="reject",
        stageName="Approve",
        pipelineExecutionId=execution_id,
        retryMode="FAILED_ACTIONS",
    )
    token2 = wait_until("a new approval token", lambda: env.pending_token("reject", execution_id))
    assert token2 != token and env.status("reject", execution_id) == "InProgress"
    cp.put_approval_result(
        pipelineName="reject",
        stageName="Approve",
        actionName="ApproveDeployment",
        result={"summary": "ok now", "status": "Approved"},
        token=token2,
    )
    env.wait_status("reject", execution_id, "Succeeded")
    env.wait_event(
        lambda e: e["detail"]["state"] == "RESUMED" and e["detail"]["execution-id"] == execution_id,
        "the RESUMED event of the retry",
    )


def test_superseded_at_the_approval_boundary(env):
    cp = env.cp
    cp.create_pipeline(pipeline=env.declaration("super", deploy=False))
    first = cp.start_pipeline_execution(name="super")["pipelineExecutionId"]
    wait_until("the first at the approval", lambda: env.pending_token("super", first))
    second = cp.start_pipeline_execution(name="super")["pipelineExecutionId"]
    wait_until(
        "the second waiting at Approve",
        lambda: [
            s
            for s in cp.get_pipeline_state(name="super")["stageStates"]
            if s["stageName"] == "Approve"
            and s.get("inboundExecution", {}).get("pipelineExecutionId") == second
        ],
    )
    third = cp.start_pipeline_execution(name="super")["pipelineExecutionId"]
    env.wait_status("super", second, "Superseded")
    assert env.status("super", first) == "InProgress" and env.status("super", third) == "InProgress"
    token = env.pending_token("super", first)
    cp.put_approval_result(
        pipelineName="super",
        stageName="Approve",
        actionName="ApproveDeployment",
        result={"summary": "ok", "status": "Approved"},
        token=token,
    )
    env.wait_status("super", first, "Succeeded")
    wait_until("the third at the approval", lambda: env.pending_token("super", third))
    env.wait_event(
        lambda e: e["detail"]["state"] == "SUPERSEDED" and e["detail"]["execution-id"] == second,
        "the SUPERSEDED event",
    )
    cp.stop_pipeline_execution(pipelineName="super", pipelineExecutionId=third, abandon=True, reason="done")
    env.wait_status("super", third, "Stopped")


def test_disabled_transition_holds_the_execution(env):
    cp = env.cp
    cp.create_pipeline(pipeline=env.declaration("hold", approval=False, deploy=False))
    cp.disable_stage_transition(
        pipelineName="hold", stageName="Build", transitionType="Inbound", reason="freeze"
    )
    execution_id = cp.start_pipeline_execution(name="hold")["pipelineExecutionId"]
    build = wait_until(
        "the execution at the Build boundary",
        lambda: [
            s
            for s in cp.get_pipeline_state(name="hold")["stageStates"]
            if s["stageName"] == "Build" and s.get("inboundExecution")
        ],
    )[0]
    assert build["inboundTransitionState"]["enabled"] is False
    assert build["inboundTransitionState"]["disabledReason"] == "freeze"
    assert "latestExecution" not in build and env.status("hold", execution_id) == "InProgress"
    cp.enable_stage_transition(pipelineName="hold", stageName="Build", transitionType="Inbound")
    env.wait_status("hold", execution_id, "Succeeded")


def test_failed_build_fails_with_the_build_status(env):
    env.cp.create_pipeline(
        pipeline=env.declaration("bfail", project="fail-build", approval=False, deploy=False)
    )
    execution_id = env.cp.start_pipeline_execution(name="bfail")["pipelineExecutionId"]
    env.wait_status("bfail", execution_id, "Failed")
    latest = env.action_state("bfail", "Build")
    assert latest["errorDetails"]["message"].startswith("Build terminated with state: FAILED. Phase: BUILD")
    assert "codebuild" in latest["externalExecutionUrl"]


def test_deploy_fails_without_the_image_placeholder(env):
    taskdef = {"family": "app", "containerDefinitions": [{"name": "app", "image": "nginx:latest"}]}
    commit(
        env.aws,
        env.codecommit_plane,
        "app",
        "no-placeholder",
        {"taskdef.json": json.dumps(taskdef).encode()},
        "pinned image",
    )
    env.cp.create_pipeline(pipeline=env.declaration("noplace", branch="no-placeholder", approval=False))
    execution_id = env.cp.start_pipeline_execution(name="noplace")["pipelineExecutionId"]
    env.wait_status("noplace", execution_id, "Failed")
    latest = env.action_state("noplace", "Deploy")
    assert latest["status"] == "Failed"
    assert "The AWS ECS container IMAGE1_NAME does not exist" in latest["errorDetails"]["message"]
    assert "<IMAGE1_NAME>" in latest["errorDetails"]["message"]


def test_approval_times_out(env):
    env.cp.create_pipeline(pipeline=env.declaration("timeout", deploy=False, approval_timeout=5))
    execution_id = env.cp.start_pipeline_execution(name="timeout")["pipelineExecutionId"]
    env.wait_status("timeout", execution_id, "Failed")
    assert env.action_state("timeout", "Approve")["errorDetails"]["code"] == "Timeout"


def test_source_revision_override_and_missing_repository_role(env):
    older = env.head
    commit(env.aws, env.codecommit_plane, "app", "main", {"README.md": b"v2\n"}, "second commit")
    env.cp.create_pipeline(pipeline=env.declaration("override", approval=False, deploy=False))
    execution_id = env.cp.start_pipeline_execution(
        name="override",
        sourceRevisions=[{"actionName": "Source", "revisionType": "COMMIT_ID", "revisionValue": older}],
    )["pipelineExecutionId"]
    env.wait_status("override", execution_id, "Succeeded")
    summary = env.cp.list_pipeline_executions(pipelineName="override")["pipelineExecutionSummaries"][0]
    assert summary["sourceRevisions"][0]["revisionId"] == older
    # the source action read the repository in its account as the role the pipeline role assumed
    details = env.cp.list_action_executions(pipelineName="override")["actionExecutionDetails"]
    source = next(d for d in details if d["actionName"] == "Source")
    assert source["input"]["roleArn"].startswith(f"arn:aws:iam::{MGMT}:role/")
