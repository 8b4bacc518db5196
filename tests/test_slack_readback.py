"""Slack read-back (slack_readback.py) through slack_sdk against an HTTP double of Slack's Web API:
conversations.history since the run started, paged with cursor; invalid_auth, channel_not_found,
not_in_channel and 429 each one line naming what is wrong, never the token."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from gitops_harness import notify_check
from gitops_harness.config import load_config
from gitops_harness.errors import InputError
from gitops_harness.notify_check import ChatWatch
from gitops_harness.slack_readback import (
    RATE_LIMIT_RETRIES,
    SlackChannel,
    SlackReadBackError,
    SlackSettings,
    slack_settings,
)
from slack_double import SlackDouble, serving

CHANNEL = "C0DOUBLE01"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def slack() -> Iterator[tuple[SlackDouble, str]]:
    double = SlackDouble()
    with serving(double) as url:
        yield double, url


def _settings(url: str, token: str, channel: str = CHANNEL) -> SlackSettings:
    return SlackSettings("SLACK_BOT_TOKEN", channel, f"{url}/api/", token)


def test_history_pages_with_the_cursor_from_the_run_start_on(slack) -> None:
    double, url = slack
    started = time.time()
    double.post(CHANNEL, "before the run", at=started - 60)
    posted = [double.post(CHANNEL, f"message {n}") for n in range(5)]
    messages = SlackChannel(_settings(url, double.token)).history(started)
    assert [m["text"] for m in messages] == [m["text"] for m in reversed(posted)]  # newest first, all pages
    assert len(double.requests) == 3  # page size 2: 2 + 2 + 1
    assert [bool(r["params"].get("cursor")) for r in double.requests] == [False, True, True]
    assert all(r["params"]["oldest"] == f"{started:.6f}" for r in double.requests)


@pytest.mark.parametrize(
    ("setup", "says"),
    [
        (
            lambda d: setattr(d, "token", "xoxb-another-token"),
            "Slack refused the bot token in $SLACK_BOT_TOKEN (invalid_auth)",
        ),
        (lambda d: d.channels.pop(CHANNEL), f"Slack finds no channel {CHANNEL} (channel_not_found)"),
        (
            lambda d: d.not_member.add(CHANNEL),
            f"the bot is not a member of channel {CHANNEL} (not_in_channel)",
        ),
    ],
    ids=["invalid_auth", "channel_not_found", "not_in_channel"],
)
def test_each_slack_error_is_one_line_that_never_shows_the_token(slack, setup, says) -> None:
    double, url = slack
    token = double.token
    setup(double)
    with pytest.raises(SlackReadBackError) as raised:
        SlackChannel(_settings(url, token)).history(time.time())
    message = str(raised.value)
    assert says in message and "\n" not in message
    assert token not in message and double.token not in message


def test_a_429_is_waited_out_for_its_retry_after_then_read(slack) -> None:
    double, url = slack
    double.post(CHANNEL, "hello")
    double.rate_limited, double.retry_after = 1, "1"
    started = time.monotonic()
    messages = SlackChannel(_settings(url, double.token)).history(0)
    assert [m["text"] for m in messages] == ["hello"]
    assert len(double.requests) == 2 and time.monotonic() - started >= 1.0


def test_a_lasting_429_ends_after_the_bounded_retries_with_one_line(slack) -> None:
    double, url = slack
    double.rate_limited = 100
    with pytest.raises(SlackReadBackError) as raised:
        SlackChannel(_settings(url, double.token)).history(0)
    assert len(double.requests) == 1 + RATE_LIMIT_RETRIES
    assert f"rate-limited conversations.history on channel {CHANNEL} (HTTP 429" in str(raised.value)


def test_a_retry_after_past_the_cap_is_not_waited_for(slack) -> None:
    double, url = slack
    double.rate_limited, double.retry_after = 1, "3600"
    started = time.monotonic()
    with pytest.raises(SlackReadBackError, match=r"HTTP 429, Retry-After 3600 s"):
        SlackChannel(_settings(url, double.token)).history(0)
    assert len(double.requests) == 1 and time.monotonic() - started < 5


def test_an_unreachable_slack_is_one_line() -> None:
    with pytest.raises(
        SlackReadBackError, match=r"cannot read Slack's conversations.history at http://127.0.0.1:9/api/"
    ):
        SlackChannel(_settings("http://127.0.0.1:9", "xoxb-x")).history(0)


def _config(tmp_path: Path, slack_section: str):
    (tmp_path / "harness.yaml").write_text(f"chat:\n  slack: {slack_section}\n")
    return load_config(tmp_path / "harness.yaml")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("{channel: C0DOUBLE01}", "needs both bot_token_env"),
        ("{bot_token_env: SLACK_BOT_TOKEN, channel: '#deploys'}", "must be a channel id such as C0123456789"),
        (
            "{bot_token_env: SLACK_BOT_TOKEN, channel: C0DOUBLE01}",
            "environment variable SLACK_BOT_TOKEN (chat.slack.bot_token_env) is empty",
        ),
    ],
)
def test_bad_slack_settings_are_one_line(tmp_path, monkeypatch, section, message) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        slack_settings(_config(tmp_path, section))


def test_settings_read_the_token_from_its_variable_and_never_show_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-environment")
    settings = slack_settings(_config(tmp_path, "{bot_token_env: SLACK_BOT_TOKEN, channel: C0DOUBLE01}"))
    assert settings is not None and settings.token == "xoxb-from-the-environment"
    assert settings.api_url == "https://slack.com/api/" and "xoxb" not in repr(settings)
    assert slack_settings(_config(tmp_path, "{}")) is None


def _watch(settings: SlackSettings, started: float) -> ChatWatch:
    deployment = SimpleNamespace(pipeline_name="demo-pipeline", chat_notifier_function="demo-chat-notifier")
    return ChatWatch(
        SimpleNamespace(chat=None), deployment, COMMIT, started, slack=settings, execution_id="e-123"
    )


def test_the_verdicts_read_back_finds_each_message_by_what_it_carries(slack, monkeypatch) -> None:
    monkeypatch.setattr(notify_check, "CHAT_DEADLINE", 5.0)
    double, url = slack
    started = time.time()
    double.post(
        CHANNEL, f"Build finished: demo-build succeeded\nCommit: {COMMIT}", at=started - 30
    )  # earlier run
    watch = _watch(_settings(url, double.token), started)
    release = SimpleNamespace(deployment=SimpleNamespace(id="d-ABC"))
    double.post(CHANNEL, f"Build finished: demo-build succeeded\nCommit: {COMMIT}")
    double.post(CHANNEL, "Approval needed: demo-pipeline\nExecution: e-123")
    double.post(CHANNEL, "Traffic shift complete: demo\nDeployment: d-ABC")
    found, problem = watch._read_back(release)
    assert problem is None and f"Slack channel {CHANNEL} has them (3 message(s)" in found


def test_the_verdict_names_the_missing_message_and_the_slack_error_without_the_token(
    slack, monkeypatch
) -> None:
    monkeypatch.setattr(notify_check, "CHAT_DEADLINE", 0.5)
    double, url = slack
    started = time.time()
    double.post(CHANNEL, f"Build finished: demo-build succeeded\nCommit: {COMMIT}")
    _, problem = _watch(_settings(url, double.token), started)._read_back(None)
    assert problem is not None and "without approval needed" in problem and "\n" not in problem
    double.not_member.add(CHANNEL)
    _, problem = _watch(_settings(url, double.token), started)._read_back(None)
    assert problem == (
        f"Slack read-back: the bot is not a member of channel {CHANNEL} (not_in_channel): invite it to the "
        "channel to read the messages back"
    )
    assert double.token not in problem
