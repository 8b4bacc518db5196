"""The harness's control planes inside LocalStack's process, made once on the first provider's load.

The planes share one Runtime, as in the embedded emulator: CodePipeline reads CodeCommit's archives
through `runtime.planes`, and every plane acts on other services (S3, IAM, STS, Events, SNS) with role
clients against LocalStack's own gateway, so those calls show in LocalStack like any client's.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

# service (LocalStack api name, the SigV4 signing name) -> the harness's plane ("module:Class")
PLANES: dict[str, str] = {
    "codecommit": "gitops_harness.emulator.codecommit.plane:CodeCommit",
    "codepipeline": "gitops_harness.emulator.codepipeline.plane:CodePipeline",
    "codebuild": "gitops_harness.emulator.codebuild.plane:CodeBuild",
    "codestar-notifications": "gitops_harness.emulator.codestar_notifications.plane:CodeStarNotifications",
    "codedeploy": "gitops_harness.emulator.codedeploy.plane:CodeDeploy",
}

# Clock seconds per AWS second of the planes' waits (a build poll's 5 s, a deployment's termination wait),
# from LocalStack's environment: the host-mode target sets it from targets.localstack.time_scale.
TIME_SCALE_ENV = "GITOPS_HARNESS_TIME_SCALE"

log = logging.getLogger(__name__)
_lock = threading.Lock()
_runtime: Any = None
_planes: dict[str, Any] = {}


def gateway_url() -> str:
    """LocalStack's gateway as this process reaches it (plain HTTP on the first GATEWAY_LISTEN)."""
    from localstack import config

    listen = config.GATEWAY_LISTEN[0]
    host = "127.0.0.1" if listen.host in ("0.0.0.0", "", "::") else listen.host
    return f"http://{host}:{listen.port}"


def _state_dir() -> Path:
    from localstack import config

    base = Path(config.dirs.tmp or tempfile.gettempdir())
    path = base / "gitops-harness"
    path.mkdir(parents=True, exist_ok=True)
    return path


def time_scale() -> float:
    """GITOPS_HARNESS_TIME_SCALE as a positive float; 1.0 (AWS's own timing) when unset or invalid."""
    raw = os.environ.get(TIME_SCALE_ENV, "").strip()
    try:
        value = float(raw) if raw else 1.0
    except ValueError:
        value = 0.0
    if not (value > 0 and math.isfinite(value)):
        log.warning("%s=%r is not a number > 0: the planes run at AWS's own timing", TIME_SCALE_ENV, raw)
        return 1.0
    return value


def runtime() -> Any:
    global _runtime
    with _lock:
        if _runtime is None:
            from gitops_harness.emulator.clients import RoleClients
            from gitops_harness.emulator.codecommit.credentials import CREDENTIALS
            from gitops_harness.emulator.controlplane import Runtime
            from gitops_harness.emulator.scheduler import Scheduler
            from gitops_localstack.eventbridge import LocalStackEventRules, PlaneEventDelivery
            from gitops_localstack.gitcredentials import LocalStackGitCredentials

            scale = time_scale()
            scheduler = Scheduler(time_scale=scale)
            clients = RoleClients(gateway_url)
            # LocalStack's own EventBridge routes events; its targets reach the planes through the
            # senders eventbridge.py registers, and this delivery (trigger of a started pipeline); the
            # planes' managed rules (CodeStar Notifications') go into it through event_rules.
            _runtime = Runtime(
                scheduler,
                clients,
                _state_dir(),
                gateway_url,
                time_scale=scale,
                event_delivery=PlaneEventDelivery(),
                event_rules=LocalStackEventRules(),
            )
            # git pushes authenticate with the HTTPS Git credentials LocalStack's IAM issued
            _runtime.shared(CREDENTIALS, LocalStackGitCredentials)
        return _runtime


def plane(service: str) -> Any:
    """The plane serving ``service``; every plane is made on the first call (they refer to each other)."""
    rt = runtime()
    with _lock:
        if not _planes:
            from gitops_harness.emulator.registry import load_control_planes

            classes = load_control_planes(tuple(PLANES.values()))
            for name, cls in zip(PLANES, classes, strict=True):
                _planes[name] = cls(rt)
            rt.planes.update({p.service_name: p for p in _planes.values()})
        return _planes[service]


def loaded() -> dict[str, Any]:
    with _lock:
        return dict(_planes)


def shutdown() -> None:
    with _lock:
        if _runtime is not None:
            _runtime.scheduler.shutdown()
