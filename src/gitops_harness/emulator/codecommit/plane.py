"""The CodeCommit control plane: the CodeCommit API over ``RepositoryStore``, plus the git endpoint.

API handlers follow the botocore model (json protocol, ``CodeCommit_20150413.<Operation>``); errors use
the codes AWS sends, including CodeCommit's per-field ones (``RepositoryNameRequiredException``,
``InvalidBranchNameException``...) instead of a generic ValidationException. IAM authorization of API
calls is not modelled (moto does not do it for any service); git pull/push is authorized (git_http).

Besides its API the plane serves git smart HTTP, which the front door routes to it (``extra_route``):
``/v1/repos/<name>`` and ``/<region>/v1/repos/<name>`` (unsigned requests with HTTP Basic HTTPS Git
credentials), whose ref changes become events on the repository account's default bus. The credentials
are the ``CredentialStore`` IAM's plane (``emulator/iam/plane.py``) issues them from (``Runtime.shared``).

For CodePipeline's CodeCommit source action (whose UploadArchive calls are internal to AWS) the plane
offers ``source_archive(account, region, repository, commit_id)``: the CODE_ZIP bytes of a commit. The
caller is responsible for having checked the action role's permissions first.
"""

from __future__ import annotations

import base64
import logging
import re
import stat
from collections.abc import Callable, Iterable
from typing import Any

from dulwich.object_store import tree_lookup_path
from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import Repo

from gitops_harness.emulator.common.arns import InvalidArn, parse_arn
from gitops_harness.emulator.common.pagination import paginate
from gitops_harness.emulator.controlplane import ControlPlane, RequestContext, Runtime
from gitops_harness.emulator.exceptions import ModeledErrors, ServiceException

from .credentials import CREDENTIALS, CredentialStore
from .events import reference_events, routing_publisher
from .git_http import CodeCommitGitApp, is_git_path
from .models import RefChange, RepositoryStore, repository_arn, valid_repository_name

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# (service, operation, account, app) for the front door's request log and dispatch
ExtraRoute = tuple[str, str, str, WSGIApp]

_PAGE = {"ListRepositories": 1000, "ListBranches": 100}
_MAX_FILE_BYTES = 6 * 1024 * 1024  # GetFile answers FileTooLargeException above 6 MB
_GIT_OPERATION_RE = re.compile(r"(git-upload-pack|git-receive-pack)")
_BASIC_ACCOUNT_RE = re.compile(r"-at-(\d{12})$")
# Model member -> the word CodeCommit's per-field error codes use for it.
_FIELD_WORDS = {
    "defaultBranchName": "BranchName",
    "filePath": "Path",
    "folderPath": "Path",
    "nextToken": "ContinuationToken",
}


class CodeCommit(ControlPlane):
    service_name = "codecommit"
    signing = "codecommit"
    errors = ModeledErrors("codecommit")

    def __init__(self, runtime: Runtime):
        super().__init__(runtime)
        self.repositories = RepositoryStore(runtime.state_dir)
        # issued by IAM's plane (iam/plane.py), checked by the git endpoint
        self.credentials = runtime.shared(CREDENTIALS, CredentialStore)
        # by ARN, dropped with the repository: one re-created under the same name starts without tags
        self.tags = self.tag_store(
            "TooManyTagsException", "InvalidTagsMapException", reserved="InvalidSystemTagUsageException"
        )
        self.publish = routing_publisher(
            lambda account, region: runtime.clients.for_account("events", account, region)
        )
        self.git = CodeCommitGitApp(
            self.repositories, self.credentials, publish=self.publish, region=runtime.clients.default_region
        )

    # ---- dispatch ------------------------------------------------------------------------------------

    def validation_error(self, operation: str, report: str) -> ServiceException:
        """CodeCommit answers per-field codes (RepositoryNameRequiredException, InvalidBranchNameException...)."""
        declared = {shape.name for shape in self.model().operation_model(operation).error_shapes}
        for line in report.splitlines():
            match = re.search(r'Missing required parameter in input: "(\w+)"', line)
            missing = match is not None
            match = match or re.search(r"for parameter (\w+)", line)
            if match is None:
                continue
            word = _FIELD_WORDS.get(match.group(1), match.group(1)[:1].upper() + match.group(1)[1:])
            for suffix in ("", "List", "Map"):
                code = f"{word}{suffix}RequiredException" if missing else f"Invalid{word}{suffix}Exception"
                if code in declared:
                    return getattr(self.errors, code)(line.strip())
        return super().validation_error(operation, report)

    def extra_route(self, service: str | None, environ: dict[str, Any]) -> ExtraRoute | None:
        """What the front door serves through this plane besides the CodeCommit API (see module doc)."""
        if service is None:
            path = environ.get("PATH_INFO", "")
            if not is_git_path(path):
                return None
            match = _GIT_OPERATION_RE.search(path + "?" + environ.get("QUERY_STRING", ""))
            operation = match.group(1) if match else "git"
            return "codecommit", operation, _basic_auth_account(environ), self.git
        return None

    # ---- helpers -------------------------------------------------------------------------------------

    def _need(self, request: dict[str, Any], member: str) -> str:
        # Members the model leaves optional (GetBranch's) are still required by the service.
        value = request.get(member)
        if not value:
            word = _FIELD_WORDS.get(member, member[:1].upper() + member[1:])
            raise getattr(self.errors, f"{word}RequiredException")(f"{member} is required.")
        return str(value)

    def _repo_name(self, request: dict[str, Any]) -> str:
        name = self._need(request, "repositoryName")
        if not valid_repository_name(name):
            raise self.errors.InvalidRepositoryNameException(
                f"Repository name '{name}' is invalid: use 1-100 letters, digits, '.', '_' or '-', "
                "not ending in '.git', not '.' or '..'."
            )
        return name

    def _publish(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return

        def deliver() -> None:
            try:
                self.publish(events)
            except Exception:  # delivery is decoupled from the API call, as on AWS
                log.exception("publishing %d CodeCommit event(s) failed", len(events))

        # after the handler returns: handlers hold the plane lock and must stay quick
        self.runtime.scheduler.spawn(deliver, name="codecommit-events")

    def _page(self, operation: str, items: list[Any], token: str | None) -> tuple[list[Any], str | None]:
        return paginate(
            items,
            token,
            _PAGE[operation],
            invalid_token=self.errors.InvalidContinuationTokenException,
            message="The specified continuation token is not valid.",
        )

    def _tagged_arn(self, ctx: RequestContext, arn: str) -> str:
        """The ARN of a repository of the caller's account and region (tags are kept by ARN)."""
        try:
            parsed = parse_arn(arn)
        except InvalidArn:
            parsed = None
        if parsed is None or parsed.service != "codecommit" or parsed.resource_type is not None:
            raise self.errors.InvalidResourceArnException(
                f"The value for the resource ARN is not valid: {arn}"
            )
        if (parsed.account, parsed.region) != (ctx.account_id, ctx.region):
            # another account's or region's repository is invisible to this caller
            raise self.errors.RepositoryDoesNotExistException(f"{parsed.resource_id} does not exist")
        return self.repositories.record(ctx.account_id, ctx.region, parsed.resource_id).arn

    # ---- repositories --------------------------------------------------------------------------------

    def CreateRepository(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        name = self._repo_name(request)
        description = request.get("repositoryDescription")
        if description is not None and len(description) > 1000:
            raise self.errors.InvalidRepositoryDescriptionException("The description is longer than 1000.")
        tags = request.get("tags") or {}
        arn = repository_arn(ctx.account_id, ctx.region, name)
        self.tags.check(arn, tags)  # before the repository exists: a refused tag creates nothing
        metadata = self.repositories.create(ctx.account_id, ctx.region, name, description)
        if "kmsKeyId" in request:
            metadata["kmsKeyId"] = request["kmsKeyId"]  # recorded for the answer; objects are not encrypted
        self.tags.tag(arn, tags)
        return {"repositoryMetadata": metadata}

    def GetRepository(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        return {
            "repositoryMetadata": self.repositories.get(ctx.account_id, ctx.region, self._repo_name(request))
        }

    def ListRepositories(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        sort_by = request.get("sortBy", "repositoryName")
        order = request.get("order", "ascending")
        # ParamValidator does not check enums; CodeCommit answers these codes for them
        if sort_by not in ("repositoryName", "lastModifiedDate"):
            raise self.errors.InvalidSortByException(f"The sort criterion {sort_by} is not valid.")
        if order not in ("ascending", "descending"):
            raise self.errors.InvalidOrderException(f"The sort order {order} is not valid.")
        pairs = self.repositories.list(ctx.account_id, ctx.region)
        if sort_by == "lastModifiedDate":
            modified = {
                pair["repositoryName"]: self.repositories.record(
                    ctx.account_id, ctx.region, pair["repositoryName"]
                ).last_modified_date
                for pair in pairs
            }
            pairs.sort(key=lambda pair: modified[pair["repositoryName"]])
        if order == "descending":
            pairs.reverse()
        page, token = self._page("ListRepositories", pairs, request.get("nextToken"))
        return {"repositories": page, "nextToken": token}

    def DeleteRepository(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        name = self._repo_name(request)
        repository_id = self.repositories.delete(ctx.account_id, ctx.region, name)
        if repository_id is None:
            return {}  # AWS answers success without an id for a repository that does not exist
        self.tags.drop(repository_arn(ctx.account_id, ctx.region, name))
        return {"repositoryId": repository_id}

    def UpdateRepositoryDescription(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        description = request.get("repositoryDescription")
        if description is not None and len(description) > 1000:
            raise self.errors.InvalidRepositoryDescriptionException("The description is longer than 1000.")
        self.repositories.update_description(
            ctx.account_id, ctx.region, self._repo_name(request), description
        )
        return {}

    def UpdateDefaultBranch(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        name = self._repo_name(request)
        branch = self._need(request, "defaultBranchName")
        self.repositories.update_default_branch(ctx.account_id, ctx.region, name, branch)
        return {}

    # ---- branches ------------------------------------------------------------------------------------

    def GetBranch(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        name = self._repo_name(request)
        branch = self._need(request, "branchName")
        return {"branch": self.repositories.get_branch(ctx.account_id, ctx.region, name, branch)}

    def ListBranches(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        branches = self.repositories.list_branches(ctx.account_id, ctx.region, self._repo_name(request))
        page, token = self._page("ListBranches", branches, request.get("nextToken"))
        return {"branches": page, "nextToken": token}

    def CreateBranch(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        name = self._repo_name(request)
        branch = self._need(request, "branchName")
        commit_id = self._need(request, "commitId")
        try:
            change = self.repositories.create_branch(ctx.account_id, ctx.region, name, branch, commit_id)
        except self.errors.CommitIdDoesNotExistException as error:
            # CreateBranch's model names this code instead
            raise self.errors.CommitDoesNotExistException(error.message) from None
        # AWS emits referenceCreated for a branch created through the API as for one pushed
        record = self.repositories.record(ctx.account_id, ctx.region, name)
        self._publish(reference_events(record, [change], ctx.caller_arn))
        return {}

    def DeleteBranch(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        name = self._repo_name(request)
        branch = self._need(request, "branchName")
        deleted = self.repositories.delete_branch(ctx.account_id, ctx.region, name, branch)
        record = self.repositories.record(ctx.account_id, ctx.region, name)
        change = _ref_deleted(branch, deleted["commitId"])
        self._publish(reference_events(record, [change], ctx.caller_arn))
        return {"deletedBranch": deleted}

    # ---- commits, files, folders -----------------------------------------------------------------------

    def GetCommit(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        name = self._repo_name(request)
        commit_id = self._need(request, "commitId")
        return {"commit": self.repositories.get_commit(ctx.account_id, ctx.region, name, commit_id)}

    def BatchGetCommits(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        name = self._repo_name(request)
        commit_ids = request.get("commitIds")
        if not commit_ids:
            raise self.errors.CommitIdsListRequiredException("A list of commit IDs is required.")
        if len(commit_ids) > 100:
            raise self.errors.CommitIdsLimitExceededException("At most 100 commit IDs can be requested.")
        self.repositories.record(ctx.account_id, ctx.region, name)  # RepositoryDoesNotExistException
        commits, errors = [], []
        for commit_id in commit_ids:
            try:
                commits.append(self.repositories.get_commit(ctx.account_id, ctx.region, name, commit_id))
            except ServiceException as error:  # per-commit errors are part of the answer, not a failure
                errors.append({"commitId": commit_id, "errorCode": error.code, "errorMessage": error.message})
        return {"commits": commits, "errors": errors}

    def GetFile(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        name = self._repo_name(request)
        path = _clean_path(self._need(request, "filePath"))
        if not path:
            raise self.errors.InvalidPathException("The file path must name a file.")
        with self.repositories.open_git(ctx.account_id, ctx.region, name) as repo:
            commit = self._resolve(repo, ctx, name, request.get("commitSpecifier"))
            try:
                mode, sha = tree_lookup_path(repo.__getitem__, commit.tree, path.encode())
            except KeyError:
                mode, sha = 0, b""
            blob = repo[sha] if sha and not stat.S_ISDIR(mode) and mode != 0o160000 else None
            if not isinstance(blob, Blob):
                raise self.errors.FileDoesNotExistException(
                    f"The file {path} does not exist in commit {commit.id.decode()}."
                )
            content = blob.as_raw_string()
            if len(content) > _MAX_FILE_BYTES:
                raise self.errors.FileTooLargeException(f"{path} is larger than 6 MB.")
            return {
                "commitId": commit.id.decode(),
                "blobId": sha.decode(),
                "filePath": path,
                "fileMode": _file_mode(mode),
                "fileSize": len(content),
                "fileContent": content,
            }

    def GetFolder(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        name = self._repo_name(request)
        folder_path = self._need(request, "folderPath")
        path = _clean_path(folder_path)
        with self.repositories.open_git(ctx.account_id, ctx.region, name) as repo:
            commit = self._resolve(repo, ctx, name, request.get("commitSpecifier"))
            tree_id = commit.tree
            if path:
                try:
                    mode, tree_id = tree_lookup_path(repo.__getitem__, commit.tree, path.encode())
                except KeyError:
                    mode = 0
                if not stat.S_ISDIR(mode):
                    raise self.errors.FolderDoesNotExistException(
                        f"The folder {folder_path} does not exist in commit {commit.id.decode()}."
                    )
            tree = repo[tree_id]
            assert isinstance(tree, Tree)
            answer: dict[str, Any] = {
                "commitId": commit.id.decode(),
                "folderPath": folder_path,
                "treeId": tree_id.decode(),
                "subFolders": [],
                "files": [],
                "symbolicLinks": [],
                "subModules": [],
            }
            for entry in tree.iteritems():
                relative = entry.path.decode("utf-8", "surrogateescape")
                absolute = f"{path}/{relative}" if path else relative
                item: dict[str, Any] = {"absolutePath": absolute, "relativePath": relative}
                if stat.S_ISDIR(entry.mode):
                    answer["subFolders"].append({"treeId": entry.sha.decode(), **item})
                elif entry.mode == 0o160000:
                    answer["subModules"].append({"commitId": entry.sha.decode(), **item})
                else:
                    kind = "symbolicLinks" if stat.S_ISLNK(entry.mode) else "files"
                    answer[kind].append(
                        {"blobId": entry.sha.decode(), **item, "fileMode": _file_mode(entry.mode)}
                    )
            return answer

    def _resolve(self, repo: Repo, ctx: RequestContext, name: str, specifier: str | None) -> Commit:
        """A commitSpecifier (branch, tag or full commit id; default: the default branch) -> its commit."""
        if specifier is None:
            record = self.repositories.record(ctx.account_id, ctx.region, name)
            if record.default_branch is None:
                raise self.errors.CommitDoesNotExistException(f"Repository {name} has no commits yet.")
            specifier = record.default_branch
        refs = repo.refs.as_dict()
        candidates = [
            refs.get(b"refs/heads/" + specifier.encode()),
            refs.get(b"refs/tags/" + specifier.encode()),
        ]
        if re.fullmatch(r"[0-9a-f]{40}", specifier):
            candidates.append(specifier.encode())
        for sha in candidates:
            if sha is None:
                continue
            try:
                obj = repo[sha]
            except KeyError:
                continue
            while not isinstance(obj, Commit) and hasattr(obj, "object"):  # annotated tags peel to commits
                obj = repo[obj.object[1]]
            if isinstance(obj, Commit):
                return obj
        raise self.errors.CommitDoesNotExistException(
            f"Could not find a commit for the specifier {specifier} in repository {name}."
        )

    # ---- tags ----------------------------------------------------------------------------------------

    def TagResource(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        arn = self._tagged_arn(ctx, self._need(request, "resourceArn"))
        new = request.get("tags")
        if new is None:
            raise self.errors.TagsMapRequiredException("A map of tags is required.")
        self.tags.tag(arn, new)
        return {}

    def UntagResource(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        arn = self._tagged_arn(ctx, self._need(request, "resourceArn"))
        keys = request.get("tagKeys")
        if keys is None:
            raise self.errors.TagKeysListRequiredException("A list of tag keys is required.")
        self.tags.untag(arn, keys)
        return {}

    def ListTagsForResource(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        return {"tags": self.tags.get(self._tagged_arn(ctx, self._need(request, "resourceArn")))}

    # ---- for the CodePipeline plane ----------------------------------------------------------------------

    def source_archive(self, account_id: str, region: str, repository_name: str, commit_id: str) -> bytes:
        """The CODE_ZIP artifact of a commit (the tree at it, executable bits kept), as CodePipeline's
        CodeCommit source action uploads it. The caller checks the action role's permissions first (e.g.
        by calling GetBranch/GetCommit as that role through the front door). Raises this plane's modeled
        errors (RepositoryDoesNotExistException, CommitIdDoesNotExistException...)."""
        with self.lock:
            return self.repositories.get_archive(account_id, region, repository_name, commit_id)


def _basic_auth_account(environ: dict[str, Any]) -> str:
    """The account an HTTPS Git credential names (<user>-at-<account>), for the request log only."""
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return "?"
    try:
        username = base64.b64decode(token.strip()).decode().partition(":")[0]
    except (ValueError, UnicodeDecodeError):
        return "?"
    match = _BASIC_ACCOUNT_RE.search(username)
    return match.group(1) if match else "?"


def _ref_deleted(branch: str, old: str) -> RefChange:
    return RefChange(f"refs/heads/{branch}", old, None)


def _clean_path(path: str) -> str:
    return path.strip("/")


def _file_mode(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "SYMLINK"
    return "EXECUTABLE" if mode & stat.S_IXUSR else "NORMAL"
