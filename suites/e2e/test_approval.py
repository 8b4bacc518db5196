"""Approval gating: an execution stops at the manual approval with the deploy stage not started,
announces itself on the approval topic, refuses a wrong token, and goes on only when approved."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError
from conftest import BUILD_DEADLINE, TRIGGER_DEADLINE

from gitops_harness.pipeline import APPROVAL_STAGE, DEPLOY_STAGE
from gitops_harness.probes import SnsProbe

pytestmark = [pytest.mark.suite("pipeline"), pytest.mark.suite("approval")]


def _approve_action_config(pipeline) -> dict:
    declaration = pipeline.codepipeline.get_pipeline(name=pipeline.name)["pipeline"]
    stage = next(s for s in declaration["stages"] if s["name"] == APPROVAL_STAGE)
    return stage["actions"][0]["configuration"]


def test_execution_waits_at_the_approval_and_the_message_carries_token_and_custom_data(idle_pipeline):
    pipeline = idle_pipeline
    sns, sqs = pipeline.target.client("sns", "pipeline"), pipeline.target.client("sqs", "pipeline")
    tags = pipeline.target.resource_tags()  # aws: teardown and sweep find the probe by the run id
    with SnsProbe(sns, sqs, pipeline.deployment.approval_topic_arn, tags=tags) as probe:
        approval = pipeline.run_to_approval(
            {"VERSION": "5.0.0\n"},
            "needs approval",
            trigger_timeout=TRIGGER_DEADLINE,
            build_timeout=BUILD_DEADLINE,
        )
        notification = probe.wait_for(
            lambda n: json.loads(n.message).get("approval", {}).get("token") == approval.token,
            timeout=TRIGGER_DEADLINE,
            describe="the approval request for this execution",
        )
    message = json.loads(notification.message)["approval"]
    # CustomData names the image the build pushed (#{BuildVariables.IMAGE_URI}), resolved per execution.
    image_uri = json.loads(pipeline.output_artifact(approval.execution_id)["imageDetail.json"])["ImageURI"]
    configured = _approve_action_config(pipeline)["CustomData"]
    assert "#{BuildVariables.IMAGE_URI}" in configured
    assert message["customData"] == configured.replace("#{BuildVariables.IMAGE_URI}", image_uri)
    assert (message["pipelineName"], message["stageName"], message["actionName"]) == (
        pipeline.name,
        approval.stage,
        approval.action,
    )
    assert pipeline.stage_actions(approval.execution_id, DEPLOY_STAGE) == []
    assert pipeline.execution(approval.execution_id)["status"] == "InProgress"


def test_wrong_token_is_refused_and_the_approval_stays_pending(idle_pipeline):
    pipeline = idle_pipeline
    approval = pipeline.run_to_approval(
        {"VERSION": "5.1.0\n"}, "wrong token", trigger_timeout=TRIGGER_DEADLINE, build_timeout=BUILD_DEADLINE
    )
    with pytest.raises(ClientError) as refused:
        pipeline.answer(approval, "Approved", "with a guessed token", token=str(uuid.uuid4()))
    assert refused.value.response["Error"]["Code"] == "InvalidApprovalTokenException"
    assert pipeline.pending_approval(approval.execution_id) == approval
    assert pipeline.stage_actions(approval.execution_id, DEPLOY_STAGE) == []


def test_rejected_fails_the_stage_and_the_execution_and_deploys_nothing(idle_pipeline):
    pipeline = idle_pipeline
    approval = pipeline.run_to_approval(
        {"VERSION": "5.2.0\n"},
        "to be rejected",
        trigger_timeout=TRIGGER_DEADLINE,
        build_timeout=BUILD_DEADLINE,
    )
    pipeline.answer(approval, "Rejected", "not this one")
    execution = pipeline.wait_until_finished(approval.execution_id, timeout=TRIGGER_DEADLINE)
    assert execution["status"] == "Failed"
    [approve_action] = pipeline.stage_actions(approval.execution_id, APPROVAL_STAGE)
    assert approve_action["status"] == "Failed"
    assert pipeline.stage_actions(approval.execution_id, DEPLOY_STAGE) == []
    with pytest.raises(ClientError) as again:
        pipeline.answer(approval, "Approved", "too late")
    assert again.value.response["Error"]["Code"] in (
        "ApprovalAlreadyCompletedException",
        "InvalidApprovalTokenException",
    )


def test_approved_moves_the_execution_into_the_deploy_stage(idle_pipeline):
    pipeline = idle_pipeline
    approval = pipeline.run_to_approval(
        {"VERSION": "5.3.0\n"},
        "to be approved",
        trigger_timeout=TRIGGER_DEADLINE,
        build_timeout=BUILD_DEADLINE,
    )
    pipeline.answer(approval, "Approved", "ship it")
    [approve_action] = pipeline.stage_actions(approval.execution_id, APPROVAL_STAGE)
    assert approve_action["status"] == "Succeeded"
    deploy = pipeline.wait_for_stage_action(approval.execution_id, DEPLOY_STAGE, timeout=TRIGGER_DEADLINE)
    assert deploy["actionName"] and deploy["status"] in ("InProgress", "Succeeded", "Failed")
    with pytest.raises(ClientError) as twice:
        pipeline.answer(approval, "Approved", "again")
    assert twice.value.response["Error"]["Code"] in (
        "ApprovalAlreadyCompletedException",
        "InvalidApprovalTokenException",
    )
