"""CodeDeployToECS against the real CodeDeploy plane: the action registers the task definition with the
build's image, creates the deployment (its id is the action's externalExecutionId) and fails the execution
with the deployment's error when the deployment fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from codedeploy_fixtures import ecs_environment
from codepipeline_demo_planes import DemoCodeBuild
from codepipeline_fixtures import Environment, plane, wait_until

from gitops_harness.emulator.codecommit.plane import CodeCommit
from gitops_harness.emulator.codedeploy.plane import CodeDeploy
from gitops_harness.emulator.codepipeline.plane import CodePipeline
from gitops_harness.emulator.testing import RunningEmulator, running_emulator

# accounts and a bucket of this module's own: moto's state is shared by the modules a worker runs
PIPE, MGMT, BUCKET = "333333333321", "333333333322", "cp-deploy-test-artifacts"


@pytest.fixture(scope="module")
def aws() -> Iterator[RunningEmulator]:
    # one AWS hour = 3.6 s: the Install wait for healthy green tasks ends within a test's patience
    with running_emulator(
        planes=[CodeCommit, CodePipeline, DemoCodeBuild, CodeDeploy], time_scale=0.001
    ) as emulator:
        yield emulator


def test_an_image_missing_from_ecr_fails_the_deployment_and_the_execution(aws: RunningEmulator):
    env = Environment(aws, plane(aws, CodeCommit), pipe=PIPE, mgmt=MGMT, bucket=BUCKET)
    ecs = ecs_environment(lambda service: aws.client(service, account=PIPE), "pipe", container="app", port=80)
    codedeploy = aws.client("codedeploy", account=PIPE)
    codedeploy.create_application(applicationName="app", computePlatform="ECS")
    codedeploy.create_deployment_group(**ecs.group_request("app", "app-dg"))
    env.cp.create_pipeline(pipeline=env.declaration("deploys", approval=False))
    execution = env.cp.start_pipeline_execution(name="deploys")["pipelineExecutionId"]

    deployment_id = wait_until(
        "the deployment", lambda: env.action_state("deploys", "Deploy").get("externalExecutionId"), timeout=60
    )
    info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert (info["applicationName"], info["deploymentGroupName"]) == ("app", "app-dg")
    appspec = info["revision"]["appSpecContent"]["content"]
    assert f"arn:aws:ecs:us-east-1:{PIPE}:task-definition/app:" in appspec, "the registered task definition"
    registered = aws.client("ecs", account=PIPE).describe_task_definition(
        taskDefinition=appspec.split("TaskDefinition: ")[1].split()[0]
    )["taskDefinition"]
    assert registered["containerDefinitions"][0]["image"].startswith(
        f"{PIPE}.dkr.ecr.us-east-1.amazonaws.com/app@sha256:"
    )

    # the demo build pushed no layers: green's tasks cannot pull the image and never become healthy
    env.wait_status("deploys", execution, "Failed", timeout=60)
    failed = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert failed["status"] == "Failed" and failed["errorInformation"]["code"] == "ECS_UPDATE_ERROR"
    action = env.action_state("deploys", "Deploy")
    assert action["status"] == "Failed"
    assert action["externalExecutionId"] == deployment_id
    assert deployment_id in action["errorDetails"]["message"]
    assert "ECS_UPDATE_ERROR" in action["errorDetails"]["message"]
