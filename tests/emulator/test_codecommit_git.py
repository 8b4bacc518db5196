"""CodeCommit's git side: real git (CLI and dulwich) against the smart HTTP endpoint, IAM from moto.

The endpoint runs on a threaded werkzeug server on 127.0.0.1; moto's mock_aws patches botocore for the
whole process, so the server thread sees the same IAM users and EventBridge/SQS state as the test.
"""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import pytest
import requests
from dulwich import porcelain
from dulwich.repo import Repo
from event_helpers import EventProbe, received_through
from moto import mock_aws
from werkzeug.serving import make_server

from gitops_harness.emulator.codecommit import (
    CodeCommitGitApp,
    CredentialStore,
    RefChange,
    RepositoryStore,
    aws_clone_url_http,
    insteadof_config,
    is_git_path,
    local_clone_url,
    reference_events,
    routing_publisher,
)
from gitops_harness.emulator.codecommit.authorization import GIT_PULL, GIT_PUSH, is_allowed
from gitops_harness.emulator.codecommit.credentials import IamError
from gitops_harness.emulator.codecommit.events import branch_pattern
from gitops_harness.emulator.codecommit.models import errors

ACCOUNT_A = "123456789012"  # moto's default account
ACCOUNT_B = "222222222222"
REGION = "us-east-1"
ZERO = "0" * 40

# The DESIGN's source-action rule: only branch main, created or updated.
MAIN_RULE_PATTERN = branch_pattern()


# -- fixtures -----------------------------------------------------------------------------------------


@dataclass
class Emulator:
    base_url: str
    repos: RepositoryStore
    creds: CredentialStore
    published: list[dict[str, Any]]
    main_events: EventProbe  # the DESIGN's source-main rule on account A's default bus
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events_for(self, repo: str) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.published if e["detail"]["repositoryName"] == repo]


@pytest.fixture(scope="module")
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def _iam(account: str) -> Any:
    if account == ACCOUNT_A:
        return boto3.client("iam", region_name=REGION)
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/test-admin", RoleSessionName="tests"
    )["Credentials"]
    return boto3.client(
        "iam",
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


@pytest.fixture(scope="module")
def emulator(aws: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    events_client = boto3.client("events", region_name=REGION)
    main_events = EventProbe(events_client, boto3.client("sqs", region_name=REGION), MAIN_RULE_PATTERN)
    published: list[dict[str, Any]] = []
    to_eventbridge = routing_publisher(lambda account, region: events_client)
    lock = threading.Lock()

    def publish(events: list[dict[str, Any]]) -> None:
        with lock:
            published.extend(events)
        to_eventbridge(events)

    repos = RepositoryStore(tmp_path_factory.mktemp("state"))
    creds = CredentialStore()
    app = CodeCommitGitApp(repos, creds, publish=publish, region=REGION)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with main_events:
            yield Emulator(
                f"http://127.0.0.1:{server.server_port}", repos, creds, published, main_events, lock
            )
    finally:
        server.shutdown()
        thread.join()


@dataclass
class GitUser:
    username: str
    password: str
    arn: str
    credential_id: str
    account: str
    name: str


def make_user(
    emulator: Emulator,
    name: str,
    actions: list[str],
    resource: str,
    account: str = ACCOUNT_A,
    extra_statements: list[dict[str, Any]] | None = None,
) -> GitUser:
    iam = _iam(account)
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    statements: list[dict[str, Any]] = list(extra_statements or [])
    if actions:
        statements.append({"Effect": "Allow", "Action": actions, "Resource": resource})
    if statements:
        iam.put_user_policy(
            UserName=name,
            PolicyName="git",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
    cred = emulator.creds.create(account, name, "codecommit.amazonaws.com")
    return GitUser(
        str(cred["ServiceUserName"]),
        str(cred["ServicePassword"]),
        arn,
        str(cred["ServiceSpecificCredentialId"]),
        account,
        name,
    )


def repo_arn(name: str, account: str = ACCOUNT_A) -> str:
    return f"arn:aws:codecommit:{REGION}:{account}:{name}"


def url_with_userinfo(emulator: Emulator, user: GitUser, repo: str) -> str:
    local = local_clone_url(emulator.base_url, repo)
    scheme, rest = local.split("://", 1)
    return f"{scheme}://{quote(user.username, safe='')}:{quote(user.password, safe='')}@{rest}"


@pytest.fixture
def git_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "Test Committer",
        "GIT_COMMITTER_EMAIL": "committer@example.com",
    }
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    return env


def git(
    env: dict[str, str], *args: str, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def commit_file(env: dict[str, str], work: Path, path: str, content: str, message: str) -> str:
    target = work / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)
    git(env, "add", path, cwd=work)
    git(env, "commit", "-q", "-m", message, cwd=work)
    return git(env, "rev-parse", "HEAD", cwd=work).stdout.strip()


# -- the main scenario: GitLab-like pushes through the AWS URL, mapped to the emulator ----------------


@dataclass
class Scenario:
    repo: str
    user: GitUser
    work: Path
    c1: str
    c2: str
    c3: str
    feature: str
    tag_commit: str
    events: list[dict[str, Any]]
    queue_bodies: list[dict[str, Any]]
    env: dict[str, str]


@pytest.fixture(scope="module")
def scenario(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """Clone empty, push main twice, push a branch and a tag, delete the branch, push main again."""
    repo = "app-source"
    emulator.repos.create(ACCOUNT_A, REGION, repo, "the app")
    user = make_user(emulator, "gitlab-mirror", [GIT_PULL, GIT_PUSH], repo_arn(repo))
    root = tmp_path_factory.mktemp("scenario")
    home = root / "home"
    home.mkdir()
    helper = root / "credential-helper"
    # A credential helper, as GitLab or a developer would use, instead of secrets in the URL.
    helper.write_text(
        f"#!/bin/sh\ntest \"$1\" = get && printf 'username=%s\\npassword=%s\\n' '{user.username}' '{user.password}'\n"
    )
    helper.chmod(0o700)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "Test Committer",
        "GIT_COMMITTER_EMAIL": "committer@example.com",
    }
    key, value = insteadof_config(emulator.base_url, REGION)
    git(env, "config", "--global", key, value)
    git(env, "config", "--global", "credential.helper", str(helper))
    git(env, "config", "--global", "init.defaultBranch", "main")

    work = root / "work"
    cloned = git(env, "clone", aws_clone_url_http(REGION, repo), str(work))
    assert "empty repository" in cloned.stderr
    git(env, "checkout", "-q", "-b", "main", cwd=work)

    (work / "scripts").mkdir()
    (work / "scripts" / "build.sh").write_text("#!/bin/sh\necho build\n")
    (work / "scripts" / "build.sh").chmod(0o755)
    git(env, "add", "scripts/build.sh", cwd=work)
    c1 = commit_file(env, work, "README.md", "hello\n", "first")
    git(env, "push", "-q", "origin", "main", cwd=work)
    c2 = commit_file(env, work, "src/app.py", "print('v2')\n", "second")
    git(env, "push", "-q", "origin", "main", cwd=work)

    git(env, "checkout", "-q", "-b", "feature", cwd=work)
    feature = commit_file(env, work, "feature.txt", "f\n", "feature work")
    git(env, "push", "-q", "origin", "feature", cwd=work)
    git(env, "checkout", "-q", "main", cwd=work)
    git(env, "tag", "-a", "v1", "-m", "release v1", cwd=work)
    tag_commit = c2
    git(env, "push", "-q", "origin", "v1", cwd=work)
    git(env, "push", "-q", "origin", "--delete", "feature", cwd=work)

    c3 = commit_file(env, work, "README.md", "hello again\n", "third")
    git(env, "push", "-q", "origin", "main", cwd=work)

    bodies = received_through(
        emulator.main_events, lambda body: body["detail"].get("commitId") == c3, 15.0, f"main at {c3}"
    )
    return Scenario(repo, user, work, c1, c2, c3, feature, tag_commit, emulator.events_for(repo), bodies, env)


def test_pushes_emit_one_event_per_changed_ref_in_aws_shape(scenario: Scenario) -> None:
    arn = repo_arn(scenario.repo)
    summary = [
        (e["detail"]["event"], e["detail"]["referenceType"], e["detail"]["referenceName"])
        for e in scenario.events
    ]
    assert summary == [
        ("referenceCreated", "branch", "main"),
        ("referenceUpdated", "branch", "main"),
        ("referenceCreated", "branch", "feature"),
        ("referenceCreated", "tag", "v1"),
        ("referenceDeleted", "branch", "feature"),
        ("referenceUpdated", "branch", "main"),
    ]
    for event in scenario.events:
        assert event["source"] == "aws.codecommit"
        assert event["detail-type"] == "CodeCommit Repository State Change"
        assert (event["account"], event["region"], event["resources"]) == (ACCOUNT_A, REGION, [arn])
        assert event["detail"]["callerUserArn"] == scenario.user.arn
        assert event["detail"]["repositoryName"] == scenario.repo
    created, updated, feature, tag, deleted, _ = (e["detail"] for e in scenario.events)
    repository_id = created["repositoryId"]
    assert created == {
        "callerUserArn": scenario.user.arn,
        "repositoryName": scenario.repo,
        "repositoryId": repository_id,
        "referenceType": "branch",
        "referenceName": "main",
        "referenceFullName": "refs/heads/main",
        "event": "referenceCreated",
        "commitId": scenario.c1,
    }
    assert (updated["commitId"], updated["oldCommitId"]) == (scenario.c2, scenario.c1)
    assert feature["commitId"] == scenario.feature
    assert tag["referenceFullName"] == "refs/tags/v1"
    # An annotated tag's ref points at the tag object, which peels to the tagged commit.
    assert tag["commitId"] == git(scenario.env, "rev-parse", "v1", cwd=scenario.work).stdout.strip()
    assert "commitId" not in deleted and deleted["oldCommitId"] == scenario.feature


def test_eventbridge_rule_for_main_delivers_only_main_creates_and_updates(scenario: Scenario) -> None:
    # The queue also gets other tests' pushes to main; this repository's deliveries are the ones to judge.
    delivered = [
        (b["detail"]["event"], b["detail"]["referenceFullName"], b["detail"]["commitId"])
        for b in scenario.queue_bodies
        if b["detail"]["repositoryName"] == scenario.repo
    ]
    assert delivered == [
        ("referenceCreated", "refs/heads/main", scenario.c1),
        ("referenceUpdated", "refs/heads/main", scenario.c2),
        ("referenceUpdated", "refs/heads/main", scenario.c3),
    ]
    assert all(b["source"] == "aws.codecommit" for b in scenario.queue_bodies)


def test_clone_back_gives_the_pushed_commits(scenario: Scenario, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    git(scenario.env, "clone", "-q", aws_clone_url_http(REGION, scenario.repo), str(clone))
    assert git(scenario.env, "rev-parse", "HEAD", cwd=clone).stdout.strip() == scenario.c3
    assert git(scenario.env, "rev-parse", "--abbrev-ref", "HEAD", cwd=clone).stdout.strip() == "main"
    assert git(scenario.env, "rev-parse", "v1^{commit}", cwd=clone).stdout.strip() == scenario.tag_commit
    remote_branches = git(scenario.env, "branch", "-r", cwd=clone).stdout
    assert "origin/feature" not in remote_branches


def test_repository_api_reflects_pushes(emulator: Emulator, scenario: Scenario) -> None:
    repos, repo = emulator.repos, scenario.repo
    meta = repos.get(ACCOUNT_A, REGION, repo)
    assert meta["defaultBranch"] == "main"
    assert meta["Arn"] == repo_arn(repo)
    assert meta["cloneUrlHttp"] == f"https://git-codecommit.{REGION}.amazonaws.com/v1/repos/{repo}"
    assert meta["lastModifiedDate"] > meta["creationDate"]
    assert repos.list_branches(ACCOUNT_A, REGION, repo) == ["main"]
    assert repos.get_branch(ACCOUNT_A, REGION, repo, "main") == {
        "branchName": "main",
        "commitId": scenario.c3,
    }

    commit = repos.get_commit(ACCOUNT_A, REGION, repo, scenario.c3)
    tree = git(scenario.env, "rev-parse", f"{scenario.c3}^{{tree}}", cwd=scenario.work).stdout.strip()
    author_date = git(
        scenario.env, "log", "-1", "--format=%ad", "--date=raw", scenario.c3, cwd=scenario.work
    ).stdout.strip()
    assert commit["commitId"] == scenario.c3
    assert commit["treeId"] == tree
    assert commit["parents"] == [scenario.c2]
    assert commit["message"] == "third\n"
    assert commit["author"] == {"name": "Test Author", "email": "author@example.com", "date": author_date}
    assert commit["committer"]["email"] == "committer@example.com"


def test_archive_holds_the_tree_at_a_commit(emulator: Emulator, scenario: Scenario) -> None:
    data = emulator.repos.get_archive(ACCOUNT_A, REGION, scenario.repo, scenario.c2)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == ["README.md", "scripts/build.sh", "src/app.py"]
        assert archive.read("README.md") == b"hello\n"
        assert archive.read("src/app.py") == b"print('v2')\n"
        mode = archive.getinfo("scripts/build.sh").external_attr >> 16
        assert mode & stat.S_IXUSR, "executable bit lost"
        assert not archive.getinfo("README.md").external_attr >> 16 & stat.S_IXUSR


# -- dulwich's client ----------------------------------------------------------------------------------


def test_dulwich_client_pushes_and_fetches(
    emulator: Emulator, tmp_path: Path, git_env: dict[str, str]
) -> None:
    repo = "dulwich-client"
    emulator.repos.create(ACCOUNT_A, REGION, repo)
    user = make_user(emulator, "dulwich-user", [GIT_PULL, GIT_PUSH], repo_arn(repo))
    url = local_clone_url(emulator.base_url, repo, REGION)  # the region-prefixed form

    local = Repo.init(str(tmp_path / "local"), mkdir=True)
    (tmp_path / "local" / "a.txt").write_text("a\n")
    porcelain.add(local, [str(tmp_path / "local" / "a.txt")])
    sha = porcelain.commit(
        local, message=b"from dulwich", author=b"D <d@example.com>", committer=b"D <d@example.com>"
    )
    errs = io.BytesIO()
    porcelain.push(
        local, url, [b"HEAD:refs/heads/main"], username=user.username, password=user.password, errstream=errs
    )
    local.close()
    assert emulator.repos.get_branch(ACCOUNT_A, REGION, repo, "main")["commitId"] == sha.decode()
    [event] = emulator.events_for(repo)
    assert (event["detail"]["event"], event["detail"]["commitId"]) == ("referenceCreated", sha.decode())

    cloned = porcelain.clone(
        url, str(tmp_path / "dclone"), username=user.username, password=user.password, errstream=io.BytesIO()
    )
    assert cloned.head() == sha
    cloned.close()
    git_clone = tmp_path / "gclone"
    git(git_env, "clone", "-q", url_with_userinfo(emulator, user, repo), str(git_clone))
    assert git(git_env, "rev-parse", "HEAD", cwd=git_clone).stdout.strip() == sha.decode()


def test_large_push_with_chunked_request_body(
    emulator: Emulator, tmp_path: Path, git_env: dict[str, str]
) -> None:
    repo = "chunked"
    emulator.repos.create(ACCOUNT_A, REGION, repo)
    user = make_user(emulator, "chunky", [GIT_PULL, GIT_PUSH], repo_arn(repo))
    work = tmp_path / "w"
    git(git_env, "init", "-q", "-b", "main", str(work))
    payload = os.urandom(300_000).hex()  # incompressible, far above the 1 KiB post buffer below
    sha = commit_file(git_env, work, "blob.txt", payload, "big")
    # A small http.postBuffer makes git send the pack with Transfer-Encoding: chunked.
    git(
        git_env,
        "-c",
        "http.postBuffer=1024",
        "push",
        "-q",
        url_with_userinfo(emulator, user, repo),
        "main",
        cwd=work,
    )
    assert emulator.repos.get_branch(ACCOUNT_A, REGION, repo, "main")["commitId"] == sha
    with zipfile.ZipFile(io.BytesIO(emulator.repos.get_archive(ACCOUNT_A, REGION, repo, sha))) as archive:
        assert archive.read("blob.txt").decode() == payload


# -- authentication and authorization ------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A repository with one commit on main; returns (repo name, main commit id)."""
    repo = "guarded"
    emulator.repos.create(ACCOUNT_A, REGION, repo)
    owner = make_user(emulator, "guarded-owner", [GIT_PULL, GIT_PUSH], repo_arn(repo))
    work = tmp_path_factory.mktemp("guarded")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(work),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_GLOBAL": str(work / "gitconfig"),
        "GIT_AUTHOR_NAME": "o",
        "GIT_AUTHOR_EMAIL": "o@e",
        "GIT_COMMITTER_NAME": "o",
        "GIT_COMMITTER_EMAIL": "o@e",
    }
    git(env, "init", "-q", "-b", "main", str(work / "w"))
    sha = commit_file(env, work / "w", "f.txt", "1\n", "one")
    git(env, "push", "-q", url_with_userinfo(emulator, owner, repo), "main", cwd=work / "w")
    return repo, sha


def info_refs(emulator: Emulator, repo: str, service: str, auth: tuple[str, str] | None) -> requests.Response:
    return requests.get(
        f"{local_clone_url(emulator.base_url, repo)}/info/refs",
        params={"service": service},
        auth=auth,
        timeout=10,
    )


def test_no_credentials_is_401_with_basic_challenge(emulator: Emulator, guarded: tuple[str, str]) -> None:
    response = info_refs(emulator, guarded[0], "git-upload-pack", None)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="AWS CodeCommit"'


def test_wrong_password_unknown_user_and_inactive_credential_are_403(
    emulator: Emulator, guarded: tuple[str, str]
) -> None:
    user = make_user(emulator, "sometimes-valid", [GIT_PULL], repo_arn(guarded[0]))
    assert (
        info_refs(emulator, guarded[0], "git-upload-pack", (user.username, user.password)).status_code == 200
    )
    wrong = info_refs(emulator, guarded[0], "git-upload-pack", (user.username, user.password + "x"))
    assert wrong.status_code == 403 and "unknown or inactive" in wrong.text
    assert (
        info_refs(emulator, guarded[0], "git-upload-pack", (f"nobody-at-{ACCOUNT_A}", "pw")).status_code
        == 403
    )
    emulator.creds.update_status(ACCOUNT_A, user.name, user.credential_id, "Inactive")
    assert (
        info_refs(emulator, guarded[0], "git-upload-pack", (user.username, user.password)).status_code == 403
    )


def test_pull_only_user_can_clone_but_not_push(
    emulator: Emulator, guarded: tuple[str, str], tmp_path: Path, git_env: dict[str, str]
) -> None:
    repo, main = guarded
    reader = make_user(emulator, "reader", [GIT_PULL], repo_arn(repo))
    work = tmp_path / "clone"
    git(git_env, "clone", "-q", url_with_userinfo(emulator, reader, repo), str(work))
    commit_file(git_env, work, "f.txt", "2\n", "two")
    pushed = git(git_env, "push", "origin", "main", cwd=work, check=False)
    assert pushed.returncode != 0 and "403" in pushed.stderr
    denied = info_refs(emulator, repo, "git-receive-pack", (reader.username, reader.password))
    assert denied.status_code == 403
    assert f"not authorized to perform: codecommit:GitPush on resource: {repo_arn(repo)}" in denied.text
    assert emulator.repos.get_branch(ACCOUNT_A, REGION, repo, "main")["commitId"] == main


def test_user_without_git_permissions_cannot_clone(
    emulator: Emulator, guarded: tuple[str, str], tmp_path: Path, git_env: dict[str, str]
) -> None:
    stranger = make_user(emulator, "stranger", [], repo_arn(guarded[0]))
    cloned = git(
        git_env, "clone", url_with_userinfo(emulator, stranger, guarded[0]), str(tmp_path / "c"), check=False
    )
    assert cloned.returncode != 0 and "403" in cloned.stderr


def test_explicit_deny_wins_over_allow(emulator: Emulator, guarded: tuple[str, str]) -> None:
    user = make_user(
        emulator,
        "denied-pusher",
        ["codecommit:*"],
        "*",
        extra_statements=[
            {"Effect": "Deny", "Action": "codecommit:GitPush", "Resource": repo_arn(guarded[0])}
        ],
    )
    assert (
        info_refs(emulator, guarded[0], "git-upload-pack", (user.username, user.password)).status_code == 200
    )
    assert (
        info_refs(emulator, guarded[0], "git-receive-pack", (user.username, user.password)).status_code == 403
    )


def test_group_managed_policy_grants_pull(emulator: Emulator, guarded: tuple[str, str]) -> None:
    iam = _iam(ACCOUNT_A)
    policy_arn = iam.create_policy(
        PolicyName="git-read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "CodeCommit:Git*",
                        "Resource": "arn:aws:codecommit:*:*:guard?d",
                    }
                ],
            }
        ),
    )["Policy"]["Arn"]
    iam.create_group(GroupName="readers")
    iam.attach_group_policy(GroupName="readers", PolicyArn=policy_arn)
    user = make_user(emulator, "group-member", [], "*")
    auth = (user.username, user.password)
    assert info_refs(emulator, guarded[0], "git-upload-pack", auth).status_code == 403
    iam.add_user_to_group(GroupName="readers", UserName="group-member")
    assert info_refs(emulator, guarded[0], "git-upload-pack", auth).status_code == 200


def test_credentials_of_account_b_cannot_push_to_account_a(
    emulator: Emulator, guarded: tuple[str, str], tmp_path: Path, git_env: dict[str, str]
) -> None:
    repo, main = guarded
    outsider = make_user(emulator, "outsider", [GIT_PULL, GIT_PUSH], "*", account=ACCOUNT_B)
    assert outsider.username == f"outsider-at-{ACCOUNT_B}"
    work = tmp_path / "w"
    git(git_env, "init", "-q", "-b", "main", str(work))
    commit_file(git_env, work, "evil.txt", "x\n", "from B")
    pushed = git(git_env, "push", url_with_userinfo(emulator, outsider, repo), "main", cwd=work, check=False)
    assert pushed.returncode != 0
    assert emulator.repos.get_branch(ACCOUNT_A, REGION, repo, "main")["commitId"] == main
    # The credential names account B, so the request goes to B's (absent) repository, never to A's.
    response = info_refs(emulator, repo, "git-receive-pack", (outsider.username, outsider.password))
    assert response.status_code == 404 and ACCOUNT_B in response.text


def test_only_smart_http_paths_are_served(emulator: Emulator, guarded: tuple[str, str]) -> None:
    assert is_git_path("/v1/repos/x/info/refs") and is_git_path("/eu-west-1/v1/repos/x/git-upload-pack")
    assert not is_git_path("/2015-04-13/repositories")
    assert (
        requests.get(f"{local_clone_url(emulator.base_url, guarded[0])}/HEAD", timeout=10).status_code == 404
    )


# -- units: events, policies, repository store, credentials -------------------------------------------


def test_reference_events_skip_refs_that_are_not_branches_or_tags(
    emulator: Emulator, guarded: tuple[str, str]
) -> None:
    record = emulator.repos.record(ACCOUNT_A, REGION, guarded[0])
    changes = [RefChange("refs/notes/commits", None, "a" * 40), RefChange("refs/tags/t", "a" * 40, "b" * 40)]
    [event] = reference_events(record, changes, "arn:aws:iam::123456789012:user/u")
    assert event["detail"]["event"] == "referenceUpdated" and event["detail"]["referenceType"] == "tag"


def test_policy_matching_handles_wildcards_case_and_notresource(aws: None) -> None:
    iam = _iam(ACCOUNT_A)
    iam.create_user(UserName="policy-probe")
    iam.put_user_policy(
        UserName="policy-probe",
        PolicyName="p",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "CODECOMMIT:gitpull",
                        "Resource": "arn:aws:codecommit:us-east-1:123456789012:app.?",
                    },
                    {
                        "Effect": "Allow",
                        "Action": "codecommit:GitPush",
                        "NotResource": "arn:aws:codecommit:*:*:prod-*",
                    },
                ],
            }
        ),
    )
    arn = "arn:aws:codecommit:us-east-1:123456789012:"
    assert is_allowed(ACCOUNT_A, "policy-probe", GIT_PULL, arn + "app.1")
    assert not is_allowed(ACCOUNT_A, "policy-probe", GIT_PULL, arn + "appX1")  # "." is literal
    assert not is_allowed(ACCOUNT_A, "policy-probe", GIT_PULL, arn + "app.12")  # "?" is one character
    assert is_allowed(ACCOUNT_A, "policy-probe", GIT_PUSH, arn + "dev-app")
    assert not is_allowed(ACCOUNT_A, "policy-probe", GIT_PUSH, arn + "prod-app")


def test_repository_store_errors_and_persistence(
    tmp_path: Path, emulator: Emulator, scenario: Scenario
) -> None:
    store = RepositoryStore(tmp_path)
    meta = store.create(ACCOUNT_A, REGION, "r1")
    with pytest.raises(errors.RepositoryNameExistsException):
        store.create(ACCOUNT_A, REGION, "r1")
    with pytest.raises(errors.InvalidRepositoryNameException):
        store.create(ACCOUNT_A, REGION, "bad/name")
    store.create(ACCOUNT_B, REGION, "r1")  # same name, other account: a separate repository
    assert [r["repositoryName"] for r in store.list(ACCOUNT_A, REGION)] == ["r1"]
    with pytest.raises(errors.RepositoryDoesNotExistException):
        store.get(ACCOUNT_A, "eu-west-1", "r1")
    assert RepositoryStore(tmp_path).get(ACCOUNT_A, REGION, "r1")["repositoryId"] == meta["repositoryId"]
    assert store.delete(ACCOUNT_A, REGION, "r1") == meta["repositoryId"]
    assert store.delete(ACCOUNT_A, REGION, "r1") is None
    assert store.list(ACCOUNT_A, REGION) == []

    repos = emulator.repos
    with pytest.raises(errors.CommitIdDoesNotExistException):
        repos.get_commit(ACCOUNT_A, REGION, scenario.repo, "f" * 40)
    with pytest.raises(errors.InvalidCommitIdException):
        repos.get_commit(ACCOUNT_A, REGION, scenario.repo, "main")
    with pytest.raises(errors.BranchNameExistsException):
        repos.create_branch(ACCOUNT_A, REGION, scenario.repo, "main", scenario.c1)
    with pytest.raises(errors.BranchDoesNotExistException):
        repos.get_branch(ACCOUNT_A, REGION, scenario.repo, "feature")
    with pytest.raises(errors.DefaultBranchCannotBeDeletedException):
        repos.delete_branch(ACCOUNT_A, REGION, scenario.repo, "main")
    assert repos.create_branch(ACCOUNT_A, REGION, scenario.repo, "hotfix", scenario.c1) == RefChange(
        "refs/heads/hotfix", None, scenario.c1
    )
    assert repos.delete_branch(ACCOUNT_A, REGION, scenario.repo, "hotfix") == {
        "branchName": "hotfix",
        "commitId": scenario.c1,
    }


def test_credential_store_follows_iam_rules(emulator: Emulator) -> None:
    _iam(ACCOUNT_A).create_user(UserName="limits")
    emulator.creds.create(ACCOUNT_A, "limits", "codecommit.amazonaws.com")
    second = emulator.creds.create(ACCOUNT_A, "limits", "codecommit.amazonaws.com")
    with pytest.raises(IamError) as limit:
        emulator.creds.create(ACCOUNT_A, "limits", "codecommit.amazonaws.com")
    assert limit.value.code == "LimitExceeded"
    with pytest.raises(IamError) as unsupported:
        emulator.creds.create(ACCOUNT_A, "limits", "s3.amazonaws.com")
    assert unsupported.value.code == "NotSupportedService"
    with pytest.raises(IamError) as missing:
        emulator.creds.create(ACCOUNT_A, "ghost", "codecommit.amazonaws.com")
    assert missing.value.code == "NoSuchEntity"
    listed = emulator.creds.list(ACCOUNT_A, "limits")
    assert len(listed) == 2 and all("ServicePassword" not in c for c in listed)
    reset = emulator.creds.reset(ACCOUNT_A, "limits", str(second["ServiceSpecificCredentialId"]))
    assert emulator.creds.authenticate(str(second["ServiceUserName"]), str(second["ServicePassword"])) is None
    assert (
        emulator.creds.authenticate(str(reset["ServiceUserName"]), str(reset["ServicePassword"])) is not None
    )


def test_concurrent_pushes_to_one_repository(emulator: Emulator, tmp_path: Path) -> None:
    repo = "concurrent"
    emulator.repos.create(ACCOUNT_A, REGION, repo)
    user = make_user(emulator, "parallel", [GIT_PULL, GIT_PUSH], repo_arn(repo))
    url = local_clone_url(emulator.base_url, repo)
    shas: dict[str, str] = {}
    errors: list[BaseException] = []

    def push(branch: str) -> None:
        try:
            path = tmp_path / branch
            local = Repo.init(str(path), mkdir=True)
            (path / "f.txt").write_text(branch)
            porcelain.add(local, [str(path / "f.txt")])
            sha = porcelain.commit(local, message=branch.encode(), author=b"P <p@e>", committer=b"P <p@e>")
            porcelain.push(
                local,
                url,
                [f"HEAD:refs/heads/{branch}".encode()],
                username=user.username,
                password=user.password,
                errstream=io.BytesIO(),
            )
            local.close()
            shas[branch] = sha.decode()
        except BaseException as exc:  # reported below with the branch that failed
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(f"b{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert emulator.repos.list_branches(ACCOUNT_A, REGION, repo) == sorted(shas)
    for branch, sha in shas.items():
        assert emulator.repos.get_branch(ACCOUNT_A, REGION, repo, branch)["commitId"] == sha
    created = {e["detail"]["referenceName"]: e["detail"]["commitId"] for e in emulator.events_for(repo)}
    assert created == shas
    assert emulator.repos.get(ACCOUNT_A, REGION, repo)["defaultBranch"] in shas


def test_region_comes_from_path_prefix_or_aws_host_name(emulator: Emulator) -> None:
    repo = "regional"
    emulator.repos.create(ACCOUNT_A, "eu-west-1", repo)
    user = make_user(
        emulator, "regional-user", [GIT_PULL], f"arn:aws:codecommit:eu-west-1:{ACCOUNT_A}:{repo}"
    )
    auth = (user.username, user.password)
    params = {"service": "git-upload-pack"}
    # Without a region the default (us-east-1) applies, where the user's policy grants nothing.
    assert info_refs(emulator, repo, "git-upload-pack", auth).status_code == 403
    prefixed = f"{local_clone_url(emulator.base_url, repo, 'eu-west-1')}/info/refs"
    assert requests.get(prefixed, params=params, auth=auth, timeout=10).status_code == 200
    by_host = requests.get(
        f"{local_clone_url(emulator.base_url, repo)}/info/refs",
        params=params,
        auth=auth,
        headers={"Host": "git-codecommit.eu-west-1.amazonaws.com"},
        timeout=10,
    )
    assert by_host.status_code == 200


def test_routing_publisher_sends_to_the_repository_accounts_bus(emulator: Emulator, tmp_path: Path) -> None:
    def client(account: str, service: str) -> Any:
        if account == ACCOUNT_A:
            return boto3.client(service, region_name=REGION)
        creds = boto3.client("sts", region_name=REGION).assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/events", RoleSessionName="events"
        )["Credentials"]
        return boto3.client(
            service,
            region_name=REGION,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )

    to_b = EventProbe(client(ACCOUNT_B, "events"), client(ACCOUNT_B, "sqs"), MAIN_RULE_PATTERN)
    in_a = EventProbe(
        client(ACCOUNT_A, "events"), client(ACCOUNT_A, "sqs"), {"detail": {"repositoryName": ["b-repo"]}}
    )
    with to_b, in_a:
        store_b = RepositoryStore(tmp_path)
        store_b.create(ACCOUNT_B, REGION, "b-repo")
        record = store_b.record(ACCOUNT_B, REGION, "b-repo")
        events = reference_events(
            record, [RefChange("refs/heads/main", None, "c" * 40)], f"arn:aws:iam::{ACCOUNT_B}:user/m"
        )
        publish = routing_publisher(lambda account, region: client(account, "events"))
        publish(events)

        bodies = [to_b.wait_for(lambda body: True, 15.0, "the event for account B's repository on B's bus")]
        unexpected_in_a = in_a.receive(1)
    # (moto's SQS delivery drops the envelope's "account"; arriving on B's queue is what shows the routing.)
    assert bodies[0]["resources"] == [f"arn:aws:codecommit:{REGION}:{ACCOUNT_B}:b-repo"]
    assert bodies[0]["detail"]["commitId"] == "c" * 40
    # A rule in account A that would match it stays empty: the event went to B's bus only.
    assert unexpected_in_a == []
