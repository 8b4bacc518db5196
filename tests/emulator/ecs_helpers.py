"""What the ECS task and ALB data plane tests share: a VPC with a load balancer, services whose tasks are
small Python HTTP servers answering a body of their own, and waits on target health."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_harness.waiting import wait_until

TIME_SCALE = 0.0167  # harness.yaml's: one AWS minute per second
PUBLIC_IMAGE = "public.ecr.aws/docker/library/python:3.12-slim"  # not in the emulated ECR


def answering(body: str, port: int = 8080) -> list[str]:
    """A container command: 200 `body` on every path, 500 on /fail, a log line per request on stdout."""
    return [
        "python",
        "-c",
        "import http.server as h, sys\n"
        "class H(h.BaseHTTPRequestHandler):\n"
        "    protocol_version = 'HTTP/1.1'\n"
        "    disable_nagle_algorithm = True\n"
        "    def do_GET(s):\n"
        f"        code = 500 if s.path == '/fail' else 200; data = {body!r}.encode()\n"
        "        s.send_response(code); s.send_header('Content-Length', str(len(data))); s.end_headers()\n"
        "        s.wfile.write(data)\n"
        "    def log_message(s, f, *a): print('request', f % a, flush=True)\n"
        f"h.ThreadingHTTPServer(('', {port}), H).serve_forever()\n",
    ]


@dataclass
class Network:
    vpc: str
    subnets: list[str]
    security_group: str
    load_balancer: str


def network(aws: Any, name: str) -> Network:
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{zone}")[
            "Subnet"
        ]["SubnetId"]
        for i, zone in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(GroupName=name, Description="tasks", VpcId=vpc)["GroupId"]
    balancer = aws.client("elbv2").create_load_balancer(Name=name, Subnets=subnets)["LoadBalancers"][0]
    return Network(vpc, subnets, group, balancer["LoadBalancerArn"])


def target_group(aws: Any, net: Network, name: str) -> str:
    return aws.client("elbv2").create_target_group(
        Name=name,
        Protocol="HTTP",
        Port=8080,
        VpcId=net.vpc,
        TargetType="ip",
        HealthCheckPath="/health",
        HealthCheckIntervalSeconds=5,
        HealthyThresholdCount=2,
    )["TargetGroups"][0]["TargetGroupArn"]


def listener(aws: Any, net: Network, target_group_arn: str, port: int = 80) -> str:
    return aws.client("elbv2").create_listener(
        LoadBalancerArn=net.load_balancer,
        Protocol="HTTP",
        Port=port,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group_arn}],
    )["Listeners"][0]["ListenerArn"]


def task_definition(
    aws: Any, family: str, command: list[str] | None, image: str = PUBLIC_IMAGE, **extra: Any
) -> str:
    container: dict[str, Any] = {"name": "app", "image": image, "portMappings": [{"containerPort": 8080}]}
    if command is not None:
        container["command"] = command
    container.update(extra)
    return aws.client("ecs").register_task_definition(
        family=family,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[container],
    )["taskDefinition"]["taskDefinitionArn"]


def code_deploy_service(
    aws: Any, net: Network, cluster: str, name: str, definition: str, group: str, desired: int = 1
) -> dict[str, Any]:
    return aws.client("ecs").create_service(
        cluster=cluster,
        serviceName=name,
        taskDefinition=definition,
        desiredCount=desired,
        launchType="FARGATE",
        deploymentController={"type": "CODE_DEPLOY"},
        networkConfiguration=awsvpc(net),
        loadBalancers=[{"targetGroupArn": group, "containerName": "app", "containerPort": 8080}],
    )["service"]


def awsvpc(net: Network) -> dict[str, Any]:
    return {"awsvpcConfiguration": {"subnets": net.subnets, "securityGroups": [net.security_group]}}


def healthy_targets(aws: Any, group: str, count: int = 1, timeout: float = 30) -> list[dict[str, Any]]:
    elbv2 = aws.client("elbv2")

    def check() -> list[dict[str, Any]]:
        return elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]

    return wait_until(
        check,
        timeout=timeout,
        describe_expected=f"{count} healthy target(s) in {group}",
        accept=lambda found: sum(t["TargetHealth"]["State"] == "healthy" for t in found) >= count,
    )


def get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def task_processes(address: str) -> list[int]:
    """pids of live processes started for the task at `address` (from their environment; emulators in
    other processes take other addresses)."""
    wanted = f"GITOPS_TASK_ADDRESS={address}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if wanted in environ.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return found
