"""Task sets whose tasks run: the controller behind the ECS hooks (moto_hooks.py).

A task set's computed desired count is ceil(service desiredCount x scale%). Each task is a moto Task
(DescribeTasks / ListTasks / StopTask see it) and a TaskRuntime task; once running, its address and the
host port of each load balancer's containerPort are registered in that target group; when it stops it
is deregistered and its moto Task shows STOPPED with the reason. Counts and stabilityStatus are
refreshed from this state whenever a task set or service is described.
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gitops_harness.emulator.clients import RoleClients
from gitops_harness.emulator.ecs_tasks import images
from gitops_harness.emulator.ecs_tasks.awslogs import AwsLogsStream
from gitops_harness.emulator.ecs_tasks.runtime import (
    ContainerSpec,
    RunningTask,
    TaskFailure,
    TaskRuntime,
    TaskSpec,
)
from gitops_harness.emulator.elb_dataplane import health

log = logging.getLogger(__name__)
DEFAULT_STOP_TIMEOUT = 30  # seconds, ECS's default for Fargate


@dataclass
class TaskRecord:
    task: Any  # moto's Task
    task_set_arn: str
    account_id: str
    region: str
    load_balancers: list[dict[str, Any]]
    running: RunningTask | None = None
    targets: list[tuple[str, str, int]] = field(default_factory=list)  # (target group, address, port)
    logs: list[AwsLogsStream] = field(default_factory=list)
    health_checked: set[str] = field(default_factory=set)  # containers with a task definition healthCheck
    registered: bool = False  # its targets are in their target groups (until then it is not steady)
    stopping: bool = False
    backend: Any = None  # moto's ECS backend: a task that exits on its own is replaced from it
    replace: bool = False  # stopped by StopTask: the service scheduler starts another, as ECS does


def _utcnow() -> datetime:
    return datetime.now(UTC)


class TaskSetController:
    def __init__(self, runtime: TaskRuntime, clients: RoleClients, time_scale: float, floor: float = 0.05):
        self.runtime = runtime
        self.clients = clients
        self.time_scale = time_scale
        self.floor = floor
        self._records: dict[str, TaskRecord] = {}  # task id -> record
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.closed = False

    # ---- what the hooks call --------------------------------------------------------------------

    def scale(self, backend: Any, service: Any, task_set: Any) -> None:
        """Start or stop tasks until the task set runs its computed desired count."""
        scale = task_set.scale or {"value": 100.0, "unit": "PERCENT"}
        desired = math.ceil(service.desired_count * float(scale.get("value", 100.0)) / 100.0)
        task_set.computed_desired_count = desired
        with self._lock:
            live = [
                r
                for r in self._records.values()
                if r.task_set_arn == task_set.task_set_arn and not r.stopping
            ]
        for _ in range(desired - len(live)):
            record = self._create_task(backend, service, task_set)
            self._background(self._start, backend, record)
        for record in live[desired:]:
            self.stop_record(record, f"Scaling activity initiated by (deployment {task_set.id})")
        self.refresh(task_set)

    def drain(self, task_set: Any) -> None:
        with self._lock:
            records = [r for r in self._records.values() if r.task_set_arn == task_set.task_set_arn]
        for record in records:
            self.stop_record(record, f"Scaling activity initiated by (deployment {task_set.id})")

    def stop_task(self, task_arn: str, reason: str) -> None:
        with self._lock:
            record = self._records.get(task_arn.rsplit("/", 1)[-1])
        if record is not None:
            record.replace = True
            self.stop_record(record, reason or "Task stopped by user")

    def refresh(self, task_set: Any) -> None:
        with self._lock:
            records = [r for r in self._records.values() if r.task_set_arn == task_set.task_set_arn]
        running = [r for r in records if r.running is not None and not r.stopping]
        task_set.running_count = len(running)
        task_set.pending_count = len([r for r in records if r.running is None and not r.stopping])
        desired = getattr(task_set, "computed_desired_count", 0)
        healthy = all(r.registered for r in running) and all(
            health.is_healthy(tg, address, port) for r in running for tg, address, port in r.targets
        )
        steady = len(running) == desired and task_set.pending_count == 0 and healthy
        status = "STEADY_STATE" if steady else "STABILIZING"
        if status != task_set.stabilityStatus:
            task_set.stabilityStatus = status
            task_set.stabilityStatusAt = _utcnow()

    def refresh_service(self, service: Any) -> None:
        for task_set in service.task_sets:
            self.refresh(task_set)
        if service.deployment_controller.get("type") != "ECS":
            service.running_count = sum(getattr(ts, "running_count", 0) for ts in service.task_sets)
            service.pending_count = sum(getattr(ts, "pending_count", 0) for ts in service.task_sets)

    def stop_all(self) -> None:
        self.closed = True
        self.runtime.stop_all()
        for thread in list(self._threads):
            thread.join(10)

    # ---- tasks -----------------------------------------------------------------------------------

    def _create_task(self, backend: Any, service: Any, task_set: Any) -> TaskRecord:
        from moto.ecs.models import Task

        cluster = backend._get_cluster(service.cluster_name)
        definition = backend.describe_task_definition(task_set.task_definition)
        task = Task(
            cluster,
            definition,
            None,
            None,
            backend,
            group=f"service:{service.name}",
            launch_type=task_set.launch_type or "",
            started_by=task_set.id,
            networking_configuration=task_set.network_configuration or service.network_configuration or None,
            platform_version=task_set.platform_version,
        )
        task._transitions = [("PROVISIONING", "PROVISIONING")]  # our lifecycle, not moto's ticks
        task.last_status = "PROVISIONING"
        task.desired_status = "RUNNING"
        task.created_at = _utcnow()
        backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
        record = TaskRecord(
            task,
            task_set.task_set_arn,
            backend.account_id,
            backend.region_name,
            task_set.load_balancers,
            backend=backend,
        )
        with self._lock:
            self._records[task.id] = record
        return record

    def _background(self, function: Any, *args: Any) -> None:
        thread = threading.Thread(target=function, args=args, daemon=True, name="ecs-task-start")
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _start(self, backend: Any, record: TaskRecord) -> None:
        task = record.task
        task.last_status = "PENDING"
        try:
            definition = backend.describe_task_definition(task.task_definition_arn)
            spec = self._spec(definition, record)
            if self.closed or record.stopping:
                raise TaskFailure("Task stopped before it started")
            record.running = self.runtime.start(spec, lambda running: self._stopped(record, running))
        except TaskFailure as failure:
            self._failed(record, str(failure))
            return
        except Exception as exc:  # a bug of ours must show on the task, not vanish in a thread
            log.exception("task %s failed to start", task.id)
            self._failed(record, f"InternalError: {type(exc).__name__}: {exc}")
            return
        if record.stopping:  # stopped (scaled in, deleted) while it was starting
            record.stopping = False
            self.stop_record(record, "Task stopped while starting")
            return
        self._set_address(task, record.running.address)
        task.last_status = "RUNNING"
        task.started_at = _utcnow()
        try:
            self._register(record)
        except Exception as exc:  # noqa: BLE001 - a missing target group stops the task with the reason
            self.stop_record(record, f"ResourceInitializationError: cannot register targets: {exc}")

    def _spec(self, definition: Any, record: TaskRecord) -> TaskSpec:
        containers = []
        for container in definition.container_definitions:
            image = container.get("image", "")
            try:
                content = images.load(image)
            except images.ImageNotFound as missing:
                raise TaskFailure(str(missing)) from None
            config = content.config if content else {}
            environment = dict(e.partition("=")[::2] for e in config.get("Env") or [])
            environment.update({e["name"]: e.get("value", "") for e in container.get("environment") or []})
            entrypoint = container.get("entryPoint") or config.get("Entrypoint") or []
            command = container.get("command") or (
                config.get("Cmd") or [] if not container.get("entryPoint") else []
            )
            if container.get("healthCheck"):
                record.health_checked.add(container["name"])
            ports = [
                int(p["containerPort"]) for p in container.get("portMappings") or [] if "containerPort" in p
            ]
            containers.append(
                ContainerSpec(
                    name=container["name"],
                    image=image,
                    content=content,
                    command=[*entrypoint, *command],
                    environment=environment,
                    working_directory=container.get("workingDirectory") or config.get("WorkingDir") or "/",
                    container_ports=ports,
                    health_check=container.get("healthCheck"),
                    log_sink=self._log_sink(container, record),
                    essential=container.get("essential", True),
                )
            )
        stop_timeout = max(
            [float(c.get("stopTimeout") or DEFAULT_STOP_TIMEOUT) for c in definition.container_definitions]
            or [DEFAULT_STOP_TIMEOUT]
        )
        return TaskSpec(record.task.id, containers, max(self.floor, stop_timeout * self.time_scale))

    def _log_sink(self, container: dict[str, Any], record: TaskRecord) -> Any:
        logging_config = container.get("logConfiguration") or {}
        if logging_config.get("logDriver") != "awslogs":
            return None
        options = logging_config.get("options") or {}
        logs = self.clients.for_account(
            "logs", record.account_id, options.get("awslogs-region") or record.region
        )
        stream = AwsLogsStream.open(logs, options, container["name"], record.task.id)
        record.logs.append(stream)
        return stream.write

    @staticmethod
    def _set_address(task: Any, address: str) -> None:
        for attachment in task.attachments:
            for detail in attachment.get("details", []):
                if detail["name"] == "privateIPv4Address":
                    detail["value"] = address

    def _register(self, record: TaskRecord) -> None:
        from moto.elbv2.models import elbv2_backends

        running = record.running
        assert running is not None
        elbv2 = elbv2_backends[record.account_id][record.region]
        for balancer in record.load_balancers:
            group = balancer.get("targetGroupArn")
            if not group:
                continue
            port = running.host_port(balancer.get("containerName", ""), int(balancer.get("containerPort", 0)))
            if port is None:
                raise TaskFailure(
                    f"container {balancer.get('containerName')} has no port mapping for {balancer.get('containerPort')}"
                )
            health.gates[(running.address, port)] = _container_gate(running, record.health_checked)
            elbv2.register_targets(group, [{"Id": running.address, "Port": port}])
            record.targets.append((group, running.address, port))
        record.registered = True

    def _deregister(self, record: TaskRecord) -> None:
        from moto.elbv2.models import elbv2_backends

        elbv2 = elbv2_backends[record.account_id][record.region]
        for group, address, port in record.targets:
            health.gates.pop((address, port), None)
            try:
                elbv2.deregister_targets(group, [{"Id": address, "Port": port}])
            except Exception:  # noqa: BLE001 - the target group went first (stack deletion)
                log.debug("target %s:%s already gone from %s", address, port, group)
        record.targets.clear()

    def stop_record(self, record: TaskRecord, reason: str) -> None:
        with self._lock:
            if record.stopping:
                return
            record.stopping = True
        record.task.desired_status = "STOPPED"
        if record.running is None:
            return  # _start sees `stopping` and reports the task stopped
        record.task.last_status = "DEACTIVATING"
        self._deregister(record)  # the ALB stops sending traffic before the process is signalled
        running = record.running
        record.task.last_status = "STOPPING"
        self._background(self.runtime.stop, running, reason)

    def _stopped(self, record: TaskRecord, running: RunningTask) -> None:
        with self._lock:
            on_its_own = not record.stopping  # not scaled in, deleted or stopped by StopTask
            record.stopping = True
        self._deregister(record)
        self._finish(record, running.stopped_reason or "Task stopped", "EssentialContainerExited")
        if on_its_own or record.replace:
            self._replace(record)

    def _failed(self, record: TaskRecord, reason: str) -> None:
        with self._lock:
            record.stopping = True
        self._finish(record, reason, "TaskFailedToStart")
        found = self._owner(record)
        if found is not None:  # ECS says why in the service's events (what DescribeServices shows)
            service, task_set = found
            self._service_event(
                service, f"(service {service.name}, taskSet {task_set.id}) failed to launch a task: {reason}"
            )

    def _owner(self, record: TaskRecord) -> tuple[Any, Any] | None:
        """(service, task set) the task belongs to, while both still exist."""
        if record.backend is None:
            return None
        for service in list(record.backend.services.values()):
            for task_set in service.task_sets:
                if task_set.task_set_arn == record.task_set_arn:
                    return service, task_set
        return None

    def _replace(self, record: TaskRecord) -> None:
        """ECS keeps a task set at its computed desired count: a task that exited is replaced. A task that
        failed to start is not retried (ECS retries with throttling; here the reason stays on the task)."""
        if self.closed:
            return
        found = self._owner(record)
        if found is None or found[0].status != "ACTIVE":
            return
        service, task_set = found
        self._service_event(
            service,
            f"(service {service.name}, taskSet {task_set.id}) has stopped 1 running tasks: "
            f"(task {record.task.id}).",
        )
        self.scale(record.backend, service, task_set)

    @staticmethod
    def _service_event(service: Any, message: str) -> None:
        events = getattr(service, "events", None)
        if events is not None:  # newest first, as DescribeServices lists them; ECS keeps the last 100
            events.insert(0, {"id": str(uuid.uuid4()), "createdAt": _utcnow(), "message": message})
            del events[100:]

    def _finish(self, record: TaskRecord, reason: str, code: str) -> None:
        task = record.task
        task.stopped_reason = task.stopped_reason or reason
        task.stop_code = code
        task.last_status = "STOPPED"
        task.desired_status = "STOPPED"
        task.stopped_at = _utcnow()
        for stream in record.logs:
            stream.close()
        with self._lock:
            self._records.pop(task.id, None)


def _container_gate(running: RunningTask, checked: set[str]) -> health.TargetGate:
    """A target is healthy only while every container with a healthCheck reports HEALTHY."""

    def gate() -> tuple[str, str] | None:
        statuses = [c.health_status for name, c in running.containers.items() if name in checked]
        if running.stopped or any(status != "HEALTHY" for status in statuses):
            return ("Target.FailedHealthChecks", "Health checks failed")
        return None

    return gate
