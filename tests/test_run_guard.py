"""RunGuard's deadline: raised where it unwinds the run, even if the first ring lands where Python drops it."""

from __future__ import annotations

import pytest

from gitops_harness.run_guard import RunGuard, RunTimedOut
from gitops_harness.waiting import wait_until, wait_until_e


def test_a_deadline_dropped_where_it_landed_rings_again() -> None:
    # SIGALRM's RunTimedOut can land in a weakref finalizer or a __del__, where Python only prints it.
    dropped: list[RunTimedOut] = []
    with pytest.raises(RunTimedOut), RunGuard(timeout=0.2):
        try:
            wait_until(lambda: False, timeout=10, describe_expected="the deadline")
        except RunTimedOut as first:  # as such a place would: printed and dropped
            dropped.append(first)
        wait_until(lambda: False, timeout=10, describe_expected="the deadline to ring again")
    assert len(dropped) == 1


def test_teardown_after_the_deadline_is_not_rung_again() -> None:
    notes: list[str] = []
    guard = RunGuard(timeout=0.2, note=notes.append)
    with pytest.raises(RunTimedOut), guard:
        try:
            wait_until(lambda: False, timeout=10, describe_expected="the deadline")
        finally:
            with guard.shielded():  # teardown longer than the repeat interval
                _, quiet = wait_until_e(lambda: notes, timeout=1.5, describe_expected="a note")
    assert quiet is not None and notes == [] and guard.deferred == []


def test_a_deadline_during_teardown_is_noted_once() -> None:
    notes: list[str] = []
    guard = RunGuard(timeout=0.2, note=notes.append)
    with guard, guard.shielded():
        wait_until(lambda: notes, timeout=10, describe_expected="the deadline's note")
        _, more = wait_until_e(lambda: len(notes) > 1, timeout=1.5, describe_expected="a second note")
    assert more is not None and len(guard.deferred) == 1
