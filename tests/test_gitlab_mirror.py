"""LocalMirrorProject: a GitLab-like project whose push mirror goes to CodeCommit's git smart HTTP.

The git endpoint (emulator.codecommit.git_http) runs on its own werkzeug server here; IAM users live in
the embedded AWS (moto, same process), and pushes publish their CodeCommit events to the account's
default bus through the front door, where an EventProbe sees them.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from gitops_harness.emulator.codecommit import (
    CodeCommitGitApp,
    CredentialStore,
    RepositoryStore,
    aws_clone_url_http,
    insteadof_config,
    routing_publisher,
)
from gitops_harness.emulator.codecommit.authorization import GIT_PULL, GIT_PUSH
from gitops_harness.emulator.testing import RunningEmulator, running_emulator
from gitops_harness.errors import InputError
from gitops_harness.gitlab import (
    LocalMirrorProject,
    MirrorCredentials,
    MirrorError,
    files_from_dir,
)
from gitops_harness.probes import EventProbe

ACCOUNT = "555566667777"  # this module's management account
REGION = "us-east-1"


@dataclass
class GitServer:
    aws: RunningEmulator
    base_url: str
    repos: RepositoryStore
    creds: CredentialStore

    def remote_refs(self, repo: str) -> dict[str, str]:
        with self.repos.open_git(ACCOUNT, REGION, repo) as git:
            return {k.decode(): v.decode() for k, v in git.get_refs().items() if k != b"HEAD"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    with running_emulator() as aws:
        repos = RepositoryStore(tmp_path_factory.mktemp("codecommit"))
        creds = CredentialStore()
        publish = routing_publisher(lambda account, region: aws.client("events", account, region))
        app = CodeCommitGitApp(repos, creds, publish=publish, region=REGION)
        http = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=http.serve_forever, daemon=True)
        thread.start()
        try:
            yield GitServer(aws, f"http://127.0.0.1:{http.server_port}", repos, creds)
        finally:
            http.shutdown()
            thread.join()


@dataclass
class Mirror:
    repo: str
    credentials: MirrorCredentials
    make: Callable[..., LocalMirrorProject]


@pytest.fixture
def mirror(server: GitServer, tmp_path: Path) -> Mirror:
    """A fresh CodeCommit repository, a mirror user allowed GitPull/GitPush on it only, and a factory
    for GitLab projects mirroring to it (the reference template's shape)."""
    repo = f"app-{uuid.uuid4().hex[:8]}"
    server.repos.create(ACCOUNT, REGION, repo)
    user = f"{repo}-gitlab-mirror"
    iam = server.aws.client("iam", ACCOUNT)
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="mirror",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": [GIT_PULL, GIT_PUSH],
                        "Resource": f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{repo}",
                    }
                ],
            }
        ),
    )
    cred = server.creds.create(ACCOUNT, user, "codecommit.amazonaws.com")
    credentials = MirrorCredentials(str(cred["ServiceUserName"]), str(cred["ServicePassword"]))
    counter = iter(range(100))

    def make(**options: Any) -> LocalMirrorProject:
        options.setdefault("url_rewrites", [insteadof_config(server.base_url, REGION)])
        return LocalMirrorProject(
            tmp_path / f"gitlab-{next(counter)}",
            aws_clone_url_http(REGION, repo),
            options.pop("credentials", credentials),
            **options,
        )

    return Mirror(repo, credentials, make)


def codecommit_events(server: GitServer, repo: str) -> EventProbe:
    pattern = {
        "source": ["aws.codecommit"],
        "detail-type": ["CodeCommit Repository State Change"],
        "resources": [f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{repo}"],
    }
    return EventProbe(server.aws.client("events", ACCOUNT), server.aws.client("sqs", ACCOUNT), pattern)


def ref_event(ref: str, commit: str | None = None) -> Callable[[dict[str, Any]], bool]:
    def matches(event: dict[str, Any]) -> bool:
        detail = event["detail"]
        return detail["referenceFullName"] == ref and (commit is None or detail.get("commitId") == commit)

    return matches


def test_push_to_main_mirrors_and_codecommit_emits_the_source_event(
    server: GitServer, mirror: Mirror
) -> None:
    project = mirror.make()
    with codecommit_events(server, mirror.repo) as events:
        first = project.commit({"README.md": "hello\n"}, "first")
        result = project.push("main")
        assert result.changed == ["refs/heads/main"]
        assert server.remote_refs(mirror.repo) == {"refs/heads/main": first}
        created = events.wait_for(ref_event("refs/heads/main", first), timeout=15, describe="main created")
        assert created["detail"]["event"] == "referenceCreated"

        second = project.commit({"README.md": "hello again\n"}, "second")
        assert project.push().changed == ["refs/heads/main"]
        updated = events.wait_for(ref_event("refs/heads/main", second), timeout=15, describe="main updated")
        assert (updated["detail"]["event"], updated["detail"]["oldCommitId"]) == ("referenceUpdated", first)
    status = project.mirror_status()
    assert (status.update_status, status.last_error) == ("finished", None)
    assert status.last_successful_update_at == status.last_update_at


def test_unprotected_branch_does_not_mirror(server: GitServer, mirror: Mirror) -> None:
    project = mirror.make()  # protected = [main], mirror only protected branches
    base = project.commit({"app.py": "v1\n"}, "base")
    project.push()
    with codecommit_events(server, mirror.repo) as events:
        feature = project.commit({"app.py": "feature\n"}, "feature work", branch="feature")
        assert project.push("feature").changed == []
        assert "refs/heads/feature" not in server.remote_refs(mirror.repo)
        # Absence shown by order: the next main push's event arrives, the feature event never came first.
        marker = project.commit({"app.py": "v2\n"}, "main moves on")
        project.push("main")
        events.expect_none(
            ref_event("refs/heads/feature"),
            until=ref_event("refs/heads/main", marker),
            timeout=15,
            describe="an event for the unprotected branch",
            describe_marker="the next main push",
        )
    assert project.head("feature") == feature and feature != base


def test_protected_patterns_and_mirroring_all_branches(mirror: Mirror, server: GitServer) -> None:
    project = mirror.make(protected_branches=["main", "release/*"])
    project.commit({"a": "1"}, "a")
    project.commit({"r": "1"}, "r", branch="release/1.0")
    project.commit({"x": "1"}, "x", branch="experiment")
    assert project.push("release/1.0").changed == ["refs/heads/main", "refs/heads/release/1.0"]
    assert sorted(server.remote_refs(mirror.repo)) == ["refs/heads/main", "refs/heads/release/1.0"]

    everything = mirror.make(only_protected_branches=False)
    everything.commit({"a": "2"}, "a", branch="main")
    everything.commit({"t": "1"}, "topic", branch="topic")
    result = everything.push("topic")
    assert sorted(result.changed) == ["refs/heads/main", "refs/heads/release/1.0", "refs/heads/topic"]
    # main was forced (the other project's history), release/1.0 is gone from this project: pruned
    by_ref = {u.ref: u.result for u in result.updates}
    assert by_ref == {
        "refs/heads/main": "forced",
        "refs/heads/release/1.0": "deleted",
        "refs/heads/topic": "created",
    }
    assert sorted(server.remote_refs(mirror.repo)) == ["refs/heads/main", "refs/heads/topic"]


def test_tags_mirror_even_when_only_protected_branches_are(server: GitServer, mirror: Mirror) -> None:
    project = mirror.make()
    main = project.commit({"a": "1"}, "a")
    feature = project.commit({"f": "1"}, "f", branch="feature")
    project.push()
    with codecommit_events(server, mirror.repo) as events:
        result = project.tag("v1", message="release v1")
        assert result.changed == ["refs/tags/v1"]
        assert project.tag("on-feature", ref=feature).changed == ["refs/tags/on-feature"]
        tag_event = events.wait_for(ref_event("refs/tags/v1"), timeout=15, describe="the v1 tag event")
        assert tag_event["detail"]["referenceType"] == "tag"
    refs = server.remote_refs(mirror.repo)
    assert sorted(refs) == ["refs/heads/main", "refs/tags/on-feature", "refs/tags/v1"]
    assert refs["refs/tags/on-feature"] == feature  # a lightweight tag on an unmirrored branch still goes
    assert refs["refs/tags/v1"] != main  # annotated: the ref names the tag object
    # GitLab deletes tags on the mirror that the project no longer has (keep_divergent_refs off)
    project._run("tag", "-d", "on-feature")
    assert project.push().changed == ["refs/tags/on-feature"]
    assert "refs/tags/on-feature" not in server.remote_refs(mirror.repo)


def test_wrong_credentials_fail_the_mirror_with_gits_message(server: GitServer, mirror: Mirror) -> None:
    wrong = MirrorCredentials(mirror.credentials.username, "not-the-password")
    project = mirror.make(credentials=wrong)
    sha = project.commit({"a": "1"}, "a")
    with pytest.raises(MirrorError) as info:
        project.push()
    assert "403" in str(info.value)
    assert "not-the-password" not in str(info.value)
    status = project.mirror_status()
    assert status.update_status == "failed" and status.last_error == str(info.value)
    assert status.last_successful_update_at is None
    assert project.head() == sha  # the commit stays in the project, as on GitLab
    assert server.remote_refs(mirror.repo) == {}

    project.update_mirror_credentials(mirror.credentials)
    assert project.push().changed == ["refs/heads/main"]
    assert (project.mirror_status().update_status, project.mirror_status().last_error) == ("finished", None)


def test_a_user_without_push_permission_is_refused(server: GitServer, mirror: Mirror) -> None:
    user = f"{mirror.repo}-reader"
    iam = server.aws.client("iam", ACCOUNT)
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="read",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": GIT_PULL, "Resource": "*"}]}
        ),
    )
    cred = server.creds.create(ACCOUNT, user, "codecommit.amazonaws.com")
    project = mirror.make(
        credentials=MirrorCredentials(str(cred["ServiceUserName"]), str(cred["ServicePassword"]))
    )
    project.commit({"a": "1"}, "a")
    with pytest.raises(MirrorError, match="403"):
        project.push()


def test_keep_divergent_refs_refuses_to_overwrite(server: GitServer, mirror: Mirror) -> None:
    first = mirror.make()
    theirs = first.commit({"a": "theirs"}, "theirs")
    first.push()
    careful = mirror.make(keep_divergent_refs=True)
    careful.commit({"a": "ours"}, "ours")
    with pytest.raises(MirrorError, match="diverged from their local counterparts: main"):
        careful.push()
    assert server.remote_refs(mirror.repo)["refs/heads/main"] == theirs
    assert careful.mirror_status().update_status == "failed"


def test_commit_builds_trees_with_modes_deletions_and_new_branches(mirror: Mirror, tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "scripts").mkdir(parents=True)
    (app / "Dockerfile").write_text("FROM python:3.12-slim\n")
    (app / "scripts" / "build.sh").write_text("#!/bin/sh\n")
    (app / "scripts" / "build.sh").chmod(0o755)
    (app / "__pycache__").mkdir()
    (app / "__pycache__" / "x.pyc").write_bytes(b"\0")
    files, executable = files_from_dir(app)
    assert sorted(files) == ["Dockerfile", "scripts/build.sh"] and executable == ["scripts/build.sh"]

    project = mirror.make()
    first = project.commit(files, "app", executable=executable)
    second = project.commit({"Dockerfile": None, "docs/x.md": b"bytes\n"}, "swap", branch="docs")
    tree = project._out("ls-tree", "-r", second)
    assert "100755 blob" in next(line for line in tree.splitlines() if line.endswith("scripts/build.sh"))
    assert "Dockerfile" not in tree and "docs/x.md" in tree
    assert project._out("rev-parse", f"{second}^") == first  # a new branch starts at main
    assert project.head("main") == first
    with pytest.raises(InputError, match="relative"):
        project.commit({"../escape": "x"}, "bad")
    with pytest.raises(InputError, match="no commits"):
        project.push("nothing-here")


def test_mirror_url_must_be_https(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="https://"):
        LocalMirrorProject(
            tmp_path, "git@git-codecommit.us-east-1.amazonaws.com:v1/repos/x", MirrorCredentials("u", "p")
        )
    assert "p'" not in repr(MirrorCredentials("u", "secret")).replace("'***'", "")
