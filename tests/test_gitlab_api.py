"""gitlab.GitLabApiProject (python-gitlab) against an HTTP double of GitLab's API (tests/gitlab_double.py):
project lookup and its errors, commits with actions, the push mirror configured, synced and checked,
GitLab's health checks, and the token never showing in a message."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitlab_double import GitLabDouble, serving
from gitops_harness.errors import InputError
from gitops_harness.gitlab import GitLabApiProject, MirrorCredentials, MirrorError, gitlab_health

CLONE_URL = "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/gitops-sample"
CREDENTIALS = MirrorCredentials("gitlab-mirror-at-111111111111", "s3cret/+=")


@pytest.fixture
def double() -> GitLabDouble:
    return GitLabDouble()


@pytest.fixture
def url(double: GitLabDouble) -> Iterator[str]:
    with serving(double) as base:
        yield base


def _project(url: str, double: GitLabDouble, **options) -> GitLabApiProject:
    return GitLabApiProject(
        url, double.token, double.project_path, mirror_url=CLONE_URL, mirror_timeout=10, **options
    )


def test_a_wrong_token_is_one_line_without_the_token(url: str, double: GitLabDouble) -> None:
    with pytest.raises(InputError, match=r"refused the token \(401 Unauthorized\)") as raised:
        GitLabApiProject(url, "glpat-wrong-token", double.project_path)
    assert "glpat-wrong-token" not in str(raised.value)


def test_an_unknown_project_is_named(url: str, double: GitLabDouble) -> None:
    with pytest.raises(InputError, match=r"project 'platform/nope' not found .* \(404\)"):
        GitLabApiProject(url, double.token, "platform/nope")


def test_rate_limits_are_waited_out(url: str, double: GitLabDouble) -> None:
    double.rate_limited = 2
    project = _project(url, double)
    assert project.default_branch == "main"
    assert [m for m, _ in double.requests[:3]] == ["GET", "GET", "GET"]  # two 429s, then the answer


def test_commits_create_update_and_delete_files_in_one_commit(url: str, double: GitLabDouble) -> None:
    double.files[("main", "VERSION")] = b"1\n"
    double.files[("main", "old.txt")] = b"x"
    project = _project(url, double)
    sha = project.commit(
        {"VERSION": "2\n", "app/run.sh": b"#!/bin/sh\n", "old.txt": None}, "smoke", executable=["app/run.sh"]
    )
    assert project.head() == sha
    actions = {a["file_path"]: a for a in double.commits[-1]["actions"]}
    assert actions["VERSION"]["action"] == "update" and actions["app/run.sh"]["action"] == "create"
    assert actions["old.txt"]["action"] == "delete"
    assert base64.b64decode(actions["VERSION"]["content"]) == b"2\n"
    assert actions["app/run.sh"]["execute_filemode"] is True
    # a new branch starts from the default branch
    project.commit({"NOTES": "n"}, "on a branch", branch="release/1")
    assert double.commits[-1]["branch"] == "release/1" and project.head("release/1") is not None
    assert project.head("no-such-branch") is None


def test_the_mirror_is_configured_synced_and_checked(url: str, double: GitLabDouble) -> None:
    project = _project(url, double)
    project.ensure_mirror(CREDENTIALS)
    assert len(double.mirrors) == 1
    created = double.mirrors[0]
    assert created["enabled"] and created["only_protected_branches"]
    assert created["_url_with_credentials"].startswith(
        "https://gitlab-mirror-at-111111111111:s3cret%2F%2B%3D@"
    )
    assert project.check_mirror() == ["it has never updated successfully"]

    result = project.push()
    assert not result.details_known
    status = project.mirror_status()
    assert status.update_status == "finished" and status.last_successful_update_at is not None
    assert project.check_mirror() == []
    assert ("POST", "/api/v4/projects/42/remote_mirrors/101/sync") in double.requests

    # someone disabled it in the UI: ensure_mirror turns it back on instead of adding a second one
    created["enabled"] = False
    assert "the push mirror is disabled" in project.check_mirror()
    project.ensure_mirror(CREDENTIALS)
    assert len(double.mirrors) == 1 and double.mirrors[0]["enabled"]


def test_a_failed_mirror_update_raises_gitlabs_last_error(url: str, double: GitLabDouble) -> None:
    project = _project(url, double)
    project.ensure_mirror(CREDENTIALS)
    double.mirror_error = (
        "13:get remote references: remote: Forbidden: user is not authorized to perform codecommit:GitPush"
    )
    with pytest.raises(MirrorError, match="codecommit:GitPush"):
        project.push()
    assert project.mirror_status().update_status == "failed"
    assert project.check_mirror()[0].startswith("its last update failed: 13:get remote references")


def test_two_matching_mirrors_are_refused_and_rotation_replaces_the_mirror(
    url: str, double: GitLabDouble
) -> None:
    project = _project(url, double)
    project.ensure_mirror(CREDENTIALS)
    project.update_mirror_credentials(MirrorCredentials("gitlab-mirror-at-111111111111", "rotated"))
    assert len(double.mirrors) == 1 and double.mirrors[0]["_url_with_credentials"].find(":rotated@") > 0
    double.mirrors.append({**double.mirrors[0], "id": 999})
    with pytest.raises(MirrorError, match="has 2 matching push mirrors"):
        project.push()


def test_health_checks(url: str, double: GitLabDouble) -> None:
    health = gitlab_health(url)
    assert health.healthy and health.summary() == "readiness 200, liveness 200"
    double.readiness_failing = ("db_check",)
    health = gitlab_health(url)
    assert not health.healthy and health.failing == ("db_check",) and "failing: db_check" in health.summary()


def test_the_run_report_checks_gitlab_first_or_says_there_is_none(
    url: str, double: GitLabDouble, monkeypatch
) -> None:
    from gitops_harness.config import load_config
    from gitops_harness.pipeline_layer import gitlab_verdict

    config = load_config(Path(__file__).resolve().parents[1] / "harness.yaml")
    assert gitlab_verdict(config) is None  # no GitLab configured: said as progress, not a SKIP verdict
    monkeypatch.setenv("GITLAB_URL", url)
    configured = dataclasses.replace(config, gitlab={**config.gitlab, "project": double.project_path})
    assert gitlab_verdict(configured).passed
    double.readiness_failing = ("redis_check",)
    failed = gitlab_verdict(configured)
    assert not failed.passed and not failed.skipped and "redis_check" in failed.detail
