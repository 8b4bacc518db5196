"""The live traffic probe against a real local HTTP server whose answer the test switches."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gitops_harness.traffic import TrafficProbe, version_from_json
from gitops_harness.waiting import WaitTimeout


class SwitchableService:
    """Answers {"version": ...} with the current version and status; the test flips them."""

    def __init__(self) -> None:
        self.version = "1.0.0"
        self.status = 200
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as an ALB listener answers

            def do_GET(self) -> None:  # noqa: N802
                body = json.dumps({"service": "s", "version": service.version}).encode()
                self.send_response(service.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def service() -> Iterator[SwitchableService]:
    running = SwitchableService()
    running.thread.start()
    yield running
    running.server.shutdown()
    running.server.server_close()


def test_the_probe_sees_the_version_move_and_no_errors(service):
    with TrafficProbe(service.url, rate=100, max_seconds=30) as probe:
        probe.wait_for_version("1.0.0", timeout=5)
        probe.wait_for_requests(5, timeout=5)
        service.version = "2.0.0"
        green = probe.wait_for_version("2.0.0", timeout=5)
        probe.wait_for_requests(len(probe.samples()) + 5, timeout=5)
    summary = probe.summary()
    assert summary.errors == ()
    assert summary.versions == ("1.0.0", "2.0.0")
    assert summary.moved("1.0.0", "2.0.0")
    assert not summary.moved("2.0.0", "1.0.0")
    assert summary.first_answer("2.0.0") == green
    assert summary.versions_after(green.offset) == {"2.0.0"}
    assert summary.final_version == "2.0.0"
    assert not probe.running


def test_answers_outside_2xx_and_refused_connections_are_errors(service):
    service.status = 503
    with TrafficProbe(service.url, rate=100, max_requests=3) as probe:
        probe.wait_for_requests(3, timeout=5)
    summary = probe.summary()
    assert summary.requests == 3 and len(summary.errors) == 3
    assert summary.errors[0].status == 503 and "503" in summary.describe()

    service.server.shutdown()
    service.server.server_close()
    with TrafficProbe(service.url, rate=100, max_requests=2, timeout=1) as refused:
        refused.wait_for_requests(2, timeout=5)
    [first, _] = refused.summary().errors
    assert first.status is None and first.error


def test_the_probe_keeps_its_rate_and_stops_at_its_bounds(service):
    probe = TrafficProbe(service.url, rate=50, max_seconds=0.4).start()
    probe.wait_for_requests(1, timeout=5)
    probe._thread.join(timeout=5)  # ends by itself at max_seconds
    assert not probe.running
    summary = probe.stop()
    # 0.4 s at 50/s is 20 requests on a fixed schedule; a loaded machine may fall behind, never ahead.
    assert 5 <= summary.requests <= 20
    assert all(s.offset >= n / 50 for n, s in enumerate(summary.samples))
    assert summary.samples[-1].offset < 0.4


def test_a_version_that_never_answers_times_out_with_what_was_seen(service):
    with TrafficProbe(service.url, rate=50, max_seconds=5) as probe, pytest.raises(WaitTimeout) as timeout:
        probe.wait_for_version("9.9.9", timeout=0.3)
    assert "'1.0.0'" in str(timeout.value) and "9.9.9" in str(timeout.value)


def test_version_from_json_reads_the_sample_apps_answer():
    assert version_from_json(b'{"service": "gitops-sample", "version": "1.2.3+abc"}') == "1.2.3+abc"
    assert version_from_json(b"") is None
    assert version_from_json(b"[1]") is None
    assert version_from_json(b"<html>") is None


def test_bad_bounds_are_refused():
    with pytest.raises(ValueError, match="rate"):
        TrafficProbe("http://127.0.0.1:1/", rate=0)


def test_waits_on_samples_wake_at_the_next_sample_not_at_the_deadline(service):
    # A probe sending one request every 30 s: its first sample comes at once, the next only after
    # 30 s. A sleep that ends at a recorded sample returns with the first; one that ignores samples
    # would sit out its 20 s.
    with TrafficProbe(service.url, rate=1 / 30, max_seconds=60) as probe:
        woke = threading.Event()
        sleeper = threading.Thread(target=lambda: (probe.sleep_until_sample(20), woke.set()), daemon=True)
        sleeper.start()
        assert woke.wait(10), "sleep_until_sample slept past the probe's first sample"
        assert len(probe.samples()) == 1
