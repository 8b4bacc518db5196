"""Target health: a checker thread probes every registered target of every target group the way the
ALB does (HTTP GET of the health check path on the traffic port, matcher codes, healthy/unhealthy
thresholds), with intervals scaled by the emulator's time scale. DescribeTargetHealth reads the result
(moto's own answer says "healthy" for any registered target)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import urllib3

log = logging.getLogger(__name__)
INITIAL = ("initial", "Elb.InitialHealthChecking", "Initial health checks in progress")

# Extra conditions a target must meet to be healthy (ECS: the task's container health), by (address, port):
# a function answering None when satisfied, else (reason, description) for DescribeTargetHealth.
TargetGate = Callable[[], tuple[str, str] | None]
gates: dict[tuple[str, int], TargetGate] = {}


@dataclass
class TargetState:
    state: str = INITIAL[0]
    reason: str | None = INITIAL[1]
    description: str | None = INITIAL[2]
    successes: int = 0
    failures: int = 0
    next_check: float = 0.0
    # the ALB's own verdict from its HTTP checks alone; `state` also honours the target's gate
    probed: str = INITIAL[0]
    probe_failure: tuple[str, str] | None = None


# target group ARN -> (target id, port) -> state; shared like moto's own state (one process, one ELB)
_states: dict[str, dict[tuple[str, int], TargetState]] = {}
_lock = threading.Lock()


def state_of(target_group_arn: str, target_id: str, port: int) -> TargetState | None:
    key = (target_id, int(port))
    with _lock:
        state = _states.get(target_group_arn, {}).get(key)
    return _settle(key, state) if state is not None else None


def is_healthy(target_group_arn: str, target_id: str, port: int) -> bool:
    state = state_of(target_group_arn, target_id, port)
    return state is not None and state.state == "healthy"


def healthy_targets(target_group: Any) -> list[tuple[str, int]]:
    """The target group's registered targets that are healthy, in registration order."""
    with _lock:
        known = _states.get(target_group.arn, {})
        return [
            (t["Id"], int(t["Port"]))
            for t in list(target_group.targets.values())
            if (s := known.get(key := (t["Id"], int(t["Port"])))) is not None
            and _settle(key, s).state == "healthy"
        ]


def _matches(code: int, matcher: dict[str, Any] | None) -> bool:
    spec = str((matcher or {}).get("HttpCode") or "200")
    for part in spec.split(","):
        low, _, high = part.strip().partition("-")
        if low and int(low) <= code <= int(high or low):
            return True
    return False


def _all_target_groups() -> Iterator[Any]:
    from moto.elbv2.models import elbv2_backends

    for account_id in list(elbv2_backends.keys()):
        for region in list(elbv2_backends[account_id].keys()):
            yield from list(elbv2_backends[account_id][region].target_groups.values())


class HealthChecker:
    def __init__(self, time_scale: float = 1.0, floor: float = 0.05):
        self.time_scale = time_scale
        self.floor = floor
        self._stop = threading.Event()
        self._pool = urllib3.PoolManager(maxsize=4, retries=False)
        self._thread = threading.Thread(target=self._run, name="elb-health-checker", daemon=True)

    def scaled(self, aws_seconds: float) -> float:
        return max(self.floor, aws_seconds * self.time_scale)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        self._pool.clear()

    def _run(self) -> None:
        while not self._stop.wait(self.floor):
            try:
                self.check_once()
            except RuntimeError:  # moto's dicts changed size under us: next round sees the new state
                continue
            except Exception:  # a bug must not end health checking for every target group
                log.exception("health check round failed")

    def check_once(self) -> None:
        now = time.monotonic()
        for group in _all_target_groups():
            registered = {(t["Id"], int(t["Port"])) for t in list(group.targets.values())}
            with _lock:
                states = _states.setdefault(group.arn, {})
                for gone in set(states) - registered:
                    del states[gone]
                due = []
                for target in registered:
                    state = states.setdefault(target, TargetState(next_check=now))
                    if state.next_check <= now:
                        due.append((target, state))
            for target, state in due:
                self._probe(group, target, state)
                state.next_check = time.monotonic() + self.scaled(float(group.health_check_interval_seconds))

    def _probe(self, group: Any, target: tuple[str, int], state: TargetState) -> None:
        address, port = target
        if str(group.health_check_port) not in ("traffic-port", "None", str(group.port)):
            port = int(group.health_check_port)
        path = group.health_check_path or "/"
        timeout = max(1.0, float(group.health_check_timeout_seconds) * self.time_scale)
        failure: tuple[str, str] | None = None
        try:
            answer = self._pool.request(
                "GET", f"http://{address}:{port}{path}", timeout=timeout, preload_content=True, redirect=False
            )
            if not _matches(answer.status, group.matcher if hasattr(group, "matcher") else None):
                failure = (
                    "Target.ResponseCodeMismatch",
                    f"Health checks failed with these codes: [{answer.status}]",
                )
        except urllib3.exceptions.NewConnectionError:  # before TimeoutError: urllib3 derives it from one
            failure = ("Target.FailedHealthChecks", "Health checks failed")
        except urllib3.exceptions.TimeoutError:
            failure = ("Target.Timeout", "Request timed out")
        except urllib3.exceptions.HTTPError:
            failure = ("Target.FailedHealthChecks", "Health checks failed")
        # The ALB counts its HTTP checks on its own; a gate (the container's health) only masks the
        # verdict, so its checks run alongside ECS's instead of starting over once the container is healthy.
        if failure is None:
            state.successes, state.failures = state.successes + 1, 0
            if state.probed != "healthy" and state.successes >= int(group.healthy_threshold_count):
                state.probed, state.probe_failure = "healthy", None
        else:
            state.failures, state.successes = state.failures + 1, 0
            if state.probed == "unhealthy" or state.failures >= int(group.unhealthy_threshold_count):
                state.probed, state.probe_failure = "unhealthy", failure
        _settle(target, state)


def _settle(target: tuple[str, int], state: TargetState) -> TargetState:
    """The target's state from the ALB's verdict and its gate as it is now: read at every look, so a
    container turning HEALTHY shows at once, not at the ALB's next check."""
    gate = gates.get(target)
    closed = gate() if gate is not None and state.probed == "healthy" else None
    if state.probed == "healthy" and closed is not None:
        state.state, state.reason, state.description = "unhealthy", closed[0], closed[1]
    elif state.probed == "healthy":
        state.state, state.reason, state.description = "healthy", None, None
    elif state.probed == "unhealthy":
        reason = state.probe_failure or ("Target.FailedHealthChecks", "Health checks failed")
        state.state, state.reason, state.description = "unhealthy", reason[0], reason[1]
    return state
