"""Shape-test requests for every CodePipeline operation (tests/emulator/test_shapes.py).

They run against this plane alone, so the pipeline is an S3 source (served by moto) and a manual
approval: the callables create the buckets first and wait for the execution to reach the states the
next operation needs (approval pending, stage failed), each with a deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gitops_harness.emulator.codepipeline.artifact_store import make_zip
from gitops_harness.emulator.codepipeline.plane import CodePipeline
from gitops_harness.waiting import wait_until
from shape_samples import Sample

ACCOUNT = "111111111111"
NAME = "shape-pipeline"
ARTIFACTS = "shape-pipeline-artifacts"
SOURCE = "shape-pipeline-source"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/shape-pipeline-role"
ARN = f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:{NAME}"


def declaration() -> dict[str, Any]:
    return {
        "name": NAME,
        "roleArn": ROLE,
        "pipelineType": "V2",
        "executionMode": "SUPERSEDED",
        "artifactStore": {"type": "S3", "location": ARTIFACTS},
        "stages": [
            {
                "name": "Source",
                "actions": [
                    {
                        "name": "Source",
                        "actionTypeId": {
                            "category": "Source",
                            "owner": "AWS",
                            "provider": "S3",
                            "version": "1",
                        },
                        "configuration": {
                            "S3Bucket": SOURCE,
                            "S3ObjectKey": "src.zip",
                            "PollForSourceChanges": "false",
                        },
                        "outputArtifacts": [{"name": "Src"}],
                        "runOrder": 1,
                    }
                ],
            },
            {
                "name": "Approve",
                "actions": [
                    {
                        "name": "Approval",
                        "actionTypeId": {
                            "category": "Approval",
                            "owner": "AWS",
                            "provider": "Manual",
                            "version": "1",
                        },
                        "configuration": {"CustomData": "run #{codepipeline.PipelineExecutionId}?"},
                        "runOrder": 1,
                    }
                ],
            },
        ],
    }


def _wait(plane: CodePipeline, what: str, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Until the plane's state satisfies `predicate` (it has no event for these states), with a deadline."""

    def check() -> bool:
        with plane.lock:
            return predicate()

    wait_until(check, timeout=timeout, describe_expected=f"shape samples: {what}", interval=0.02)


def samples(plane: CodePipeline) -> list[Sample]:
    def pipeline() -> Any:
        return plane.store.get(ACCOUNT, "us-east-1").pipelines[NAME]

    def create(_: dict) -> dict[str, Any]:
        s3 = plane.runtime.clients.for_account("s3", ACCOUNT)
        for bucket in (ARTIFACTS, SOURCE):
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=SOURCE, Key="src.zip", Body=make_zip({"README": b"shape"}))
        return {"pipeline": declaration(), "tags": [{"key": "team", "value": "a"}]}

    def execution_id(answers: dict) -> str:
        return answers["StartPipelineExecution"]["pipelineExecutionId"]

    def approval_pending(answers: dict) -> dict[str, Any]:
        def pending() -> bool:
            run = pipeline().executions[execution_id(answers)].stages.get("Approve")
            return run is not None and "Approval" in run.actions and run.actions["Approval"].token is not None

        _wait(plane, "the approval to be pending", pending)
        return {"name": NAME}

    def reject(answers: dict) -> dict[str, Any]:
        [stage] = [s for s in answers["GetPipelineState"]["stageStates"] if s["stageName"] == "Approve"]
        return {
            "pipelineName": NAME,
            "stageName": "Approve",
            "actionName": "Approval",
            "result": {"summary": "not now", "status": "Rejected"},
            "token": stage["actionStates"][0]["latestExecution"]["token"],
        }

    def retry(answers: dict) -> dict[str, Any]:
        _wait(
            plane,
            "the execution to fail",
            lambda: pipeline().executions[execution_id(answers)].status == "Failed",
        )
        return {
            "pipelineName": NAME,
            "stageName": "Approve",
            "pipelineExecutionId": execution_id(answers),
            "retryMode": "FAILED_ACTIONS",
        }

    return [
        Sample("CreatePipeline", create),
        Sample("GetPipeline", {"name": NAME}),
        Sample("UpdatePipeline", {"pipeline": declaration()}),
        Sample("ListPipelines"),
        Sample("StartPipelineExecution", {"name": NAME, "clientRequestToken": "shape-token-1"}),
        Sample(
            "GetPipelineExecution", lambda a: {"pipelineName": NAME, "pipelineExecutionId": execution_id(a)}
        ),
        Sample("GetPipelineState", approval_pending),
        Sample("PutApprovalResult", reject),
        Sample("RetryStageExecution", retry),
        Sample("ListPipelineExecutions", {"pipelineName": NAME}),
        Sample(
            "ListActionExecutions",
            lambda a: {"pipelineName": NAME, "filter": {"pipelineExecutionId": execution_id(a)}},
        ),
        Sample(
            "DisableStageTransition",
            {"pipelineName": NAME, "stageName": "Approve", "transitionType": "Inbound", "reason": "freeze"},
        ),
        Sample("GetPipelineState", {"name": NAME}),
        Sample(
            "EnableStageTransition",
            {"pipelineName": NAME, "stageName": "Approve", "transitionType": "Inbound"},
        ),
        Sample(
            "StopPipelineExecution",
            lambda a: {
                "pipelineName": NAME,
                "pipelineExecutionId": execution_id(a),
                "abandon": True,
                "reason": "shape test",
            },
        ),
        Sample("TagResource", {"resourceArn": ARN, "tags": [{"key": "cost", "value": "b"}]}),
        Sample("UntagResource", {"resourceArn": ARN, "tagKeys": ["team"]}),
        Sample("ListTagsForResource", {"resourceArn": ARN}),
        Sample("DeletePipeline", {"name": NAME}),
    ]
