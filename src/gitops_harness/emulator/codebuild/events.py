"""EventBridge events CodeBuild sends: "CodeBuild Build State Change" and "CodeBuild Build Phase Change".

Shapes from the CodeBuild user guide ("Build notifications input format reference"): source
aws.codebuild, the build ARN as the only resource and as detail "build-id", kebab-case detail keys,
an "additional-information" block (artifact, environment, timeout, build-complete, initiator,
build-start-time in "Sep 1, 2017 4:12:29 PM" form, source, logs, phases) and contexts rendered as
strings ("[COMMAND_EXECUTION_ERROR: Error while executing command: ...]").
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from gitops_harness.emulator.common.events import event_entry

SOURCE = "aws.codebuild"
STATE_CHANGE = "CodeBuild Build State Change"
PHASE_CHANGE = "CodeBuild Build Phase Change"


def _when(value: datetime | None) -> str | None:
    if value is None:
        return None
    # "Sep 1, 2017 4:12:29 PM": no zero padding of day and hour
    return f"{value:%b} {value.day}, {value:%Y} {value.hour % 12 or 12}:{value:%M:%S %p}"


def _contexts(contexts: Iterable[dict[str, str]] | None) -> str:
    items = [f"{c.get('statusCode', '')}: {c.get('message', '')}" for c in contexts or ()]
    return "[" + ", ".join(items) + "]"


def _additional_information(build: dict[str, Any]) -> dict[str, Any]:
    environment = build.get("environment", {})
    info: dict[str, Any] = {
        "environment": {
            "image": environment.get("image"),
            "privileged-mode": bool(environment.get("privilegedMode", False)),
            "compute-type": environment.get("computeType"),
            "type": environment.get("type"),
            "environment-variables": [
                {"name": v["name"], "type": v.get("type", "PLAINTEXT"), "value": v["value"]}
                for v in environment.get("environmentVariables", [])
            ],
        },
        "timeout-in-minutes": build.get("timeoutInMinutes"),
        "build-complete": bool(build.get("buildComplete")),
        "build-number": build.get("buildNumber"),
        "initiator": build.get("initiator"),
        "build-start-time": _when(build.get("startTime")),
        "source": {
            k: v
            for k, v in {
                "type": build.get("source", {}).get("type"),
                "location": build.get("source", {}).get("location"),
            }.items()
            if v
        },
        "logs": {
            "group-name": build.get("logs", {}).get("groupName"),
            "stream-name": build.get("logs", {}).get("streamName"),
            "deep-link": build.get("logs", {}).get("deepLink"),
        },
        "phases": [
            {
                k: v
                for k, v in {
                    "phase-context": [f"{c['statusCode']}: {c['message']}" for c in p.get("contexts", [])],
                    "start-time": _when(p.get("startTime")),
                    "end-time": _when(p.get("endTime")),
                    "duration-in-seconds": p.get("durationInSeconds"),
                    "phase-type": p["phaseType"],
                    "phase-status": p.get("phaseStatus"),
                }.items()
                if v is not None
            }
            for p in build.get("phases", [])
        ],
    }
    artifact = build.get("artifacts") or {}
    if artifact.get("location"):
        info["artifact"] = {
            k: v
            for k, v in {
                "md5sum": artifact.get("md5sum"),
                "sha256sum": artifact.get("sha256sum"),
                "location": artifact["location"],
            }.items()
            if v
        }
    if build.get("sourceVersion"):
        info["source-version"] = build["sourceVersion"]
    return info


def _entry(
    build: dict[str, Any], detail_type: str, detail: dict[str, Any], now: datetime | None
) -> dict[str, Any]:
    """A PutEvents entry (EventBridge fills in id, account and region from the calling account)."""
    return event_entry(SOURCE, detail_type, detail, resources=[build["arn"]], time=now or datetime.now(UTC))


def state_change(build: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """The event for the build's current status (IN_PROGRESS when it starts, then its final status)."""
    phases = build.get("phases", [])
    current = next((p for p in reversed(phases) if p["phaseType"] == build.get("currentPhase")), None)
    detail = {
        "build-status": build["buildStatus"],
        "project-name": build["projectName"],
        "build-id": build["arn"],
        "additional-information": _additional_information(build),
        "current-phase": build.get("currentPhase"),
        "current-phase-context": _contexts(current.get("contexts") if current else None),
        "version": "1",
    }
    return _entry(build, STATE_CHANGE, detail, now)


def phase_change(build: dict[str, Any], phase: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """The event for a phase that just ended (`phase` in BatchGetBuilds form)."""
    detail = {
        "completed-phase": phase["phaseType"],
        "project-name": build["projectName"],
        "build-id": build["arn"],
        "completed-phase-context": _contexts(phase.get("contexts")),
        "additional-information": _additional_information(build),
        "completed-phase-status": phase.get("phaseStatus"),
        "completed-phase-duration-seconds": phase.get("durationInSeconds"),
        "version": "1",
        "completed-phase-start": _when(phase.get("startTime")),
        "completed-phase-end": _when(phase.get("endTime")),
    }
    return _entry(build, PHASE_CHANGE, detail, now)
