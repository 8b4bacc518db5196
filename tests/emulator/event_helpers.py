"""Event waits the emulator tests share, built on gitops_harness.probes and gitops_harness.waiting.

``EventProbe`` owns the queue and the rule; ``received_through`` is for tests that judge everything the
rule delivered up to a marker event (an exact list of deliveries, in arrival order), which a single
``wait_for`` does not return.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from gitops_harness.probes import EventProbe
from gitops_harness.waiting import wait_until

__all__ = ["EventProbe", "received_through"]


def received_through(
    probe: EventProbe, marker: Callable[[Any], bool], timeout: float, describe: str = "the marker event"
) -> list[Any]:
    """Every body the probe received, in arrival order, until one matches ``marker``; then what the queue
    already holds behind it (standard queues order best-effort). The bodies are taken from the probe, so a
    later call starts empty. Fails with the probe's summary of what arrived when the deadline passes."""
    end = time.monotonic() + timeout

    def arrived() -> bool:
        if not any(marker(m.body) for m in probe.pending):
            probe.receive(max(0.0, end - time.monotonic()))
        return any(marker(m.body) for m in probe.pending)

    wait_until(
        arrived,
        timeout=timeout,
        describe_expected=f"event {describe} on {probe.name}",
        describe_seen=lambda _: "; ".join(probe.summarize(m.body) for m in probe.pending) or "no events",
        interval=0,  # the long poll is the wait
    )
    while probe.receive(0):
        pass
    bodies = [m.body for m in probe.pending]
    probe.pending.clear()
    return bodies
