"""The ALB data plane: listeners as real HTTP servers forwarding by their current (weighted) actions to
healthy targets, 503 without one, and target group metrics in CloudWatch."""

from __future__ import annotations

import json
import random
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta

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
)

from gitops_harness.emulator.elb_dataplane import routing
from gitops_harness.emulator.testing import running_emulator
from gitops_harness.waiting import wait_until


@pytest.fixture(scope="module")
def aws():
    with running_emulator(time_scale=TIME_SCALE) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def net(aws):
    aws.client("ecs").create_cluster(clusterName="alb")
    return network(aws, "alb")


@pytest.fixture(scope="module")
def blue_green(aws, net):
    """A CODE_DEPLOY service: blue answers "blue" in its target group, a second task set "green" in its own."""
    blue, green = target_group(aws, net, "bg-blue"), target_group(aws, net, "bg-green")
    code_deploy_service(aws, net, "alb", "bg", task_definition(aws, "bg", answering("blue")), blue)
    aws.client("ecs").create_task_set(
        cluster="alb",
        service="bg",
        taskDefinition=task_definition(aws, "bg", answering("green")),
        launchType="FARGATE",
        networkConfiguration=awsvpc(net),
        loadBalancers=[{"targetGroupArn": green, "containerName": "app", "containerPort": 8080}],
        scale={"value": 100.0, "unit": "PERCENT"},
    )
    healthy_targets(aws, blue)
    healthy_targets(aws, green)
    return blue, green


def test_listeners_are_listed_with_their_local_url_and_forward_to_a_healthy_target(
    aws, net, blue_green
) -> None:
    blue, _ = blue_green
    arn = listener(aws, net, blue, port=80)
    with urllib.request.urlopen(f"{aws.endpoint_url}/_emulator/listeners") as answer:
        listed = {entry["listenerArn"]: entry for entry in json.load(answer)["listeners"]}
    entry = listed[arn]
    assert (entry["loadBalancerArn"], entry["port"], entry["protocol"]) == (net.load_balancer, 80, "HTTP")
    assert entry["url"] == aws.aws.listener_url(arn) and entry["url"].startswith("http://127.0.0.1:")
    assert get(entry["url"] + "/anything") == (200, b"blue")


def test_a_weighted_forward_splits_requests_by_weight_and_modify_listener_applies_at_once(
    aws, net, blue_green
) -> None:
    blue, green = blue_green
    arn = listener(aws, net, blue, port=8080)
    url = aws.aws.listener_url(arn)
    assert get(url + "/")[1] == b"blue"
    aws.client("elbv2").modify_listener(
        ListenerArn=arn,
        DefaultActions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": blue, "Weight": 90},
                        {"TargetGroupArn": green, "Weight": 10},
                    ]
                },
            }
        ],
    )
    seen = Counter(get(url + "/")[1].decode() for _ in range(300))
    # binomial(300, 0.1): mean 30, sd 5.2; 10..60 is outside only with probability < 1e-4
    assert set(seen) == {"blue", "green"} and 10 <= seen["green"] <= 60, seen
    aws.client("elbv2").modify_listener(
        ListenerArn=arn, DefaultActions=[{"Type": "forward", "TargetGroupArn": green}]
    )
    assert {get(url + "/")[1] for _ in range(20)} == {b"green"}


def test_rules_by_priority_before_the_default_action(aws, net, blue_green) -> None:
    blue, green = blue_green
    arn = listener(aws, net, blue, port=8443)
    elbv2 = aws.client("elbv2")
    elbv2.create_rule(
        ListenerArn=arn,
        Priority=10,
        Conditions=[{"Field": "path-pattern", "Values": ["/green/*"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": green}],
    )
    elbv2.create_rule(
        ListenerArn=arn,
        Priority=5,
        Conditions=[{"Field": "path-pattern", "Values": ["/green/teapot"]}],
        Actions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {
                    "StatusCode": "418",
                    "ContentType": "text/plain",
                    "MessageBody": "teapot",
                },
            }
        ],
    )
    url = aws.aws.listener_url(arn)
    assert get(url + "/green/x") == (200, b"green")
    assert get(url + "/green/teapot") == (418, b"teapot")
    assert get(url + "/elsewhere") == (200, b"blue")


def test_no_healthy_target_is_a_503_from_the_load_balancer(aws, net) -> None:
    empty = target_group(aws, net, "empty")
    status, body = get(aws.aws.listener_url(listener(aws, net, empty, port=9000)) + "/")
    assert status == 503 and b"503 Service Temporarily Unavailable" in body


def test_a_deleted_listener_stops_serving(aws, net, blue_green) -> None:
    arn = listener(aws, net, blue_green[0], port=9001)
    url = aws.aws.listener_url(arn)
    aws.client("elbv2").delete_listener(ListenerArn=arn)
    with urllib.request.urlopen(f"{aws.endpoint_url}/_emulator/listeners") as answer:
        assert arn not in {entry["listenerArn"] for entry in json.load(answer)["listeners"]}
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "/", timeout=5)


def test_target_5xx_answers_reach_cloudwatch_as_target_group_metrics(aws, net, blue_green) -> None:
    blue, _ = blue_green
    url = aws.aws.listener_url(listener(aws, net, blue, port=9002))
    statuses = [get(url + "/fail")[0] for _ in range(3)] + [get(url + "/")[0]]
    assert statuses == [500, 500, 500, 200]
    cloudwatch = aws.client("cloudwatch")
    dimensions = [
        {"Name": "LoadBalancer", "Value": net.load_balancer.split(":loadbalancer/", 1)[1]},
        {"Name": "TargetGroup", "Value": blue.split(":", 5)[5]},
    ]
    now = datetime.now(UTC)

    def total(metric: str, statistic: str = "Sum") -> float:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/ApplicationELB",
            MetricName=metric,
            Dimensions=dimensions,
            StartTime=now - timedelta(minutes=5),
            EndTime=now + timedelta(minutes=5),
            Period=60,
            Statistics=[statistic],
        )["Datapoints"]
        return sum(p[statistic] for p in points)

    wait_until(
        lambda: total("HTTPCode_Target_5XX_Count"),
        timeout=10,
        describe_expected="3 HTTPCode_Target_5XX_Count in CloudWatch",
        accept=lambda count: count >= 3,
    )
    assert total("HTTPCode_Target_5XX_Count") == 3
    assert total("RequestCount") >= 4
    assert 0 < total("TargetResponseTime", "Maximum") < 10


# ---- routing decisions, without a server ----------------------------------------------------------------


def request(path: str = "/", method: str = "GET", query: str = "", **headers: str) -> routing.Request:
    return routing.Request(
        method, path, query, {k.replace("_", "-"): v for k, v in headers.items()}, "10.0.0.7"
    )


@pytest.mark.parametrize(
    ("condition", "matching", "other"),
    [
        ({"Field": "path-pattern", "Values": ["/api/*"]}, request("/api/v1"), request("/web")),
        (
            {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/a?c"]}},
            request("/abc"),
            request("/abbc"),
        ),
        (
            {"Field": "host-header", "Values": ["*.example.com"]},
            request(host="API.example.com:80"),
            request(host="x.org"),
        ),
        (
            {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["POST"]}},
            request(method="POST"),
            request(),
        ),
        (
            {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Canary", "Values": ["yes"]}},
            request(x_canary="yes"),
            request(x_canary="no"),
        ),
        (
            {"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "v", "Value": "2"}]}},
            request(query="a=1&v=2"),
            request(query="v=3"),
        ),
        ({"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/24"]}}, request(), None),
    ],
)
def test_rule_conditions(condition: dict, matching: routing.Request, other: routing.Request | None) -> None:
    assert routing.condition_matches(condition, matching)
    if other is not None:
        assert not routing.condition_matches(condition, other)


def test_a_forward_config_draws_by_weight_and_all_zero_weights_forward_nowhere() -> None:
    groups = [{"TargetGroupArn": "blue", "Weight": 3}, {"TargetGroupArn": "green", "Weight": 1}]
    rng = random.Random(7)
    drawn = Counter(
        routing.choose_target_group({"ForwardConfig": {"TargetGroups": groups}}, rng) for _ in range(4000)
    )
    assert 2800 <= drawn["blue"] <= 3200 and drawn["blue"] + drawn["green"] == 4000
    zero = [{"TargetGroupArn": "blue", "Weight": 0}, {"TargetGroupArn": "green", "Weight": 0}]
    assert routing.choose_target_group({"ForwardConfig": {"TargetGroups": zero}}) is None
    assert routing.choose_target_group({"TargetGroupArn": "single"}) == "single"
