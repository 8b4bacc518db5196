"""Test-only CodeBuild and CodeDeploy planes for the CodePipeline tests (the real planes come from other
work): a build that honours the CodePipeline contract (S3 source zip in, ZIP artifact out at the
override location, exported variables) and a deployment whose status the test sets."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gitops_harness.emulator.controlplane import ControlPlane, RequestContext, Runtime, Store
from gitops_harness.emulator.exceptions import ModeledErrors

TASKDEF = {
    "family": "app",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "256",
    "memory": "512",
    "containerDefinitions": [
        {"name": "app", "image": "<IMAGE1_NAME>", "essential": True, "portMappings": [{"containerPort": 80}]}
    ],
}
APPSPEC = "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: <TASK_DEFINITION>\n        LoadBalancerInfo:\n          ContainerName: app\n          ContainerPort: 80\n"


@dataclass
class BuildState:
    builds: dict[str, dict[str, Any]] = field(default_factory=dict)


class DemoCodeBuild(ControlPlane):
    service_name = "codebuild"
    validation_error_code = "InvalidInputException"
    errors = ModeledErrors("codebuild")

    def __init__(self, runtime: Runtime):
        super().__init__(runtime)
        self.store: Store[BuildState] = Store(BuildState)
        self.requests: list[dict[str, Any]] = []

    def StartBuild(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(request)
        project = request["projectName"]
        build_id = f"{project}:{uuid.uuid4()}"
        build = {
            "id": build_id,
            "arn": f"arn:aws:codebuild:{ctx.region}:{ctx.account_id}:build/{build_id}",
            "projectName": project,
            "buildStatus": "IN_PROGRESS",
            "currentPhase": "BUILD",
            "startTime": datetime.now(UTC),
        }
        self.store[ctx].builds[build_id] = build
        self.runtime.scheduler.spawn(self._run, ctx.account_id, ctx.region, build, request)
        return {"build": dict(build)}

    def _run(self, account: str, region: str, build: dict[str, Any], request: dict[str, Any]) -> None:
        s3 = self.runtime.clients.for_account("s3", account, region)
        bucket, _, key = request["sourceLocationOverride"].partition("/")
        source = zipfile.ZipFile(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
        files = {name: source.read(name) for name in source.namelist()}
        status = "FAILED" if "fail" in build["projectName"] else "SUCCEEDED"
        if status == "SUCCEEDED":
            image = f"{account}.dkr.ecr.{region}.amazonaws.com/app@sha256:{'a' * 64}"
            taskdef = files.get("taskdef.json") or json.dumps(TASKDEF).encode()
            out = {
                "taskdef.json": taskdef,
                "appspec.yaml": APPSPEC.encode(),
                "imageDetail.json": json.dumps({"ImageURI": image}).encode(),
            }
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                for name, content in out.items():
                    archive.writestr(name, content)
            target = request["artifactsOverride"]
            s3.put_object(
                Bucket=target["location"], Key=f"{target['path']}/{target['name']}", Body=buffer.getvalue()
            )
            variables = {v["name"]: v["value"] for v in request.get("environmentVariablesOverride") or []}
            build["exportedEnvironmentVariables"] = [
                {"name": "IMAGE_URI", "value": image},
                {"name": "STAGE_LABEL", "value": variables.get("STAGE_LABEL", "")},
            ]
        else:
            build["phases"] = [
                {
                    "phaseType": "BUILD",
                    "phaseStatus": "FAILED",
                    "contexts": [{"statusCode": "COMMAND_EXECUTION_ERROR", "message": "exit status 2"}],
                }
            ]
        with self.lock:
            build["buildStatus"] = status
            build["currentPhase"] = "COMPLETED"
            build["endTime"] = datetime.now(UTC)

    def BatchGetBuilds(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        builds = self.store[ctx].builds
        answer: dict[str, Any] = {"builds": [dict(builds[i]) for i in request["ids"] if i in builds]}
        missing = [i for i in request["ids"] if i not in builds]
        if missing:
            answer["buildsNotFound"] = missing
        return answer


@dataclass
class DeployState:
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)


class DemoCodeDeploy(ControlPlane):
    service_name = "codedeploy"
    errors = ModeledErrors("codedeploy")

    def __init__(self, runtime: Runtime):
        super().__init__(runtime)
        self.store: Store[DeployState] = Store(DeployState)

    def CreateDeployment(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        deployment_id = "d-" + uuid.uuid4().hex[:9].upper()
        self.store[ctx].deployments[deployment_id] = {
            "deploymentId": deployment_id,
            "applicationName": request["applicationName"],
            "deploymentGroupName": request["deploymentGroupName"],
            "revision": request["revision"],
            "status": "Created",
            "createTime": datetime.now(UTC),
        }
        return {"deploymentId": deployment_id}

    def GetDeployment(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        info = self.store[ctx].deployments.get(request["deploymentId"])
        if info is None:
            raise self.errors.DeploymentDoesNotExistException(f"{request['deploymentId']} does not exist")
        return {"deploymentInfo": dict(info)}

    def finish(self, account: str, status: str) -> list[str]:
        """Set every open deployment of `account` to `status` (what the deployment engine will do)."""
        with self.lock:
            open_ = [
                d
                for d in self.store.get(account, "us-east-1").deployments.values()
                if d["status"] == "Created"
            ]
            for deployment in open_:
                deployment["status"] = status
        return [d["deploymentId"] for d in open_]
