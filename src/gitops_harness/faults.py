"""Faults to inject into a blue/green deployment, made with public APIs only (so they work on AWS too):

- ``HookFunction``: a Lambda lifecycle hook that reports Failed / Succeeded, or never answers.
- ``register_variant``: a copy of the service's current task definition that answers another version
  (APP_VERSION) or whose container health check always fails.
- ``deploy_directly``: CreateDeployment on the reference deployment group with AppSpecContent naming
  that task definition and those hooks, with another deployment config if the test wants one faster.

Hook functions are named ``CodeDeployHook_*``: the AWSCodeDeployRoleForECS managed policy lets
CodeDeploy invoke only functions with that prefix.
"""

from __future__ import annotations

import contextlib
import io
import json
import uuid
import zipfile
from collections.abc import Mapping
from typing import Any

import botocore.session
import yaml
from botocore.exceptions import ClientError

from gitops_harness.deployments import BlueGreenDeployment
from gitops_harness.stacks import Deployment
from gitops_harness.targets import Target
from gitops_harness.waiting import wait_until

# What the hook does with the event CodeDeploy sends it ({DeploymentId, LifecycleEventHookExecutionId}).
HOOK_SOURCE = """import os

import boto3


def handler(event, context):
    status = os.environ["HOOK_STATUS"]
    if status == "NoAnswer":  # CodeDeploy waits for a status that never comes
        return {"answered": False}
    boto3.client("codedeploy").put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=status,
    )
    return {"answered": status}
"""
HOOK_BEHAVIOURS = ("Succeeded", "Failed", "NoAnswer")
ALWAYS_UNHEALTHY = ["CMD", "python", "-c", "raise SystemExit(1)"]


class HookFunction:
    """A lifecycle hook Lambda (and its role) in the pipeline account, deleted on exit."""

    def __init__(self, target: Target, behaviour: str, *, prefix: str = "gitops-harness"):
        if behaviour not in HOOK_BEHAVIOURS:
            raise ValueError(f"hook behaviour {behaviour!r}: choose one of {', '.join(HOOK_BEHAVIOURS)}")
        suffix = uuid.uuid4().hex[:8]
        self.target = target
        self.behaviour = behaviour
        self.name = f"CodeDeployHook_{prefix}-{behaviour.lower()}-{suffix}"[:64]
        self.role_name = f"{prefix}-hook-{suffix}"
        self.iam = target.client("iam", "pipeline")
        self.lambda_ = target.client("lambda", "pipeline")

    def __enter__(self) -> HookFunction:
        account = self.target.account_id("pipeline")
        role = self.iam.create_role(
            RoleName=self.role_name,
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]
        self.iam.put_role_policy(
            RoleName=self.role_name,
            PolicyName="report-hook-status",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "codedeploy:PutLifecycleEventHookExecutionStatus",
                            "Resource": "*",
                        },
                        {
                            "Effect": "Allow",
                            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:CreateLogGroup"],
                            "Resource": f"arn:aws:logs:*:{account}:*",
                        },
                    ],
                }
            ),
        )
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("hook.py", HOOK_SOURCE)

        def create() -> dict[str, Any]:
            try:
                return self.lambda_.create_function(
                    FunctionName=self.name,
                    Runtime="python3.12",
                    Role=role["Arn"],
                    Handler="hook.handler",
                    Code={"ZipFile": buffer.getvalue()},
                    Timeout=30,
                    Environment={"Variables": {"HOOK_STATUS": self.behaviour}},
                )
            except ClientError as exc:  # a new role takes a few seconds to be assumable on AWS
                if "cannot be assumed" in exc.response["Error"].get("Message", ""):
                    return {}
                raise

        try:
            wait_until(create, timeout=60, describe_expected=f"Lambda to accept role {self.role_name}")
            wait_until(
                lambda: (
                    self.lambda_.get_function(FunctionName=self.name)["Configuration"].get("State", "Active")
                    == "Active"
                ),
                timeout=60,
                describe_expected=f"function {self.name} Active",
            )
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(self.lambda_.exceptions.ResourceNotFoundException):
            self.lambda_.delete_function(FunctionName=self.name)
        with contextlib.suppress(self.iam.exceptions.NoSuchEntityException):
            self.iam.delete_role_policy(RoleName=self.role_name, PolicyName="report-hook-status")
            self.iam.delete_role(RoleName=self.role_name)


def _register_members() -> frozenset[str]:
    model = botocore.session.get_session().get_service_model("ecs")
    return frozenset(model.operation_model("RegisterTaskDefinition").input_shape.members)


def primary_task_definition(target: Target, stacks: Deployment) -> str:
    """The task definition of the service's PRIMARY task set (what blue runs now)."""
    [service] = target.client("ecs", "pipeline").describe_services(
        cluster=stacks.cluster_name, services=[stacks.service_name]
    )["services"]
    for task_set in service.get("taskSets", []):
        if task_set.get("status") == "PRIMARY":
            return task_set["taskDefinition"]
    return service["taskDefinition"]


def register_variant(
    target: Target, task_definition: str, *, version: str | None = None, failing_health_check: bool = False
) -> str:
    """A new revision of ``task_definition``: the same image, answering ``version`` (APP_VERSION), or
    with a container health check that always fails. Its ARN."""
    ecs = target.client("ecs", "pipeline")
    current = ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
    register = {k: v for k, v in current.items() if k in _register_members()}
    containers = []
    for container in register["containerDefinitions"]:
        container = dict(container)
        if version is not None:
            env = [e for e in container.get("environment", []) if e["name"] != "APP_VERSION"]
            container["environment"] = env + [{"name": "APP_VERSION", "value": version}]
        if failing_health_check:
            container["healthCheck"] = {
                "command": ALWAYS_UNHEALTHY,
                "interval": 5,
                "timeout": 2,
                "retries": 1,
            }
        containers.append(container)
    register["containerDefinitions"] = containers
    return ecs.register_task_definition(**register)["taskDefinition"]["taskDefinitionArn"]


def appspec_content(task_definition: str, hooks: Mapping[str, str] | None = None) -> str:
    """The reference appspec's shape (fixtures/app/appspec.yml) for ``task_definition`` and ``hooks``."""
    document: dict[str, Any] = {
        "version": 0.0,
        "Resources": [
            {
                "TargetService": {
                    "Type": "AWS::ECS::Service",
                    "Properties": {
                        "TaskDefinition": task_definition,
                        "LoadBalancerInfo": {"ContainerName": "app", "ContainerPort": 8080},
                    },
                }
            }
        ],
    }
    if hooks:
        document["Hooks"] = [{event: function} for event, function in hooks.items()]
    return yaml.safe_dump(document, sort_keys=False)


def deploy_directly(
    target: Target,
    stacks: Deployment,
    task_definition: str,
    *,
    hooks: Mapping[str, str] | None = None,
    config_name: str | None = None,
) -> BlueGreenDeployment:
    """CreateDeployment on the reference deployment group, as the CodeDeployToECS action would."""
    codedeploy = target.client("codedeploy", "pipeline")
    request: dict[str, Any] = {
        "applicationName": stacks.codedeploy_application,
        "deploymentGroupName": stacks.deployment_group,
        "revision": {
            "revisionType": "AppSpecContent",
            "appSpecContent": {"content": appspec_content(task_definition, hooks)},
        },
        "description": "gitops-harness fault injection",
    }
    if config_name:
        request["deploymentConfigName"] = config_name
    return BlueGreenDeployment(codedeploy, codedeploy.create_deployment(**request)["deploymentId"])
