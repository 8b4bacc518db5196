"""An HTTP double of the parts of GitLab's REST API that gitlab.GitLabApiProject calls, serving the
payloads GitLab documents (docs.gitlab.com/api: projects, branches, repository files, commits, tags,
remote mirrors, and the /-/readiness and /-/liveness health checks), with GitLab's errors:
401 ``{"message": "401 Unauthorized"}``, 404 ``{"message": "404 Project Not Found"}``, 429 with
Retry-After, and a mirror whose update ends ``failed`` with ``last_error``.

A sync (POST .../remote_mirrors/:id/sync, 204) starts an update: the next read of the mirror list shows
it ``started``, the one after ``finished`` (or ``failed`` with ``mirror_error`` set), as GitLab's
asynchronous mirror worker does."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from http_double import serving  # noqa: F401 - the tests start this double with it


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


@dataclass
class GitLabDouble:
    token: str = "glpat-double-token"
    project_path: str = "platform/gitops-sample"
    default_branch: str = "main"
    branches: dict[str, str] = field(default_factory=lambda: {"main": "a" * 40})
    files: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (branch, path) -> content
    mirrors: list[dict[str, Any]] = field(default_factory=list)
    commits: list[dict[str, Any]] = field(default_factory=list)
    tags: list[dict[str, Any]] = field(default_factory=list)
    rate_limited: int = 0  # answer this many requests with 429 first
    mirror_error: str | None = None  # the next sync fails with this last_error
    readiness_failing: tuple[str, ...] = ()
    requests: list[tuple[str, str]] = field(default_factory=list)
    _pending: dict[int, int] = field(default_factory=dict)  # mirror id -> list reads until it finishes

    # -- WSGI ------------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self.answer(request)(environ, start_response)

    def answer(self, request: Request) -> Response:
        path = unquote(request.environ.get("RAW_URI", request.path).split("?")[0])
        self.requests.append((request.method, path))
        if path == "/-/liveness":
            return _json({"status": "ok"})
        if path == "/-/readiness":
            checks = {
                name: [{"status": "failed" if name in self.readiness_failing else "ok"}]
                for name in ("db_check", "redis_check", "gitaly_check")
            }
            status = 503 if self.readiness_failing else 200
            return _json(
                {"status": "failed" if status == 503 else "ok", "master_check": [{"status": "ok"}], **checks},
                status,
            )
        if self.rate_limited > 0:
            self.rate_limited -= 1
            return _json({"message": "429 Too Many Requests"}, 429, {"Retry-After": "0"})
        if request.headers.get("PRIVATE-TOKEN") != self.token:
            return _json({"message": "401 Unauthorized"}, 401)
        # a project is addressed by its URL-encoded path or its numeric id
        prefix = next(
            (
                p
                for p in (f"/api/v4/projects/{self.project_path}", "/api/v4/projects/42")
                if path.startswith(p)
            ),
            None,
        )
        if prefix is None:
            return _json({"message": "404 Project Not Found"}, 404)
        rest = path[len(prefix) :]
        body = request.get_json(silent=True) or {}
        if rest == "" and request.method == "GET":
            return _json(self._project())
        if rest.startswith("/repository/branches/"):
            name = rest.removeprefix("/repository/branches/")
            if name not in self.branches:
                return _json({"message": "404 Branch Not Found"}, 404)
            return _json({"name": name, "commit": {"id": self.branches[name]}, "protected": name == "main"})
        if rest.startswith("/repository/files/"):
            ref = request.args.get("ref", "")
            file_path = rest.removeprefix("/repository/files/")
            if (ref, file_path) not in self.files:
                return _json({"message": "404 File Not Found"}, 404)
            return _json({"file_path": file_path, "ref": ref, "encoding": "base64", "content": ""})
        if rest == "/repository/commits" and request.method == "POST":
            return self._commit(body)
        if rest == "/repository/tags" and request.method == "POST":
            tag = {
                "name": body["tag_name"],
                "target": self.branches.get(body["ref"], body["ref"]),
                "message": body.get("message"),
            }
            self.tags.append(tag)
            return _json(tag, 201)
        if rest == "/remote_mirrors":
            if request.method == "GET":
                return self._list_mirrors()
            return self._create_mirror(body)
        if rest.startswith("/remote_mirrors/"):
            mirror_id, _, action = rest.removeprefix("/remote_mirrors/").partition("/")
            mirror = next((m for m in self.mirrors if str(m["id"]) == mirror_id), None)
            if mirror is None:
                return _json({"message": "404 Not found"}, 404)
            if action == "sync" and request.method == "POST":
                mirror["update_status"] = "started"
                mirror["last_update_started_at"] = _now()
                self._pending[mirror["id"]] = 1
                return Response(status=204)
            if request.method == "PUT":
                mirror.update({k: body[k] for k in ("enabled", "only_protected_branches") if k in body})
                return _json(mirror)
            if request.method == "DELETE":
                self.mirrors.remove(mirror)
                return Response(status=204)
        return _json({"error": "404 Not Found"}, 404)

    # -- resources -------------------------------------------------------------------------------------

    def _project(self) -> dict[str, Any]:
        return {
            "id": 42,
            "path_with_namespace": self.project_path,
            "default_branch": self.default_branch,
            "web_url": f"https://gitlab.example.com/{self.project_path}",
        }

    def _commit(self, body: dict[str, Any]) -> Response:
        branch = body["branch"]
        start = body.get("start_branch", branch)
        if start not in self.branches:
            return _json({"message": "You can only create or edit files when you are on a branch"}, 400)
        for action in body["actions"]:
            exists = (start, action["file_path"]) in self.files
            if action["action"] == "create" and exists:
                return _json({"message": "A file with this name already exists"}, 400)
            if action["action"] in ("update", "delete") and not exists:
                return _json({"message": "A file with this name doesn't exist"}, 400)
        sha = hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()  # noqa: S324 - an id
        for (ref, path), content in list(self.files.items()):
            if ref == start:
                self.files[(branch, path)] = content
        for action in body["actions"]:
            if action["action"] == "delete":
                self.files.pop((branch, action["file_path"]), None)
            else:
                self.files[(branch, action["file_path"])] = action.get("content", "").encode()
        self.branches[branch] = sha
        commit = {
            "id": sha,
            "short_id": sha[:8],
            "title": body["commit_message"].splitlines()[0],
            "parent_ids": [],
        }
        self.commits.append({**commit, "actions": body["actions"], "branch": branch})
        return _json(commit, 201)

    def _list_mirrors(self) -> Response:
        for mirror in self.mirrors:
            reads = self._pending.get(mirror["id"])
            if reads is None:
                continue
            if reads > 0:
                self._pending[mirror["id"]] = reads - 1
                continue
            del self._pending[mirror["id"]]
            mirror["last_update_at"] = _now()
            if self.mirror_error:
                mirror["update_status"], mirror["last_error"] = "failed", self.mirror_error
            else:
                mirror["update_status"], mirror["last_error"] = "finished", None
                mirror["last_successful_update_at"] = mirror["last_update_at"]
        return _json(self.mirrors)

    def _create_mirror(self, body: dict[str, Any]) -> Response:
        url = body["url"]
        # GitLab scrubs the credentials from the URL it shows
        scrubbed = "https://*****:*****@" + url.split("@", 1)[1] if "@" in url else url
        mirror = {
            "id": len(self.mirrors) + 101,
            "enabled": body.get("enabled", False),
            "url": scrubbed,
            "update_status": "none",
            "last_update_at": None,
            "last_update_started_at": None,
            "last_successful_update_at": None,
            "last_error": None,
            "only_protected_branches": body.get("only_protected_branches", False),
            "keep_divergent_refs": body.get("keep_divergent_refs", False),
            "auth_method": "password",
            "_url_with_credentials": url,
        }
        self.mirrors.append(mirror)
        return _json({k: v for k, v in mirror.items() if not k.startswith("_")}, 201)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    if isinstance(body, list):
        body = [{k: v for k, v in item.items() if not k.startswith("_")} for item in body]
    return Response(json.dumps(body), status, headers=headers, content_type="application/json")
