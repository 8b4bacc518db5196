"""The EventBridge events CodePipeline emits on every state change, put on the pipeline account's default bus.

detail-types: "CodePipeline Pipeline Execution State Change", "CodePipeline Stage Execution State Change",
"CodePipeline Action Execution State Change"; states in the event are upper case (STARTED, SUCCEEDED,
FAILED, CANCELED, SUPERSEDED, STOPPING, STOPPED, RESUMED; actions also ABANDONED).
"""

from __future__ import annotations

from typing import Any

from gitops_harness.emulator.common.events import event_entry

SOURCE = "aws.codepipeline"

PIPELINE = "CodePipeline Pipeline Execution State Change"
STAGE = "CodePipeline Stage Execution State Change"
ACTION = "CodePipeline Action Execution State Change"

# API status -> the event's state
EVENT_STATE = {
    "InProgress": "STARTED",
    "Succeeded": "SUCCEEDED",
    "Failed": "FAILED",
    "Cancelled": "CANCELED",
    "Superseded": "SUPERSEDED",
    "Stopping": "STOPPING",
    "Stopped": "STOPPED",
    "Abandoned": "ABANDONED",
}


def _iso(value: Any) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def pipeline_detail(execution: Any, state: str) -> dict[str, Any]:
    return {
        "pipeline": execution.pipeline_name,
        "execution-id": execution.execution_id,
        "start-time": _iso(execution.start_time),
        "execution-trigger": {
            "trigger-type": execution.trigger.get("triggerType", "StartPipelineExecution"),
            "trigger-detail": execution.trigger.get("triggerDetail", ""),
        },
        "state": state,
        "version": float(execution.pipeline_version),
        "pipeline-execution-attempt": float(execution.attempt),
    }


def stage_detail(execution: Any, stage: str, state: str) -> dict[str, Any]:
    return {
        "pipeline": execution.pipeline_name,
        "execution-id": execution.execution_id,
        "start-time": _iso(execution.start_time),
        "stage": stage,
        "state": state,
        "version": float(execution.pipeline_version),
        "pipeline-execution-attempt": float(execution.attempt),
    }


def action_detail(execution: Any, run: Any, region: str, state: str) -> dict[str, Any]:
    type_id = run.declaration["actionTypeId"]
    detail: dict[str, Any] = {
        "pipeline": execution.pipeline_name,
        "execution-id": execution.execution_id,
        "start-time": _iso(execution.start_time),
        "stage": run.stage,
        "action-execution-id": run.action_execution_id,
        "action": run.name,
        "state": state,
        "region": run.declaration.get("region") or region,
        "type": {
            "owner": type_id["owner"],
            "provider": type_id["provider"],
            "category": type_id["category"],
            "version": type_id["version"],
        },
        "version": float(execution.pipeline_version),
        "pipeline-execution-attempt": float(execution.attempt),
    }
    if run.input_artifacts:
        detail["input-artifacts"] = [_artifact(a) for a in run.input_artifacts]
    if run.output_artifacts and state == "SUCCEEDED":
        detail["output-artifacts"] = [_artifact(a) for a in run.output_artifacts]
    if state == "FAILED" and run.error:
        detail["execution-result"] = {
            "external-execution-summary": run.error.get("message", ""),
            "external-execution-id": run.external_id or "",
            "error-code": run.error.get("code", ""),
        }
    return detail


def _artifact(detail: dict[str, Any]) -> dict[str, Any]:
    location = detail["s3location"]
    return {"name": detail["name"], "s3location": {"bucket": location["bucket"], "key": location["key"]}}


def entry(pipeline_arn: str, detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    """The PutEvents entry of one state change (the pipeline account's default bus)."""
    return event_entry(SOURCE, detail_type, detail, resources=[pipeline_arn])
