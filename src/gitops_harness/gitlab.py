"""The GitLab side of the pipeline: a project whose push mirror feeds CodeCommit.

Two implementations of ``GitLabProject``:

- ``LocalMirrorProject`` (embedded and localstack targets): a local bare git repository that behaves
  like a GitLab project with one push mirror, driven by the git CLI.
- ``GitLabApiProject`` (aws target): a real GitLab project through python-gitlab
  (``pip install 'ecs-gitops-harness[gitlab]'``).

What the local mirror does, and why (GitLab's behaviour as documented and as reported in its tracker):

- Transport: HTTPS only, HTTP Basic with IAM HTTPS Git credentials (``<user>-at-<account>`` and the
  generated password); SSH does not work for CodeCommit mirrors. The mirror URL is the AWS clone URL
  (``CloneUrlHttp``); ``url_rewrites`` (``emulator.codecommit.insteadof_config``) send it to a local
  endpoint, so the project is configured exactly as on GitLab.
- Branches: with "mirror only protected branches" (the default here, as in GitLab's UI) only branches
  matching a protected pattern (fnmatch, like GitLab's ``release/*``) are pushed; a push to any other
  branch updates nothing on the mirror. With no protected branches at all, GitLab pushes every branch
  (gitlab-org/gitlab#221215), and so does this class.
- Tags: every tag is pushed on every mirror update, whatever the branch setting: GitLab has no option
  to filter tags (gitlab-org/gitlab#24873, #427419). Creating a tag triggers a mirror update.
- Divergence (``keep_divergent_refs``, default False as in GitLab's API): mirrored refs are force-pushed,
  and tags (and, when all branches are mirrored, branches) deleted in the project are deleted on the
  mirror. With ``keep_divergent_refs=True`` nothing is forced or deleted, and a ref that diverged is
  not updated and fails the update ("The following branches have diverged ...").
- Failures: an update that fails (wrong credentials, no permission, divergence) raises ``MirrorError``
  with git's own message, and ``mirror_status()`` keeps it as ``last_error``, like the mirror settings
  page (``update_status`` ``failed``). The commit is still in the project, as on GitLab.
"""

from __future__ import annotations

import base64
import fnmatch
import os
import shutil
import stat
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from gitops_harness.errors import HarnessError, InputError, ToolError
from gitops_harness.waiting import wait_until

FileContent = bytes | str | None  # None deletes the file
_GIT_TIMEOUT = 120
_ZERO = "0" * 40
_ASKPASS = """#!/bin/sh
# git asks for the mirror's HTTPS Git credentials; they come from the environment, never from argv.
case "$1" in
  Username*) printf '%s\\n' "$GITOPS_MIRROR_USERNAME" ;;
  *) printf '%s\\n' "$GITOPS_MIRROR_PASSWORD" ;;
esac
"""
# git push --porcelain flags
_FLAGS = {" ": "updated", "+": "forced", "-": "deleted", "*": "created", "!": "rejected", "=": "up-to-date"}


class MirrorError(HarnessError):
    """A push-mirror update failed; the message is git's (or GitLab's ``last_error``)."""


@dataclass(frozen=True)
class MirrorCredentials:
    username: str  # <iam-user>-at-<account-id>
    password: str

    def __repr__(self) -> str:  # never print the password
        return f"MirrorCredentials(username={self.username!r}, password='***')"


@dataclass(frozen=True)
class RefUpdate:
    ref: str  # refs/heads/main, refs/tags/v1
    result: str  # created | updated | forced | deleted | rejected | up-to-date
    summary: str  # git's summary: "abc..def", "[new branch]", "[rejected] (fetch first)"


@dataclass(frozen=True)
class MirrorResult:
    updates: tuple[RefUpdate, ...] = ()
    details_known: bool = True  # False for GitLab's API, which does not say which refs moved

    @property
    def changed(self) -> list[str]:
        """Refs the update changed on the mirror (created, updated, forced, deleted)."""
        return [u.ref for u in self.updates if u.result in ("created", "updated", "forced", "deleted")]

    def changed_ref(self, ref: str) -> bool:
        return ref in self.changed


@dataclass
class MirrorStatus:
    """As GitLab's remote mirror API reports it."""

    update_status: str = "none"  # none | started | finished | failed
    last_error: str | None = None
    last_update_at: datetime | None = None
    last_successful_update_at: datetime | None = None


class GitLabProject(ABC):
    """A GitLab project with a push mirror to CodeCommit."""

    default_branch: str

    @abstractmethod
    def commit(
        self,
        files: Mapping[str, FileContent],
        message: str,
        branch: str | None = None,
        *,
        executable: Iterable[str] = (),
    ) -> str:
        """Commit ``files`` (path -> content; None deletes) on ``branch``; returns the commit id.

        A branch that does not exist yet starts from the default branch."""

    @abstractmethod
    def push(self, branch: str | None = None) -> MirrorResult:
        """The branch reached GitLab: run the mirror update it triggers; raise MirrorError if it fails."""

    @abstractmethod
    def tag(self, name: str, ref: str | None = None, message: str | None = None) -> MirrorResult:
        """Create a tag (annotated when ``message``) at ``ref`` (default branch head) and mirror it."""

    @abstractmethod
    def update_mirror_credentials(self, credentials: MirrorCredentials) -> None:
        """Replace the mirror's HTTPS Git credentials (after a rotation in IAM)."""

    @abstractmethod
    def mirror_status(self) -> MirrorStatus: ...

    @abstractmethod
    def head(self, branch: str | None = None) -> str | None:
        """The commit id of ``branch`` in the project, or None if it does not exist."""


def files_from_dir(root: str | Path) -> tuple[dict[str, bytes], list[str]]:
    """(path -> content, executable paths) for every file under ``root``, for ``commit``.

    Skips .git and __pycache__; paths are POSIX and relative to ``root``."""
    base = Path(root)
    if not base.is_dir():
        raise InputError(f"{base}: not a folder")
    files: dict[str, bytes] = {}
    executable: list[str] = []
    for path in sorted(base.rglob("*")):
        relative = path.relative_to(base)
        if {".git", "__pycache__"} & set(relative.parts) or not path.is_file():
            continue
        key = relative.as_posix()
        files[key] = path.read_bytes()
        if path.stat().st_mode & stat.S_IXUSR:
            executable.append(key)
    return files, executable


def _repo_path(path: str) -> str:
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts or pure.parts[:1] == (".git",):
        raise InputError(f"{path!r}: a file path in a commit must be relative, without '..' or .git")
    return pure.as_posix()


def _as_bytes(content: bytes | str) -> bytes:
    return content.encode() if isinstance(content, str) else content


class LocalMirrorProject(GitLabProject):
    """A local GitLab-like project (a bare repository under ``path``) with a push mirror.

    ``mirror_url`` is the AWS clone URL; ``url_rewrites`` are (git config key, value) pairs such as
    ``insteadof_config(endpoint, region)`` that point it at a local endpoint.
    """

    def __init__(
        self,
        path: str | Path,
        mirror_url: str,
        credentials: MirrorCredentials,
        *,
        protected_branches: Sequence[str] = ("main",),
        only_protected_branches: bool = True,
        keep_divergent_refs: bool = False,
        url_rewrites: Sequence[tuple[str, str]] = (),
        default_branch: str = "main",
        author: tuple[str, str] = ("GitLab Harness", "harness@gitlab.example.com"),
        git: str = "git",
    ):
        if not mirror_url.startswith("https://"):
            # GitLab takes password credentials over HTTPS only; map the URL with url_rewrites instead
            raise InputError(
                f"{mirror_url!r}: a push mirror with HTTPS Git credentials needs an https:// URL"
            )
        self.root = Path(path)
        self.git_dir = self.root / "project.git"
        self.mirror_url = mirror_url
        self.protected_branches = tuple(protected_branches)
        self.only_protected_branches = only_protected_branches
        self.keep_divergent_refs = keep_divergent_refs
        self.url_rewrites = tuple(url_rewrites)
        self.default_branch = default_branch
        self._credentials = credentials
        self._author = author
        self._git = shutil.which(git)
        if self._git is None:
            raise ToolError(f"{git}: the git CLI is needed for the local GitLab project; install git")
        self._status = MirrorStatus()
        self.root.mkdir(parents=True, exist_ok=True)
        self._askpass = self.root / "mirror-askpass"
        self._askpass.write_text(_ASKPASS)
        self._askpass.chmod(0o700)
        if not (self.git_dir / "HEAD").is_file():
            self._run(
                "init", "-q", "--bare", f"--initial-branch={default_branch}", str(self.git_dir), git_dir=False
            )

    # -- git ------------------------------------------------------------------------------------------

    def _env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        name, email = self._author
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root),
            "LC_ALL": "C",  # git's messages are parsed and shown; keep them in one language
            # The project's git sees only what this class configures: no user or system config.
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": str(self._askpass),
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        env.update(extra or {})
        return env

    def _run(
        self,
        *args: str,
        input: bytes | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        git_dir: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        prefix = [self._git, f"--git-dir={self.git_dir}"] if git_dir else [self._git]
        proc = subprocess.run(  # noqa: S603 - fixed executable, arguments are ours
            [*prefix, *args],
            input=input,
            env=self._env(env),
            capture_output=True,
            timeout=_GIT_TIMEOUT,
            check=False,
        )
        if check and proc.returncode != 0:
            raise ToolError(
                f"git {args[0]} failed ({proc.returncode}): {proc.stderr.decode(errors='replace').strip()}"
            )
        return proc

    def _out(self, *args: str, **kwargs: Any) -> str:
        return self._run(*args, **kwargs).stdout.decode().strip()

    def head(self, branch: str | None = None) -> str | None:
        proc = self._run(
            "rev-parse",
            "--verify",
            "-q",
            f"refs/heads/{branch or self.default_branch}^{{commit}}",
            check=False,
        )
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def branches(self) -> list[str]:
        out = self._out("for-each-ref", "--format=%(refname:lstrip=2)", "refs/heads")
        return [line for line in out.splitlines() if line]

    def tags(self) -> list[str]:
        out = self._out("for-each-ref", "--format=%(refname:lstrip=2)", "refs/tags")
        return [line for line in out.splitlines() if line]

    # -- the project ----------------------------------------------------------------------------------

    def commit(
        self,
        files: Mapping[str, FileContent],
        message: str,
        branch: str | None = None,
        *,
        executable: Iterable[str] = (),
    ) -> str:
        branch = branch or self.default_branch
        if not files:
            raise InputError("a commit needs at least one file change")
        executable_paths = {_repo_path(p) for p in executable}
        parent = self.head(branch) or self.head(self.default_branch)
        with tempfile.TemporaryDirectory(prefix="gitlab-index-") as tmp:
            # A private index: commits are built with plumbing, no working tree to keep in step.
            index_env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if parent:
                self._run("read-tree", parent, env=index_env)
            else:
                self._run("read-tree", "--empty", env=index_env)
            entries = []
            for raw_path, content in files.items():
                path = _repo_path(raw_path)
                if content is None:
                    entries.append(f"0 {_ZERO}\t{path}\n")  # mode 0 removes the path from the index
                    continue
                blob = self._out("hash-object", "-w", "--stdin", input=_as_bytes(content))
                mode = "100755" if path in executable_paths else "100644"
                entries.append(f"{mode} {blob}\t{path}\n")
            self._run("update-index", "--index-info", input="".join(entries).encode(), env=index_env)
            tree = self._out("write-tree", env=index_env)
        parents = ["-p", parent] if parent else []
        sha = self._out("commit-tree", tree, *parents, input=message.encode())
        # The old value makes the update fail if someone else moved the branch meanwhile.
        self._run("update-ref", f"refs/heads/{branch}", sha, self.head(branch) or _ZERO)
        return sha

    def push(self, branch: str | None = None) -> MirrorResult:
        branch = branch or self.default_branch
        if self.head(branch) is None:
            raise InputError(f"branch {branch!r} has no commits in the project: commit before pushing")
        return self.update_mirror()

    def tag(self, name: str, ref: str | None = None, message: str | None = None) -> MirrorResult:
        target = ref or self.head()
        if target is None:
            raise InputError(
                f"cannot tag {name!r}: the default branch {self.default_branch!r} has no commits"
            )
        if message:
            self._run("tag", "-a", name, target, "-m", message)
        else:
            self._run("tag", name, target)
        return self.update_mirror()

    def delete_branch(self, branch: str) -> MirrorResult:
        self._run("update-ref", "-d", f"refs/heads/{branch}")
        return self.update_mirror()

    def update_mirror_credentials(self, credentials: MirrorCredentials) -> None:
        self._credentials = credentials

    def mirror_status(self) -> MirrorStatus:
        return MirrorStatus(**vars(self._status))

    # -- the mirror -----------------------------------------------------------------------------------

    def mirrored_branches(self) -> list[str]:
        branches = self.branches()
        if not self.only_protected_branches or not self.protected_branches:
            return branches
        return [b for b in branches if any(fnmatch.fnmatchcase(b, p) for p in self.protected_branches)]

    def _refspecs(self) -> list[str]:
        force = "" if self.keep_divergent_refs else "+"
        if not self.only_protected_branches or not self.protected_branches:
            specs = [f"{force}refs/heads/*:refs/heads/*"]
        else:
            specs = [f"{force}refs/heads/{b}:refs/heads/{b}" for b in self.mirrored_branches()]
        if self.tags():
            specs.append(f"{force}refs/tags/*:refs/tags/*")
        return specs

    def _remote_config(self) -> list[str]:
        config: list[str] = []
        for key, value in self.url_rewrites:
            config += ["-c", f"{key}={value}"]
        # No credential helper may answer instead of the mirror's own credentials.
        return [*config, "-c", "credential.helper="]

    def _credential_env(self) -> dict[str, str]:
        return {
            "GITOPS_MIRROR_USERNAME": self._credentials.username,
            "GITOPS_MIRROR_PASSWORD": self._credentials.password,
        }

    def seed_from_mirror(self, branch: str | None = None) -> str | None:
        """Start ``branch`` from the mirror's copy (a project whose mirror already holds history, e.g. a
        team's repository): the next commit goes on top of it instead of replacing it. The commit id, or
        None when the mirror has no such branch."""
        branch = branch or self.default_branch
        proc = self._run(
            *self._remote_config(),
            "fetch",
            "--no-tags",
            self.mirror_url,
            f"+refs/heads/{branch}:refs/heads/{branch}",
            env=self._credential_env(),
            check=False,
        )
        if proc.returncode != 0:
            message = proc.stderr.decode(errors="replace").strip()
            if "couldn't find remote ref" in message:
                return None
            raise MirrorError(f"fetching {branch} from the mirror failed: {message}")
        return self.head(branch)

    def update_mirror(self) -> MirrorResult:
        """Push every mirrored ref, as GitLab's mirror update does after each push to the project."""
        specs = self._refspecs()
        if not specs:
            return MirrorResult()
        config = self._remote_config()
        prune = [] if self.keep_divergent_refs else ["--prune"]
        started = datetime.now(UTC)
        proc = self._run(
            *config,
            "push",
            "--porcelain",
            *prune,
            self.mirror_url,
            *specs,
            env=self._credential_env(),
            check=False,
        )
        updates = tuple(_parse_porcelain(proc.stdout.decode(errors="replace")))
        self._status.last_update_at = started
        if proc.returncode != 0:
            error = _mirror_error(proc.stderr.decode(errors="replace"), updates)
            self._status.update_status = "failed"
            self._status.last_error = error
            raise MirrorError(error)
        self._status.update_status = "finished"
        self._status.last_error = None
        self._status.last_successful_update_at = started
        return MirrorResult(updates)


def _parse_porcelain(stdout: str) -> list[RefUpdate]:
    updates = []
    for line in stdout.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or len(parts[0]) != 1 or parts[0] not in _FLAGS:
            continue  # "To <url>", "Done"
        source, _, destination = parts[1].partition(":")
        updates.append(RefUpdate(destination or source, _FLAGS[parts[0]], parts[2]))
    return updates


def _mirror_error(stderr: str, updates: Sequence[RefUpdate]) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    # git's own words, minus hints: they are about a local clone, not a mirror
    message = " ".join(line for line in lines if not line.startswith("hint:"))
    rejected = [
        u.ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
        for u in updates
        if u.result == "rejected"
    ]
    if rejected:
        message = f"The following refs have diverged from their local counterparts: {', '.join(rejected)}. {message}"
    return message or "git push failed without a message"


class GitLabApiProject(GitLabProject):
    """A real GitLab project and its push mirror, through python-gitlab.

    Written against GitLab's REST API docs (projects, branches, files, commits with actions, tags,
    remote mirrors, ``POST .../remote_mirrors/:id/sync``) and tested against an HTTP double serving
    those payloads and errors (tests/test_gitlab_api.py); run against a real GitLab by the ``aws``
    target's nightly. ``push`` cannot report which refs moved: GitLab's API does not say
    (``MirrorResult.details_known`` is False). The token never appears in a message.
    """

    def __init__(
        self,
        url: str,
        token: str,
        project: str,
        *,
        mirror_url: str | None = None,
        mirror_timeout: float = 300.0,
    ):
        try:
            import gitlab
        except ImportError:
            raise ToolError(
                "python-gitlab is not installed: pip install 'ecs-gitops-harness[gitlab]'"
            ) from None
        self._gitlab_module = gitlab
        # 429s are waited out (Retry-After) by python-gitlab itself; 5xx are retried too.
        self._gl = gitlab.Gitlab(url, private_token=token, retry_transient_errors=True, timeout=30)
        try:
            self._project = self._gl.projects.get(project)
        except gitlab.exceptions.GitlabAuthenticationError:
            raise InputError(
                f"GitLab {url} refused the token (401 Unauthorized): check its expiry and that it has the api scope"
            ) from None
        except gitlab.exceptions.GitlabGetError as exc:
            if exc.response_code == 404:
                raise InputError(
                    f"GitLab project {project!r} not found at {url} (404), or the token cannot see it"
                ) from None
            raise ToolError(f"GitLab {url}: reading project {project!r} failed: {exc}") from None
        except gitlab.exceptions.GitlabError as exc:
            raise ToolError(f"GitLab {url}: {exc}") from None
        self.default_branch = self._project.default_branch
        self._mirror_url = mirror_url
        self._mirror_timeout = mirror_timeout

    def _mirror(self) -> Any:
        mirrors = self._project.remote_mirrors.list(get_all=True)
        if self._mirror_url:
            # the API scrubs credentials from URLs: compare host and path only
            wanted = self._mirror_url.split("@")[-1].removeprefix("https://")
            mirrors = [m for m in mirrors if m.url.split("@")[-1].removeprefix("https://") == wanted]
        if len(mirrors) != 1:
            raise MirrorError(
                f"project {self._project.path_with_namespace} has {len(mirrors)} matching push mirrors; "
                "expected exactly one (set mirror_url to choose)"
            )
        return mirrors[0]

    def head(self, branch: str | None = None) -> str | None:
        try:
            return self._project.branches.get(branch or self.default_branch).commit["id"]
        except self._gitlab_module.exceptions.GitlabGetError:
            return None

    def commit(
        self,
        files: Mapping[str, FileContent],
        message: str,
        branch: str | None = None,
        *,
        executable: Iterable[str] = (),
    ) -> str:
        branch = branch or self.default_branch
        ref = branch if self.head(branch) else self.default_branch
        executable_paths = {_repo_path(p) for p in executable}
        actions = []
        for raw_path, content in files.items():
            path = _repo_path(raw_path)
            exists = self._file_exists(path, ref)
            if content is None:
                actions.append({"action": "delete", "file_path": path})
                continue
            actions.append(
                {
                    "action": "update" if exists else "create",
                    "file_path": path,
                    "content": base64.b64encode(_as_bytes(content)).decode(),
                    "encoding": "base64",
                    "execute_filemode": path in executable_paths,
                }
            )
        data: dict[str, Any] = {"branch": branch, "commit_message": message, "actions": actions}
        if ref != branch:
            data["start_branch"] = ref
        return self._project.commits.create(data).id

    def _file_exists(self, path: str, ref: str) -> bool:
        try:
            self._project.files.get(file_path=path, ref=ref)
            return True
        except self._gitlab_module.exceptions.GitlabGetError:
            return False

    def push(self, branch: str | None = None) -> MirrorResult:
        return self._sync()

    def tag(self, name: str, ref: str | None = None, message: str | None = None) -> MirrorResult:
        data = {"tag_name": name, "ref": ref or self.default_branch}
        if message:
            data["message"] = message
        self._project.tags.create(data)
        return self._sync()

    def _sync(self) -> MirrorResult:
        mirror = self._mirror()
        requested = time.time()
        mirror.sync()  # POST /projects/:id/remote_mirrors/:mirror_id/sync ("force push mirror update")

        def current() -> Any:
            # the manager has no get(): find the mirror again in the list
            return next(m for m in self._project.remote_mirrors.list(get_all=True) if m.id == mirror.id)

        def done(m: Any) -> bool:
            started = _parse_time(getattr(m, "last_update_started_at", None))
            return (
                m.update_status in ("finished", "failed")
                and started is not None
                and started.timestamp() >= requested - 5
            )

        latest = wait_until(
            current,
            timeout=self._mirror_timeout,
            accept=done,
            describe_expected=f"push mirror {mirror.id} to finish an update started after the sync request",
            describe_seen=lambda m: (
                f"update_status={m.update_status} last_update_started_at={m.last_update_started_at}"
            ),
            interval=1.0,
            max_interval=10.0,
        )
        if latest.update_status == "failed":
            raise MirrorError(latest.last_error or "the push mirror update failed without last_error")
        return MirrorResult(details_known=False)

    def ensure_mirror(self, credentials: MirrorCredentials, *, only_protected_branches: bool = True) -> None:
        """A push mirror to ``mirror_url`` exists, is enabled and mirrors what it should: created with the
        HTTPS Git credentials when missing, its settings corrected when they differ."""
        if not self._mirror_url:
            raise MirrorError("set mirror_url (the CodeCommit clone URL) to configure the push mirror")
        try:
            mirror = self._mirror()
        except MirrorError:
            self._project.remote_mirrors.create(
                {
                    "url": _url_with_credentials(self._mirror_url, credentials),
                    "enabled": True,
                    "only_protected_branches": only_protected_branches,
                }
            )
            return
        if not mirror.enabled or mirror.only_protected_branches != only_protected_branches:
            mirror.enabled = True
            mirror.only_protected_branches = only_protected_branches
            mirror.save()

    def check_mirror(self) -> list[str]:
        """What is wrong with the push mirror, as GitLab reports it (empty: nothing)."""
        mirror = self._mirror()
        problems = []
        if not mirror.enabled:
            problems.append("the push mirror is disabled")
        if mirror.update_status == "failed":
            problems.append(f"its last update failed: {mirror.last_error or 'no last_error given'}")
        if not mirror.last_successful_update_at:
            problems.append("it has never updated successfully")
        return problems

    def update_mirror_credentials(self, credentials: MirrorCredentials) -> None:
        # The remote mirror API cannot change a mirror's URL (its credentials live there): replace it.
        mirror = self._mirror()
        if not self._mirror_url:
            raise MirrorError("set mirror_url (the CodeCommit clone URL) to rotate the mirror's credentials")
        self._project.remote_mirrors.create(
            {
                "url": _url_with_credentials(self._mirror_url, credentials),
                "enabled": True,
                "only_protected_branches": mirror.only_protected_branches,
                "keep_divergent_refs": getattr(mirror, "keep_divergent_refs", False),
            }
        )
        mirror.delete()

    def mirror_status(self) -> MirrorStatus:
        m = self._mirror()
        return MirrorStatus(
            update_status=m.update_status,
            last_error=m.last_error,
            last_update_at=_parse_time(m.last_update_at),
            last_successful_update_at=_parse_time(m.last_successful_update_at),
        )


def _url_with_credentials(mirror_url: str, credentials: MirrorCredentials) -> str:
    host_path = mirror_url.removeprefix("https://")
    return (
        f"https://{quote(credentials.username, safe='')}:{quote(credentials.password, safe='')}@{host_path}"
    )


@dataclass(frozen=True)
class GitLabHealth:
    readiness: int  # HTTP status of /-/readiness (200: every check ok)
    liveness: int
    failing: tuple[str, ...] = ()  # readiness checks not "ok" (db_check, redis_check, ...)

    @property
    def healthy(self) -> bool:
        return self.readiness == 200 and self.liveness == 200 and not self.failing

    def summary(self) -> str:
        failing = f", failing: {', '.join(self.failing)}" if self.failing else ""
        return f"readiness {self.readiness}, liveness {self.liveness}{failing}"


def gitlab_health(url: str, *, timeout: float = 10.0) -> GitLabHealth:
    """GitLab's own health checks (``/-/readiness?all=1``, ``/-/liveness``): the first smoke check when
    GitLab itself runs on Fargate. They answer only to IPs in GitLab's monitoring allowlist (404 else)."""
    import json
    import urllib.error
    import urllib.request

    def get(path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(f"{url.rstrip('/')}{path}", timeout=timeout) as answer:  # noqa: S310
                return answer.status, json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                return exc.code, json.loads(exc.read() or b"{}")
            except ValueError:
                return exc.code, {}
        except (OSError, ValueError) as exc:
            raise ToolError(f"GitLab {url}: health check {path} failed: {exc}") from None

    readiness, body = get("/-/readiness?all=1")
    liveness, _ = get("/-/liveness")
    failing = tuple(
        sorted(
            name
            for name, results in (body.items() if isinstance(body, dict) else [])
            if isinstance(results, list)
            and any(r.get("status") != "ok" for r in results if isinstance(r, dict))
        )
    )
    return GitLabHealth(readiness, liveness, failing)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


__all__ = [
    "FileContent",
    "GitLabApiProject",
    "GitLabHealth",
    "GitLabProject",
    "LocalMirrorProject",
    "MirrorCredentials",
    "MirrorError",
    "MirrorResult",
    "MirrorStatus",
    "RefUpdate",
    "files_from_dir",
    "gitlab_health",
]
