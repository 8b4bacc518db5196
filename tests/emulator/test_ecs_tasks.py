"""ECS task sets whose tasks run as local processes: through boto3 against the embedded AWS."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
from pathlib import Path

import botocore.exceptions
import pytest
from ecs_helpers import (
    TIME_SCALE,
    answering,
    awsvpc,
    code_deploy_service,
    get,
    healthy_targets,
    listener,
    network,
    target_group,
    task_definition,
    task_processes,
)

from gitops_harness.emulator.docker_standin import launcher
from gitops_harness.emulator.elb_dataplane import health
from gitops_harness.emulator.testing import running_emulator
from gitops_harness.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def aws():
    with running_emulator(time_scale=TIME_SCALE) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def net(aws):
    aws.client("ecs").create_cluster(clusterName="tasks")
    return network(aws, "tasks")


def stopped_task(aws, cluster: str, task_arn: str, timeout: float = 20) -> dict:
    ecs = aws.client("ecs")
    return wait_until(
        lambda: ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"][0],
        timeout=timeout,
        describe_expected=f"task {task_arn} STOPPED",
        accept=lambda task: task["lastStatus"] == "STOPPED",
    )


def only_task(aws, cluster: str, service: str) -> dict:
    ecs = aws.client("ecs")
    arns = (
        ecs.list_tasks(cluster=cluster, serviceName=service)["taskArns"]
        or ecs.list_tasks(cluster=cluster)["taskArns"]
    )
    tasks = [
        t
        for t in ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]
        if t["group"] == f"service:{service}"
    ]
    assert len(tasks) == 1, tasks
    return tasks[0]


def test_code_deploy_service_runs_its_first_task_set_until_healthy_with_logs(aws, net) -> None:
    logs = aws.client("logs")
    logs.create_log_group(logGroupName="/ecs/blue")
    group = target_group(aws, net, "first-blue")
    definition = task_definition(
        aws,
        "first",
        answering("blue"),
        logConfiguration={
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": "/ecs/blue",
                "awslogs-region": "us-east-1",
                "awslogs-stream-prefix": "app",
            },
        },
    )
    service = code_deploy_service(aws, net, "tasks", "first", definition, group)
    (task_set,) = service["taskSets"]
    assert (task_set["status"], task_set["computedDesiredCount"]) == ("PRIMARY", 1)

    (target,) = healthy_targets(aws, group)
    task = only_task(aws, "tasks", "first")
    assert task["lastStatus"] == "RUNNING" and task["startedBy"] == task_set["id"]
    ip = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}["privateIPv4Address"]
    assert target["Target"]["Id"] == ip  # the task's "ENI" address is the target
    assert get(f"http://{ip}:{target['Target']['Port']}/") == (200, b"blue")
    described = aws.client("ecs").describe_task_sets(cluster="tasks", service="first")["taskSets"][0]
    assert (described["runningCount"], described["pendingCount"], described["stabilityStatus"]) == (
        1,
        0,
        "STEADY_STATE",
    )

    stream = f"app/app/{task['taskArn'].rsplit('/', 1)[1]}"  # prefix/container/task id, as ECS names it
    events = wait_until(
        lambda: logs.get_log_events(logGroupName="/ecs/blue", logStreamName=stream)["events"],
        timeout=10,
        describe_expected=f"the health checks' request lines in {stream}",
        retry_on=(botocore.exceptions.ClientError,),
    )
    assert "GET /health" in events[0]["message"]


def test_create_and_delete_task_set_start_and_stop_processes(aws, net) -> None:
    ecs = aws.client("ecs")
    blue, green = target_group(aws, net, "sets-blue"), target_group(aws, net, "sets-green")
    code_deploy_service(aws, net, "tasks", "sets", task_definition(aws, "sets", answering("blue")), blue)
    created = ecs.create_task_set(
        cluster="tasks",
        service="sets",
        taskDefinition=task_definition(aws, "sets", answering("green")),
        launchType="FARGATE",
        networkConfiguration=awsvpc(net),
        loadBalancers=[{"targetGroupArn": green, "containerName": "app", "containerPort": 8080}],
        scale={"value": 100.0, "unit": "PERCENT"},
    )["taskSet"]
    (target,) = healthy_targets(aws, green)
    address, port = target["Target"]["Id"], target["Target"]["Port"]
    assert get(f"http://{address}:{port}/") == (200, b"green")
    assert task_processes(address)

    ecs.delete_task_set(cluster="tasks", service="sets", taskSet=created["taskSetArn"])
    wait_until(
        lambda: task_processes(address),
        timeout=15,
        describe_expected=f"no process left for the task at {address}",
        accept=lambda pids: not pids,
    )
    assert aws.client("elbv2").describe_target_health(TargetGroupArn=green)["TargetHealthDescriptions"] == []
    tasks = ecs.describe_tasks(
        cluster="tasks", tasks=ecs.list_tasks(cluster="tasks", desiredStatus="STOPPED")["taskArns"]
    )
    assert any(t["startedBy"] == created["id"] and t["lastStatus"] == "STOPPED" for t in tasks["tasks"])
    # deleting it again (a teardown racing a rollback that deleted it first) is AWS's named error
    with pytest.raises(ecs.exceptions.TaskSetNotFoundException):
        ecs.delete_task_set(cluster="tasks", service="sets", taskSet=created["taskSetArn"])


def test_stop_task_stops_a_process_that_ignores_sigterm_after_the_stop_timeout(aws, net) -> None:
    group = target_group(aws, net, "stubborn")
    command = answering("stubborn")
    command[2] = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + command[2]
    definition = task_definition(aws, "stubborn", command, stopTimeout=2)
    code_deploy_service(aws, net, "tasks", "stubborn", definition, group)
    (target,) = healthy_targets(aws, group)
    task = only_task(aws, "tasks", "stubborn")
    aws.client("ecs").stop_task(cluster="tasks", task=task["taskArn"], reason="test stops it")
    stopped = stopped_task(aws, "tasks", task["taskArn"])
    assert stopped["stoppedReason"] == "test stops it"
    assert task_processes(target["Target"]["Id"]) == []


def test_a_task_that_exits_is_replaced_and_the_new_one_serves(aws, net) -> None:
    ecs, elb = aws.client("ecs"), aws.client("elbv2")
    group = target_group(aws, net, "phoenix")
    code_deploy_service(aws, net, "tasks", "phoenix", task_definition(aws, "phoenix", answering("up")), group)
    (target,) = healthy_targets(aws, group)
    old = only_task(aws, "tasks", "phoenix")
    for pid in task_processes(target["Target"]["Id"]):
        os.kill(pid, signal.SIGKILL)
    stopped = stopped_task(aws, "tasks", old["taskArn"])
    assert stopped["stoppedReason"] == "Essential container in task exited"
    replacement = wait_until(
        lambda: [
            t
            for t in elb.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
            if t["TargetHealth"]["State"] == "healthy"
        ],
        timeout=20,
        describe_expected="a replacement task healthy in the target group",
        accept=lambda healthy: len(healthy) == 1 and healthy[0]["Target"]["Id"] != target["Target"]["Id"],
    )[0]
    assert get(f"http://{replacement['Target']['Id']}:{replacement['Target']['Port']}/") == (200, b"up")
    described = ecs.describe_tasks(cluster="tasks", tasks=ecs.list_tasks(cluster="tasks")["taskArns"])[
        "tasks"
    ]
    mine = [t for t in described if t["group"] == "service:phoenix"]
    assert {t["taskArn"]: t["lastStatus"] for t in mine if t["taskArn"] == old["taskArn"]} == {
        old["taskArn"]: "STOPPED"
    }
    (new,) = [t for t in mine if t["lastStatus"] == "RUNNING"]
    assert new["taskArn"] != old["taskArn"] and new["lastStatus"] == "RUNNING"
    (task_set,) = ecs.describe_task_sets(cluster="tasks", service="phoenix")["taskSets"]
    assert new["startedBy"] == task_set["id"] and task_set["runningCount"] == 1
    events = ecs.describe_services(cluster="tasks", services=["phoenix"])["services"][0]["events"]
    assert any(f"(task {old['taskArn'].rsplit('/', 1)[1]})" in e["message"] for e in events)


def test_update_service_with_a_new_task_definition_is_refused_on_code_deploy(aws, net) -> None:
    group = target_group(aws, net, "refuse")
    code_deploy_service(aws, net, "tasks", "refuse", task_definition(aws, "refuse", answering("one")), group)
    newer = task_definition(aws, "refuse", answering("two"))
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        aws.client("ecs").update_service(cluster="tasks", service="refuse", taskDefinition=newer)
    assert refused.value.response["Error"] == {
        "Code": "InvalidParameterException",
        "Message": "Unable to update task definition on services with a CODE_DEPLOY deployment controller. "
        "Use AWS CodeDeploy to trigger a new deployment.",
    }


def test_a_command_that_cannot_run_here_fails_the_task_with_a_clear_reason(aws, net) -> None:
    group = target_group(aws, net, "broken")
    definition = task_definition(aws, "broken", ["no-such-interpreter-here", "app.py"])
    code_deploy_service(aws, net, "tasks", "broken", definition, group)
    task = stopped_task(aws, "tasks", only_task(aws, "tasks", "broken")["taskArn"])
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("CannotStartContainerError:")
    assert 'exec: "no-such-interpreter-here": executable file not found in $PATH' in task["stoppedReason"]


def test_an_image_built_and_pushed_by_the_docker_stand_in_runs_with_its_health_check(
    aws, net, tmp_path
) -> None:
    repository = aws.client("ecr").create_repository(repositoryName="sample")["repository"]["repositoryUri"]
    env = launcher.environment(
        {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "DOCKER_STANDIN_HOME": str(tmp_path / "standin"),
            **aws.env(),
        }
    )
    (tmp_path / "app").mkdir()
    for name in ("Dockerfile", "app.py"):
        (tmp_path / "app" / name).write_text((REPO / "fixtures" / "app" / name).read_text())
    (tmp_path / "app" / "VERSION").write_text("7.7.7\n")
    token = aws.client("ecr").get_authorization_token()["authorizationData"][0]["authorizationToken"]
    secret = base64.b64decode(token).decode().split(":", 1)[1]
    for args, stdin in (
        (["login", "-u", "AWS", "--password-stdin", repository.split("/")[0]], secret),
        (["build", "-t", f"{repository}:v7", "."], None),
        (["push", f"{repository}:v7"], None),
    ):
        done = subprocess.run(
            ["docker", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path / "app",
            timeout=60,
        )
        assert done.returncode == 0, done.stderr

    group = target_group(aws, net, "image")
    health_check = {
        "command": [
            "CMD",
            "python",
            "-c",
            "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health')",
        ],
        "interval": 5,
        "retries": 3,
    }
    definition = task_definition(aws, "image", None, image=f"{repository}:v7", healthCheck=health_check)
    code_deploy_service(aws, net, "tasks", "image", definition, group)
    (target,) = healthy_targets(aws, group)
    url = aws.aws.listener_url(listener(aws, net, group, port=8081))
    status, body = get(f"{url}/")
    assert status == 200 and b'"version": "7.7.7"' in body  # the image's app.py and VERSION, from its layers
    task = only_task(aws, "tasks", "image")
    assert task["containers"][0]["name"] == "app"


def test_an_ecr_image_that_is_not_there_fails_the_task(aws, net) -> None:
    group = target_group(aws, net, "missing")
    image = "111111111111.dkr.ecr.us-east-1.amazonaws.com/nowhere:latest"
    code_deploy_service(
        aws, net, "tasks", "missing", task_definition(aws, "missing", None, image=image), group
    )
    task = stopped_task(aws, "tasks", only_task(aws, "tasks", "missing")["taskArn"])
    assert task["stoppedReason"].startswith("CannotPullContainerError:")
    assert "repository nowhere does not exist" in task["stoppedReason"]


def test_no_task_process_outlives_the_emulator() -> None:
    with running_emulator(time_scale=TIME_SCALE) as aws:
        aws.client("ecs").create_cluster(clusterName="short")
        net = network(aws, "short")
        group = target_group(aws, net, "short")
        code_deploy_service(
            aws, net, "short", "short", task_definition(aws, "short", answering("x")), group, desired=2
        )
        targets = healthy_targets(aws, group, count=2)
        addresses = [t["Target"]["Id"] for t in targets]
        assert all(task_processes(address) for address in addresses)
    assert [pid for address in addresses for pid in task_processes(address)] == []


def test_update_service_desired_count_scales_the_task_sets_of_a_code_deploy_service(aws, net) -> None:
    group = target_group(aws, net, "scaled")
    code_deploy_service(aws, net, "tasks", "scaled", task_definition(aws, "scaled", answering("s")), group)
    healthy_targets(aws, group)
    ecs = aws.client("ecs")
    ecs.update_service(cluster="tasks", service="scaled", desiredCount=2)
    assert len(healthy_targets(aws, group, count=2)) == 2
    wait_until(
        lambda: ecs.describe_services(cluster="tasks", services=["scaled"])["services"][0],
        timeout=10,
        describe_expected="runningCount 2 and one task set at computedDesiredCount 2",
        accept=lambda s: s["runningCount"] == 2 and s["taskSets"][0]["computedDesiredCount"] == 2,
    )
    ecs.update_service(cluster="tasks", service="scaled", desiredCount=1)
    wait_until(
        lambda: aws.client("elbv2").describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"],
        timeout=10,
        describe_expected="one target left after scaling in",
        accept=lambda found: len(found) == 1,
    )


def test_a_task_set_without_security_groups_runs(aws, net) -> None:
    group = target_group(aws, net, "nosg")
    ecs = aws.client("ecs")
    ecs.create_service(
        cluster="tasks",
        serviceName="nosg",
        taskDefinition=task_definition(aws, "nosg", answering("nosg")),
        desiredCount=1,
        launchType="FARGATE",
        deploymentController={"type": "CODE_DEPLOY"},
        networkConfiguration={"awsvpcConfiguration": {"subnets": net.subnets}},  # securityGroups is optional
        loadBalancers=[{"targetGroupArn": group, "containerName": "app", "containerPort": 8080}],
    )
    (target,) = healthy_targets(aws, group)
    assert get(f"http://{target['Target']['Id']}:{target['Target']['Port']}/") == (200, b"nosg")


def test_a_failing_container_health_check_keeps_the_target_unhealthy(aws, net) -> None:
    group = target_group(aws, net, "sick")
    failing = {"command": ["CMD-SHELL", "exit 1"], "interval": 5, "retries": 3}
    definition = task_definition(aws, "sick", answering("sick"), healthCheck=failing)
    code_deploy_service(aws, net, "tasks", "sick", definition, group)
    elbv2 = aws.client("elbv2")
    (target,) = wait_until(
        lambda: elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"],
        timeout=20,
        describe_expected="the task registered in its target group",
    )
    address, port = target["Target"]["Id"], target["Target"]["Port"]
    wait_until(
        lambda: get(f"http://{address}:{port}/")[0],
        timeout=20,
        describe_expected="the application answering 200",
        accept=lambda status: status == 200,
        retry_on=(OSError,),
    )

    # The application answers the ALB's probes; only the failing container health check keeps it out.
    def probed() -> str:
        state = health.state_of(group, address, port)  # None until the checker's first round
        return state.probed if state is not None else "initial"

    wait_until(
        probed,
        timeout=10,
        describe_expected="the ALB's own HTTP checks passing",
        accept=lambda verdict: verdict == "healthy",
    )
    (described,) = elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
    assert described["TargetHealth"] == {
        "State": "unhealthy",
        "Reason": "Target.FailedHealthChecks",
        "Description": "Health checks failed",
    }


def test_create_task_set_refuses_a_container_or_port_the_task_definition_lacks(aws, net) -> None:
    group = target_group(aws, net, "lacks")
    code_deploy_service(aws, net, "tasks", "lacks", task_definition(aws, "lacks", answering("l")), group)
    ecs = aws.client("ecs")
    for balancer, message in (
        (
            {"containerName": "web", "containerPort": 8080},
            "The container web does not exist in the task definition.",
        ),
        (
            {"containerName": "app", "containerPort": 9090},
            "The container app did not have a container port 9090 defined.",
        ),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            ecs.create_task_set(
                cluster="tasks",
                service="lacks",
                taskDefinition=task_definition(aws, "lacks", answering("l2")),
                launchType="FARGATE",
                networkConfiguration=awsvpc(net),
                loadBalancers=[{"targetGroupArn": group, **balancer}],
            )
        assert refused.value.response["Error"] == {"Code": "InvalidParameterException", "Message": message}
