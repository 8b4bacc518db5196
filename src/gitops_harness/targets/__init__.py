"""Targets: where the pipeline runs (embedded emulator today; localstack and aws plug in as subclasses).

target = make_target(config)            # the configured default, or make_target(config, "embedded")
with target:
    target.client("codepipeline", "pipeline")
    require(target, "manual-approval")  # pytest.skip with the reason when the target lacks it
"""

from __future__ import annotations

from gitops_harness.config import HarnessConfig
from gitops_harness.errors import InputError
from gitops_harness.targets.base import (
    CAPABILITIES,
    Target,
    require,
    require_suite,
    requirements,
    skip_reason,
)

IMPLEMENTED_TARGETS = ("embedded", "localstack", "aws")


def check_available(config: HarnessConfig, name: str | None = None) -> str:
    """The chosen target's name, or InputError when it is unknown or not implemented (checked before
    any work, so `run --target aws` does not fail only after the static layer)."""
    chosen = name or config.default_target
    config.target_settings(chosen)  # validates the name and its settings
    if chosen not in IMPLEMENTED_TARGETS:
        raise InputError(
            f"target {chosen!r} is not implemented yet: use --target embedded, localstack or aws"
        )
    if chosen == "aws":  # its settings (allowlist, region, mode) are refused here, before any work
        from gitops_harness.targets.aws_settings import aws_settings

        aws_settings(config)
    if chosen == "localstack":  # an endpoint nothing answers at, or no venv to start one: refused now
        from gitops_harness.targets.localstack import preflight

        preflight(config)
    return chosen


def make_target(config: HarnessConfig, name: str | None = None) -> Target:
    """The target called ``name`` (default: the config's default target), not yet started."""
    chosen = check_available(config, name)
    if chosen == "embedded":
        from gitops_harness.targets.embedded import EmbeddedTarget

        return EmbeddedTarget.from_config(config)
    if chosen == "localstack":
        from gitops_harness.targets.localstack import LocalStackTarget

        return LocalStackTarget.from_config(config)
    if chosen == "aws":
        from gitops_harness.targets.aws import AwsTarget

        return AwsTarget.from_config(config)
    raise InputError(f"target {chosen!r} is not implemented yet: use --target embedded")


__all__ = [
    "IMPLEMENTED_TARGETS",
    "CAPABILITIES",
    "check_available",
    "Target",
    "make_target",
    "require",
    "require_suite",
    "requirements",
    "skip_reason",
]
