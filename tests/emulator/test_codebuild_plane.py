"""The CodeBuild control plane through the front door: projects, and builds that run real buildspecs with
the project's service role, the AWS CLI and the docker stand-in, writing S3, CloudWatch Logs and events."""

from __future__ import annotations

import io
import json
import re
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from event_helpers import EventProbe, received_through

from gitops_harness.emulator.codebuild.plane import CodeBuild
from gitops_harness.emulator.testing import RunningEmulator, running_emulator
from gitops_harness.waiting import wait_until

ACCOUNT = "246813579024"  # moto's state is shared by every emulator in the process: keep to our own account
REGION = "us-east-1"
APP = Path(__file__).resolve().parents[2] / "fixtures" / "app"
TIME_SCALE = 0.05  # one AWS minute = 3 s: the reference project's 20-minute timeout is a minute here
IMAGE = "aws/codebuild/standard:7.0"


@pytest.fixture(scope="module")
def aws() -> Iterator[RunningEmulator]:
    with running_emulator(planes=[CodeBuild], time_scale=TIME_SCALE) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def codebuild(aws: RunningEmulator) -> Any:
    return aws.client("codebuild", account=ACCOUNT)


@pytest.fixture(scope="module")
def role(aws: RunningEmulator) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "codebuild.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam = aws.client("iam", account=ACCOUNT)
    answer = iam.create_role(RoleName="build-service-role", AssumeRolePolicyDocument=json.dumps(trust))
    # what a build service role is granted, so the tests hold where the front door enforces IAM
    permissions = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Resource": "*",
                "Action": [
                    "s3:GetObject",
                    "s3:GetObjectVersion",
                    "s3:PutObject",
                    "s3:ListBucket",
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "ecr:*",
                    "ssm:GetParameter",
                    "ssm:GetParameters",
                    "secretsmanager:GetSecretValue",
                    "kms:Decrypt",
                    "kms:Encrypt",
                    "kms:GenerateDataKey*",
                ],
            }
        ],
    }
    iam.put_role_policy(
        RoleName="build-service-role", PolicyName="build", PolicyDocument=json.dumps(permissions)
    )
    return answer["Role"]["Arn"]


@pytest.fixture(scope="module")
def bucket(aws: RunningEmulator) -> str:
    name = f"builds-{uuid.uuid4().hex[:12]}"
    aws.client("s3", account=ACCOUNT).create_bucket(Bucket=name)
    return name


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def environment(*variables: tuple[str, str], privileged: bool = False) -> dict[str, Any]:
    return {
        "type": "LINUX_CONTAINER",
        "image": IMAGE,
        "computeType": "BUILD_GENERAL1_SMALL",
        "privilegedMode": privileged,
        "environmentVariables": [{"name": n, "value": v, "type": "PLAINTEXT"} for n, v in variables],
    }


def inline_project(codebuild: Any, role: str, buildspec: str, **extra: Any) -> str:
    name = unique("inline")
    codebuild.create_project(
        name=name,
        source={"type": "NO_SOURCE", "buildspec": buildspec},
        artifacts=extra.pop("artifacts", {"type": "NO_ARTIFACTS"}),
        environment=extra.pop("environment", environment()),
        serviceRole=role,
        **extra,
    )
    return name


def wait_for(codebuild: Any, build_id: str, until: Any, timeout: float = 90.0) -> dict[str, Any]:
    """BatchGetBuilds until `until(build)` holds; at the deadline, fail with the last state seen."""

    def seen(build: dict[str, Any] | None) -> str:
        build = build or {}
        phases = [(p["phaseType"], p.get("phaseStatus")) for p in build.get("phases", [])]
        return f"status {build.get('buildStatus')}, phases {phases}"

    return wait_until(
        lambda: codebuild.batch_get_builds(ids=[build_id])["builds"][0],
        accept=until,
        timeout=timeout,
        describe_expected=f"build {build_id} in the expected state",
        describe_seen=seen,
    )


def wait_complete(codebuild: Any, build_id: str, timeout: float = 90.0) -> dict[str, Any]:
    return wait_for(codebuild, build_id, lambda b: b["buildComplete"], timeout)


def phases(build: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(p["phaseType"], p.get("phaseStatus")) for p in build["phases"]]


def log_messages(aws: RunningEmulator, build: dict[str, Any]) -> list[str]:
    logs = aws.client("logs", account=ACCOUNT)
    answer = logs.get_log_events(
        logGroupName=build["logs"]["groupName"], logStreamName=build["logs"]["streamName"], startFromHead=True
    )
    return [event["message"].rstrip("\n") for event in answer["events"]]


def event_probe(aws: RunningEmulator, pattern: dict[str, Any]) -> EventProbe:
    """A probe on the account's default-bus events matching `pattern`."""
    return EventProbe(aws.client("events", account=ACCOUNT), aws.client("sqs", account=ACCOUNT), pattern)


@pytest.fixture
def codebuild_events(aws: RunningEmulator) -> Iterator[EventProbe]:
    with event_probe(aws, {"source": ["aws.codebuild"]}) as probe:
        yield probe


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return excinfo.value.response["Error"]["Code"]


# ---- projects ---------------------------------------------------------------------------------------------


def test_project_create_get_list_update_delete(codebuild: Any, role: str) -> None:
    name = unique("crud")
    created = codebuild.create_project(
        name=name,
        description="first",
        serviceRole=role,
        environment=environment(("STAGE", "dev")),
        source={"type": "S3", "location": "bucket/source.zip"},
        artifacts={"type": "NO_ARTIFACTS"},
        tags=[{"key": "team", "value": "harness"}],
    )["project"]
    assert created["arn"] == f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/{name}"
    assert (created["timeoutInMinutes"], created["queuedTimeoutInMinutes"]) == (60, 480)
    assert created["encryptionKey"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/s3"
    assert created["logsConfig"]["cloudWatchLogs"]["status"] == "ENABLED"

    with pytest.raises(ClientError) as exists:
        codebuild.create_project(
            name=name,
            serviceRole=role,
            environment=environment(),
            source={"type": "NO_SOURCE", "buildspec": "version: 0.2"},
            artifacts={"type": "NO_ARTIFACTS"},
        )
    assert error_code(exists) == "ResourceAlreadyExistsException"

    got = codebuild.batch_get_projects(names=[name, created["arn"], "not-a-project"])
    assert [p["name"] for p in got["projects"]] == [name, name]
    assert got["projectsNotFound"] == ["not-a-project"]

    updated = codebuild.update_project(name=name, description="second", timeoutInMinutes=15)["project"]
    assert (updated["description"], updated["timeoutInMinutes"]) == ("second", 15)
    assert updated["environment"]["environmentVariables"] == [
        {"name": "STAGE", "value": "dev", "type": "PLAINTEXT"}
    ]
    assert updated["lastModified"] >= created["lastModified"]

    other = unique("crud")
    codebuild.create_project(
        name=other,
        serviceRole=role,
        environment=environment(),
        source={"type": "NO_SOURCE", "buildspec": "version: 0.2"},
        artifacts={"type": "NO_ARTIFACTS"},
    )
    listed = codebuild.list_projects(sortBy="NAME", sortOrder="DESCENDING")["projects"]
    assert [p for p in listed if p in (name, other)] == sorted([name, other], reverse=True)

    codebuild.delete_project(name=name)
    codebuild.delete_project(name=name)  # idempotent, as on AWS
    assert codebuild.batch_get_projects(names=[name])["projectsNotFound"] == [name]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"name": "-bad name"}, "InvalidInputException"),
        ({"serviceRole": "just-a-name"}, "InvalidInputException"),
        ({"source": {"type": "SVN"}}, "InvalidInputException"),
        ({"source": {"type": "S3"}}, "InvalidInputException"),  # S3 needs a location
        ({"source": {"type": "NO_SOURCE"}}, "InvalidInputException"),  # NO_SOURCE needs a buildspec
        ({"artifacts": {"type": "S3", "name": "out.zip"}}, "InvalidInputException"),  # S3 needs a bucket
        ({"timeoutInMinutes": 3000}, "InvalidInputException"),
        ({"environment": {**environment(), "computeType": "HUGE"}}, "InvalidInputException"),
    ],
)
def test_create_project_rejects_invalid_input(
    codebuild: Any, role: str, change: dict[str, Any], code: str
) -> None:
    request = {
        "name": unique("invalid"),
        "serviceRole": role,
        "environment": environment(),
        "source": {"type": "NO_SOURCE", "buildspec": "version: 0.2"},
        "artifacts": {"type": "NO_ARTIFACTS"},
        **change,
    }
    with pytest.raises(ClientError) as excinfo:
        codebuild.create_project(**request)
    assert error_code(excinfo) == code


def test_s3_artifacts_without_a_name_are_stored_under_the_project_name(
    aws: RunningEmulator, codebuild: Any, role: str, bucket: str
) -> None:
    # CodeBuild names the artifact after the project when the project gives no name (CloudFormation's
    # Artifacts.Name is optional); the build's artifact location then ends in /<project name>
    buildspec = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi > out.txt\nartifacts:\n  files:\n    - out.txt\n"
    name = inline_project(
        codebuild,
        role,
        buildspec,
        artifacts={"type": "S3", "location": bucket, "path": "out", "packaging": "ZIP"},
    )
    [project] = codebuild.batch_get_projects(names=[name])["projects"]
    assert project["artifacts"]["name"] == name
    build = wait_complete(codebuild, codebuild.start_build(projectName=name)["build"]["id"])
    assert build["buildStatus"] == "SUCCEEDED", phases(build)
    assert build["artifacts"]["location"] == f"arn:aws:s3:::{bucket}/out/{name}"
    body = aws.client("s3", account=ACCOUNT).get_object(Bucket=bucket, Key=f"out/{name}")["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.namelist() == ["out.txt"]


def test_missing_resources_and_pipeline_only_sources(aws: RunningEmulator, codebuild: Any, role: str) -> None:
    # the server checks the model's constraints too (clients that skip validation, other SDKs)
    unchecked = aws.client("codebuild", account=ACCOUNT, config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as missing_required:
        unchecked.create_project(
            name=unique("x"),
            source={"type": "NO_SOURCE"},
            artifacts={"type": "NO_ARTIFACTS"},
            environment=environment(),
            serviceRole="",
        )
    assert error_code(missing_required) == "InvalidInputException"
    for call in (
        lambda: codebuild.update_project(name="no-such-project", description="x"),
        lambda: codebuild.start_build(projectName="no-such-project"),
        lambda: codebuild.stop_build(id="no-such-project:0000"),
        lambda: codebuild.list_builds_for_project(projectName="no-such-project"),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_code(excinfo) == "ResourceNotFoundException"
    name = unique("pipeline-only")
    codebuild.create_project(
        name=name,
        serviceRole=role,
        environment=environment(),
        source={"type": "CODEPIPELINE", "buildspec": "buildspec.yml"},
        artifacts={"type": "CODEPIPELINE"},
    )
    with pytest.raises(ClientError) as excinfo:
        codebuild.start_build(projectName=name)
    assert error_code(excinfo) == "InvalidInputException"
    assert codebuild.batch_get_builds(ids=[f"{name}:0000"])["buildsNotFound"] == [f"{name}:0000"]
    with pytest.raises(ClientError) as secondary:
        codebuild.start_build(
            projectName=name,
            sourceTypeOverride="S3",
            sourceLocationOverride="b/k.zip",
            artifactsOverride={"type": "NO_ARTIFACTS"},
            secondarySourcesOverride=[{"type": "S3", "location": "b/o.zip", "sourceIdentifier": "o"}],
        )
    assert error_code(secondary) == "InvalidInputException"
    assert "secondarySources" in secondary.value.response["Error"]["Message"]


# ---- builds -----------------------------------------------------------------------------------------------

CALLER_BUILDSPEC = """\
version: 0.2
env:
  exported-variables:
    - CALLER
    - GREETING
phases:
  build:
    commands:
      - aws sts get-caller-identity --query Arn --output text > caller.txt
      - export CALLER="$(cat caller.txt)"
      - printf '%s' "$FROM_SSM" > parameter.txt
      - echo "greeting is $GREETING"
artifacts:
  files:
    - caller.txt
    - parameter.txt
"""


def test_inline_build_acts_as_the_service_role_exports_uploads_and_emits_events(
    aws: RunningEmulator, codebuild: Any, role: str, bucket: str, codebuild_events: EventProbe
) -> None:
    ssm = aws.client("ssm", account=ACCOUNT)
    ssm.put_parameter(Name="/build/token", Value="s3cr3t-value", Type="SecureString")
    key_arn = aws.client("kms", account=ACCOUNT).create_key()["KeyMetadata"]["Arn"]
    name = inline_project(
        codebuild,
        role,
        CALLER_BUILDSPEC,
        encryptionKey=key_arn,
        environment={
            **environment(("GREETING", "from-project")),
            "environmentVariables": [
                {"name": "GREETING", "value": "from-project"},
                {"name": "FROM_SSM", "value": "/build/token", "type": "PARAMETER_STORE"},
            ],
        },
        artifacts={"type": "S3", "location": bucket, "path": "out", "name": "caller.zip", "packaging": "ZIP"},
    )

    started = codebuild.start_build(
        projectName=name, environmentVariablesOverride=[{"name": "GREETING", "value": "from-override"}]
    )["build"]
    build_uuid = started["id"].split(":", 1)[1]
    assert started["arn"] == f"arn:aws:codebuild:{REGION}:{ACCOUNT}:build/{started['id']}"
    assert (started["buildStatus"], started["buildNumber"], started["currentPhase"]) == (
        "IN_PROGRESS",
        1,
        "QUEUED",
    )
    build = wait_complete(codebuild, started["id"])

    assert build["buildStatus"] == "SUCCEEDED", phases(build)
    assert [p for p, _ in phases(build)] == [
        "SUBMITTED",
        "QUEUED",
        "PROVISIONING",
        "DOWNLOAD_SOURCE",
        "INSTALL",
        "PRE_BUILD",
        "BUILD",
        "POST_BUILD",
        "UPLOAD_ARTIFACTS",
        "FINALIZING",
        "COMPLETED",
    ]
    exported = {v["name"]: v["value"] for v in build["exportedEnvironmentVariables"]}
    # the caller inside the build is the assumed service role, through the front door
    assert (
        exported["CALLER"]
        == f"arn:aws:sts::{ACCOUNT}:assumed-role/build-service-role/AWSCodeBuild-{build_uuid}"
    )
    assert exported["GREETING"] == "from-override"

    s3 = aws.client("s3", account=ACCOUNT)
    stored = s3.get_object(Bucket=bucket, Key="out/caller.zip")
    assert (stored["ServerSideEncryption"], stored["SSEKMSKeyId"]) == ("aws:kms", key_arn)
    body = stored["Body"].read()
    assert build["artifacts"]["location"] == f"arn:aws:s3:::{bucket}/out/caller.zip"
    import hashlib

    assert build["artifacts"]["sha256sum"] == hashlib.sha256(body).hexdigest()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert sorted(archive.namelist()) == ["caller.txt", "parameter.txt"]
        assert archive.read("parameter.txt") == b"s3cr3t-value"

    assert build["logs"]["groupName"] == f"/aws/codebuild/{name}"
    assert build["logs"]["streamName"] == build_uuid
    assert "greeting is from-override" in log_messages(aws, build)

    seen = received_through(
        codebuild_events,
        lambda e: (
            e["detail-type"] == "CodeBuild Build State Change"
            and e["detail"]["build-status"] == "SUCCEEDED"
            and e["detail"]["build-id"] == build["arn"]
        ),
        30.0,
        "the build's SUCCEEDED state change",
    )
    mine = [e for e in seen if e["detail"]["build-id"] == build["arn"]]
    states = [e["detail"]["build-status"] for e in mine if e["detail-type"] == "CodeBuild Build State Change"]
    assert states == ["IN_PROGRESS", "SUCCEEDED"]
    completed = [
        e["detail"]["completed-phase"] for e in mine if e["detail-type"] == "CodeBuild Build Phase Change"
    ]
    assert {"SUBMITTED", "QUEUED", "PROVISIONING", "BUILD", "UPLOAD_ARTIFACTS", "FINALIZING"} <= set(
        completed
    )
    final = next(e for e in mine if e["detail"].get("build-status") == "SUCCEEDED")
    assert (final["source"], final["account"], final["resources"]) == (
        "aws.codebuild",
        ACCOUNT,
        [build["arn"]],
    )
    assert final["detail"]["project-name"] == name
    assert final["detail"]["additional-information"]["build-complete"] is True


def test_failing_command_fails_the_build_and_its_log_is_in_cloudwatch(
    aws: RunningEmulator, codebuild: Any, role: str
) -> None:
    buildspec = (
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo before-the-failure\n"
        "      - exit 3\n      - echo never-printed\n"
    )
    name = inline_project(
        codebuild,
        role,
        buildspec,
        logsConfig={"cloudWatchLogs": {"status": "ENABLED", "groupName": "/team/builds", "streamName": "ci"}},
    )
    build = wait_complete(codebuild, codebuild.start_build(projectName=name)["build"]["id"])
    assert build["buildStatus"] == "FAILED"
    failed = next(p for p in build["phases"] if p["phaseType"] == "BUILD")
    assert failed["phaseStatus"] == "FAILED"
    assert failed["contexts"][0]["statusCode"] == "COMMAND_EXECUTION_ERROR"
    assert "exit 3" in failed["contexts"][0]["message"]
    assert (build["logs"]["groupName"], build["logs"]["streamName"]) == (
        "/team/builds",
        f"ci/{build['id'].split(':')[1]}",
    )
    messages = log_messages(aws, build)
    assert "before-the-failure" in messages
    assert "never-printed" not in messages
    assert any("Command did not exit successfully exit 3 exit status 3" in m for m in messages)


def test_buildspec_error_fails_download_source(codebuild: Any, role: str) -> None:
    name = inline_project(codebuild, role, "version: 0.2\nphases:\n  build:\n    commands: [echo]\n")
    build = wait_complete(
        codebuild, codebuild.start_build(projectName=name, buildspecOverride="phases: [")["build"]["id"]
    )
    assert build["buildStatus"] == "FAILED"
    download = next(p for p in build["phases"] if p["phaseType"] == "DOWNLOAD_SOURCE")
    assert (download["phaseStatus"], download["contexts"][0]["statusCode"]) == ("FAILED", "YAML_FILE_ERROR")
    assert "BUILD" not in [p for p, _ in phases(build)]


def test_missing_s3_source_fails_download_source(codebuild: Any, role: str, bucket: str) -> None:
    name = unique("s3-missing")
    codebuild.create_project(
        name=name,
        serviceRole=role,
        environment=environment(),
        source={"type": "S3", "location": f"{bucket}/nothing-here.zip"},
        artifacts={"type": "NO_ARTIFACTS"},
    )
    build = wait_complete(codebuild, codebuild.start_build(projectName=name)["build"]["id"])
    assert build["buildStatus"] == "FAILED"
    assert phases(build)[-3:] == [
        ("DOWNLOAD_SOURCE", "FAILED"),
        ("FINALIZING", "SUCCEEDED"),
        ("COMPLETED", None),
    ]
    assert "NoSuchKey" in build["phases"][-3]["contexts"][0]["message"]


def test_stop_build_stops_a_running_command(aws: RunningEmulator, codebuild: Any, role: str) -> None:
    name = inline_project(
        codebuild, role, "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 120\n"
    )
    build_id = codebuild.start_build(projectName=name)["build"]["id"]
    wait_for(codebuild, build_id, lambda b: b["currentPhase"] == "BUILD")
    assert codebuild.stop_build(id=build_id)["build"]["id"] == build_id
    build = wait_complete(codebuild, build_id, timeout=30)
    assert build["buildStatus"] == "STOPPED"
    assert ("BUILD", "STOPPED") in phases(build)
    assert codebuild.list_builds_for_project(projectName=name)["ids"] == [build_id]
    assert build_id in codebuild.list_builds()["ids"]
    deleted = codebuild.batch_delete_builds(ids=[build_id])
    assert deleted["buildsDeleted"] == [build_id]
    assert codebuild.batch_get_builds(ids=[build_id])["buildsNotFound"] == [build_id]


def test_timeout_in_minutes_is_scaled_and_times_out_the_build(role: str) -> None:
    # at time scale 0.01 the 5-minute minimum is 3 s: a 10-minute sleep must be cut short
    with running_emulator(planes=[CodeBuild], time_scale=0.01) as fast:
        codebuild = fast.client("codebuild", account=ACCOUNT)
        name = inline_project(
            codebuild,
            role,
            "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 600\n",
            timeoutInMinutes=5,
        )
        build = wait_complete(codebuild, codebuild.start_build(projectName=name)["build"]["id"], timeout=30)
    assert build["buildStatus"] == "TIMED_OUT"
    timed_out = [p for p in build["phases"] if p.get("phaseStatus") == "TIMED_OUT"]
    assert timed_out and timed_out[0]["contexts"][0]["statusCode"] == "BUILD_TIMED_OUT"
    assert (build["endTime"] - build["startTime"]).total_seconds() < 20


def test_docker_needs_privileged_mode(aws: RunningEmulator, codebuild: Any, role: str) -> None:
    name = inline_project(
        codebuild, role, "version: 0.2\nphases:\n  build:\n    commands:\n      - docker version\n"
    )
    build = wait_complete(codebuild, codebuild.start_build(projectName=name)["build"]["id"])
    assert build["buildStatus"] == "FAILED"
    assert any("Cannot connect to the Docker daemon" in m for m in log_messages(aws, build))


# ---- the reference application ----------------------------------------------------------------------------


def zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def test_reference_app_build_pushes_the_image_and_emits_deploy_artifacts(
    aws: RunningEmulator, codebuild: Any, role: str, bucket: str
) -> None:
    """The pipeline's Build action on fixtures/app: CODEPIPELINE project started with S3 overrides."""
    s3, ecr = aws.client("s3", account=ACCOUNT), aws.client("ecr", account=ACCOUNT)
    repository = ecr.create_repository(repositoryName=unique("sample-service"))["repository"]
    key_arn = aws.client("kms", account=ACCOUNT).create_key()["KeyMetadata"]["Arn"]
    s3.put_object(Bucket=bucket, Key="pipeline/SourceArti/abc1234", Body=zip_folder(APP))
    name = unique("sample-service-build")
    codebuild.create_project(
        name=name,
        serviceRole=role,
        encryptionKey=key_arn,
        timeoutInMinutes=20,
        source={"type": "CODEPIPELINE", "buildspec": "buildspec.yml"},
        artifacts={"type": "CODEPIPELINE"},
        environment=environment(
            ("REPOSITORY_URI", repository["repositoryUri"]),
            ("REPOSITORY_NAME", repository["repositoryName"]),
            ("TASK_EXECUTION_ROLE_ARN", f"arn:aws:iam::{ACCOUNT}:role/task-execution"),
            ("TASK_ROLE_ARN", f"arn:aws:iam::{ACCOUNT}:role/task"),
            ("LOG_GROUP", "/ecs/sample-service"),
            privileged=True,
        ),
        logsConfig={"cloudWatchLogs": {"status": "ENABLED", "groupName": f"/codebuild/{name}"}},
    )
    commit = "0123456789abcdef0123456789abcdef01234567"

    begin = time.monotonic()
    started = codebuild.start_build(
        projectName=name,
        sourceVersion=commit,
        sourceTypeOverride="S3",
        sourceLocationOverride=f"{bucket}/pipeline/SourceArti/abc1234",
        artifactsOverride={
            "type": "S3",
            "location": bucket,
            "path": "pipeline/BuildArtif",
            "name": "def5678",
            "packaging": "ZIP",
        },
    )["build"]
    build = wait_complete(codebuild, started["id"], timeout=120)
    elapsed = time.monotonic() - begin
    print(
        f"\nreference app: StartBuild -> {build['buildStatus']} in {elapsed:.2f} s (time scale {TIME_SCALE})"
    )

    assert build["buildStatus"] == "SUCCEEDED", (phases(build), log_messages(aws, build)[-30:])
    assert build["resolvedSourceVersion"] == commit
    exported = {v["name"]: v["value"] for v in build["exportedEnvironmentVariables"]}
    assert exported["IMAGE_TAG"] == f"{commit[:12]}-1"

    stored = s3.get_object(Bucket=bucket, Key="pipeline/BuildArtif/def5678")
    assert stored["SSEKMSKeyId"] == key_arn
    with zipfile.ZipFile(io.BytesIO(stored["Body"].read())) as archive:
        assert sorted(archive.namelist()) == ["appspec.yml", "imageDetail.json", "taskdef.json"]
        image_uri = json.loads(archive.read("imageDetail.json"))["ImageURI"]
        taskdef = archive.read("taskdef.json").decode()
    assert image_uri == exported["IMAGE_URI"]
    assert re.fullmatch(re.escape(repository["repositoryUri"]) + r"@sha256:[0-9a-f]{64}", image_uri)
    assert "${" not in taskdef and "<IMAGE1_NAME>" in taskdef
    assert f"arn:aws:iam::{ACCOUNT}:role/task-execution" in taskdef

    digest = image_uri.split("@", 1)[1]
    found = ecr.describe_images(
        repositoryName=repository["repositoryName"], imageIds=[{"imageDigest": digest}]
    )
    assert exported["IMAGE_TAG"] in found["imageDetails"][0]["imageTags"]
    manifest = ecr.batch_get_image(
        repositoryName=repository["repositoryName"], imageIds=[{"imageDigest": digest}]
    )
    assert manifest["images"][0]["imageId"]["imageDigest"] == digest
