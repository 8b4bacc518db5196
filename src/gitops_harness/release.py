"""Follow one approved release through CodeDeploy blue/green, with live traffic on both listeners.

    run = follow_release(pipeline, approval, green_version="7.0.0+abc123def456")
    run.problems()          # {claim: [why it does not hold]}: empty lists everywhere is a good release

What it observes, all through public APIs and real HTTP: the deployment the Deploy action started
(CodeDeploy), its lifecycle events and each prod weight step (GetDeploymentTarget, polled), the task
definition it deploys (ECS), the service's task sets at the end, and a probe on each listener for the
whole deployment. The suites assert on ``problems()`` claim by claim; ``gitops-harness run`` turns them
into one verdict; bench/ times it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gitops_harness.deployments import (
    ECS_LIFECYCLE,
    TIMELINE_STAGE,
    BlueGreenDeployment,
    DeploymentRecorder,
    EcsTargetState,
    TrafficRouting,
    WeightStep,
    weight_step_problems,
)
from gitops_harness.pipeline import PendingApproval, PipelineUnderTest
from gitops_harness.report import TimelineEntry
from gitops_harness.traffic import TrafficProbe, TrafficSummary, wait_until_serving

PROBE_RATE = 20.0  # requests per second on each listener
# Wall seconds allowed on top of the config's scaled waits (task start, health checks, polling).
DEPLOYMENT_MARGIN = 120.0
# A weight step is seen up to one poll late and the next one up to one poll early.
WEIGHT_SLACK = 0.5

CLAIMS = (
    "deployment for the build's image",
    "test listener serves green before prod",
    "prod weights follow the deployment config",
    "live prod traffic: no errors, blue -> green",
    "lifecycle events in order, all succeeded",
    "blue task set gone after the termination wait",
    "execution succeeded",
)


@dataclass
class ReleaseRun:
    execution_id: str
    image_uri: str
    green_version: str
    blue_version: str | None
    deployment: BlueGreenDeployment
    info: dict[str, Any]
    routing: TrafficRouting
    termination_wait_minutes: int
    time_scale: float
    prod: TrafficSummary
    test: TrafficSummary
    weight_steps: list[WeightStep]
    final_target: EcsTargetState | None
    deployed_images: list[str]
    service_task_sets: list[dict[str, Any]]
    execution_status: str
    seconds_approve_to_succeeded: float
    approved_at: datetime  # wall clock (UTC) when PutApprovalResult was sent
    finished_at: datetime  # wall clock (UTC) when the harness saw the deployment end
    timeline: list[TimelineEntry] = field(default_factory=list)

    @property
    def scaled_waits(self) -> float:
        """Wall seconds the config's waits take on this target: the intervals between weight steps
        and the termination wait, scaled."""
        intervals = self.routing.interval_minutes * (len(self.routing.steps) - 1)
        return (intervals + self.termination_wait_minutes) * 60 * self.time_scale

    def breakdown(self) -> dict[str, float]:
        """Where approve -> Succeeded went, in wall seconds, from CodeDeploy's own timestamps: the
        pipeline reaching CreateDeployment, each lifecycle event, the termination wait, and the
        harness noticing the end."""
        parts: dict[str, float] = {}
        created = self.info.get("createTime")
        if created:
            parts["approve -> CreateDeployment"] = (created - self.approved_at).total_seconds()
        for event in self.final_target.lifecycle_events if self.final_target else ():
            if event.start and event.end:
                parts[event.name] = (event.end - event.start).total_seconds()
        last = self.final_target.event("AfterAllowTraffic") if self.final_target else None
        complete = self.info.get("completeTime")
        if last and last.end and complete:
            parts["termination wait"] = (complete - last.end).total_seconds()
        if complete:
            parts["harness sees the end"] = (self.finished_at - complete).total_seconds()
        return parts

    def problems(self) -> dict[str, list[str]]:
        return {
            CLAIMS[0]: self._image_problems(),
            CLAIMS[1]: self._test_first_problems(),
            CLAIMS[2]: weight_step_problems(self.weight_steps, self.routing, self.time_scale, WEIGHT_SLACK),
            CLAIMS[3]: self._traffic_problems(),
            CLAIMS[4]: self._lifecycle_problems(),
            CLAIMS[5]: self._blue_gone_problems(),
            CLAIMS[6]: [] if self.execution_status == "Succeeded" else [f"execution {self.execution_status}"],
        }

    def describe(self) -> str:
        steps = " -> ".join(f"{s.green:g}%" for s in self.weight_steps)
        return (
            f"{self.deployment.id} {self.info.get('status')}, {self.routing.describe()}; green weights seen "
            f"{steps or 'none'}; prod probe {len(self.prod.errors)} error(s) in {self.prod.requests} request(s), "
            f"versions {' -> '.join(repr(v) for v in self.prod.versions) or 'none'}"
        )

    # -- each claim ---------------------------------------------------------------------------------

    def _image_problems(self) -> list[str]:
        if self.deployed_images != [self.image_uri]:
            return [
                f"the deployment's task definition runs {self.deployed_images}, the build pushed {self.image_uri}"
            ]
        return []

    def _test_first_problems(self) -> list[str]:
        on_test = self.test.first_answer(self.green_version)
        on_prod = self.prod.first_answer(self.green_version)
        if on_test is None:
            return [f"the test listener never served {self.green_version!r}: {self.test.describe()}"]
        if on_prod is None:
            return []
        # Two probes sample 1/rate apart, so "first seen" times cannot order two switches made a few ms
        # apart (no AfterAllowTestTraffic hook): the claim fails when the test listener still answered
        # with another version at or after prod's first green answer.
        stale = next(
            (
                s
                for s in self.test.samples
                if not s.failed and s.version != self.green_version and s.at >= on_prod.at
            ),
            None,
        )
        if stale is not None:
            return [
                f"prod served green at {_clock(on_prod.at)}, the test listener still served "
                f"{stale.version!r} at {_clock(stale.at)}"
            ]
        return []

    def _traffic_problems(self) -> list[str]:
        problems = []
        if self.prod.errors:
            problems.append(f"{len(self.prod.errors)} error(s) through prod: {self.prod.describe()}")
        if not self.prod.moved(self.blue_version, self.green_version):
            problems.append(
                f"prod did not move from {self.blue_version!r} to {self.green_version!r}: {self.prod.describe()}"
            )
        return problems

    def _lifecycle_problems(self) -> list[str]:
        if self.final_target is None:
            return ["the deployment's target was never read"]
        events = [(e.name, e.status) for e in self.final_target.lifecycle_events]
        if [name for name, _ in events] != list(ECS_LIFECYCLE):
            return [f"lifecycle events {[n for n, _ in events]}, expected {list(ECS_LIFECYCLE)}"]
        # Hooks the appspec does not name may be Skipped; everything else must have succeeded.
        bad = [f"{name}={status}" for name, status in events if status not in ("Succeeded", "Skipped")]
        return [f"lifecycle events not succeeded: {', '.join(bad)}"] if bad else []

    def _blue_gone_problems(self) -> list[str]:
        problems = []
        green = self.final_target.task_set("Green") if self.final_target else None
        ids = [t["id"] for t in self.service_task_sets]
        if green is None or ids != [green.identifier]:
            problems.append(
                f"the service keeps task sets {ids}, expected only green's ({green.identifier if green else '?'})"
            )
        event = self.final_target.event("AfterAllowTraffic") if self.final_target else None
        complete = self.info.get("completeTime")
        wait = self.termination_wait_minutes * 60 * self.time_scale
        if event and event.end and complete and (complete - event.end).total_seconds() < wait - WEIGHT_SLACK:
            problems.append(
                f"blue went {(complete - event.end).total_seconds():.2f}s after AfterAllowTraffic, "
                f"the termination wait is {wait:.2f}s"
            )
        return problems


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S.%f")[:-3]


def termination_wait_minutes(codedeploy: Any, application: str, group: str) -> int:
    info = codedeploy.get_deployment_group(applicationName=application, deploymentGroupName=group)[
        "deploymentGroupInfo"
    ]
    terminate = (info.get("blueGreenDeploymentConfiguration") or {}).get(
        "terminateBlueInstancesOnDeploymentSuccess"
    ) or {}
    return (
        int(terminate.get("terminationWaitTimeInMinutes", 0)) if terminate.get("action") == "TERMINATE" else 0
    )


def deployed_images(target: Any, deployment: BlueGreenDeployment) -> list[str]:
    """Images of the task definition the deployment's AppSpec names (ECS DescribeTaskDefinition)."""
    definition = target.client("ecs", "pipeline").describe_task_definition(
        taskDefinition=deployment.task_definition_arn()
    )["taskDefinition"]
    return [c["image"] for c in definition["containerDefinitions"]]


def service_task_sets(target: Any, cluster: str, service: str) -> list[dict[str, Any]]:
    [described] = target.client("ecs", "pipeline").describe_services(cluster=cluster, services=[service])[
        "services"
    ]
    return described.get("taskSets", [])


def follow_release(
    pipeline: PipelineUnderTest,
    approval: PendingApproval,
    image_uri: str,
    green_version: str,
    *,
    start_timeout: float = 60.0,
) -> ReleaseRun:
    """Approve ``approval`` and follow its deployment to the end with both listeners under traffic."""
    target, stacks = pipeline.target, pipeline.deployment
    codedeploy = target.client("codedeploy", "pipeline")
    wait_minutes = termination_wait_minutes(
        codedeploy, stacks.codedeploy_application, stacks.deployment_group
    )
    prod_url = target.listener_url(stacks.production_listener_arn)
    test_url = target.listener_url(stacks.test_listener_arn)
    blue_version = wait_until_serving(prod_url, timeout=start_timeout).version
    wait_until_serving(test_url, timeout=start_timeout)
    prod = TrafficProbe(prod_url, rate=PROBE_RATE, max_seconds=900)
    test = TrafficProbe(test_url, rate=PROBE_RATE, max_seconds=900)
    with prod, test:
        approved, approved_at = time.monotonic(), datetime.now(UTC)
        pipeline.answer(approval, "Approved", "approved by gitops-harness (blue/green)")
        deployment = pipeline.wait_for_deployment(approval.execution_id, timeout=start_timeout)
        routing = deployment.routing()
        with DeploymentRecorder(deployment) as recorder:
            scaled = (
                (routing.interval_minutes * (len(routing.steps) - 1) + wait_minutes) * 60 * target.time_scale
            )
            info = deployment.wait_until_finished(timeout=scaled + DEPLOYMENT_MARGIN)
            finished, finished_at = time.monotonic(), datetime.now(UTC)
        execution = pipeline.wait_until_finished(approval.execution_id, timeout=start_timeout)
    return ReleaseRun(
        execution_id=approval.execution_id,
        image_uri=image_uri,
        green_version=green_version,
        blue_version=blue_version,
        deployment=deployment,
        info=info,
        routing=routing,
        termination_wait_minutes=wait_minutes,
        time_scale=target.time_scale,
        prod=prod.summary(),
        test=test.summary(),
        weight_steps=recorder.weight_steps(),
        final_target=recorder.last_state(),
        deployed_images=deployed_images(target, deployment),
        service_task_sets=service_task_sets(target, stacks.cluster_name, stacks.service_name),
        execution_status=execution["status"],
        seconds_approve_to_succeeded=finished - approved,
        approved_at=approved_at,
        finished_at=finished_at,
        timeline=_with_deployment_row(recorder.timeline(), deployment, info),
    )


def _with_deployment_row(
    rows: list[TimelineEntry], deployment: BlueGreenDeployment, info: dict[str, Any]
) -> list[TimelineEntry]:
    """The deployment itself as a row (create -> complete, the termination wait included), then its events."""
    whole = TimelineEntry(
        TIMELINE_STAGE, deployment.id, info["status"], info.get("createTime"), info.get("completeTime")
    )
    return [whole, *rows]
