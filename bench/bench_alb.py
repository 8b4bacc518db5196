"""The ALB data plane's throughput against hitting the task directly, in the same run.

One ECS task (the sample service, fixtures/app/app.py, run by the local-process task runtime) behind a
target group and a listener. Each round measures requests per second for a fixed time with N client
threads (keep-alive connections, urllib3), first straight to the task's address, then through the
listener's local URL; the report is the median of the rounds and the ratio listener/direct
(target: >= 0.5). The load comes from a separate process, so the clients do not share the emulator's
interpreter (and its GIL) with the listener they measure.

    .venv/bin/python bench/bench_alb.py [--runs 3] [--seconds 3] [--clients 4]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time

import urllib3

from gitops_harness.emulator.testing import running_emulator
from gitops_harness.waiting import wait_until
from timing import REPO

TARGET_RATIO = 0.5


def requests_per_second(url: str, seconds: float, clients: int) -> float:
    pool = urllib3.PoolManager(maxsize=clients, retries=False, timeout=10)
    counts = [0] * clients
    failures: list[str] = []
    deadline = time.perf_counter() + seconds

    def client(slot: int) -> None:
        while time.perf_counter() < deadline:
            answer = pool.request("GET", url)
            if answer.status != 200:
                failures.append(f"{answer.status} from {url}")
                return
            counts[slot] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    pool.clear()
    if failures:
        sys.exit(f"benchmark request failed: {failures[0]}")
    return sum(counts) / elapsed


def measured(url: str, seconds: float, clients: int) -> float:
    """requests_per_second in a fresh process (this script with --load)."""
    done = subprocess.run(
        [sys.executable, __file__, "--load", url, "--seconds", str(seconds), "--clients", str(clients)],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    if done.returncode != 0:
        sys.exit(f"load process failed: {done.stderr.strip() or done.stdout.strip()}")
    return float(done.stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--load", metavar="URL", help=argparse.SUPPRESS)  # the load process
    args = parser.parse_args()
    if args.load:
        print(requests_per_second(args.load, args.seconds, args.clients))
        return 0
    with running_emulator(time_scale=0.0167) as aws:
        ec2, elbv2, ecs = aws.client("ec2"), aws.client("elbv2"), aws.client("ecs")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
                "Subnet"
            ]["SubnetId"]
            for i, z in ((1, "a"), (2, "b"))
        ]
        balancer = elbv2.create_load_balancer(Name="bench", Subnets=subnets)["LoadBalancers"][0][
            "LoadBalancerArn"
        ]
        group = elbv2.create_target_group(
            Name="bench", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip", HealthCheckPath="/health"
        )["TargetGroups"][0]["TargetGroupArn"]
        listener = elbv2.create_listener(
            LoadBalancerArn=balancer,
            Protocol="HTTP",
            Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
        )["Listeners"][0]["ListenerArn"]
        ecs.create_cluster(clusterName="bench")
        definition = ecs.register_task_definition(
            family="bench",
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[
                {
                    "name": "app",
                    "image": "public.ecr.aws/docker/library/python:3.12-slim",
                    "command": ["python", str(REPO / "fixtures" / "app" / "app.py")],
                    "environment": [{"name": "APP_VERSION", "value": "bench"}],
                    "portMappings": [{"containerPort": 8080}],
                }
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(
            cluster="bench",
            serviceName="bench",
            taskDefinition=definition,
            desiredCount=1,
            launchType="FARGATE",
            deploymentController={"type": "CODE_DEPLOY"},
            networkConfiguration={"awsvpcConfiguration": {"subnets": subnets}},
            loadBalancers=[{"targetGroupArn": group, "containerName": "app", "containerPort": 8080}],
        )
        (target,) = wait_until(
            lambda: elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"],
            timeout=30,
            describe_expected="a healthy target",
            accept=lambda found: [t for t in found if t["TargetHealth"]["State"] == "healthy"],
        )
        direct_url = f"http://{target['Target']['Id']}:{target['Target']['Port']}/"
        listener_url = aws.aws.listener_url(listener) + "/"
        direct, through = [], []
        measured(listener_url, 0.5, args.clients)  # warm both paths up
        for _ in range(args.runs):
            direct.append(measured(direct_url, args.seconds, args.clients))
            through.append(measured(listener_url, args.seconds, args.clients))
    base, alb = statistics.median(direct), statistics.median(through)
    ratio = alb / base
    print(
        f"ALB listener: median {alb:.0f} req/s over {args.runs} rounds of {args.seconds:.0f} s, "
        f"{args.clients} clients (min {min(through):.0f}, max {max(through):.0f}); "
        f"baseline task direct: {base:.0f} req/s; ratio {ratio:.2f} (target >= {TARGET_RATIO})"
    )
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
