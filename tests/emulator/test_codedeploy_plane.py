"""The CodeDeploy API: applications, ECS blue/green groups and what they must name, deployment configs,
deployments and their errors, targets, hook answers, tags. Bad input gets AWS's error and changes nothing."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from codedeploy_fixtures import Scenario, hook_function
from ecs_helpers import TIME_SCALE

from gitops_harness.emulator.scheduler import FakeClock
from gitops_harness.emulator.testing import RunningEmulator, running_emulator

_accounts = itertools.count(1)
PREDEFINED_ECS = {
    "CodeDeployDefault.ECSAllAtOnce": {"type": "AllAtOnce"},
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes": {
        "type": "TimeBasedLinear",
        "timeBasedLinear": {"linearPercentage": 10, "linearInterval": 1},
    },
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes": {
        "type": "TimeBasedLinear",
        "timeBasedLinear": {"linearPercentage": 10, "linearInterval": 3},
    },
    "CodeDeployDefault.ECSCanary10Percent5Minutes": {
        "type": "TimeBasedCanary",
        "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 5},
    },
    "CodeDeployDefault.ECSCanary10Percent15Minutes": {
        "type": "TimeBasedCanary",
        "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 15},
    },
}


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def aws(clock: FakeClock) -> Iterator[RunningEmulator]:
    with running_emulator(clock=clock, time_scale=TIME_SCALE) as emulator:
        yield emulator


@pytest.fixture
def scenario(aws: RunningEmulator, clock: FakeClock) -> Scenario:
    return Scenario(aws, clock=clock, account=f"53{next(_accounts):010d}")


def code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_applications_crud_and_errors(scenario: Scenario):
    codedeploy = scenario.codedeploy
    app_id = codedeploy.create_application(applicationName="web", computePlatform="ECS")["applicationId"]
    info = codedeploy.get_application(applicationName="web")["application"]
    assert (info["applicationId"], info["computePlatform"]) == (app_id, "ECS")
    with pytest.raises(ClientError) as excinfo:
        codedeploy.create_application(applicationName="web", computePlatform="ECS")
    assert code(excinfo) == "ApplicationAlreadyExistsException"
    with pytest.raises(ClientError) as excinfo:
        codedeploy.get_application(applicationName="nope")
    assert code(excinfo) == "ApplicationDoesNotExistException"
    with pytest.raises(ClientError) as excinfo:
        codedeploy.list_applications(nextToken="garbage")
    assert code(excinfo) == "InvalidNextTokenException"
    codedeploy.update_application(applicationName="web", newApplicationName="site")
    assert codedeploy.list_applications()["applications"] == ["site"]
    codedeploy.delete_application(applicationName="site")
    codedeploy.delete_application(applicationName="site")  # AWS answers success for a missing application
    assert codedeploy.list_applications()["applications"] == []


def test_predefined_and_custom_deployment_configs(scenario: Scenario):
    codedeploy = scenario.codedeploy
    names = codedeploy.list_deployment_configs()["deploymentConfigsList"]
    assert set(PREDEFINED_ECS) <= set(names)
    for name, routing in PREDEFINED_ECS.items():
        info = codedeploy.get_deployment_config(deploymentConfigName=name)["deploymentConfigInfo"]
        assert (info["computePlatform"], info["trafficRoutingConfig"]) == ("ECS", routing)
    canary = {"type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": 30, "canaryInterval": 7}}
    codedeploy.create_deployment_config(
        deploymentConfigName="c30", computePlatform="ECS", trafficRoutingConfig=canary
    )
    assert (
        codedeploy.get_deployment_config(deploymentConfigName="c30")["deploymentConfigInfo"][
            "trafficRoutingConfig"
        ]
        == canary
    )
    for name, routing, error in (
        ("c30", canary, "DeploymentConfigAlreadyExistsException"),
        (
            "bad",
            {"type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": 100, "linearInterval": 1}},
            "InvalidTrafficRoutingConfigurationException",
        ),
        ("CodeDeployDefault.Mine", {"type": "AllAtOnce"}, "InvalidDeploymentConfigNameException"),
    ):
        with pytest.raises(ClientError) as excinfo:
            codedeploy.create_deployment_config(
                deploymentConfigName=name, computePlatform="ECS", trafficRoutingConfig=routing
            )
        assert code(excinfo) == error
    assert "bad" not in codedeploy.list_deployment_configs()["deploymentConfigsList"]
    with pytest.raises(ClientError) as excinfo:
        codedeploy.get_deployment_config(deploymentConfigName="missing")
    assert code(excinfo) == "DeploymentConfigDoesNotExistException"


def test_group_round_trips_its_configuration(scenario: Scenario):
    scenario.group(
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
        alarmConfiguration={"enabled": True, "alarms": [{"name": "a"}]},
    )
    info = scenario.codedeploy.get_deployment_group(applicationName="app", deploymentGroupName="grp")[
        "deploymentGroupInfo"
    ]
    request = scenario.env.group_request("app", "grp")
    assert info["computePlatform"] == "ECS"
    assert info["loadBalancerInfo"] == request["loadBalancerInfo"]
    assert info["ecsServices"] == request["ecsServices"]
    assert info["blueGreenDeploymentConfiguration"] == request["blueGreenDeploymentConfiguration"]
    assert info["autoRollbackConfiguration"] == {"enabled": True, "events": ["DEPLOYMENT_FAILURE"]}
    batch = scenario.codedeploy.batch_get_deployment_groups(
        applicationName="app", deploymentGroupNames=["grp", "x"]
    )
    assert [g["deploymentGroupName"] for g in batch["deploymentGroupsInfo"]] == ["grp"]
    assert "x" in batch["errorMessage"]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            lambda env: {
                "loadBalancerInfo": _pair(env, target_groups=[{"name": env.blue_tg}, {"name": "no-such-tg"}])
            },
            "InvalidLoadBalancerInfoException",
        ),
        (
            lambda env: {
                "loadBalancerInfo": _pair(env, prod=[env.prod_listener.replace("listener/", "listener/x")])
            },
            "InvalidLoadBalancerInfoException",
        ),
        (
            lambda env: {"ecsServices": [{"clusterName": env.cluster, "serviceName": "missing"}]},
            "InvalidECSServiceException",
        ),
        (
            lambda env: {
                "deploymentStyle": {
                    "deploymentType": "IN_PLACE",
                    "deploymentOption": "WITHOUT_TRAFFIC_CONTROL",
                }
            },
            "InvalidDeploymentStyleException",
        ),
        (lambda env: {"deploymentConfigName": "missing"}, "DeploymentConfigDoesNotExistException"),
    ],
    ids=["missing-target-group", "missing-listener", "missing-service", "in-place", "missing-config"],
)
def test_a_group_naming_what_does_not_exist_is_refused_and_not_stored(
    scenario: Scenario, change: Any, error: str
):
    scenario.codedeploy.create_application(applicationName="app", computePlatform="ECS")
    with pytest.raises(ClientError) as excinfo:
        scenario.codedeploy.create_deployment_group(
            **scenario.env.group_request("app", "grp", **change(scenario.env))
        )
    assert code(excinfo) == error
    assert scenario.codedeploy.list_deployment_groups(applicationName="app")["deploymentGroups"] == []


def _pair(
    env: Any, target_groups: list[dict[str, str]] | None = None, prod: list[str] | None = None
) -> dict[str, Any]:
    return {
        "targetGroupPairInfoList": [
            {
                "targetGroups": target_groups or [{"name": env.blue_tg}, {"name": env.green_tg}],
                "prodTrafficRoute": {"listenerArns": prod or [env.prod_listener]},
            }
        ]
    }


def test_a_service_not_under_the_code_deploy_controller_is_refused(scenario: Scenario):
    ecs = scenario.client("ecs")
    ecs.create_service(
        cluster=scenario.env.cluster, serviceName="rolling", taskDefinition=scenario.env.task_definition
    )
    scenario.codedeploy.create_application(applicationName="app", computePlatform="ECS")
    with pytest.raises(ClientError) as excinfo:
        scenario.codedeploy.create_deployment_group(
            **scenario.env.group_request(
                "app", "grp", ecsServices=[{"clusterName": scenario.env.cluster, "serviceName": "rolling"}]
            )
        )
    assert code(excinfo) == "InvalidECSServiceException"
    assert "CODE_DEPLOY" in excinfo.value.response["Error"]["Message"]


def test_deployment_errors(scenario: Scenario):
    codedeploy = scenario.codedeploy
    scenario.group()
    for kwargs, error in (
        ({"applicationName": "nope", "deploymentGroupName": "grp"}, "ApplicationDoesNotExistException"),
        ({"applicationName": "app", "deploymentGroupName": "nope"}, "DeploymentGroupDoesNotExistException"),
    ):
        with pytest.raises(ClientError) as excinfo:
            codedeploy.create_deployment(
                **kwargs,
                revision={
                    "revisionType": "AppSpecContent",
                    "appSpecContent": {"content": scenario.env.appspec()},
                },
            )
        assert code(excinfo) == error
    for content in (
        "version: 0.0\nResources: [",
        "version: 0.0\nResources: []\n",
        scenario.env.appspec(task_definition="<TASK_DEFINITION>"),
    ):
        with pytest.raises(ClientError) as excinfo:
            codedeploy.create_deployment(
                applicationName="app",
                deploymentGroupName="grp",
                revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": content}},
            )
        assert code(excinfo) == "InvalidRevisionException"
    with pytest.raises(ClientError) as excinfo:
        scenario.deploy(hooks=[{"Install": "fn"}])
    assert code(excinfo) == "InvalidRevisionException"
    assert codedeploy.list_deployments(applicationName="app")["deployments"] == [], "nothing was created"
    for call, error in (
        (lambda: codedeploy.get_deployment(deploymentId="d-NOPE12345"), "DeploymentDoesNotExistException"),
        (lambda: codedeploy.stop_deployment(deploymentId="d-NOPE12345"), "DeploymentDoesNotExistException"),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert code(excinfo) == error


def test_one_active_deployment_per_group_and_hook_answers(scenario: Scenario):
    codedeploy = scenario.codedeploy
    scenario.group()
    function = hook_function(scenario.client, "gate")
    deployment = scenario.deploy(hooks=[{"BeforeInstall": function}])
    with pytest.raises(ClientError) as excinfo:
        scenario.deploy()
    assert code(excinfo) == "DeploymentAlreadyStartedException"
    assert deployment in excinfo.value.response["Error"]["Message"]
    execution = scenario.pending_hook(deployment, "BeforeInstall")
    for execution_id, status, error in (
        ("not-an-execution", "Succeeded", "InvalidLifecycleEventHookExecutionIdException"),
        (execution, "InProgress", "InvalidLifecycleEventHookExecutionStatusException"),
    ):
        with pytest.raises(ClientError) as excinfo:
            codedeploy.put_lifecycle_event_hook_execution_status(
                deploymentId=deployment, lifecycleEventHookExecutionId=execution_id, status=status
            )
        assert code(excinfo) == error
    answer = codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=deployment, lifecycleEventHookExecutionId=execution, status="Succeeded"
    )
    assert answer["lifecycleEventHookExecutionId"] == execution
    with pytest.raises(ClientError) as excinfo:
        codedeploy.put_lifecycle_event_hook_execution_status(
            deploymentId=deployment, lifecycleEventHookExecutionId=execution, status="Succeeded"
        )
    assert code(excinfo) == "LifecycleEventAlreadyCompletedException"
    scenario.wait_status(deployment, "Succeeded")
    targets = codedeploy.list_deployment_targets(deploymentId=deployment)["targetIds"]
    assert targets == [f"{scenario.env.cluster}:{scenario.env.service}"]
    batch = codedeploy.batch_get_deployment_targets(deploymentId=deployment, targetIds=targets)
    assert batch["deploymentTargets"][0]["deploymentTargetType"] == "ECSTarget"
    with pytest.raises(ClientError) as excinfo:
        codedeploy.get_deployment_target(deploymentId=deployment, targetId="other:svc")
    assert code(excinfo) == "DeploymentTargetDoesNotExistException"


def test_a_container_missing_from_the_task_definition_fails_the_deployment_before_any_task_set(
    scenario: Scenario,
):
    scenario.group()
    deployment = scenario.deploy(ContainerName="api")
    info = scenario.wait_status(deployment, "Failed")
    assert info["errorInformation"]["code"] == "ECS_UPDATE_ERROR"
    assert "container api does not exist" in info["errorInformation"]["message"]
    assert list(scenario.task_sets().values()) == ["PRIMARY"], "only blue"
    assert scenario.weights() == {scenario.env.blue_tg: 1}, "production untouched"
    port = scenario.deploy(ContainerPort=9090)
    assert "container port 9090" in scenario.wait_status(port, "Failed")["errorInformation"]["message"]


def test_an_image_missing_from_ecr_fails_the_deployment_at_once_with_ecs_reason(scenario: Scenario):
    scenario.group()
    ecs = scenario.client("ecs")
    missing = ecs.register_task_definition(
        family=f"{scenario.env.service}-missing",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[
            {
                "name": scenario.env.container,
                "image": f"{scenario.account}.dkr.ecr.us-east-1.amazonaws.com/nowhere:1.0",
                "portMappings": [{"containerPort": scenario.env.port}],
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    deployment = scenario.deploy(task_definition=missing)
    # the Install timeout is an hour of AWS time, which the fake clock never reaches here
    info = scenario.wait_status(deployment, "Failed")
    assert info["errorInformation"]["code"] == "ECS_UPDATE_ERROR"
    assert "CannotPullContainerError" in info["errorInformation"]["message"]
    assert "repository nowhere does not exist" in info["errorInformation"]["message"]
    assert scenario.weights() == {scenario.env.blue_tg: 1}, "production untouched"


def test_tags_on_applications_and_groups(scenario: Scenario):
    codedeploy = scenario.codedeploy
    scenario.group()
    arn = f"arn:aws:codedeploy:us-east-1:{scenario.account}:deploymentgroup:app/grp"
    codedeploy.tag_resource(
        ResourceArn=arn, Tags=[{"Key": "team", "Value": "web"}, {"Key": "env", "Value": "dev"}]
    )
    codedeploy.untag_resource(ResourceArn=arn, TagKeys=["env"])
    assert codedeploy.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "web"}]
    with pytest.raises(ClientError) as excinfo:
        codedeploy.tag_resource(ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert code(excinfo) == "InvalidTagsToAddException"
    assert len(codedeploy.list_tags_for_resource(ResourceArn=arn)["Tags"]) == 1, (
        "a refused TagResource stores nothing"
    )
    with pytest.raises(ClientError) as excinfo:
        codedeploy.list_tags_for_resource(ResourceArn=arn.replace("app/grp", "app/other"))
    assert code(excinfo) == "ArnNotSupportedException"


def test_cloudformation_deployment_config_lands_in_the_plane(scenario: Scenario):
    template = {
        "Resources": {
            "Config": {
                "Type": "AWS::CodeDeploy::DeploymentConfig",
                "Properties": {
                    "DeploymentConfigName": "cfn-canary",
                    "ComputePlatform": "ECS",
                    "TrafficRoutingConfig": {
                        "Type": "TimeBasedCanary",
                        "TimeBasedCanary": {"CanaryPercentage": 25, "CanaryInterval": 3},
                    },
                },
            }
        },
        "Outputs": {"Name": {"Value": {"Ref": "Config"}}},
    }
    cfn = scenario.client("cloudformation")
    cfn.create_stack(StackName="configs", TemplateBody=json.dumps(template))
    stack = cfn.describe_stacks(StackName="configs")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Outputs"][0]["OutputValue"] == "cfn-canary"
    info = scenario.codedeploy.get_deployment_config(deploymentConfigName="cfn-canary")[
        "deploymentConfigInfo"
    ]
    assert info["trafficRoutingConfig"]["timeBasedCanary"] == {"canaryPercentage": 25, "canaryInterval": 3}
    cfn.delete_stack(StackName="configs")
    with pytest.raises(ClientError) as excinfo:
        scenario.codedeploy.get_deployment_config(deploymentConfigName="cfn-canary")
    assert code(excinfo) == "DeploymentConfigDoesNotExistException"
