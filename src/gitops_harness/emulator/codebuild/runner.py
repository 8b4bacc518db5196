"""Run one build: DOWNLOAD_SOURCE -> INSTALL -> PRE_BUILD -> BUILD -> POST_BUILD -> UPLOAD_ARTIFACTS
-> FINALIZING -> COMPLETED, with CodeBuild's phase transitions:

- a failure in DOWNLOAD_SOURCE, INSTALL or PRE_BUILD goes straight to FINALIZING;
- a failure in BUILD still runs POST_BUILD (CODEBUILD_BUILD_SUCCEEDING=0), and UPLOAD_ARTIFACTS is
  attempted after BUILD and POST_BUILD whatever their outcome;
- `on-failure: CONTINUE` on a phase moves on to the next phase instead (the build still fails);
- a phase's `finally` commands run even when one of its commands failed;
- a timeout or a stop kills the build's processes and goes to FINALIZING (TIMED_OUT / STOPPED).

SUBMITTED, QUEUED and PROVISIONING belong to the control plane's scheduler, which prepends them.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from . import artifacts as artifact_mod
from .build_io import (
    FAILED,
    STOPPED,
    SUCCEEDED,
    TIMED_OUT,
    BuildRequest,
    BuildResult,
    PhaseContext,
    PhaseRecord,
)
from .buildspec import Buildspec, BuildspecError, PhaseSpec, load_buildspec
from .environment import EnvResolutionError, ParameterResolver, ResolvedEnvironment, SecretResolver, resolve
from .shell import CommandOutcome, ShellSession

Clock = Callable[[], datetime]
COMMAND_PHASES = (
    ("INSTALL", "install"),
    ("PRE_BUILD", "pre_build"),
    ("BUILD", "build"),
    ("POST_BUILD", "post_build"),
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def utc_now() -> datetime:
    return datetime.now(UTC)


class _Log:
    """Serializes log lines from the runner and the output reader into one ordered stream."""

    def __init__(self, on_log: Callable[[str], None], clock: Clock) -> None:
        self._on_log = on_log
        self._clock = clock
        self._lock = threading.Lock()
        self.lines: list[str] = []

    def container(self, text: str) -> None:
        stamp = self._clock().strftime("%Y/%m/%d %H:%M:%S.%f")
        self.output(f"[Container] {stamp} {text}")

    def output(self, line: str) -> None:
        with self._lock:
            self.lines.append(line)
            self._on_log(line)


class _Phases:
    def __init__(self, on_phase: Callable[[PhaseRecord], None], clock: Clock, log: _Log) -> None:
        self._on_phase = on_phase
        self._clock = clock
        self._log = log
        self.records: list[PhaseRecord] = []

    def start(self, phase_type: str) -> PhaseRecord:
        record = PhaseRecord(phase_type, self._clock())
        self.records.append(record)
        self._on_phase(_copy(record))
        return record

    def end(self, record: PhaseRecord, status: str, code: str = "", message: str = "") -> None:
        record.phase_status, record.end_time = status, self._clock()
        record.contexts = [PhaseContext(code, message)]
        if record.phase_type not in ("FINALIZING",):
            self._log.container(f"Phase complete: {record.phase_type} State: {status}")
            self._log.container(f"Phase context status code: {code} Message: {message}")
        self._on_phase(_copy(record))


def _copy(record: PhaseRecord) -> PhaseRecord:
    return PhaseRecord(
        record.phase_type,
        record.start_time,
        record.phase_status,
        record.end_time,
        [PhaseContext(c.status_code, c.message) for c in record.contexts],
    )


def run_build(
    request: BuildRequest,
    *,
    workdir: Path,
    env: dict[str, str],
    on_phase: Callable[[PhaseRecord], None] = lambda _: None,
    on_log: Callable[[str], None] = lambda _: None,
    cancel: threading.Event | None = None,
    timeout_s: float = 3600.0,
    resolve_parameter: ParameterResolver | None = None,
    resolve_secret: SecretResolver | None = None,
    clock: Clock = utc_now,
) -> BuildResult:
    """Run `request` in `workdir` (created; must not hold another build) and return the outcome.

    `env` is the caller's environment: only PATH and AWS_* pass into the build. `timeout_s` is real
    time (the control plane applies its time scale); `clock` only stamps phases and log lines.
    """
    return _Build(
        request,
        workdir,
        env,
        on_phase,
        on_log,
        cancel or threading.Event(),
        timeout_s,
        resolve_parameter,
        resolve_secret,
        clock,
    ).run()


class _Build:
    def __init__(
        self,
        request: BuildRequest,
        workdir: Path,
        env: dict[str, str],
        on_phase: Callable[[PhaseRecord], None],
        on_log: Callable[[str], None],
        cancel: threading.Event,
        timeout_s: float,
        resolve_parameter: ParameterResolver | None,
        resolve_secret: SecretResolver | None,
        clock: Clock,
    ) -> None:
        self.request = request
        self.workdir = workdir
        self.src = workdir / "src"
        self.caller_env = env
        self.cancel = cancel
        self.deadline = time.monotonic() + timeout_s
        self.resolvers = (resolve_parameter, resolve_secret)
        self.clock = clock
        self.log = _Log(on_log, clock)
        self.phases = _Phases(on_phase, clock, self.log)
        self.status: str | None = None  # TIMED_OUT / STOPPED once known; FAILED on any phase failure
        self.succeeding = True
        self.shell: ShellSession | None = None
        self.result_artifact: artifact_mod.ArtifactOutput | None = None
        self.secondary: dict[str, artifact_mod.ArtifactOutput] = {}
        self.exported: dict[str, str] = {}

    # -- driver ----------------------------------------------------------------------------
    def run(self) -> BuildResult:
        start = self.clock()
        try:
            loaded = self._download_source()
            if loaded is not None:
                spec, resolved = loaded
                self._run_phases(spec, resolved)
        finally:
            finalizing = self.phases.start("FINALIZING")
            if self.shell is not None:
                self.shell.close()
            self.phases.end(finalizing, SUCCEEDED)
        self.phases.start("COMPLETED")
        status = self.status or (SUCCEEDED if self.succeeding else FAILED)
        return BuildResult(
            status,
            self.phases.records,
            start,
            self.clock(),
            self.exported,
            self.result_artifact,
            self.secondary,
            self.log.lines,
        )

    def _interrupted(self, record: PhaseRecord) -> bool:
        """End `record` as STOPPED / TIMED_OUT if the build was stopped or ran out of time."""
        if self.cancel.is_set():
            self.status = STOPPED
            self.phases.end(record, STOPPED, "BUILD_STOPPED", "Build was stopped.")
        elif time.monotonic() >= self.deadline:
            self.status = TIMED_OUT
            self.phases.end(record, TIMED_OUT, "BUILD_TIMED_OUT", "Build has timed out. ")
        else:
            return False
        self.succeeding = False
        return True

    def _fail(self, record: PhaseRecord, code: str, message: str) -> None:
        self.succeeding = False
        self.phases.end(record, FAILED, code, message)

    # -- DOWNLOAD_SOURCE -------------------------------------------------------------------
    def _download_source(self) -> tuple[Buildspec, ResolvedEnvironment] | None:
        record = self.phases.start("DOWNLOAD_SOURCE")
        if self._interrupted(record):
            return None
        if not self.request.source_dir.is_dir():
            self._fail(record, "CLIENT_ERROR", f"source directory {self.request.source_dir} does not exist")
            return None
        for sub in ("home", "tmp", "artifacts"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.request.source_dir, self.src, symlinks=True)
        self.log.container(f"CODEBUILD_SRC_DIR={self.src}")
        try:
            spec = load_buildspec(self._buildspec_text())
        except BuildspecError as exc:
            self._fail(record, exc.status_code, exc.message)
            return None
        for section in spec.ignored:
            self.log.container(f"Skipping buildspec section '{section}': not run by the embedded AWS")
        self.log.container("Processing environment variables")
        try:
            resolved = resolve(
                spec.env,
                self.request.environment_variables,
                resolve_parameter=self.resolvers[0],
                resolve_secret=self.resolvers[1],
                log=self.log.container,
            )
        except EnvResolutionError as exc:
            self._fail(record, exc.status_code, exc.message)
            return None
        self.phases.end(record, SUCCEEDED)
        return spec, resolved

    def _buildspec_text(self) -> str:
        given = self.request.buildspec
        if given is not None and ("\n" in given or ": " in given or given.lstrip().startswith("{")):
            return given  # inline buildspec (project setting or buildspecOverride)
        if given is not None and given.startswith("arn:"):
            raise BuildspecError(
                f"buildspec {given} is in S3, which the emulator does not read: inline it or add it to the source"
            )
        path = self.src / (given or "buildspec.yml")
        self.log.container(f"YAML location is {path}")
        try:
            return path.read_text()
        except FileNotFoundError:
            raise BuildspecError(f"stat {path}: no such file or directory") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise BuildspecError(f"cannot read {path}: {exc}") from None

    # -- INSTALL .. POST_BUILD ---------------------------------------------------------------
    def _base_env(self, resolved: ResolvedEnvironment) -> dict[str, str]:
        env = {k: v for k, v in self.caller_env.items() if k == "PATH" or k.startswith("AWS_")}
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        env["HOME"] = str(self.workdir / "home")
        env.update(resolved.variables)
        r = self.request
        env.update(
            CODEBUILD_SRC_DIR=str(self.src),
            CODEBUILD_BUILD_ID=r.build_id,
            CODEBUILD_BUILD_ARN=r.build_arn,
            CODEBUILD_BUILD_NUMBER=str(r.build_number),
            CODEBUILD_INITIATOR=r.initiator,
            CODEBUILD_SOURCE_VERSION=r.source_version,
            CODEBUILD_RESOLVED_SOURCE_VERSION=r.resolved_source_version,
            CODEBUILD_BUILD_IMAGE=r.image,
            CODEBUILD_BUILD_SUCCEEDING="1",
            CODEBUILD_START_TIME=str(int(self.phases.records[0].start_time.timestamp() * 1000)),
        )
        return env

    def _run_phases(self, spec: Buildspec, resolved: ResolvedEnvironment) -> None:
        self.shell = ShellSession(
            src_dir=self.src,
            tmp_dir=self.workdir / "tmp",
            base_env=self._base_env(resolved),
            on_output=self.log.output,
            shell=spec.env.shell,
            persist_state=spec.version != "0.1",  # 0.1 ran every command in a fresh shell
        )
        self.shell.start()
        for phase_type, name in COMMAND_PHASES:
            ok = self._run_phase(phase_type, spec.phase(name))
            if self.status is not None:
                return  # timed out or stopped: straight to FINALIZING
            if not ok and spec.phase(name).on_failure == "ABORT" and phase_type in ("INSTALL", "PRE_BUILD"):
                return
        self._export(spec, resolved)
        self._upload_artifacts(spec)

    def _run_phase(self, phase_type: str, phase: PhaseSpec) -> bool:
        record = self.phases.start(phase_type)
        if self._interrupted(record):
            return False
        self.log.container(f"Entering phase {phase_type}")
        if phase.runtime_versions:
            # No runtime manager here: the tools on the caller's PATH are the runtimes.
            self.log.container(f"Skipping runtime-versions {phase.runtime_versions}: using the tools on PATH")
        error: tuple[str, str] | None = None
        for block in (phase.commands, phase.finally_commands):
            for command in block:
                outcome = self._command(command)
                if self._interrupted_by(outcome, record):
                    return False
                if outcome.exit_code != 0:
                    self.log.container(
                        f"Command did not exit successfully {command} exit status {outcome.exit_code}"
                    )
                    if error is None:
                        error = (
                            "COMMAND_EXECUTION_ERROR",
                            f"Error while executing command: {command}. Reason: exit status {outcome.exit_code}",
                        )
                    break  # skip the rest of this block; `finally` still runs
        if error is not None:
            self._fail(record, *error)
            return False
        self.phases.end(record, SUCCEEDED)
        return True

    def _command(self, command: str, **kwargs: object) -> CommandOutcome:
        assert self.shell is not None
        self.log.container(f"Running command {command}")
        return self.shell.run(
            command,
            overrides={"CODEBUILD_BUILD_SUCCEEDING": "1" if self.succeeding else "0"},
            cancel=self.cancel,
            deadline=self.deadline,
            **kwargs,
        )  # type: ignore[arg-type]

    def _interrupted_by(self, outcome: CommandOutcome, record: PhaseRecord) -> bool:
        if not (outcome.stopped or outcome.timed_out):
            return False
        return self._interrupted(record)

    def _capture(self, command: str) -> str | None:
        """Evaluate `command` in the build's final shell state, quietly; None if it failed."""
        assert self.shell is not None
        out = self.workdir / "tmp" / "capture.out"
        outcome = self.shell.run(
            command, overrides={}, cancel=self.cancel, deadline=self.deadline, capture=out, save_state=False
        )
        return out.read_text(errors="replace") if outcome.exit_code == 0 else None

    def _export(self, spec: Buildspec, resolved: ResolvedEnvironment) -> None:
        """Capture exported-variables once post_build is over; their values cannot change after."""
        names = []
        for name in spec.env.exported_variables:
            if not _NAME.match(name) or name.startswith("AWS_") or name in resolved.secret_names:
                self.log.container(
                    f"Skipping exported variable {name}: secrets, AWS_* and invalid names cannot be exported"
                )
                continue
            names.append(name)
        if not names or self.cancel.is_set():
            return
        text = self._capture("printf '%s\\0' " + " ".join(f'"${{{n}-}}"' for n in names))
        if text is not None:
            self.exported = dict(zip(names, text.split("\0")[: len(names)], strict=True))

    # -- UPLOAD_ARTIFACTS ------------------------------------------------------------------
    def _upload_artifacts(self, spec: Buildspec) -> None:
        record = self.phases.start("UPLOAD_ARTIFACTS")
        if self._interrupted(record):
            return
        wanted: list[tuple[str | None, artifact_mod.ArtifactSpec]] = []
        if self.request.artifacts_enabled:
            if spec.artifacts is not None:
                wanted.append((None, spec.artifacts))
            wanted.extend(spec.secondary_artifacts.items())
        for identifier, art in wanted:
            name = self._artifact_name(art.name)
            try:
                out = artifact_mod.collect(
                    art,
                    src_dir=self.src,
                    out_dir=self.workdir / "artifacts" / (identifier or "primary"),
                    identifier=identifier,
                    name=name,
                    log=self.log.container,
                )
            except artifact_mod.ArtifactError as exc:
                self._fail(record, exc.status_code, exc.message)
                return
            if identifier is None:
                self.result_artifact = out
            else:
                self.secondary[identifier] = out
        self.phases.end(record, SUCCEEDED)

    def _artifact_name(self, name: str | None) -> str | None:
        # The buildspec reference: the name "uses the Shell command language" ($(date), $VAR).
        if name is None or not any(c in name for c in "$`") or self.shell is None:
            return name
        value = self._capture(f'printf "%s" "{name}"')
        return value if value else name
