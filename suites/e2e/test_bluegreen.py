"""CodeDeploy ECS blue/green: an approved release shifts the ALB's prod traffic from blue to green as
its deployment config says, with live traffic through both listeners the whole time; each fault rolls
back with the right status and error code, prod back on blue, and prod never answers an error.

The release runs once per module (`release`); its claims are asserted one test each. Fault tests
create deployments directly on the reference deployment group (CreateDeployment with AppSpecContent),
from a copy of what blue runs that answers another version: faster than a pipeline run per fault.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
from conftest import BUILD_DEADLINE, TRIGGER_DEADLINE

from gitops_harness.deployments import BlueGreenDeployment, settle_deployment_group
from gitops_harness.faults import HookFunction, deploy_directly, primary_task_definition, register_variant
from gitops_harness.listeners import forward_weights
from gitops_harness.release import CLAIMS, PROBE_RATE, ReleaseRun, follow_release
from gitops_harness.targets import require_suite
from gitops_harness.traffic import TrafficProbe, TrafficSummary, wait_until_serving
from gitops_harness.waiting import WaitTimeout

pytestmark = [pytest.mark.suite("pipeline"), pytest.mark.suite("bluegreen")]

FAST_CONFIG = "CodeDeployDefault.ECSAllAtOnce"
CANARY_CONFIG = "CodeDeployDefault.ECSCanary10Percent5Minutes"
# A fault deployment ends within one AWS hour (a hook's or green's health wait, scaled by the target)
# plus this many wall seconds for task start, health checks and rollback.
FAULT_MARGIN = 120
SETTLE_DEADLINE = 120


@pytest.fixture(scope="module")
def release(request: pytest.FixtureRequest, target) -> ReleaseRun:
    """One commit pushed, built, approved and deployed, observed from start to end."""
    # A module fixture is set up before the autouse capability check: skip here, before any stack exists.
    require_suite(target, "bluegreen")
    pipeline = request.getfixturevalue("pipeline")
    stacks = pipeline.deployment
    settle_deployment_group(
        pipeline.target.client("codedeploy", "pipeline"),
        stacks.codedeploy_application,
        stacks.deployment_group,
        timeout=SETTLE_DEADLINE,
    )
    pipeline.stop_running_executions("blue/green suite starts from an idle pipeline")
    version = f"7.{int(time.time())}.0"
    commit = pipeline.push_app({"VERSION": f"{version}\n"}, "blue/green release")
    execution = pipeline.wait_for_execution(commit, timeout=TRIGGER_DEADLINE)
    approval = pipeline.wait_for_approval(execution["pipelineExecutionId"], timeout=BUILD_DEADLINE)
    image_uri = json.loads(pipeline.output_artifact(approval.execution_id)["imageDetail.json"])["ImageURI"]
    # buildspec.yml: the service reports "<VERSION>+<commit[:12]>".
    return follow_release(pipeline, approval, image_uri, f"{version}+{commit[:12]}")


def _assert_claim(release: ReleaseRun, claim: str) -> None:
    problems = release.problems()[claim]
    assert problems == [], f"{claim}: {problems}; {release.describe()}"


def test_a_deployment_starts_for_the_builds_image_digest(release, pipeline):
    assert "@sha256:" in release.image_uri
    stacks = pipeline.deployment
    assert (release.info["applicationName"], release.info["deploymentGroupName"]) == (
        stacks.codedeploy_application,
        stacks.deployment_group,
    )
    _assert_claim(release, CLAIMS[0])


def test_the_test_listener_serves_green_before_prod_does(release):
    _assert_claim(release, CLAIMS[1])


def test_prod_weights_follow_the_deployment_config_over_time(release):
    assert release.routing.name == release.info["deploymentConfigName"]
    _assert_claim(release, CLAIMS[2])


def test_live_prod_traffic_sees_no_errors_and_moves_from_blue_to_green(release):
    assert release.prod.requests >= PROBE_RATE * release.scaled_waits * 0.5  # traffic the whole time
    _assert_claim(release, CLAIMS[3])


def test_every_lifecycle_event_ran_in_order(release):
    _assert_claim(release, CLAIMS[4])


def test_the_blue_task_set_is_gone_after_the_termination_wait(release):
    _assert_claim(release, CLAIMS[5])


def test_the_execution_succeeded(release):
    assert release.info["status"] == "Succeeded"
    _assert_claim(release, CLAIMS[6])


# ---- faults ------------------------------------------------------------------------------------------


class FaultScene:
    """Blue as the release left it, a prod probe running, and what prod forwarded to before the fault."""

    def __init__(self, pipeline, release: ReleaseRun):
        self.pipeline = pipeline
        self.target = pipeline.target
        self.stacks = pipeline.deployment
        self.blue_version = release.green_version
        self.blue_task_definition = primary_task_definition(self.target, self.stacks)
        self.elbv2 = self.target.client("elbv2", "pipeline")
        self.prod_before = self.prod_weights()
        self.green_versions: tuple[str, ...] = ()
        self.deadline = 3600 * self.target.time_scale + FAULT_MARGIN
        self.probe = TrafficProbe(
            self.target.listener_url(self.stacks.production_listener_arn), rate=PROBE_RATE, max_seconds=600
        )

    def prod_weights(self) -> dict[str, float]:
        """Target groups prod forwards to (a weight-0 leftover of the rollback counts as none)."""
        return {
            tg: w for tg, w in forward_weights(self.elbv2, self.stacks.production_listener_arn).items() if w
        }

    def describe(self) -> str:
        """Where prod stands: its weights, each target group's target health, the service's task sets."""
        groups = self.elbv2.describe_target_groups(
            Names=list(forward_weights(self.elbv2, self.stacks.production_listener_arn))
        )["TargetGroups"]
        health = {
            g["TargetGroupName"]: [
                d["TargetHealth"]["State"]
                for d in self.elbv2.describe_target_health(TargetGroupArn=g["TargetGroupArn"])[
                    "TargetHealthDescriptions"
                ]
            ]
            for g in groups
        }
        sets = [
            f"{t['id']} {t['status']} {t['taskDefinition'].rsplit('/', 1)[-1]} running={t.get('runningCount')}"
            for t in self._task_sets()
        ]
        return (
            f"prod weights {self.prod_weights()}; target health {health}; task sets {sets}; "
            f"stopped tasks {self._stopped_tasks()}"
        )

    def _stopped_tasks(self) -> list[str]:
        """Why the service's tasks stopped (ECS keeps stopped tasks for a while): task definition and reason."""
        ecs = self.target.client("ecs", "pipeline")
        arns = ecs.list_tasks(
            cluster=self.stacks.cluster_name, serviceName=self.stacks.service_name, desiredStatus="STOPPED"
        )["taskArns"]
        if not arns:
            return []
        tasks = ecs.describe_tasks(cluster=self.stacks.cluster_name, tasks=arns[:10])["tasks"]
        return [f"{t['taskDefinitionArn'].rsplit('/', 1)[-1]}: {t.get('stoppedReason', '?')}" for t in tasks]

    def _task_sets(self) -> list[dict]:
        return (
            self.target.client("ecs", "pipeline")
            .describe_services(cluster=self.stacks.cluster_name, services=[self.stacks.service_name])[
                "services"
            ][0]
            .get("taskSets", [])
        )

    def green(self, **variant: object) -> str:
        return register_variant(self.target, self.blue_task_definition, **variant)  # type: ignore[arg-type]

    def assert_rolled_back(self, deployment: BlueGreenDeployment, status: str, code: str) -> TrafficSummary:
        info = deployment.wait_until_finished(timeout=self.deadline)
        error = info.get("errorInformation") or {}
        assert (info["status"], error.get("code")) == (status, code), deployment.describe()
        rollback = deployment.rollback_deployment()
        assert rollback is not None, f"no rollbackInfo: {deployment.describe()}"
        rollback.wait_until_finished(timeout=self.deadline)
        assert self.prod_weights() == self.prod_before, self.describe()
        assert [t["taskDefinition"] for t in self._task_sets()] == [self.blue_task_definition], (
            self.describe()
        )
        settled = len(self.probe.samples())
        self.probe.wait_for_requests(settled + int(PROBE_RATE), timeout=30)  # a second of traffic after
        summary = self.probe.stop()
        where = f"{summary.describe()}; {self.describe()}"
        assert summary.errors == (), where
        assert summary.final_version == self.blue_version, where
        assert set(summary.versions) <= {self.blue_version, *self.green_versions}, where
        assert summary.versions_after(summary.samples[settled].offset) == {self.blue_version}, where
        return summary


@pytest.fixture
def fault(pipeline, release) -> Iterator[FaultScene]:
    _assert_claim(release, CLAIMS[6])  # the faults start from a released app
    stacks = pipeline.deployment
    codedeploy = pipeline.target.client("codedeploy", "pipeline")
    settle_deployment_group(
        codedeploy, stacks.codedeploy_application, stacks.deployment_group, SETTLE_DEADLINE
    )
    scene = FaultScene(pipeline, release)
    try:
        serving = wait_until_serving(scene.probe.url, timeout=30)
    except WaitTimeout as exc:
        raise AssertionError(f"prod does not serve before the fault: {exc}; {scene.describe()}") from None
    assert serving.version == scene.blue_version, scene.describe()
    with scene.probe:
        yield scene
    settle_deployment_group(
        codedeploy, stacks.codedeploy_application, stacks.deployment_group, SETTLE_DEADLINE
    )


@pytest.mark.suite("bluegreen_hooks")
def test_a_hook_that_reports_failed_rolls_back(fault):
    with HookFunction(fault.target, "Failed") as hook:
        green = f"fault-hook-failed-{uuid.uuid4().hex[:6]}"
        fault.green_versions = (green,)
        deployment = deploy_directly(
            fault.target,
            fault.stacks,
            fault.green(version=green),
            hooks={"AfterAllowTestTraffic": hook.name},
            config_name=FAST_CONFIG,
        )
        fault.assert_rolled_back(deployment, "Failed", "HOOK_EXECUTION_FAILURE")
    event = deployment.target().event("AfterAllowTestTraffic")
    assert event is not None and event.status == "Failed"


@pytest.mark.suite("bluegreen_hooks")
@pytest.mark.slow
def test_a_hook_that_never_answers_times_out_and_rolls_back(fault):
    with HookFunction(fault.target, "NoAnswer") as hook:
        green = f"fault-hook-silent-{uuid.uuid4().hex[:6]}"
        fault.green_versions = (green,)
        deployment = deploy_directly(
            fault.target,
            fault.stacks,
            fault.green(version=green),
            hooks={"BeforeAllowTraffic": hook.name},
            config_name=FAST_CONFIG,
        )
        # No status within the hook's hour: the lifecycle event times out.
        fault.assert_rolled_back(deployment, "Failed", "TIMEOUT")


def test_the_5xx_alarm_firing_during_the_canary_rolls_back(fault):
    cloudwatch = fault.target.client("cloudwatch", "pipeline")
    [alarm] = fault.target.client("codedeploy", "pipeline").get_deployment_group(
        applicationName=fault.stacks.codedeploy_application, deploymentGroupName=fault.stacks.deployment_group
    )["deploymentGroupInfo"]["alarmConfiguration"]["alarms"]
    green = f"fault-alarm-{uuid.uuid4().hex[:6]}"
    fault.green_versions = (green,)
    deployment = deploy_directly(
        fault.target, fault.stacks, fault.green(version=green), config_name=CANARY_CONFIG
    )
    try:
        # The canary: 10 % of prod on green; then the alarm fires (as green's 5xx would make it).
        wait_canary = deployment.wait_for_lifecycle_event(
            "AllowTraffic", "InProgress", timeout=fault.deadline
        )
        assert wait_canary.status == "InProgress"
        fault.probe.wait_for_version(green, timeout=60)
        cloudwatch.set_alarm_state(
            AlarmName=alarm["name"], StateValue="ALARM", StateReason="gitops-harness: fault injection"
        )
        fault.assert_rolled_back(deployment, "Stopped", "ALARM_ACTIVE")
    finally:
        cloudwatch.set_alarm_state(
            AlarmName=alarm["name"], StateValue="OK", StateReason="gitops-harness: fault over"
        )


def test_stop_deployment_rolls_back(fault):
    green = f"fault-stop-{uuid.uuid4().hex[:6]}"
    fault.green_versions = (green,)
    deployment = deploy_directly(
        fault.target, fault.stacks, fault.green(version=green), config_name=CANARY_CONFIG
    )
    deployment.wait_for_lifecycle_event("AllowTraffic", "InProgress", timeout=fault.deadline)
    fault.probe.wait_for_version(green, timeout=60)
    deployment.codedeploy.stop_deployment(deploymentId=deployment.id, autoRollbackEnabled=True)
    fault.assert_rolled_back(deployment, "Stopped", "MANUAL_STOP")


@pytest.mark.slow
def test_a_green_whose_health_check_fails_rolls_back(fault):
    # Green never becomes healthy in its target group: Install fails after its hour (scaled).
    green = f"fault-unhealthy-{uuid.uuid4().hex[:6]}"
    fault.green_versions = (green,)
    deployment = deploy_directly(
        fault.target,
        fault.stacks,
        fault.green(version=green, failing_health_check=True),
        config_name=FAST_CONFIG,
    )
    fault.assert_rolled_back(deployment, "Failed", "ECS_UPDATE_ERROR")
    install = deployment.target().event("Install")
    assert install is not None and install.status == "Failed"
