"""CodePipeline state: pipelines (their declaration as the API takes it), executions, stage and action runs.

Declarations stay in the boto3 shape (PipelineDeclaration dicts) so GetPipeline hands back what
CreatePipeline received. Runs are plain dataclasses the engine mutates under the plane's lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gitops_harness.emulator.scheduler import Signal

# terminal statuses
EXECUTION_DONE = {"Succeeded", "Failed", "Stopped", "Superseded", "Cancelled"}
ACTION_DONE = {"Succeeded", "Failed", "Abandoned"}


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Transition:
    enabled: bool = True
    last_changed_by: str | None = None
    last_changed_at: datetime | None = None
    disabled_reason: str | None = None

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"enabled": self.enabled}
        if self.last_changed_by:
            out["lastChangedBy"] = self.last_changed_by
        if self.last_changed_at:
            out["lastChangedAt"] = self.last_changed_at
        if self.disabled_reason:
            out["disabledReason"] = self.disabled_reason
        return out


@dataclass
class Pipeline:
    declaration: dict[str, Any]  # PipelineDeclaration, with version
    arn: str
    account_id: str
    region: str
    created: datetime
    updated: datetime
    transitions: dict[str, Transition] = field(default_factory=dict)  # stage name -> inbound transition
    # stage name -> the execution holding it (SUPERSEDED/QUEUED run one execution per stage)
    occupant: dict[str, str] = field(default_factory=dict)
    # stage name -> executions waiting to enter it, oldest first
    waiting: dict[str, list[str]] = field(default_factory=dict)
    executions: dict[str, Execution] = field(default_factory=dict)  # insertion order = start order
    stage_latest: dict[str, str] = field(default_factory=dict)  # stage -> the execution that entered it last
    versions: dict[int, dict[str, Any]] = field(default_factory=dict)  # version -> declaration
    client_tokens: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.declaration["name"]

    @property
    def version(self) -> int:
        return self.declaration["version"]

    @property
    def execution_mode(self) -> str:
        return self.declaration.get("executionMode") or "SUPERSEDED"

    def stage(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.declaration["stages"] if s["name"] == name), None)

    def transition(self, stage: str) -> Transition:
        return self.transitions.setdefault(stage, Transition())


@dataclass
class CodePipelineState:
    """One account and region's pipelines, by name (tags live in the plane's TagStore, by ARN)."""

    pipelines: dict[str, Pipeline] = field(default_factory=dict)


@dataclass
class ActionRun:
    stage: str
    name: str
    declaration: dict[str, Any]  # the ActionDeclaration it ran with
    action_execution_id: str
    wake: Signal  # fired when something the action waits for changes (approval, stop, build state)
    status: str = "InProgress"
    start_time: datetime = field(default_factory=now)
    last_update: datetime = field(default_factory=now)
    summary: str | None = None
    token: str | None = None  # manual approval
    approval: dict[str, Any] | None = None  # the ApprovalResult once answered
    updated_by: str | None = None
    external_id: str | None = None
    external_url: str | None = None
    error: dict[str, str] | None = None  # ErrorDetails
    resolved_configuration: dict[str, str] = field(default_factory=dict)
    input_artifacts: list[dict[str, Any]] = field(default_factory=list)  # ArtifactDetail
    output_artifacts: list[dict[str, Any]] = field(default_factory=list)
    output_variables: dict[str, str] = field(default_factory=dict)

    def set_status(self, status: str) -> None:
        self.status = status
        self.last_update = now()

    def touch(self) -> None:
        self.last_update = now()


@dataclass
class StageRun:
    name: str
    status: str = "InProgress"
    attempt: int = 1
    actions: dict[str, ActionRun] = field(default_factory=dict)  # latest run per action


@dataclass
class Execution:
    pipeline_name: str
    pipeline_version: int
    execution_id: str
    execution_mode: str
    trigger: dict[str, str]
    declaration: dict[str, Any]  # the pipeline version it runs, fixed at start
    wake: Signal  # fired when the execution may move on (a stage freed, a transition enabled, stop)
    source_overrides: dict[str, dict[str, str]] = field(default_factory=dict)  # action name -> override
    variables: dict[str, str] = field(default_factory=dict)  # pipeline-level variables
    status: str = "InProgress"
    status_summary: str | None = None
    start_time: datetime = field(default_factory=now)
    last_update: datetime = field(default_factory=now)
    stages: dict[str, StageRun] = field(default_factory=dict)
    # artifact name -> ArtifactDetail ({"name", "s3location": {"bucket", "key"}})
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)  # namespace -> variables
    source_revisions: list[dict[str, str]] = field(default_factory=list)
    artifact_revisions: list[dict[str, Any]] = field(default_factory=list)
    current_stage: str | None = None  # the stage it runs in or waits to enter
    waiting_for: str | None = None  # the stage whose inbound transition it waits at
    stop_requested: str | None = None  # None, "stop" or "abandon"
    stop_trigger: str | None = None
    action_history: list[ActionRun] = field(default_factory=list)  # every action run, retries included
    attempt: int = 1

    def set_status(self, status: str, summary: str | None = None) -> None:
        self.status = status
        if summary is not None:
            self.status_summary = summary
        self.last_update = now()
