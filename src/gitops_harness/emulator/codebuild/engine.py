"""One build from StartBuild to COMPLETED: the glue between the CodeBuild control plane and run_build().

The scheduler job (`BuildExecution.job`) records QUEUED and PROVISIONING (scaled sleeps, no thread
held), then hands the blocking part to a thread of its own and waits on a signal:
- assume the project's service role (session "AWSCodeBuild-<uuid>"): its credentials are the build's;
- DOWNLOAD_SOURCE input: the S3 zip (or folder) as the service role, extracted in a fresh folder;
- run_build() with AWS_* pointing at the front door, the AWS CLI and docker on PATH, Parameter Store
  and Secrets Manager variables read as the service role;
- the output artifact to S3 as the service role (SSE-KMS with the project's encryptionKey);
- log lines to CloudWatch Logs as the service role, flushed at every phase end;
- "CodeBuild Build State Change" / "Build Phase Change" events to the account's default bus.

Every AWS call goes through the front door, so it shows in the request log with the role that made it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Generator
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

import botocore.exceptions

from gitops_harness.emulator.common.events import EventPublisher
from gitops_harness.emulator.controlplane import Runtime
from gitops_harness.emulator.scheduler import Sleep, WaitFor

from . import events, tools
from .build_io import (
    FAILED,
    STOPPED,
    SUCCEEDED,
    BuildRequest,
    BuildResult,
    EnvironmentVariable,
    PhaseContext,
    PhaseRecord,
)
from .buildspec import SecretRef
from .models import BuildRecord
from .runner import run_build, utc_now

log = logging.getLogger(__name__)

# AWS seconds (scaled by the time scale); CodeBuild's own take tens of seconds, which tests do not need.
QUEUED_SECONDS = 1.0
PROVISIONING_SECONDS = 2.0
_LOG_BATCH = 1000  # PutLogEvents takes up to 10,000 events / 1 MB per call


class BuildExecution:
    def __init__(
        self, record: BuildRecord, runtime: Runtime, lock: threading.RLock, work_root: Path, tools_dir: Path
    ):
        self.record = record
        self.runtime = runtime
        self.lock = lock  # the plane's: BatchGetBuilds reads the record under it
        self.work_root = work_root
        self.tools_dir = tools_dir
        self.events = EventPublisher.through(runtime)
        self.session_name = f"AWSCodeBuild-{record.uuid}"
        self._log_lines: list[tuple[int, str]] = []
        self._log_lock = threading.Lock()
        self._logs_ready = False
        self._completed: PhaseRecord | None = None

    # ---- the scheduler job -------------------------------------------------------------------------------

    def job(self) -> Generator[Any, Any, None]:
        done = self.runtime.scheduler.signal(f"codebuild {self.record.id}")
        try:
            self._publish([events.state_change(self._view())])
            self._publish_phase("SUBMITTED")
            yield Sleep(QUEUED_SECONDS)
            self._next_phase("PROVISIONING")
            yield Sleep(PROVISIONING_SECONDS)
            threading.Thread(
                target=self._run, args=(done,), name=f"codebuild-{self.record.uuid}", daemon=True
            ).start()
            yield WaitFor(done)
        finally:
            if not done.is_set():  # the emulator is shutting down: stop the build's processes
                self.record.cancel.set()

    def _run(self, done: Any) -> None:
        try:
            self._execute()
        except Exception as exc:  # a bug or a dead front door must still end the build
            log.exception("CodeBuild build %s failed in the emulator", self.record.id)
            self._end_early(self.record.current_phase, "FAULT", "CLIENT_ERROR", f"internal error: {exc}")
        finally:
            self.record.done.set()
            done.set()

    # ---- the build ---------------------------------------------------------------------------------------

    def _execute(self) -> None:
        record = self.record
        try:
            credentials = self.runtime.clients.role_credentials(
                record.service_role, record.account_id, self.session_name
            )
        except Exception as exc:
            self._end_early(
                "PROVISIONING",
                FAILED,
                "CLIENT_ERROR",
                f"CodeBuild is not authorized to perform: sts:AssumeRole on {record.service_role}: {exc}",
            )
            return
        if record.cancel.is_set():
            self._end_early("PROVISIONING", STOPPED, "BUILD_STOPPED", "Build was stopped.")
            return
        self._end_phase(SUCCEEDED)
        self.work_root.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=f"{record.uuid}-", dir=self.work_root))
        try:
            self._open_logs()
            notes: list[str] = []
            path = tools.build_path(
                self.tools_dir, privileged=bool(record.environment.get("privilegedMode")), log=notes
            )
            try:
                source_dir = self._download_source(workdir / "input")
            except _SourceError as exc:
                self._end_early("DOWNLOAD_SOURCE", FAILED, "CLIENT_ERROR", str(exc))
                return
            for note in notes:
                self._on_log(f"[Container] {utc_now():%Y/%m/%d %H:%M:%S.%f} {note}")
            env = {
                "PATH": path,
                "AWS_ACCESS_KEY_ID": credentials.access_key,
                "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
                "AWS_SESSION_TOKEN": credentials.session_token or "",
                "AWS_ENDPOINT_URL": self.runtime.endpoint_url(),
                "AWS_REGION": record.region,
                "AWS_DEFAULT_REGION": record.region,
                "AWS_EC2_METADATA_DISABLED": "true",  # never look for an instance role outside the emulator
            }
            result = run_build(
                self._request(source_dir),
                workdir=workdir / "build",
                env=env,
                on_phase=self._on_phase,
                on_log=self._on_log,
                cancel=record.cancel,
                timeout_s=record.timeout_minutes * 60 * self.runtime.time_scale,
                resolve_parameter=self._parameter,
                resolve_secret=self._secret,
            )
            status = self._upload(result)
            self._finish(status, result.end_time, result.exported_variables_api())
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _request(self, source_dir: Path) -> BuildRequest:
        record = self.record
        source = record.source
        extra = [
            ("CODEBUILD_LOG_PATH", record.logs.stream if record.logs else ""),
            ("CODEBUILD_KMS_KEY_ID", record.encryption_key or ""),
            ("CODEBUILD_SOURCE_REPO_URL", source.get("location", "")),
        ]
        variables = [EnvironmentVariable(name, value) for name, value in extra if value]
        variables += [
            EnvironmentVariable(v["name"], v["value"], v.get("type", "PLAINTEXT"))
            for v in record.environment.get("environmentVariables", [])
        ]
        source_version = record.source_version or (
            f"arn:aws:s3:::{source['location']}" if source.get("type") == "S3" else ""
        )
        return BuildRequest(
            source_dir=source_dir,
            build_id=record.id,
            build_arn=record.arn,
            build_number=record.number,
            buildspec=source.get("buildspec") or None,
            environment_variables=variables,
            initiator=record.initiator,
            source_version=source_version,
            resolved_source_version=record.resolved_source_version or "",
            image=record.environment.get("image", ""),
            artifacts_enabled=record.artifacts.get("type") != "NO_ARTIFACTS",
        )

    # ---- phases ------------------------------------------------------------------------------------------

    def _view(self) -> dict[str, Any]:
        with self.lock:
            return self.record.to_api()

    def _publish_phase(self, phase_type: str) -> None:
        with self.lock:
            build = self.record.to_api()
        phase = next(p for p in reversed(build["phases"]) if p["phaseType"] == phase_type)
        self._publish([events.phase_change(build, phase)])

    def _next_phase(self, starting: str) -> None:
        self._end_phase(SUCCEEDED)
        with self.lock:
            self.record.record_phase(PhaseRecord(starting, utc_now()))

    def _end_phase(self, status: str, code: str = "", message: str = "") -> None:
        with self.lock:
            current = self.record.phases[-1]
            current.phase_status, current.end_time = status, utc_now()
            if code or message:
                current.contexts = [PhaseContext(code, message)]
            phase_type = current.phase_type
        self._publish_phase(phase_type)

    def _on_phase(self, phase: PhaseRecord) -> None:
        if phase.phase_type == "COMPLETED":
            self._completed = phase  # shown once the artifact is uploaded and the status is final
            return
        with self.lock:
            self.record.record_phase(phase)
        if phase.phase_status is not None:
            self._flush_logs()
            self._publish_phase(phase.phase_type)

    def _end_early(self, phase_type: str, status: str, code: str, message: str) -> None:
        """Fail (or stop) the build before or around run_build: phase_type, then FINALIZING and COMPLETED."""
        with self.lock:
            if self.record.complete:
                return
            if self.record.phases[-1].phase_type != phase_type or self.record.phases[-1].end_time is not None:
                self.record.record_phase(PhaseRecord(phase_type, utc_now()))
        self._end_phase(status if status != "FAULT" else FAILED, code, message)
        self._on_log(
            f"[Container] {utc_now():%Y/%m/%d %H:%M:%S.%f} Phase complete: {phase_type} State: {status}"
        )
        with self.lock:
            self.record.record_phase(PhaseRecord("FINALIZING", utc_now()))
        self._end_phase(SUCCEEDED)
        self._completed = PhaseRecord("COMPLETED", utc_now())
        self._finish(status, utc_now(), [])

    def _finish(self, status: str, end_time: datetime, exported: list[dict[str, str]]) -> None:
        self._flush_logs()
        with self.lock:
            record = self.record
            record.record_phase(self._completed or PhaseRecord("COMPLETED", end_time))
            record.status, record.end_time, record.exported = status, end_time, exported
            build = record.to_api()
        self._publish([events.state_change(build)])

    # ---- source and artifacts ----------------------------------------------------------------------------

    def _s3(self) -> Any:
        return self.runtime.clients.for_role(
            "s3",
            self.record.service_role,
            self.record.region,
            source_account=self.record.account_id,
            session_name=self.session_name,
        )

    def _download_source(self, target: Path) -> Path:
        record = self.record
        target.mkdir(parents=True)
        kind = record.source.get("type")
        if kind == "NO_SOURCE":
            return target
        if kind != "S3":
            raise _SourceError(
                f"source type {kind} is not supported by the embedded AWS: use S3 or NO_SOURCE "
                "(CodePipeline passes its input artifact as an S3 override)"
            )
        bucket, _, key = record.source.get("location", "").partition("/")
        s3 = self._s3()
        try:
            if key.endswith("/") or not key:  # a folder: every object under the prefix
                paginator = s3.get_paginator("list_objects_v2")
                for page in paginator.paginate(Bucket=bucket, Prefix=key):
                    for item in page.get("Contents", []):
                        relative = item["Key"][len(key) :]
                        if relative and not relative.endswith("/"):
                            path = _safe_join(target, relative)
                            path.parent.mkdir(parents=True, exist_ok=True)
                            path.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
                return target
            extra = {"VersionId": record.source_version} if self._source_version_is_s3() else {}
            answer = s3.get_object(Bucket=bucket, Key=key, **extra)
            body = answer["Body"].read()
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            raise _SourceError(
                f"{error.get('Code')}: {error.get('Message')} for primary source s3://{bucket}/{key}"
            ) from None
        if self._source_version_is_s3() and answer.get("VersionId") and answer["VersionId"] != "null":
            with self.lock:
                record.resolved_source_version = answer["VersionId"]
        archive = target.parent / "source.zip"
        archive.write_bytes(body)
        _extract(archive, target)
        return target

    def _source_version_is_s3(self) -> bool:
        # For a CODEPIPELINE project the pipeline's sourceVersion is the source revision (a commit id),
        # which CodeBuild reports as CODEBUILD_RESOLVED_SOURCE_VERSION; for S3 it is an object version.
        return bool(self.record.source_version) and self.record.project_source_type == "S3"

    def _upload(self, result: BuildResult) -> str:
        """Upload the primary artifact; a failed upload fails UPLOAD_ARTIFACTS and the build."""
        spec = self.record.artifacts
        if result.artifact is None or spec.get("type") != "S3":
            return result.status
        bucket, key = artifact_location(spec, self.record.uuid, result.artifact.name)
        extra: dict[str, str] = {}
        if self.record.encryption_key and not spec.get("encryptionDisabled"):
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.record.encryption_key}
        s3 = self._s3()
        try:
            if spec.get("packaging") == "ZIP":
                data = result.artifact.zip_path.read_bytes()
                s3.put_object(Bucket=bucket, Key=key, Body=data, **extra)
                output = {
                    "location": f"arn:aws:s3:::{bucket}/{key}",
                    "sha256sum": hashlib.sha256(data).hexdigest(),
                    "md5sum": hashlib.md5(data).hexdigest(),
                }  # noqa: S324 - the checksum CodeBuild reports
            else:
                for name in result.artifact.files:
                    local = result.artifact.directory / PurePosixPath(name)
                    s3.put_object(
                        Bucket=bucket, Key=f"{key}/{name}" if key else name, Body=local.read_bytes(), **extra
                    )
                output = {"location": f"arn:aws:s3:::{bucket}/{key}"}
        except (botocore.exceptions.ClientError, OSError) as exc:
            message = f"Error in UPLOAD_ARTIFACTS phase: {exc}"
            self._on_log(f"[Container] {utc_now():%Y/%m/%d %H:%M:%S.%f} {message}")
            with self.lock:
                phase = next((p for p in self.record.phases if p.phase_type == "UPLOAD_ARTIFACTS"), None)
                if phase is not None:
                    phase.phase_status, phase.contexts = FAILED, [PhaseContext("CLIENT_ERROR", message)]
            return FAILED if result.status == SUCCEEDED else result.status
        output["encryptionDisabled"] = bool(spec.get("encryptionDisabled", False))
        output["overrideArtifactName"] = bool(spec.get("overrideArtifactName", False))
        with self.lock:
            self.record.output = output
        return result.status

    # ---- secrets -----------------------------------------------------------------------------------------

    def _parameter(self, name: str) -> str:
        ssm = self.runtime.clients.for_role(
            "ssm",
            self.record.service_role,
            self.record.region,
            source_account=self.record.account_id,
            session_name=self.session_name,
        )
        return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]

    def _secret(self, ref: SecretRef) -> str:
        client = self.runtime.clients.for_role(
            "secretsmanager",
            self.record.service_role,
            self.record.region,
            source_account=self.record.account_id,
            session_name=self.session_name,
        )
        kwargs: dict[str, str] = {"SecretId": ref.secret_id}
        if ref.version_stage:
            kwargs["VersionStage"] = ref.version_stage
        if ref.version_id:
            kwargs["VersionId"] = ref.version_id
        return client.get_secret_value(**kwargs)["SecretString"]

    # ---- logs and events ---------------------------------------------------------------------------------

    def _logs_client(self) -> Any:
        return self.runtime.clients.for_role(
            "logs",
            self.record.service_role,
            self.record.region,
            source_account=self.record.account_id,
            session_name=self.session_name,
        )

    def _open_logs(self) -> None:
        target = self.record.logs
        if target is None:
            return
        client = self._logs_client()
        try:
            with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
                client.create_log_group(logGroupName=target.group)
            client.create_log_stream(logGroupName=target.group, logStreamName=target.stream)
        except botocore.exceptions.ClientError as exc:
            log.warning(
                "build %s: cannot create log stream %s/%s: %s",
                self.record.id,
                target.group,
                target.stream,
                exc,
            )
            return
        self._logs_ready = True

    def _on_log(self, line: str) -> None:
        with self._log_lock:
            self._log_lines.append((int(time.time() * 1000), line + "\n"))  # CodeBuild's events end with \n

    def _flush_logs(self) -> None:
        if not self._logs_ready or self.record.logs is None:
            return
        with self._log_lock:
            lines, self._log_lines = self._log_lines, []
        client = self._logs_client()
        for start in range(0, len(lines), _LOG_BATCH):
            batch = [
                {"timestamp": ts, "message": message} for ts, message in lines[start : start + _LOG_BATCH]
            ]
            try:
                client.put_log_events(
                    logGroupName=self.record.logs.group,
                    logStreamName=self.record.logs.stream,
                    logEvents=batch,
                )
            except botocore.exceptions.ClientError as exc:
                log.warning("build %s: PutLogEvents failed: %s", self.record.id, exc)

    def _publish(self, entries: list[dict[str, Any]]) -> None:
        # events are observability: try_publish logs a failure instead of failing the build
        self.events.try_publish(self.record.account_id, self.record.region, entries)


class _SourceError(Exception):
    pass


def artifact_location(spec: dict[str, Any], build_uuid: str, buildspec_name: str | None) -> tuple[str, str]:
    """(bucket, key) of an S3 artifact: path / [build uuid if namespaceType BUILD_ID] / name."""
    name = spec.get("name") or ""
    if spec.get("overrideArtifactName") and buildspec_name:
        name = buildspec_name
    parts = [spec.get("path") or "", build_uuid if spec.get("namespaceType") == "BUILD_ID" else "", name]
    return spec["location"], "/".join(p.strip("/") for p in parts if p.strip("/"))


def _safe_join(root: Path, relative: str) -> Path:
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise _SourceError(f"source entry {relative!r} points outside the source folder")
    return path


def _extract(archive: Path, target: Path) -> None:
    """Unzip keeping the files' modes (zipfile drops them); refuse entries that escape the folder."""
    try:
        with zipfile.ZipFile(archive) as source:
            for info in source.infolist():
                path = _safe_join(target, info.filename)
                if info.is_dir():
                    path.mkdir(parents=True, exist_ok=True)
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                with source.open(info) as reader, path.open("wb") as writer:
                    shutil.copyfileobj(reader, writer)
                mode = (info.external_attr >> 16) & 0o777
                if mode:
                    path.chmod(mode)
    except zipfile.BadZipFile:
        raise _SourceError(
            f"the source {archive.name} is not a zip file: CodeBuild's S3 source is a zip or a folder"
        ) from None
