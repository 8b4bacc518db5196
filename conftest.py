"""pytest wiring shared by tests/ and suites/: the --target option and the session's target, deployed
pipeline and `pipeline` handle (like pytest-testinfra's `host`: one fixture every suite takes).

Suites say what they need with @pytest.mark.suite("<name>") (names in targets.CAPABILITIES) or the
embedded_only / aws_only markers; a target that lacks a capability skips them with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_harness.config import TARGETS, HarnessConfig, load_config
from gitops_harness.targets import CAPABILITIES, Target, make_target, require, require_suite

REPO = Path(__file__).resolve().parent


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gitops-harness")
    group.addoption(
        "--target",
        choices=TARGETS,
        default=None,
        help="where the suites run (default: targets.default in harness.yaml)",
    )
    group.addoption(
        "--harness-config", type=Path, default=None, help="harness.yaml (default: the repository's)"
    )


@pytest.fixture(scope="session")
def harness_config(pytestconfig: pytest.Config) -> HarnessConfig:
    return load_config(pytestconfig.getoption("--harness-config") or REPO / "harness.yaml")


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config, harness_config: HarnessConfig) -> Iterator[Target]:
    with make_target(harness_config, pytestconfig.getoption("--target")) as started:
        yield started


@pytest.fixture(scope="session")
def deployment(target: Target, harness_config: HarnessConfig):
    """Both reference stacks, deployed once per session and torn down at its end, even after failures."""
    from gitops_harness.stacks import deploy, teardown

    require(target, "cloudformation")
    deployed = deploy(target, target.run_config(harness_config))  # aws: names carry the run id
    try:
        yield deployed
    finally:
        teardown(target, deployed)


@pytest.fixture(scope="session")
def pipeline(
    target: Target, harness_config: HarnessConfig, deployment, tmp_path_factory: pytest.TempPathFactory
):
    from gitops_harness.pipeline import PipelineUnderTest

    require_suite(target, "pipeline")
    connected = PipelineUnderTest.connect(
        target, harness_config, deployment, tmp_path_factory.mktemp("pipeline")
    )
    yield connected
    connected.stop_running_executions("session over")
    connected.close()


@pytest.fixture(autouse=True)
def _target_capabilities(request: pytest.FixtureRequest) -> None:
    """Skip, with the reason, a suite or marked test the target cannot support; never pass it silently."""
    needed = [m.args[0] for m in request.node.iter_markers("suite")]
    needed += [name for name in ("embedded_only", "aws_only") if request.node.get_closest_marker(name)]
    if not needed:
        return
    target = request.getfixturevalue("target")
    for name in needed:
        if name not in CAPABILITIES:
            raise pytest.UsageError(
                f"unknown suite {name!r}: choose one of {', '.join(sorted(CAPABILITIES))}"
            )
        require_suite(target, name)
