"""A Slack-compatible incoming-webhook endpoint on 127.0.0.1: where chat messages land on the embedded target.

The chat notifier posts `{"text", "blocks"}` to a webhook URL; on the embedded target that URL is this
receiver's. It records every post (time, path, headers, JSON body, the answer it gave) — refused ones too,
so nothing a notifier sent is lost — and can be told to fail the way Slack does: a status with a body
(`500`, `404 no_service`), `429` with `Retry-After`, or an answer slower than the notifier's timeout.

    with ChatReceiver() as chat:
        notifier_env = {"WEBHOOK_URL": chat.url}
        chat.fail(500, times=2)                    # the next two posts answer 500
        post = chat.wait_for(lambda p: "Build succeeded" in p.text, timeout=30, describe="build-finished")

Slack's answers (api.slack.com/messaging/webhooks, "Handling errors"): 200 `ok`; 400 `invalid_payload`
for a body that is not JSON, `no_text` for one without `text` or `blocks`; 404 `no_service` for an unknown
webhook path; 429 with Retry-After when rate limited.

The webhook URL is a credential: no request line is logged, and `describe()` / wait messages show
statuses and message text, never the path.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gitops_harness.waiting import WaitTimeout

_MAX_BODY = 1024 * 1024  # Slack refuses larger payloads; a larger post is recorded as refused, not read


@dataclass(frozen=True)
class ChatPost:
    """One request the receiver got, and what it answered."""

    at: float  # time.time()
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    answer: str

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def text(self) -> str:
        """The message's text: `text` and every text field of its blocks, joined (what a person reads)."""
        payload = self.json
        if not isinstance(payload, dict):
            return ""
        parts = [str(payload.get("text") or "")]
        for block in payload.get("blocks") or []:
            if isinstance(block, dict):
                parts.extend(_block_texts(block))
        return "\n".join(p for p in parts if p)

    @property
    def delivered(self) -> bool:
        return self.status == 200


def _block_texts(block: dict[str, Any]) -> list[str]:
    texts = []
    for key in ("text", "fields", "elements"):
        value = block.get(key)
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("text"), str):
                texts.append(item["text"])
            elif isinstance(item, str):
                texts.append(item)
    return texts


@dataclass
class _Fault:
    status: int
    answer: str
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int | None = 1  # None: until cleared
    match: Callable[[str], bool] | None = None  # only posts whose text matches; None: every post

    def applies(self, text: str) -> bool:
        return self.match is None or self.match(text)


class ChatReceiver:
    """The receiver; a context manager (start/stop). `url` is the webhook URL to give the notifier."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, path: str | None = None):
        # Slack's shape: /services/<team>/<bot>/<secret>; a test may choose it to look for leaks
        self.path = path or f"/services/T0HARNESS/B0HARNESS/{secrets.token_hex(12)}"
        self._posts: list[ChatPost] = []
        self._faults: list[_Fault] = []
        self._cond = threading.Condition()
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._stopping = False

    # ---- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.path}"

    def start(self) -> ChatReceiver:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="chat-receiver",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True  # a slow answer must not hold a request open past the stop
            self._cond.notify_all()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(10)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> ChatReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- behaviour -------------------------------------------------------------------------

    def fail(
        self,
        status: int = 500,
        *,
        times: int | None = 1,
        answer: str | None = None,
        retry_after: float | str | None = None,
        delay: float = 0.0,
        match: Callable[[str], bool] | None = None,
    ) -> None:
        """Answer the next `times` posts (None: every post until `recover()`) with `status`; `retry_after`
        adds the header (Slack's 429), `delay` answers that many seconds late (past a client's timeout).
        `match` limits the fault to posts whose text it accepts (other messages keep arriving meanwhile)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        default = {429: "rate_limited", 404: "no_service", 400: "invalid_payload"}.get(
            status, "internal_error"
        )
        with self._cond:
            self._faults.append(_Fault(status, answer or default, headers, delay, times, match))

    def slow(
        self, seconds: float, *, times: int | None = 1, match: Callable[[str], bool] | None = None
    ) -> None:
        """Answer 200 only after `seconds` (a notifier with a shorter timeout sees a timeout)."""
        self.fail(200, times=times, answer="ok", delay=seconds, match=match)

    def recover(self) -> None:
        """Drop every pending fault: posts answer 200 again."""
        with self._cond:
            self._faults.clear()

    # ---- what arrived ----------------------------------------------------------------------

    def posts(self, predicate: Callable[[ChatPost], bool] | None = None) -> list[ChatPost]:
        with self._cond:
            posts = list(self._posts)
        return [p for p in posts if predicate is None or predicate(p)]

    def delivered(self, predicate: Callable[[ChatPost], bool] | None = None) -> list[ChatPost]:
        """Posts answered 200 (what a chat channel would show)."""
        return [p for p in self.posts(predicate) if p.delivered]

    def wait_for(
        self,
        predicate: Callable[[ChatPost], bool],
        timeout: float,
        describe: str = "a matching chat post",
        *,
        count: int = 1,
    ) -> list[ChatPost]:
        """Block until `count` posts answered 200 match; raises WaitTimeout naming what arrived instead."""
        started = time.monotonic()
        deadline = started + timeout
        checks = 0
        with self._cond:
            while True:
                checks += 1
                matching = [p for p in self._posts if p.delivered and predicate(p)]
                if len(matching) >= count:
                    return matching[:count]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = self.describe()
                    raise WaitTimeout(
                        f"{count} x {describe}" if count > 1 else describe,
                        seen,
                        time.monotonic() - started,
                        checks,
                        None,
                    )
                self._cond.wait(remaining)

    def describe(self) -> str:
        """What arrived so far, one short entry per post (status and first line of text), token redacted."""
        with self._cond:
            posts = list(self._posts)
        if not posts:
            return "no post"
        entries = []
        for post in posts[-5:]:
            first = (post.text.splitlines() or [post.body[:60].decode("utf-8", "replace")])[0][:80]
            entries.append(f"{post.status} {first!r}")
        more = f" (last 5 of {len(posts)})" if len(posts) > 5 else ""
        return f"{len(posts)} post(s){more}: " + "; ".join(entries)

    # ---- the HTTP side ---------------------------------------------------------------------

    def _answer_for(self, path: str, body: bytes | None) -> tuple[int, str, dict[str, str], float]:
        if path.split("?", 1)[0] != self.path:
            return 404, "no_service", {}, 0.0
        if body is None:
            return 400, "invalid_payload", {}, 0.0
        text = ChatPost(0.0, path, {}, body, 0, "").text
        with self._cond:
            fault = next((f for f in self._faults if f.applies(text)), None)
            if fault is not None and fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
        if fault is not None:
            return fault.status, fault.answer, fault.headers, fault.delay
        try:
            payload = json.loads(body)
        except ValueError:
            return 400, "invalid_payload", {}, 0.0
        if not isinstance(payload, dict):
            return 400, "invalid_payload", {}, 0.0
        if not payload.get("text") and not payload.get("blocks"):
            return 400, "no_text", {}, 0.0
        return 200, "ok", {}, 0.0

    def _record(self, post: ChatPost) -> None:
        with self._cond:
            self._posts.append(post)
            self._cond.notify_all()

    def _wait_delay(self, seconds: float) -> None:
        """Wait out a slow answer, cut short when the receiver stops."""
        deadline = time.monotonic() + seconds
        with self._cond:
            while not self._stopping and (remaining := deadline - time.monotonic()) > 0:
                self._cond.wait(remaining)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                try:
                    length = int(self.headers.get("Content-Length") or "0")
                except ValueError:
                    length = -1
                body = self.rfile.read(length) if 0 <= length <= _MAX_BODY else None
                status, answer, headers, delay = receiver._answer_for(self.path, body)
                if length > _MAX_BODY:
                    status, answer = 400, "invalid_payload"
                # Recorded before it is answered: once a synchronous client returns, its post is here.
                receiver._record(
                    ChatPost(time.time(), self.path, dict(self.headers.items()), body or b"", status, answer)
                )
                if delay:
                    receiver._wait_delay(delay)
                data = answer.encode()
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(data)))
                    if body is None:
                        self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout): the post is recorded all the same

            def do_GET(self) -> None:  # noqa: N802
                self.send_error(405)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the request line carries the webhook token

        return Handler
