"""LocalStack 4.14.0 in host mode with the plugin, for the LocalStack test modules' `localstack` fixtures.

A helper, not a conftest.py fixture: `make test-localstack` runs these modules in one process with
suites/e2e, whose modules import their own conftest.py as `conftest`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_harness.targets.localstack_host import VENV_ENV, HostLocalStack


def started_localstack(time_scale: float | None = None) -> Iterator[HostLocalStack]:
    """Start one (skipping the test when LocalStack's venv is not built), yield it, stop it."""
    venv = os.environ.get(VENV_ENV)
    if not venv or not (Path(venv) / ".installed").exists():
        pytest.skip(f"LocalStack's venv is not built ({VENV_ENV}={venv}): make .venv-localstack/.installed")
    host = HostLocalStack(venv, time_scale=time_scale).start()
    try:
        yield host
    finally:
        host.stop()
