"""A CodeDeploy ECS blue/green deployment as the suites see it, through CodeDeploy's public API only.

    deployment = BlueGreenDeployment(target.client("codedeploy"), deployment_id)
    deployment.wait_for_lifecycle_event("AllowTestTraffic", "Succeeded", timeout=30)
    state = deployment.target()           # lifecycle events, task sets and their traffic weights
    with DeploymentRecorder(deployment) as recorder:
        deployment.wait_for_status({"Succeeded"}, timeout=60)
    recorder.weight_steps()               # each change of the Blue/Green traffic weights, timed

GetDeploymentTarget's ``ecsTarget`` is the source of truth for lifecycle events and weights
(``taskSetsInfo[].trafficWeight``, ``taskSetLabel`` Blue/Green; AWS spells the task set id ``identifer``).
Weights are observed by polling: an observer sees the steps, not the instant each one happened, so
timing checks allow for the polling interval.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

from gitops_harness.report import TimelineEntry
from gitops_harness.waiting import wait_until


def _not_started_is_none(call: Callable[[], Any], deployment_id: str) -> Any:
    """The call's answer; LookupError while the deployment is still Created: CodeDeploy answers the target
    operations DeploymentNotStartedException until it starts, which a waiter reads as "not yet"."""
    from botocore.exceptions import ClientError

    try:
        return call()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "DeploymentNotStartedException":
            raise
        raise LookupError(f"deployment {deployment_id} has not started yet") from None


FINAL_DEPLOYMENT_STATES = frozenset({"Succeeded", "Failed", "Stopped"})
ACTIVE_DEPLOYMENT_STATES = ("Created", "Queued", "InProgress", "Baking", "Ready")
# The ECS blue/green lifecycle, in the order CodeDeploy runs it.
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
TIMELINE_STAGE = "CodeDeploy"


@dataclass(frozen=True)
class LifecycleEvent:
    name: str
    status: str  # Pending | InProgress | Succeeded | Failed | Skipped | Unknown
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class TaskSet:
    identifier: str
    label: str  # Blue | Green
    status: str  # PRIMARY | ACTIVE | DRAINING ...
    traffic_weight: float
    desired: int = 0
    running: int = 0
    pending: int = 0
    target_group: str | None = None


@dataclass(frozen=True)
class EcsTargetState:
    """One snapshot of GetDeploymentTarget for an ECS target."""

    target_id: str
    status: str
    lifecycle_events: tuple[LifecycleEvent, ...]
    task_sets: tuple[TaskSet, ...]

    def event(self, name: str) -> LifecycleEvent | None:
        return next((e for e in self.lifecycle_events if e.name == name), None)

    def weights(self) -> dict[str, float]:
        """Task set label -> traffic weight (percent)."""
        return {t.label: t.traffic_weight for t in self.task_sets}

    def task_set(self, label: str) -> TaskSet | None:
        return next((t for t in self.task_sets if t.label == label), None)

    def describe(self) -> str:
        events = ", ".join(f"{e.name}={e.status}" for e in self.lifecycle_events) or "no lifecycle events"
        sets = (
            ", ".join(
                f"{t.label} {t.status} {t.traffic_weight:g}% ({t.running}/{t.desired} running)"
                for t in self.task_sets
            )
            or "no task sets"
        )
        return f"target {self.target_id} {self.status}: {events}; task sets: {sets}"


def parse_ecs_target(response: Mapping[str, Any]) -> EcsTargetState:
    """GetDeploymentTarget's answer (or one entry of BatchGetDeploymentTargets' deploymentTargets)."""
    target = response.get("deploymentTarget", response)
    ecs = target.get("ecsTarget")
    if ecs is None:
        kind = target.get("deploymentTargetType", "unknown")
        raise ValueError(f"deployment target is {kind}, not an ECS target (no ecsTarget)")
    return EcsTargetState(
        target_id=ecs.get("targetId", ""),
        status=ecs.get("status", "Unknown"),
        lifecycle_events=tuple(
            LifecycleEvent(
                e["lifecycleEventName"], e.get("status", "Unknown"), e.get("startTime"), e.get("endTime")
            )
            for e in ecs.get("lifecycleEvents", [])
        ),
        task_sets=tuple(
            TaskSet(
                identifier=t.get("identifer", ""),
                label=t.get("taskSetLabel", ""),
                status=t.get("status", ""),
                traffic_weight=float(t.get("trafficWeight", 0.0)),
                desired=int(t.get("desiredCount", 0)),
                running=int(t.get("runningCount", 0)),
                pending=int(t.get("pendingCount", 0)),
                target_group=(t.get("targetGroup") or {}).get("name"),
            )
            for t in ecs.get("taskSetsInfo", [])
        ),
    )


# ---- deployment configs --------------------------------------------------------------------------


@dataclass(frozen=True)
class TrafficRouting:
    """How a deployment config moves prod traffic: the green weights in order, and the wait
    (AWS minutes) between two of them."""

    name: str
    kind: str  # AllAtOnce | TimeBasedCanary | TimeBasedLinear
    steps: tuple[int, ...]  # green weights the prod listener goes through, ending at 100
    interval_minutes: int = 0

    def describe(self) -> str:
        if self.kind == "AllAtOnce":
            return f"{self.name} (all at once)"
        return f"{self.name} ({' -> '.join(f'{s}%' for s in self.steps)}, {self.interval_minutes} min apart)"


def traffic_routing(config_info: Mapping[str, Any]) -> TrafficRouting:
    """GetDeploymentConfig's ``deploymentConfigInfo`` -> the green weights it promises."""
    name = config_info.get("deploymentConfigName", "?")
    routing = config_info.get("trafficRoutingConfig") or {"type": "AllAtOnce"}
    kind = routing.get("type", "AllAtOnce")
    if kind == "TimeBasedCanary":
        canary = routing["timeBasedCanary"]
        return TrafficRouting(
            name, kind, (int(canary["canaryPercentage"]), 100), int(canary["canaryInterval"])
        )
    if kind == "TimeBasedLinear":
        linear = routing["timeBasedLinear"]
        step = int(linear["linearPercentage"])
        weights = tuple(range(step, 100, step)) + (100,)
        return TrafficRouting(name, kind, weights, int(linear["linearInterval"]))
    if kind == "AllAtOnce":
        return TrafficRouting(name, kind, (100,))
    raise ValueError(f"deployment config {name}: unknown traffic routing type {kind!r}")


@dataclass(frozen=True)
class WeightStep:
    at: datetime  # when the observer first saw these weights
    offset: float  # seconds since the recorder started
    weights: dict[str, float]  # task set label -> percent

    @property
    def green(self) -> float:
        return self.weights.get("Green", 0.0)


def weight_step_problems(
    steps: Iterable[WeightStep], routing: TrafficRouting, time_scale: float, slack: float
) -> list[str]:
    """Why the observed prod weights do not follow ``routing`` (empty: they do).

    Green's weight must only rise, only through the config's steps, and end at 100; each step the
    observer saw must hold for at least the config's interval (scaled) minus ``slack`` seconds of
    polling error. A step between two polls may go unseen, so missing intermediate steps are fine
    except the canary's: that is the point of a canary.
    """
    seen = [s for s in steps if s.weights]
    greens = [s.green for s in seen]
    problems = []
    allowed = {0.0, *map(float, routing.steps)}
    odd = sorted({g for g in greens if g not in allowed})
    if odd:
        problems.append(f"green weights {odd} are not steps of {routing.describe()}")
    if any(b < a for a, b in zip(greens, greens[1:], strict=False)):
        problems.append(f"green's weight went down: {greens}")
    if not greens or greens[-1] != 100.0:
        problems.append(f"green never took all prod traffic: {greens}")
    if routing.kind == "TimeBasedCanary" and float(routing.steps[0]) not in greens:
        problems.append(f"the canary step {routing.steps[0]}% was never seen: {greens}")
    interval = routing.interval_minutes * 60 * time_scale
    for here, after in zip(seen, seen[1:], strict=False):
        if 0 < here.green < 100 and after.offset - here.offset < interval - slack:
            problems.append(
                f"green {here.green:g}% held {after.offset - here.offset:.2f}s, the config says {interval:.2f}s"
            )
    return problems


# ---- one deployment ------------------------------------------------------------------------------


class BlueGreenDeployment:
    """One deployment, bound to a CodeDeploy client of its account."""

    def __init__(self, codedeploy: Any, deployment_id: str):
        self.codedeploy = codedeploy
        self.id = deployment_id
        self._target_id: str | None = None

    def __repr__(self) -> str:
        return f"BlueGreenDeployment({self.id})"

    def info(self) -> dict[str, Any]:
        return self.codedeploy.get_deployment(deploymentId=self.id)["deploymentInfo"]

    @property
    def status(self) -> str:
        return self.info()["status"]

    def error(self) -> tuple[str | None, str | None]:
        """errorInformation's (code, message), or (None, None)."""
        error = self.info().get("errorInformation") or {}
        return error.get("code"), error.get("message")

    def target_id(self) -> str:
        """The deployment's single ECS target (``<cluster>:<service>``), once CodeDeploy lists it."""
        if self._target_id is None:
            ids = _not_started_is_none(
                lambda: self.codedeploy.list_deployment_targets(deploymentId=self.id).get("targetIds", []),
                self.id,
            )
            if not ids:
                raise LookupError(f"deployment {self.id} has no targets yet")
            self._target_id = ids[0]
        return self._target_id

    def target(self) -> EcsTargetState:
        target_id = self.target_id()
        return parse_ecs_target(
            _not_started_is_none(
                lambda: self.codedeploy.get_deployment_target(deploymentId=self.id, targetId=target_id),
                self.id,
            )
        )

    def task_definition_arn(self) -> str:
        """The TaskDefinition the deployment's AppSpec names (its green task set runs it)."""
        revision = self.info().get("revision") or {}
        content = (revision.get("appSpecContent") or revision.get("string") or {}).get("content")
        if not content:
            raise LookupError(
                f"deployment {self.id} has no AppSpec content in its revision ({revision.get('revisionType')})"
            )
        appspec = yaml.safe_load(content)
        for resource in appspec.get("Resources", []):
            for spec in resource.values():
                if spec.get("Type") == "AWS::ECS::Service":
                    return spec["Properties"]["TaskDefinition"]
        raise LookupError(f"deployment {self.id}: the AppSpec names no AWS::ECS::Service")

    def routing(self) -> TrafficRouting:
        name = self.info()["deploymentConfigName"]
        return traffic_routing(
            self.codedeploy.get_deployment_config(deploymentConfigName=name)["deploymentConfigInfo"]
        )

    def rollback_deployment(self) -> BlueGreenDeployment | None:
        rollback_id = (self.info().get("rollbackInfo") or {}).get("rollbackDeploymentId")
        return BlueGreenDeployment(self.codedeploy, rollback_id) if rollback_id else None

    # -- waits --------------------------------------------------------------------------------------

    def describe(self) -> str:
        """Status, error and target state in one line: what a timeout message shows."""
        try:
            info = self.info()
            line = f"deployment {self.id} {info['status']}"
            error = info.get("errorInformation")
            if error:
                line += f" ({error.get('code')}: {error.get('message')})"
            try:
                line += "; " + self.target().describe()
            except Exception as exc:  # no target yet, or it cannot be read: the status still shows
                line += f"; target not readable ({type(exc).__name__}: {exc})"
            return line
        except Exception as exc:  # the description must never hide the timeout it explains
            return f"deployment {self.id}: could not describe it ({type(exc).__name__}: {exc})"

    def wait_for_status(
        self, statuses: Iterable[str], timeout: float, interval: float = 0.1
    ) -> dict[str, Any]:
        """GetDeployment's deploymentInfo once its status is one of ``statuses``; a final status
        outside them fails at once instead of waiting for the deadline."""
        wanted = frozenset(statuses)

        def reached() -> dict[str, Any] | None:
            info = self.info()
            if info["status"] in wanted:
                return info
            if info["status"] in FINAL_DEPLOYMENT_STATES:
                raise AssertionError(
                    f"expected deployment {self.id} in {' or '.join(sorted(wanted))}; it ended: {self.describe()}"
                )
            return None

        return wait_until(
            reached,
            timeout=timeout,
            interval=interval,
            max_interval=0.25,  # GetDeployment is cheap; the end should be seen promptly
            describe_expected=f"deployment {self.id} in {' or '.join(sorted(wanted))}",
            describe_seen=lambda _: self.describe(),
        )

    def wait_until_finished(self, timeout: float) -> dict[str, Any]:
        return self.wait_for_status(FINAL_DEPLOYMENT_STATES, timeout)

    def wait_for_lifecycle_event(
        self, name: str, statuses: str | Iterable[str], timeout: float, interval: float = 0.05
    ) -> LifecycleEvent:
        """The lifecycle event ``name`` once it is in one of ``statuses``."""
        wanted = frozenset({statuses} if isinstance(statuses, str) else statuses)

        def reached() -> LifecycleEvent | None:
            try:
                event = self.target().event(name)
            except LookupError:
                return None
            return event if event is not None and event.status in wanted else None

        return wait_until(
            reached,
            timeout=timeout,
            interval=interval,
            max_interval=0.5,
            describe_expected=f"lifecycle event {name} of deployment {self.id} in {' or '.join(sorted(wanted))}",
            describe_seen=lambda _: self.describe(),
        )


def active_deployments(codedeploy: Any, application: str, group: str) -> list[str]:
    pages = codedeploy.get_paginator("list_deployments").paginate(
        applicationName=application,
        deploymentGroupName=group,
        includeOnlyStatuses=list(ACTIVE_DEPLOYMENT_STATES),
    )
    return [d for page in pages for d in page.get("deployments", [])]


def settle_deployment_group(codedeploy: Any, application: str, group: str, timeout: float) -> list[str]:
    """Stop (with rollback) whatever deployment is still active on the group and wait until none is:
    CodeDeploy refuses a new deployment while one is active (DeploymentAlreadyStartedException).
    The ids it stopped."""
    stopped = []
    for deployment_id in active_deployments(codedeploy, application, group):
        try:
            codedeploy.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=True)
            stopped.append(deployment_id)
        except codedeploy.exceptions.DeploymentAlreadyCompletedException:
            pass
    wait_until(
        lambda: not active_deployments(codedeploy, application, group),
        timeout=timeout,
        describe_expected=f"no active deployment on {application}/{group}",
        describe_seen=lambda _: f"active: {active_deployments(codedeploy, application, group)}",
    )
    return stopped


# ---- watching one deployment ---------------------------------------------------------------------


@dataclass
class _Seen:
    steps: list[WeightStep] = field(default_factory=list)
    last: EcsTargetState | None = None
    errors: list[str] = field(default_factory=list)


class DeploymentRecorder:
    """Polls GetDeploymentTarget on a background thread and keeps each change of the traffic weights
    (and the last snapshot, for the lifecycle events' own start and end times)."""

    def __init__(
        self, deployment: BlueGreenDeployment, *, interval: float = 0.05, max_seconds: float = 600.0
    ):
        self.deployment = deployment
        self.interval = interval
        self.max_seconds = max_seconds
        self._seen = _Seen()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self._listeners: list[Callable[[EcsTargetState], None]] = []

    def __enter__(self) -> DeploymentRecorder:
        self._started = time.monotonic()
        self._thread = threading.Thread(
            target=self._run, name=f"deployment-recorder {self.deployment.id}", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.poll()  # the final state, whatever the last poll missed

    def _run(self) -> None:
        while not self._stop.is_set() and time.monotonic() - self._started < self.max_seconds:
            self.poll()
            if self._seen.last is not None and self._seen.last.status in FINAL_DEPLOYMENT_STATES:
                return
            self._stop.wait(self.interval)

    def poll(self) -> EcsTargetState | None:
        try:
            state = self.deployment.target()
        except LookupError:
            return None
        except Exception as exc:  # keep watching: one failed poll is not the deployment failing
            with self._lock:
                self._seen.errors.append(f"{type(exc).__name__}: {exc}")
            return None
        weights = state.weights()
        with self._lock:
            self._seen.last = state
            steps = self._seen.steps
            if weights and (not steps or steps[-1].weights != weights):
                steps.append(WeightStep(datetime.now(UTC), time.monotonic() - self._started, weights))
        return state

    def weight_steps(self) -> list[WeightStep]:
        with self._lock:
            return list(self._seen.steps)

    def last_state(self) -> EcsTargetState | None:
        with self._lock:
            return self._seen.last

    def timeline(self) -> list[TimelineEntry]:
        """One row per lifecycle event (its own start/end times) and one per weight step, in time order."""
        rows: list[TimelineEntry] = []
        state = self.last_state()
        for event in state.lifecycle_events if state else ():
            rows.append(TimelineEntry(TIMELINE_STAGE, event.name, event.status, event.start, event.end))
        for step in self.weight_steps():  # the prod listener's share of green (blue has the rest)
            rows.append(
                TimelineEntry(TIMELINE_STAGE, "prod weights", f"green {step.green:g}%", step.at, None)
            )
        epoch = datetime.min.replace(tzinfo=UTC)
        return sorted(rows, key=lambda r: _aware(r.start) or epoch)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
