"""An ECS blue/green environment in moto for the CodeDeploy tests and shape samples: VPC, an ALB with prod
and test listeners, two target groups, a CODE_DEPLOY Fargate service whose tasks run as local processes,
the CodeDeploy service role, hook functions; and `Scenario`, the waits the tests share."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ecs_helpers import PUBLIC_IMAGE, answering

from gitops_harness.emulator.codedeploy.engine import INSTALL_POLL_SECONDS
from gitops_harness.waiting import wait_until

ACCOUNT = "111111111111"
REGION = "us-east-1"
_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "{service}"}, "Action": "sts:AssumeRole"}],
}


def _trust(service: str) -> str:
    return json.dumps(_TRUST).replace("{service}", service)


@dataclass
class EcsEnvironment:
    cluster: str
    service: str
    role_arn: str
    blue_tg: str  # names
    green_tg: str
    blue_tg_arn: str
    green_tg_arn: str
    prod_listener: str
    test_listener: str
    task_definition: str  # ARN
    container: str = "web"
    port: int = 8080

    def group_request(self, application: str, group: str, **overrides: Any) -> dict[str, Any]:
        """CreateDeploymentGroup parameters for this environment."""
        request: dict[str, Any] = {
            "applicationName": application,
            "deploymentGroupName": group,
            "serviceRoleArn": self.role_arn,
            "deploymentConfigName": "CodeDeployDefault.ECSAllAtOnce",
            "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            "blueGreenDeploymentConfiguration": {
                "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT", "waitTimeInMinutes": 0},
                "terminateBlueInstancesOnDeploymentSuccess": {
                    "action": "TERMINATE",
                    "terminationWaitTimeInMinutes": 0,
                },
            },
            "ecsServices": [{"clusterName": self.cluster, "serviceName": self.service}],
            "loadBalancerInfo": {
                "targetGroupPairInfoList": [
                    {
                        "targetGroups": [{"name": self.blue_tg}, {"name": self.green_tg}],
                        "prodTrafficRoute": {"listenerArns": [self.prod_listener]},
                        "testTrafficRoute": {"listenerArns": [self.test_listener]},
                    }
                ]
            },
        }
        request.update(overrides)
        return request

    def appspec(
        self, hooks: list[dict[str, str]] | None = None, task_definition: str | None = None, **lb: Any
    ) -> str:
        """AppSpec content as CodeDeployToECS sends it (YAML, the task definition filled in)."""
        info = {"ContainerName": self.container, "ContainerPort": self.port, **lb}
        document: dict[str, Any] = {
            "version": 0.0,
            "Resources": [
                {
                    "TargetService": {
                        "Type": "AWS::ECS::Service",
                        "Properties": {
                            "TaskDefinition": task_definition or self.task_definition,
                            "LoadBalancerInfo": info,
                        },
                    }
                }
            ],
        }
        if hooks:
            document["Hooks"] = hooks
        return json.dumps(document)  # JSON is YAML; CodeDeploy takes both


def task_definition(ecs: Any, family: str, body: str, container: str = "web", port: int = 8080) -> str:
    """A Fargate task definition whose container answers `body` on `port` (a local process here)."""
    return ecs.register_task_definition(
        family=family,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[
            {
                "name": container,
                "image": PUBLIC_IMAGE,
                "command": answering(body, port),
                "portMappings": [{"containerPort": port}],
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]


def ecs_environment(
    client: Callable[[str], Any], name: str = "shape", container: str = "web", port: int = 8080
) -> EcsEnvironment:
    """Create the resources a CodeDeploy ECS blue/green group needs, with `client(service)` of one account."""
    ec2, elb, ecs, iam = client("ec2"), client("elbv2"), client("ecs"), client("iam")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{zone}")[
            "Subnet"
        ]["SubnetId"]
        for i, zone in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(GroupName=f"{name}-sg", Description="alb", VpcId=vpc)["GroupId"]
    alb = elb.create_load_balancer(Name=f"{name}-alb", Subnets=subnets, SecurityGroups=[group])[
        "LoadBalancers"
    ][0]
    target_groups = [
        elb.create_target_group(
            Name=f"{name}-{color}",
            Protocol="HTTP",
            Port=8080,
            VpcId=vpc,
            TargetType="ip",
            HealthCheckPath="/health",
            HealthCheckIntervalSeconds=5,
            HealthyThresholdCount=2,
        )["TargetGroups"][0]
        for color in ("blue", "green")
    ]
    forward = [{"Type": "forward", "TargetGroupArn": target_groups[0]["TargetGroupArn"]}]
    listeners = [
        elb.create_listener(
            LoadBalancerArn=alb["LoadBalancerArn"], Protocol="HTTP", Port=port, DefaultActions=forward
        )["Listeners"][0]["ListenerArn"]
        for port in (80, 8080)
    ]
    role = iam.create_role(
        RoleName=f"{name}-codedeploy", AssumeRolePolicyDocument=_trust("codedeploy.amazonaws.com")
    )
    cluster = ecs.create_cluster(clusterName=f"{name}-cluster")["cluster"]["clusterName"]
    taskdef = task_definition(ecs, f"{name}-app", "blue", container, port)
    service = ecs.create_service(
        cluster=cluster,
        serviceName=f"{name}-service",
        taskDefinition=taskdef,
        desiredCount=1,
        launchType="FARGATE",
        deploymentController={"type": "CODE_DEPLOY"},
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [group]}},
        loadBalancers=[
            {
                "targetGroupArn": target_groups[0]["TargetGroupArn"],
                "containerName": container,
                "containerPort": port,
            }
        ],
    )["service"]["serviceName"]
    return EcsEnvironment(
        cluster=cluster,
        service=service,
        role_arn=role["Role"]["Arn"],
        blue_tg=target_groups[0]["TargetGroupName"],
        green_tg=target_groups[1]["TargetGroupName"],
        blue_tg_arn=target_groups[0]["TargetGroupArn"],
        green_tg_arn=target_groups[1]["TargetGroupArn"],
        prod_listener=listeners[0],
        test_listener=listeners[1],
        task_definition=taskdef,
        container=container,
        port=port,
    )


def hook_function(
    client: Callable[[str], Any], name: str, code: str = "def handler(event, context):\n    return event\n"
) -> str:
    """A Lambda function for an AppSpec hook: by default it only returns (the test answers for it with
    PutLifecycleEventHookExecutionStatus); `code` may answer for itself."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("hook.py", code)
    role = client("iam").create_role(
        RoleName=f"{name}-role", AssumeRolePolicyDocument=_trust("lambda.amazonaws.com")
    )
    client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="hook.handler",
        Code={"ZipFile": archive.getvalue()},
    )
    return name


class Scenario:
    """One account with an ECS environment and CodeDeploy clients, and the waits the tests share."""

    def __init__(self, aws: Any, account: str, name: str = "cd", clock: Any = None):
        self.aws = aws
        self.account = account
        self.clock = clock  # a FakeClock: Install's health polls are pumped (see _pump)
        self.env = ecs_environment(self.client, name)
        self.codedeploy = self.client("codedeploy")
        self.plane = next(p for p in aws.aws.planes if p.service_name == "codedeploy")

    def client(self, service: str) -> Any:
        return self.aws.client(service, account=self.account)

    def group(self, application: str = "app", group: str = "grp", **overrides: Any) -> None:
        if application not in self.codedeploy.list_applications()["applications"]:
            self.codedeploy.create_application(applicationName=application, computePlatform="ECS")
        self.codedeploy.create_deployment_group(**self.env.group_request(application, group, **overrides))

    def deploy(
        self,
        application: str = "app",
        group: str = "grp",
        hooks: list[dict[str, str]] | None = None,
        **appspec: Any,
    ) -> str:
        return self.codedeploy.create_deployment(
            applicationName=application,
            deploymentGroupName=group,
            revision={
                "revisionType": "AppSpecContent",
                "appSpecContent": {"content": self.env.appspec(hooks, **appspec)},
            },
        )["deploymentId"]

    def _pump(self, deployment_id: str) -> None:
        """While Install waits for green's targets to become healthy (real time, the ALB's checker), move the
        FakeClock one health poll at a time once the engine waits; never in other phases, whose timing the
        tests assert."""
        if self.clock is None:
            return
        with self.plane.lock:
            deployment = self.plane.store.get(self.account, REGION).deployments.get(deployment_id)
            installing = deployment is not None and deployment.events["Install"].status == "InProgress"
        if installing and self.aws.scheduler.wait_idle(5):
            self.clock.advance(INSTALL_POLL_SECONDS * self.aws.aws.time_scale)

    def info(self, deployment_id: str) -> dict[str, Any]:
        self._pump(deployment_id)
        return self.codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]

    def wait_status(self, deployment_id: str, *statuses: str, timeout: float = 20) -> dict[str, Any]:
        return wait_until(
            lambda: self.info(deployment_id),
            accept=lambda info: info["status"] in statuses,
            timeout=timeout,
            describe_expected=f"deployment {deployment_id} {' or '.join(statuses)}",
            describe_seen=lambda info: f"status {info['status']}",
            interval=0.02,
        )

    def target(self, deployment_id: str) -> dict[str, Any]:
        target_id = f"{self.env.cluster}:{self.env.service}"
        answer = self.codedeploy.get_deployment_target(deploymentId=deployment_id, targetId=target_id)
        return answer["deploymentTarget"]["ecsTarget"]

    def green_weight(self, deployment_id: str) -> float | None:
        self._pump(deployment_id)
        if self.info(deployment_id)["status"] == "Created":
            return None  # GetDeploymentTarget answers DeploymentNotStartedException until it starts
        sets = {t["taskSetLabel"]: t for t in self.target(deployment_id)["taskSetsInfo"]}
        return sets["Green"]["trafficWeight"] if "Green" in sets else None

    def wait_green_weight(self, deployment_id: str, weight: float, timeout: float = 20) -> None:
        wait_until(
            lambda: self.green_weight(deployment_id),
            accept=lambda seen: seen == weight,
            timeout=timeout,
            describe_expected=f"green traffic weight {weight}",
            interval=0.02,
        )

    def weights(self, listener: str | None = None) -> dict[str, int]:
        """{target group name: weight} of a listener's forward action (default: the prod listener)."""
        elb = self.client("elbv2")
        arn = listener or self.env.prod_listener
        [action] = elb.describe_listeners(ListenerArns=[arn])["Listeners"][0]["DefaultActions"]
        names = {self.env.blue_tg_arn: self.env.blue_tg, self.env.green_tg_arn: self.env.green_tg}
        if "ForwardConfig" in action:
            return {
                names[t["TargetGroupArn"]]: t.get("Weight", 1)
                for t in action["ForwardConfig"]["TargetGroups"]
            }
        return {names[action["TargetGroupArn"]]: 1}

    def pending_hook(self, deployment_id: str, event: str, timeout: float = 20) -> str:
        """The execution id CodeDeploy handed the hook function of `event` (what its payload carries)."""

        def find() -> str | None:
            self._pump(deployment_id)
            with self.plane.lock:
                deployment = self.plane.store.get(self.account, REGION).deployments[deployment_id]
                return next(
                    (
                        h.execution_id
                        for h in deployment.hooks.values()
                        if h.event == event and h.status == "Pending"
                    ),
                    None,
                )

        return wait_until(find, timeout=timeout, describe_expected=f"the {event} hook invoked", interval=0.02)

    def answer_hook(self, deployment_id: str, event: str, status: str = "Succeeded") -> None:
        self.codedeploy.put_lifecycle_event_hook_execution_status(
            deploymentId=deployment_id,
            lifecycleEventHookExecutionId=self.pending_hook(deployment_id, event),
            status=status,
        )

    def task_sets(self) -> dict[str, str]:
        """{task set id: status} of the ECS service."""
        sets = self.client("ecs").describe_task_sets(cluster=self.env.cluster, service=self.env.service)[
            "taskSets"
        ]
        return {t["id"]: t["status"] for t in sets}
