"""The deployment view's reading of CodeDeploy's answers: GetDeploymentTarget's ecsTarget, deployment
configs, and the prod weights a recorder saw. Answers are in AWS's shapes, checked against botocore's
output model (botocore's Stubber refuses anything else)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from gitops_harness.deployments import (
    BlueGreenDeployment,
    DeploymentRecorder,
    EcsTargetState,
    TrafficRouting,
    WeightStep,
    parse_ecs_target,
    traffic_routing,
    weight_step_problems,
)
from gitops_harness.emulator.shape_check import check_output

T0 = datetime(2026, 12, 6, 5, 0, 0, tzinfo=UTC)
DEPLOYMENT_ID = "d-ABCDEFGHI"
TARGET_ID = "gitops-sample:gitops-sample"


def target_answer(
    green_weight: float, *, events: dict[str, str] | None = None, status: str = "InProgress"
) -> dict[str, Any]:
    """GetDeploymentTarget for an ECS blue/green deployment, as AWS answers it."""
    events = events or {"BeforeInstall": "Succeeded", "Install": "Succeeded", "AllowTraffic": "InProgress"}
    return {
        "deploymentTarget": {
            "deploymentTargetType": "ECSTarget",
            "ecsTarget": {
                "deploymentId": DEPLOYMENT_ID,
                "targetId": TARGET_ID,
                "targetArn": "arn:aws:ecs:us-east-1:222222222222:service/gitops-sample/gitops-sample",
                "lastUpdatedAt": T0,
                "status": status,
                "lifecycleEvents": [
                    {"lifecycleEventName": name, "status": state, "startTime": T0 + timedelta(seconds=i)}
                    | ({"endTime": T0 + timedelta(seconds=i + 1)} if state == "Succeeded" else {})
                    for i, (name, state) in enumerate(events.items())
                ],
                "taskSetsInfo": [
                    {
                        "identifer": "ecs-svc/1111111111111111111",  # sic: AWS's spelling
                        "desiredCount": 1,
                        "pendingCount": 0,
                        "runningCount": 1,
                        "status": "PRIMARY",
                        "trafficWeight": 100.0 - green_weight,
                        "targetGroup": {"name": "gitops-sample-blue"},
                        "taskSetLabel": "Blue",
                    },
                    {
                        "identifer": "ecs-svc/2222222222222222222",
                        "desiredCount": 1,
                        "pendingCount": 0,
                        "runningCount": 1,
                        "status": "ACTIVE",
                        "trafficWeight": green_weight,
                        "targetGroup": {"name": "gitops-sample-green"},
                        "taskSetLabel": "Green",
                    },
                ],
            },
        }
    }


def test_the_recorded_answer_is_in_aws_shape():
    assert check_output("codedeploy", "GetDeploymentTarget", target_answer(10.0)) == []


def test_parse_ecs_target_reads_events_task_sets_and_weights():
    state = parse_ecs_target(target_answer(10.0))
    assert isinstance(state, EcsTargetState)
    assert state.target_id == TARGET_ID and state.status == "InProgress"
    assert [e.name for e in state.lifecycle_events] == ["BeforeInstall", "Install", "AllowTraffic"]
    assert state.event("Install").end == T0 + timedelta(seconds=2)
    assert state.event("AllowTraffic").end is None
    assert state.weights() == {"Blue": 90.0, "Green": 10.0}
    green = state.task_set("Green")
    assert green.identifier == "ecs-svc/2222222222222222222" and green.target_group == "gitops-sample-green"
    assert "Green ACTIVE 10% (1/1 running)" in state.describe()


def test_a_target_that_is_not_ecs_is_refused_with_its_kind():
    with pytest.raises(ValueError, match="InstanceTarget"):
        parse_ecs_target({"deploymentTarget": {"deploymentTargetType": "InstanceTarget"}})


@pytest.mark.parametrize(
    ("config", "kind", "steps", "interval"),
    [
        (
            {"type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 5}},
            "TimeBasedCanary",
            (10, 100),
            5,
        ),
        (
            {"type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": 10, "linearInterval": 1}},
            "TimeBasedLinear",
            tuple(range(10, 101, 10)),
            1,
        ),
        (
            {"type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": 30, "linearInterval": 3}},
            "TimeBasedLinear",
            (30, 60, 90, 100),
            3,
        ),
        ({"type": "AllAtOnce"}, "AllAtOnce", (100,), 0),
    ],
)
def test_traffic_routing_lists_the_green_weights_a_config_promises(config, kind, steps, interval):
    info = {"deploymentConfigName": "c", "computePlatform": "ECS", "trafficRoutingConfig": config}
    assert check_output("codedeploy", "GetDeploymentConfig", {"deploymentConfigInfo": info}) == []
    routing = traffic_routing(info)
    assert (routing.kind, routing.steps, routing.interval_minutes) == (kind, steps, interval)


CANARY = TrafficRouting("CodeDeployDefault.ECSCanary10Percent5Minutes", "TimeBasedCanary", (10, 100), 5)
SCALE = 1 / 60  # one AWS minute per second: the canary holds 5 s


def steps(*points: tuple[float, float]) -> list[WeightStep]:
    return [WeightStep(T0 + timedelta(seconds=t), t, {"Blue": 100 - g, "Green": g}) for t, g in points]


def test_weights_that_follow_the_canary_pass():
    assert weight_step_problems(steps((0, 0), (1, 10), (6.1, 100)), CANARY, SCALE, slack=0.2) == []


@pytest.mark.parametrize(
    ("observed", "problem"),
    [
        (steps((0, 0), (1, 100)), "canary step 10% was never seen"),
        (steps((0, 0), (1, 10), (2, 100)), "held 1.00s, the config says 5.00s"),
        (steps((0, 0), (1, 10), (6, 50), (7, 100)), "[50] are not steps"),
        (steps((0, 0), (1, 10), (6.5, 0)), "never took all prod traffic"),
        (steps((0, 0), (1, 10), (6.5, 0), (7, 100)), "went down"),
        ([], "never took all prod traffic"),
    ],
)
def test_weights_that_do_not_follow_the_config_say_why(observed, problem):
    problems = weight_step_problems(observed, CANARY, SCALE, slack=0.2)
    assert any(problem in p for p in problems), problems


def test_linear_steps_between_two_polls_may_go_unseen():
    linear = TrafficRouting("L", "TimeBasedLinear", tuple(range(10, 101, 10)), 1)
    assert weight_step_problems(steps((0, 10), (2.1, 30), (3.2, 40), (9.5, 100)), linear, SCALE, 0.2) == []


@pytest.fixture
def stubbed() -> tuple[Any, Stubber]:
    client = boto3.client(
        "codedeploy", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    with Stubber(client) as stubber:
        yield client, stubber


def test_the_recorder_keeps_each_weight_change_and_a_timeline(stubbed):
    client, stubber = stubbed
    stubber.add_response(
        "list_deployment_targets", {"targetIds": [TARGET_ID]}, {"deploymentId": DEPLOYMENT_ID}
    )
    done = {e: "Succeeded" for e in ("BeforeInstall", "Install", "AllowTraffic", "AfterAllowTraffic")}
    for weight, status in (
        (0.0, "InProgress"),
        (10.0, "InProgress"),
        (10.0, "InProgress"),
        (100.0, "Succeeded"),
    ):
        answer = target_answer(weight, status=status, events=done if status == "Succeeded" else None)
        stubber.add_response(
            "get_deployment_target", answer, {"deploymentId": DEPLOYMENT_ID, "targetId": TARGET_ID}
        )
    recorder = DeploymentRecorder(BlueGreenDeployment(client, DEPLOYMENT_ID))
    for _ in range(4):  # polled by hand: no thread, so no timing in the test
        recorder.poll()
    assert [s.green for s in recorder.weight_steps()] == [0.0, 10.0, 100.0]
    rows = recorder.timeline()
    assert [(r.stage, r.action) for r in rows[:4]] == [
        ("CodeDeploy", "BeforeInstall"),
        ("CodeDeploy", "Install"),
        ("CodeDeploy", "AllowTraffic"),
        ("CodeDeploy", "AfterAllowTraffic"),
    ]
    assert [r.status for r in rows if r.action == "prod weights"] == ["green 0%", "green 10%", "green 100%"]
    stubber.assert_no_pending_responses()


def test_the_task_definition_comes_from_the_revisions_appspec(stubbed):
    client, stubber = stubbed
    appspec = (
        "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n"
        "        TaskDefinition: arn:aws:ecs:us-east-1:222222222222:task-definition/gitops-sample:7\n"
        "        LoadBalancerInfo: {ContainerName: app, ContainerPort: 8080}\n"
    )
    info = {
        "deploymentId": DEPLOYMENT_ID,
        "status": "InProgress",
        "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": appspec}},
    }
    stubber.add_response("get_deployment", {"deploymentInfo": info}, {"deploymentId": DEPLOYMENT_ID})
    assert BlueGreenDeployment(client, DEPLOYMENT_ID).task_definition_arn().endswith("gitops-sample:7")


def test_waiting_for_a_status_fails_at_once_when_the_deployment_ended_elsewhere(stubbed):
    client, stubber = stubbed
    failed = {
        "deploymentId": DEPLOYMENT_ID,
        "status": "Failed",
        "errorInformation": {"code": "HOOK_EXECUTION_FAILURE", "message": "hook failed"},
    }
    stubber.add_response("get_deployment", {"deploymentInfo": failed}, {"deploymentId": DEPLOYMENT_ID})
    stubber.add_response("get_deployment", {"deploymentInfo": failed}, {"deploymentId": DEPLOYMENT_ID})
    stubber.add_client_error("list_deployment_targets", "DeploymentDoesNotExistException")
    with pytest.raises(AssertionError, match="HOOK_EXECUTION_FAILURE"):
        BlueGreenDeployment(client, DEPLOYMENT_ID).wait_for_status({"Succeeded"}, timeout=5)


def test_a_deployment_not_started_yet_is_waited_for_not_failed(stubbed):
    """CodeDeploy answers the target operations DeploymentNotStartedException while a deployment is
    Created: a lifecycle wait reads that as "not yet" and keeps polling."""
    client, stubber = stubbed
    stubber.add_client_error(
        "list_deployment_targets",
        "DeploymentNotStartedException",
        f"The deployment {DEPLOYMENT_ID} has not started",
        expected_params={"deploymentId": DEPLOYMENT_ID},
    )
    stubber.add_response(
        "list_deployment_targets", {"targetIds": [TARGET_ID]}, {"deploymentId": DEPLOYMENT_ID}
    )
    stubber.add_response(
        "get_deployment_target", target_answer(0.0), {"deploymentId": DEPLOYMENT_ID, "targetId": TARGET_ID}
    )
    event = BlueGreenDeployment(client, DEPLOYMENT_ID).wait_for_lifecycle_event(
        "AllowTraffic", "InProgress", timeout=5, interval=0.01
    )
    assert event.status == "InProgress"
    stubber.assert_no_pending_responses()


def test_other_errors_of_the_target_operations_still_raise(stubbed):
    client, stubber = stubbed
    stubber.add_client_error("list_deployment_targets", "DeploymentDoesNotExistException")
    with pytest.raises(Exception, match="DeploymentDoesNotExistException"):
        BlueGreenDeployment(client, DEPLOYMENT_ID).target_id()
