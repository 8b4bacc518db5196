"""CodeBuild's state per (account, region): projects and builds as dataclasses, rendered as the API's shapes.

A project keeps its settings as the boto3-style dict CreateProject/UpdateProject took (the API's own
vocabulary); a build keeps what StartBuild fixed (project settings with the overrides applied) and
what its run has reported so far. Builds outlive their project, as on AWS.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from .build_io import IN_PROGRESS, PhaseRecord

DEFAULT_TIMEOUT_MINUTES = 60
DEFAULT_QUEUED_TIMEOUT_MINUTES = 480


def project_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:codebuild:{region}:{account_id}:project/{name}"


def build_arn(region: str, account_id: str, build_id: str) -> str:
    return f"arn:aws:codebuild:{region}:{account_id}:build/{build_id}"


@dataclass
class ProjectRecord:
    name: str
    arn: str
    settings: dict[str, Any]  # CreateProject members except name/badgeEnabled, with defaults filled in
    created: datetime
    last_modified: datetime
    badge_enabled: bool = False
    builds_started: int = 0  # the next build's buildNumber is this + 1

    def to_api(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arn": self.arn,
            **self.settings,
            "created": self.created,
            "lastModified": self.last_modified,
            "badge": {"badgeEnabled": self.badge_enabled},
            "projectVisibility": "PRIVATE",
        }


@dataclass(frozen=True)
class LogTarget:
    group: str
    stream: str


@dataclass
class BuildRecord:
    id: str  # "<project>:<uuid>"
    arn: str
    uuid: str
    number: int
    project_name: str
    account_id: str
    region: str
    start_time: datetime
    source: dict[str, Any]  # ProjectSource after sourceTypeOverride/sourceLocationOverride/buildspecOverride
    artifacts: dict[str, Any]  # ProjectArtifacts after artifactsOverride
    environment: dict[
        str, Any
    ]  # ProjectEnvironment after the overrides (variables: project's then StartBuild's)
    service_role: str
    timeout_minutes: int
    queued_timeout_minutes: int
    initiator: str
    encryption_key: str | None
    logs: LogTarget | None  # None when CloudWatch Logs is disabled
    source_version: str | None = None
    project_source_type: str = ""  # the project's own, before sourceTypeOverride
    phases: list[PhaseRecord] = field(default_factory=list)
    current_phase: str = "SUBMITTED"
    status: str = IN_PROGRESS
    end_time: datetime | None = None
    exported: list[dict[str, str]] = field(default_factory=list)
    output: dict[str, Any] = field(default_factory=dict)  # BuildArtifacts: location, sha256sum, md5sum
    resolved_source_version: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def complete(self) -> bool:
        return self.status != IN_PROGRESS

    def record_phase(self, phase: PhaseRecord) -> None:
        """Add a phase, or replace the running phase of the same type with its newer copy."""
        if self.phases and self.phases[-1].phase_type == phase.phase_type:
            self.phases[-1] = phase
        else:
            self.phases.append(phase)
        self.current_phase = phase.phase_type

    def logs_api(self) -> dict[str, Any]:
        if self.logs is None:
            return {"cloudWatchLogs": {"status": "DISABLED"}, "s3Logs": {"status": "DISABLED"}}
        group, stream = self.logs.group, self.logs.stream
        return {
            "groupName": group,
            "streamName": stream,
            "deepLink": (
                f"https://console.aws.amazon.com/cloudwatch/home?region={self.region}"
                f"#logEvent:group={quote(group, safe='')};stream={quote(stream, safe='')}"
            ),
            "cloudWatchLogsArn": f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{group}:log-stream:{stream}",
            "cloudWatchLogs": {"status": "ENABLED", "groupName": group, "streamName": stream},
            "s3Logs": {"status": "DISABLED"},
        }

    def to_api(self) -> dict[str, Any]:
        build: dict[str, Any] = {
            "id": self.id,
            "arn": self.arn,
            "buildNumber": self.number,
            "startTime": self.start_time,
            "currentPhase": self.current_phase,
            "buildStatus": self.status,
            "projectName": self.project_name,
            "phases": [p.to_api() for p in self.phases],
            "source": self.source,
            "secondarySources": [],
            "secondarySourceVersions": [],
            "artifacts": self.output or {"location": ""},
            "secondaryArtifacts": [],
            "environment": self.environment,
            "serviceRole": self.service_role,
            "logs": self.logs_api(),
            "timeoutInMinutes": self.timeout_minutes,
            "queuedTimeoutInMinutes": self.queued_timeout_minutes,
            "buildComplete": self.complete,
            "initiator": self.initiator,
            "exportedEnvironmentVariables": list(self.exported),
        }
        if self.encryption_key:
            build["encryptionKey"] = self.encryption_key
        if self.source_version:
            build["sourceVersion"] = self.source_version
        if self.resolved_source_version:
            build["resolvedSourceVersion"] = self.resolved_source_version
        if self.end_time is not None:
            build["endTime"] = self.end_time
        return build


@dataclass
class CodeBuildState:
    projects: dict[str, ProjectRecord] = field(default_factory=dict)
    builds: dict[str, BuildRecord] = field(default_factory=dict)  # by build id, in start order
    idempotency: dict[str, tuple[str, str]] = field(
        default_factory=dict
    )  # token -> (request digest, build id)
