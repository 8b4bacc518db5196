"""The test-listener-first claim, judged from two sampled probes: switches a few ms apart (no
AfterAllowTestTraffic hook) are not a failure; the test listener still answering blue after prod served
green is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from gitops_harness.release import ReleaseRun
from gitops_harness.traffic import Sample, TrafficSummary

T0 = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)


def _probe(*answers: tuple[float, str]) -> TrafficSummary:
    samples = tuple(Sample(t, T0 + timedelta(seconds=t), 200, v) for t, v in answers)
    return TrafficSummary("http://x", len(samples), (), (), {}, {}, 1.0, samples[-1].version, samples)


def _problems(test: TrafficSummary, prod: TrafficSummary) -> list[str]:
    return ReleaseRun._test_first_problems(SimpleNamespace(test=test, prod=prod, green_version="green"))


def test_prod_seen_green_a_millisecond_before_the_test_probe_samples_is_not_a_failure():
    test = _probe((0.000, "blue"), (0.050, "blue"), (0.101, "green"))
    prod = _probe((0.000, "blue"), (0.100, "green"))
    assert _problems(test, prod) == []


def test_the_test_listener_still_on_blue_after_prod_served_green_fails():
    test = _probe((0.000, "blue"), (0.150, "blue"), (0.200, "green"))
    prod = _probe((0.000, "blue"), (0.100, "green"))
    [problem] = _problems(test, prod)
    assert "still served 'blue'" in problem


def test_a_test_listener_that_never_serves_green_fails():
    [problem] = _problems(_probe((0.0, "blue")), _probe((0.0, "blue")))
    assert "never served 'green'" in problem
