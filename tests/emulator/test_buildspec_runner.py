"""The buildspec engine runs real bash in an isolated working directory with CodeBuild's semantics."""

from __future__ import annotations

import json
import os
import threading
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gitops_harness.emulator.codebuild import (
    BuildRequest,
    BuildResult,
    BuildspecError,
    EnvironmentVariable,
    PhaseRecord,
    SecretRef,
    load_buildspec,
    run_build,
)

CALLER_ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "AWS_REGION": "eu-west-1",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "HARNESS_SECRET": "must-not-leak",
}


def build(
    tmp_path: Path, buildspec: str, files: dict[str, str] | None = None, **kwargs: object
) -> BuildResult:
    src = tmp_path / "source"
    src.mkdir(exist_ok=True)
    (src / "buildspec.yml").write_text(buildspec)
    for name, text in (files or {}).items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    request_fields = {k: kwargs.pop(k) for k in ("environment_variables", "buildspec") if k in kwargs}
    request = BuildRequest(
        source_dir=src,
        build_id="app-build:1234",
        build_number=7,
        build_arn="arn:aws:codebuild:eu-west-1:111111111111:build/app-build:1234",
        initiator="codepipeline/app",
        source_version="arn:aws:s3:::bucket/src.zip",
        resolved_source_version="0123456789abcdef0123456789abcdef01234567",
        **request_fields,
    )
    kwargs.setdefault("timeout_s", 30)
    return run_build(request, workdir=tmp_path / "work", env=CALLER_ENV, **kwargs)  # type: ignore[arg-type]


def statuses(result: BuildResult) -> list[tuple[str, str | None]]:
    return [(p.phase_type, p.phase_status) for p in result.phases]


def output(result: BuildResult) -> list[str]:
    """Command output only, without the runner's [Container] lines."""
    return [line for line in result.logs if not line.startswith("[Container]")]


SAMPLE_APP = """\
version: 0.2
env:
  variables:
    REPOSITORY_URI: 111111111111.dkr.ecr.eu-west-1.amazonaws.com/app
  exported-variables:
    - IMAGE_URI
phases:
  pre_build:
    commands:
      - echo Logging in to Amazon ECR in $AWS_DEFAULT_REGION
      - IMAGE_TAG=$(echo $CODEBUILD_RESOLVED_SOURCE_VERSION | cut -c 1-7)
  build:
    commands:
      - mkdir -p out/deploy
      - printf 'FROM scratch\\n' > out/Dockerfile.built
      - cp taskdef.json appspec.yml out/deploy/
      - export IMAGE_URI=$REPOSITORY_URI@sha256:$(printf '%s' "$IMAGE_TAG" | sha256sum | cut -d' ' -f1)
  post_build:
    commands:
      - printf '{"ImageURI":"%s"}' "$IMAGE_URI" > out/deploy/imageDetail.json
artifacts:
  files:
    - out/deploy/*
  discard-paths: yes
"""


def test_sample_app_buildspec_succeeds_with_flattened_artifacts(tmp_path: Path) -> None:
    result = build(
        tmp_path, SAMPLE_APP, {"taskdef.json": '{"family": "app"}', "appspec.yml": "version: 0.0\n"}
    )

    assert result.status == "SUCCEEDED", result.logs
    assert statuses(result) == [
        ("DOWNLOAD_SOURCE", "SUCCEEDED"),
        ("INSTALL", "SUCCEEDED"),
        ("PRE_BUILD", "SUCCEEDED"),
        ("BUILD", "SUCCEEDED"),
        ("POST_BUILD", "SUCCEEDED"),
        ("UPLOAD_ARTIFACTS", "SUCCEEDED"),
        ("FINALIZING", "SUCCEEDED"),
        ("COMPLETED", None),
    ]
    assert "Logging in to Amazon ECR in eu-west-1" in output(result)
    artifact = result.artifact
    assert artifact is not None
    assert sorted(p.name for p in artifact.directory.iterdir()) == [
        "appspec.yml",
        "imageDetail.json",
        "taskdef.json",
    ]
    with zipfile.ZipFile(artifact.zip_path) as archive:
        assert sorted(archive.namelist()) == ["appspec.yml", "imageDetail.json", "taskdef.json"]
        detail = json.loads(archive.read("imageDetail.json"))
    expected_digest = __import__("hashlib").sha256(b"0123456").hexdigest()
    assert detail == {
        "ImageURI": f"111111111111.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:{expected_digest}"
    }
    assert result.exported_variables == {"IMAGE_URI": detail["ImageURI"]}
    assert result.exported_variables_api() == [{"name": "IMAGE_URI", "value": detail["ImageURI"]}]


def test_phases_have_batch_get_builds_shape_and_use_the_injected_clock(tmp_path: Path) -> None:
    ticks = iter(datetime(2026, 11, 29, 17, 0, tzinfo=UTC) + timedelta(seconds=i) for i in range(10_000))
    seen: list[PhaseRecord] = []
    result = build(
        tmp_path,
        "version: 0.2\nphases:\n  build:\n    commands:\n      - 'true'\n",
        clock=lambda: next(ticks),
        on_phase=seen.append,
    )

    build_phase = result.phase("BUILD")
    assert build_phase is not None
    api = build_phase.to_api()
    assert set(api) == {"phaseType", "phaseStatus", "startTime", "endTime", "durationInSeconds", "contexts"}
    assert api["startTime"].year == 2026 and api["durationInSeconds"] >= 1
    assert api["contexts"] == [{"statusCode": "", "message": ""}]
    assert set(result.phase("COMPLETED").to_api()) == {"phaseType", "startTime"}  # type: ignore[union-attr]
    # on_phase reports each phase when it starts (no status yet) and when it ends.
    builds = [r for r in seen if r.phase_type == "BUILD"]
    assert [r.phase_status for r in builds] == [None, "SUCCEEDED"]
    assert any(line.startswith("[Container] 2026/11/29 17:00:") for line in result.logs)


def test_cd_and_variables_persist_across_commands_and_phases(tmp_path: Path) -> None:
    spec = """\
version: 0.2
phases:
  install:
    commands:
      - mkdir -p deep/er && cd deep
      - PLAIN=not-exported
      - export EXPORTED=yes
  pre_build:
    commands:
      - cd er
  build:
    commands:
      - echo "cwd=${PWD#$CODEBUILD_SRC_DIR}"
      - echo "plain=$PLAIN exported=$EXPORTED child=$(bash -c 'echo $EXPORTED')"
      - unset PLAIN
  post_build:
    commands:
      - echo "after-unset=${PLAIN-gone}"
"""
    result = build(tmp_path, spec)
    assert result.status == "SUCCEEDED", result.logs
    assert output(result) == ["cwd=/deep/er", "plain=not-exported exported=yes child=yes", "after-unset=gone"]


def test_version_0_1_runs_each_command_in_a_fresh_shell(tmp_path: Path) -> None:
    spec = 'version: 0.1\nphases:\n  build:\n    commands:\n      - export A=1; mkdir d; cd d\n      - echo "a=${A-unset} $(basename $PWD)"\n'
    result = build(tmp_path, spec)
    assert output(result) == ["a=unset src"]


def test_sections_the_engine_does_not_run_are_named_in_the_log(tmp_path: Path) -> None:
    spec = (
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo ran\n"
        "reports:\n  unit:\n    files: ['*.xml']\ncache:\n  paths: ['/root/.cache/**/*']\n"
    )
    result = build(tmp_path, spec)
    assert result.status == "SUCCEEDED" and output(result) == ["ran"]
    skipped = [line for line in result.logs if "Skipping buildspec section" in line]
    assert [line.split("'")[1] for line in skipped] == ["reports", "cache"]


def test_build_environment_is_clean_and_carries_codebuild_variables(tmp_path: Path) -> None:
    spec = """\
version: 0.2
env:
  variables:
    FROM_SPEC: spec
    OVERRIDDEN: spec
phases:
  build:
    commands:
      - env | sort > $CODEBUILD_SRC_DIR/env.txt
"""
    result = build(tmp_path, spec, environment_variables=[EnvironmentVariable("OVERRIDDEN", "start-build")])
    assert result.status == "SUCCEEDED", result.logs
    env = dict(line.split("=", 1) for line in (tmp_path / "work/src/env.txt").read_text().splitlines())
    work = tmp_path / "work"
    assert env["CODEBUILD_SRC_DIR"] == str(work / "src")
    assert env["HOME"] == str(work / "home")
    assert env["CODEBUILD_BUILD_ID"] == "app-build:1234"
    assert env["CODEBUILD_BUILD_ARN"].endswith(":build/app-build:1234")
    assert env["CODEBUILD_BUILD_NUMBER"] == "7"
    assert env["CODEBUILD_INITIATOR"] == "codepipeline/app"
    assert env["CODEBUILD_SOURCE_VERSION"] == "arn:aws:s3:::bucket/src.zip"
    assert env["CODEBUILD_RESOLVED_SOURCE_VERSION"].startswith("0123456")
    assert env["CODEBUILD_BUILD_SUCCEEDING"] == "1"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["FROM_SPEC"] == "spec" and env["OVERRIDDEN"] == "start-build"
    assert "HARNESS_SECRET" not in env  # nothing from the harness process but PATH and AWS_*


def test_failing_build_command_fails_build_runs_post_build_finally_and_upload(tmp_path: Path) -> None:
    spec = """\
version: 0.2
phases:
  build:
    commands:
      - echo building > out.txt
      - exit 3
      - echo never
    finally:
      - echo build-finally
  post_build:
    commands:
      - echo "post_build succeeding=$CODEBUILD_BUILD_SUCCEEDING"
artifacts:
  files: [out.txt]
"""
    result = build(tmp_path, spec)
    assert result.status == "FAILED"
    assert statuses(result)[3:6] == [
        ("BUILD", "FAILED"),
        ("POST_BUILD", "SUCCEEDED"),
        ("UPLOAD_ARTIFACTS", "SUCCEEDED"),
    ]
    ctx = result.phase("BUILD").contexts[0]  # type: ignore[union-attr]
    assert ctx.status_code == "COMMAND_EXECUTION_ERROR"
    assert ctx.message == "Error while executing command: exit 3. Reason: exit status 3"
    assert output(result) == ["build-finally", "post_build succeeding=0"]
    assert result.artifact is not None and result.artifact.files == ("out.txt",)


@pytest.mark.parametrize("phase", ["install", "pre_build"])
def test_failure_before_build_skips_to_finalizing(tmp_path: Path, phase: str) -> None:
    spec = f"""\
version: 0.2
phases:
  {phase}:
    commands:
      - 'false'
    finally:
      - echo {phase}-finally
  build:
    commands:
      - echo build-ran
  post_build:
    commands:
      - echo post-ran
artifacts:
  files: ['**/*']
"""
    result = build(tmp_path, spec)
    assert result.status == "FAILED"
    assert result.phases[-3].phase_type == phase.upper() and result.phases[-3].phase_status == "FAILED"
    assert [p.phase_type for p in result.phases[-2:]] == ["FINALIZING", "COMPLETED"]
    assert result.phase("BUILD") is None and result.phase("UPLOAD_ARTIFACTS") is None
    assert output(result) == [f"{phase}-finally"]


def test_failing_finally_fails_the_phase(tmp_path: Path) -> None:
    spec = "version: 0.2\nphases:\n  build:\n    commands:\n      - 'true'\n    finally:\n      - exit 4\n"
    result = build(tmp_path, spec)
    assert result.status == "FAILED"
    assert result.phase("BUILD").contexts[0].message.endswith("exit status 4")  # type: ignore[union-attr]


def test_on_failure_continue_moves_to_next_phase_but_build_fails(tmp_path: Path) -> None:
    spec = """\
version: 0.2
phases:
  pre_build:
    on-failure: CONTINUE
    commands:
      - exit 1
  build:
    commands:
      - echo "build ran succeeding=$CODEBUILD_BUILD_SUCCEEDING"
"""
    result = build(tmp_path, spec)
    assert result.status == "FAILED"
    assert result.phase("PRE_BUILD").phase_status == "FAILED"  # type: ignore[union-attr]
    assert result.phase("BUILD").phase_status == "SUCCEEDED"  # type: ignore[union-attr]
    assert output(result) == ["build ran succeeding=0"]


def test_exported_variables_capture_final_values_and_skip_secrets(tmp_path: Path) -> None:
    spec = """\
version: 0.2
env:
  parameter-store:
    DB_PASSWORD: /app/db/password
  exported-variables: [STAGE, NEVER_SET, DB_PASSWORD, AWS_REGION]
phases:
  install:
    commands:
      - export STAGE=install
  post_build:
    commands:
      - STAGE="post build"
"""
    result = build(tmp_path, spec, resolve_parameter=lambda name: "hunter2")
    assert result.status == "SUCCEEDED", result.logs
    assert result.exported_variables == {"STAGE": "post build", "NEVER_SET": ""}


def test_parameter_store_and_secrets_manager_resolve_through_callables(tmp_path: Path) -> None:
    spec = """\
version: 0.2
env:
  parameter-store:
    FROM_SSM: /app/config/url
  secrets-manager:
    DB_USER: arn:aws:secretsmanager:eu-west-1:111111111111:secret:db-AbCdEf:username
    WHOLE: plain-secret
phases:
  build:
    commands:
      - echo "$FROM_SSM $DB_USER $WHOLE $FROM_OVERRIDE"
"""
    asked: list[SecretRef] = []

    def secret(ref: SecretRef) -> str:
        asked.append(ref)
        return json.dumps({"username": "app"}) if ref.json_key else "s3cr3t"

    result = build(
        tmp_path,
        spec,
        resolve_parameter=lambda name: f"ssm:{name}",
        resolve_secret=secret,
        environment_variables=[EnvironmentVariable("FROM_OVERRIDE", "/p/x", "PARAMETER_STORE")],
    )
    assert result.status == "SUCCEEDED", result.logs
    assert output(result) == ["ssm:/app/config/url app s3cr3t ssm:/p/x"]
    assert asked[0] == SecretRef("arn:aws:secretsmanager:eu-west-1:111111111111:secret:db-AbCdEf", "username")


@pytest.mark.parametrize(
    ("env_block", "status_code", "needle"),
    [
        ("parameter-store:\n    P: /missing", "Decrypted Variables Error", "ParameterNotFound: /missing"),
        ("secrets-manager:\n    S: gone", "Secrets Manager Error", "ResourceNotFoundException: gone"),
        ("secrets-manager:\n    S: exists:nokey", "Secrets Manager Error", "json-key nokey not found"),
    ],
)
def test_secret_resolution_failure_fails_download_source(
    tmp_path: Path, env_block: str, status_code: str, needle: str
) -> None:
    def parameter(name: str) -> str:
        raise LookupError(f"ParameterNotFound: {name}")

    def secret(ref: SecretRef) -> str:
        if ref.secret_id == "exists":
            return '{"other": 1}'
        raise LookupError(f"ResourceNotFoundException: {ref.secret_id}")

    spec = f"version: 0.2\nenv:\n  {env_block}\nphases:\n  build:\n    commands:\n      - echo ran\n"
    result = build(tmp_path, spec, resolve_parameter=parameter, resolve_secret=secret)
    assert result.status == "FAILED"
    assert statuses(result) == [
        ("DOWNLOAD_SOURCE", "FAILED"),
        ("FINALIZING", "SUCCEEDED"),
        ("COMPLETED", None),
    ]
    ctx = result.phases[0].contexts[0]
    assert ctx.status_code == status_code and needle in ctx.message
    assert output(result) == []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_timeout_kills_the_process_group_and_times_out(tmp_path: Path) -> None:
    spec = """\
version: 0.2
phases:
  install:
    commands:
      - (sleep 60 & echo $! > $CODEBUILD_SRC_DIR/daemon.pid)
  build:
    commands:
      - echo $$ > $CODEBUILD_SRC_DIR/shell.pid; sleep 30
  post_build:
    commands:
      - echo post-ran
"""
    started = time.monotonic()
    result = build(tmp_path, spec, timeout_s=1.0)
    elapsed = time.monotonic() - started
    assert elapsed < 10, f"build took {elapsed:.1f}s to time out"
    assert result.status == "TIMED_OUT"
    assert result.phase("BUILD").phase_status == "TIMED_OUT"  # type: ignore[union-attr]
    assert result.phase("BUILD").contexts[0].status_code == "BUILD_TIMED_OUT"  # type: ignore[union-attr]
    assert result.phase("POST_BUILD") is None and [p.phase_type for p in result.phases[-2:]] == [
        "FINALIZING",
        "COMPLETED",
    ]
    for pid_file in ("daemon.pid", "shell.pid"):
        pid = int((tmp_path / "work/src" / pid_file).read_text())
        assert not _alive(pid), f"{pid_file} process {pid} survived the timeout"
    assert "post-ran" not in output(result)


def test_cancel_stops_the_build(tmp_path: Path) -> None:
    cancel = threading.Event()

    def on_log(line: str) -> None:
        if line == "waiting":
            cancel.set()

    spec = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo waiting; sleep 30\n"
    started = time.monotonic()
    result = build(tmp_path, spec, cancel=cancel, on_log=on_log)
    assert time.monotonic() - started < 10
    assert result.status == "STOPPED"
    assert result.phase("BUILD").phase_status == "STOPPED"  # type: ignore[union-attr]


BROKEN_SPECS = {
    "bad yaml": ("version: 0.2\nphases:\n  build:\n    commands:\n    - echo: [\n", None),
    "empty file": ("", None),
    "missing version": ("phases:\n  build:\n    commands: [echo]\n", "missing version"),
    "unknown version": (
        "version: 0.9\nphases:\n  build:\n    commands: [echo]\n",
        "invalid buildspec version",
    ),
    "phases not a mapping": ("version: 0.2\nphases:\n  - build\n", "Expected phases to be of map type"),
    "missing phases": ("version: 0.2\n", "missing phases"),
    "commands not a list": (
        "version: 0.2\nphases:\n  build:\n    commands: echo hi\n",
        "Expected Commands to be of list type",
    ),
    "command not a string": (
        "version: 0.2\nphases:\n  build:\n    commands:\n      - tag:\n",
        "Expected Commands[0] to be of string type",
    ),
    "unknown phase": ("version: 0.2\nphases:\n  deploy:\n    commands: [echo]\n", "unknown phase 'deploy'"),
    "bad on-failure": (
        "version: 0.2\nphases:\n  build:\n    on-failure: RETRY\n    commands: [echo]\n",
        "invalid on-failure",
    ),
    "windows shell": (
        "version: 0.2\nenv:\n  shell: powershell.exe\nphases:\n  build:\n    commands: [echo]\n",
        "Windows",
    ),
    "artifacts without files": (
        "version: 0.2\nphases:\n  build:\n    commands: [echo]\nartifacts:\n  name: x\n",
        "needs a 'files' list",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_SPECS))
def test_malformed_buildspec_fails_download_source_with_yaml_file_error(tmp_path: Path, case: str) -> None:
    text, needle = BROKEN_SPECS[case]
    result = build(tmp_path, text)
    assert result.status == "FAILED"
    assert statuses(result) == [
        ("DOWNLOAD_SOURCE", "FAILED"),
        ("FINALIZING", "SUCCEEDED"),
        ("COMPLETED", None),
    ]
    ctx = result.phases[0].contexts[0]
    assert ctx.status_code == "YAML_FILE_ERROR"
    assert needle is None or needle in ctx.message
    assert "[Container]" in result.logs[-1] and "YAML_FILE_ERROR" in result.logs[-1]


def test_yaml_errors_name_the_line() -> None:
    with pytest.raises(BuildspecError) as info:
        load_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - ok\n      - key: value\n")
    assert info.value.line == 6
    assert str(info.value) == (
        "YAML_FILE_ERROR: Expected Commands[1] to be of string type: found subkeys instead at line 6"
    )


def test_missing_buildspec_file_and_inline_override(tmp_path: Path) -> None:
    src = tmp_path / "source"
    src.mkdir()
    missing = run_build(BuildRequest(src, "p:1", "arn:p"), workdir=tmp_path / "w1", env=CALLER_ENV)
    assert (
        missing.phases[0].contexts[0].message
        == f"stat {tmp_path / 'w1/src/buildspec.yml'}: no such file or directory"
    )
    inline = run_build(
        BuildRequest(
            src, "p:2", "arn:p", buildspec="version: 0.2\nphases:\n  build:\n    commands: [echo inline]\n"
        ),
        workdir=tmp_path / "w2",
        env=CALLER_ENV,
    )
    assert inline.status == "SUCCEEDED" and output(inline) == ["inline"]
    (src / "ci").mkdir()
    (src / "ci/spec.yml").write_text("version: 0.2\nphases:\n  build:\n    commands: [echo from-path]\n")
    by_path = run_build(
        BuildRequest(src, "p:3", "arn:p", buildspec="ci/spec.yml"), workdir=tmp_path / "w3", env=CALLER_ENV
    )
    assert output(by_path) == ["from-path"]


def test_no_matching_artifact_fails_upload_artifacts(tmp_path: Path) -> None:
    spec = "version: 0.2\nphases:\n  build:\n    commands: ['true']\nartifacts:\n  files: [missing/*.json]\n"
    result = build(tmp_path, spec)
    assert result.status == "FAILED"
    upload = result.phase("UPLOAD_ARTIFACTS")
    assert upload is not None and upload.phase_status == "FAILED"
    assert upload.contexts[0].to_api() == {
        "statusCode": "CLIENT_ERROR",
        "message": "no matching artifact paths found",
    }
    assert any("Skipping invalid file path missing/*.json" in line for line in result.logs)


def test_artifact_selection_base_directory_excludes_secondary_and_name(tmp_path: Path) -> None:
    files = {
        "my-build1/my-file1.txt": "1",
        "my-build2/my-file2.txt": "2",
        "my-build2/my-subdirectory/my-file3.txt": "3",
        "my-build2/my-subdirectory/skip.log": "x",
        "reports/a/b/junit.xml": "<x/>",
        "reports/top.xml": "<y/>",
    }
    spec = """\
version: 0.2
phases:
  build:
    commands: ['true']
artifacts:
  files: ['**/*']
  base-directory: 'my-build*'
  discard-paths: yes
  exclude-paths: ['**/*.log']
  name: bundle-$CODEBUILD_BUILD_NUMBER
  secondary-artifacts:
    nested:
      files: ['*/my-file3.txt']
      base-directory: my-build2
    reports:
      files: [reports]
"""
    result = build(tmp_path, spec, files)
    assert result.status == "SUCCEEDED", result.logs
    assert result.artifact is not None
    assert result.artifact.files == ("my-file1.txt", "my-file2.txt", "my-file3.txt")
    assert result.artifact.name == "bundle-7"
    assert result.secondary_artifacts["nested"].files == ("my-subdirectory/my-file3.txt",)
    assert result.secondary_artifacts["reports"].files == ("reports/a/b/junit.xml", "reports/top.xml")


def test_log_lines_stream_in_order_with_stderr_and_unterminated_lines(tmp_path: Path) -> None:
    streamed: list[str] = []
    spec = """\
version: 0.2
phases:
  build:
    commands:
      - for i in 1 2 3; do echo out-$i; echo err-$i >&2; done
      - printf 'no-newline'
      - echo next
"""
    result = build(tmp_path, spec, on_log=streamed.append)
    assert streamed == result.logs
    assert output(result) == ["out-1", "err-1", "out-2", "err-2", "out-3", "err-3", "no-newline", "next"]
    running = [i for i, line in enumerate(result.logs) if "Running command" in line]
    assert result.logs[running[1] + 1] == "no-newline" and result.logs[running[2] + 1] == "next"
