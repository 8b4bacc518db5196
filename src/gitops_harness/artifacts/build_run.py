"""`validate-artifacts --build`: run the buildspec for real on the embedded CodeBuild and validate what it
exported.

A throwaway embedded AWS is started in-process and driven only through its public API (boto3): an ECR
repository named as the build expects, the directory as an S3 source bundle, a privileged CodeBuild project
running the project's buildspec, StartBuild / BatchGetBuilds, the artifact from S3, the log from CloudWatch
Logs. Failed commands become BLD001 findings with their log lines; the exported artifact (and each
secondary artifact) is then validated as a build output. This catches what static analysis cannot: a
command that fails, a file that is listed but never appears, an ImageURI that is not what was pushed.

CodeBuild's own environment variables (CODEBUILD_*, AWS_REGION) are set by the engine; variables the
project's environment would set are taken from the template when it has literal values, else given stand-in
values by their names (a repository URI, a role ARN, ...) that the output lists.
"""

from __future__ import annotations

import io
import json
import posixpath
import re
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import BotoCoreError, ClientError

from gitops_harness.artifacts.buildspec_checks import safe_relative
from gitops_harness.artifacts.buildspec_rules import buildspec_commands
from gitops_harness.artifacts.codebuild_projects import (
    DEFAULT_BUILDSPEC,
    BuildProject,
    build_actions_with_projects,
)
from gitops_harness.artifacts.documents import Document, parse_yaml
from gitops_harness.artifacts.pipeline_crosscheck import deploy_actions
from gitops_harness.artifacts.validate import validate_files
from gitops_harness.errors import InputError, ToolError
from gitops_harness.findings import Finding, Severity
from gitops_harness.waiting import wait_until_e

# Each run gets an account of its own: moto keeps state per process, so a second run in the same process
# (tests, suites) must not meet the first one's role and repository.
_ACCOUNTS = iter(range(400000000001, 400001000000))
REGION = "us-east-1"
PRIMARY = "build output"
MAX_SOURCE_BYTES = 200 * 1024 * 1024  # a source bundle larger than this is not an app directory
MAX_TASKDEF_CHARS = 1024 * 1024
_REFERENCE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_SHELL_NAMES = frozenset({"HOME", "PATH", "PWD", "OLDPWD", "SHELL", "USER", "IFS", "RANDOM", "SECONDS"})
_FAILED_COMMAND = re.compile(
    r"^Error while executing command: (?P<command>.*)\. Reason: (?P<reason>.*)$", re.S
)


@dataclass
class FailedStep:
    phase: str
    command: str | None
    reason: str
    log: list[str]


@dataclass
class BuildRun:
    status: str = "NOT_STARTED"
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    failed: list[FailedStep] = field(default_factory=list)
    stand_ins: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, list[str]] = field(default_factory=dict)  # artifact -> member names

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "seconds": round(self.seconds, 2),
            "stand_ins": self.stand_ins,
            "artifacts": self.artifacts,
            "failed": [vars(f) for f in self.failed],
        }

    def render_text(self) -> str:
        lines = [f"build: {self.status} in {self.seconds:.1f} s on the embedded CodeBuild"]
        if self.stand_ins:
            lines.append(
                "  stand-in values for the project's environment: "
                + ", ".join(f"{k}={v}" for k, v in sorted(self.stand_ins.items()))
            )
        for name, members in self.artifacts.items():
            lines.append(f"  artifact {name}: {', '.join(members) or '(empty)'}")
        for step in self.failed:
            lines.append(f"  failed in {step.phase}: {step.command or step.reason}")
            lines.extend(f"    | {line}" for line in step.log)
        return "\n".join(lines)


@dataclass(frozen=True)
class _Plan:
    buildspec: str  # a path in the source, or the inline text
    inline: bool
    doc: Document
    project: BuildProject | None
    account: str
    repository: str
    variables: dict[str, str]
    stand_ins: dict[str, str]


def run_build(
    directory: str | Path,
    template: dict | None = None,
    *,
    template_name: str = "template",
    env: dict[str, str] | None = None,
    timeout_s: float = 600.0,
) -> BuildRun:
    """Build `directory` on a throwaway embedded AWS and validate the exported artifacts."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{directory}: not a directory; pass the source directory with the buildspec")
    plan = _plan(directory, template, env or {})
    from gitops_harness.emulator.codebuild.plane import CodeBuild
    from gitops_harness.emulator.server import EmbeddedAWS

    run = BuildRun(stand_ins=plan.stand_ins)
    started = time.monotonic()
    try:
        aws = EmbeddedAWS(port=0, planes=[CodeBuild]).start()
    except OSError as exc:
        raise ToolError(f"cannot start the embedded AWS for --build: {exc}") from None
    try:
        _Build(aws.endpoint_url, directory, plan, run, timeout_s).run(template, template_name)
    except (BotoCoreError, ClientError) as exc:
        raise ToolError(f"--build: the embedded AWS refused a step of the build setup: {exc}") from None
    finally:
        aws.stop()
        run.seconds = time.monotonic() - started
    return run


# --- what to build with ---------------------------------------------------------------------------------


def _plan(directory: Path, template: dict | None, overrides: dict[str, str]) -> _Plan:
    project = _deploying_project(template) if template is not None else None
    if project is not None and project.inline_buildspec is not None:
        text, inline, name = project.inline_buildspec, True, f"{project.logical_id} Source.BuildSpec"
    else:
        path = project.buildspec_path if project is not None and project.buildspec_path else DEFAULT_BUILDSPEC
        if not safe_relative(path) or not (directory / path).is_file():
            raise InputError(
                f"{directory / path}: no buildspec to build with; --build needs the source directory"
            )
        text, inline, name = (directory / path).read_text(encoding="utf-8", errors="replace"), False, path
    doc = parse_yaml(str(directory / name) if not inline else name, text)
    literal = {k: v for k, v in (project.variables if project else {}).items() if isinstance(v, str)}
    buildspec_env = _buildspec_variables(doc)
    repository = _repository_name(directory, template, {**buildspec_env, **literal, **overrides})
    needed = (
        (_referenced(doc) | _taskdef_placeholders(directory))
        - set(buildspec_env)
        - set(literal)
        - set(overrides)
    )
    account = f"{next(_ACCOUNTS):012d}"
    registry = f"{account}.dkr.ecr.{REGION}.amazonaws.com"
    stand_ins = {
        n: v for n in sorted(needed) if (v := _stand_in(n, account, registry, repository)) is not None
    }
    for variable, value in (project.variables if project else {}).items():
        if not isinstance(value, str) and variable not in overrides:
            guessed = _from_intrinsic(value, template or {}, account, registry, repository) or _stand_in(
                variable, account, registry, repository
            )
            if guessed is not None:
                stand_ins[variable] = guessed
    return _Plan(
        buildspec=text if inline else name,
        inline=inline,
        doc=doc,
        project=project,
        account=account,
        repository=repository,
        variables={**literal, **overrides},
        stand_ins=stand_ins,
    )


def _deploying_project(template: dict) -> BuildProject | None:
    reads = {a for d in deploy_actions(template) for _, a in d.files_read()}
    pairs = build_actions_with_projects(template)
    chosen = next((p for a, p in pairs if reads & set(a.outputs)), None)
    return chosen


def _buildspec_variables(doc: Document) -> dict[str, str]:
    env = doc.get("env", "variables")
    return {str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else {}


def _taskdef_placeholders(directory: Path) -> set[str]:
    """${NAME} placeholders in the source taskdef: builds fill them from the project's environment."""
    try:
        text = (directory / "taskdef.json").read_text(encoding="utf-8")[:MAX_TASKDEF_CHARS]
    except (OSError, UnicodeDecodeError):
        return set()
    found = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text))
    return {n for n in found if not n.startswith(("AWS_", "CODEBUILD_"))}  # CodeBuild sets these


def _referenced(doc: Document) -> set[str]:
    names: set[str] = set()
    assigned: set[str] = set()
    data = doc.data if isinstance(doc.data, dict) else {}
    for _, text in buildspec_commands(data):
        names.update(m[1] for m in _REFERENCE.finditer(text))
        # for name in A B C; do ... ${!name} ...: A, B and C are read indirectly
        for loop in re.finditer(r"\bfor\s+([A-Za-z_]\w*)\s+in\s+([^;\n]*)", text):
            if "${!" + loop[1] + "}" in text:
                names.update(w for w in loop[2].split() if re.fullmatch(r"[A-Za-z_]\w*", w))
        assigned.update(re.findall(r"(?:^|[;&|\s])(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=", text))
        assigned.update(re.findall(r"\bfor\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\b", text))
    return {
        n
        for n in names - assigned
        if not n.startswith(("CODEBUILD_", "AWS_")) and n not in _SHELL_NAMES and not n.isdigit()
    }


def _repository_name(directory: Path, template: dict | None, known: dict[str, str]) -> str:
    for resource in (template or {}).get("Resources", {}).values():
        if isinstance(resource, dict) and resource.get("Type") == "AWS::ECR::Repository":
            name = (resource.get("Properties") or {}).get("RepositoryName")
            if isinstance(name, str) and name:
                return name
    for key, value in known.items():
        if re.search(r"REPO(SITORY)?_?NAME", key) and re.fullmatch(r"[a-z0-9][a-z0-9._/-]*", value):
            return value
        if re.search(r"REPO(SITORY)?_?URI|IMAGE_REPO", key) and "/" in value:
            return value.split("/", 1)[1].split(":", 1)[0]
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", directory.resolve().name.lower()).strip("-._")
    return cleaned or "app"


def _stand_in(name: str, account: str, registry: str, repository: str) -> str | None:
    upper = name.upper()
    if re.search(
        r"REPO(SITORY)?_?URI|IMAGE_REPO$|ECR_REPO(_URI|_URL)?$|REPOSITORY_URL|IMAGE_URI_BASE", upper
    ):
        return f"{registry}/{repository}"
    if re.search(r"REPO(SITORY)?_?NAME|IMAGE_NAME$|ECR_REPO_NAME", upper):
        return repository
    if re.search(r"REGISTRY|ECR_URI$|ECR_URL$", upper):
        return registry
    if "ACCOUNT" in upper:
        return account
    if "REGION" in upper:
        return REGION
    if upper.endswith(("ROLE_ARN", "_ROLE")):
        return f"arn:aws:iam::{account}:role/{name.lower().removesuffix('_arn').replace('_', '-')}"
    if "LOG_GROUP" in upper:
        return f"/ecs/{repository}"
    return None


def _from_intrinsic(value: Any, template: dict, account: str, registry: str, repository: str) -> str | None:
    """Project variables such as !GetAtt Repository.RepositoryUri or !Ref Repository."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    ((fn, arg),) = value.items()
    resources = template.get("Resources", {})
    if fn == "Fn::GetAtt":
        parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
        target, attribute = (str(parts[0]), str(parts[1])) if len(parts) == 2 else (str(parts[0]), "")
        if resources.get(target, {}).get("Type") == "AWS::ECR::Repository":
            return f"{registry}/{repository}" if attribute == "RepositoryUri" else None
        if resources.get(target, {}).get("Type") == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:aws:iam::{account}:role/{target.lower()}"
        if resources.get(target, {}).get("Type") == "AWS::Logs::LogGroup":
            return f"/ecs/{repository}"
    if fn == "Ref" and isinstance(arg, str):
        kind = resources.get(arg, {}).get("Type")
        if kind == "AWS::ECR::Repository":
            return repository
        if kind == "AWS::Logs::LogGroup":
            return f"/ecs/{repository}"
    return None


# --- the build ------------------------------------------------------------------------------------------


class _Build:
    def __init__(self, endpoint: str, directory: Path, plan: _Plan, run: BuildRun, timeout_s: float) -> None:
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(
            aws_access_key_id=plan.account, aws_secret_access_key="test", region_name=REGION
        )
        config = Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=60)
        self.client = lambda service: session.client(service, endpoint_url=endpoint, config=config)
        self.directory, self.plan, self.run_, self.timeout_s = directory, plan, run, timeout_s
        self.bucket = f"validate-artifacts-{uuid.uuid4().hex[:12]}"

    def run(self, template: dict | None, template_name: str) -> None:
        codebuild, s3 = self.client("codebuild"), self.client("s3")
        role = self._role()
        s3.create_bucket(Bucket=self.bucket)
        s3.put_object(Bucket=self.bucket, Key="source.zip", Body=_zip(self.directory))
        self.client("ecr").create_repository(repositoryName=self.plan.repository)
        variables = {**self.plan.stand_ins, **self.plan.variables}
        project = f"validate-{self.plan.repository.replace('/', '-')}"[:200]
        codebuild.create_project(
            name=project,
            serviceRole=role,
            source={"type": "S3", "location": f"{self.bucket}/source.zip", "buildspec": self.plan.buildspec},
            artifacts={"type": "S3", "location": self.bucket, "name": "output.zip", "packaging": "ZIP"},
            environment={
                "type": "LINUX_CONTAINER",
                "image": (self.plan.project.image if self.plan.project else None)
                or "aws/codebuild/standard:7.0",
                "computeType": "BUILD_GENERAL1_SMALL",
                "privilegedMode": True,  # builds that push images need the Docker daemon
                "environmentVariables": [
                    {"name": k, "value": v, "type": "PLAINTEXT"} for k, v in variables.items()
                ],
            },
            timeoutInMinutes=max(5, int(self.timeout_s // 60) + 1),
        )
        outputs: dict[str, dict[str, bytes]] = {}
        build = self._build(codebuild, project, None)
        if build is not None:
            outputs[PRIMARY] = self._artifact(build)
        secondary = self.plan.doc.get("artifacts", "secondary-artifacts")
        # The embedded CodeBuild uploads the primary artifact only: each secondary one is built as the
        # primary of its own build (same source, same commands).
        for identifier in secondary if isinstance(secondary, dict) and build is not None else {}:
            again = self._build(codebuild, project, str(identifier))
            if again is not None:
                outputs[str(identifier)] = self._artifact(again)
        self.run_.artifacts = {name: sorted(files) for name, files in outputs.items()}
        self._validate(outputs, template, template_name)

    def _role(self) -> str:
        iam = self.client("iam")
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
        arn = iam.create_role(
            RoleName="validate-artifacts-build", AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Resource": "*",
                    "Action": [
                        "s3:*",
                        "logs:*",
                        "ecr:*",
                        "ssm:GetParameter*",
                        "secretsmanager:GetSecretValue",
                        "sts:*",
                    ],
                }
            ],
        }
        iam.put_role_policy(
            RoleName="validate-artifacts-build", PolicyName="build", PolicyDocument=json.dumps(policy)
        )
        return arn

    def _build(self, codebuild: Any, project: str, secondary: str | None) -> dict[str, Any] | None:
        request: dict[str, Any] = {"projectName": project}
        if secondary is not None:
            request["buildspecOverride"] = self._as_primary(secondary)
            request["artifactsOverride"] = {
                "type": "S3",
                "location": self.bucket,
                "name": f"{secondary}.zip",
                "packaging": "ZIP",
            }
        build_id = codebuild.start_build(**request)["build"]["id"]
        build, timeout = wait_until_e(
            lambda: codebuild.batch_get_builds(ids=[build_id])["builds"][0],
            accept=lambda b: bool(b.get("buildComplete")),
            timeout=self.timeout_s,
            describe_expected=f"build {build_id} complete",
            describe_seen=lambda b: f"phase {b.get('currentPhase')}",
            max_interval=0.5,
        )
        if build is None:
            self.run_.status = "TIMED_OUT"
            self._finding(
                "BLD002", "(build)", f"the build did not finish in {self.timeout_s:.0f} s ({timeout})"
            )
            return None
        if secondary is None:
            self.run_.status = build["buildStatus"]
        self._failures(build, secondary)
        return build

    def _as_primary(self, identifier: str) -> str:
        data = dict(self.plan.doc.data)
        section = dict(data["artifacts"]["secondary-artifacts"][identifier])
        data["artifacts"] = section
        return yaml.safe_dump(data, sort_keys=False)

    def _failures(self, build: dict[str, Any], secondary: str | None) -> None:
        log = self._log(build)
        for phase in build.get("phases", []):
            if phase.get("phaseStatus") not in ("FAILED", "FAULT", "TIMED_OUT"):
                continue
            context = (phase.get("contexts") or [{}])[0]
            message = context.get("message", "")
            match = _FAILED_COMMAND.match(message)
            suffix = f" (building secondary artifact {secondary})" if secondary else ""
            if match:
                command = match["command"]
                lines = _command_log(log, command)
                self.run_.failed.append(FailedStep(phase["phaseType"], command, match["reason"], lines))
                tail = " | ".join(lines[-3:])
                self._finding(
                    "BLD001",
                    self._where(command),
                    f"{phase['phaseType']}: `{_one_line(command)}` failed with {match['reason']}{suffix}"
                    + (f"; log: {tail}" if tail else ""),
                )
            else:
                code = context.get("statusCode", phase.get("phaseStatus"))
                self.run_.failed.append(FailedStep(phase["phaseType"], None, f"{code}: {message}", log[-10:]))
                self._finding(
                    "BLD002", "(build)", f"{phase['phaseType']} failed: {code}: {_one_line(message)}{suffix}"
                )

    def _where(self, command: str) -> str:
        data = self.plan.doc.data if isinstance(self.plan.doc.data, dict) else {}
        for path, text in buildspec_commands(data):
            if text == command or text.strip() == command.strip():
                return self.plan.doc.where(path)
        return "(build)"

    def _finding(self, rule: str, where: str, message: str) -> None:
        self.run_.findings.append(Finding(self.plan.doc.name, where, rule, Severity.ERROR, message))

    def _log(self, build: dict[str, Any]) -> list[str]:
        logs = self.client("logs")
        group, stream = build["logs"].get("groupName"), build["logs"].get("streamName")
        if not group or not stream:
            return []
        lines: list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
            if token:
                kwargs["nextToken"] = token
            answer = logs.get_log_events(**kwargs)
            lines += [e["message"].rstrip("\n") for e in answer["events"]]
            if not answer["events"] or answer.get("nextForwardToken") in (None, token):
                return lines
            token = answer["nextForwardToken"]

    def _artifact(self, build: dict[str, Any]) -> dict[str, bytes]:
        location = build.get("artifacts", {}).get("location", "")
        bucket_key = location.removeprefix("arn:aws:s3:::")
        if "/" not in bucket_key:
            return {}
        bucket, key = bucket_key.split("/", 1)
        try:
            body = self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception:  # noqa: BLE001 - a failed build may have uploaded nothing; reported as missing files
            return {}
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            return {name: archive.read(name) for name in archive.namelist() if not name.endswith("/")}

    def _validate(
        self, outputs: dict[str, dict[str, bytes]], template: dict | None, template_name: str
    ) -> None:
        if not any(outputs.values()):
            return  # nothing was uploaded: the build's own failure (BLD001/BLD002) says why
        merged: dict[str, bytes] = {}
        origin: dict[str, str] = {}
        for name, files in outputs.items():
            for member, content in files.items():
                merged.setdefault(member, content)
                origin.setdefault(member, name)
        self.run_.findings.extend(
            validate_files(
                merged,
                template,
                template_name=template_name,
                build_output=True,
                display=lambda member: f"{origin.get(member, PRIMARY)}/{member}",
            )
        )


def _command_log(log: list[str], command: str) -> list[str]:
    """The lines a command printed: from its 'Running command' line to its failure line."""
    start = None
    for i, line in enumerate(log):
        if line.endswith(f"Running command {command}") or f"Running command {command}" in line:
            start = i
    if start is None:
        return []
    out: list[str] = []
    for line in log[start + 1 :]:
        if "Command did not exit successfully" in line:
            break
        out.append(line)
    return out[-20:]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _zip(directory: Path) -> bytes:
    buffer = io.BytesIO()
    total = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(_files(directory)):
            relative = path.relative_to(directory).as_posix()
            total += path.stat().st_size
            if total > MAX_SOURCE_BYTES:
                raise InputError(
                    f"{directory}: more than {MAX_SOURCE_BYTES >> 20} MB of source; pass the app directory"
                )
            archive.write(path, relative)
    return buffer.getvalue()


def _files(directory: Path) -> Iterator[Path]:
    for path in directory.rglob("*"):
        parts = path.relative_to(directory).parts
        if ".git" in parts or "__pycache__" in parts or posixpath.basename(str(path)).startswith(".#"):
            continue
        if path.is_file() and not path.is_symlink():
            yield path
