"""What the CodeBuild control plane hands the buildspec engine, and what it gets back.

Shapes follow BatchGetBuilds (phases, contexts, exportedEnvironmentVariables) so the control plane
can serialize them without translation. Timestamps are datetimes from the injected clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .artifacts import ArtifactOutput

# Phase and build statuses, as BatchGetBuilds spells them.
SUCCEEDED, FAILED, FAULT, TIMED_OUT, IN_PROGRESS, STOPPED = (
    "SUCCEEDED",
    "FAILED",
    "FAULT",
    "TIMED_OUT",
    "IN_PROGRESS",
    "STOPPED",
)


@dataclass(frozen=True)
class EnvironmentVariable:
    """One entry of the project's environment or StartBuild's environmentVariablesOverride."""

    name: str
    value: str
    type: str = "PLAINTEXT"  # PLAINTEXT | PARAMETER_STORE | SECRETS_MANAGER


@dataclass(frozen=True)
class BuildRequest:
    source_dir: Path  # the extracted input artifact; copied, never modified
    build_id: str  # "<project>:<uuid>"
    build_arn: str
    build_number: int = 1
    # Inline YAML or a path relative to the source root (CodeBuild accepts both); None: buildspec.yml.
    buildspec: str | None = None
    # Project variables then StartBuild overrides: later entries win, and all win over the buildspec's.
    environment_variables: Sequence[EnvironmentVariable] = ()
    initiator: str = ""
    source_version: str = ""
    resolved_source_version: str = ""
    image: str = "aws/codebuild/amazonlinux2-x86_64-standard:5.0"
    artifacts_enabled: bool = True  # False for a NO_ARTIFACTS project: UPLOAD_ARTIFACTS packages nothing


@dataclass
class PhaseContext:
    status_code: str = ""
    message: str = ""

    def to_api(self) -> dict[str, str]:
        return {"statusCode": self.status_code, "message": self.message}


@dataclass
class PhaseRecord:
    phase_type: str
    start_time: datetime
    phase_status: str | None = None  # None while the phase runs (BatchGetBuilds omits it then)
    end_time: datetime | None = None
    contexts: list[PhaseContext] = field(default_factory=list)

    @property
    def duration_in_seconds(self) -> int | None:
        if self.end_time is None:
            return None
        return int((self.end_time - self.start_time).total_seconds())

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"phaseType": self.phase_type, "startTime": self.start_time}
        if self.phase_status is not None:
            out["phaseStatus"] = self.phase_status
        if self.end_time is not None:
            out["endTime"] = self.end_time
            out["durationInSeconds"] = self.duration_in_seconds
        if self.contexts:
            out["contexts"] = [c.to_api() for c in self.contexts]
        return out


@dataclass
class BuildResult:
    status: str  # SUCCEEDED | FAILED | FAULT | TIMED_OUT | STOPPED
    phases: list[PhaseRecord]
    start_time: datetime
    end_time: datetime
    exported_variables: dict[str, str] = field(default_factory=dict)
    artifact: ArtifactOutput | None = None
    secondary_artifacts: dict[str, ArtifactOutput] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)

    def phase(self, phase_type: str) -> PhaseRecord | None:
        return next((p for p in self.phases if p.phase_type == phase_type), None)

    @property
    def failed_phase(self) -> PhaseRecord | None:
        """The first phase that did not succeed, for error reports."""
        return next((p for p in self.phases if p.phase_status not in (None, SUCCEEDED)), None)

    def exported_variables_api(self) -> list[dict[str, str]]:
        return [{"name": k, "value": v} for k, v in self.exported_variables.items()]
