"""Fixtures for the end-to-end suites: every test leaves the shared pipeline idle for the next one."""

from __future__ import annotations

import pytest

# Deadlines in wall-clock seconds on the embedded target (AWS minutes are scaled to seconds there).
TRIGGER_DEADLINE = 60
BUILD_DEADLINE = 240


@pytest.fixture
def idle_pipeline(pipeline):
    """The pipeline; every execution the test left running is abandoned afterwards, so SUPERSEDED
    ordering in one test never leaks into the next."""
    yield pipeline
    pipeline.stop_running_executions("test finished")
