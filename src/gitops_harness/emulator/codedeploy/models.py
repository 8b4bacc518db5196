"""CodeDeploy state per account and region: applications, deployment groups, custom configs, deployments.

Groups keep their configuration in the API's own shape (CreateDeploymentGroup members) so
GetDeploymentGroup hands back what was sent. A deployment of the ECS platform has one target (the
service, `cluster:service`) with its lifecycle events and the blue and green task sets; the engine
mutates these under the plane's lock.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gitops_harness.emulator.codedeploy.configs import DeploymentConfig
from gitops_harness.emulator.scheduler import Signal

DEPLOYMENT_DONE = {"Succeeded", "Failed", "Stopped"}
# the events of an ECS blue/green deployment, in order; only the hook events take Lambda functions
ECS_LIFECYCLE = (
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
)
ECS_HOOK_EVENTS = frozenset(
    {"BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic"}
)
_ID_ALPHABET = string.ascii_uppercase + string.digits


def now() -> datetime:
    return datetime.now(UTC)


def deployment_id() -> str:
    """AWS's form: d- and 9 upper-case letters or digits (d-A1B2C3D4E)."""
    return "d-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(9))


@dataclass
class Application:
    name: str
    application_id: str
    compute_platform: str
    created: datetime = field(default_factory=now)


@dataclass
class DeploymentGroup:
    application: str
    name: str
    group_id: str
    config: dict[str, Any]  # CreateDeploymentGroup members (without names and tags)
    last_attempted: str | None = None  # deployment ids
    last_succeeded: str | None = None
    active: str | None = None  # the deployment in progress on this group

    @property
    def config_name(self) -> str:
        return self.config.get("deploymentConfigName") or "CodeDeployDefault.OneAtATime"


@dataclass
class LifecycleEventRun:
    name: str
    status: str = "Pending"  # Pending, InProgress, Succeeded, Failed, Skipped
    start: datetime | None = None
    end: datetime | None = None
    diagnostics: dict[str, str] | None = None

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lifecycleEventName": self.name, "status": self.status}
        if self.start:
            out["startTime"] = self.start
        if self.end:
            out["endTime"] = self.end
        if self.diagnostics:
            out["diagnostics"] = self.diagnostics
        return out


@dataclass
class TaskSetInfo:
    label: str  # Blue | Green
    identifier: str
    target_group: str  # name
    desired: int = 0
    pending: int = 0
    running: int = 0
    status: str = "ACTIVE"
    weight: float = 0.0
    arn: str | None = None  # the ECS task set ARN (None for a service without task sets)

    def to_api(self) -> dict[str, Any]:
        return {
            "identifer": self.identifier,  # sic: the API's spelling
            "desiredCount": self.desired,
            "pendingCount": self.pending,
            "runningCount": self.running,
            "status": self.status,
            "trafficWeight": self.weight,
            "targetGroup": {"name": self.target_group},
            "taskSetLabel": self.label,
        }


@dataclass
class HookExecution:
    execution_id: str
    event: str
    function: str
    status: str = "Pending"  # set by PutLifecycleEventHookExecutionStatus


@dataclass
class Deployment:
    deployment_id: str
    application: str
    group: str
    config: DeploymentConfig
    revision: dict[str, Any]
    creator: str
    account_id: str
    region: str
    wake: Signal  # fired on anything the engine waits for: hook answers, continue, stop
    group_snapshot: dict[str, Any]  # the group's configuration when the deployment was created
    appspec: dict[str, Any] = field(default_factory=dict)  # the parsed TargetService and hooks
    description: str | None = None
    status: str = "Created"
    created: datetime = field(default_factory=now)
    started: datetime | None = None
    completed: datetime | None = None
    error: dict[str, str] | None = None
    rollback_info: dict[str, str] | None = None
    target_status: str = "Pending"
    target_updated: datetime = field(default_factory=now)
    events: dict[str, LifecycleEventRun] = field(
        default_factory=lambda: {name: LifecycleEventRun(name) for name in ECS_LIFECYCLE}
    )
    task_sets: list[TaskSetInfo] = field(default_factory=list)
    hooks: dict[str, HookExecution] = field(default_factory=dict)  # execution id -> hook run
    stop_request: dict[str, Any] | None = None  # {"rollback": bool}
    continue_requests: set[str] = field(default_factory=set)  # READY_WAIT, TERMINATION_WAIT
    waiting_for: str | None = None  # READY_WAIT or TERMINATION_WAIT while the engine waits there
    termination_wait_started: bool = False
    messages: list[str] = field(default_factory=list)
    cluster: str = ""
    service: str = ""
    blue_tg_arn: str = ""  # set by Install: the target group serving production before the deployment
    green_tg_arn: str = ""

    @property
    def target_id(self) -> str:
        return f"{self.cluster}:{self.service}"

    @property
    def done(self) -> bool:
        return self.status in DEPLOYMENT_DONE

    def task_set(self, label: str) -> TaskSetInfo | None:
        return next((t for t in self.task_sets if t.label == label), None)


@dataclass
class CodeDeployState:
    applications: dict[str, Application] = field(default_factory=dict)
    groups: dict[tuple[str, str], DeploymentGroup] = field(default_factory=dict)  # (app, group)
    configs: dict[str, DeploymentConfig] = field(default_factory=dict)  # custom configs only
    deployments: dict[str, Deployment] = field(default_factory=dict)  # insertion order = creation order
