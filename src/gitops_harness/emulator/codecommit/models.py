"""CodeCommit repositories: real bare git repositories on disk plus the metadata CodeCommit's API returns.

Repositories are keyed by (account, region, name). Each lives under
``<state_dir>/codecommit/<account>/<region>/<repositoryId>.git`` next to a ``<repositoryId>.json`` with its
metadata, so a repository deleted and re-created under the same name never sees the old objects, and a
restarted emulator finds its repositories again.

The methods return plain dicts in the botocore output shapes (RepositoryMetadata, BranchInfo, Commit) so
the CodeCommit control plane can hand them to its serializer as they are. Errors are the plane's own
modeled error classes (``errors.RepositoryDoesNotExistException``...), so they reach the API as they are.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import stat
import threading
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from dulwich.objects import Blob, Commit, Tag
from dulwich.repo import Repo

from gitops_harness.emulator.common.arns import build_arn
from gitops_harness.emulator.exceptions import ModeledErrors

ZERO_SHA = "0" * 40
_NAME_RE = re.compile(r"[\w.-]{1,100}")


def valid_repository_name(name: str) -> bool:
    """AWS's rule: 1-100 letters, digits, '.', '_' or '-', not ending in .git; '.' and '..' are refused
    (they are path segments, and the repository's directory would be its parent)."""
    return bool(_NAME_RE.fullmatch(name)) and not name.endswith(".git") and name not in (".", "..")


_SHA_RE = re.compile(r"[0-9a-f]{40}")
_BRANCH_PREFIX = "refs/heads/"


errors = ModeledErrors("codecommit")  # the same classes the plane raises (ModeledErrors caches them)


def repository_arn(account_id: str, region: str, name: str) -> str:
    return build_arn("codecommit", region, account_id, name)


def aws_clone_url_http(region: str, name: str) -> str:
    """The cloneUrlHttp AWS returns; the emulator serves the same path at its own endpoint."""
    return f"https://git-codecommit.{region}.amazonaws.com/v1/repos/{name}"


def local_clone_url(endpoint: str, name: str, region: str | None = None) -> str:
    """The URL the emulator serves a repository at, e.g. ``http://127.0.0.1:4566/v1/repos/app``.

    Without ``region`` the git endpoint uses its default region; with it, the path carries the region
    (``/<region>/v1/repos/<name>``) because a local host name cannot. To keep using the AWS URL a tool
    was configured with (a GitLab push mirror, a pipeline), map one to the other once per region::

        git config --global url."http://127.0.0.1:4566/us-east-1/v1/repos/".insteadOf \\
            "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/"

    (``insteadof_config`` returns that pair.)
    """
    prefix = f"/{region}" if region else ""
    return f"{endpoint.rstrip('/')}{prefix}/v1/repos/{name}"


def insteadof_config(endpoint: str, region: str) -> tuple[str, str]:
    """(config key, value) that makes git send the AWS clone URLs of ``region`` to the emulator."""
    local_prefix = local_clone_url(endpoint, "", region)
    return f"url.{local_prefix}.insteadOf", aws_clone_url_http(region, "")


def _iso(ts: datetime) -> str:
    return ts.isoformat()


@dataclass
class RepositoryRecord:
    """What the store keeps per repository (serialized to <repositoryId>.json)."""

    account_id: str
    region: str
    name: str
    repository_id: str
    description: str | None
    creation_date: str
    last_modified_date: str
    default_branch: str | None = None

    @property
    def arn(self) -> str:
        return repository_arn(self.account_id, self.region, self.name)

    def to_api(self) -> dict[str, object]:
        """The RepositoryMetadata shape."""
        meta: dict[str, object] = {
            "accountId": self.account_id,
            "repositoryId": self.repository_id,
            "repositoryName": self.name,
            "lastModifiedDate": datetime.fromisoformat(self.last_modified_date),
            "creationDate": datetime.fromisoformat(self.creation_date),
            "cloneUrlHttp": aws_clone_url_http(self.region, self.name),
            "cloneUrlSsh": f"ssh://git-codecommit.{self.region}.amazonaws.com/v1/repos/{self.name}",
            "Arn": self.arn,
        }
        if self.description is not None:
            meta["repositoryDescription"] = self.description
        if self.default_branch is not None:
            meta["defaultBranch"] = self.default_branch
        return meta


@dataclass(frozen=True)
class RefChange:
    """One ref a push changed; ``old``/``new`` are None when the ref was created/deleted."""

    ref: str
    old: str | None
    new: str | None


def _user_info(identity: bytes, when: int, tz_offset: int) -> dict[str, str]:
    # CodeCommit's UserInfo.date is git's raw form: "<epoch seconds> <+hhmm>".
    text = identity.decode("utf-8", "replace")
    name, _, rest = text.partition("<")
    sign = "-" if tz_offset < 0 else "+"
    minutes = abs(tz_offset) // 60
    return {
        "name": name.strip(),
        "email": rest.rstrip(">").strip(),
        "date": f"{when} {sign}{minutes // 60:02d}{minutes % 60:02d}",
    }


class RepositoryStore:
    """Thread-safe store of CodeCommit repositories for every (account, region)."""

    def __init__(self, state_dir: str | Path) -> None:
        self._root = Path(state_dir) / "codecommit"
        self._root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._records: dict[tuple[str, str, str], RepositoryRecord] = {}
        self._load()

    # -- persistence -----------------------------------------------------------------------------

    def _dir(self, account_id: str, region: str) -> Path:
        return self._root / account_id / region

    def _git_path(self, record: RepositoryRecord) -> Path:
        return self._dir(record.account_id, record.region) / f"{record.repository_id}.git"

    def _meta_path(self, record: RepositoryRecord) -> Path:
        return self._dir(record.account_id, record.region) / f"{record.repository_id}.json"

    def _save(self, record: RepositoryRecord) -> None:
        path = self._meta_path(record)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(asdict(record), indent=2))
        tmp.replace(path)

    def _load(self) -> None:
        for meta in self._root.glob("*/*/*.json"):
            record = RepositoryRecord(**json.loads(meta.read_text()))
            if self._git_path(record).is_dir():
                self._records[(record.account_id, record.region, record.name)] = record

    # -- repositories ----------------------------------------------------------------------------

    def create(
        self, account_id: str, region: str, name: str, description: str | None = None
    ) -> dict[str, object]:
        if not valid_repository_name(name):
            raise errors.InvalidRepositoryNameException(
                f"Repository name '{name}' is invalid: use 1-100 letters, digits, '.', '_' or '-', "
                "not ending in '.git', not '.' or '..'."
            )
        with self._lock:
            if (account_id, region, name) in self._records:
                raise errors.RepositoryNameExistsException(f"Repository named {name} already exists")
            now = _iso(datetime.now(UTC))
            record = RepositoryRecord(
                account_id=account_id,
                region=region,
                name=name,
                repository_id=str(uuid.uuid4()),
                description=description,
                creation_date=now,
                last_modified_date=now,
            )
            git_path = self._git_path(record)
            git_path.mkdir(parents=True)
            Repo.init_bare(str(git_path)).close()
            self._save(record)
            self._records[(account_id, region, name)] = record
            return record.to_api()

    def record(self, account_id: str, region: str, name: str) -> RepositoryRecord:
        with self._lock:
            try:
                return self._records[(account_id, region, name)]
            except KeyError:
                raise errors.RepositoryDoesNotExistException(f"{name} does not exist") from None

    def get(self, account_id: str, region: str, name: str) -> dict[str, object]:
        return self.record(account_id, region, name).to_api()

    def list(self, account_id: str, region: str) -> list[dict[str, str]]:
        """RepositoryNameIdPair list, sorted by name (ListRepositories' default order)."""
        with self._lock:
            records = [r for (a, g, _), r in self._records.items() if a == account_id and g == region]
        return [
            {"repositoryName": r.name, "repositoryId": r.repository_id}
            for r in sorted(records, key=lambda r: r.name)
        ]

    def delete(self, account_id: str, region: str, name: str) -> str | None:
        """Delete and return the repositoryId; None when absent (DeleteRepository does not fail then)."""
        with self._lock:
            record = self._records.pop((account_id, region, name), None)
            if record is None:
                return None
            self._meta_path(record).unlink(missing_ok=True)
            shutil.rmtree(self._git_path(record), ignore_errors=True)
            return record.repository_id

    @contextmanager
    def open_git(self, account_id: str, region: str, name: str) -> Iterator[Repo]:
        """The repository's dulwich Repo, closed on exit."""
        repo = Repo(str(self._git_path(self.record(account_id, region, name))))
        try:
            yield repo
        finally:
            repo.close()

    def git_path(self, account_id: str, region: str, name: str) -> Path:
        return self._git_path(self.record(account_id, region, name))

    # -- branches --------------------------------------------------------------------------------

    @staticmethod
    def _branch_ref(branch: str) -> bytes:
        if not branch or branch.startswith("refs/") or len(branch) > 256:
            raise errors.InvalidBranchNameException(f"The branch name '{branch}' is not valid.")
        return (_BRANCH_PREFIX + branch).encode()

    def get_branch(self, account_id: str, region: str, name: str, branch: str) -> dict[str, str]:
        ref = self._branch_ref(branch)
        with self.open_git(account_id, region, name) as repo:
            sha = repo.refs.as_dict().get(ref)
        if sha is None:
            raise errors.BranchDoesNotExistException(f"Could not find branch {branch} in repository {name}")
        return {"branchName": branch, "commitId": sha.decode()}

    def list_branches(self, account_id: str, region: str, name: str) -> list[str]:
        with self.open_git(account_id, region, name) as repo:
            return sorted(k.decode() for k in repo.refs.as_dict(_BRANCH_PREFIX.encode()))

    def create_branch(
        self, account_id: str, region: str, name: str, branch: str, commit_id: str
    ) -> RefChange:
        """Create the branch; the returned change is for the caller's referenceCreated event
        (``events.reference_events``), as CreateBranch emits one on AWS like a push does."""
        ref = self._branch_ref(branch)
        with self.open_git(account_id, region, name) as repo:
            self._require_commit(repo, commit_id)
            if not repo.refs.add_if_new(ref, commit_id.encode()):
                raise errors.BranchNameExistsException(f"Branch {branch} already exists in repository {name}")
        change = RefChange(ref.decode(), None, commit_id)
        self.record_ref_changes(account_id, region, name, [change])
        return change

    def delete_branch(self, account_id: str, region: str, name: str, branch: str) -> dict[str, str]:
        """Delete and return the BranchInfo of the deleted branch (its commitId is the event's oldCommitId)."""
        ref = self._branch_ref(branch)
        record = self.record(account_id, region, name)
        if record.default_branch == branch:
            raise errors.DefaultBranchCannotBeDeletedException(
                f"{branch} is the default branch of {name}: make another branch the default first."
            )
        info = self.get_branch(account_id, region, name, branch)
        with self.open_git(account_id, region, name) as repo:
            repo.refs.remove_if_equals(ref, info["commitId"].encode())
        self.record_ref_changes(account_id, region, name, [RefChange(ref.decode(), info["commitId"], None)])
        return info

    def update_description(self, account_id: str, region: str, name: str, description: str | None) -> None:
        with self._lock:
            record = self.record(account_id, region, name)
            record.description = description
            record.last_modified_date = _iso(datetime.now(UTC))
            self._save(record)

    def update_default_branch(self, account_id: str, region: str, name: str, branch: str) -> None:
        self.get_branch(account_id, region, name, branch)
        with self._lock:
            record = self.record(account_id, region, name)
            record.default_branch = branch
            self._point_head(record, branch)
            self._save(record)

    def _point_head(self, record: RepositoryRecord, branch: str) -> None:
        # HEAD follows the default branch so clones check it out.
        repo = Repo(str(self._git_path(record)))
        try:
            repo.refs.set_symbolic_ref(b"HEAD", self._branch_ref(branch))
        finally:
            repo.close()

    def record_ref_changes(self, account_id: str, region: str, name: str, changes: list[RefChange]) -> None:
        """Bookkeeping after refs moved (push or API): the first branch becomes the default branch."""
        with self._lock:
            record = self.record(account_id, region, name)
            record.last_modified_date = _iso(datetime.now(UTC))
            if record.default_branch is None:
                created = [c for c in changes if c.ref.startswith(_BRANCH_PREFIX) and c.new is not None]
                if created:
                    record.default_branch = created[0].ref[len(_BRANCH_PREFIX) :]
                    self._point_head(record, record.default_branch)
            self._save(record)

    # -- commits and archives --------------------------------------------------------------------

    @staticmethod
    def _require_commit(repo: Repo, commit_id: str) -> Commit:
        if not _SHA_RE.fullmatch(commit_id or ""):
            raise errors.InvalidCommitIdException(
                f"The commit ID '{commit_id}' is not a full 40-character SHA-1."
            )
        try:
            obj = repo[commit_id.encode()]
        except KeyError:
            raise errors.CommitIdDoesNotExistException(f"Could not find commit {commit_id}") from None
        while isinstance(obj, Tag):
            obj = repo[obj.object[1]]
        if not isinstance(obj, Commit):
            raise errors.InvalidCommitIdException(f"{commit_id} is a {obj.type_name.decode()}, not a commit.")
        return obj

    def get_commit(self, account_id: str, region: str, name: str, commit_id: str) -> dict[str, object]:
        """The Commit shape of GetCommit."""
        with self.open_git(account_id, region, name) as repo:
            commit = self._require_commit(repo, commit_id)
            return {
                "commitId": commit.id.decode(),
                "treeId": commit.tree.decode(),
                "parents": [p.decode() for p in commit.parents],
                "message": commit.message.decode("utf-8", "replace"),
                "author": _user_info(commit.author, commit.author_time, commit.author_timezone),
                "committer": _user_info(commit.committer, commit.commit_time, commit.commit_timezone),
                "additionalData": "",
            }

    def get_archive(self, account_id: str, region: str, name: str, commit_id: str) -> bytes:
        """Zip of the tree at ``commit_id``: what a CodePipeline CodeCommit source action puts in CODE_ZIP.

        Executable bits survive (buildspecs run scripts from the source); symlinks are stored as symlinks;
        submodule entries are skipped, as they have no content in this repository.
        """
        buf = io.BytesIO()
        with self.open_git(account_id, region, name) as repo:
            commit = self._require_commit(repo, commit_id)
            date_time = datetime.fromtimestamp(commit.commit_time, UTC).timetuple()[:6]
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
                for entry in repo.object_store.iter_tree_contents(commit.tree):
                    if stat.S_ISDIR(entry.mode) or entry.mode == 0o160000:
                        continue
                    blob = repo[entry.sha]
                    assert isinstance(blob, Blob)
                    info = zipfile.ZipInfo(entry.path.decode("utf-8", "surrogateescape"), date_time)
                    info.external_attr = (entry.mode & 0xFFFF) << 16
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, blob.as_raw_string())
        return buf.getvalue()
