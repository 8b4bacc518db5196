"""CodeCommit's git endpoint: smart HTTP (``/v1/repos/<name>``) served by dulwich, behind AWS's checks.

Every request carries HTTPS Git credentials as HTTP Basic auth: ``<iam-user>-at-<account-id>`` and the
generated password. No credentials -> 401 with a Basic challenge (git then asks its credential helper);
unknown or inactive credentials -> 403; a user whose IAM policies do not allow ``codecommit:GitPull``
(fetch, clone: git-upload-pack) or ``codecommit:GitPush`` (push: git-receive-pack) on the repository
ARN -> 403. The repository is looked up in the account the credentials name, so credentials never reach
another account's repositories.

Region: AWS puts it in the host name (``git-codecommit.<region>.amazonaws.com``), which a local endpoint
cannot. It is taken, in order, from a path prefix (``/<region>/v1/repos/<name>``), from a Host header of
the AWS form (when a proxy or /etc/hosts entry forwards the real host name), else the app's default
region. ``repositories.local_clone_url`` / ``insteadof_config`` build the matching URLs.

After a successful push, every branch or tag the push changed becomes a "CodeCommit Repository State
Change" event handed to ``publish``; a failing publish is logged and does not fail the push (on AWS,
event delivery is likewise decoupled from the push).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

from dulwich.hooks import Hook
from dulwich.repo import Repo
from dulwich.server import Backend, BackendRepo
from dulwich.web import make_wsgi_chain

from . import authorization
from .credentials import CredentialStore, GitPrincipal
from .events import Publish, reference_events
from .models import ZERO_SHA, RefChange, RepositoryStore, errors, repository_arn

log = logging.getLogger(__name__)

_PATH_RE = re.compile(r"^(?:/(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+))?/v1/repos/(?P<name>[^/]+)(?P<rest>/.*)?$")
_AWS_HOST_RE = re.compile(r"^git-codecommit\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?::\d+)?$")
_SERVICE_ACTIONS = {
    "git-upload-pack": authorization.GIT_PULL,
    "git-receive-pack": authorization.GIT_PUSH,
}
REALM = "AWS CodeCommit"

Authorize = Callable[[str, str, str, str], bool]
StartResponse = Callable[..., Any]


def is_git_path(path: str) -> bool:
    """True for request paths this app serves (for the front door's routing)."""
    return _PATH_RE.match(path) is not None


class _PostReceive(Hook):
    """dulwich post-receive hook: runs once per push with the refs it changed."""

    def __init__(self, on_push: Callable[[list[RefChange]], None]) -> None:
        self._on_push = on_push

    def execute(self, client_refs: list[tuple[bytes, bytes, bytes]]) -> None:
        changes = [
            RefChange(
                ref=ref.decode(),
                old=None if old.decode() == ZERO_SHA else old.decode(),
                new=None if new.decode() == ZERO_SHA else new.decode(),
            )
            for old, new, ref in client_refs
        ]
        try:
            self._on_push(changes)
        except Exception:  # the refs have moved already: never turn that into a failed push
            log.exception("post-push processing failed for %s", [c.ref for c in changes])
        return None


class _OneRepoBackend(Backend):
    """Backend for one request: every path opens the repository the request was routed to."""

    def __init__(self, path: str, hook: Hook) -> None:
        self._path = path
        self._hook = hook
        self.opened: list[Repo] = []

    def open_repository(self, path: str) -> BackendRepo:
        repo = Repo(self._path)
        # Only our hook runs: no shell hooks from the repository directory.
        repo.hooks.clear()
        repo.hooks["post-receive"] = self._hook
        self.opened.append(repo)
        return repo


def _plain(
    start_response: StartResponse, status: str, message: str, extra: list[tuple[str, str]] | None = None
) -> list[bytes]:
    body = (message + "\n").encode()
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    start_response(status, headers + (extra or []))
    return [body]


class CodeCommitGitApp:
    """WSGI app serving every account's CodeCommit repositories over smart HTTP."""

    def __init__(
        self,
        repositories: RepositoryStore,
        credentials: CredentialStore,
        publish: Publish | None = None,
        region: str = "us-east-1",
        authorize: Authorize = authorization.is_allowed,
    ) -> None:
        self.repositories = repositories
        self.credentials = credentials
        self.publish = publish
        self.region = region
        self.authorize = authorize

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        match = _PATH_RE.match(environ.get("PATH_INFO", ""))
        if match is None:
            return _plain(
                start_response, "404 Not Found", "Not a CodeCommit repository path: use /v1/repos/<name>."
            )
        name, rest = match["name"], match["rest"] or ""
        host = _AWS_HOST_RE.match(environ.get("HTTP_HOST", ""))
        region = match["region"] or (host["region"] if host else self.region)

        service = self._service(environ, rest)
        if service is None:
            return _plain(
                start_response,
                "404 Not Found",
                f"{rest or '/'} is not served: CodeCommit speaks git smart HTTP only "
                "(info/refs?service=..., git-upload-pack, git-receive-pack).",
            )

        principal, error = self._authenticate(environ)
        if principal is None:
            if error is None:
                return _plain(
                    start_response,
                    "401 Unauthorized",
                    "Authentication required: use HTTPS Git credentials for AWS CodeCommit "
                    "(IAM CreateServiceSpecificCredential, ServiceName codecommit.amazonaws.com).",
                    [("WWW-Authenticate", f'Basic realm="{REALM}"')],
                )
            return _plain(start_response, "403 Forbidden", error)

        action = _SERVICE_ACTIONS[service]
        arn = repository_arn(principal.account_id, region, name)
        if not self.authorize(principal.account_id, principal.user_name, action, arn):
            return _plain(
                start_response,
                "403 Forbidden",
                f"User: {principal.arn} is not authorized to perform: {action} on resource: {arn} "
                "(add it to the user's IAM policy).",
            )
        try:
            git_path = self.repositories.git_path(principal.account_id, region, name)
        except errors.RepositoryDoesNotExistException:
            return _plain(
                start_response,
                "404 Not Found",
                f"Repository {name} does not exist in account {principal.account_id}, region {region}.",
            )

        def on_push(changes: list[RefChange]) -> None:
            self._after_push(principal, region, name, changes)

        backend = _OneRepoBackend(str(git_path), _PostReceive(on_push))
        inner = dict(environ)
        inner["PATH_INFO"] = "/repo" + rest
        if inner.get("wsgi.input_terminated") and inner.get("HTTP_TRANSFER_ENCODING") == "chunked":
            # The WSGI server already de-chunked the body; dulwich would de-chunk it a second time.
            del inner["HTTP_TRANSFER_ENCODING"]
        return self._closing(make_wsgi_chain(backend)(inner, start_response), backend)

    @staticmethod
    def _service(environ: dict[str, Any], rest: str) -> str | None:
        if rest == "/info/refs":
            service = parse_qs(environ.get("QUERY_STRING", "")).get("service", [""])[0]
            return service if service in _SERVICE_ACTIONS else None
        service = rest.lstrip("/")
        return service if service in _SERVICE_ACTIONS else None

    def _authenticate(self, environ: dict[str, Any]) -> tuple[GitPrincipal | None, str | None]:
        """(principal, None) when valid; (None, None) when absent; (None, message) when rejected."""
        header = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = header.partition(" ")
        if not header:
            return None, None
        if scheme.lower() != "basic":
            return (
                None,
                f"Unsupported authorization scheme {scheme!r}: CodeCommit takes HTTP Basic credentials.",
            )
        try:
            username, sep, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, "Malformed HTTP Basic credentials."
        if not sep:
            return None, "Malformed HTTP Basic credentials: expected username:password."
        principal = self.credentials.authenticate(username, password)
        if principal is None:
            return None, (
                f"The HTTPS Git credentials for {username!r} are unknown or inactive: check the user name "
                "(<iam-user>-at-<account-id>) and password, or reset the credential in IAM."
            )
        return principal, None

    def _after_push(self, principal: GitPrincipal, region: str, name: str, changes: list[RefChange]) -> None:
        self.repositories.record_ref_changes(principal.account_id, region, name, changes)
        if self.publish is None:
            return
        record = self.repositories.record(principal.account_id, region, name)
        events = reference_events(record, changes, principal.arn)
        if events:
            self.publish(events)

    @staticmethod
    def _closing(body: Iterable[bytes], backend: _OneRepoBackend) -> Iterator[bytes]:
        # dulwich does its work while the body is iterated; close the repositories afterwards.
        try:
            yield from body
        finally:
            for repo in backend.opened:
                repo.close()
