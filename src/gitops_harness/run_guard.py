"""Make every way a run can end go through ``finally``: SIGTERM (what GitLab sends a cancelled job) and
SIGHUP raise ``RunCancelled``, the run's deadline raises ``RunTimedOut`` and Ctrl-C stays
KeyboardInterrupt. All three are KeyboardInterrupt subclasses: ``except Exception`` in the steps cannot
swallow them, and the cli already turns them into one line and exit code 130.

    with RunGuard(timeout=45 * 60) as guard:
        try:
            ...                        # the run
        finally:
            with guard.shielded():     # teardown: a second signal is noted, not raised
                cleanup()

Signals can be handled only in the main thread; elsewhere the guard does nothing (and says so in
``active``), and the target's stop() still runs from the ``with`` block.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any


class RunAborted(KeyboardInterrupt):
    """The run was stopped from outside; teardown runs, then the process exits."""


class RunCancelled(RunAborted):
    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"cancelled by {signal.Signals(signum).name}")


class RunTimedOut(RunAborted):
    def __init__(self, seconds: float):
        self.seconds = seconds
        super().__init__(f"the run's deadline ({seconds:.0f}s) passed")


_CANCEL_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
# A deadline's RunTimedOut is raised wherever the main thread is when SIGALRM comes; in a weakref
# finalizer or a __del__ Python only prints it ("Exception ignored in ...") and the run would go on past
# its deadline. So the deadline rings again this often until it unwinds the run.
DEADLINE_REPEAT_SECONDS = 1.0


class RunGuard:
    def __init__(self, timeout: float | None = None, *, note: Callable[[str], None] | None = None):
        self.timeout = timeout
        self.active = False
        self._note = note or (lambda message: print(message, file=sys.stderr, flush=True))
        self._previous: dict[int, Any] = {}
        self._shielded = False
        self._deadline_passed = False
        self.deferred: list[str] = []

    def __enter__(self) -> RunGuard:
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum in (*_CANCEL_SIGNALS, signal.SIGALRM, signal.SIGINT):
            self._previous[signum] = signal.getsignal(signum)
        for signum in _CANCEL_SIGNALS:
            signal.signal(signum, self._on_cancel)
        signal.signal(signal.SIGINT, self._on_interrupt)
        if self.timeout is not None:
            signal.signal(signal.SIGALRM, self._on_deadline)
            signal.setitimer(signal.ITIMER_REAL, self.timeout)
        self.active = True
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.active:
            return
        signal.setitimer(signal.ITIMER_REAL, 0)
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self.active = False

    @contextlib.contextmanager
    def shielded(self) -> Iterator[None]:
        """Teardown runs to its end: signals and the deadline are noted, not raised, meanwhile. (The
        teardown's own waits have deadlines; SIGKILL, which GitLab sends after its grace period, still
        ends it, and `gitops-harness sweep` finds what is left.)"""
        was, self._shielded = self._shielded, True
        if self._deadline_passed and self.active:  # it unwound the run: no second ring in teardown
            signal.setitimer(signal.ITIMER_REAL, 0)
        try:
            yield
        finally:
            self._shielded = was

    def _raise_or_defer(self, error: RunAborted) -> None:
        if self._shielded:
            self.deferred.append(str(error))
            self._note(f"gitops-harness: {error} during teardown: finishing the teardown first")
            return
        raise error

    def _on_cancel(self, signum: int, frame: FrameType | None) -> None:
        self._raise_or_defer(RunCancelled(signum))

    def _on_interrupt(self, signum: int, frame: FrameType | None) -> None:
        self._raise_or_defer(RunAborted("interrupted (Ctrl-C)"))

    def _on_deadline(self, signum: int, frame: FrameType | None) -> None:
        self._deadline_passed = True
        if not self._shielded:  # until teardown's shield or __exit__ stops it; in teardown noted once
            signal.setitimer(signal.ITIMER_REAL, DEADLINE_REPEAT_SECONDS)
        self._raise_or_defer(RunTimedOut(self.timeout or 0.0))
