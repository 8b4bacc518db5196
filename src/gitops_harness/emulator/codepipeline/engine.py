"""Pipeline executions as scheduler jobs: stages in order, actions by runOrder (parallel within one),
artifacts and variables passed between actions, stage locks by execution mode, events on every change.

Execution modes: SUPERSEDED (default) and QUEUED run one execution per stage; an execution that finds
its next stage busy or its inbound transition disabled waits at the boundary. In SUPERSEDED mode only the
newest waiter stays: an older one waiting at the same boundary becomes Superseded. QUEUED waiters enter in
order; PARALLEL executions never wait for each other (only for disabled transitions).

Locking: state changes under the plane's lock; calls to other services (actions, PutEvents) outside it.

The engine's boundary is what it needs, not the plane: the plane's lock, the scheduler, role clients,
an event publisher and the CodeCommit archive reader (EngineServices).
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from gitops_harness.emulator.codepipeline import events
from gitops_harness.emulator.codepipeline.actions import ACTION_RUNNERS, ActionContext, ActionFailed
from gitops_harness.emulator.codepipeline.actions.base import ActionOutcome, SourceArchive
from gitops_harness.emulator.codepipeline.models import ActionRun, Execution, Pipeline, StageRun, now
from gitops_harness.emulator.codepipeline.variables import UnresolvedVariable, resolve_map
from gitops_harness.emulator.common.events import EventPublisher
from gitops_harness.emulator.scheduler import Job, Scheduler, Signal, WaitFor

if TYPE_CHECKING:
    import threading

    from gitops_harness.emulator.clients import RoleClients

log = logging.getLogger(__name__)


@dataclass
class _Group:
    remaining: int
    done: Signal


@dataclass(frozen=True)
class EngineServices:
    lock: threading.RLock  # the plane's: handlers and jobs share the state it guards
    scheduler: Scheduler
    clients: RoleClients
    publisher: EventPublisher
    source_archive: SourceArchive


class Engine:
    def __init__(self, services: EngineServices):
        self.lock = services.lock
        self.scheduler = services.scheduler
        self.clients = services.clients
        self.publisher = services.publisher
        self.source_archive = services.source_archive
        self._action_jobs: dict[str, Job] = {}

    # ---- entry points (called by handlers, under the lock) -------------------------------------

    def start(
        self, pipeline: Pipeline, execution: Execution, from_stage: int = 0, retry_mode: str | None = None
    ) -> None:
        self.scheduler.spawn(
            self._execution,
            pipeline,
            execution,
            from_stage,
            retry_mode,
            name=f"codepipeline-{execution.execution_id}",
        )

    def stop(self, pipeline: Pipeline, execution: Execution, abandon: bool) -> None:
        execution.stop_requested = "abandon" if abandon else "stop"
        execution.set_status("Stopping")
        abandoned = []
        if abandon:
            for stage_run in execution.stages.values():
                for run in stage_run.actions.values():
                    if run.status == "InProgress":
                        run.set_status("Abandoned")
                        abandoned.append(run)
                        job = self._action_jobs.get(run.action_execution_id)
                        if job is not None:
                            self.scheduler.cancel(job)
        execution.wake.set()
        self._emit_later(pipeline, events.PIPELINE, events.pipeline_detail(execution, "STOPPING"))
        for run in abandoned:
            self._emit_later(
                pipeline, events.ACTION, events.action_detail(execution, run, pipeline.region, "ABANDONED")
            )

    def wake_waiters(self, pipeline: Pipeline, stage: str) -> None:
        for execution_id in pipeline.waiting.get(stage, []):
            execution = pipeline.executions.get(execution_id)
            if execution is not None:
                execution.wake.set()

    # ---- the execution job -----------------------------------------------------------------------

    def _execution(
        self, pipeline: Pipeline, execution: Execution, from_stage: int, retry_mode: str | None
    ) -> Generator[Any, Any, None]:
        stages = execution.declaration["stages"]
        state = "RESUMED" if retry_mode else "STARTED"
        self._emit(pipeline, events.PIPELINE, events.pipeline_detail(execution, state))
        index = from_stage
        while index < len(stages):
            name = stages[index]["name"]
            entered = yield from self._enter(pipeline, execution, name)
            if not entered:
                return
            result = yield from self._stage(pipeline, execution, stages[index], retry_mode)
            retry_mode = None
            with self.lock:
                if pipeline.occupant.get(name) == execution.execution_id:
                    del pipeline.occupant[name]
                self.wake_waiters(pipeline, name)
                if result == "Succeeded" and execution.stop_requested:
                    result = "Stopped"
                if result != "Succeeded":
                    failed_actions = [
                        run.name for run in execution.stages[name].actions.values() if run.status == "Failed"
                    ]
                    summary = (
                        f"Stopped: {execution.stop_trigger or 'StopPipelineExecution'}"
                        if result == "Stopped"
                        else f"Stage {name} failed: action {', '.join(failed_actions) or '?'} failed"
                    )
                    execution.set_status(result, summary)
            if result != "Succeeded":
                self._emit(
                    pipeline, events.PIPELINE, events.pipeline_detail(execution, events.EVENT_STATE[result])
                )
                return
            index += 1
        with self.lock:
            execution.current_stage = None
            execution.set_status("Succeeded")
        self._emit(pipeline, events.PIPELINE, events.pipeline_detail(execution, "SUCCEEDED"))

    def _enter(self, pipeline: Pipeline, execution: Execution, stage: str) -> Generator[Any, Any, bool]:
        """Wait at the stage's inbound boundary until the execution may enter; False if it must end."""
        while True:
            superseded: list[Execution] = []
            stopped = entered = False
            with self.lock:
                waiters = pipeline.waiting.setdefault(stage, [])
                if execution.status == "Superseded":
                    return False
                if execution.stop_requested:
                    if execution.execution_id in waiters:
                        waiters.remove(execution.execution_id)
                    execution.set_status(
                        "Stopped", f"Stopped: {execution.stop_trigger or 'StopPipelineExecution'}"
                    )
                    stopped = True
                else:
                    mode = execution.execution_mode
                    occupant = pipeline.occupant.get(stage)
                    free = mode == "PARALLEL" or occupant in (None, execution.execution_id)
                    first = not waiters or waiters[0] == execution.execution_id or mode != "QUEUED"
                    execution.current_stage = stage
                    if pipeline.transition(stage).enabled and free and first:
                        if mode != "PARALLEL":
                            pipeline.occupant[stage] = execution.execution_id
                        if execution.execution_id in waiters:
                            waiters.remove(execution.execution_id)
                        pipeline.stage_latest[stage] = execution.execution_id
                        execution.waiting_for = None
                        entered = True
                    else:
                        if execution.execution_id not in waiters:
                            waiters.append(execution.execution_id)
                        execution.waiting_for = stage
                        if mode == "SUPERSEDED" and len(waiters) > 1:
                            order = list(pipeline.executions)
                            newest = max(waiters, key=order.index)
                            for other_id in [w for w in waiters if w != newest]:
                                other = pipeline.executions[other_id]
                                other.set_status(
                                    "Superseded",
                                    f"Superseded by execution {newest} at the entry of stage {stage}",
                                )
                                other.waiting_for = None
                                other.wake.set()
                                superseded.append(other)
                            waiters[:] = [newest]
                        execution.wake.clear()
            for other in superseded:
                self._emit(pipeline, events.PIPELINE, events.pipeline_detail(other, "SUPERSEDED"))
            if stopped:
                self._emit(pipeline, events.PIPELINE, events.pipeline_detail(execution, "STOPPED"))
                return False
            if entered:
                return True
            if execution.status == "Superseded":
                return False
            yield WaitFor(execution.wake)

    def _stage(
        self, pipeline: Pipeline, execution: Execution, declaration: dict[str, Any], retry_mode: str | None
    ) -> Generator[Any, Any, str]:
        name = declaration["name"]
        with self.lock:
            previous = execution.stages.get(name)
            if retry_mode and previous is not None:
                stage_run = previous
                stage_run.attempt += 1
                stage_run.status = "InProgress"
            else:
                stage_run = execution.stages[name] = StageRun(name)
        self._emit(
            pipeline,
            events.STAGE,
            events.stage_detail(execution, name, "RESUMED" if retry_mode else "STARTED"),
        )
        actions = sorted(declaration["actions"], key=lambda a: a.get("runOrder") or 1)
        for _, group in itertools.groupby(actions, key=lambda a: a.get("runOrder") or 1):
            todo = list(group)
            with self.lock:
                if execution.stop_requested:
                    break
                if retry_mode == "FAILED_ACTIONS":
                    todo = [
                        a
                        for a in todo
                        if (run := stage_run.actions.get(a["name"])) is None or run.status != "Succeeded"
                    ]
                if not todo:
                    continue
                tracker = _Group(len(todo), self.scheduler.signal(f"{name}-group"))
                for action in todo:
                    run = ActionRun(
                        stage=name,
                        name=action["name"],
                        declaration=action,
                        action_execution_id=str(uuid.uuid4()),
                        wake=self.scheduler.signal(action["name"]),
                    )
                    stage_run.actions[run.name] = run
                    execution.action_history.append(run)
                    job = self.scheduler.spawn(
                        self._action,
                        pipeline,
                        execution,
                        run,
                        tracker,
                        name=f"action-{run.action_execution_id}",
                    )
                    self._action_jobs[run.action_execution_id] = job
            yield WaitFor(tracker.done)
            with self.lock:
                if any(stage_run.actions[a["name"]].status != "Succeeded" for a in todo):
                    break
        with self.lock:
            statuses = [run.status for run in stage_run.actions.values()]
            incomplete = any(s != "Succeeded" for s in statuses) or len(statuses) < len(actions)
            if "Abandoned" in statuses or (execution.stop_requested and incomplete):
                result = "Stopped"
            elif incomplete:
                result = "Failed"
            else:
                result = "Succeeded"
            stage_run.status = result
        self._emit(pipeline, events.STAGE, events.stage_detail(execution, name, events.EVENT_STATE[result]))
        return result

    def _action(
        self, pipeline: Pipeline, execution: Execution, run: ActionRun, tracker: _Group
    ) -> Generator[Any, Any, None]:
        """One action run: prepare its context, run its runner, record the outcome; the tracker is
        told whatever happens."""
        try:
            context = self._prepare(pipeline, execution, run)
            outcome = yield from self._run(context)
            self._record_success(pipeline, execution, run, outcome)
        except ActionFailed as failure:
            self._record_failure(
                pipeline, execution, run, failure.code, failure.message, failure.external_url
            )
        except Exception as exc:  # a bug or an unexpected answer: the action fails, the emulator goes on
            log.exception("action %s of %s failed", run.name, execution.execution_id)
            self._record_failure(
                pipeline, execution, run, "JobFailed", f"Internal error: {exc}", internal=True
            )
        finally:
            with self.lock:
                self._action_jobs.pop(run.action_execution_id, None)
                tracker.remaining -= 1
                done = tracker.remaining == 0
            if done:
                tracker.done.set()

    def _prepare(self, pipeline: Pipeline, execution: Execution, run: ActionRun) -> ActionContext:
        """Inputs and variables as they stand now, the STARTED event, the configuration resolved."""
        declaration = run.declaration
        with self.lock:
            namespaces = {
                **execution.namespaces,
                "codepipeline": {"PipelineExecutionId": execution.execution_id},
                "variables": dict(execution.variables),
            }
            run.input_artifacts = [
                execution.artifacts[a["name"]]
                for a in declaration.get("inputArtifacts") or []
                if a["name"] in execution.artifacts
            ]
        self._emit(pipeline, events.ACTION, events.action_detail(execution, run, pipeline.region, "STARTED"))
        try:
            configuration = resolve_map(declaration.get("configuration") or {}, namespaces)
        except UnresolvedVariable as exc:
            raise ActionFailed(str(exc), "ConfigurationError") from None
        run.resolved_configuration = configuration
        return ActionContext(
            scheduler=self.scheduler,
            pipeline=pipeline,
            execution=execution,
            run=run,
            configuration=configuration,
            lock=self.lock,
            clients=lambda service: self._clients(pipeline, execution, declaration, service),
            pipeline_clients=lambda service: self._clients(pipeline, execution, None, service),
            source_archive=self.source_archive,
        )

    def _run(self, context: ActionContext) -> Generator[Any, Any, ActionOutcome]:
        type_id = context.declaration["actionTypeId"]
        runner = ACTION_RUNNERS.get((type_id["category"], type_id["owner"], type_id["provider"]))
        if runner is None:
            raise ActionFailed(
                f"Action type {type_id['owner']}/{type_id['category']}/{type_id['provider']} is not run by the "
                "embedded AWS",
                "ConfigurationError",
            )
        return (yield from runner(context))

    def _record_success(
        self, pipeline: Pipeline, execution: Execution, run: ActionRun, outcome: ActionOutcome
    ) -> None:
        with self.lock:
            if run.status != "InProgress":  # abandoned meanwhile
                return
            run.summary = outcome.summary or run.summary
            run.external_id = outcome.external_id or run.external_id
            run.external_url = outcome.external_url or run.external_url
            run.output_variables = outcome.output_variables
            namespace = run.declaration.get("namespace")
            if namespace:
                execution.namespaces[namespace] = dict(outcome.output_variables)
            for detail in run.output_artifacts:
                execution.artifacts[detail["name"]] = detail
            if outcome.revision:
                revision = {k: v for k, v in outcome.revision.items() if v}  # Url and summary take no ""
                execution.source_revisions.append({"actionName": run.name, **revision})
                for detail in run.output_artifacts:
                    execution.artifact_revisions.append(
                        {"name": detail["name"], **revision, "created": now()}
                    )
            run.set_status("Succeeded")
        self._emit(
            pipeline, events.ACTION, events.action_detail(execution, run, pipeline.region, "SUCCEEDED")
        )

    def _record_failure(
        self,
        pipeline: Pipeline,
        execution: Execution,
        run: ActionRun,
        code: str,
        message: str,
        external_url: str | None = None,
        *,
        internal: bool = False,
    ) -> None:
        with self.lock:
            if run.status != "InProgress":  # abandoned meanwhile: its ABANDONED event went out already
                return
            run.error = {"code": code, "message": message[:5000]}
            if not internal:
                run.summary = message[:2048]
                run.external_url = external_url or run.external_url
            run.set_status("Failed")
        self._emit(pipeline, events.ACTION, events.action_detail(execution, run, pipeline.region, "FAILED"))

    # ---- helpers -------------------------------------------------------------------------------

    def _clients(
        self, pipeline: Pipeline, execution: Execution, action: dict[str, Any] | None, service: str
    ) -> Any:
        """A client acting as the action's RoleArn (assumed with the pipeline role's credentials, as
        CodePipeline does), else as the pipeline role."""
        pipeline_role = execution.declaration["roleArn"]
        region = (action or {}).get("region") or pipeline.region
        role = (action or {}).get("roleArn")
        clients = self.clients
        try:
            if role and role != pipeline_role:
                return clients.for_role(
                    service, role, region, source_role=pipeline_role, session_name="codepipeline"
                )
            return clients.for_role(service, pipeline_role, region, session_name="codepipeline")
        except ClientError as exc:  # the action cannot act at all: it fails, naming the role and why
            error = exc.response.get("Error", {})
            raise ActionFailed(
                f"CodePipeline is not authorized to perform AssumeRole on role {role or pipeline_role}: "
                f"{error.get('Code')}: {error.get('Message')}",
                "PermissionError",
            ) from None

    def _emit(self, pipeline: Pipeline, detail_type: str, detail: dict[str, Any]) -> None:
        # an event lost must not break the execution; the request log still shows the PutEvents
        self.publisher.try_publish(
            pipeline.account_id, pipeline.region, [events.entry(pipeline.arn, detail_type, detail)]
        )

    def _emit_later(self, pipeline: Pipeline, detail_type: str, detail: dict[str, Any]) -> None:
        """From a handler (under the lock): publish on a worker, not while holding the lock."""
        self.scheduler.spawn(self._emit, pipeline, detail_type, detail, name="codepipeline-event")
