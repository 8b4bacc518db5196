"""The CodeCommit control plane through the front door with boto3: answers, error codes, tags, files.

Commits are written into the plane's repositories with dulwich here (fast); real git pushes through the
front door are in test_codecommit_over_frontdoor.py.
"""

from __future__ import annotations

import io
import stat
import zipfile
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from dulwich.objects import Blob, Commit, Tree

from gitops_harness.emulator.codecommit.plane import CodeCommit
from gitops_harness.emulator.testing import running_emulator

ACCOUNT = "313131313131"
OTHER = "323232323232"
REGION = "us-east-1"
NO_CLIENT_VALIDATION = Config(parameter_validation=False, retries={"max_attempts": 1})


@pytest.fixture(scope="module")
def aws():
    with running_emulator(planes=[CodeCommit]) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def plane(aws) -> CodeCommit:
    [codecommit] = aws.aws.planes
    return codecommit


@pytest.fixture(scope="module")
def cc(aws):
    return aws.client("codecommit", account=ACCOUNT)


def code_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def write_commit(
    plane: CodeCommit, repo: str, files: dict[str, tuple[int, bytes]], parents: list[str]
) -> str:
    """A commit with `files` ({path: (mode, content)}) written straight into the repository's objects."""
    with plane.repositories.open_git(ACCOUNT, REGION, repo) as git:
        trees: dict[str, Tree] = {"": Tree()}
        objects: list[Any] = []
        for path, (mode, content) in sorted(files.items()):
            blob = Blob.from_string(content)
            objects.append(blob)
            folder, _, leaf = path.rpartition("/")
            trees.setdefault(folder, Tree()).add(leaf.encode(), mode, blob.id)
            while folder:  # every ancestor folder gets a tree too
                folder = folder.rpartition("/")[0]
                trees.setdefault(folder, Tree())
        for folder in sorted((f for f in trees if f), key=lambda f: -f.count("/")):
            parent, _, leaf = folder.rpartition("/")
            trees.setdefault(parent, Tree()).add(leaf.encode(), stat.S_IFDIR, trees[folder].id)
        commit = Commit()
        commit.tree = trees[""].id
        commit.parents = [p.encode() for p in parents]
        commit.author = commit.committer = b"Plane Test <plane@example.com>"
        commit.author_time = commit.commit_time = 1_700_000_000 + len(parents)
        commit.author_timezone = commit.commit_timezone = 3600
        commit.message = b"files\n"
        for obj in [*objects, *trees.values(), commit]:
            git.object_store.add_object(obj)
        return commit.id.decode()


@pytest.fixture(scope="module")
def seeded(cc, plane) -> dict[str, str]:
    cc.create_repository(repositoryName="seeded", repositoryDescription="first", tags={"team": "a"})
    first = write_commit(plane, "seeded", {"README.md": (0o100644, b"hi\n")}, [])
    cc.create_branch(repositoryName="seeded", branchName="main", commitId=first)
    second = write_commit(
        plane,
        "seeded",
        {
            "README.md": (0o100644, b"hi again\n"),
            "bin/run.sh": (0o100755, b"#!/bin/sh\n"),
            "bin/link": (0o120000, b"run.sh"),
            "src/app/main.py": (0o100644, b"print(1)\n"),
        },
        [first],
    )
    cc.create_branch(repositoryName="seeded", branchName="feature", commitId=second)
    return {"first": first, "second": second}


# ---- repositories ---------------------------------------------------------------------------------------


def test_create_get_list_delete_repository(cc, aws) -> None:
    created = cc.create_repository(repositoryName="lifecycle", repositoryDescription="d")[
        "repositoryMetadata"
    ]
    assert created["Arn"] == f"arn:aws:codecommit:{REGION}:{ACCOUNT}:lifecycle"
    assert created["cloneUrlHttp"] == f"https://git-codecommit.{REGION}.amazonaws.com/v1/repos/lifecycle"
    assert created["cloneUrlSsh"] == f"ssh://git-codecommit.{REGION}.amazonaws.com/v1/repos/lifecycle"
    assert created["accountId"] == ACCOUNT and "defaultBranch" not in created
    got = cc.get_repository(repositoryName="lifecycle")["repositoryMetadata"]
    assert got["repositoryId"] == created["repositoryId"] and got["repositoryDescription"] == "d"
    names = [r["repositoryName"] for r in cc.list_repositories()["repositories"]]
    assert "lifecycle" in names and names == sorted(names)
    descending = [r["repositoryName"] for r in cc.list_repositories(order="descending")["repositories"]]
    assert descending == sorted(names, reverse=True)

    cc.update_repository_description(repositoryName="lifecycle", repositoryDescription="new words")
    assert cc.get_repository(repositoryName="lifecycle")["repositoryMetadata"]["repositoryDescription"] == (
        "new words"
    )
    # other accounts and regions do not see it
    with pytest.raises(ClientError) as excinfo:
        aws.client("codecommit", account=OTHER).get_repository(repositoryName="lifecycle")
    assert code_of(excinfo) == ("RepositoryDoesNotExistException", 400)
    with pytest.raises(ClientError):
        aws.client("codecommit", account=ACCOUNT, region="eu-west-1").get_repository(
            repositoryName="lifecycle"
        )

    assert cc.delete_repository(repositoryName="lifecycle")["repositoryId"] == created["repositoryId"]
    assert "repositoryId" not in cc.delete_repository(repositoryName="lifecycle")  # absent: success, no id
    with pytest.raises(cc.exceptions.RepositoryDoesNotExistException):
        cc.get_repository(repositoryName="lifecycle")


@pytest.fixture(scope="module")
def dup_repository(cc) -> str:
    return cc.create_repository(repositoryName="dup-name")["repositoryMetadata"]["repositoryName"]


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda c: c.create_repository(repositoryName="dup-name"), "RepositoryNameExistsException"),
        (lambda c: c.create_repository(repositoryName="bad name!"), "InvalidRepositoryNameException"),
        (lambda c: c.create_repository(repositoryName="x.git"), "InvalidRepositoryNameException"),
        (lambda c: c.get_repository(repositoryName="nope"), "RepositoryDoesNotExistException"),
        (lambda c: c.get_branch(repositoryName="dup-name", branchName="nope"), "BranchDoesNotExistException"),
        (
            lambda c: c.get_commit(repositoryName="dup-name", commitId="a" * 40),
            "CommitIdDoesNotExistException",
        ),
        (lambda c: c.get_commit(repositoryName="dup-name", commitId="abc"), "InvalidCommitIdException"),
        (
            lambda c: c.create_branch(repositoryName="dup-name", branchName="b", commitId="a" * 40),
            "CommitDoesNotExistException",
        ),
        (lambda c: c.list_branches(repositoryName="nope"), "RepositoryDoesNotExistException"),
        (
            lambda c: c.list_repositories(nextToken="not-a-token!"),
            "InvalidContinuationTokenException",
        ),
        (
            lambda c: c.create_repository(repositoryName="t", tags={"aws:x": "1"}),
            "InvalidSystemTagUsageException",
        ),
        (
            lambda c: c.list_tags_for_resource(resourceArn="arn:aws:s3:::bucket"),
            "InvalidResourceArnException",
        ),
        (
            lambda c: c.list_tags_for_resource(resourceArn=f"arn:aws:codecommit:{REGION}:{OTHER}:dup-name"),
            "RepositoryDoesNotExistException",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_errors_carry_aws_codes(cc, dup_repository, call, code) -> None:
    with pytest.raises(ClientError) as excinfo:
        call(cc)
    assert code_of(excinfo) == (code, 400)


@pytest.mark.parametrize(
    ("operation", "params", "code"),
    [
        ("get_repository", {}, "RepositoryNameRequiredException"),
        ("get_repository", {"repositoryName": ""}, "InvalidRepositoryNameException"),
        ("get_branch", {"repositoryName": "seeded"}, "BranchNameRequiredException"),
        ("get_branch", {"branchName": "main"}, "RepositoryNameRequiredException"),
        ("create_branch", {"repositoryName": "seeded", "branchName": "x"}, "CommitIdRequiredException"),
        ("update_default_branch", {"repositoryName": "seeded"}, "BranchNameRequiredException"),
        ("batch_get_commits", {"repositoryName": "seeded"}, "CommitIdsListRequiredException"),
        ("get_file", {"repositoryName": "seeded"}, "PathRequiredException"),
        ("tag_resource", {"resourceArn": "arn:aws:codecommit:us-east-1:1:x"}, "TagsMapRequiredException"),
        ("list_repositories", {"sortBy": "size"}, "InvalidSortByException"),
        ("list_repositories", {"order": "up"}, "InvalidOrderException"),
    ],
)
def test_per_field_validation_codes(aws, seeded, operation, params, code) -> None:
    raw = aws.client("codecommit", account=ACCOUNT, config=NO_CLIENT_VALIDATION)
    with pytest.raises(ClientError) as excinfo:
        getattr(raw, operation)(**params)
    assert code_of(excinfo)[0] == code


# ---- branches and commits -----------------------------------------------------------------------------


def test_branches_default_branch_and_delete(cc, seeded) -> None:
    assert cc.get_repository(repositoryName="seeded")["repositoryMetadata"]["defaultBranch"] == "main"
    assert cc.list_branches(repositoryName="seeded")["branches"] == ["feature", "main"]
    assert cc.get_branch(repositoryName="seeded", branchName="feature")["branch"] == {
        "branchName": "feature",
        "commitId": seeded["second"],
    }
    with pytest.raises(cc.exceptions.BranchNameExistsException):
        cc.create_branch(repositoryName="seeded", branchName="main", commitId=seeded["first"])
    with pytest.raises(cc.exceptions.DefaultBranchCannotBeDeletedException):
        cc.delete_branch(repositoryName="seeded", branchName="main")

    cc.create_branch(repositoryName="seeded", branchName="short-lived", commitId=seeded["first"])
    deleted = cc.delete_branch(repositoryName="seeded", branchName="short-lived")["deletedBranch"]
    assert deleted == {"branchName": "short-lived", "commitId": seeded["first"]}
    with pytest.raises(cc.exceptions.BranchDoesNotExistException):
        cc.delete_branch(repositoryName="seeded", branchName="short-lived")

    cc.update_default_branch(repositoryName="seeded", defaultBranchName="feature")
    assert cc.get_repository(repositoryName="seeded")["repositoryMetadata"]["defaultBranch"] == "feature"
    with pytest.raises(cc.exceptions.BranchDoesNotExistException):
        cc.update_default_branch(repositoryName="seeded", defaultBranchName="ghost")
    cc.update_default_branch(repositoryName="seeded", defaultBranchName="main")


def test_get_commit_and_batch_get_commits(cc, seeded) -> None:
    commit = cc.get_commit(repositoryName="seeded", commitId=seeded["second"])["commit"]
    assert commit["commitId"] == seeded["second"] and commit["parents"] == [seeded["first"]]
    assert commit["author"] == {
        "name": "Plane Test",
        "email": "plane@example.com",
        "date": "1700000001 +0100",
    }
    assert commit["message"] == "files\n"

    missing = "b" * 40
    answer = cc.batch_get_commits(repositoryName="seeded", commitIds=[seeded["first"], missing, "xyz"])
    assert [c["commitId"] for c in answer["commits"]] == [seeded["first"]]
    assert [(e["commitId"], e["errorCode"]) for e in answer["errors"]] == [
        (missing, "CommitIdDoesNotExistException"),
        ("xyz", "InvalidCommitIdException"),
    ]
    with pytest.raises(cc.exceptions.CommitIdsLimitExceededException):
        cc.batch_get_commits(repositoryName="seeded", commitIds=["c" * 40] * 101)


def test_list_branches_pages_with_next_token(cc, plane) -> None:
    cc.create_repository(repositoryName="many-branches")
    sha = write_commit(plane, "many-branches", {"f": (0o100644, b"x")}, [])
    names = sorted(f"b{index:03d}" for index in range(130))
    for name in names:
        cc.create_branch(repositoryName="many-branches", branchName=name, commitId=sha)
    first = cc.list_branches(repositoryName="many-branches")
    assert len(first["branches"]) == 100 and first.get("nextToken")
    rest = cc.list_branches(repositoryName="many-branches", nextToken=first["nextToken"])
    assert "nextToken" not in rest
    assert first["branches"] + rest["branches"] == names
    paginated = cc.get_paginator("list_branches").paginate(repositoryName="many-branches")
    assert [b for page in paginated for b in page["branches"]] == names


# ---- files and folders --------------------------------------------------------------------------------


def test_get_file_by_branch_commit_and_default(cc, seeded) -> None:
    script = cc.get_file(repositoryName="seeded", filePath="/bin/run.sh", commitSpecifier="feature")
    assert (script["fileContent"], script["fileMode"], script["fileSize"]) == (
        b"#!/bin/sh\n",
        "EXECUTABLE",
        10,
    )
    assert script["commitId"] == seeded["second"] and script["filePath"] == "bin/run.sh"
    old = cc.get_file(repositoryName="seeded", filePath="README.md")  # default branch: main at `first`
    assert (old["fileContent"], old["fileMode"], old["commitId"]) == (b"hi\n", "NORMAL", seeded["first"])
    by_id = cc.get_file(repositoryName="seeded", filePath="README.md", commitSpecifier=seeded["second"])
    assert by_id["fileContent"] == b"hi again\n"
    with pytest.raises(cc.exceptions.FileDoesNotExistException):
        cc.get_file(repositoryName="seeded", filePath="bin", commitSpecifier="feature")
    with pytest.raises(cc.exceptions.CommitDoesNotExistException):
        cc.get_file(repositoryName="seeded", filePath="README.md", commitSpecifier="no-such-branch")


def test_get_folder_lists_files_links_and_subfolders(cc, seeded) -> None:
    root = cc.get_folder(repositoryName="seeded", folderPath="/", commitSpecifier="feature")
    assert [f["absolutePath"] for f in root["files"]] == ["README.md"]
    assert [(s["absolutePath"], s["relativePath"]) for s in root["subFolders"]] == [
        ("bin", "bin"),
        ("src", "src"),
    ]
    bin_folder = cc.get_folder(repositoryName="seeded", folderPath="bin", commitSpecifier="feature")
    assert [(f["relativePath"], f["fileMode"]) for f in bin_folder["files"]] == [("run.sh", "EXECUTABLE")]
    assert [(s["absolutePath"], s["fileMode"]) for s in bin_folder["symbolicLinks"]] == [
        ("bin/link", "SYMLINK")
    ]
    nested = cc.get_folder(repositoryName="seeded", folderPath="src/app", commitSpecifier="feature")
    assert [f["absolutePath"] for f in nested["files"]] == ["src/app/main.py"]
    with pytest.raises(cc.exceptions.FolderDoesNotExistException):
        cc.get_folder(repositoryName="seeded", folderPath="README.md", commitSpecifier="feature")


# ---- tags and the archive --------------------------------------------------------------------------------


def test_tags_follow_the_repository(cc) -> None:
    arn = cc.create_repository(repositoryName="tagged", tags={"stage": "dev", "team": "x"})[
        "repositoryMetadata"
    ]["Arn"]
    cc.tag_resource(resourceArn=arn, tags={"stage": "prod", "owner": "me"})
    cc.untag_resource(resourceArn=arn, tagKeys=["team", "absent"])
    assert cc.list_tags_for_resource(resourceArn=arn)["tags"] == {"stage": "prod", "owner": "me"}
    with pytest.raises(cc.exceptions.TooManyTagsException):
        cc.tag_resource(resourceArn=arn, tags={f"k{i}": "v" for i in range(49)})
    assert cc.list_tags_for_resource(resourceArn=arn)["tags"] == {"stage": "prod", "owner": "me"}  # none kept
    with pytest.raises(cc.exceptions.InvalidSystemTagUsageException):
        cc.create_repository(repositoryName="refused", tags={"aws:x": "1"})
    with pytest.raises(cc.exceptions.RepositoryDoesNotExistException):  # a refused tag creates nothing
        cc.get_repository(repositoryName="refused")
    cc.delete_repository(repositoryName="tagged")
    cc.create_repository(repositoryName="tagged")  # a new repository under the old name has no tags
    assert cc.list_tags_for_resource(resourceArn=arn)["tags"] == {}


def test_source_archive_for_codepipeline(plane, seeded) -> None:
    data = plane.source_archive(ACCOUNT, REGION, "seeded", seeded["second"])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == ["README.md", "bin/link", "bin/run.sh", "src/app/main.py"]
        assert archive.getinfo("bin/run.sh").external_attr >> 16 & stat.S_IXUSR
    with pytest.raises(plane.errors.CommitIdDoesNotExistException):
        plane.source_archive(ACCOUNT, REGION, "seeded", "d" * 40)
    with pytest.raises(plane.errors.RepositoryDoesNotExistException):
        plane.source_archive(ACCOUNT, REGION, "absent", seeded["second"])


def test_unimplemented_operation_is_named(cc) -> None:
    with pytest.raises(ClientError) as excinfo:
        cc.merge_branches_by_fast_forward(
            repositoryName="seeded", sourceCommitSpecifier="feature", destinationCommitSpecifier="main"
        )
    assert code_of(excinfo) == ("InternalFailure", 501)
    assert "MergeBranchesByFastForward" in excinfo.value.response["Error"]["Message"]
