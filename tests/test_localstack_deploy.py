"""Both reference stacks through LocalStack 4.14.0 community's own CloudFormation with the plugin: its
ECS/ECR/ELBv2 providers (moto-ext with the harness's task runtime and ALB data plane), its resource
providers for the container types community lacks, Fn::Cidr, and the opt-in Lambda. Needs the Makefile's
.venv-localstack (`make test-localstack`); skips with the reason without it."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

from gitops_harness.config import load_config
from gitops_harness.emulator.codestar_notifications.events import MANAGED_BY, MANAGED_RULE
from gitops_harness.stacks import StackError, deploy, teardown
from gitops_harness.targets.localstack import LocalStackTarget
from gitops_harness.targets.localstack_host import HostLocalStack
from gitops_harness.waiting import wait_until
from localstack_started import started_localstack

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted((ROOT / "fixtures" / "pipeline").glob("*-account.yaml"))
CONTAINER_TYPES = {
    "AWS::ECS::Cluster",
    "AWS::ECS::Service",
    "AWS::ECS::TaskDefinition",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::EC2::SecurityGroupIngress",
    "AWS::Chatbot::SlackChannelConfiguration",
}
SERVE_DEADLINE = 90.0  # the blue task starts (a host python) and the ALB answers through it


@pytest.fixture(scope="module")
def localstack() -> Any:
    yield from started_localstack()


@pytest.fixture(scope="module")
def target(localstack: HostLocalStack) -> Any:
    config = load_config(ROOT / "harness.yaml")
    with LocalStackTarget(
        config.accounts, config.region, endpoint=localstack.endpoint_url, templates=TEMPLATES
    ) as started:
        yield started


def _json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - our LocalStack
        return json.loads(resp.read())  # type: ignore[no-any-return]


def _cfn(host: HostLocalStack, account: str = "222222222222") -> Any:
    return boto3.client(
        "cloudformation",
        endpoint_url=host.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=account,
        aws_secret_access_key="test",
    )


def _stack_outcome(cfn: Any, name: str, body: str) -> tuple[dict[str, Any], list[str]]:
    """Create the stack, wait until it settles; its description and the reasons of failed resources."""
    cfn.create_stack(StackName=name, TemplateBody=body)

    def settled() -> dict[str, Any]:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]  # type: ignore[no-any-return]

    stack = wait_until(
        settled,
        timeout=60,
        accept=lambda s: not s["StackStatus"].endswith("_IN_PROGRESS"),
        describe_expected=f"stack {name} to settle",
        describe_seen=lambda s: s["StackStatus"],
    )
    events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    reasons = [e.get("ResourceStatusReason") or "" for e in events if e["ResourceStatus"].endswith("FAILED")]
    return stack, reasons


# -- what the plugin adds, as LocalStack and the target see it -----------------------------------------


def test_ecs_ecr_and_elbv2_are_served_and_listed_by_the_health_route(localstack: HostLocalStack) -> None:
    services = _json(f"{localstack.endpoint_url}/_localstack/health")["services"]
    for service in ("ecs", "ecr", "elbv2"):
        assert services[service] in ("available", "running")
    plugin = _json(f"{localstack.endpoint_url}/_gitops/health")
    for service in ("ecs", "ecr", "elbv2"):
        assert plugin["providers"][service]["configured_provider"] == "default"
        assert plugin["providers"][service]["served_by"] == "moto"
    assert plugin["providers"]["lambda"]["configured_provider"] == "gitops"  # host mode opts in
    assert {t.lower() for t in CONTAINER_TYPES} <= {t.lower() for t in plugin["cloudformation_types"]}
    assert plugin["cloudformation_intrinsics_added"] == ["Fn::Cidr"]
    # community's ECR::Repository is a mock; its SNS::Topic refuses DeliveryStatusLogging
    assert plugin["cloudformation_types_overridden"] == ["AWS::ECR::Repository", "AWS::SNS::Topic"]
    # an ECS call goes to moto-ext with the patch groups in, and starts the task runtime and data plane
    ecs = boto3.client(
        "ecs",
        endpoint_url=localstack.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="333333333333",
        aws_secret_access_key="test",
    )
    assert ecs.create_cluster(clusterName="health-check")["cluster"]["status"] == "ACTIVE"
    containers = _json(f"{localstack.endpoint_url}/_gitops/health")["containers"]
    assert containers["patch_groups"] == ["ecs_tasks", "elb_dataplane"]
    assert containers["task_runtime"] == "local-process" and containers["alb_data_plane"] is True
    assert "errors" not in containers


def test_the_target_finds_every_reference_type_and_offers_blue_green(target: LocalStackTarget) -> None:
    assert target.missing_types == []
    assert {"alb-data-plane", "lambda-invoke"} <= target.capabilities
    if "codepipeline" in ((target.plugin or {}).get("eventbridge_targets") or []):
        assert "cloudformation" in target.capabilities and target.explain("cloudformation") is None
    else:  # the source-change rule's target needs the plugin's EventBridge sender: said up front
        assert "cloudformation" not in target.capabilities
        assert "Unsupported target for Service: codepipeline" in (target.explain("cloudformation") or "")
    # 4.14's moto-ext has no ECR layer upload: the plugin serves it, so a build can push the release image
    assert target.plugin is not None and target.plugin["containers"]["ecr_layer_upload"] == "plugin"
    assert "bluegreen" in target.capabilities


def test_fn_cidr_is_evaluated_by_localstacks_engine(localstack: HostLocalStack) -> None:
    body = """
Resources:
  Queue:
    Type: AWS::SQS::Queue
Outputs:
  Second:
    Value: !Select [1, !Cidr ["10.42.0.0/16", 2, 8]]
"""
    stack, reasons = _stack_outcome(_cfn(localstack), "cidr-check", body)
    assert stack["StackStatus"] == "CREATE_COMPLETE", reasons
    assert stack["Outputs"] == [{"OutputKey": "Second", "OutputValue": "10.42.1.0/24"}]


def test_a_property_the_api_does_not_know_fails_the_resource_with_the_reason(
    localstack: HostLocalStack,
) -> None:
    body = """
Resources:
  Group:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties:
      Port: 80
      Protocol: HTTP
      TargetType: ip
      HealthCheckPathh: /health
"""
    stack, reasons = _stack_outcome(_cfn(localstack), "unknown-property", body)
    assert stack["StackStatus"] in ("CREATE_FAILED", "ROLLBACK_COMPLETE")
    assert any("Encountered unsupported property /HealthCheckPathh" in r for r in reasons), reasons


def test_a_topic_with_delivery_status_logging_is_created_with_its_attributes(
    localstack: HostLocalStack,
) -> None:
    body = """
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: logged
      DeliveryStatusLogging:
        - Protocol: lambda
          SuccessFeedbackRoleArn: arn:aws:iam::222222222222:role/sns-status
          SuccessFeedbackSampleRate: "100"
          FailureFeedbackRoleArn: arn:aws:iam::222222222222:role/sns-status
Outputs:
  Arn:
    Value: !Ref Topic
"""
    cfn = _cfn(localstack)
    stack, reasons = _stack_outcome(cfn, "topic-check", body)
    assert stack["StackStatus"] == "CREATE_COMPLETE", reasons
    arn = stack["Outputs"][0]["OutputValue"]
    assert arn == "arn:aws:sns:us-east-1:222222222222:logged"
    sns = boto3.client(
        "sns",
        endpoint_url=localstack.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="222222222222",
        aws_secret_access_key="test",
    )
    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attributes["LambdaSuccessFeedbackRoleArn"] == "arn:aws:iam::222222222222:role/sns-status"
    assert attributes["LambdaSuccessFeedbackSampleRate"] == "100"
    cfn.delete_stack(StackName="topic-check")
    wait_until(
        lambda: [t for t in sns.list_topics()["Topics"] if t["TopicArn"] == arn],
        timeout=60,
        accept=lambda found: found == [],
        describe_expected=f"{arn} deleted with its stack",
    )


def test_a_chatbot_configuration_fails_naming_what_localstack_lacks(localstack: HostLocalStack) -> None:
    body = """
Resources:
  Slack:
    Type: AWS::Chatbot::SlackChannelConfiguration
    Properties:
      ConfigurationName: chat
      SlackWorkspaceId: T0000
      SlackChannelId: C0000
      IamRoleArn: arn:aws:iam::222222222222:role/chatbot
"""
    stack, reasons = _stack_outcome(_cfn(localstack), "chatbot-check", body)
    assert stack["StackStatus"] in ("CREATE_FAILED", "ROLLBACK_COMPLETE")
    assert any("LocalStack serves no AWS Chatbot API" in r for r in reasons), reasons


# -- the reference stacks ------------------------------------------------------------------------------


def _answers(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - the local listener
            return int(resp.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return None


def _refuses(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=2):
            return False
    except OSError:
        return True


def test_both_reference_stacks_deploy_serve_through_the_alb_and_delete_completely(
    target: LocalStackTarget,
) -> None:
    plugin = target.plugin or {}
    if "codepipeline" not in (plugin.get("eventbridge_targets") or []):
        pytest.skip(
            "LocalStack's EventBridge has no CodePipeline target sender without the plugin's eventbridge.py "
            "(the pipeline stack's source-change rule: PutTargets answers 'Unsupported target for Service')"
        )
    config = load_config(ROOT / "harness.yaml")
    started = time.monotonic()
    try:
        deployment = deploy(target, config, timeout=300)
    except StackError as error:
        pytest.fail(f"the reference stacks did not deploy through LocalStack's CloudFormation: {error}")
    deploy_seconds = time.monotonic() - started
    owned = True
    try:
        assert deploy_seconds < 300
        ecs = target.client("ecs", "pipeline")
        elbv2 = target.client("elbv2", "pipeline")
        # the ALB's production listener is a real server on 127.0.0.1 that forwards to the blue task
        url = target.listener_url(deployment.production_listener_arn)
        assert url.startswith("http://127.0.0.1:")
        status = wait_until(
            lambda: _answers(url),
            timeout=SERVE_DEADLINE,
            accept=lambda s: s == 200,
            describe_expected=f"the production listener {url} to answer 200 through the blue task",
            describe_seen=lambda s: f"status {s}",
        )
        assert status == 200
        [listener] = elbv2.describe_listeners(ListenerArns=[deployment.production_listener_arn])["Listeners"]
        blue = listener["DefaultActions"][0]["TargetGroupArn"]  # CloudFormation's start: all on blue
        targets = elbv2.describe_target_health(TargetGroupArn=blue)["TargetHealthDescriptions"]
        tasks = ecs.describe_tasks(
            cluster=deployment.cluster_name,
            tasks=ecs.list_tasks(cluster=deployment.cluster_name, serviceName=deployment.service_name)[
                "taskArns"
            ],
        )["tasks"]
        running = [t for t in tasks if t["lastStatus"] == "RUNNING"]
        assert running, tasks
        addresses = {
            d["value"]
            for t in running
            for a in t.get("attachments", [])
            for d in a.get("details", [])
            if d["name"] == "privateIPv4Address"
        }
        registered = {(t["Target"]["Id"], t["Target"]["Port"]) for t in targets}
        assert {address for address, _ in registered} == addresses  # the task is the target
        # the ALB's ingress rule (AWS::EC2::SecurityGroupIngress) is on the tasks' security group
        ec2 = target.client("ec2", "pipeline")
        groups = ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [ecs_service_vpc(ec2, running)]}]
        )["SecurityGroups"]
        sourced = [
            p
            for g in groups
            for p in g["IpPermissions"]
            if p.get("FromPort") == 8080 and p.get("UserIdGroupPairs")
        ]
        assert sourced, groups
        # the stack's notification rules put CodeStar Notifications' managed rule into LocalStack's EventBridge
        events = target.client("events", "pipeline")
        codestar = target.client("codestar-notifications", "pipeline")
        assert codestar.list_notification_rules()["NotificationRules"]
        assert events.describe_rule(Name=MANAGED_RULE)["ManagedBy"] == MANAGED_BY

        teardown(target, deployment, timeout=300)
        owned = False
        assert _answers(url) is None  # the listener's server stopped with its load balancer
        assert all(_refuses(address, port) for address, port in registered)  # the task's process is gone
        assert elbv2.describe_load_balancers()["LoadBalancers"] == []
        assert elbv2.describe_target_groups()["TargetGroups"] == []
        assert ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"] == []
        [cluster] = ecs.describe_clusters(clusters=[deployment.cluster_name])["clusters"] or [
            {"status": "INACTIVE"}
        ]
        assert cluster["status"] == "INACTIVE"  # ECS keeps a deleted cluster visible as INACTIVE
        assert target.client("lambda", "pipeline").list_functions()["Functions"] == []
        assert target.client("ecr", "pipeline").describe_repositories()["repositories"] == []
        assert target.client("codepipeline", "pipeline").list_pipelines()["pipelines"] == []
        assert [v for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")] == []
        assert target.client("codecommit", "management").list_repositories()["repositories"] == []
        assert (_json(f"{target.endpoint_url}/_gitops/listeners"))["listeners"] == []
        assert codestar.list_notification_rules()["NotificationRules"] == []
        assert MANAGED_RULE not in [r["Name"] for r in events.list_rules()["Rules"]]  # DeleteStack took it
    finally:
        if owned:
            teardown(target, deployment, timeout=300)


def ecs_service_vpc(ec2: Any, tasks: list[dict[str, Any]]) -> str:
    """The VPC of the tasks' subnet (awsvpc attachment)."""
    subnet = next(
        d["value"]
        for t in tasks
        for a in t.get("attachments", [])
        for d in a.get("details", [])
        if d["name"] == "subnetId"
    )
    return str(ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"])
