"""The Slack-compatible receiver the embedded target's chat messages land on: what it records, how it fails."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest

from gitops_harness.chat_receiver import ChatReceiver
from gitops_harness.waiting import WaitTimeout


def post(url: str, payload: object, timeout: float = 5) -> tuple[int, str, dict[str, str]]:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read().decode(), dict(answer.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


@pytest.fixture
def chat():
    with ChatReceiver() as receiver:
        yield receiver


def test_a_post_is_recorded_with_body_headers_and_time_and_answered_ok(chat):
    before = time.time()
    status, answer, _ = post(chat.url, {"text": "Build succeeded", "blocks": []})
    assert (status, answer) == (200, "ok")
    (recorded,) = chat.posts()
    assert recorded.json == {"text": "Build succeeded", "blocks": []}
    assert recorded.headers["Content-Type"] == "application/json"
    assert before <= recorded.at <= time.time()
    assert recorded.delivered


def test_text_joins_text_and_block_texts(chat):
    post(
        chat.url,
        {
            "text": "Deployment succeeded",
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": "*gitops-sample*"}},
                {"type": "section", "fields": [{"type": "mrkdwn", "text": "commit abc123"}]},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": "<https://x|build>"}]},
            ],
        },
    )
    assert chat.posts()[0].text.splitlines() == [
        "Deployment succeeded",
        "*gitops-sample*",
        "commit abc123",
        "<https://x|build>",
    ]


@pytest.mark.parametrize(
    ("path_suffix", "body", "expected"),
    [
        ("", b"not json", (400, "invalid_payload")),
        ("", json.dumps({"username": "x"}).encode(), (400, "no_text")),
        ("", json.dumps(["text"]).encode(), (400, "invalid_payload")),
        ("-wrong", json.dumps({"text": "hi"}).encode(), (404, "no_service")),
    ],
)
def test_refusals_answer_as_slack_does_and_are_recorded(chat, path_suffix, body, expected):
    status, answer, _ = post(chat.url + path_suffix, body)
    assert (status, answer) == expected
    (recorded,) = chat.posts()  # nothing is lost, refused posts included
    assert (recorded.status, recorded.answer) == expected
    assert chat.delivered() == []


def test_scripted_failures_are_consumed_in_order_then_posts_succeed(chat):
    chat.fail(500, times=2)
    chat.fail(429, retry_after=3)
    answers = [post(chat.url, {"text": f"m{i}"}) for i in range(4)]
    assert [(s, a) for s, a, _ in answers] == [
        (500, "internal_error"),
        (500, "internal_error"),
        (429, "rate_limited"),
        (200, "ok"),
    ]
    assert answers[2][2]["Retry-After"] == "3"
    assert [p.json["text"] for p in chat.delivered()] == ["m3"]


def test_fail_until_recover(chat):
    chat.fail(503, times=None)
    assert [post(chat.url, {"text": "x"})[0] for _ in range(3)] == [503, 503, 503]
    chat.recover()
    assert post(chat.url, {"text": "x"})[0] == 200


def test_a_matched_fault_answers_only_the_posts_it_matches(chat):
    chat.fail(429, times=1, retry_after=1, match=lambda text: "Traffic shift" in text)
    assert post(chat.url, {"text": "Deployment succeeded"})[0] == 200  # not matched: the fault waits
    assert post(chat.url, {"text": "Traffic shift complete"})[0] == 429
    assert post(chat.url, {"text": "Traffic shift complete"})[0] == 200  # consumed


def test_a_slow_answer_times_the_client_out_but_the_post_is_recorded(chat):
    chat.slow(5)
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        post(chat.url, {"text": "late"}, timeout=0.3)
    assert [p.json["text"] for p in chat.posts()] == ["late"]


def test_wait_for_returns_when_a_matching_post_arrives(chat):
    threading.Timer(0.05, post, args=(chat.url, {"text": "Traffic shift complete: d-ABC"})).start()
    (found,) = chat.wait_for(
        lambda p: p.text.startswith("Traffic shift"), timeout=10, describe="traffic shift"
    )
    assert "d-ABC" in found.text


def test_wait_for_timeout_names_what_was_expected_and_what_arrived_without_the_url(chat):
    post(chat.url, {"text": "Build succeeded"})
    with pytest.raises(WaitTimeout) as err:
        chat.wait_for(lambda p: "Traffic" in p.text, timeout=0.2, describe="the traffic-shift message")
    message = str(err.value)
    assert "the traffic-shift message" in message
    assert "200 'Build succeeded'" in message
    assert chat.path not in message


def test_wait_for_counts_delivered_posts_only(chat):
    chat.fail(500)
    post(chat.url, {"text": "Build succeeded"})
    with pytest.raises(WaitTimeout):
        chat.wait_for(lambda p: "Build" in p.text, timeout=0.2)
    post(chat.url, {"text": "Build succeeded"})
    assert len(chat.wait_for(lambda p: "Build" in p.text, timeout=5)) == 1


def test_stop_releases_a_request_held_by_a_slow_answer():
    receiver = ChatReceiver().start()
    receiver.slow(60)
    worker = threading.Thread(target=lambda: post(receiver.url, {"text": "x"}, timeout=30))
    worker.start()
    receiver.wait_for(lambda p: True, timeout=5)  # recorded before its slow answer
    started = time.monotonic()
    receiver.stop()
    worker.join(10)
    assert not worker.is_alive()
    assert time.monotonic() - started < 10
