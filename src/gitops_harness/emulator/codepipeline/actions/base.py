"""What an action sees while it runs: its resolved configuration, its artifacts, clients acting as its role.

The context is the action's whole boundary: it never sees the plane or the engine. Fields of the run
that the API reads (token, external id and URL) change only through the methods here, under the lock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gitops_harness.emulator.codepipeline import artifact_store
from gitops_harness.emulator.codepipeline.models import ActionRun, Execution, Pipeline
from gitops_harness.emulator.scheduler import Scheduler

# (account, region, repository, commit id) -> the CODE_ZIP of that commit (the CodeCommit plane's)
SourceArchive = Callable[[str, str, str, str], bytes]


class ActionFailed(Exception):
    """The action failed; `code`/`message` become its errorDetails."""

    def __init__(self, message: str, code: str = "JobFailed", external_url: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.external_url = external_url


@dataclass
class ActionOutcome:
    summary: str | None = None
    output_variables: dict[str, str] = field(default_factory=dict)
    external_id: str | None = None
    external_url: str | None = None
    # a source action's revision: {"revisionId", "revisionSummary", "revisionUrl"}
    revision: dict[str, str] | None = None


@dataclass
class ActionContext:
    scheduler: Scheduler
    pipeline: Pipeline
    execution: Execution
    run: ActionRun
    configuration: dict[str, str]  # #{...} resolved
    lock: Any  # the plane's lock, to touch `run`
    clients: Callable[[str], Any]  # client acting as the action's role (RoleArn, else the pipeline role)
    pipeline_clients: Callable[[str], Any]  # client acting as the pipeline role
    source_archive: SourceArchive
    output_keys: dict[str, str] = field(default_factory=dict)  # artifact name -> key reserved for it

    @property
    def declaration(self) -> dict[str, Any]:
        return self.run.declaration

    @property
    def account_id(self) -> str:
        return self.pipeline.account_id

    @property
    def region(self) -> str:
        return self.run.declaration.get("region") or self.pipeline.region

    @property
    def artifact_store(self) -> dict[str, Any]:
        declaration = self.execution.declaration
        stores = declaration.get("artifactStores") or {}
        return stores.get(self.region) or declaration["artifactStore"]

    @property
    def input_names(self) -> list[str]:
        return [a["name"] for a in self.declaration.get("inputArtifacts") or []]

    @property
    def output_names(self) -> list[str]:
        return [a["name"] for a in self.declaration.get("outputArtifacts") or []]

    def input_detail(self, name: str) -> dict[str, Any]:
        with self.lock:
            detail = self.execution.artifacts.get(name)
        if detail is None:
            raise ActionFailed(f"Input artifact {name} was not produced by this execution", "JobFailed")
        return detail

    def read_input(self, name: str) -> bytes:
        try:
            return artifact_store.get_artifact(self.clients("s3"), self.input_detail(name))
        except ActionFailed:
            raise
        except Exception as exc:
            raise ActionFailed(f"Could not read input artifact {name}: {exc}", "PermissionError") from None

    def write_output(self, name: str, body: bytes) -> dict[str, Any]:
        try:
            detail = artifact_store.put_artifact(
                self.clients("s3"), self.artifact_store, self.pipeline.name, name, body
            )
        except Exception as exc:
            raise ActionFailed(f"Could not write output artifact {name}: {exc}", "PermissionError") from None
        self.register_output(detail)
        return detail

    def output_location(self, name: str) -> dict[str, Any]:
        """Reserve the key an external job (a build) writes the output artifact to."""
        key = self.output_keys.setdefault(name, artifact_store.artifact_key(self.pipeline.name, name))
        return {"name": name, "s3location": {"bucket": self.artifact_store["location"], "key": key}}

    def register_output(self, detail: dict[str, Any]) -> None:
        with self.lock:
            self.run.output_artifacts = [a for a in self.run.output_artifacts if a["name"] != detail["name"]]
            self.run.output_artifacts.append(detail)

    def set_token(self, token: str) -> None:
        """A manual approval's token (GetPipelineState shows it, PutApprovalResult checks it)."""
        with self.lock:
            self.run.token = token
            self.run.touch()

    def set_external(self, external_id: str, external_url: str) -> None:
        """The external job the action runs (a build, a deployment), for the API's executionDetails."""
        with self.lock:
            self.run.external_id = external_id
            self.run.external_url = external_url
            self.run.touch()

    def approval(self) -> dict[str, Any] | None:
        with self.lock:
            return self.run.approval

    def clock_deadline(self, aws_seconds: float) -> float:
        return self.scheduler.clock.now() + self.scheduler.to_clock(aws_seconds)

    def remaining(self, deadline: float) -> float:
        """AWS seconds left until a clock deadline."""
        return max(0.0, (deadline - self.scheduler.clock.now()) / self.scheduler.time_scale)

    def source_override(self) -> dict[str, str] | None:
        return self.execution.source_overrides.get(self.run.name)
