"""The ALB data plane of one emulator: a ListenerServer per moto listener, the health checker, metrics.

moto hooks (the "elb_dataplane" group of moto_patches.py: ELBv2Backend.create_listener / delete_listener /
delete_load_balancer) open and close listener servers, whether the listener came from the API or from
CloudFormation; FakeTargetGroup.health_for answers DescribeTargetHealth from the health checker. The data
plane of the emulator started last serves (moto's state is one per process).
"""

from __future__ import annotations

import threading
from typing import Any

from moto.elbv2.models import FakeHealthStatus, elbv2_backends

from gitops_harness.emulator.elb_dataplane import health
from gitops_harness.emulator.elb_dataplane.listeners import Forwarder, ListenerServer
from gitops_harness.emulator.elb_dataplane.metrics import MetricsRecorder


class DataPlane:
    def __init__(self, clients: Any, time_scale: float = 1.0, floor: float = 0.05):
        self.metrics = MetricsRecorder(clients)
        self.forwarder = Forwarder(self.metrics)
        self.checker = health.HealthChecker(time_scale, floor)
        self._servers: dict[str, ListenerServer] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        self.metrics.start()
        self.checker.start()
        for account_id in list(elbv2_backends.keys()):  # listeners made before this emulator started
            for region in list(elbv2_backends[account_id].keys()):
                for balancer in list(elbv2_backends[account_id][region].load_balancers.values()):
                    for listener in list(balancer.listeners.values()):
                        self.open(listener)

    def stop(self) -> None:
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.stop()
        self.checker.stop()
        self.metrics.stop()
        self.forwarder.close()

    def open(self, listener: Any) -> None:
        with self._lock:
            if listener.arn in self._servers:
                return
            server = self._servers[listener.arn] = ListenerServer(listener, self.forwarder)
        server.start()

    def close(self, listener_arn: str) -> None:
        with self._lock:
            server = self._servers.pop(listener_arn, None)
        if server is not None:
            server.stop()

    def listeners(self) -> list[dict[str, Any]]:
        with self._lock:
            return [server.describe() for server in self._servers.values()]

    def url(self, listener_arn: str) -> str | None:
        with self._lock:
            server = self._servers.get(listener_arn)
        return server.url if server is not None else None


_planes: list[DataPlane] = []


def start(clients: Any, time_scale: float = 1.0) -> DataPlane:
    """A running data plane that serves the ELB hooks (the "elb_dataplane" patch group) until `stop`."""
    plane = DataPlane(clients, time_scale)
    _planes.append(plane)
    plane.start()
    return plane


def stop(plane: DataPlane) -> None:
    if plane in _planes:
        _planes.remove(plane)
    plane.stop()


def _active() -> DataPlane | None:
    return _planes[-1] if _planes else None


def creating_listener(original: Any) -> Any:
    def create_listener(self: Any, *args: Any, **kwargs: Any) -> Any:
        listener = original(self, *args, **kwargs)
        plane = _active()
        if plane is not None:
            plane.open(listener)
        return listener

    return create_listener


def deleting_listener(original: Any) -> Any:
    def delete_listener(self: Any, listener_arn: str) -> Any:
        listener = original(self, listener_arn)
        plane = _active()
        if plane is not None:
            plane.close(listener_arn)
        return listener

    return delete_listener


def deleting_load_balancer(original: Any) -> Any:
    def delete_load_balancer(self: Any, arn: str) -> None:
        balancer = self.load_balancers.get(arn)
        listeners = list(balancer.listeners) if balancer is not None else []
        original(self, arn)
        plane = _active()
        if plane is not None:
            for listener_arn in listeners:
                plane.close(listener_arn)

    return delete_load_balancer


def checked_health(original: Any) -> Any:
    def health_for(self: Any, target: dict[str, Any], ec2_backend: Any) -> FakeHealthStatus:
        answer = original(self, target, ec2_backend)
        registered = self.targets.get(target["Id"])
        if answer.status != "healthy" or registered is None:
            return answer  # not registered: moto's own answer (unused / Target.NotRegistered)
        state = health.state_of(self.arn, registered["Id"], int(registered["Port"])) or health.TargetState()
        return FakeHealthStatus(
            registered["Id"],
            registered["Port"],
            self.health_check_port,
            state.state,
            state.reason,
            state.description,
        )

    return health_for
