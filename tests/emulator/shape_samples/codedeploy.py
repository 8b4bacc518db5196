"""Shape-test requests for every CodeDeploy operation. They run against this plane alone (ECS, ELB, IAM and
Lambda are moto's): callables build the ECS environment first and wait, with deadlines, for the deployment
to reach the states the next operation needs (a hook pending, Ready)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codedeploy_fixtures import ACCOUNT, REGION, EcsEnvironment, ecs_environment, hook_function

from gitops_harness.waiting import wait_until
from shape_samples import Sample

if TYPE_CHECKING:
    from gitops_harness.emulator.codedeploy.plane import CodeDeploy


def samples(plane: CodeDeploy) -> list[Sample]:
    app, group = "shape-app", "shape-group"
    env: dict[str, EcsEnvironment] = {}

    def client(service: str) -> Any:
        return plane.runtime.clients.for_account(service, ACCOUNT, REGION)

    def create_group(_: dict[str, Any]) -> dict[str, Any]:
        env["ecs"] = ecs_environment(client)
        hook_function(client, "shape-hook")
        return env["ecs"].group_request(
            app,
            group,
            blueGreenDeploymentConfiguration={
                "deploymentReadyOption": {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 60},
                "terminateBlueInstancesOnDeploymentSuccess": {
                    "action": "TERMINATE",
                    "terminationWaitTimeInMinutes": 60,
                },
            },
            tags=[{"Key": "team", "Value": "shape"}],
        )

    def deployment_id(answers: dict[str, Any]) -> str:
        return answers["CreateDeployment"]["deploymentId"]

    def pending_hook(answers: dict[str, Any]) -> dict[str, Any]:
        identifier = deployment_id(answers)

        def hook() -> str | None:
            with plane.lock:
                deployment = plane.store.get(ACCOUNT, REGION).deployments[identifier]
                return next(
                    (h.execution_id for h in deployment.hooks.values() if h.status == "Pending"), None
                )

        return {
            "deploymentId": identifier,
            "lifecycleEventHookExecutionId": wait_until(
                hook, timeout=30, describe_expected="the BeforeInstall hook pending", interval=0.02
            ),
            "status": "Succeeded",
        }

    def when_ready(answers: dict[str, Any]) -> dict[str, Any]:
        identifier = deployment_id(answers)
        deployments = plane.store.get(ACCOUNT, REGION).deployments
        wait_until(
            lambda: deployments[identifier].status == "Ready",
            timeout=30,
            describe_expected="the Ready state",
            interval=0.02,
        )
        return {"deploymentId": identifier, "deploymentWaitType": "READY_WAIT"}

    def target(answers: dict[str, Any]) -> str:
        return answers["ListDeploymentTargets"]["targetIds"][0]

    group_arn = f"arn:aws:codedeploy:{REGION}:{ACCOUNT}:deploymentgroup:{app}/{group}"
    return [
        Sample("CreateApplication", {"applicationName": app, "computePlatform": "ECS"}),
        Sample("CreateApplication", {"applicationName": "shape-doomed", "computePlatform": "ECS"}),
        Sample("GetApplication", {"applicationName": app}),
        Sample("BatchGetApplications", {"applicationNames": [app]}),
        Sample("ListApplications"),
        Sample("UpdateApplication", {"applicationName": "shape-doomed", "newApplicationName": "shape-gone"}),
        Sample("DeleteApplication", {"applicationName": "shape-gone"}),
        Sample(
            "CreateDeploymentConfig",
            {
                "deploymentConfigName": "shape-canary",
                "computePlatform": "ECS",
                "trafficRoutingConfig": {
                    "type": "TimeBasedCanary",
                    "timeBasedCanary": {"canaryPercentage": 20, "canaryInterval": 2},
                },
            },
        ),
        Sample("GetDeploymentConfig", {"deploymentConfigName": "shape-canary"}),
        Sample("ListDeploymentConfigs"),
        Sample(
            "CreateDeploymentConfig",
            {
                "deploymentConfigName": "shape-doomed",
                "computePlatform": "ECS",
                "trafficRoutingConfig": {"type": "AllAtOnce"},
            },
        ),
        Sample("DeleteDeploymentConfig", {"deploymentConfigName": "shape-doomed"}),
        Sample("CreateDeploymentGroup", create_group),
        Sample("GetDeploymentGroup", {"applicationName": app, "deploymentGroupName": group}),
        Sample("BatchGetDeploymentGroups", {"applicationName": app, "deploymentGroupNames": [group, "nope"]}),
        Sample("ListDeploymentGroups", {"applicationName": app}),
        Sample(
            "UpdateDeploymentGroup",
            {
                "applicationName": app,
                "currentDeploymentGroupName": group,
                "deploymentConfigName": "shape-canary",
            },
        ),
        Sample("TagResource", {"ResourceArn": group_arn, "Tags": [{"Key": "stage", "Value": "dev"}]}),
        Sample("UntagResource", {"ResourceArn": group_arn, "TagKeys": ["team"]}),
        Sample("ListTagsForResource", {"ResourceArn": group_arn}),
        Sample(
            "CreateDeployment",
            lambda _: {
                "applicationName": app,
                "deploymentGroupName": group,
                "revision": {
                    "revisionType": "AppSpecContent",
                    "appSpecContent": {
                        "content": env["ecs"].appspec(hooks=[{"BeforeInstall": "shape-hook"}])
                    },
                },
            },
        ),
        Sample("PutLifecycleEventHookExecutionStatus", pending_hook),
        Sample("ContinueDeployment", when_ready),
        Sample("GetDeployment", lambda answers: {"deploymentId": deployment_id(answers)}),
        Sample("BatchGetDeployments", lambda answers: {"deploymentIds": [deployment_id(answers)]}),
        Sample("ListDeployments", {"applicationName": app, "deploymentGroupName": group}),
        Sample("ListDeploymentTargets", lambda answers: {"deploymentId": deployment_id(answers)}),
        Sample(
            "GetDeploymentTarget",
            lambda answers: {"deploymentId": deployment_id(answers), "targetId": target(answers)},
        ),
        Sample(
            "BatchGetDeploymentTargets",
            lambda answers: {"deploymentId": deployment_id(answers), "targetIds": [target(answers)]},
        ),
        Sample(
            "StopDeployment",
            lambda answers: {"deploymentId": deployment_id(answers), "autoRollbackEnabled": True},
        ),
        Sample("DeleteDeploymentGroup", {"applicationName": app, "deploymentGroupName": group}),
    ]
