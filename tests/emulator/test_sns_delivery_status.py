"""SNS delivery to Lambda subscribers and its delivery status records (emulator/sns/), through boto3.

A topic with LambdaSuccessFeedbackRoleArn / LambdaFailureFeedbackRoleArn (SetTopicAttributes or
CloudFormation's DeliveryStatusLogging) gets one JSON record per delivery in CloudWatch Logs group
sns/<region>/<account>/<topic> (or .../Failure), written only if its role could write it on AWS."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from gitops_harness.emulator.sns import delivery_status
from gitops_harness.emulator.testing import RunningEmulator, running_emulator
from gitops_harness.waiting import wait_until

ACCOUNT = "585858585858"  # its own: moto keeps IAM in module globals, shared with other modules on a worker
REGION = "us-east-1"
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
SNS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    ],
}
# Echoes the SNS record it gets to a queue: what SNS handed the function.
ECHO = """
import json, os, boto3
def handler(event, context):
    boto3.client("sqs").send_message(QueueUrl=os.environ["QUEUE"], MessageBody=json.dumps(
        {"event": event, "request_id": context.aws_request_id}))
"""


def _zipped(source: str) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zip_file:
        zip_file.writestr("handler.py", source)
    return archive.getvalue()


def _echo(aws: RunningEmulator, name: str) -> tuple[str, str]:
    """A function that sends what it was invoked with to a queue of its own: (function ARN, queue URL)."""
    queue = aws.client("sqs", account=ACCOUNT).create_queue(QueueName=f"{name}-seen")["QueueUrl"]
    function = aws.client("lambda", account=ACCOUNT).create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=f"arn:aws:iam::{ACCOUNT}:role/function-role",
        Handler="handler.handler",
        Code={"ZipFile": _zipped(ECHO)},
        Environment={"Variables": {"QUEUE": queue}},
    )
    return function["FunctionArn"], queue


def _next_message(aws: RunningEmulator, queue_url: str) -> str:
    sqs = aws.client("sqs", account=ACCOUNT)

    def receive() -> list[dict[str, Any]]:
        return sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])

    return str(
        wait_until(receive, timeout=15, describe_expected=f"a message on {queue_url}", interval=0)[0]["Body"]
    )


def _logs_policy(topic: str) -> dict[str, Any]:
    groups = [
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:sns/{REGION}/{ACCOUNT}/{topic}{s}"
        for s in ("", "/Failure")
    ]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": groups},
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [f"{g}:*" for g in groups],
            },
        ],
    }


@pytest.fixture(scope="module")
def aws() -> Iterator[RunningEmulator]:
    with running_emulator() as emulator:
        iam = emulator.client("iam", account=ACCOUNT)
        iam.create_role(RoleName="function-role", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
        yield emulator


def _feedback_role(aws: RunningEmulator, name: str, topic: str, trust: dict[str, Any] = SNS_TRUST) -> str:
    iam = aws.client("iam", account=ACCOUNT)
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="logs", PolicyDocument=json.dumps(_logs_policy(topic)))
    return arn


def _topic(aws: RunningEmulator, name: str, function: str, **attributes: str) -> str:
    sns = aws.client("sns", account=ACCOUNT)
    topic = sns.create_topic(Name=name)["TopicArn"]
    for key, value in attributes.items():
        sns.set_topic_attributes(TopicArn=topic, AttributeName=key, AttributeValue=value)
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)
    return topic


def _records(aws: RunningEmulator, group: str) -> list[dict[str, Any]]:
    logs = aws.client("logs", account=ACCOUNT)
    try:
        events = logs.filter_log_events(logGroupName=group)["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [json.loads(event["message"]) for event in events]


def test_a_delivery_is_recorded_with_the_message_id_lambdas_202_and_request_id(aws: RunningEmulator) -> None:
    function_arn, queue = _echo(aws, "status-echo")
    role = _feedback_role(aws, "status-feedback", "status-topic")
    topic = _topic(
        aws,
        "status-topic",
        "status-echo",
        LambdaSuccessFeedbackRoleArn=role,
        LambdaFailureFeedbackRoleArn=role,
        LambdaSuccessFeedbackSampleRate="100",
    )
    attributes = aws.client("sns", account=ACCOUNT).get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attributes["LambdaSuccessFeedbackRoleArn"] == role
    assert attributes["LambdaSuccessFeedbackSampleRate"] == "100"

    sns = aws.client("sns", account=ACCOUNT)
    message_id = sns.publish(
        TopicArn=topic,
        Message="build finished",
        Subject="Build",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "build"}},
    )["MessageId"]
    seen = json.loads(_next_message(aws, queue))
    record = seen["event"]["Records"][0]
    assert record["EventSource"] == "aws:sns" and record["EventSubscriptionArn"].startswith(topic + ":")
    assert record["Sns"]["MessageId"] == message_id and record["Sns"]["TopicArn"] == topic
    assert record["Sns"]["Subject"] == "Build" and record["Sns"]["Message"] == "build finished"
    assert record["Sns"]["MessageAttributes"] == {"kind": {"Type": "String", "Value": "build"}}

    group = f"sns/{REGION}/{ACCOUNT}/status-topic"
    [status] = wait_until(lambda: _records(aws, group), timeout=10, describe_expected=f"a record in {group}")
    assert status["status"] == "SUCCESS"
    assert status["notification"]["messageId"] == message_id and status["notification"]["topicArn"] == topic
    assert status["delivery"]["destination"] == function_arn and status["delivery"]["statusCode"] == 202
    assert json.loads(status["delivery"]["providerResponse"]) == {"lambdaRequestId": seen["request_id"]}
    assert status["delivery"]["attempts"] == 1 and status["delivery"]["dwellTimeMs"] >= 0
    assert _records(aws, group + "/Failure") == []


def test_a_deleted_function_is_a_failure_record_and_the_publish_still_succeeds(aws: RunningEmulator) -> None:
    _echo(aws, "gone-echo")
    role = _feedback_role(aws, "gone-feedback", "gone-topic")
    topic = _topic(
        aws, "gone-topic", "gone-echo", LambdaSuccessFeedbackRoleArn=role, LambdaFailureFeedbackRoleArn=role
    )
    aws.client("lambda", account=ACCOUNT).delete_function(FunctionName="gone-echo")
    message_id = aws.client("sns", account=ACCOUNT).publish(TopicArn=topic, Message="x")["MessageId"]
    group = f"sns/{REGION}/{ACCOUNT}/gone-topic/Failure"
    [status] = wait_until(lambda: _records(aws, group), timeout=10, describe_expected=f"a record in {group}")
    assert status["status"] == "FAILURE" and status["notification"]["messageId"] == message_id
    assert status["delivery"]["statusCode"] == 404
    response = json.loads(status["delivery"]["providerResponse"])
    assert response["ErrorCode"] == "ResourceNotFoundException" and "gone-echo" in response["ErrorMessage"]


@pytest.mark.parametrize("rate", [None, "0"])
def test_successes_are_sampled_and_an_unset_rate_logs_none(aws: RunningEmulator, rate: str | None) -> None:
    name = f"sampled-{rate or 'unset'}"
    _, queue = _echo(aws, f"{name}-echo")
    role = _feedback_role(aws, f"{name}-feedback", name)
    extra = {"LambdaSuccessFeedbackSampleRate": rate} if rate else {}
    topic = _topic(aws, name, f"{name}-echo", LambdaSuccessFeedbackRoleArn=role, **extra)
    aws.client("sns", account=ACCOUNT).publish(TopicArn=topic, Message="x")
    _next_message(aws, queue)  # delivered...
    assert _records(aws, f"sns/{REGION}/{ACCOUNT}/{name}") == []  # ...and not sampled


def test_a_sample_rate_between_draws_per_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter([10.0, 90.0])
    monkeypatch.setattr(delivery_status._random, "uniform", lambda a, b: next(draws))
    written: list[str] = []
    monkeypatch.setattr(delivery_status, "role_may_not_log", lambda *a, **k: "stop here")
    monkeypatch.setattr(delivery_status.log, "info", lambda *args: written.append(args[1]))
    topic = type(
        "Topic",
        (),
        {
            "arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:t",
            "lambda_success_feedback_role_arn": "r",
            "lambda_success_feedback_sample_rate": "50",
        },
    )()
    outcome = delivery_status.DeliveryOutcome.accepted("req", 0.0)
    delivery_status.record_delivery(topic, "fn", "m", "first", outcome)
    delivery_status.record_delivery(topic, "fn", "m", "second", outcome)
    assert written == ["first"]  # 10 < 50 is sampled; 90 is not


@pytest.mark.parametrize(
    ("trust", "why"),
    [
        (LAMBDA_TRUST, "does not let sns.amazonaws.com assume it"),
        (
            {
                **SNS_TRUST,
                "Statement": [
                    {
                        **SNS_TRUST["Statement"][0],
                        "Condition": {"StringEquals": {"aws:SourceAccount": "111111111111"}},
                    }
                ],
            },
            "does not let sns.amazonaws.com assume it",
        ),
    ],
)
def test_a_role_sns_may_not_assume_writes_nothing(
    aws: RunningEmulator, trust: dict[str, Any], why: str
) -> None:
    name = f"untrusted-{len(trust['Statement'][0].get('Condition', {}))}"
    _echo(aws, f"{name}-echo")
    role = _feedback_role(aws, f"{name}-feedback", name, trust=trust)
    topic = _topic(aws, name, f"{name}-echo", LambdaFailureFeedbackRoleArn=role)
    aws.client("lambda", account=ACCOUNT).delete_function(FunctionName=f"{name}-echo")
    assert why in (
        delivery_status.role_may_not_log(role, topic, f"sns/x/{name}/Failure", "s", create_group=True) or ""
    )
    aws.client("sns", account=ACCOUNT).publish(TopicArn=topic, Message="x")
    assert _records(aws, f"sns/{REGION}/{ACCOUNT}/{name}/Failure") == []


def test_a_role_without_put_log_events_writes_nothing(aws: RunningEmulator) -> None:
    iam = aws.client("iam", account=ACCOUNT)
    role = iam.create_role(RoleName="mute-feedback", AssumeRolePolicyDocument=json.dumps(SNS_TRUST))["Role"][
        "Arn"
    ]
    policy = _logs_policy("mute-topic")
    policy["Statement"][1]["Action"] = ["logs:CreateLogStream"]
    iam.put_role_policy(RoleName="mute-feedback", PolicyName="logs", PolicyDocument=json.dumps(policy))
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:mute-topic"
    why = delivery_status.role_may_not_log(
        role, topic, f"sns/{REGION}/{ACCOUNT}/mute-topic", "s", create_group=False
    )
    assert why is not None and "logs:PutLogEvents" in why
    assert (
        delivery_status.role_may_not_log(
            _feedback_role(aws, "loud-feedback", "mute-topic"),
            topic,
            f"sns/{REGION}/{ACCOUNT}/mute-topic",
            "s",
            create_group=True,
        )
        is None
    )


def test_cloudformations_delivery_status_logging_sets_the_attributes(aws: RunningEmulator) -> None:
    template = {
        "Resources": {
            "Feedback": {
                "Type": "AWS::IAM::Role",
                "Properties": {"RoleName": "cfn-feedback", "AssumeRolePolicyDocument": SNS_TRUST},
            },
            "Topic": {
                "Type": "AWS::SNS::Topic",
                "Properties": {
                    "TopicName": "cfn-status-topic",
                    "DeliveryStatusLogging": [
                        {
                            "Protocol": "lambda",
                            "SuccessFeedbackRoleArn": {"Fn::GetAtt": ["Feedback", "Arn"]},
                            "FailureFeedbackRoleArn": {"Fn::GetAtt": ["Feedback", "Arn"]},
                            "SuccessFeedbackSampleRate": "100",
                        }
                    ],
                },
            },
        }
    }
    cloudformation = aws.client("cloudformation", account=ACCOUNT)
    cloudformation.create_stack(
        StackName="sns-status", TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_NAMED_IAM"]
    )
    cloudformation.get_waiter("stack_create_complete").wait(StackName="sns-status", WaiterConfig={"Delay": 1})
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:cfn-status-topic"
    attributes = aws.client("sns", account=ACCOUNT).get_topic_attributes(TopicArn=topic)["Attributes"]
    role = f"arn:aws:iam::{ACCOUNT}:role/cfn-feedback"
    assert attributes["LambdaSuccessFeedbackRoleArn"] == role == attributes["LambdaFailureFeedbackRoleArn"]
    assert attributes["LambdaSuccessFeedbackSampleRate"] == "100"
