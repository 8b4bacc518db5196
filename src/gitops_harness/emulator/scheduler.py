"""Long work (pipeline executions, builds, deployments) as jobs on worker threads, with a clock and a time scale.

A job is a function. If it is a generator function, it yields what it waits for and no thread is held
meanwhile:

    def deployment(sched):
        yield Sleep(300)                          # 5 AWS minutes = 5 s at time_scale 1/60
        approved = yield WaitFor(approval, timeout=7 * 86400)   # True if set, False on timeout
        ...
    job = scheduler.spawn(deployment, scheduler)

Durations are AWS seconds; the scheduler multiplies them by `time_scale` to get clock seconds. The clock
is injectable: SystemClock in the emulator, FakeClock in tests (advance() moves time deterministically
and wakes the timer thread; nothing sleeps for real).
"""

from __future__ import annotations

import heapq
import inspect
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


class Clock:
    """Monotonic seconds, and a way for the timer thread to wait until a deadline."""

    def now(self) -> float:
        raise NotImplementedError

    def subscribe(self, condition: threading.Condition) -> None:
        """Called once by a scheduler: a clock that moves by itself notifies this condition."""

    def wait(self, condition: threading.Condition, deadline: float | None) -> None:
        """Wait on `condition` (held by the caller) until `deadline`, a notify, or a clock move."""
        raise NotImplementedError


class SystemClock(Clock):
    def now(self) -> float:
        return time.monotonic()

    def wait(self, condition: threading.Condition, deadline: float | None) -> None:
        condition.wait(None if deadline is None else max(0.0, deadline - self.now()))


class FakeClock(Clock):
    """Time moves only when a test calls advance()."""

    def __init__(self, start: float = 0.0):
        self._now = start
        self._lock = threading.Lock()
        self._listeners: list[threading.Condition] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def subscribe(self, condition: threading.Condition) -> None:
        with self._lock:
            self._listeners.append(condition)

    def wait(self, condition: threading.Condition, deadline: float | None) -> None:
        condition.wait()  # woken by advance() or by the scheduler itself

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += seconds
            listeners = list(self._listeners)
        for condition in listeners:
            with condition:
                condition.notify_all()


@dataclass(frozen=True)
class Sleep:
    seconds: float  # AWS seconds


@dataclass(frozen=True)
class WaitFor:
    signal: Signal
    timeout: float | None = None  # AWS seconds; None waits for ever (until cancelled)


class JobCancelled(Exception):
    pass


class Signal:
    """A flag jobs can wait on without holding a thread; other threads may also block on it."""

    def __init__(self, scheduler: Scheduler, name: str = ""):
        self._scheduler = scheduler
        self.name = name
        self._set = False
        self._event = threading.Event()
        self._waiters: list[tuple[Job, int]] = []

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._scheduler._fire(self)

    def clear(self) -> None:
        with self._scheduler._cond:
            self._set = False
            self._event.clear()

    def wait(self, timeout: float) -> bool:
        """Block a non-job thread (a test, a handler) up to `timeout` real seconds."""
        return self._event.wait(timeout)


class Job:
    def __init__(self, target: Callable[..., Any], args: tuple[Any, ...], name: str):
        self.name = name
        self._target = target
        self._args = args
        self._gen: Generator[Any, Any, Any] | None = None
        self._token: int | None = (
            None  # the current wait; a timer or signal resumes the job only if it matches
        )
        self._cancelled = False
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def wait(self, timeout: float) -> bool:
        return self.done.wait(timeout)

    def __repr__(self) -> str:
        state = "done" if self.done.is_set() else "waiting" if self._token is not None else "active"
        return f"<Job {self.name} {state}>"


_SHUTDOWN = object()
_CANCEL = object()


class Scheduler:
    def __init__(self, clock: Clock | None = None, time_scale: float = 1.0, workers: int = 8):
        if time_scale <= 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale}")
        self.clock = clock or SystemClock()
        self.time_scale = time_scale
        self._cond = threading.Condition()
        self._timers: list[tuple[float, int, Job, int]] = []
        self._ready: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._seq = itertools.count()
        self._tokens = itertools.count(1)
        self._jobs: set[Job] = set()
        self._active = 0  # jobs queued or running (not those waiting on a timer or signal)
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._worker_count = workers
        self.clock.subscribe(self._cond)

    # ---- public API ------------------------------------------------------------------------------

    def spawn(self, target: Callable[..., Any], *args: Any, name: str | None = None, delay: float = 0) -> Job:
        """Run target(*args) on a worker, after `delay` AWS seconds."""
        job = Job(target, args, name or getattr(target, "__name__", "job"))
        with self._cond:
            if self._stopping:
                raise RuntimeError("the scheduler is shut down")
            self._start_threads()
            self._jobs.add(job)
            if delay > 0:
                self._add_timer(job, delay, None)
            else:
                self._enqueue(job, None)
        return job

    def signal(self, name: str = "") -> Signal:
        return Signal(self, name)

    def to_clock(self, aws_seconds: float) -> float:
        return aws_seconds * self.time_scale

    def cancel(self, job: Job) -> None:
        with self._cond:
            if job.done.is_set():
                return
            job._cancelled = True
            if job._token is not None:  # waiting: wake it so it can be closed now
                job._token = None
                self._enqueue(job, _CANCEL)

    def wait_idle(self, timeout: float) -> bool:
        """Until no job is queued or running (jobs waiting on timers/signals do not count)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._active:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def pending(self) -> list[Job]:
        with self._cond:
            return [job for job in self._jobs if not job.done.is_set()]

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Cancel waiting jobs, stop the threads and join them. False if a job kept a worker busy."""
        with self._cond:
            if self._stopping and not self._threads:
                return True
            self._stopping = True
            for job in list(self._jobs):
                if not job.done.is_set():
                    job._cancelled = True
                    if job._token is not None:
                        job._token = None
                        self._enqueue(job, _CANCEL)
            self._timers.clear()
            for _ in range(self._worker_count):
                self._ready.put(_SHUTDOWN)
            self._cond.notify_all()
            threads, self._threads = self._threads, []
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in threads)

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # ---- internals (callers hold self._cond unless noted) -----------------------------------------

    def _start_threads(self) -> None:
        if self._threads:
            return
        timer = threading.Thread(target=self._timer_loop, name="emulator-timer", daemon=True)
        self._threads.append(timer)
        for index in range(self._worker_count):
            self._threads.append(
                threading.Thread(target=self._worker_loop, name=f"emulator-worker-{index}", daemon=True)
            )
        for thread in self._threads:
            thread.start()

    def _enqueue(self, job: Job, value: Any) -> None:
        self._active += 1
        self._ready.put((job, value))

    def _add_timer(self, job: Job, aws_seconds: float, token: int | None) -> None:
        due = self.clock.now() + self.to_clock(aws_seconds)
        if token is None:
            token = next(self._tokens)
            job._token = token
        heapq.heappush(self._timers, (due, next(self._seq), job, token))
        self._cond.notify_all()

    def _fire(self, signal: Signal) -> None:
        with self._cond:
            signal._set = True
            signal._event.set()
            waiters, signal._waiters = signal._waiters, []
            for job, token in waiters:
                if job._token == token:
                    job._token = None
                    self._enqueue(job, True)

    def _timer_loop(self) -> None:
        with self._cond:
            while not self._stopping:
                now = self.clock.now()
                while self._timers and self._timers[0][0] <= now:
                    _, _, job, token = heapq.heappop(self._timers)
                    if job._token == token:
                        job._token = None
                        self._enqueue(job, False)  # False: a WaitFor timed out (a Sleep ignores it)
                deadline = self._timers[0][0] if self._timers else None
                self.clock.wait(self._cond, deadline)

    def _worker_loop(self) -> None:
        while True:
            item = self._ready.get()
            if item is _SHUTDOWN:
                return
            job, value = item
            try:
                self._step(job, value)
            finally:
                with self._cond:
                    self._active -= 1
                    self._cond.notify_all()

    def _step(self, job: Job, value: Any) -> None:
        """Run the job up to its next wait (no lock held while job code runs)."""
        try:
            if job._cancelled or value is _CANCEL:
                if job._gen is not None:
                    job._gen.close()
                raise JobCancelled(job.name)
            if job._gen is None:
                outcome = job._target(*job._args)
                if not inspect.isgenerator(outcome):
                    self._finish(job, result=outcome)
                    return
                job._gen = outcome
                command = job._gen.send(None)
            else:
                command = job._gen.send(value)
        except StopIteration as stop:
            self._finish(job, result=stop.value)
            return
        except JobCancelled as exc:
            self._finish(job, error=exc)
            return
        except Exception as exc:
            log.exception("emulator job %s failed", job.name)
            self._finish(job, error=exc)
            return
        self._wait(job, command)

    def _wait(self, job: Job, command: Any) -> None:
        with self._cond:
            if self._stopping or job._cancelled:
                self._enqueue(job, _CANCEL)
            elif isinstance(command, Sleep):
                self._add_timer(job, command.seconds, None)
            elif isinstance(command, WaitFor | Signal):
                wait = command if isinstance(command, WaitFor) else WaitFor(command)
                if wait.signal._set:
                    self._enqueue(job, True)
                    return
                token = next(self._tokens)
                job._token = token
                wait.signal._waiters.append((job, token))
                if wait.timeout is not None:
                    self._add_timer(job, wait.timeout, token)
            else:
                job._gen.close()  # type: ignore[union-attr]
                self._finish_locked(
                    job,
                    error=TypeError(
                        f"job {job.name} yielded {command!r}: yield Sleep(...), WaitFor(...) or a Signal"
                    ),
                )

    def _finish(self, job: Job, result: Any = None, error: BaseException | None = None) -> None:
        with self._cond:
            self._finish_locked(job, result, error)

    def _finish_locked(self, job: Job, result: Any = None, error: BaseException | None = None) -> None:
        job.result, job.error = result, error
        self._jobs.discard(job)
        job.done.set()
