"""Existing mode of the aws target: the team's deployed dev pipeline, found by the names in
``targets.aws.existing`` and read from AWS (no stack outputs: the team may not have deployed it with
the reference templates). Every name is checked; a missing one is one InputError naming the key."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from gitops_harness.errors import InputError
from gitops_harness.stacks import DeployedStack, Deployment, StackSpec
from gitops_harness.targets.base import Target


def find_existing_deployment(target: Target, names: Mapping[str, str]) -> Deployment:
    region = target.region
    pipeline_account = target.account_id("pipeline")

    def read(key: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise InputError(
                f"targets.aws.existing.{key} {names[key]!r}: {error.get('Code')}: {error.get('Message')}"
            ) from None

    repository = read(
        "repository",
        lambda: target.client("codecommit", "management").get_repository(repositoryName=names["repository"]),
    )["repositoryMetadata"]
    pipeline = read(
        "pipeline", lambda: target.client("codepipeline", "pipeline").get_pipeline(name=names["pipeline"])
    )["pipeline"]
    group = read(
        "deployment_group",
        lambda: target.client("codedeploy", "pipeline").get_deployment_group(
            applicationName=names["application"], deploymentGroupName=names["deployment_group"]
        ),
    )["deploymentGroupInfo"]
    topics = {}
    for key in ("approval_topic", "notification_topic"):
        arn = (
            names[key]
            if names[key].startswith("arn:")
            else f"arn:aws:sns:{region}:{pipeline_account}:{names[key]}"
        )
        read(key, lambda arn=arn: target.client("sns", "pipeline").get_topic_attributes(TopicArn=arn))
        topics[key] = arn

    store = pipeline.get("artifactStore") or next(iter((pipeline.get("artifactStores") or {}).values()), {})
    build_project = next(
        (
            action["configuration"]["ProjectName"]
            for stage in pipeline["stages"]
            for action in stage["actions"]
            if action["actionTypeId"]["provider"] == "CodeBuild"
        ),
        "",
    )
    image_uri = ""
    if build_project:
        projects = target.client("codebuild", "pipeline").batch_get_projects(names=[build_project])[
            "projects"
        ]
        variables = projects[0]["environment"].get("environmentVariables", []) if projects else []
        image_uri = next((v["value"] for v in variables if ".dkr.ecr." in v.get("value", "")), "")
    routes = (group.get("loadBalancerInfo", {}).get("targetGroupPairInfoList") or [{}])[0]
    production = (routes.get("prodTrafficRoute") or {}).get("listenerArns", [])
    test = (routes.get("testTrafficRoute") or {}).get("listenerArns", [])
    if names["listener"] not in production:
        raise InputError(
            f"targets.aws.existing.listener {names['listener']!r} is not the production listener of deployment "
            f"group {names['deployment_group']} ({', '.join(production) or 'none'})"
        )
    service = (group.get("ecsServices") or [{}])[0]
    management = {
        "RepositoryName": repository["repositoryName"],
        "CloneUrlHttp": repository["cloneUrlHttp"],
        "MirrorUserName": names.get("mirror_user", ""),
    }
    outputs = {
        "PipelineName": pipeline["name"],
        "ArtifactBucketName": store.get("location", ""),
        "ArtifactKeyArn": (store.get("encryptionKey") or {}).get("id", ""),
        "ApprovalTopicArn": topics["approval_topic"],
        "NotificationTopicArn": topics["notification_topic"],
        "BuildProjectName": build_project,
        "EcrRepositoryUri": image_uri,
        "CodeDeployApplicationName": names["application"],
        "CodeDeployDeploymentGroupName": names["deployment_group"],
        "ClusterName": service.get("clusterName", ""),
        "ServiceName": service.get("serviceName", ""),
        "ProductionListenerArn": names["listener"],
        "TestListenerArn": test[0] if test else "",
        "ChatNotifierFunctionName": names.get("chat_notifier", ""),
    }
    # Specs name what was found; owned=False keeps teardown away from the team's pipeline.
    specs = {
        "management": StackSpec("management", f"existing:{repository['repositoryName']}", "management", ""),
        "pipeline": StackSpec("pipeline", f"existing:{pipeline['name']}", "pipeline", ""),
    }
    return Deployment(
        {
            "management": DeployedStack(specs["management"], "", {k: v for k, v in management.items() if v}),
            "pipeline": DeployedStack(specs["pipeline"], "", {k: v for k, v in outputs.items() if v}),
        },
        code_bucket="",
        code_key="",
        owned=False,
    )
