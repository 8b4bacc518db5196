"""CodeCommit as a served service: real git over the front door with HTTPS Git credentials that IAM (through
the front door) issued, events on moto's EventBridge delivered to SQS, and the AWS CLI walkthrough of
docs/emulator.md."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from event_helpers import EventProbe, received_through

from gitops_harness.emulator.codecommit import aws_clone_url_http, insteadof_config, local_clone_url
from gitops_harness.emulator.codecommit.events import branch_pattern
from gitops_harness.emulator.codecommit.plane import CodeCommit
from gitops_harness.emulator.iam.plane import IamServiceSpecificCredentials
from gitops_harness.emulator.testing import running_emulator

MGMT = "414141414141"
REGION = "us-east-1"
# DESIGN section 1: the source action's rule
MAIN_PATTERN = branch_pattern()


@pytest.fixture(scope="module")
def aws():
    # IAM's plane issues the HTTPS Git credentials CodeCommit's git endpoint checks
    with running_emulator(planes=[CodeCommit, IamServiceSpecificCredentials]) as emulator:
        yield emulator


def probe_on_rule(aws, account: str, pattern: dict[str, Any]) -> EventProbe:
    return EventProbe(aws.client("events", account=account), aws.client("sqs", account=account), pattern)


@dataclass
class Git:
    env: dict[str, str]

    def __call__(
        self, *args: str, cwd: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, env=self.env, capture_output=True, text=True, timeout=60
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def commit(self, work: Path, path: str, content: str) -> str:
        (work / path).write_text(content)
        self("add", path, cwd=work)
        self("commit", "-q", "-m", f"edit {path}", cwd=work)
        return self("rev-parse", "HEAD", cwd=work).stdout.strip()


def isolated_git(root: Path, endpoint: str, username: str, password: str) -> Git:
    """git with its own HOME and config, a credential helper for the HTTPS Git credentials, and the AWS
    clone URLs of REGION mapped to the emulator (as a GitLab push mirror would be configured)."""
    home = root / "home"
    home.mkdir(parents=True)
    helper = root / "credential-helper"
    helper.write_text(
        f"#!/bin/sh\ntest \"$1\" = get && printf 'username=%s\\npassword=%s\\n' '{username}' '{password}'\n"
    )
    helper.chmod(0o700)
    git = Git(
        {
            "PATH": os.environ["PATH"],
            "HOME": str(home),
            "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": "Dev",
            "GIT_AUTHOR_EMAIL": "dev@example.com",
            "GIT_COMMITTER_NAME": "Dev",
            "GIT_COMMITTER_EMAIL": "dev@example.com",
        }
    )
    key, value = insteadof_config(endpoint, REGION)
    git("config", "--global", key, value)
    git("config", "--global", "credential.helper", str(helper))
    git("config", "--global", "init.defaultBranch", "main")
    return git


def git_user(aws, account: str, name: str, repository: str) -> tuple[str, str, str]:
    """An IAM user allowed GitPull/GitPush on the repository, and HTTPS Git credentials issued by IAM
    through the front door: (service user name, password, credential id)."""
    iam = aws.client("iam", account=account)
    iam.create_user(UserName=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["codecommit:GitPull", "codecommit:GitPush"],
                "Resource": f"arn:aws:codecommit:{REGION}:{account}:{repository}",
            }
        ],
    }
    iam.put_user_policy(UserName=name, PolicyName="git", PolicyDocument=json.dumps(policy))
    credential = iam.create_service_specific_credential(
        UserName=name, ServiceName="codecommit.amazonaws.com"
    )["ServiceSpecificCredential"]
    return (
        credential["ServiceUserName"],
        credential["ServicePassword"],
        credential["ServiceSpecificCredentialId"],
    )


# ---- the main flow: credentials from IAM, pushes, API, events ------------------------------------------


@dataclass
class Pushed:
    git: Git
    work: Path
    main_1: str
    feature: str
    main_2: str
    main_bodies: list[dict[str, Any]]
    latency_s: float


@pytest.fixture(scope="module")
def pushed(aws, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pushed]:
    cc = aws.client("codecommit", account=MGMT)
    cc.create_repository(repositoryName="app", repositoryDescription="mirrored from GitLab")
    with probe_on_rule(aws, MGMT, MAIN_PATTERN) as main_queue:
        yield _push(aws, tmp_path_factory, main_queue)


def _push(aws, tmp_path_factory: pytest.TempPathFactory, main_queue: EventProbe) -> Pushed:
    username, password, _ = git_user(aws, MGMT, "gitlab-mirror", "app")
    root = tmp_path_factory.mktemp("pushed")
    git = isolated_git(root, aws.endpoint_url, username, password)
    work = root / "work"
    git("clone", "-q", aws_clone_url_http(REGION, "app"), str(work))
    git("checkout", "-q", "-b", "main", cwd=work)
    main_1 = git.commit(work, "README.md", "one\n")

    started = time.monotonic()
    git("push", "-q", "origin", "main", cwd=work)
    push_done = time.monotonic()
    [created] = received_through(main_queue, lambda body: True, 15.0, "the first push to main")
    latency = time.monotonic() - started
    print(
        f"\npush -> event in SQS: {latency * 1000:.0f} ms "
        f"(git push {1000 * (push_done - started):.0f} ms, then receive {1000 * (time.monotonic() - push_done):.0f} ms)"
    )
    assert (created["detail"]["event"], created["detail"]["commitId"]) == ("referenceCreated", main_1)

    git("checkout", "-q", "-b", "feature", cwd=work)
    feature = git.commit(work, "feature.txt", "f\n")
    git("push", "-q", "origin", "feature", cwd=work)
    git("checkout", "-q", "main", cwd=work)
    main_2 = git.commit(work, "README.md", "two\n")
    git("push", "-q", "origin", "main", cwd=work)
    # EventBridge delivers in order here: whatever the feature push matched would arrive before this
    later = received_through(
        main_queue, lambda body: body["detail"].get("commitId") == main_2, 15.0, f"main at {main_2}"
    )
    return Pushed(git, work, main_1, feature, main_2, [created, *later], latency)


def test_push_to_main_reaches_the_rule_and_other_branches_do_not(pushed: Pushed) -> None:
    summary = [
        (b["detail"]["event"], b["detail"]["referenceName"], b["detail"]["commitId"])
        for b in pushed.main_bodies
    ]
    assert summary == [
        ("referenceCreated", "main", pushed.main_1),
        ("referenceUpdated", "main", pushed.main_2),
    ]
    updated = pushed.main_bodies[1]
    assert updated["detail"]["oldCommitId"] == pushed.main_1
    assert (updated["source"], updated["detail-type"]) == (
        "aws.codecommit",
        "CodeCommit Repository State Change",
    )
    assert (updated["account"], updated["region"]) == (MGMT, REGION)
    assert updated["resources"] == [f"arn:aws:codecommit:{REGION}:{MGMT}:app"]
    assert updated["detail"]["callerUserArn"] == f"arn:aws:iam::{MGMT}:user/gitlab-mirror"
    assert pushed.latency_s < 15


def test_api_sees_what_git_pushed(aws, pushed: Pushed) -> None:
    cc = aws.client("codecommit", account=MGMT)
    meta = cc.get_repository(repositoryName="app")["repositoryMetadata"]
    assert meta["defaultBranch"] == "main"
    assert cc.list_branches(repositoryName="app")["branches"] == ["feature", "main"]
    assert cc.get_branch(repositoryName="app", branchName="main")["branch"]["commitId"] == pushed.main_2
    commit = cc.get_commit(repositoryName="app", commitId=pushed.main_2)["commit"]
    tree = pushed.git("rev-parse", f"{pushed.main_2}^{{tree}}", cwd=pushed.work).stdout.strip()
    assert (commit["treeId"], commit["parents"], commit["author"]["email"]) == (
        tree,
        [pushed.main_1],
        "dev@example.com",
    )
    assert cc.get_file(repositoryName="app", filePath="README.md")["fileContent"] == b"two\n"


def test_create_and_delete_branch_through_the_api_emit_events(aws, pushed: Pushed) -> None:
    pattern = {"source": ["aws.codecommit"], "resources": [f"arn:aws:codecommit:{REGION}:{MGMT}:app"]}
    with probe_on_rule(aws, MGMT, pattern) as everything:
        cc = aws.client("codecommit", account=MGMT)
        cc.create_branch(repositoryName="app", branchName="release", commitId=pushed.main_1)
        cc.delete_branch(repositoryName="app", branchName="release")
        first = everything.wait_for(lambda body: True, 15.0, "a first event")
        bodies = [first, *received_through(everything, lambda body: True, 15.0, "a second event")]
    details = sorted((b["detail"] for b in bodies), key=lambda d: d["event"])
    assert [(d["event"], d["referenceName"]) for d in details] == [
        ("referenceCreated", "release"),
        ("referenceDeleted", "release"),
    ]
    assert details[0]["commitId"] == pushed.main_1 and details[1]["oldCommitId"] == pushed.main_1
    assert details[0]["callerUserArn"] == f"arn:aws:iam::{MGMT}:root"


def test_region_prefixed_url_and_request_log(aws, pushed: Pushed, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    pushed.git("clone", "-q", local_clone_url(aws.endpoint_url, "app", REGION), str(clone))
    assert pushed.git("rev-parse", "HEAD", cwd=clone).stdout.strip() == pushed.main_2
    with urllib.request.urlopen(f"{aws.endpoint_url}/_emulator/requests", timeout=10) as response:
        log = json.load(response)["requests"]
    operations = {
        (r["service"], r["operation"], r["account"], r["provider"]) for r in log if r["status"] == 200
    }
    assert ("codecommit", "git-receive-pack", MGMT, "emulator") in operations
    assert ("codecommit", "git-upload-pack", MGMT, "emulator") in operations
    assert ("events", "PutEvents", MGMT, "moto") in operations
    assert ("iam", "CreateServiceSpecificCredential", MGMT, "emulator") in operations


# ---- IAM service-specific credentials through the front door -------------------------------------------


def test_credential_lifecycle_controls_git_access(aws, tmp_path: Path) -> None:
    account = "424242424242"
    aws.client("codecommit", account=account).create_repository(repositoryName="guarded")
    username, password, credential_id = git_user(aws, account, "dev", "guarded")
    iam = aws.client("iam", account=account)
    assert username == f"dev-at-{account}" and len(password) >= 40
    listed = iam.list_service_specific_credentials(UserName="dev", ServiceName="codecommit.amazonaws.com")
    [metadata] = listed["ServiceSpecificCredentials"]
    assert (metadata["ServiceSpecificCredentialId"], metadata["Status"]) == (credential_id, "Active")
    assert "ServicePassword" not in metadata

    url = local_clone_url(aws.endpoint_url, "guarded")

    def ls_remote(user: str, secret: str) -> subprocess.CompletedProcess[str]:
        git = isolated_git(tmp_path / f"g{time.monotonic_ns()}", aws.endpoint_url, user, secret)
        return git("ls-remote", url, check=False)

    assert ls_remote(username, password).returncode == 0
    iam.update_service_specific_credential(
        UserName="dev", ServiceSpecificCredentialId=credential_id, Status="Inactive"
    )
    denied = ls_remote(username, password)
    assert denied.returncode != 0 and "403" in denied.stderr
    iam.update_service_specific_credential(
        UserName="dev", ServiceSpecificCredentialId=credential_id, Status="Active"
    )
    new_password = iam.reset_service_specific_credential(
        UserName="dev", ServiceSpecificCredentialId=credential_id
    )["ServiceSpecificCredential"]["ServicePassword"]
    assert ls_remote(username, password).returncode != 0
    assert ls_remote(username, new_password).returncode == 0
    iam.delete_service_specific_credential(UserName="dev", ServiceSpecificCredentialId=credential_id)
    assert iam.list_service_specific_credentials(UserName="dev")["ServiceSpecificCredentials"] == []
    assert ls_remote(username, new_password).returncode != 0


@pytest.mark.parametrize(
    ("call", "code", "status"),
    [
        (
            lambda iam: iam.create_service_specific_credential(
                UserName="ghost", ServiceName="codecommit.amazonaws.com"
            ),
            "NoSuchEntity",
            404,
        ),
        (
            lambda iam: iam.create_service_specific_credential(
                UserName="errs", ServiceName="s3.amazonaws.com"
            ),
            "NotSupportedService",
            404,
        ),
        (
            lambda iam: iam.delete_service_specific_credential(
                UserName="errs", ServiceSpecificCredentialId="ACCAXXXXXXXXXXXXXXXXX"
            ),
            "NoSuchEntity",
            404,
        ),
    ],
)
def test_credential_errors(aws, call, code, status) -> None:
    iam = aws.client("iam", account="434343434343")
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_user(UserName="errs")
    with pytest.raises(ClientError) as excinfo:
        call(iam)
    assert (
        excinfo.value.response["Error"]["Code"],
        excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"],
    ) == (
        code,
        status,
    )


def test_third_credential_is_limit_exceeded_and_other_iam_stays_with_moto(aws) -> None:
    iam = aws.client("iam", account="444444444444")
    iam.create_user(UserName="many")
    for _ in range(2):
        iam.create_service_specific_credential(UserName="many", ServiceName="codecommit.amazonaws.com")
    with pytest.raises(iam.exceptions.LimitExceededException):
        iam.create_service_specific_credential(UserName="many", ServiceName="codecommit.amazonaws.com")
    assert iam.get_user(UserName="many")["User"]["UserName"] == "many"  # moto answered


def test_calling_user_is_the_default_user(aws) -> None:
    admin = aws.client("iam", account="454545454545")
    admin.create_user(UserName="self-service")
    key = admin.create_access_key(UserName="self-service")["AccessKey"]
    own = aws.client(
        "iam", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    own.create_service_specific_credential(UserName="self-service", ServiceName="codecommit.amazonaws.com")
    [mine] = own.list_service_specific_credentials()["ServiceSpecificCredentials"]
    assert mine["UserName"] == "self-service"
    with pytest.raises(ClientError) as excinfo:
        admin.list_service_specific_credentials()  # the account root has no such credentials
    assert excinfo.value.response["Error"]["Code"] == "ValidationError"


# ---- the AWS CLI walkthrough (docs/emulator.md) ------------------------------------------------------------


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed")
def test_aws_cli_walkthrough(aws, tmp_path: Path) -> None:
    account = "464646464646"
    env = {**aws.env(account=account), "PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWS_PAGER": ""}

    def cli(*args: str) -> dict[str, Any]:
        proc = subprocess.run(
            ["aws", *args, "--output", "json"], env=env, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, f"aws {' '.join(args)} failed:\n{proc.stderr}"
        return json.loads(proc.stdout) if proc.stdout.strip() else {}

    clone_url = cli("codecommit", "create-repository", "--repository-name", "demo")["repositoryMetadata"][
        "cloneUrlHttp"
    ]
    assert clone_url == f"https://git-codecommit.{REGION}.amazonaws.com/v1/repos/demo"
    cli("iam", "create-user", "--user-name", "alice")
    # DESIGN: the mirror user may only GitPull/GitPush on its repository
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["codecommit:GitPull", "codecommit:GitPush"],
                "Resource": f"arn:aws:codecommit:{REGION}:{account}:demo",
            }
        ],
    }
    cli(
        "iam",
        "put-user-policy",
        "--user-name",
        "alice",
        "--policy-name",
        "git",
        "--policy-document",
        json.dumps(policy),
    )
    credential = cli(
        "iam",
        "create-service-specific-credential",
        "--user-name",
        "alice",
        "--service-name",
        "codecommit.amazonaws.com",
    )["ServiceSpecificCredential"]
    with probe_on_rule(aws, account, MAIN_PATTERN) as events:
        git = isolated_git(
            tmp_path / "git", aws.endpoint_url, credential["ServiceUserName"], credential["ServicePassword"]
        )
        work = tmp_path / "demo"
        git("init", "-q", "-b", "main", str(work))
        sha = git.commit(work, "hello.txt", "hello\n")
        git("push", "-q", clone_url, "main", cwd=work)  # the AWS URL, mapped to the emulator by insteadOf

        assert (
            cli("codecommit", "get-branch", "--repository-name", "demo", "--branch-name", "main")["branch"][
                "commitId"
            ]
            == sha
        )
        [event] = received_through(events, lambda body: True, 15.0, "the push to main")
    assert (event["detail"]["event"], event["detail"]["commitId"]) == ("referenceCreated", sha)
