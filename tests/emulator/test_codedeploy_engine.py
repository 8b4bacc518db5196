"""The CodeDeploy ECS blue/green engine against moto's ECS, ELB, Lambda and CloudWatch, on a FakeClock:
lifecycle order, traffic weights over time (GetDeploymentTarget and the prod listener), the Ready and
termination waits, hooks, alarms, StopDeployment, rollback deployments, EventBridge events and CodeStar
notifications."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from codedeploy_fixtures import REGION, Scenario, hook_function, task_definition
from ecs_helpers import TIME_SCALE, get

from gitops_harness.emulator.scheduler import FakeClock
from gitops_harness.emulator.testing import RunningEmulator, running_emulator
from gitops_harness.probes import EventProbe, SnsNotification, SnsProbe
from gitops_harness.waiting import wait_until

_accounts = itertools.count(1)
ORDER = [
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
]
HOOKS = ["BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic"]


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def aws(clock: FakeClock) -> Iterator[RunningEmulator]:
    with running_emulator(clock=clock, time_scale=TIME_SCALE) as emulator:
        yield emulator


@pytest.fixture
def scenario(aws: RunningEmulator, clock: FakeClock) -> Scenario:
    return Scenario(aws, clock=clock, account=f"52{next(_accounts):010d}")


def advance(aws: RunningEmulator, clock: FakeClock, seconds: float) -> None:
    """Move AWS time once the engine is waiting (no job running), so no step races the clock."""
    assert aws.scheduler.wait_idle(20), "the engine kept running"
    clock.advance(seconds * TIME_SCALE)


def events_probe(scenario: Scenario) -> EventProbe:
    return EventProbe(scenario.client("events"), scenario.client("sqs"), {"source": ["aws.codedeploy"]})


def state_events(probe: EventProbe, deployment_id: str, *states: str) -> list[dict[str, Any]]:
    return [
        probe.wait_for(
            lambda body, s=state: (
                body["detail"]["deploymentId"] == deployment_id and body["detail"]["state"] == s
            ),
            timeout=20,
            describe=f"{state} of {deployment_id}",
        )
        for state in states
    ]


def blue_id(scenario: Scenario, deployment_id: str) -> str:
    sets = {t["taskSetLabel"]: t for t in scenario.target(deployment_id)["taskSetsInfo"]}
    return sets["Blue"]["identifer"]


def lifecycle(target: dict[str, Any]) -> dict[str, str]:
    return {e["lifecycleEventName"]: e["status"] for e in target["lifecycleEvents"]}


# ---- the happy path -----------------------------------------------------------------------------------


def test_all_at_once_shifts_everything_to_green_and_the_next_deployment_swaps_target_groups(
    scenario: Scenario,
):
    scenario.group()
    env = scenario.env
    with events_probe(scenario) as probe:
        first = scenario.deploy()
        assert re.fullmatch(r"d-[A-Z0-9]{9}", first)
        info = scenario.wait_status(first, "Succeeded")
        start, success = state_events(probe, first, "START", "SUCCESS")
    assert start["detail-type"] == "CodeDeploy Deployment State-change Notification"
    assert success["detail"] == {
        "account": scenario.account,
        "region": REGION,
        "deploymentId": first,
        "instanceGroupId": scenario.codedeploy.get_deployment_group(
            applicationName="app", deploymentGroupName="grp"
        )["deploymentGroupInfo"]["deploymentGroupId"],
        "deploymentGroup": "grp",
        "state": "SUCCESS",
        "application": "app",
    }
    assert f"arn:aws:codedeploy:{REGION}:{scenario.account}:application:app" in success["resources"]
    assert info["creator"] == "user" and info["deploymentOverview"]["Succeeded"] == 1
    assert info["completeTime"] >= info["startTime"] >= info["createTime"]
    target = scenario.target(first)
    assert [e["lifecycleEventName"] for e in target["lifecycleEvents"]] == ORDER
    assert lifecycle(target) == {
        **dict.fromkeys(HOOKS, "Skipped"),
        "Install": "Succeeded",
        "AllowTestTraffic": "Succeeded",
        "AllowTraffic": "Succeeded",
    }
    sets = {t["taskSetLabel"]: t for t in target["taskSetsInfo"]}
    assert (sets["Green"]["targetGroup"]["name"], sets["Green"]["trafficWeight"]) == (env.green_tg, 100.0)
    assert (sets["Blue"]["targetGroup"]["name"], sets["Blue"]["trafficWeight"]) == (env.blue_tg, 0.0)
    assert scenario.weights() == {env.blue_tg: 0, env.green_tg: 100}
    assert scenario.weights(env.test_listener) == {env.green_tg: 100}
    assert scenario.task_sets() == {sets["Green"]["identifer"]: "PRIMARY"}
    group = scenario.codedeploy.get_deployment_group(applicationName="app", deploymentGroupName="grp")
    assert group["deploymentGroupInfo"]["lastSuccessfulDeployment"]["deploymentId"] == first

    # green now serves production: the next deployment goes to the other target group, blue is deleted
    second = scenario.deploy()
    scenario.wait_status(second, "Succeeded")
    sets2 = {t["taskSetLabel"]: t for t in scenario.target(second)["taskSetsInfo"]}
    assert sets2["Blue"]["identifer"] == sets["Green"]["identifer"]
    assert sets2["Green"]["targetGroup"]["name"] == env.blue_tg
    assert scenario.weights() == {env.blue_tg: 100, env.green_tg: 0}
    assert scenario.task_sets() == {sets2["Green"]["identifer"]: "PRIMARY"}
    listed = scenario.codedeploy.list_deployments(applicationName="app", deploymentGroupName="grp")[
        "deployments"
    ]
    assert listed == [second, first]


def test_canary_moves_ten_percent_then_the_rest_after_the_interval(
    scenario: Scenario, aws: RunningEmulator, clock: FakeClock
):
    env = scenario.env
    scenario.group(deploymentConfigName="CodeDeployDefault.ECSCanary10Percent5Minutes")
    deployment = scenario.deploy()
    scenario.wait_green_weight(deployment, 10.0)
    assert scenario.weights() == {env.blue_tg: 90, env.green_tg: 10}
    assert lifecycle(scenario.target(deployment))["AllowTraffic"] == "InProgress"
    advance(aws, clock, 299)
    assert aws.scheduler.wait_idle(20)
    assert scenario.green_weight(deployment) == 10.0, "the canary interval is 5 minutes"
    assert scenario.info(deployment)["status"] == "InProgress"
    advance(aws, clock, 1)
    scenario.wait_status(deployment, "Succeeded")
    assert scenario.weights() == {env.blue_tg: 0, env.green_tg: 100}


def test_custom_linear_config_adds_its_percentage_every_interval(
    scenario: Scenario, aws: RunningEmulator, clock: FakeClock
):
    scenario.codedeploy.create_deployment_config(
        deploymentConfigName="linear25",
        computePlatform="ECS",
        trafficRoutingConfig={
            "type": "TimeBasedLinear",
            "timeBasedLinear": {"linearPercentage": 25, "linearInterval": 2},
        },
    )
    scenario.group(deploymentConfigName="linear25")
    deployment = scenario.deploy()
    seen = []
    for weight in (25, 50, 75):
        scenario.wait_green_weight(deployment, float(weight))
        seen.append(scenario.weights()[scenario.env.green_tg])
        advance(aws, clock, 120)
    scenario.wait_status(deployment, "Succeeded")
    assert seen == [25, 50, 75]
    assert scenario.weights()[scenario.env.green_tg] == 100


# ---- Ready and termination waits ------------------------------------------------------------------------


def _ready_group(minutes: int, termination: int = 0) -> dict[str, Any]:
    return {
        "blueGreenDeploymentConfiguration": {
            "deploymentReadyOption": {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": minutes},
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": termination,
            },
        }
    }


def test_ready_wait_holds_production_traffic_until_continue_deployment(scenario: Scenario):
    scenario.group(**_ready_group(30))
    with events_probe(scenario) as probe:
        deployment = scenario.deploy()
        info = scenario.wait_status(deployment, "Ready")
        state_events(probe, deployment, "START", "READY")
    assert info["deploymentOverview"]["Ready"] == 1
    assert scenario.target(deployment)["status"] == "Ready"
    assert scenario.weights() == {scenario.env.blue_tg: 1}, "production untouched while Ready"
    assert scenario.weights(scenario.env.test_listener) == {scenario.env.green_tg: 100}
    with pytest.raises(scenario.codedeploy.exceptions.InvalidDeploymentStatusException):
        scenario.codedeploy.continue_deployment(
            deploymentId=deployment, deploymentWaitType="TERMINATION_WAIT"
        )
    scenario.codedeploy.continue_deployment(deploymentId=deployment, deploymentWaitType="READY_WAIT")
    scenario.wait_status(deployment, "Succeeded")
    with pytest.raises(scenario.codedeploy.exceptions.DeploymentAlreadyCompletedException):
        scenario.codedeploy.continue_deployment(deploymentId=deployment, deploymentWaitType="READY_WAIT")


def test_ready_wait_without_an_answer_stops_the_deployment(
    scenario: Scenario, aws: RunningEmulator, clock: FakeClock
):
    scenario.group(**_ready_group(5))
    deployment = scenario.deploy()
    scenario.wait_status(deployment, "Ready")
    advance(aws, clock, 300)
    info = scenario.wait_status(deployment, "Stopped")
    assert info["errorInformation"]["code"] == "TIMEOUT"
    assert scenario.weights() == {scenario.env.blue_tg: 1}


def test_termination_wait_keeps_blue_until_it_ends_or_continue_deployment(scenario: Scenario):
    scenario.group(
        blueGreenDeploymentConfiguration={
            "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT"},
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": 60,
            },
        },
    )
    first = scenario.deploy()
    wait_until(
        lambda: scenario.info(first)["instanceTerminationWaitTimeStarted"],
        timeout=20,
        describe_expected="the termination wait",
        interval=0.02,
    )
    assert scenario.info(first)["status"] == "InProgress"
    assert scenario.green_weight(first) == 100.0
    scenario.codedeploy.continue_deployment(deploymentId=first, deploymentWaitType="TERMINATION_WAIT")
    scenario.wait_status(first, "Succeeded")
    second = scenario.deploy()
    wait_until(
        lambda: scenario.info(second)["instanceTerminationWaitTimeStarted"],
        timeout=20,
        describe_expected="the termination wait",
        interval=0.02,
    )
    assert len(scenario.task_sets()) == 2, "blue stays during the termination wait"
    scenario.codedeploy.continue_deployment(deploymentId=second, deploymentWaitType="TERMINATION_WAIT")
    scenario.wait_status(second, "Succeeded")
    assert list(scenario.task_sets().values()) == ["PRIMARY"]


# ---- hooks ----------------------------------------------------------------------------------------------


def test_hooks_run_in_lifecycle_order_and_wait_for_their_answers(scenario: Scenario):
    scenario.group()
    hooks = [{event: hook_function(scenario.client, f"hook-{event}")} for event in HOOKS]
    deployment = scenario.deploy(hooks=hooks)
    for event in HOOKS:
        scenario.pending_hook(deployment, event)
        statuses = lifecycle(scenario.target(deployment))
        index = ORDER.index(event)
        assert statuses[event] == "InProgress"
        assert all(statuses[e] == "Succeeded" for e in ORDER[:index]), statuses
        assert all(statuses[e] == "Pending" for e in ORDER[index + 1 :]), statuses
        scenario.answer_hook(deployment, event)
    scenario.wait_status(deployment, "Succeeded")
    assert set(lifecycle(scenario.target(deployment)).values()) == {"Succeeded"}
    invocations = scenario.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/hook-")[
        "logGroups"
    ]
    assert len(invocations) == len(HOOKS), "each hook function was invoked"


def test_a_failed_hook_rolls_back_to_blue_as_a_deployment_of_its_own(scenario: Scenario):
    scenario.group(autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]})
    env = scenario.env
    function = hook_function(scenario.client, "gate")
    with events_probe(scenario) as probe:
        deployment = scenario.deploy(hooks=[{"AfterAllowTestTraffic": function}])
        scenario.answer_hook(deployment, "AfterAllowTestTraffic", "Failed")
        info = scenario.wait_status(deployment, "Failed")
        rollback_id = info["rollbackInfo"]["rollbackDeploymentId"]
        rollback = scenario.wait_status(rollback_id, "Succeeded")
        state_events(probe, deployment, "START", "FAILURE")
        state_events(probe, rollback_id, "START", "SUCCESS")
    assert info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
    assert lifecycle(scenario.target(deployment))["AfterAllowTestTraffic"] == "Failed"
    assert rollback["creator"] == "codeDeployRollback"
    assert rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"] == deployment
    assert scenario.weights() == {env.blue_tg: 100, env.green_tg: 0}
    assert scenario.weights(env.test_listener) == {env.blue_tg: 100}
    assert scenario.task_sets() == {blue_id(scenario, deployment): "PRIMARY"}, "green deleted, blue primary"
    # the group is free again
    scenario.codedeploy.stop_deployment(deploymentId=scenario.deploy(hooks=[{"BeforeInstall": function}]))


def test_a_hook_that_never_answers_fails_after_an_hour(
    scenario: Scenario, aws: RunningEmulator, clock: FakeClock
):
    scenario.group()
    deployment = scenario.deploy(hooks=[{"BeforeInstall": hook_function(scenario.client, "silent")}])
    scenario.pending_hook(deployment, "BeforeInstall")
    advance(aws, clock, 3599)
    assert aws.scheduler.wait_idle(20)
    assert scenario.info(deployment)["status"] == "InProgress"

    def one_more_second() -> dict[str, Any]:
        advance(aws, clock, 1)
        return scenario.info(deployment)

    info = wait_until(
        one_more_second,
        accept=lambda seen: seen["status"] == "Failed",
        timeout=20,
        describe_expected="the hook timeout once the hour is over",
        describe_seen=lambda seen: seen["status"],
        interval=0.05,
    )
    assert info["errorInformation"]["code"] == "TIMEOUT"
    assert "rollbackInfo" not in info
    assert lifecycle(scenario.target(deployment))["BeforeInstall"] == "Failed"
    assert list(scenario.task_sets().values()) == ["PRIMARY"], "nothing was installed"


# ---- alarms and stops -----------------------------------------------------------------------------------


def test_an_alarm_in_alarm_state_stops_and_rolls_back(
    scenario: Scenario, aws: RunningEmulator, clock: FakeClock
):
    cloudwatch = scenario.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="errors",
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    scenario.group(
        deploymentConfigName="CodeDeployDefault.ECSCanary10Percent15Minutes",
        alarmConfiguration={"enabled": True, "alarms": [{"name": "errors"}]},
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_STOP_ON_ALARM"]},
    )
    deployment = scenario.deploy()
    scenario.wait_green_weight(deployment, 10.0)
    cloudwatch.set_alarm_state(AlarmName="errors", StateValue="ALARM", StateReason="5xx")
    advance(aws, clock, 15)  # the next alarm poll
    info = scenario.wait_status(deployment, "Stopped")
    assert info["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert "errors" in info["errorInformation"]["message"]
    scenario.wait_status(info["rollbackInfo"]["rollbackDeploymentId"], "Succeeded")
    assert scenario.weights() == {scenario.env.blue_tg: 100, scenario.env.green_tg: 0}


@pytest.mark.parametrize("rollback", [True, False], ids=["with-rollback", "without-rollback"])
def test_stop_deployment(scenario: Scenario, rollback: bool):
    env = scenario.env
    scenario.group(deploymentConfigName="CodeDeployDefault.ECSCanary10Percent15Minutes")
    with events_probe(scenario) as probe:
        deployment = scenario.deploy()
        scenario.wait_green_weight(deployment, 10.0)
        answer = scenario.codedeploy.stop_deployment(deploymentId=deployment, autoRollbackEnabled=rollback)
        assert answer["status"] == "Pending"
        info = scenario.wait_status(deployment, "Stopped")
        state_events(probe, deployment, "STOP")
    assert info["errorInformation"]["code"] == "MANUAL_STOP"
    if rollback:
        rollback_info = scenario.wait_status(info["rollbackInfo"]["rollbackDeploymentId"], "Succeeded")
        assert rollback_info["creator"] == "codeDeployRollback"
        assert scenario.weights() == {env.blue_tg: 100, env.green_tg: 0}
        assert scenario.task_sets() == {blue_id(scenario, deployment): "PRIMARY"}
    else:
        assert "rollbackInfo" not in info
        assert scenario.weights() == {env.blue_tg: 90, env.green_tg: 10}, "traffic stays where it was"
        assert len(scenario.task_sets()) == 2, "green is kept beside blue"
    with pytest.raises(scenario.codedeploy.exceptions.DeploymentAlreadyCompletedException):
        scenario.codedeploy.stop_deployment(deploymentId=deployment)


# ---- notifications --------------------------------------------------------------------------------------


def test_codestar_notification_rules_get_started_succeeded_and_failed(scenario: Scenario):
    """The application's notification rule fires for CodeDeploy's own events (the engine's, on the
    account's default bus): started and succeeded for one deployment, failed for one whose hook fails."""
    scenario.group()
    sns = scenario.client("sns")
    topic = sns.create_topic(Name="deployments")["TopicArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "codestar-notifications.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic,
            }
        ],
    }
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(policy))
    rule_arn = scenario.client("codestar-notifications").create_notification_rule(
        Name="deployments",
        DetailType="FULL",
        Resource=f"arn:aws:codedeploy:{REGION}:{scenario.account}:application:app",
        EventTypeIds=[
            "codedeploy-application-deployment-started",
            "codedeploy-application-deployment-succeeded",
            "codedeploy-application-deployment-failed",
        ],
        Targets=[{"TargetType": "SNS", "TargetAddress": topic}],
    )["Arn"]

    def notification(probe: SnsProbe, deployment: str, state: str) -> dict[str, Any]:
        body = probe.wait_for(
            lambda b: (
                isinstance(b, SnsNotification)
                and json.loads(b.message).get("detail", {}).get("state") == state
                and json.loads(b.message)["detail"].get("deploymentId") == deployment
            ),
            timeout=20,
            describe=f"the {state} notification of {deployment}",
        )
        return json.loads(body.message)

    function = hook_function(scenario.client, "notified-gate")
    with SnsProbe(sns, scenario.client("sqs"), topic) as probe:
        deployment = scenario.deploy()
        scenario.wait_status(deployment, "Succeeded")
        seen = [notification(probe, deployment, state) for state in ("START", "SUCCESS")]
        failing = scenario.deploy(hooks=[{"AfterAllowTestTraffic": function}])
        scenario.answer_hook(failing, "AfterAllowTestTraffic", "Failed")
        scenario.wait_status(failing, "Failed")
        seen.append(notification(probe, failing, "FAILURE"))
    assert [m["detailType"] for m in seen] == ["CodeDeploy Deployment State-change Notification"] * 3
    for message in seen:
        # the message CodeStar Notifications publishes: the event's detail, about the application
        assert message["notificationRuleArn"] == rule_arn and message["source"] == "aws.codedeploy"
        assert message["resources"][0] == f"arn:aws:codedeploy:{REGION}:{scenario.account}:application:app"
        assert {"application": "app", "deploymentGroup": "grp"}.items() <= message["detail"].items()
        assert message["detail"]["instanceGroupId"] and message["account"] == scenario.account


# ---- real traffic -----------------------------------------------------------------------------------------


def test_listeners_carry_traffic_to_green_on_test_then_production(scenario: Scenario):
    """The ALB data plane reads the listener actions CodeDeploy writes: requests reach the green tasks."""
    scenario.group(**_ready_group(30))
    green = task_definition(scenario.client("ecs"), "cd-green", "green")
    deployment = scenario.deploy(task_definition=green)
    scenario.wait_status(deployment, "Ready")
    prod = scenario.aws.aws.listener_url(scenario.env.prod_listener)
    test = scenario.aws.aws.listener_url(scenario.env.test_listener)
    assert get(prod) == (200, b"blue")
    assert get(test) == (200, b"green")
    scenario.codedeploy.continue_deployment(deploymentId=deployment, deploymentWaitType="READY_WAIT")
    scenario.wait_status(deployment, "Succeeded")
    assert get(prod) == (200, b"green")


HOOK_CODE = """
import boto3

def handler(event, context):
    boto3.client("codedeploy").put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status="Succeeded",
    )
"""


def test_a_real_hook_function_answers_for_itself(scenario: Scenario):
    """The Lambda executor runs the hook with its payload; the function calls PutLifecycleEventHookExecutionStatus."""
    scenario.group()
    function = hook_function(scenario.client, "self-answering", code=HOOK_CODE)
    deployment = scenario.deploy(hooks=[{"AfterAllowTraffic": function}])
    scenario.wait_status(deployment, "Succeeded", timeout=60)
    assert lifecycle(scenario.target(deployment))["AfterAllowTraffic"] == "Succeeded"
