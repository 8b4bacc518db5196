"""Fixtures the harness's own tests share."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_harness.targets.localstack_host import VENV_ENV, HostLocalStack


@pytest.fixture(scope="module")
def localstack(request: pytest.FixtureRequest) -> Iterator[HostLocalStack]:
    """LocalStack 4.14.0 in host mode with the plugin, one per test module (skipped without its venv).
    A module's LOCALSTACK_TIME_SCALE, if it sets one, is the planes' time scale."""
    venv = os.environ.get(VENV_ENV)
    if not venv or not (Path(venv) / ".installed").exists():
        pytest.skip(f"LocalStack's venv is not built ({VENV_ENV}={venv}): make .venv-localstack/.installed")
    host = HostLocalStack(venv, time_scale=getattr(request.module, "LOCALSTACK_TIME_SCALE", None)).start()
    try:
        yield host
    finally:
        host.stop()
