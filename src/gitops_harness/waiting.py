"""Waits with a deadline: poll a check with exponential backoff until it is satisfied or time runs out.

Helpers come in pairs, as in Terratest: ``wait_until_e`` returns ``(value, error)`` for callers that
decide what a timeout means; ``wait_until`` raises the error, a ``WaitTimeout`` (an AssertionError, so
pytest reports a failure, not an error) whose message says what was expected, what was last seen and
how long it waited.

Use a probe (probes.py) when an event exists; poll with this when the only signal is an API's state
(a stack's status, a pipeline execution's state). A check may itself block on the event (an SQS long
poll): pass ``interval=0`` so nothing sleeps between checks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

_NOTHING: Any = object()


class WaitTimeout(AssertionError):
    """The deadline passed before the check was satisfied."""

    def __init__(self, expected: str, seen: str, waited: float, attempts: int, error: BaseException | None):
        self.expected = expected
        self.seen = seen
        self.waited = waited
        self.attempts = attempts
        self.last_error = error
        message = f"expected {expected} within {waited:.1f}s ({attempts} checks); last seen: {seen}"
        if error is not None:
            message += f" (last check raised {type(error).__name__}: {error})"
        super().__init__(message)


@dataclass(frozen=True)
class Backoff:
    """Intervals between checks: ``interval`` growing by ``factor`` up to ``max_interval``."""

    interval: float = 0.1
    factor: float = 1.6
    max_interval: float = 2.0

    def delays(self) -> Iterator[float]:
        delay = self.interval
        while True:
            yield delay
            delay = min(delay * self.factor, self.max_interval)


def wait_until_e(
    check: Callable[[], T],
    *,
    timeout: float,
    describe_expected: str,
    describe_seen: Callable[[T], str] = repr,
    accept: Callable[[T], bool] = bool,
    interval: float = 0.1,
    max_interval: float = 2.0,
    factor: float = 1.6,
    retry_on: tuple[type[BaseException], ...] = (),
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T | None, WaitTimeout | None]:
    """Call ``check`` until ``accept(value)``; ``(value, None)`` then, else ``(None, WaitTimeout)``.

    Exceptions of ``retry_on`` types count as "not yet" (and show in the timeout message); any other
    exception propagates at once: a broken check must not look like a slow one. The check always runs
    at least once, and once more at the deadline if the last sleep ended there.
    """
    start = clock()
    deadline = start + timeout
    delays = Backoff(interval, factor, max_interval).delays()
    attempts = 0
    last: Any = _NOTHING
    last_error: BaseException | None = None
    while True:
        attempts += 1
        try:
            value = check()
        except retry_on as exc:
            last_error = exc
        else:
            last_error = None
            last = value
            if accept(value):
                return value, None
        remaining = deadline - clock()
        if remaining <= 0:
            break
        delay = next(delays)
        if delay > 0:
            sleep(min(delay, remaining))
    seen = "nothing (no check completed)" if last is _NOTHING else describe_seen(last)
    return None, WaitTimeout(describe_expected, seen, clock() - start, attempts, last_error)


def wait_until(
    check: Callable[[], T],
    *,
    timeout: float,
    describe_expected: str,
    describe_seen: Callable[[T], str] = repr,
    accept: Callable[[T], bool] = bool,
    interval: float = 0.1,
    max_interval: float = 2.0,
    factor: float = 1.6,
    retry_on: tuple[type[BaseException], ...] = (),
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``wait_until_e`` that returns the accepted value or raises its WaitTimeout."""
    value, error = wait_until_e(
        check,
        timeout=timeout,
        describe_expected=describe_expected,
        describe_seen=describe_seen,
        accept=accept,
        interval=interval,
        max_interval=max_interval,
        factor=factor,
        retry_on=retry_on,
        clock=clock,
        sleep=sleep,
    )
    if error is not None:
        raise error
    return value  # type: ignore[return-value]
