"""A live traffic probe: HTTP GETs through a listener URL at a steady rate, on a background thread.

    with TrafficProbe(url, rate=20, max_seconds=120) as probe:
        ...                                   # a deployment shifts traffic meanwhile
        probe.wait_for_version(green, timeout=30)
    summary = probe.summary()                 # errors, versions in order, first time green answered

Every request is one Sample: when it was sent, its status (None when no answer came), the version the
service reported and the first bytes of the body. An error is a connection failure, a timeout or an
answer outside 2xx: what a user of the service would have seen. The probe stops at ``max_requests``,
at ``max_seconds`` or at stop(), whichever comes first, so a test that forgets it cannot hang.

The rate is kept against a fixed schedule (request n is due at start + n / rate): a slow answer delays
the next request, it does not shift the whole schedule.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import urllib3

from gitops_harness.waiting import wait_until

_BODY_KEPT = 200  # bytes of each body kept for error messages


def version_from_json(body: bytes) -> str | None:
    """The sample app's answer: {"service": ..., "version": "..."}; None for anything else."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    version = document.get("version") if isinstance(document, dict) else None
    return str(version) if version is not None else None


@dataclass(frozen=True)
class Sample:
    offset: float  # seconds since the probe started
    at: datetime  # wall-clock time the request was sent (UTC)
    status: int | None  # HTTP status, None when no answer came
    version: str | None
    body: bytes = b""
    error: str | None = None  # why there was no answer (connection refused, timeout...)
    seconds: float = 0.0  # how long the answer took

    @property
    def failed(self) -> bool:
        return self.status is None or not 200 <= self.status < 300

    def describe(self) -> str:
        what = self.error or f"HTTP {self.status} {self.body[:80]!r}"
        return f"+{self.offset:.2f}s {what}"


@dataclass(frozen=True)
class TrafficSummary:
    url: str
    requests: int
    errors: tuple[Sample, ...]
    versions: tuple[str | None, ...]  # distinct versions in the order they first answered
    first_seen: dict[str | None, float]  # version -> offset of its first answer
    last_seen: dict[str | None, float]  # version -> offset of its last answer
    duration: float
    final_version: str | None  # the version of the last successful answer
    samples: tuple[Sample, ...] = field(repr=False, default=())

    def describe(self) -> str:
        errors = f"{len(self.errors)} error(s)"
        if self.errors:
            errors += " (first: " + self.errors[0].describe() + ")"
        order = " -> ".join(repr(v) for v in self.versions) or "no answers"
        return f"{self.requests} request(s) in {self.duration:.1f}s to {self.url}: {errors}; versions {order}"

    def first_answer(self, version: str | None) -> Sample | None:
        return next((s for s in self.samples if not s.failed and s.version == version), None)

    def versions_after(self, offset: float) -> set[str | None]:
        """Versions that answered at or after ``offset`` (seconds since the probe started)."""
        return {s.version for s in self.samples if not s.failed and s.offset >= offset}

    def moved(self, old: str | None, new: str | None) -> bool:
        """True when answers went from ``old`` to ``new``: ``old`` answered first, ``new`` last, and no
        third version answered in between (during a weighted shift both answer, in any mix)."""
        successes = [s for s in self.samples if not s.failed]
        if not successes or successes[0].version != old or successes[-1].version != new:
            return False
        return set(self.versions) <= {old, new}


class TrafficProbe:
    """GETs ``url`` ``rate`` times a second on a daemon thread until stopped or a bound is reached."""

    def __init__(
        self,
        url: str,
        *,
        rate: float = 20.0,
        max_seconds: float = 300.0,
        max_requests: int | None = None,
        timeout: float = 2.0,
        version_of: Callable[[bytes], str | None] = version_from_json,
    ):
        if rate <= 0 or max_seconds <= 0:
            raise ValueError(
                f"rate and max_seconds must be positive (got rate={rate}, max_seconds={max_seconds})"
            )
        self.url = url
        self.rate = rate
        self.max_seconds = max_seconds
        self.max_requests = max_requests
        self.version_of = version_of
        # One kept-alive connection pool, no retries: a retried error would hide what a user saw.
        self._http = urllib3.PoolManager(
            maxsize=1, retries=False, timeout=urllib3.Timeout(connect=timeout, read=timeout)
        )
        self._samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._new_sample = threading.Event()  # set by each recorded sample: waits wake on news, not a tick
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self._ended: float | None = None

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> TrafficProbe:
        if self._thread is not None:
            raise RuntimeError("the traffic probe is already started")
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"traffic-probe {self.url}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> TrafficSummary:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._http.clear()
        return self.summary()

    def __enter__(self) -> TrafficProbe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        try:
            for due in self._schedule():
                delay = due - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
                self._record(self._get())
        finally:
            self._ended = time.monotonic()

    def _schedule(self) -> Iterator[float]:
        n = 0
        while not self._stop.is_set():
            if n / self.rate >= self.max_seconds or time.monotonic() - self._started >= self.max_seconds:
                return
            if self.max_requests is not None and n >= self.max_requests:
                return
            yield self._started + n / self.rate
            n += 1

    def _get(self) -> Sample:
        sent = time.monotonic()
        at = datetime.now(UTC)
        try:
            response = self._http.request("GET", self.url, preload_content=True)
        except urllib3.exceptions.HTTPError as exc:
            return Sample(
                sent - self._started,
                at,
                None,
                None,
                error=f"{type(exc).__name__}: {exc}",
                seconds=time.monotonic() - sent,
            )
        body = response.data or b""
        version = self.version_of(body) if 200 <= response.status < 300 else None
        return Sample(
            sent - self._started,
            at,
            response.status,
            version,
            body[:_BODY_KEPT],
            seconds=time.monotonic() - sent,
        )

    def _record(self, sample: Sample) -> None:
        with self._lock:
            self._samples.append(sample)
        self._new_sample.set()

    def sleep_until_sample(self, seconds: float) -> None:
        """wait_until's sleep for checks on the samples: ends at the next recorded sample, or after
        ``seconds``. A sample recorded between a check and this call ends it at once."""
        self._new_sample.wait(seconds)
        self._new_sample.clear()

    # -- what it saw ----------------------------------------------------------------------------------

    def samples(self) -> list[Sample]:
        with self._lock:
            return list(self._samples)

    def summary(self) -> TrafficSummary:
        samples = self.samples()
        first: dict[str | None, float] = {}
        last: dict[str | None, float] = {}
        for s in samples:
            if s.failed:
                continue
            first.setdefault(s.version, s.offset)
            last[s.version] = s.offset
        successes = [s for s in samples if not s.failed]
        end = self._ended if self._ended is not None else time.monotonic()
        return TrafficSummary(
            url=self.url,
            requests=len(samples),
            errors=tuple(s for s in samples if s.failed),
            versions=tuple(first),
            first_seen=first,
            last_seen=last,
            duration=(end - self._started) if self._started else 0.0,
            final_version=successes[-1].version if successes else None,
            samples=tuple(samples),
        )

    def wait_for_version(self, version: str | None, timeout: float) -> Sample:
        """The first sample (from now on or earlier) answered by ``version``."""

        def answered() -> Sample | None:
            return next((s for s in self.samples() if not s.failed and s.version == version), None)

        return wait_until(
            answered,
            timeout=timeout,
            interval=0.05,
            max_interval=0.5,
            describe_expected=f"an answer from version {version!r} through {self.url}",
            describe_seen=lambda _: self.summary().describe() + ("" if self.running else " (probe stopped)"),
            sleep=self.sleep_until_sample,
        )

    def wait_for_requests(self, count: int, timeout: float) -> None:
        """Wait until the probe has sent ``count`` requests in all (to bracket an event with traffic)."""
        wait_until(
            lambda: len(self.samples()) >= count,
            timeout=timeout,
            interval=0.05,
            max_interval=0.5,
            describe_expected=f"{count} request(s) through {self.url}",
            describe_seen=lambda _: self.summary().describe(),
            sleep=self.sleep_until_sample,
        )


def wait_until_serving(url: str, timeout: float, rate: float = 20.0) -> Sample:
    """The first successful answer from ``url``: a listener whose targets are still being health
    checked answers 503 first, which is not what a probe started afterwards should count."""
    with TrafficProbe(url, rate=rate, max_seconds=timeout) as probe:
        return wait_until(
            lambda: next((s for s in probe.samples() if not s.failed), None),
            timeout=timeout,
            interval=0.05,
            max_interval=0.5,
            describe_expected=f"a successful answer through {url}",
            describe_seen=lambda _: probe.summary().describe(),
            sleep=probe.sleep_until_sample,
        )
