"""emulator/common/records.py: bounded log, wait_for with a deadline and a message that helps."""

from __future__ import annotations

import threading

import pytest

from gitops_harness.emulator.common.records import RecordLog


def test_bounded_and_ordered() -> None:
    log = RecordLog("thing", maxlen=3)
    for i in range(5):
        log.append({"i": i})
    assert [r["i"] for r in log.records()] == [2, 3, 4]
    assert len(log) == 3


def test_wait_for_a_record_appended_by_another_thread() -> None:
    log = RecordLog("delivery")
    started = threading.Event()

    def producer() -> None:
        started.wait(5)
        log.append({"outcome": "delivered"})

    thread = threading.Thread(target=producer)
    thread.start()
    started.set()
    assert log.wait_for(lambda r: r["outcome"] == "delivered", timeout=5) == {"outcome": "delivered"}
    thread.join()


def test_timeout_names_what_was_expected_and_what_was_seen() -> None:
    log = RecordLog("EventBridge delivery")
    log.append({"outcome": "failed"})
    with pytest.raises(TimeoutError) as caught:
        log.wait_for(lambda r: r["outcome"] == "delivered", timeout=0.05, expected="outcome delivered")
    message = str(caught.value)
    assert "EventBridge delivery matching outcome delivered" in message
    assert "'outcome': 'failed'" in message
