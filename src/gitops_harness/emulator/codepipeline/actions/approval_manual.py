"""Manual approval: a token, an SNS message in AWS's format, then wait for PutApprovalResult or the timeout.

The plane's PutApprovalResult sets `run.approval` and fires `run.wake`; the action wakes, and succeeds
on Approved or fails on Rejected. No answer within timeoutInMinutes (default 7 days, in AWS time, so
scaled by the time scale) fails the action.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from typing import Any

from gitops_harness.emulator.codepipeline.actions.base import ActionContext, ActionFailed, ActionOutcome
from gitops_harness.emulator.scheduler import WaitFor

DEFAULT_TIMEOUT_MINUTES = 7 * 24 * 60


def approval_message(ctx: ActionContext, token: str, expires: datetime) -> dict[str, Any]:
    console = (
        f"https://console.aws.amazon.com/codepipeline/home?region={ctx.region}#/view/{ctx.pipeline.name}"
    )
    approval: dict[str, Any] = {
        "pipelineName": ctx.pipeline.name,
        "stageName": ctx.run.stage,
        "actionName": ctx.run.name,
        "token": token,
        "expires": expires.strftime("%Y-%m-%dT%H:%MZ"),
        "externalEntityLink": ctx.configuration.get("ExternalEntityLink"),
        "approvalReviewLink": (
            f"https://console.aws.amazon.com/codepipeline/home?region={ctx.region}#/approval/"
            f"{ctx.pipeline.name}/{ctx.run.stage}/{ctx.run.name}/{token}"
        ),
        "customData": ctx.configuration.get("CustomData"),
    }
    return {"region": ctx.region, "consoleLink": console, "approval": approval}


def run(ctx: ActionContext) -> Generator[Any, Any, ActionOutcome]:
    token = str(uuid.uuid4())
    minutes = ctx.declaration.get("timeoutInMinutes") or DEFAULT_TIMEOUT_MINUTES
    expires = datetime.now(UTC) + timedelta(minutes=minutes)
    ctx.set_token(token)
    topic = ctx.configuration.get("NotificationArn")
    if topic:
        message = approval_message(ctx, token, expires)
        try:
            ctx.pipeline_clients("sns").publish(
                TopicArn=topic,
                Subject=f"APPROVAL NEEDED: AWS CodePipeline {ctx.pipeline.name} for action {ctx.run.name}"[
                    :100
                ],
                Message=json.dumps(message),
            )
        except Exception as exc:
            raise ActionFailed(f"Unable to publish the approval notification to {topic}: {exc}") from None
    deadline = ctx.clock_deadline(minutes * 60)
    while (result := ctx.approval()) is None:
        remaining = ctx.remaining(deadline)
        if remaining <= 0:
            raise ActionFailed(
                "The approval action timed out: no response within the action's timeout", "Timeout"
            )
        ctx.run.wake.clear()
        if ctx.approval() is None:
            yield WaitFor(ctx.run.wake, timeout=remaining)
    summary = result.get("summary") or None
    if result["status"] == "Rejected":
        raise ActionFailed(summary or "Rejected", "Rejected")
    return ActionOutcome(summary=summary)
