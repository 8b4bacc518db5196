"""Shape-test requests for every CodeCommit operation: a repository, a commit written with dulwich as a
push would leave it, branches, files and tags."""

from __future__ import annotations

import stat
from typing import Any

from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import Repo

from gitops_harness.emulator.codecommit.plane import CodeCommit
from shape_samples import Sample


def samples(plane: CodeCommit) -> list[Sample]:
    repo = "shape-repo"

    def seed(_: dict[str, dict[str, Any]]) -> dict[str, Any]:
        # A commit to branch from, written with dulwich as a push would leave it.
        with plane.repositories.open_git("111111111111", "us-east-1", repo) as git_repo:
            sha = seed_commit(git_repo)
        return {"repositoryName": repo, "branchName": "main", "commitId": sha}

    def main_commit(answers: dict[str, dict[str, Any]]) -> str:
        return str(answers["GetBranch"]["branch"]["commitId"])

    arn = f"arn:aws:codecommit:us-east-1:111111111111:{repo}"
    return [
        Sample(
            "CreateRepository", {"repositoryName": repo, "repositoryDescription": "d", "tags": {"a": "1"}}
        ),
        Sample("GetRepository", {"repositoryName": repo}),
        Sample("ListRepositories", {}),
        Sample("UpdateRepositoryDescription", {"repositoryName": repo, "repositoryDescription": "e"}),
        Sample("CreateBranch", seed),
        Sample("GetBranch", {"repositoryName": repo, "branchName": "main"}),
        Sample(
            "CreateBranch",
            lambda a: {"repositoryName": repo, "branchName": "dev", "commitId": main_commit(a)},
        ),
        Sample("UpdateDefaultBranch", {"repositoryName": repo, "defaultBranchName": "main"}),
        Sample("ListBranches", {"repositoryName": repo}),
        Sample("DeleteBranch", {"repositoryName": repo, "branchName": "dev"}),
        Sample("GetCommit", lambda a: {"repositoryName": repo, "commitId": main_commit(a)}),
        Sample(
            "BatchGetCommits", lambda a: {"repositoryName": repo, "commitIds": [main_commit(a), "f" * 40]}
        ),
        Sample("GetFile", {"repositoryName": repo, "filePath": "bin/run.sh", "commitSpecifier": "main"}),
        Sample("GetFolder", {"repositoryName": repo, "folderPath": "/"}),
        Sample("TagResource", {"resourceArn": arn, "tags": {"b": "2"}}),
        Sample("UntagResource", {"resourceArn": arn, "tagKeys": ["a"]}),
        Sample("ListTagsForResource", {"resourceArn": arn}),
        Sample("DeleteRepository", {"repositoryName": repo}),
    ]


def seed_commit(repo: Repo) -> str:
    """One commit (README.md, an executable bin/run.sh) for the shape samples; its id."""
    readme, script = Blob.from_string(b"shape sample\n"), Blob.from_string(b"#!/bin/sh\necho run\n")
    bin_tree = Tree()
    bin_tree.add(b"run.sh", 0o100755, script.id)
    root = Tree()
    root.add(b"README.md", 0o100644, readme.id)
    root.add(b"bin", stat.S_IFDIR, bin_tree.id)
    commit = Commit()
    commit.tree = root.id
    commit.author = commit.committer = b"Shape Sample <shape@example.com>"
    commit.author_time = commit.commit_time = 1_700_000_000
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = b"shape sample\n"
    for obj in (readme, script, bin_tree, root, commit):
        repo.object_store.add_object(obj)
    return commit.id.decode()
