"""The task runtime interface: what the task-set controller asks of whatever runs a task's containers.

LocalProcessRuntime (local_process.py) runs each container as a host process from the image's unpacked
layers; a container-engine runtime (a Docker daemon) is the second implementation this leaves room for.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gitops_harness.emulator.ecs_tasks.images import ImageContent


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str
    content: ImageContent | None  # None: the image is not in the emulated ECR (host interpreter, no layers)
    command: list[str]  # entrypoint + command, as the container would exec them
    environment: dict[str, str]
    working_directory: str  # inside the image ("/" when the image says nothing)
    container_ports: list[int]
    health_check: dict[str, object] | None  # the task definition's healthCheck, as ECS takes it
    log_sink: Callable[[str], None] | None  # one call per output line (awslogs), None: output dropped
    essential: bool = True


@dataclass(frozen=True)
class TaskSpec:
    task_id: str
    containers: list[ContainerSpec]
    stop_timeout: float  # clock seconds between SIGTERM and SIGKILL (already scaled)


@dataclass
class RunningContainer:
    name: str
    host_ports: dict[int, int]  # container port -> host port on the task's address
    health_status: str = "UNKNOWN"  # HEALTHY | UNHEALTHY | UNKNOWN (ECS's container healthStatus)
    exit_code: int | None = None


@dataclass
class RunningTask:
    task_id: str
    address: str  # the task's own loopback address: its "ENI" IP, unique per task
    folder: Path
    containers: dict[str, RunningContainer] = field(default_factory=dict)
    stopped_reason: str | None = None  # set once the task has stopped (or failed to start)

    @property
    def stopped(self) -> bool:
        return self.stopped_reason is not None

    def host_port(self, container_name: str, container_port: int) -> int | None:
        container = self.containers.get(container_name)
        return container.host_ports.get(container_port) if container else None

    def health_status(self) -> str:
        """The task's healthStatus: UNHEALTHY if an essential container is, HEALTHY when all checked ones are."""
        statuses = [c.health_status for c in self.containers.values()]
        if "UNHEALTHY" in statuses:
            return "UNHEALTHY"
        if statuses and all(s == "HEALTHY" for s in statuses):
            return "HEALTHY"
        return "UNKNOWN"


class TaskFailure(Exception):
    """A task could not start; the message is its stoppedReason, as ECS words it."""


class TaskRuntime(abc.ABC):
    @abc.abstractmethod
    def start(self, spec: TaskSpec, on_stopped: Callable[[RunningTask], None]) -> RunningTask:
        """Start the task's containers; raise TaskFailure when it cannot start. `on_stopped` is called
        once, from another thread, when an essential container exits (or the task is stopped)."""

    @abc.abstractmethod
    def stop(self, task: RunningTask, reason: str) -> None:
        """SIGTERM, then SIGKILL after the spec's stop timeout; returns once the task's processes are gone."""

    @abc.abstractmethod
    def stop_all(self) -> None:
        """Stop every task this runtime started (emulator stop)."""
