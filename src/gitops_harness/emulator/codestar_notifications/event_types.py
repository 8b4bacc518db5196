"""The notification event types of the developer tools (Developer Tools console user guide, "Events for
notification rules"), and which EventBridge event is which of them.

A notification rule names a resource (a build project, pipeline, deployment application or repository)
and event type ids of that resource's service. `event_type_ids(event)` answers, for one event on a bus,
the resource ARN it is about and the event type ids it fires; CodeStar Notifications matches both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EventType:
    id: str
    name: str  # as ListEventTypes shows it: "<group>: <state>"
    service: str  # ServiceName: CodeBuild | CodePipeline | CodeDeploy | CodeCommit
    resource_type: str  # ResourceType: Project | Pipeline | Application | Repository


# (ARN service, ServiceName, ResourceType, id prefix, [(id suffix, name)])
_GROUPS: tuple[tuple[str, str, str, str, tuple[tuple[str, str], ...]], ...] = (
    ("codebuild", "CodeBuild", "Project", "codebuild-project-", (
        ("build-state-failed", "Build state: Failed"),
        ("build-state-succeeded", "Build state: Succeeded"),
        ("build-state-in-progress", "Build state: In-progress"),
        ("build-state-stopped", "Build state: Stopped"),
        ("build-phase-failure", "Build phase: Failure"),
        ("build-phase-success", "Build phase: Success"),
    )),
    ("codepipeline", "CodePipeline", "Pipeline", "codepipeline-pipeline-", (
        ("action-execution-succeeded", "Action execution: Succeeded"),
        ("action-execution-failed", "Action execution: Failed"),
        ("action-execution-canceled", "Action execution: Canceled"),
        ("action-execution-started", "Action execution: Started"),
        ("stage-execution-started", "Stage execution: Started"),
        ("stage-execution-succeeded", "Stage execution: Succeeded"),
        ("stage-execution-resumed", "Stage execution: Resumed"),
        ("stage-execution-canceled", "Stage execution: Canceled"),
        ("stage-execution-failed", "Stage execution: Failed"),
        ("pipeline-execution-failed", "Pipeline execution: Failed"),
        ("pipeline-execution-canceled", "Pipeline execution: Canceled"),
        ("pipeline-execution-started", "Pipeline execution: Started"),
        ("pipeline-execution-resumed", "Pipeline execution: Resumed"),
        ("pipeline-execution-succeeded", "Pipeline execution: Succeeded"),
        ("pipeline-execution-superseded", "Pipeline execution: Superseded"),
        ("manual-approval-failed", "Manual approval: Failed"),
        ("manual-approval-needed", "Manual approval: Needed"),
        ("manual-approval-succeeded", "Manual approval: Succeeded"),
    )),
    ("codedeploy", "CodeDeploy", "Application", "codedeploy-application-", (
        ("deployment-failed", "Deployment: Failed"),
        ("deployment-succeeded", "Deployment: Succeeded"),
        ("deployment-started", "Deployment: Started"),
    )),
    ("codecommit", "CodeCommit", "Repository", "codecommit-repository-", (
        ("comments-on-commits", "Comments: On commits"),
        ("comments-on-pull-requests", "Comments: On pull requests"),
        ("approvals-status-changed", "Approvals: Status changed"),
        ("approvals-rule-override", "Approvals: Rule override"),
        ("pull-request-created", "Pull request: Created"),
        ("pull-request-source-updated", "Pull request: Source updated"),
        ("pull-request-status-changed", "Pull request: Status changed"),
        ("pull-request-merged", "Pull request: Merged"),
        ("branches-and-tags-created", "Branches and tags: Created"),
        ("branches-and-tags-deleted", "Branches and tags: Deleted"),
        ("branches-and-tags-updated", "Branches and tags: Updated"),
    )),
)  # fmt: skip

EVENT_TYPES: dict[str, EventType] = {
    prefix + suffix: EventType(prefix + suffix, name, service_name, resource_type)
    for _, service_name, resource_type, prefix, types in _GROUPS
    for suffix, name in types
}
# the ARN service of each event type's resource ("codebuild" for codebuild-project-*)
ARN_SERVICE: dict[str, str] = {
    prefix + suffix: arn_service for arn_service, _, _, prefix, types in _GROUPS for suffix, _ in types
}
# EventBridge sources whose events can become notifications: the managed rule's pattern
SOURCES: tuple[str, ...] = tuple(f"aws.{arn_service}" for arn_service, *_ in _GROUPS)

_BUILD_STATES = {
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "STOPPED": "stopped",
    "IN_PROGRESS": "in-progress",
}
_PHASE_FAILURES = {"FAILED", "FAULT", "TIMED_OUT", "CLIENT_ERROR", "STOPPED"}
_PIPELINE_STATES = {
    "STARTED": "started", "SUCCEEDED": "succeeded", "FAILED": "failed",
    "CANCELED": "canceled", "RESUMED": "resumed", "SUPERSEDED": "superseded",
}  # fmt: skip
_APPROVAL_STATES = {"STARTED": "needed", "SUCCEEDED": "succeeded", "FAILED": "failed"}
_DEPLOYMENT_STATES = {"SUCCESS": "succeeded", "FAILURE": "failed", "START": "started"}
_REFERENCE_EVENTS = {
    "referenceCreated": "created",
    "referenceUpdated": "updated",
    "referenceDeleted": "deleted",
}
_PULL_REQUEST_EVENTS = {
    "pullRequestCreated": "pull-request-created",
    "pullRequestSourceBranchUpdated": "pull-request-source-updated",
    "pullRequestStatusChanged": "pull-request-status-changed",
    "pullRequestApprovalStateChanged": "approvals-status-changed",
    "pullRequestApprovalRuleOverridden": "approvals-rule-override",
}


@dataclass(frozen=True)
class Match:
    resource_arn: str
    event_type_ids: tuple[str, ...]


def event_type_ids(event: Mapping[str, Any]) -> Match | None:
    """The resource and event type ids one EventBridge event fires, or None when it fires none."""
    source, kind = event.get("source"), event.get("detail-type")
    detail = event.get("detail") if isinstance(event.get("detail"), Mapping) else {}
    region, account = event.get("region", ""), event.get("account", "")
    ids: list[str] = []
    if source == "aws.codebuild" and detail.get("project-name"):
        resource = f"arn:aws:codebuild:{region}:{account}:project/{detail['project-name']}"
        if kind == "CodeBuild Build State Change" and detail.get("build-status") in _BUILD_STATES:
            ids.append(f"codebuild-project-build-state-{_BUILD_STATES[detail['build-status']]}")
        elif kind == "CodeBuild Build Phase Change":
            status = detail.get("completed-phase-status")
            if status == "SUCCEEDED":
                ids.append("codebuild-project-build-phase-success")
            elif status in _PHASE_FAILURES:
                ids.append("codebuild-project-build-phase-failure")
    elif source == "aws.codepipeline" and detail.get("pipeline"):
        resource = f"arn:aws:codepipeline:{region}:{account}:{detail['pipeline']}"
        state = _PIPELINE_STATES.get(str(detail.get("state")))
        level = {
            "CodePipeline Pipeline Execution State Change": "pipeline-execution",
            "CodePipeline Stage Execution State Change": "stage-execution",
            "CodePipeline Action Execution State Change": "action-execution",
        }.get(str(kind))
        if level and state:
            ids.append(f"codepipeline-pipeline-{level}-{state}")
        action_type = detail.get("type") if isinstance(detail.get("type"), Mapping) else {}
        if level == "action-execution" and action_type.get("category") == "Approval":
            approval = _APPROVAL_STATES.get(str(detail.get("state")))
            if approval:
                ids.append(f"codepipeline-pipeline-manual-approval-{approval}")
    elif source == "aws.codedeploy" and detail.get("application"):
        resource = f"arn:aws:codedeploy:{region}:{account}:application:{detail['application']}"
        state = _DEPLOYMENT_STATES.get(str(detail.get("state")))
        if kind == "CodeDeploy Deployment State-change Notification" and state:
            ids.append(f"codedeploy-application-deployment-{state}")
    elif source == "aws.codecommit" and detail.get("repositoryName"):
        resource = f"arn:aws:codecommit:{region}:{account}:{detail['repositoryName']}"
        what = str(detail.get("event"))
        if kind == "CodeCommit Repository State Change" and what in _REFERENCE_EVENTS:
            ids.append(f"codecommit-repository-branches-and-tags-{_REFERENCE_EVENTS[what]}")
        elif kind == "CodeCommit Pull Request State Change":
            if what == "pullRequestMergeStatusUpdated" and detail.get("isMerged") in (True, "True"):
                ids.append("codecommit-repository-pull-request-merged")
            elif what in _PULL_REQUEST_EVENTS:
                ids.append(f"codecommit-repository-{_PULL_REQUEST_EVENTS[what]}")
        elif kind == "CodeCommit Comment on Commit":
            ids.append("codecommit-repository-comments-on-commits")
        elif kind == "CodeCommit Comment on Pull Request":
            ids.append("codecommit-repository-comments-on-pull-requests")
    else:
        return None
    return Match(resource, tuple(ids)) if ids else None
