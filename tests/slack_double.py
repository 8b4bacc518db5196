"""An HTTP double of the parts of Slack the harness touches: an incoming webhook (what the chat notifier
posts to) and the Web API's conversations.history (what the notify verdict reads back), serving Slack's
documented payloads (api.slack.com/methods/conversations.history):

    {"ok": true, "messages": [{"type": "message", "text", "ts", ...}, ...newest first],
     "has_more": true|false, "pin_count": 0, "response_metadata": {"next_cursor": "..."}}

and its errors: HTTP 200 with {"ok": false, "error": "invalid_auth" | "channel_not_found" |
"not_in_channel"}, and HTTP 429 {"ok": false, "error": "ratelimited"} with Retry-After. Messages
posted to the webhook land in `webhook_channel`; `page_size` caps a page below the caller's limit, so
paging with `cursor` is exercised. The token is checked from the Authorization header and never echoed."""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from http_double import serving  # noqa: F401 - the tests start this double with it

WEBHOOK_PATH = "/services/T0DOUBLE/B0DOUBLE/double-webhook-secret"


@dataclass
class SlackDouble:
    token: str = "xoxb-double-0000-secret-token"
    webhook_channel: str = "C0DOUBLE01"
    channels: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"C0DOUBLE01": []})
    not_member: set[str] = field(default_factory=set)  # channels the bot was not invited to
    page_size: int = 2
    rate_limited: int = 0  # answer this many history calls with 429 first
    retry_after: str = "0"
    requests: list[dict[str, Any]] = field(default_factory=list)  # (method, path, params) of each API call
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last_ts: float = 0.0

    def post(self, channel: str, text: str, at: float | None = None, **extra: Any) -> dict[str, Any]:
        """Add a message as Slack stores it: a unique ts ("<seconds>.<micros>") per channel."""
        with self._lock:
            ts = max(at if at is not None else time.time(), self._last_ts + 0.000001)
            self._last_ts = ts
            message = {"type": "message", "text": text, "ts": f"{ts:.6f}", **extra}
            self.channels.setdefault(channel, []).append(message)
            return message

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.answer(Request(environ))(environ, start_response)

    def answer(self, request: Request) -> Response:
        if request.path == WEBHOOK_PATH and request.method == "POST":
            payload = json.loads(request.get_data() or b"{}")
            self.post(
                self.webhook_channel,
                str(payload.get("text", "")),
                subtype="bot_message",
                bot_id="B0DOUBLE",
                blocks=payload.get("blocks", []),
            )
            return Response("ok", 200, content_type="text/plain")
        if request.path != "/api/conversations.history":
            return _json({"ok": False, "error": "unknown_method"}, 404)
        params = {**request.args.to_dict(), **request.form.to_dict()}
        self.requests.append({"method": request.method, "path": request.path, "params": params})
        if self.rate_limited > 0:
            self.rate_limited -= 1
            return _json({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": self.retry_after})
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _json({"ok": False, "error": "invalid_auth"})
        channel = params.get("channel", "")
        if channel not in self.channels:
            return _json({"ok": False, "error": "channel_not_found"})
        if channel in self.not_member:
            return _json({"ok": False, "error": "not_in_channel"})
        oldest = float(params.get("oldest") or 0)
        with self._lock:
            found = sorted(
                (m for m in self.channels[channel] if float(m["ts"]) >= oldest),
                key=lambda m: float(m["ts"]),
                reverse=True,
            )
        start = int(base64.b64decode(params["cursor"]).decode().split(":")[1]) if params.get("cursor") else 0
        limit = min(int(params.get("limit") or 100), self.page_size)
        page = found[start : start + limit]
        more = start + limit < len(found)
        cursor = base64.b64encode(f"offset:{start + limit}".encode()).decode() if more else ""
        return _json(
            {
                "ok": True,
                "messages": page,
                "has_more": more,
                "pin_count": 0,
                "response_metadata": {"next_cursor": cursor},
            }
        )


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, headers=headers, content_type="application/json")
