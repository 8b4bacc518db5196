"""The scheduler on a FakeClock: time moves only when the test says so; waits are on events with deadlines."""

from __future__ import annotations

import threading

import pytest

from gitops_harness.emulator.scheduler import FakeClock, JobCancelled, Scheduler, Sleep, SystemClock, WaitFor

DEADLINE = 5.0  # real seconds a test waits for something that should happen at once


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def sched(clock):
    scheduler = Scheduler(clock, time_scale=1 / 60)
    yield scheduler
    assert scheduler.shutdown(timeout=DEADLINE), "scheduler threads did not stop"


def test_plain_function_job_returns_its_result(sched):
    job = sched.spawn(lambda a, b: a + b, 2, 3)
    assert job.wait(DEADLINE) and job.result == 5 and job.error is None


def test_sleep_is_scaled_and_only_the_fake_clock_moves_it(sched, clock):
    steps = []

    def deployment():
        steps.append("started")
        yield Sleep(300)  # 5 AWS minutes -> 5 clock seconds at 1/60
        steps.append("shifted")
        return "done"

    job = sched.spawn(deployment)
    assert sched.wait_idle(DEADLINE) and steps == ["started"]
    clock.advance(4.9)
    assert sched.wait_idle(DEADLINE) and not job.done.is_set()
    clock.advance(0.1)
    assert job.wait(DEADLINE) and job.result == "done" and steps == ["started", "shifted"]


def test_delayed_spawn_starts_when_due(sched, clock):
    started = threading.Event()
    job = sched.spawn(started.set, delay=60)  # one AWS minute = one clock second
    assert sched.wait_idle(DEADLINE) and not started.is_set()
    clock.advance(1)
    assert job.wait(DEADLINE) and started.is_set()


def test_wait_for_signal_and_for_timeout(sched, clock):
    approval = sched.signal("approval")
    answers = []

    def gate(timeout):
        answers.append((yield WaitFor(approval, timeout=timeout)))

    approved = sched.spawn(gate, 7 * 86400)
    expires = sched.spawn(gate, 60)
    assert sched.wait_idle(DEADLINE)
    clock.advance(1)  # the 60 AWS-second gate times out; the 7-day one keeps waiting
    assert expires.wait(DEADLINE) and answers == [False]
    approval.set()
    assert approved.wait(DEADLINE) and answers == [False, True]
    assert approval.wait(0) is True  # non-job threads can block on a signal too
    late = sched.spawn(gate, 10)  # an already-set signal answers at once
    assert late.wait(DEADLINE) and answers[-1] is True


def test_timers_fire_in_due_order(sched, clock):
    order = []

    def sleeper(name, seconds):
        yield Sleep(seconds)
        order.append(name)

    jobs = [sched.spawn(sleeper, name, seconds) for name, seconds in (("c", 180), ("a", 60), ("b", 120))]
    assert sched.wait_idle(DEADLINE)
    for _ in range(3):
        clock.advance(1)
        assert sched.wait_idle(DEADLINE)
    assert all(job.wait(DEADLINE) for job in jobs)
    assert order == ["a", "b", "c"]


def test_failing_job_keeps_its_error_and_the_scheduler_runs_on(sched):
    def broken():
        yield Sleep(0)
        raise RuntimeError("boom")

    job = sched.spawn(broken)
    assert job.wait(DEADLINE) and isinstance(job.error, RuntimeError)
    assert sched.spawn(lambda: "still running").wait(DEADLINE)


def test_yielding_something_else_is_an_error(sched):
    def wrong():
        yield 5

    job = sched.spawn(wrong)
    assert job.wait(DEADLINE) and isinstance(job.error, TypeError) and "yielded 5" in str(job.error)


def test_cancel_closes_a_waiting_job(sched):
    cleaned = threading.Event()

    def waiter():
        try:
            yield WaitFor(sched.signal(), timeout=None)
        finally:
            cleaned.set()

    job = sched.spawn(waiter)
    assert sched.wait_idle(DEADLINE)
    sched.cancel(job)
    assert job.wait(DEADLINE) and isinstance(job.error, JobCancelled) and cleaned.is_set()


def test_shutdown_cancels_waiting_jobs_and_joins_threads(clock):
    before = set(threading.enumerate())
    scheduler = Scheduler(clock)
    job = scheduler.spawn(lambda: (yield Sleep(3600)))
    assert scheduler.wait_idle(DEADLINE)
    assert scheduler.shutdown(timeout=DEADLINE)
    assert job.done.is_set() and isinstance(job.error, JobCancelled)
    assert not [t for t in set(threading.enumerate()) - before if t.name.startswith("emulator-")]
    with pytest.raises(RuntimeError):
        scheduler.spawn(lambda: None)


def test_system_clock_scheduler_runs_a_short_sleep():
    # the real clock, tiny scale: 1 AWS second = 1 ms; waits on the job's event with a deadline
    with Scheduler(SystemClock(), time_scale=0.001) as scheduler:
        job = scheduler.spawn(lambda: (yield Sleep(1)) or "woke")
        assert job.wait(DEADLINE) and job.result == "woke"


def test_bad_time_scale_and_clock_direction():
    with pytest.raises(ValueError):
        Scheduler(FakeClock(), time_scale=0)
    with pytest.raises(ValueError):
        FakeClock().advance(-1)
