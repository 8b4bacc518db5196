"""The notify verdict of `gitops-harness run` (notify_check.py) judged on a chat receiver's record."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from gitops_harness import notify_check
from gitops_harness.chat_receiver import ChatReceiver
from gitops_harness.notify_check import ChatWatch

STACKS = SimpleNamespace(
    build_project="demo-build", pipeline_name="demo-pipeline", chat_notifier_function="demo-chat-notifier"
)
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _post(chat: ChatReceiver, text: str) -> None:
    request = urllib.request.Request(chat.url, data=json.dumps({"text": text}).encode())
    with urllib.request.urlopen(request, timeout=5):
        pass


@pytest.fixture
def chat(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(notify_check, "CHAT_DEADLINE", 0.3)
    with ChatReceiver() as receiver:
        yield receiver


def test_build_and_approval_posts_pass_with_a_row_each(chat):
    watch = ChatWatch(SimpleNamespace(chat=chat), STACKS, COMMIT, time.time())
    _post(chat, f"Build finished: demo-build succeeded\nCommit: {COMMIT}")
    _post(chat, "Approval needed: demo-pipeline")
    verdict, rows = watch.judge(None)
    assert verdict.passed, verdict.detail
    assert [r.action for r in rows] == ["post: build finished", "post: approval needed"]


def test_a_missing_post_names_the_step_what_it_waited_for_and_what_came_without_the_url(chat):
    watch = ChatWatch(SimpleNamespace(chat=chat), STACKS, COMMIT, time.time())
    _post(chat, f"Build finished: demo-build succeeded\nCommit: {COMMIT}")
    verdict, rows = watch.judge(None)
    assert not verdict.passed
    assert "step 'approval needed'" in verdict.detail and "Approval needed" in verdict.detail
    assert "Build finished" in verdict.detail  # what arrived instead
    assert chat.path.rsplit("/", 1)[-1] not in verdict.detail + verdict.where_to_look
    assert [r.action for r in rows] == ["post: build finished"]


def test_a_traffic_shift_post_before_prod_is_green_fails(chat):
    watch = ChatWatch(SimpleNamespace(chat=chat), STACKS, COMMIT, time.time())
    _post(chat, f"Build finished: demo-build succeeded\nCommit: {COMMIT}")
    _post(chat, "Approval needed: demo-pipeline")
    _post(chat, "Traffic shift complete: d-TEST")
    later = datetime.now(UTC) + timedelta(seconds=30)
    release = SimpleNamespace(
        deployment=SimpleNamespace(id="d-TEST"),
        weight_steps=[SimpleNamespace(at=later, green=100.0)],
        info={"completeTime": later + timedelta(seconds=5)},
    )
    verdict, _ = watch.judge(release)
    assert not verdict.passed and "before prod was 100% green" in verdict.detail
