"""The CodePipeline control plane: pipeline CRUD with AWS's structure rules, executions on the engine,
state and history queries, approvals, retries, stage transitions, tags."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from gitops_harness.emulator.codepipeline.actions import ActionFailed
from gitops_harness.emulator.codepipeline.engine import Engine, EngineServices
from gitops_harness.emulator.codepipeline.models import (
    EXECUTION_DONE,
    CodePipelineState,
    Execution,
    Pipeline,
    now,
)
from gitops_harness.emulator.codepipeline.validation import validate_artifact_buckets, validate_declaration
from gitops_harness.emulator.common.arns import InvalidArn, build_arn, parse_arn
from gitops_harness.emulator.common.events import EventPublisher
from gitops_harness.emulator.common.pagination import paginate
from gitops_harness.emulator.common.tags import tags_from_list, tags_to_list
from gitops_harness.emulator.controlplane import ControlPlane, RequestContext, Runtime, Store
from gitops_harness.emulator.exceptions import ModeledErrors


def _event_revisions(pipeline: Pipeline, event: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Source revisions an EventBridge event pins: a CodeCommit Repository State Change for a branch
    gives each CodeCommit source action on that repository and branch the event's commitId, so the
    execution builds the pushed commit, not whatever the branch points at when its source action runs."""
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
    if (
        event.get("source") != "aws.codecommit"
        or event.get("detail-type") != "CodeCommit Repository State Change"
        or detail.get("referenceType") != "branch"
        or not detail.get("commitId")
    ):
        return {}
    pinned = {}
    for action in pipeline.declaration["stages"][0]["actions"]:
        type_id, config = action["actionTypeId"], action.get("configuration") or {}
        if (
            (type_id["category"], type_id["owner"], type_id["provider"]) == ("Source", "AWS", "CodeCommit")
            and config.get("RepositoryName") == detail.get("repositoryName")
            and config.get("BranchName") == detail.get("referenceName")
        ):
            pinned[action["name"]] = {
                "actionName": action["name"],
                "revisionType": "COMMIT_ID",
                "revisionValue": str(detail["commitId"]),
            }
    return pinned


class CodePipeline(ControlPlane):
    service_name = "codepipeline"
    signing = "codepipeline"
    errors = ModeledErrors("codepipeline")

    def __init__(self, runtime: Runtime):
        super().__init__(runtime)
        self.store: Store[CodePipelineState] = Store(CodePipelineState)
        self.tags = self.tag_store("TooManyTagsException", "InvalidTagsException")
        self.engine = Engine(
            EngineServices(
                lock=self.lock,
                scheduler=runtime.scheduler,
                clients=runtime.clients,
                publisher=EventPublisher.through(runtime),
                source_archive=self._source_archive,
            )
        )

    def _source_archive(self, account_id: str, region: str, repository: str, commit_id: str) -> bytes:
        """The CodeCommit source action's CODE_ZIP, from the CodeCommit plane this emulator serves."""
        codecommit = self.runtime.planes.get("codecommit")
        if codecommit is None:
            raise ActionFailed(
                f"Could not archive {repository}@{commit_id}: CodeCommit is not served by this emulator"
            )
        return codecommit.source_archive(account_id, region, repository, commit_id)  # type: ignore[attr-defined]

    def _page(
        self, items: list[Any], request: dict[str, Any], default: int = 100
    ) -> tuple[list[Any], str | None]:
        return paginate(
            items,
            request.get("nextToken"),
            request.get("maxResults") or default,
            invalid_token=self.errors.InvalidNextTokenException,
            message="The next token was invalid.",
        )

    # ---- lookups -------------------------------------------------------------------------------

    def _pipeline(self, ctx: RequestContext, name: str) -> Pipeline:
        pipeline = self.store[ctx].pipelines.get(name)
        if pipeline is None:
            raise self.errors.PipelineNotFoundException(
                f"Account '{ctx.account_id}' does not have a pipeline with name '{name}'"
            )
        return pipeline

    def _execution(self, ctx: RequestContext, pipeline: Pipeline, execution_id: str) -> Execution:
        execution = pipeline.executions.get(execution_id)
        if execution is None:
            raise self.errors.PipelineExecutionNotFoundException(
                f"Pipeline execution with id '{execution_id}' does not exist in pipeline with name "
                f"'{pipeline.name}' in account '{ctx.account_id}'"
            )
        return execution

    def _stage_declaration(self, pipeline: Pipeline, stage: str) -> dict[str, Any]:
        declaration = pipeline.stage(stage)
        if declaration is None:
            raise self.errors.StageNotFoundException(
                f"Stage '{stage}' does not exist in pipeline '{pipeline.name}'"
            )
        return declaration

    def _by_arn(self, ctx: RequestContext, arn: str) -> Pipeline:
        try:
            parse_arn(arn)
        except InvalidArn:
            raise self.errors.InvalidArnException(f"The ARN {arn} is not valid") from None
        for pipeline in self.store[ctx].pipelines.values():
            if pipeline.arn == arn:
                return pipeline
        raise self.errors.ResourceNotFoundException(f"The pipeline {arn} does not exist")

    # ---- pipelines -----------------------------------------------------------------------------

    def CreatePipeline(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        declaration = copy.deepcopy(request["pipeline"])
        state = self.store[ctx]
        if declaration["name"] in state.pipelines:
            raise self.errors.PipelineNameInUseException(
                f"A pipeline with the name '{declaration['name']}' already exists in account '{ctx.account_id}'"
            )
        validate_declaration(declaration)
        validate_artifact_buckets(declaration)
        declaration["version"] = 1
        declaration.setdefault("executionMode", "SUPERSEDED")
        declaration.setdefault("pipelineType", "V1")
        created = now()
        arn = build_arn("codepipeline", ctx.region, ctx.account_id, declaration["name"])
        self.tags.drop(arn)  # a pipeline created again under a deleted one's name starts untagged
        self.tags.tag(arn, tags_from_list(request.get("tags")))  # limits checked before anything is stored
        pipeline = Pipeline(
            declaration=declaration,
            arn=arn,
            account_id=ctx.account_id,
            region=ctx.region,
            created=created,
            updated=created,
        )
        pipeline.versions[1] = copy.deepcopy(declaration)
        state.pipelines[pipeline.name] = pipeline
        return {"pipeline": copy.deepcopy(declaration), "tags": request.get("tags") or []}

    def GetPipeline(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(ctx, request["name"])
        version = request.get("version")
        if version is not None and version not in pipeline.versions:
            raise self.errors.PipelineVersionNotFoundException(
                f"Pipeline '{pipeline.name}' has no version {version}"
            )
        declaration = pipeline.versions[version] if version is not None else pipeline.declaration
        return {
            "pipeline": copy.deepcopy(declaration),
            "metadata": {
                "pipelineArn": pipeline.arn,
                "created": pipeline.created,
                "updated": pipeline.updated,
            },
        }

    def UpdatePipeline(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        declaration = copy.deepcopy(request["pipeline"])
        pipeline = self._pipeline(ctx, declaration["name"])
        validate_declaration(declaration)
        validate_artifact_buckets(declaration)
        declaration["version"] = pipeline.version + 1
        declaration.setdefault("executionMode", "SUPERSEDED")
        declaration.setdefault("pipelineType", "V1")
        pipeline.declaration = declaration
        pipeline.versions[declaration["version"]] = copy.deepcopy(declaration)
        pipeline.updated = now()
        return {"pipeline": copy.deepcopy(declaration)}

    def DeletePipeline(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        pipeline = self.store[ctx].pipelines.pop(request["name"], None)  # AWS answers 200 when absent
        if pipeline is not None:
            self.tags.drop(pipeline.arn)
            for execution in pipeline.executions.values():
                if execution.status not in EXECUTION_DONE:
                    self.engine.stop(pipeline, execution, abandon=True)
        return {}

    def ListPipelines(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        pipelines = sorted(self.store[ctx].pipelines.values(), key=lambda p: p.name)
        page, token = self._page(pipelines, request, default=1000)
        answer: dict[str, Any] = {
            "pipelines": [
                {
                    "name": p.name,
                    "version": p.version,
                    "pipelineType": p.declaration.get("pipelineType", "V1"),
                    "executionMode": p.execution_mode,
                    "created": p.created,
                    "updated": p.updated,
                }
                for p in page
            ]
        }
        if token:
            answer["nextToken"] = token
        return answer

    # ---- executions ----------------------------------------------------------------------------

    def StartPipelineExecution(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(ctx, request["name"])
        token = request.get("clientRequestToken")
        if token and token in pipeline.client_tokens:
            return {"pipelineExecutionId": pipeline.client_tokens[token]}
        declared = {v["name"]: v for v in pipeline.declaration.get("variables") or []}
        values = {name: v.get("defaultValue", "") for name, v in declared.items()}
        for variable in request.get("variables") or []:
            if variable["name"] not in declared:
                raise self.errors.ValidationException(
                    f"Variable '{variable['name']}' is not declared in pipeline '{pipeline.name}'"
                )
            values[variable["name"]] = variable["value"]
        sources = {
            a["name"]
            for a in pipeline.declaration["stages"][0]["actions"]
            if a["actionTypeId"]["category"] == "Source"
        }
        overrides = {}
        for override in request.get("sourceRevisions") or []:
            if override["actionName"] not in sources:
                raise self.errors.ValidationException(
                    f"Source revision override names '{override['actionName']}', which is not a source action "
                    f"of pipeline '{pipeline.name}'"
                )
            overrides[override["actionName"]] = override
        trigger = {"triggerType": "StartPipelineExecution", "triggerDetail": ctx.caller_arn}
        delivery = self.runtime.event_delivery
        started_by = delivery.claim_pipeline_start(token) if delivery is not None else None
        if started_by is not None:
            trigger = {"triggerType": "CloudWatchEvent", "triggerDetail": started_by.rule_arn}
            for name, override in _event_revisions(pipeline, started_by.event).items():
                overrides.setdefault(name, override)
        execution = Execution(
            pipeline_name=pipeline.name,
            pipeline_version=pipeline.version,
            execution_id=str(uuid.uuid4()),
            execution_mode=pipeline.execution_mode,
            trigger=trigger,
            declaration=copy.deepcopy(pipeline.declaration),
            wake=self.runtime.scheduler.signal("execution"),
            source_overrides=overrides,
            variables=values,
        )
        pipeline.executions[execution.execution_id] = execution
        if token:
            pipeline.client_tokens[token] = execution.execution_id
        self.engine.start(pipeline, execution)
        return {"pipelineExecutionId": execution.execution_id}

    def StopPipelineExecution(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(ctx, request["pipelineName"])
        execution = self._execution(ctx, pipeline, request["pipelineExecutionId"])
        if execution.status == "Stopping" and not request.get("abandon"):
            raise self.errors.DuplicatedStopRequestException(
                f"Execution {execution.execution_id} is already being stopped"
            )
        if execution.status not in ("InProgress", "Stopping"):
            raise self.errors.PipelineExecutionNotStoppableException(
                f"Unable to stop pipeline execution {execution.execution_id}: its status is {execution.status}"
            )
        execution.stop_trigger = request.get("reason") or None
        self.engine.stop(pipeline, execution, abandon=bool(request.get("abandon")))
        return {"pipelineExecutionId": execution.execution_id}

    def GetPipelineExecution(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(ctx, request["pipelineName"])
        execution = self._execution(ctx, pipeline, request["pipelineExecutionId"])
        answer: dict[str, Any] = {
            "pipelineName": pipeline.name,
            "pipelineVersion": execution.pipeline_version,
            "pipelineExecutionId": execution.execution_id,
            "status": execution.status,
            "artifactRevisions": copy.deepcopy(execution.artifact_revisions),
            "variables": [{"name": k, "resolvedValue": v} for k, v in execution.variables.items()],
            "trigger": dict(execution.trigger),
            "executionMode": execution.execution_mode,
            "executionType": "STANDARD",
        }
        if execution.status_summary:
            answer["statusSummary"] = execution.status_summary
        return {"pipelineExecution": answer}

    def ListPipelineExecutions(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(ctx, request["pipelineName"])
        executions = list(reversed(pipeline.executions.values()))
        page, token = self._page(executions, request)
        summaries = []
        for execution in page:
            summary: dict[str, Any] = {
                "pipelineExecutionId": execution.execution_id,
                "status": execution.status,
                "startTime": execution.start_time,
                "lastUpdateTime": execution.last_update,
                "sourceRevisions": copy.deepcopy(execution.source_revisions),
                "trigger": dict(execution.trigger),
                "executionMode": execution.execution_mode,
                "executionType": "STANDARD",
            }
            if execution.status_summary:
                summary["statusSummary"] = execution.status_summary
            if execution.stop_requested:
                summary["stopTrigger"] = {"reason": execution.stop_trigger or ""}
            summaries.append(summary)
        answer: dict[str, Any] = {"pipelineExecutionSummaries": summaries}
        if token:
            answer["nextToken"] = token
        return answer

    def GetPipelineState(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(ctx, request["name"])
        stage_states = []
        for index, stage in enumerate(pipeline.declaration["stages"]):
            name = stage["name"]
            state: dict[str, Any] = {"stageName": name}
            if index > 0:
                state["inboundTransitionState"] = pipeline.transition(name).to_api()
            waiting = [
                pipeline.executions[e] for e in pipeline.waiting.get(name, []) if e in pipeline.executions
            ]
            if waiting:
                state["inboundExecution"] = {
                    "pipelineExecutionId": waiting[0].execution_id,
                    "status": "InProgress",
                }
                state["inboundExecutions"] = [
                    {"pipelineExecutionId": e.execution_id, "status": "InProgress"} for e in waiting
                ]
            latest = pipeline.executions.get(pipeline.stage_latest.get(name, ""))
            stage_run = latest.stages.get(name) if latest else None
            if latest is not None and stage_run is not None:
                state["latestExecution"] = {
                    "pipelineExecutionId": latest.execution_id,
                    "status": stage_run.status,
                    "type": "STANDARD",
                }
            action_states = []
            for action in stage["actions"]:
                action_state: dict[str, Any] = {"actionName": action["name"]}
                run = stage_run.actions.get(action["name"]) if stage_run else None
                if run is not None:
                    action_state["latestExecution"] = self._action_execution(run)
                    if run.declaration["actionTypeId"]["category"] == "Source" and run.external_id:
                        action_state["currentRevision"] = {
                            "revisionId": run.external_id,
                            "revisionChangeId": run.external_id,
                            "created": run.last_update,
                        }
                        if run.external_url:
                            action_state["revisionUrl"] = run.external_url
                action_states.append(action_state)
            state["actionStates"] = action_states
            stage_states.append(state)
        return {
            "pipelineName": pipeline.name,
            "pipelineVersion": pipeline.version,
            "stageStates": stage_states,
            "created": pipeline.created,
            "updated": pipeline.updated,
        }

    @staticmethod
    def _action_execution(run: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "actionExecutionId": run.action_execution_id,
            "status": run.status,
            "lastStatusChange": run.last_update,
        }
        if run.token and run.status == "InProgress":
            out["token"] = run.token  # only a pending approval shows its token
        for key, value in (
            ("summary", run.summary),
            ("lastUpdatedBy", run.updated_by),
            ("externalExecutionId", run.external_id),
            ("externalExecutionUrl", run.external_url),
            ("errorDetails", run.error),
        ):
            if value:
                out[key] = value
        return out

    def ListActionExecutions(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(ctx, request["pipelineName"])
        wanted = (request.get("filter") or {}).get("pipelineExecutionId")
        if wanted:
            executions = [self._execution(ctx, pipeline, wanted)]
        else:
            executions = list(pipeline.executions.values())
        details = []
        for execution in executions:
            for run in execution.action_history:
                output: dict[str, Any] = {
                    "outputArtifacts": copy.deepcopy(run.output_artifacts),
                    "outputVariables": dict(run.output_variables),
                    "executionResult": {
                        k: v
                        for k, v in (
                            ("externalExecutionId", run.external_id),
                            ("externalExecutionSummary", run.summary),
                            ("externalExecutionUrl", run.external_url),
                            ("errorDetails", run.error),
                        )
                        if v
                    },
                }
                declaration = run.declaration
                action_input: dict[str, Any] = {
                    "actionTypeId": dict(declaration["actionTypeId"]),
                    "configuration": dict(declaration.get("configuration") or {}),
                    "resolvedConfiguration": dict(run.resolved_configuration),
                    "region": declaration.get("region") or pipeline.region,
                    "inputArtifacts": copy.deepcopy(run.input_artifacts),
                }
                if declaration.get("roleArn"):
                    action_input["roleArn"] = declaration["roleArn"]
                if declaration.get("namespace"):
                    action_input["namespace"] = declaration["namespace"]
                detail: dict[str, Any] = {
                    "pipelineExecutionId": execution.execution_id,
                    "actionExecutionId": run.action_execution_id,
                    "pipelineVersion": execution.pipeline_version,
                    "stageName": run.stage,
                    "actionName": run.name,
                    "startTime": run.start_time,
                    "lastUpdateTime": run.last_update,
                    "status": run.status,
                    "input": action_input,
                    "output": output,
                }
                if run.updated_by:
                    detail["updatedBy"] = run.updated_by
                details.append(detail)
        details.sort(key=lambda d: d["startTime"], reverse=True)
        page, token = self._page(details, request)
        answer: dict[str, Any] = {"actionExecutionDetails": page}
        if token:
            answer["nextToken"] = token
        return answer

    # ---- approvals, retries, transitions ------------------------------------------------------

    def PutApprovalResult(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(ctx, request["pipelineName"])
        stage = self._stage_declaration(pipeline, request["stageName"])
        action_name = request["actionName"]
        if not any(a["name"] == action_name for a in stage["actions"]):
            raise self.errors.ActionNotFoundException(
                f"Action '{action_name}' does not exist in stage '{stage['name']}' of pipeline '{pipeline.name}'"
            )
        token = request["token"]
        for execution in reversed(pipeline.executions.values()):
            stage_run = execution.stages.get(stage["name"])
            run = stage_run.actions.get(action_name) if stage_run else None
            if run is None or run.token != token:
                continue
            if run.approval is not None or run.status != "InProgress":
                raise self.errors.ApprovalAlreadyCompletedException(
                    f"The approval action {action_name} has already been completed (status {run.status})"
                )
            run.approval = dict(request["result"])
            run.updated_by = ctx.caller_arn
            run.wake.set()
            return {"approvedAt": now()}
        raise self.errors.InvalidApprovalTokenException(
            f"The token for action {action_name} in stage {stage['name']} is not valid"
        )

    def RetryStageExecution(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(ctx, request["pipelineName"])
        stage = request["stageName"]
        self._stage_declaration(pipeline, stage)
        execution = self._execution(ctx, pipeline, request["pipelineExecutionId"])
        if pipeline.stage_latest.get(stage) != execution.execution_id:
            raise self.errors.NotLatestPipelineExecutionException(
                f"Execution {execution.execution_id} is not the latest execution of stage {stage}"
            )
        stage_run = execution.stages.get(stage)
        if execution.status != "Failed" or stage_run is None or stage_run.status != "Failed":
            raise self.errors.StageNotRetryableException(
                f"Stage {stage} of execution {execution.execution_id} is not failed: it cannot be retried"
            )
        if execution.pipeline_version != pipeline.version:
            raise self.errors.StageNotRetryableException(
                f"The pipeline was updated since execution {execution.execution_id} started"
            )
        names = [s["name"] for s in execution.declaration["stages"]]
        execution.attempt += 1
        execution.status_summary = None
        execution.set_status("InProgress")
        self.engine.start(pipeline, execution, names.index(stage), request["retryMode"])
        return {"pipelineExecutionId": execution.execution_id}

    def _transition_stage(self, pipeline: Pipeline, stage: str, transition_type: str) -> str:
        """The stage whose inbound transition a (stage, Inbound|Outbound) pair names."""
        self._stage_declaration(pipeline, stage)
        if transition_type == "Inbound":
            return stage
        names = [s["name"] for s in pipeline.declaration["stages"]]
        index = names.index(stage)
        if index + 1 >= len(names):
            raise self.errors.ValidationException(
                f"Stage {stage} is the last stage: it has no outbound transition"
            )
        return names[index + 1]

    def DisableStageTransition(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(ctx, request["pipelineName"])
        stage = self._transition_stage(pipeline, request["stageName"], request["transitionType"])
        transition = pipeline.transition(stage)
        transition.enabled = False
        transition.disabled_reason = request["reason"]
        transition.last_changed_by = ctx.caller_arn
        transition.last_changed_at = now()
        return {}

    def EnableStageTransition(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(ctx, request["pipelineName"])
        stage = self._transition_stage(pipeline, request["stageName"], request["transitionType"])
        transition = pipeline.transition(stage)
        transition.enabled = True
        transition.disabled_reason = None
        transition.last_changed_by = ctx.caller_arn
        transition.last_changed_at = now()
        self.engine.wake_waiters(pipeline, stage)
        return {}

    # ---- tags ----------------------------------------------------------------------------------

    def TagResource(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._by_arn(ctx, request["resourceArn"])
        self.tags.tag(pipeline.arn, tags_from_list(request["tags"]))
        return {}

    def UntagResource(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._by_arn(ctx, request["resourceArn"])
        self.tags.untag(pipeline.arn, request["tagKeys"])
        return {}

    def ListTagsForResource(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._by_arn(ctx, request["resourceArn"])
        return {"tags": tags_to_list(self.tags.get(pipeline.arn))}
