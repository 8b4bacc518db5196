"""Fixtures for the end-to-end suites: every test leaves the shared pipeline idle for the next one."""

from __future__ import annotations

import pytest

from gitops_harness.targets import require

# Deadlines in wall-clock seconds on the embedded target (AWS minutes are scaled to seconds there).
TRIGGER_DEADLINE = 60
BUILD_DEADLINE = 240


@pytest.fixture
def idle_pipeline(pipeline):
    """The pipeline; every execution the test left running is abandoned afterwards, so SUPERSEDED
    ordering in one test never leaks into the next."""
    yield pipeline
    pipeline.stop_running_executions("test finished")


@pytest.fixture(scope="session")
def mirror_pipeline(request, target, harness_config, tmp_path_factory):
    """What the mirror suite pushes to: the reference pipeline where the target deploys both reference
    stacks; where it cannot (LocalStack community lacks the pipeline stack's ECS/ELBv2 types) the mirror
    leg alone (gitops_harness.mirror_leg: the management stack and fixtures/localstack/mirror-pipeline.yaml,
    the same push -> rule -> source -> build -> approval path, without image, deployment or topics)."""
    if "cloudformation" in target.capabilities:
        yield request.getfixturevalue("pipeline")
        return
    from gitops_harness.mirror_leg import TEMPLATE, deploy_mirror_leg
    from gitops_harness.pipeline import PipelineUnderTest
    from gitops_harness.stacks import teardown

    for capability in ("codecommit-git", "pipeline-execution", "build", "manual-approval"):
        require(target, capability, why="the mirror leg runs a CodeCommit source, a build and an approval")
    root = request.config.rootpath
    deployment = deploy_mirror_leg(target, harness_config, root / TEMPLATE)
    try:
        connected = PipelineUnderTest.connect(
            target, harness_config, deployment, tmp_path_factory.mktemp("mirror-leg")
        )
        try:
            yield connected
        finally:
            connected.stop_running_executions("session over")
            connected.close()
    finally:
        teardown(target, deployment)
