"""The ECS blue/green deployment: a scheduler job per deployment, acting as the group's service role.

In order: BeforeInstall -> Install (CreateTaskSet for green on the target group not serving production,
wait until it is steady and its tasks are healthy there) -> AfterInstall -> AllowTestTraffic (test
listener -> green) -> AfterAllowTestTraffic -> Ready wait (STOP_DEPLOYMENT only) -> BeforeAllowTraffic
-> AllowTraffic (prod listener: weighted forward per the config's steps) -> AfterAllowTraffic ->
UpdateServicePrimaryTaskSet -> termination wait -> DeleteTaskSet of blue -> Succeeded.

It calls only what AWSCodeDeployRoleForECS allows: ECS DescribeServices/CreateTaskSet/
UpdateServicePrimaryTaskSet/DeleteTaskSet, ELB DescribeTargetGroups/DescribeListeners/ModifyListener,
lambda:InvokeFunction, cloudwatch:DescribeAlarms. Green's health is ECS's word (DescribeServices: the task
set STEADY_STATE, which ECS reaches when its tasks run and are healthy in the target group); a container or
port missing from the task definition is ECS's CreateTaskSet error. Every wait also watches for StopDeployment and the
group's CloudWatch alarms; a failure rolls back (prod and test traffic to blue, green deleted, a rollback
deployment of its own) when the group's autoRollbackConfiguration asks for it.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from gitops_harness.emulator.clients import RoleClients
from gitops_harness.emulator.codedeploy import events
from gitops_harness.emulator.codedeploy.configs import traffic_steps
from gitops_harness.emulator.codedeploy.models import (
    Deployment,
    DeploymentGroup,
    HookExecution,
    TaskSetInfo,
    now,
)
from gitops_harness.emulator.common.events import EventPublisher
from gitops_harness.emulator.scheduler import Scheduler, WaitFor

log = logging.getLogger(__name__)

POLL_SECONDS = 15.0  # AWS seconds between checks of the group's alarms while waiting
INSTALL_POLL_SECONDS = 5.0  # between checks of green's target health (an ALB checks every 5 s at best)
HOOK_TIMEOUT = 3600.0  # a hook must answer PutLifecycleEventHookExecutionStatus within one hour
INSTALL_TIMEOUT = 3600.0  # green tasks must become healthy within one hour


class DeploymentFailed(Exception):
    """Ends the deployment: `status` Failed or Stopped, errorInformation {code, message}."""

    def __init__(self, code: str, message: str, status: str = "Failed", rollback_event: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        # the autoRollbackConfiguration event that decides a rollback; None: the stop request decides
        self.rollback_event = rollback_event or "DEPLOYMENT_FAILURE"


def _error_text(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code')}: {error.get('Message')}"


def network_configuration(appspec_network: dict[str, Any]) -> dict[str, Any]:
    """The AppSpec's NetworkConfiguration (PascalCase) as ECS's API takes it."""
    vpc = appspec_network.get("AwsvpcConfiguration") or {}
    out: dict[str, Any] = {}
    for key, api_key in (
        ("Subnets", "subnets"),
        ("SecurityGroups", "securityGroups"),
        ("AssignPublicIp", "assignPublicIp"),
    ):
        if key in vpc:
            out[api_key] = vpc[key]
    return {"awsvpcConfiguration": out}


@dataclass(frozen=True)
class EngineServices:
    lock: threading.RLock  # the plane's: handlers and jobs share the state it guards
    scheduler: Scheduler
    clients: RoleClients
    publisher: EventPublisher
    group_of: Callable[[Deployment], DeploymentGroup | None]  # the deployment's group, if it still exists
    # a rollback deployment recorded for a failed one (None when its group is gone); the engine runs it
    create_rollback: Callable[[Deployment], Deployment | None]


class Engine:
    def __init__(self, services: EngineServices):
        self.lock = services.lock
        self.scheduler = services.scheduler
        self.clients = services.clients
        self.publisher = services.publisher
        self.group_of = services.group_of
        self.create_rollback = services.create_rollback

    # ---- entry points --------------------------------------------------------------------------

    def start(self, deployment: Deployment) -> None:
        self.scheduler.spawn(self._run, deployment, name=f"codedeploy-{deployment.deployment_id}")

    # ---- helpers -------------------------------------------------------------------------------

    def _client(self, deployment: Deployment, service: str) -> Any:
        role = deployment.group_snapshot["serviceRoleArn"]
        return self.clients.for_role(service, role, deployment.region, session_name="codedeploy")

    def _call(self, code: str, client: Any, operation: str, **params: Any) -> Any:
        try:
            return getattr(client, operation)(**params)
        except ClientError as exc:
            raise DeploymentFailed(code, f"{operation} failed: {_error_text(exc)}") from None

    def _publish(self, deployment: Deployment, state: str) -> None:
        with self.lock:
            group = self.group_of(deployment)
            group_id = group.group_id if group else ""
        entry = events.state_change(deployment, group_id, state)
        self.publisher.try_publish(deployment.account_id, deployment.region, [entry])

    def _set_event(self, deployment: Deployment, name: str, status: str) -> None:
        with self.lock:
            run = deployment.events[name]
            if status == "InProgress" or run.start is None:
                run.start = now()
            if status != "InProgress":
                run.end = now()
            run.status = status
            deployment.target_updated = now()

    def _check(self, deployment: Deployment) -> None:
        """Raise when a stop was requested or one of the group's alarms is in ALARM."""
        with self.lock:
            stop = deployment.stop_request
        if stop is not None:
            raise DeploymentFailed(
                "MANUAL_STOP", "The deployment was stopped by a user", status="Stopped", rollback_event=None
            )
        alarms = deployment.group_snapshot.get("alarmConfiguration") or {}
        names = [a["name"] for a in alarms.get("alarms") or [] if a.get("name")]
        if not alarms.get("enabled") or not names:
            return
        try:
            answer = self._client(deployment, "cloudwatch").describe_alarms(AlarmNames=names)
        except ClientError as exc:
            if alarms.get("ignorePollAlarmFailure"):
                return
            raise DeploymentFailed(
                "ALARM_ACTIVE", f"The alarms of the deployment group could not be read: {_error_text(exc)}"
            ) from None
        firing = [a["AlarmName"] for a in answer.get("MetricAlarms", []) if a.get("StateValue") == "ALARM"]
        if firing:
            raise DeploymentFailed(
                "ALARM_ACTIVE",
                "One or more alarms have been activated according to the Amazon CloudWatch metrics you "
                "selected, and the affected deployments have been stopped. Activated alarms: <"
                + ", ".join(firing)
                + ">",
                status="Stopped",
                rollback_event="DEPLOYMENT_STOP_ON_ALARM",
            )

    def _wait(
        self,
        deployment: Deployment,
        seconds: float,
        until: Callable[[], bool] | None = None,
        poll: float = POLL_SECONDS,
    ) -> Generator[Any, Any, bool]:
        """Up to `seconds` AWS seconds: True as soon as `until()` holds, False at the timeout. A stop or an
        alarm raises DeploymentFailed."""
        scheduler = self.scheduler
        deadline = scheduler.clock.now() + scheduler.to_clock(seconds)
        while True:
            deployment.wake.clear()  # before the checks: a wake-up meanwhile is not lost
            self._check(deployment)
            if until is not None and until():
                return True
            remaining = (deadline - scheduler.clock.now()) / scheduler.time_scale
            if remaining <= 1e-6:  # float rounding of scaled clock seconds must not leave a sliver to wait
                return False
            yield WaitFor(deployment.wake, timeout=min(remaining, poll))

    # ---- the deployment ------------------------------------------------------------------------

    def _run(self, deployment: Deployment) -> Generator[Any, Any, None]:
        with self.lock:
            deployment.status = "InProgress"
            deployment.started = now()
            deployment.target_status = "InProgress"
        self._publish(deployment, "START")
        try:
            yield from self._hook(deployment, "BeforeInstall")
            yield from self._install(deployment)
            yield from self._hook(deployment, "AfterInstall")
            self._allow_test_traffic(deployment)
            yield from self._hook(deployment, "AfterAllowTestTraffic")
            yield from self._ready_wait(deployment)
            yield from self._hook(deployment, "BeforeAllowTraffic")
            yield from self._allow_traffic(deployment)
            yield from self._hook(deployment, "AfterAllowTraffic")
            yield from self._finish(deployment)
        except DeploymentFailed as failure:
            yield from self._fail(deployment, failure)
        except Exception as exc:  # a bug or an unexpected answer must not leave it InProgress for ever
            log.exception("deployment %s failed", deployment.deployment_id)
            yield from self._fail(
                deployment, DeploymentFailed("INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")
            )

    def _hook(self, deployment: Deployment, event: str) -> Generator[Any, Any, None]:
        functions = [h[event] for h in deployment.appspec.get("hooks", []) if event in h]
        if not functions:
            self._set_event(deployment, event, "Skipped")
            return
        self._set_event(deployment, event, "InProgress")
        for function in functions:
            hook = HookExecution(str(uuid.uuid4()), event, str(function))
            with self.lock:
                deployment.hooks[hook.execution_id] = hook
            payload = {
                "DeploymentId": deployment.deployment_id,
                "LifecycleEventHookExecutionId": hook.execution_id,
            }
            try:
                self._client(deployment, "lambda").invoke(
                    FunctionName=hook.function, InvocationType="Event", Payload=json.dumps(payload).encode()
                )
            except ClientError as exc:
                raise DeploymentFailed(
                    "INVALID_LAMBDA_FUNCTION",
                    f"The {event} hook could not invoke Lambda function {hook.function}: {_error_text(exc)}",
                ) from None
            answered = yield from self._wait(
                deployment, HOOK_TIMEOUT, until=lambda h=hook: h.status != "Pending"
            )
            if not answered:
                raise DeploymentFailed(
                    "TIMEOUT",
                    f"The {event} hook {hook.function} did not call PutLifecycleEventHookExecutionStatus "
                    "within one hour",
                )
            if hook.status != "Succeeded":
                raise DeploymentFailed(
                    "HOOK_EXECUTION_FAILURE",
                    f"The deployment failed because a lifecycle event hook failed: {hook.function} reported "
                    f"{hook.status} for {event}",
                )
        self._set_event(deployment, event, "Succeeded")

    def _target_groups(self, deployment: Deployment) -> tuple[dict[str, Any], dict[str, Any]]:
        """(blue, green) target groups: blue is the one the prod listener forwards to now."""
        pair = deployment.group_snapshot["loadBalancerInfo"]["targetGroupPairInfoList"][0]
        names = [tg["name"] for tg in pair["targetGroups"]]
        elb = self._client(deployment, "elbv2")
        groups = self._call("ELASTIC_LOAD_BALANCING_INVALID", elb, "describe_target_groups", Names=names)
        by_name = {tg["TargetGroupName"]: tg for tg in groups["TargetGroups"]}
        first, second = by_name[names[0]], by_name[names[1]]
        weights = self._listener_weights(deployment, pair["prodTrafficRoute"]["listenerArns"][0])
        if weights.get(second["TargetGroupArn"], 0) > weights.get(first["TargetGroupArn"], 0):
            return second, first
        return first, second

    def _listener_weights(self, deployment: Deployment, listener_arn: str) -> dict[str, int]:
        elb = self._client(deployment, "elbv2")
        listener = self._call(
            "ELASTIC_LOAD_BALANCING_INVALID", elb, "describe_listeners", ListenerArns=[listener_arn]
        )["Listeners"][0]
        weights: dict[str, int] = {}
        for action in listener.get("DefaultActions", []):
            if action.get("Type") != "forward":
                continue
            if action.get("ForwardConfig"):
                for tg in action["ForwardConfig"].get("TargetGroups", []):
                    weights[tg["TargetGroupArn"]] = tg.get("Weight", 1)
            elif action.get("TargetGroupArn"):
                weights[action["TargetGroupArn"]] = 1
        return weights

    def _route(
        self, deployment: Deployment, listener_arns: list[str], weights: list[tuple[str, int]]
    ) -> None:
        elb = self._client(deployment, "elbv2")
        action = {
            "Type": "forward",
            "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": arn, "Weight": w} for arn, w in weights]},
        }
        for arn in listener_arns:
            self._call(
                "ELASTIC_LOAD_BALANCING_INVALID",
                elb,
                "modify_listener",
                ListenerArn=arn,
                DefaultActions=[action],
            )

    def _install(self, deployment: Deployment) -> Generator[Any, Any, None]:
        self._set_event(deployment, "Install", "InProgress")
        ecs = self._client(deployment, "ecs")
        props = deployment.appspec["properties"]
        lb = props["LoadBalancerInfo"]
        container, port = lb["ContainerName"], lb["ContainerPort"]
        found = self._call(
            "INVALID_ECS_SERVICE",
            ecs,
            "describe_services",
            cluster=deployment.cluster,
            services=[deployment.service],
        )
        if not found.get("services") or found["services"][0].get("status") != "ACTIVE":
            raise DeploymentFailed(
                "INVALID_ECS_SERVICE",
                f"The ECS service {deployment.service} in cluster {deployment.cluster} is not active",
            )
        service = found["services"][0]
        blue_tg, green_tg = self._target_groups(deployment)
        primary = next((t for t in service.get("taskSets", []) if t.get("status") == "PRIMARY"), None)
        params: dict[str, Any] = {
            "service": deployment.service,
            "cluster": deployment.cluster,
            "externalId": deployment.deployment_id,
            "taskDefinition": props["TaskDefinition"],
            "loadBalancers": [
                {
                    "targetGroupArn": green_tg["TargetGroupArn"],
                    "containerName": container,
                    "containerPort": port,
                }
            ],
            "scale": {"unit": "PERCENT", "value": 100.0},
        }
        if service.get("launchType"):
            params["launchType"] = service["launchType"]
        if props.get("PlatformVersion"):
            params["platformVersion"] = props["PlatformVersion"]
        if props.get("NetworkConfiguration"):
            params["networkConfiguration"] = network_configuration(props["NetworkConfiguration"])
        elif service.get("networkConfiguration"):
            params["networkConfiguration"] = service["networkConfiguration"]
        green = self._call("ECS_UPDATE_ERROR", ecs, "create_task_set", **params)["taskSet"]
        deployments = service.get("deployments") or [{}]
        with self.lock:
            deployment.task_sets = [
                TaskSetInfo(
                    "Blue",
                    (primary or {}).get("id") or deployments[0].get("id", service["serviceName"]),
                    blue_tg["TargetGroupName"],
                    desired=(primary or service).get("desiredCount", 0),
                    pending=(primary or service).get("pendingCount", 0),
                    running=(primary or service).get("runningCount", 0),
                    status="PRIMARY",
                    weight=100.0,
                    arn=(primary or {}).get("taskSetArn"),
                ),
                TaskSetInfo(
                    "Green",
                    green["id"],
                    green_tg["TargetGroupName"],
                    status=green.get("status", "ACTIVE"),
                    arn=green["taskSetArn"],
                ),
            ]
            deployment.green_tg_arn = green_tg["TargetGroupArn"]
            deployment.blue_tg_arn = blue_tg["TargetGroupArn"]
        healthy = yield from self._wait(
            deployment,
            INSTALL_TIMEOUT,
            until=lambda: self._green_healthy(deployment),
            poll=INSTALL_POLL_SECONDS,
        )
        if not healthy:
            raise DeploymentFailed(
                "ECS_UPDATE_ERROR",
                f"The ECS task set {green['id']} did not become healthy in target group "
                f"{green_tg['TargetGroupName']} within one hour",
            )
        self._set_event(deployment, "Install", "Succeeded")

    def _green_healthy(self, deployment: Deployment) -> bool:
        """ECS reports green steady (its tasks running and healthy in its target group) with all its tasks."""
        green = deployment.task_set("Green")
        assert green is not None and green.arn
        ecs = self._client(deployment, "ecs")
        found = self._call(
            "ECS_UPDATE_ERROR",
            ecs,
            "describe_services",
            cluster=deployment.cluster,
            services=[deployment.service],
        )["services"]
        task_set = next(
            (t for s in found for t in s.get("taskSets", []) if t.get("taskSetArn") == green.arn), None
        )
        if task_set is None:
            raise DeploymentFailed("ECS_UPDATE_ERROR", f"The green task set {green.identifier} was deleted")
        # A task that cannot start (CannotPullContainerError, CannotStartContainerError...) fails the
        # deployment now with ECS's reason, not after the Install timeout; ECS reports it in service events.
        marker = f"taskSet {green.identifier}) failed to launch a task: "
        for event in (e for s in found for e in s.get("events", [])):
            message = event.get("message", "")
            if marker in message:
                raise DeploymentFailed(
                    "ECS_UPDATE_ERROR",
                    f"The ECS task set {green.identifier} failed to start its tasks: "
                    + message.split(marker, 1)[1],
                )
        wanted = task_set.get("computedDesiredCount", 0)
        with self.lock:
            green.desired = wanted
            green.pending = task_set.get("pendingCount", 0)
            green.running = task_set.get("runningCount", 0)
            green.status = task_set.get("status", green.status)
        return task_set.get("stabilityStatus") == "STEADY_STATE" and green.running >= wanted

    def _allow_test_traffic(self, deployment: Deployment) -> None:
        pair = deployment.group_snapshot["loadBalancerInfo"]["targetGroupPairInfoList"][0]
        listeners = (pair.get("testTrafficRoute") or {}).get("listenerArns") or []
        if not listeners:
            self._set_event(deployment, "AllowTestTraffic", "Skipped")
            return
        self._set_event(deployment, "AllowTestTraffic", "InProgress")
        self._route(deployment, listeners, [(deployment.green_tg_arn, 100)])
        self._set_event(deployment, "AllowTestTraffic", "Succeeded")

    def _ready_wait(self, deployment: Deployment) -> Generator[Any, Any, None]:
        ready = (deployment.group_snapshot.get("blueGreenDeploymentConfiguration") or {}).get(
            "deploymentReadyOption"
        ) or {}
        if ready.get("actionOnTimeout") != "STOP_DEPLOYMENT":
            return
        with self.lock:
            deployment.status = "Ready"
            deployment.target_status = "Ready"
            deployment.waiting_for = "READY_WAIT"
        self._publish(deployment, "READY")
        minutes = ready.get("waitTimeInMinutes") or 0
        continued = yield from self._wait(
            deployment, minutes * 60, until=lambda: "READY_WAIT" in deployment.continue_requests
        )
        with self.lock:
            deployment.waiting_for = None
        if not continued:
            raise DeploymentFailed(
                "TIMEOUT",
                f"The deployment timed out while waiting for ContinueDeployment (READY_WAIT) for {minutes} minutes",
                status="Stopped",
            )
        with self.lock:
            deployment.status = "InProgress"
            deployment.target_status = "InProgress"

    def _shift(self, deployment: Deployment, green_percent: int) -> None:
        pair = deployment.group_snapshot["loadBalancerInfo"]["targetGroupPairInfoList"][0]
        self._route(
            deployment,
            pair["prodTrafficRoute"]["listenerArns"],
            [
                (deployment.blue_tg_arn, 100 - green_percent),
                (deployment.green_tg_arn, green_percent),
            ],
        )
        with self.lock:
            for task_set in deployment.task_sets:
                task_set.weight = float(green_percent if task_set.label == "Green" else 100 - green_percent)
            deployment.target_updated = now()

    def _allow_traffic(self, deployment: Deployment) -> Generator[Any, Any, None]:
        self._set_event(deployment, "AllowTraffic", "InProgress")
        for green_percent, wait in traffic_steps(deployment.config.traffic_routing):
            self._check(deployment)
            self._shift(deployment, green_percent)
            if wait:
                yield from self._wait(deployment, wait)
        self._set_event(deployment, "AllowTraffic", "Succeeded")

    def _finish(self, deployment: Deployment) -> Generator[Any, Any, None]:
        ecs = self._client(deployment, "ecs")
        green, blue = deployment.task_set("Green"), deployment.task_set("Blue")
        assert green is not None and blue is not None
        self._call(
            "ECS_UPDATE_ERROR",
            ecs,
            "update_service_primary_task_set",
            cluster=deployment.cluster,
            service=deployment.service,
            primaryTaskSet=green.arn,
        )
        with self.lock:
            green.status, blue.status = "PRIMARY", "ACTIVE"
        terminate = (deployment.group_snapshot.get("blueGreenDeploymentConfiguration") or {}).get(
            "terminateBlueInstancesOnDeploymentSuccess"
        ) or {}
        if terminate.get("action", "TERMINATE") == "TERMINATE":
            minutes = terminate.get("terminationWaitTimeInMinutes") or 0
            with self.lock:
                deployment.termination_wait_started = True
                deployment.waiting_for = "TERMINATION_WAIT"
            yield from self._wait(
                deployment, minutes * 60, until=lambda: "TERMINATION_WAIT" in deployment.continue_requests
            )
            with self.lock:
                deployment.waiting_for = None
            if blue.arn:
                self._call(
                    "ECS_UPDATE_ERROR",
                    ecs,
                    "delete_task_set",
                    cluster=deployment.cluster,
                    service=deployment.service,
                    taskSet=blue.arn,
                )
                with self.lock:
                    blue.status = "DRAINING"
        self._end(deployment, "Succeeded", "Succeeded")
        self._publish(deployment, "SUCCESS")

    def _end(self, deployment: Deployment, status: str, target_status: str) -> None:
        with self.lock:
            deployment.status = status
            deployment.target_status = target_status
            deployment.completed = now()
            deployment.target_updated = now()
            deployment.waiting_for = None
            group = self.group_of(deployment)
            if group is not None:
                if group.active == deployment.deployment_id:
                    group.active = None
                if status == "Succeeded":
                    group.last_succeeded = deployment.deployment_id

    # ---- failure and rollback ------------------------------------------------------------------

    def _wants_rollback(self, deployment: Deployment, failure: DeploymentFailed) -> bool:
        if failure.code == "MANUAL_STOP":
            return bool((deployment.stop_request or {}).get("rollback"))
        auto = deployment.group_snapshot.get("autoRollbackConfiguration") or {}
        return bool(auto.get("enabled")) and failure.rollback_event in (auto.get("events") or [])

    def _fail(self, deployment: Deployment, failure: DeploymentFailed) -> Generator[Any, Any, None]:
        rollback = self._wants_rollback(deployment, failure) and bool(deployment.task_sets)
        with self.lock:
            for run in deployment.events.values():
                if run.status == "InProgress":
                    run.status, run.end = "Failed", now()
                elif run.status == "Pending":
                    run.status = "Skipped"
            deployment.error = {"code": failure.code, "message": failure.message}
        rollback_deployment = self.create_rollback(deployment) if rollback else None
        self._end(deployment, failure.status, "Failed")
        self._publish(deployment, "STOP" if failure.status == "Stopped" else "FAILURE")
        if rollback_deployment is not None:
            yield from self._roll_back(rollback_deployment, deployment)

    def _roll_back(self, rollback: Deployment, failed: Deployment) -> Generator[Any, Any, None]:
        """Production and test traffic back to blue, green deleted: a deployment of its own."""
        with self.lock:
            rollback.status = "InProgress"
            rollback.started = now()
            rollback.target_status = "InProgress"
            rollback.task_sets = [TaskSetInfo(**vars(t)) for t in failed.task_sets]
            rollback.blue_tg_arn, rollback.green_tg_arn = failed.blue_tg_arn, failed.green_tg_arn
        self._publish(rollback, "START")
        try:
            for name in ("BeforeInstall", "Install", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic",
                         "AfterAllowTraffic"):  # fmt: skip
                self._set_event(rollback, name, "Skipped")
            pair = rollback.group_snapshot["loadBalancerInfo"]["targetGroupPairInfoList"][0]
            test = (pair.get("testTrafficRoute") or {}).get("listenerArns") or []
            self._set_event(rollback, "AllowTestTraffic", "InProgress")
            if test:
                self._route(rollback, test, [(rollback.blue_tg_arn, 100)])
            self._set_event(rollback, "AllowTestTraffic", "Succeeded")
            self._set_event(rollback, "AllowTraffic", "InProgress")
            self._shift(rollback, 0)
            self._set_event(rollback, "AllowTraffic", "Succeeded")
            ecs = self._client(rollback, "ecs")
            green, blue = rollback.task_set("Green"), rollback.task_set("Blue")
            if blue is not None and blue.arn and blue.status != "PRIMARY":
                self._call(
                    "ECS_UPDATE_ERROR",
                    ecs,
                    "update_service_primary_task_set",
                    cluster=rollback.cluster,
                    service=rollback.service,
                    primaryTaskSet=blue.arn,
                )
            if green is not None and green.arn:
                self._call(
                    "ECS_UPDATE_ERROR",
                    ecs,
                    "delete_task_set",
                    cluster=rollback.cluster,
                    service=rollback.service,
                    taskSet=green.arn,
                )
                with self.lock:
                    green.status = "DRAINING"
                    if blue is not None:
                        blue.status = "PRIMARY"
        except DeploymentFailed as failure:
            with self.lock:
                rollback.error = {"code": failure.code, "message": failure.message}
            self._end(rollback, "Failed", "Failed")
            self._publish(rollback, "FAILURE")
            return
        self._end(rollback, "Succeeded", "Succeeded")
        self._publish(rollback, "SUCCESS")
        yield from ()
