"""Read the run's chat messages back from Slack: the last proof of notification delivery on a real account.

When harness.yaml names a Slack bot token (by environment variable, never the token itself) and a channel
id, the notify verdict lists the channel's messages since the run started with Slack's Web API
`conversations.history` (`oldest` = run start, paged with `cursor` while `has_more`), through the official
`slack_sdk` client, and finds each expected message by what it carries (the commit, the execution id,
the deployment id).

    chat:
      slack:
        bot_token_env: SLACK_BOT_TOKEN   # a bot token (xoxb-...) with channels:history (groups:history if private)
        channel: C0123456789             # the channel the chat webhook posts to
        api_url: https://slack.com/api/  # default; tests point it at a double

Each failure is one line naming what is wrong (the token's variable, never the token): invalid_auth,
channel_not_found, not_in_channel, missing_scope, a rate limit (HTTP 429: retried after its Retry-After,
at most RATE_LIMIT_RETRIES times and never for more than RETRY_AFTER_CAP seconds), Slack unreachable.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitops_harness.config import HarnessConfig
from gitops_harness.errors import InputError

DEFAULT_API_URL = "https://slack.com/api/"
RATE_LIMIT_RETRIES = 2
RETRY_AFTER_CAP = 30.0  # seconds: a longer Retry-After ends the read-back instead of stalling the run
PAGE_SIZE = 200  # conversations.history's recommended maximum
MAX_PAGES = 50  # 10,000 messages since the run started is not a channel a notifier posts to
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")
_BAD_TOKEN = {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
# slack_sdk logs request and response bodies at DEBUG; this run never wants them (the Authorization header
# is redacted there, message texts are not)
_LOGGER = logging.getLogger("gitops_harness.slack")
_LOGGER.setLevel(logging.INFO)


class SlackReadBackError(Exception):
    """Slack could not be read: one line that names what is wrong (never the token)."""


@dataclass(frozen=True)
class SlackSettings:
    token_env: str
    channel: str
    api_url: str = DEFAULT_API_URL
    token: str = field(default="", repr=False)


def slack_settings(config: HarnessConfig) -> SlackSettings | None:
    """chat.slack of harness.yaml, checked, with the token read from its variable; None when not set."""
    section = config.chat.get("slack") or {}
    if not isinstance(section, dict):
        raise InputError(f"{config.path or 'harness.yaml'}: chat.slack must be a mapping")
    if not any(section.get(key) for key in ("bot_token_env", "channel")):
        return None
    where = f"{config.path or 'harness.yaml'}: chat.slack"
    token_env = str(section.get("bot_token_env") or "")
    channel = str(section.get("channel") or "")
    if not token_env or not channel:
        raise InputError(
            f"{where} needs both bot_token_env (the variable holding the bot token) and channel "
            "(a channel id such as C0123456789)"
        )
    if not _CHANNEL_ID.fullmatch(channel):
        raise InputError(
            f"{where}.channel must be a channel id such as C0123456789 (conversations.history takes ids, "
            f"not names), got {channel!r}"
        )
    token = os.environ.get(token_env, "").strip()
    if not token:
        raise InputError(
            f"environment variable {token_env} (chat.slack.bot_token_env) is empty: set it to the Slack "
            "bot token (xoxb-...)"
        )
    api_url = str(section.get("api_url") or DEFAULT_API_URL)
    return SlackSettings(token_env, channel, api_url if api_url.endswith("/") else api_url + "/", token)


def message_text(message: dict[str, Any]) -> str:
    """What a message says: its text and its blocks (the notifier puts the fields in both)."""
    blocks = message.get("blocks")
    return str(message.get("text") or "") + ("\n" + json.dumps(blocks) if blocks else "")


def matching(messages: Iterable[dict[str, Any]], needles: Sequence[str]) -> list[dict[str, Any]]:
    return [m for m in messages if all(needle in message_text(m) for needle in needles)]


class SlackChannel:
    """One channel's history through slack_sdk's WebClient."""

    def __init__(self, settings: SlackSettings):
        try:
            from slack_sdk import WebClient
            from slack_sdk.http_retry.builtin_handlers import (
                ConnectionErrorRetryHandler,
                RateLimitErrorRetryHandler,
            )
        except ImportError:
            raise InputError(
                "chat.slack is set but slack_sdk is not installed: pip install 'ecs-gitops-harness[slack]'"
            ) from None

        class CappedRateLimitRetry(RateLimitErrorRetryHandler):
            """slack_sdk's 429 handler (waits Retry-After), refusing waits longer than the cap."""

            def _can_retry(
                self, *, state: Any, request: Any, response: Any = None, error: Any = None
            ) -> bool:
                return (
                    super()._can_retry(state=state, request=request, response=response, error=error)
                    and _retry_after(response) <= RETRY_AFTER_CAP
                )

        self.settings = settings
        self._client = WebClient(
            token=settings.token,
            base_url=settings.api_url,
            timeout=10,
            logger=_LOGGER,
            retry_handlers=[
                ConnectionErrorRetryHandler(max_retry_count=1),
                CappedRateLimitRetry(max_retry_count=RATE_LIMIT_RETRIES),
            ],
        )

    def history(self, oldest: float) -> list[dict[str, Any]]:
        """Every message posted at or after `oldest` (epoch seconds), newest first as Slack lists them."""
        from slack_sdk.errors import SlackApiError

        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            options: dict[str, Any] = {"channel": self.settings.channel, "oldest": f"{oldest:.6f}"}
            options["limit"] = PAGE_SIZE
            if cursor:
                options["cursor"] = cursor
            try:
                answer = self._client.conversations_history(**options)
            except SlackApiError as exc:
                raise SlackReadBackError(self._explain(exc.response)) from None
            except (OSError, ValueError) as exc:  # URLError, timeouts, a body that is not JSON
                reason = getattr(exc, "reason", None) or exc
                raise SlackReadBackError(
                    f"cannot read Slack's conversations.history at {self.settings.api_url}: {reason}"
                ) from None
            messages.extend(answer.get("messages") or [])
            cursor = (answer.get("response_metadata") or {}).get("next_cursor") or None
            if not answer.get("has_more") or not cursor:
                break
        return messages

    def _explain(self, response: Any) -> str:
        error = str(response.get("error") or "") if hasattr(response, "get") else ""
        status = getattr(response, "status_code", 0)
        channel = self.settings.channel
        if status == 429 or error == "ratelimited":
            return (
                f"Slack rate-limited conversations.history on channel {channel} (HTTP 429, Retry-After "
                f"{_retry_after(response):g} s) and {RATE_LIMIT_RETRIES} retries did not get through: "
                "read it back later"
            )
        if error in _BAD_TOKEN:
            return (
                f"Slack refused the bot token in ${self.settings.token_env} ({error}): set a valid bot "
                "token (xoxb-...) in that variable"
            )
        if error == "channel_not_found":
            return (
                f"Slack finds no channel {channel} (channel_not_found): check chat.slack.channel, and for a "
                "private channel that the bot was invited to it"
            )
        if error == "not_in_channel":
            return (
                f"the bot is not a member of channel {channel} (not_in_channel): invite it to the channel "
                "to read the messages back"
            )
        if error == "missing_scope":
            needed = response.get("needed") or "channels:history"
            return f"the bot token lacks the scope {needed} (missing_scope): add it to the Slack app and reinstall it"
        return f"Slack conversations.history on channel {channel} failed: {error or f'HTTP {status}'}"


def _retry_after(response: Any) -> float:
    headers = getattr(response, "headers", None) or {}
    for key, value in headers.items():
        if key.lower() == "retry-after":
            value = value[0] if isinstance(value, list) else value
            try:
                return float(value)
            except (TypeError, ValueError):
                return 0.0
    return 0.0
