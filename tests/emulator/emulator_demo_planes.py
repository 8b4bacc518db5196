"""Test-only control planes that prove the machinery on each wire protocol (the real planes come later):
json (codecommit), smithy-rpc-v2-cbor (codepipeline) and rest-json (codestar-notifications)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shape_samples import Sample

from gitops_harness.emulator.controlplane import ControlPlane, RequestContext, Runtime, Store
from gitops_harness.emulator.exceptions import ModeledErrors

ACCOUNT = "111111111111"


@dataclass
class Repo:
    name: str
    description: str
    created: datetime
    blobs: dict[str, bytes] = field(default_factory=dict)


@dataclass
class RepoState:
    repos: dict[str, Repo] = field(default_factory=dict)


class DemoCodeCommit(ControlPlane):
    service_name = "codecommit"
    errors = ModeledErrors("codecommit")

    def __init__(self, runtime: Runtime):
        super().__init__(runtime)
        self.store: Store[RepoState] = Store(RepoState)

    def CreateRepository(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        state = self.store[ctx]
        name = request["repositoryName"]
        if name in state.repos:
            raise self.errors.RepositoryNameExistsException(f"Repository named {name} already exists")
        repo = state.repos[name] = Repo(name, request.get("repositoryDescription", ""), datetime.now(UTC))
        repo.blobs["b1"] = b"\x00binary\xffcontent"
        return {"repositoryMetadata": self._metadata(ctx, repo)}

    def GetRepository(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        repo = self.store[ctx].repos.get(request["repositoryName"])
        if repo is None:
            raise self.errors.RepositoryDoesNotExistException(f"{request['repositoryName']} does not exist")
        return {"repositoryMetadata": self._metadata(ctx, repo)}

    def GetBlob(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        repo = self.store[ctx].repos.get(request["repositoryName"])
        if repo is None or request["blobId"] not in repo.blobs:
            raise self.errors.BlobIdDoesNotExistException(f"Could not find blob {request['blobId']}")
        return {"content": repo.blobs[request["blobId"]]}

    def _metadata(self, ctx: RequestContext, repo: Repo) -> dict[str, Any]:
        return {
            "accountId": ctx.account_id,
            "repositoryId": str(uuid.uuid5(uuid.NAMESPACE_URL, repo.name)),
            "repositoryName": repo.name,
            "repositoryDescription": repo.description,
            "creationDate": repo.created,
            "lastModifiedDate": repo.created,
            "Arn": f"arn:aws:codecommit:{ctx.region}:{ctx.account_id}:{repo.name}",
            "cloneUrlHttp": f"https://git-codecommit.{ctx.region}.amazonaws.com/v1/repos/{repo.name}",
        }

    def shape_samples(self) -> list[Sample]:
        return [
            Sample("CreateRepository", {"repositoryName": "shape-repo", "repositoryDescription": "d"}),
            Sample("GetRepository", {"repositoryName": "shape-repo"}),
            Sample("GetBlob", {"repositoryName": "shape-repo", "blobId": "b1"}),
        ]


class DemoCodePipeline(ControlPlane):
    service_name = "codepipeline"
    errors = ModeledErrors("codepipeline")
    created = datetime(2024, 5, 1, 12, 30, 15, 250000, tzinfo=UTC)

    def ListPipelines(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        return {
            "pipelines": [
                {
                    "name": "demo",
                    "version": 1,
                    "pipelineType": "V2",
                    "executionMode": "QUEUED",
                    "created": self.created,
                    "updated": self.created,
                }
            ]
        }

    def GetPipelineState(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        if request["name"] != "demo":
            raise self.errors.PipelineNotFoundException(
                f"Account '{ctx.account_id}' does not have a pipeline with name '{request['name']}'"
            )
        return {
            "pipelineName": "demo",
            "pipelineVersion": 1,
            "created": self.created,
            "updated": self.created,
            "stageStates": [
                {
                    "stageName": "Approve",
                    "latestExecution": {"pipelineExecutionId": "e1", "status": "InProgress"},
                    "actionStates": [
                        {
                            "actionName": "Approval",
                            "latestExecution": {
                                "status": "InProgress",
                                "token": "tok-1",
                                "lastStatusChange": self.created,
                            },
                        }
                    ],
                }
            ],
        }

    def shape_samples(self) -> list[Sample]:
        return [Sample("ListPipelines"), Sample("GetPipelineState", {"name": "demo"})]


@dataclass
class RuleState:
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)


class DemoNotifications(ControlPlane):
    service_name = "codestar-notifications"
    errors = ModeledErrors("codestar-notifications")

    def __init__(self, runtime: Runtime):
        super().__init__(runtime)
        self.store: Store[RuleState] = Store(RuleState)

    def ListEventTypes(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        return {
            "EventTypes": [
                {
                    "EventTypeId": "codebuild-project-build-state-succeeded",
                    "ServiceName": "CodeBuild",
                    "EventTypeName": "Build state: Succeeded",
                    "ResourceType": "Project",
                }
            ]
        }

    def CreateNotificationRule(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        arn = f"arn:aws:codestar-notifications:{ctx.region}:{ctx.account_id}:notificationrule/{uuid.uuid4().hex}"
        now = datetime.now(UTC)
        self.store[ctx].rules[arn] = {
            "Arn": arn,
            "Name": request["Name"],
            "Resource": request["Resource"],
            "DetailType": request["DetailType"],
            "Status": request.get("Status", "ENABLED"),
            "EventTypes": [
                {
                    "EventTypeId": event_id,
                    "ServiceName": "CodeBuild",
                    "EventTypeName": event_id,
                    "ResourceType": "Project",
                }
                for event_id in request["EventTypeIds"]
            ],
            "Targets": [
                {
                    "TargetAddress": t["TargetAddress"],
                    "TargetType": t.get("TargetType", "SNS"),
                    "TargetStatus": "ACTIVE",
                }
                for t in request["Targets"]
            ],
            "CreatedBy": ctx.caller_arn,
            "CreatedTimestamp": now,
            "LastModifiedTimestamp": now,
            "Tags": dict(request.get("Tags") or {}),
        }
        return {"Arn": arn}

    def DescribeNotificationRule(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        return dict(self._rule(ctx, request["Arn"]))

    def UntagResource(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        tags = self._rule(ctx, request["Arn"])["Tags"]
        for key in request["TagKeys"]:
            tags.pop(key, None)
        return {}

    def _rule(self, ctx: RequestContext, arn: str) -> dict[str, Any]:
        rule = self.store[ctx].rules.get(arn)
        if rule is None:
            raise self.errors.ResourceNotFoundException(f"Notification rule {arn} does not exist")
        return rule

    def shape_samples(self) -> list[Sample]:
        created = "CreateNotificationRule"
        return [
            Sample("ListEventTypes"),
            Sample(
                created,
                {
                    "Name": "builds",
                    "EventTypeIds": ["codebuild-project-build-state-succeeded"],
                    "Resource": f"arn:aws:codebuild:us-east-1:{ACCOUNT}:project/app",
                    "Targets": [{"TargetType": "SNS", "TargetAddress": "arn:aws:sns:us-east-1:1:t"}],
                    "DetailType": "FULL",
                    "Tags": {"team": "a", "cost": "b"},
                },
            ),
            Sample("DescribeNotificationRule", lambda answers: {"Arn": answers[created]["Arn"]}),
            Sample("UntagResource", lambda answers: {"Arn": answers[created]["Arn"], "TagKeys": ["team"]}),
        ]


DEMO_PLANES: list[type[ControlPlane]] = [DemoCodeCommit, DemoCodePipeline, DemoNotifications]
