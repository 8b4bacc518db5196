"""CodeDeployToECS: fill the task definition and AppSpec from the input artifacts, register the task
definition, create the CodeDeploy deployment and follow it until it ends.

Checks done before anything is registered (the action fails with the message; AWS's wording where known):
input artifacts at most 3 MB; the task definition and AppSpec files exist in their artifacts; every
Image<N>ContainerName placeholder ("<IMAGE1_NAME>") occurs in the task definition; imageDetail.json holds
an ImageURI.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from functools import cache
from typing import Any

from botocore.exceptions import ClientError

from gitops_harness.emulator.codepipeline.actions.base import ActionContext, ActionFailed, ActionOutcome
from gitops_harness.emulator.codepipeline.artifact_store import zip_members
from gitops_harness.emulator.exceptions import botocore_session
from gitops_harness.emulator.scheduler import WaitFor

MAX_ARTIFACT_BYTES = 3 * 1024 * 1024
POLL_SECONDS = 15  # AWS seconds between GetDeployment calls
DEPLOYMENT_DONE = {"Succeeded", "Failed", "Stopped"}
TASK_DEFINITION_PLACEHOLDER = "<TASK_DEFINITION>"


@cache
def _register_members() -> frozenset[str]:
    model = botocore_session().get_service_model("ecs")
    return frozenset(model.operation_model("RegisterTaskDefinition").input_shape.members)


def _members(ctx: ActionContext, name: str) -> dict[str, bytes]:
    body = ctx.read_input(name)
    if len(body) > MAX_ARTIFACT_BYTES:
        raise ActionFailed(
            f"Input artifact {name} is {len(body)} bytes: CodeDeployToECS input artifacts are limited to 3 MB",
            "ConfigurationError",
        )
    try:
        return zip_members(body)
    except Exception:
        raise ActionFailed(f"Input artifact {name} is not a zip file", "ConfigurationError") from None


def prepare(ctx: ActionContext) -> tuple[dict[str, Any], str]:
    """The task definition to register (placeholders filled) and the AppSpec text; ActionFailed if inputs are wrong."""
    config = ctx.configuration
    files = {name: _members(ctx, name) for name in ctx.input_names}
    taskdef_artifact = config["TaskDefinitionTemplateArtifact"]
    taskdef_path = config.get("TaskDefinitionTemplatePath") or "taskdef.json"
    appspec_artifact = config["AppSpecTemplateArtifact"]
    appspec_path = config.get("AppSpecTemplatePath") or "appspec.yaml"
    taskdef_bytes = files.get(taskdef_artifact, {}).get(taskdef_path)
    if taskdef_bytes is None:
        raise ActionFailed(
            f"Exception while trying to read the task definition artifact file from: {taskdef_artifact} "
            f"(no file {taskdef_path} in the artifact)",
            "ConfigurationError",
        )
    appspec_bytes = files.get(appspec_artifact, {}).get(appspec_path)
    if appspec_bytes is None:
        raise ActionFailed(
            f"Exception while trying to read the AppSpec artifact file from: {appspec_artifact} "
            f"(no file {appspec_path} in the artifact; AppSpecTemplatePath defaults to appspec.yaml)",
            "ConfigurationError",
        )
    taskdef_text = taskdef_bytes.decode("utf-8", "replace")
    for index in range(1, 5):
        artifact = config.get(f"Image{index}ArtifactName")
        placeholder = config.get(f"Image{index}ContainerName")
        if not artifact or not placeholder:
            continue
        if f"<{placeholder}>" not in taskdef_text:
            raise ActionFailed(
                f"Invalid action configuration: The AWS ECS container {placeholder} does not exist: "
                f"{taskdef_path} contains no placeholder <{placeholder}> (Image{index}ContainerName)",
                "ConfigurationError",
            )
        detail = files.get(artifact, {}).get("imageDetail.json")
        try:
            image_uri = json.loads(detail or b"")["ImageURI"]
        except (ValueError, KeyError, TypeError):
            raise ActionFailed(
                f"Image{index}ArtifactName {artifact} has no imageDetail.json with an ImageURI",
                "ConfigurationError",
            ) from None
        taskdef_text = taskdef_text.replace(f"<{placeholder}>", image_uri)
    try:
        taskdef = json.loads(taskdef_text)
    except ValueError as exc:
        raise ActionFailed(f"{taskdef_path} is not valid JSON: {exc}", "ConfigurationError") from None
    if not isinstance(taskdef, dict):
        raise ActionFailed(f"{taskdef_path} is not a JSON object", "ConfigurationError")
    # taskdef.json is often a DescribeTaskDefinition dump: keep only what RegisterTaskDefinition takes
    register = {k: v for k, v in taskdef.items() if k in _register_members()}
    return register, appspec_bytes.decode("utf-8", "replace")


def run(ctx: ActionContext) -> Generator[Any, Any, ActionOutcome]:
    register, appspec = prepare(ctx)
    if TASK_DEFINITION_PLACEHOLDER not in appspec:
        raise ActionFailed(
            f"The AppSpec file has no {TASK_DEFINITION_PLACEHOLDER} placeholder for the task definition",
            "ConfigurationError",
        )
    config = ctx.configuration
    try:
        arn = ctx.clients("ecs").register_task_definition(**register)["taskDefinition"]["taskDefinitionArn"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ActionFailed(
            f"Could not register the task definition: {error.get('Code')}: {error.get('Message')}"
        ) from None
    codedeploy = ctx.clients("codedeploy")
    try:
        deployment_id = codedeploy.create_deployment(
            applicationName=config["ApplicationName"],
            deploymentGroupName=config["DeploymentGroupName"],
            revision={
                "revisionType": "AppSpecContent",
                "appSpecContent": {"content": appspec.replace(TASK_DEFINITION_PLACEHOLDER, arn)},
            },
        )["deploymentId"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ActionFailed(
            f"Could not create the deployment: {error.get('Code')}: {error.get('Message')}"
        ) from None
    url = (
        f"https://console.aws.amazon.com/codesuite/codedeploy/deployments/{deployment_id}?region={ctx.region}"
    )
    ctx.set_external(deployment_id, url)
    status = "Created"
    info: dict[str, Any] = {}
    while status not in DEPLOYMENT_DONE:
        ctx.run.wake.clear()
        yield WaitFor(ctx.run.wake, timeout=POLL_SECONDS)
        try:
            info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        except ClientError:
            continue
        status = info.get("status", status)
    if status != "Succeeded":
        error = info.get("errorInformation") or {}
        raise ActionFailed(
            f"Deployment {deployment_id} {status.lower()}: {error.get('code', '')} {error.get('message', '')}".strip(),
            "JobFailed",
            external_url=url,
        )
    return ActionOutcome(
        summary=f"Deployment {deployment_id} succeeded", external_id=deployment_id, external_url=url
    )
