"""The CodeBuild control plane: projects, and builds that run real buildspecs (engine.py, runner.py).

Projects and builds live per (account, region) in models.py's dataclasses. StartBuild applies the
overrides to the project's settings, records SUBMITTED and QUEUED, and hands the build to the
scheduler; BatchGetBuilds shows its phases while it runs. How a pipeline starts a build
(CODEPIPELINE project): sourceTypeOverride S3 + sourceLocationOverride "<bucket>/<key>" of the input
artifact zip, artifactsOverride {type S3, location <bucket>, path <prefix>, name <key name>,
packaging ZIP}, and sourceVersion = the source revision (reported as CODEBUILD_RESOLVED_SOURCE_VERSION).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from gitops_harness.emulator.common.arns import InvalidArn, parse_arn
from gitops_harness.emulator.common.pagination import paginate
from gitops_harness.emulator.common.tags import TagLimits, check_tags, tags_from_list
from gitops_harness.emulator.controlplane import (
    ControlPlane,
    RequestContext,
    Runtime,
    Store,
    service_model,
)
from gitops_harness.emulator.exceptions import ModeledErrors

from .build_io import SUCCEEDED, PhaseRecord
from .engine import BuildExecution
from .models import (
    DEFAULT_QUEUED_TIMEOUT_MINUTES,
    DEFAULT_TIMEOUT_MINUTES,
    BuildRecord,
    CodeBuildState,
    LogTarget,
    ProjectRecord,
    build_arn,
    project_arn,
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_]{1,149}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_SETTINGS = (
    "description",
    "source",
    "secondarySources",
    "sourceVersion",
    "secondarySourceVersions",
    "artifacts",
    "secondaryArtifacts",
    "cache",
    "environment",
    "serviceRole",
    "timeoutInMinutes",
    "queuedTimeoutInMinutes",
    "encryptionKey",
    "tags",
    "vpcConfig",
    "logsConfig",
    "fileSystemLocations",
    "buildBatchConfig",
    "concurrentBuildLimit",
    "autoRetryLimit",
)
_PAGE = 100
_MAX_PROJECTS = 5000  # CodeBuild's quota of build projects per region


def _enum(shape: str) -> list[str]:
    return service_model("codebuild").shape_for(shape).enum


class CodeBuild(ControlPlane):
    service_name = "codebuild"
    signing = "codebuild"
    validation_error_code = "InvalidInputException"
    errors = ModeledErrors("codebuild")

    def __init__(self, runtime: Runtime):
        super().__init__(runtime)
        self.store: Store[CodeBuildState] = Store(CodeBuildState)
        self.work_root = runtime.state_dir / "codebuild" / "builds"
        self.tools_dir = runtime.state_dir / "codebuild" / "tools"
        self._tag_errors = self.tag_store("InvalidInputException", "InvalidInputException").errors

    # ---- projects ----------------------------------------------------------------------------------------

    def CreateProject(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        state = self.store[ctx]
        name = request["name"]
        if not _NAME.match(name):
            raise self.errors.InvalidInputException(
                f"Invalid project name: {name}: 2-150 letters, digits, '-' or '_', starting with a letter or digit"
            )
        arn = project_arn(ctx.region, ctx.account_id, name)
        if name in state.projects:
            raise self.errors.ResourceAlreadyExistsException(f"Project already exists: {arn}")
        if len(state.projects) >= _MAX_PROJECTS:
            raise self.errors.AccountLimitExceededException(
                f"Cannot have more than {_MAX_PROJECTS} projects in an account and region"
            )
        settings = self._settings(ctx, request, {})
        now = datetime.now(UTC)
        project = ProjectRecord(name, arn, settings, now, now, bool(request.get("badgeEnabled", False)))
        state.projects[name] = project
        return {"project": project.to_api()}

    def UpdateProject(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        project = self._project(ctx, request["name"])
        project.settings = self._settings(ctx, request, project.settings)
        if "badgeEnabled" in request:
            project.badge_enabled = bool(request["badgeEnabled"])
        project.last_modified = datetime.now(UTC)
        return {"project": project.to_api()}

    def DeleteProject(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        # Idempotent on AWS; the project's builds stay (BatchGetBuilds still finds them).
        self.store[ctx].projects.pop(self._name_of(ctx, request["name"]), None)
        return {}

    def BatchGetProjects(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        names = request["names"]
        if len(names) > 100:
            raise self.errors.InvalidInputException("names: at most 100 project names per request")
        state = self.store[ctx]
        found, missing = [], []
        for name in names:
            project = state.projects.get(self._name_of(ctx, name))
            if project is None:
                missing.append(name)
            else:
                found.append(project.to_api())
        return _present({"projects": found, "projectsNotFound": missing})

    def ListProjects(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        sort_by = request.get("sortBy", "NAME")
        order = request.get("sortOrder", "ASCENDING")
        if sort_by not in _enum("ProjectSortByType") or order not in _enum("SortOrderType"):
            raise self.errors.InvalidInputException(f"Invalid sortBy {sort_by!r} or sortOrder {order!r}")
        key = {
            "NAME": lambda p: p.name,
            "CREATED_TIME": lambda p: p.created,
            "LAST_MODIFIED_TIME": lambda p: p.last_modified,
        }[sort_by]
        projects = sorted(self.store[ctx].projects.values(), key=key, reverse=order == "DESCENDING")
        names, token = self._page([p.name for p in projects], request.get("nextToken"))
        return _present({"projects": names, "nextToken": token})

    # ---- builds ------------------------------------------------------------------------------------------

    def StartBuild(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        state = self.store[ctx]
        project = self._project(ctx, request["projectName"])
        token = request.get("idempotencyToken")
        digest = hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()
        if token and token in state.idempotency:
            earlier_digest, build_id = state.idempotency[token]
            if earlier_digest != digest:
                raise self.errors.InvalidInputException(
                    f"idempotencyToken {token} was used with different parameters"
                )
            return {"build": state.builds[build_id].to_api()}
        limit = project.settings.get("concurrentBuildLimit")
        running = [b for b in state.builds.values() if b.project_name == project.name and not b.complete]
        if limit and len(running) >= limit:
            raise self.errors.AccountLimitExceededException(
                f"Cannot have more than {limit} active builds for the project {project.name}"
            )
        record = self._new_build(ctx, project, request)
        state.builds[record.id] = record
        if token:
            state.idempotency[token] = (digest, record.id)
        execution = BuildExecution(record, self.runtime, self.lock, self.work_root, self.tools_dir)
        self.runtime.scheduler.spawn(execution.job, name=f"codebuild {record.id}")
        return {"build": record.to_api()}

    def BatchGetBuilds(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        ids = request["ids"]
        if len(ids) > 100:
            raise self.errors.InvalidInputException("ids: at most 100 build ids per request")
        state = self.store[ctx]
        found, missing = [], []
        for given in ids:
            build = state.builds.get(self._build_id_of(given))
            if build is None:
                missing.append(given)
            else:
                found.append(build.to_api())
        return _present({"builds": found, "buildsNotFound": missing})

    def StopBuild(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        build = self.store[ctx].builds.get(self._build_id_of(request["id"]))
        if build is None:
            raise self.errors.ResourceNotFoundException(f"Build {request['id']} does not exist")
        if not build.complete:
            build.cancel.set()  # the build ends STOPPED within moments; BatchGetBuilds shows when
        return {"build": build.to_api()}

    def ListBuildsForProject(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        name = self._project(ctx, request["projectName"]).name
        builds = [b for b in self.store[ctx].builds.values() if b.project_name == name]
        return self._list_builds(builds, request)

    def ListBuilds(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        return self._list_builds(list(self.store[ctx].builds.values()), request)

    def BatchDeleteBuilds(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        state = self.store[ctx]
        deleted, kept = [], []
        for given in request["ids"]:
            build = state.builds.get(self._build_id_of(given))
            if build is None:
                kept.append({"id": given, "statusCode": "BUILD_NOT_FOUND"})
            elif not build.complete:
                kept.append({"id": given, "statusCode": "BUILD_IN_PROGRESS"})
            else:
                del state.builds[build.id]
                deleted.append(given)
        return _present({"buildsDeleted": deleted, "buildsNotDeleted": kept})

    # ---- helpers -----------------------------------------------------------------------------------------

    def _project(self, ctx: RequestContext, name_or_arn: str) -> ProjectRecord:
        name = self._name_of(ctx, name_or_arn)
        project = self.store[ctx].projects.get(name)
        if project is None:
            raise self.errors.ResourceNotFoundException(
                f"Project cannot be found: {project_arn(ctx.region, ctx.account_id, name)}"
            )
        return project

    @staticmethod
    def _name_of(ctx: RequestContext, name_or_arn: str) -> str:
        prefix = f"arn:aws:codebuild:{ctx.region}:{ctx.account_id}:project/"
        return name_or_arn.removeprefix(prefix)

    @staticmethod
    def _build_id_of(id_or_arn: str) -> str:
        return (
            id_or_arn.split(":build/", 1)[1]
            if id_or_arn.startswith("arn:") and ":build/" in id_or_arn
            else id_or_arn
        )

    def _page(self, items: list[str], token: str | None) -> tuple[list[str], str | None]:
        return paginate(
            items,
            token,
            _PAGE,
            invalid_token=self.errors.InvalidInputException,
            message=f"Invalid nextToken: {token}",
        )

    def _list_builds(self, builds: list[BuildRecord], request: dict[str, Any]) -> dict[str, Any]:
        order = request.get("sortOrder", "DESCENDING")
        if order not in _enum("SortOrderType"):
            raise self.errors.InvalidInputException(f"Invalid sortOrder {order!r}")
        ordered = (
            list(builds) if order == "ASCENDING" else list(reversed(builds))
        )  # builds are in start order
        ids, token = self._page([b.id for b in ordered], request.get("nextToken"))
        return _present({"ids": ids, "nextToken": token})

    def _settings(self, ctx: RequestContext, request: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
        """The project's settings after applying `request` to `base`, with CodeBuild's defaults; validated."""
        settings = copy.deepcopy(base)
        settings.update({k: copy.deepcopy(request[k]) for k in _SETTINGS if k in request})
        settings.setdefault("timeoutInMinutes", DEFAULT_TIMEOUT_MINUTES)
        settings.setdefault("queuedTimeoutInMinutes", DEFAULT_QUEUED_TIMEOUT_MINUTES)
        settings.setdefault("encryptionKey", f"arn:aws:kms:{ctx.region}:{ctx.account_id}:alias/aws/s3")
        settings.setdefault(
            "logsConfig",
            {
                "cloudWatchLogs": {"status": "ENABLED"},
                "s3Logs": {"status": "DISABLED", "encryptionDisabled": False},
            },
        )
        settings.setdefault("tags", [])
        check_tags(tags_from_list(settings["tags"]), {}, TagLimits(), self._tag_errors)
        environment = settings["environment"]
        environment.setdefault("environmentVariables", [])
        environment.setdefault("privilegedMode", False)
        environment.setdefault("imagePullCredentialsType", "CODEBUILD")
        self._check_source(settings["source"])
        _default_artifact_name(settings["artifacts"], request["name"].rsplit("/", 1)[-1])
        self._check_artifacts(settings["artifacts"])
        if environment["type"] not in _enum("EnvironmentType"):
            raise self.errors.InvalidInputException(f"Invalid environment type: {environment['type']}")
        if environment["computeType"] not in _enum("ComputeType"):
            raise self.errors.InvalidInputException(f"Invalid compute type: {environment['computeType']}")
        self._check_variables(environment["environmentVariables"])
        if not _ROLE_ARN.match(settings["serviceRole"]):
            raise self.errors.InvalidInputException(
                f"Invalid service role: {settings['serviceRole']}: expected an IAM role ARN"
            )
        self._check_range("timeoutInMinutes", settings["timeoutInMinutes"], 5, 2160)
        self._check_range("queuedTimeoutInMinutes", settings["queuedTimeoutInMinutes"], 5, 480)
        return settings

    def _check_range(self, name: str, value: int, low: int, high: int) -> None:
        if not low <= value <= high:
            raise self.errors.InvalidInputException(f"{name} must be between {low} and {high}, got {value}")

    def _check_source(self, source: dict[str, Any]) -> None:
        kind = source["type"]
        if kind not in _enum("SourceType"):
            raise self.errors.InvalidInputException(f"Invalid source type: {kind}")
        if kind == "S3" and not source.get("location"):
            raise self.errors.InvalidInputException(
                "Source location is required for source type S3: <bucket>/<key>"
            )
        if kind == "NO_SOURCE" and not source.get("buildspec"):
            raise self.errors.InvalidInputException("A buildspec is required for source type NO_SOURCE")

    def _check_artifacts(self, artifacts: dict[str, Any]) -> None:
        kind = artifacts["type"]
        if kind not in _enum("ArtifactsType"):
            raise self.errors.InvalidInputException(f"Invalid artifacts type: {kind}")
        if kind == "S3" and not artifacts.get("location"):
            raise self.errors.InvalidInputException("Artifacts of type S3 need a location (bucket)")
        if artifacts.get("packaging", "NONE") not in _enum("ArtifactPackaging"):
            raise self.errors.InvalidInputException(f"Invalid artifacts packaging: {artifacts['packaging']}")

    def _check_variables(self, variables: Iterable[dict[str, Any]]) -> None:
        for variable in variables:
            if variable.get("type", "PLAINTEXT") not in _enum("EnvironmentVariableType"):
                raise self.errors.InvalidInputException(
                    f"Invalid type {variable['type']} for environment variable {variable['name']}"
                )

    def _new_build(self, ctx: RequestContext, project: ProjectRecord, request: dict[str, Any]) -> BuildRecord:
        settings = project.settings
        for key, override in (
            ("secondarySources", "secondarySourcesOverride"),
            ("secondaryArtifacts", "secondaryArtifactsOverride"),
        ):
            if request.get(override, settings.get(key)):
                # never a silent success: the build would run without them
                raise self.errors.InvalidInputException(
                    f"{key} are not supported by the embedded AWS: use one source and one artifact"
                )
        source = copy.deepcopy(settings["source"])
        if "sourceTypeOverride" in request:
            source = {
                "type": request["sourceTypeOverride"],
                **({"buildspec": source["buildspec"]} if source.get("buildspec") else {}),
            }
        if "sourceLocationOverride" in request:
            source["location"] = request["sourceLocationOverride"]
        if "buildspecOverride" in request:
            source["buildspec"] = request["buildspecOverride"]
        self._check_source(source)
        if source["type"] == "CODEPIPELINE":
            raise self.errors.InvalidInputException(
                "Project source type CODEPIPELINE needs sourceTypeOverride/sourceLocationOverride: "
                "CodePipeline starts such builds with its input artifact as an S3 source"
            )
        if source["type"] not in ("S3", "NO_SOURCE"):
            raise self.errors.InvalidInputException(
                f"Source type {source['type']} is not supported by the embedded AWS: use S3 or NO_SOURCE"
            )
        artifacts = copy.deepcopy(request.get("artifactsOverride") or settings["artifacts"])
        _default_artifact_name(artifacts, project.name)
        self._check_artifacts(artifacts)
        if artifacts["type"] == "CODEPIPELINE":
            raise self.errors.InvalidInputException(
                "Project artifacts type CODEPIPELINE needs artifactsOverride: CodePipeline names the output"
            )
        environment = copy.deepcopy(settings["environment"])
        for key, override in (
            ("image", "imageOverride"),
            ("computeType", "computeTypeOverride"),
            ("type", "environmentTypeOverride"),
            ("privilegedMode", "privilegedModeOverride"),
        ):
            if override in request:
                environment[key] = request[override]
        overrides = request.get("environmentVariablesOverride", [])
        self._check_variables(overrides)
        names = {v["name"] for v in overrides}
        environment["environmentVariables"] = [
            v for v in environment["environmentVariables"] if v["name"] not in names
        ] + copy.deepcopy(overrides)
        timeout = request.get("timeoutInMinutesOverride", settings["timeoutInMinutes"])
        self._check_range("timeoutInMinutesOverride", timeout, 5, 2160)
        service_role = request.get("serviceRoleOverride", settings["serviceRole"])
        if not _ROLE_ARN.match(service_role):
            raise self.errors.InvalidInputException(f"Invalid service role: {service_role}")
        build_uuid = str(uuid.uuid4())
        build_id = f"{project.name}:{build_uuid}"
        project.builds_started += 1
        now = datetime.now(UTC)
        record = BuildRecord(
            id=build_id,
            arn=build_arn(ctx.region, ctx.account_id, build_id),
            uuid=build_uuid,
            number=project.builds_started,
            project_name=project.name,
            account_id=ctx.account_id,
            region=ctx.region,
            start_time=now,
            source=source,
            artifacts=artifacts,
            environment=environment,
            service_role=service_role,
            timeout_minutes=timeout,
            queued_timeout_minutes=request.get(
                "queuedTimeoutInMinutesOverride", settings["queuedTimeoutInMinutes"]
            ),
            initiator=_initiator(ctx.caller_arn, ctx.account_id),
            encryption_key=request.get("encryptionKeyOverride", settings.get("encryptionKey")),
            logs=_log_target(
                request.get("logsConfigOverride") or settings["logsConfig"], project.name, build_uuid
            ),
            source_version=request.get("sourceVersion") or settings.get("sourceVersion"),
            project_source_type=settings["source"]["type"],
        )
        if record.project_source_type == "CODEPIPELINE" and record.source_version:
            record.resolved_source_version = record.source_version
        record.phases = [PhaseRecord("SUBMITTED", now, SUCCEEDED, now), PhaseRecord("QUEUED", now)]
        record.current_phase = "QUEUED"
        return record


def _present(answer: dict[str, Any]) -> dict[str, Any]:
    """Without empty or None members: the model's id and name lists must hold at least one entry."""
    return {k: v for k, v in answer.items() if v not in (None, [])}


def _initiator(caller_arn: str, account_id: str) -> str:
    """CodeBuild's initiator: the user name, or "<role>/<session>" for an assumed role."""
    try:
        resource = parse_arn(caller_arn).resource
    except InvalidArn:
        resource = ""
    if resource.startswith("assumed-role/"):
        return resource.removeprefix("assumed-role/")
    if resource.startswith("user/"):
        return resource.rsplit("/", 1)[-1]
    return resource or account_id


def _log_target(config: dict[str, Any], project: str, build_uuid: str) -> LogTarget | None:
    cloudwatch = config.get("cloudWatchLogs") or {"status": "ENABLED"}
    if cloudwatch.get("status") != "ENABLED":
        return None
    group = cloudwatch.get("groupName") or f"/aws/codebuild/{project}"
    prefix = cloudwatch.get("streamName")
    return LogTarget(group, f"{prefix}/{build_uuid}" if prefix else build_uuid)


def _default_artifact_name(artifacts: dict[str, Any], project_name: str) -> None:
    """S3 artifacts without a name are stored under the project's name, as CodeBuild does (the
    artifact's location then ends in /<project name>)."""
    if artifacts.get("type") == "S3" and not artifacts.get("name"):
        artifacts["name"] = project_name
