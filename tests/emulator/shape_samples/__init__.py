"""Shape-test requests for every operation of every registered control plane, one module per service
(named after the plane's service, dashes as underscores), each with `samples(plane) -> list[Sample]`.

tests/emulator/test_shapes.py runs them in order through a real boto3 client and checks every answer
against its botocore output shape; an implemented operation without a sample fails that test. They live
here, next to the tests, not in the planes: production code carries no test data.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from gitops_harness.emulator.controlplane import ControlPlane

Answers = dict[str, dict[str, Any]]  # {operation: its latest response}


@dataclass(frozen=True)
class Sample:
    """A request for the shape test. Samples run in order; `request` may be a function of the answers so
    far, to use an id an earlier sample created."""

    operation: str
    request: dict[str, Any] | Callable[[Answers], dict[str, Any]] = field(default_factory=dict)
    account_id: str = "111111111111"
    region: str = "us-east-1"


def samples_for(plane: ControlPlane) -> Iterable[Sample]:
    """The samples of `plane`: its service's module here, or (the test-only demo planes) its own method."""
    own = getattr(plane, "shape_samples", None)
    if callable(own):
        return own()
    module = importlib.import_module(f"shape_samples.{plane.service_name.replace('-', '_')}")
    return module.samples(plane)
