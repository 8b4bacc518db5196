"""CodeStar Notifications on LocalStack community 4.14.0 with the plugin (host mode, .venv-localstack):
the plane's managed rule `awscodestarnotifications-rule` lives in LocalStack's own EventBridge (the
plugin's `LocalStackEventRules`), its target is the plugin's codestar-notifications sender, and a matching
event becomes a notification on an SNS topic of LocalStack's SNS (read here from an SQS subscription).
The last DeleteNotificationRule takes the managed rule away. Without LocalStack's venv these tests skip."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from gitops_harness.emulator.codestar_notifications.events import MANAGED_BY, MANAGED_RULE
from gitops_harness.targets.localstack_host import HostLocalStack
from gitops_harness.waiting import wait_until
from localstack_started import started_localstack

REGION = "us-east-1"
ACCOUNT = "222222222222"
WAIT = 30


@pytest.fixture(scope="module")
def localstack() -> Any:
    yield from started_localstack()


def _client(host: HostLocalStack, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=host.endpoint_url,
        region_name=REGION,
        aws_access_key_id=ACCOUNT,
        aws_secret_access_key="test",
    )


def _json(host: HostLocalStack, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{host.endpoint_url}{path}", timeout=10) as resp:  # noqa: S310 - our LocalStack
        return json.loads(resp.read())  # type: ignore[no-any-return]


def _topic(host: HostLocalStack, name: str, *, grant: bool) -> tuple[str, str]:
    """A topic (CodeStar Notifications may publish to it when `grant`) and an SQS queue subscribed to it."""
    sns, sqs = _client(host, "sns"), _client(host, "sqs")
    topic = sns.create_topic(Name=name)["TopicArn"]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Owner",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "sns:Publish",
            "Resource": topic,
        }
    ]
    if grant:
        statements.append(
            {
                "Sid": "CodeStarNotifications",
                "Effect": "Allow",
                "Principal": {"Service": "codestar-notifications.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic,
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            }
        )
    policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=policy)
    queue_url = sqs.create_queue(QueueName=f"{name}-probe")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    return topic, queue_url


def _rule(host: HostLocalStack, name: str, project: str, topic: str) -> str:
    return str(
        _client(host, "codestar-notifications").create_notification_rule(
            Name=name,
            DetailType="FULL",
            Resource=f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/{project}",
            EventTypeIds=["codebuild-project-build-state-succeeded", "codebuild-project-build-state-failed"],
            Targets=[{"TargetType": "SNS", "TargetAddress": topic}],
        )["Arn"]
    )


def _build_event(project: str, status: str, build: str) -> dict[str, Any]:
    build_arn = f"arn:aws:codebuild:{REGION}:{ACCOUNT}:build/{project}:{build}"
    detail = {
        "build-status": status,
        "project-name": project,
        "build-id": build_arn,
        "additional-information": {"build-complete": True, "initiator": "test"},
        "current-phase": "COMPLETED",
        "version": "1",
    }
    return {
        "Source": "aws.codebuild",
        "DetailType": "CodeBuild Build State Change",
        "Detail": json.dumps(detail),
        "Resources": [build_arn],
    }


def _put(host: HostLocalStack, *entries: dict[str, Any]) -> list[str]:
    answer = _client(host, "events").put_events(Entries=list(entries))
    assert answer["FailedEntryCount"] == 0, answer
    return [e["EventId"] for e in answer["Entries"]]


def _notifications(host: HostLocalStack, queue_url: str, seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the queue holds so far, added to `seen` (each message read once)."""
    sqs = _client(host, "sqs")
    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages", []
    ):
        seen.append(json.loads(message["Body"]))
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return seen


def _managed_rule(host: HostLocalStack) -> dict[str, Any] | None:
    try:
        return dict(_client(host, "events").describe_rule(Name=MANAGED_RULE))
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise


def test_the_health_route_says_notification_rules_are_fed(localstack: HostLocalStack) -> None:
    health = _json(localstack, "/_gitops/health")
    assert health["notification_rules_fed"] is True
    assert "codestar-notifications" in health["eventbridge_targets"]


def test_a_build_event_notifies_through_localstacks_eventbridge_and_sns(localstack: HostLocalStack) -> None:
    assert _managed_rule(localstack) is None  # no notification rule yet: no managed rule
    topic, queue = _topic(localstack, "builds", grant=True)
    rule_arn = _rule(localstack, "app-image-builds", "app-image", topic)

    managed = _managed_rule(localstack)
    assert managed is not None and managed["ManagedBy"] == MANAGED_BY
    assert set(json.loads(managed["EventPattern"])["source"]) >= {"aws.codebuild", "aws.codepipeline"}
    [target] = _client(localstack, "events").list_targets_by_rule(Rule=MANAGED_RULE)["Targets"]
    assert target["Arn"] == f"arn:aws:codestar-notifications:{REGION}:{ACCOUNT}:{MANAGED_RULE}"
    # another project's failure must not notify; ours (after it) must, once
    _put(localstack, _build_event("other-project", "FAILED", "b0"))
    [event_id] = _put(localstack, _build_event("app-image", "FAILED", "b1"))
    seen: list[dict[str, Any]] = []
    [message] = wait_until(
        lambda: (
            [
                m
                for m in _notifications(localstack, queue, seen)
                if m["detail"].get("build-id", "").endswith(":b1")
            ]
            or None
        ),
        timeout=WAIT,
        describe_expected="the app-image FAILED notification on the topic's queue",
        describe_seen=lambda _: json.dumps(seen)[:2000],
    )
    assert message["notificationRuleArn"] == rule_arn
    assert (message["account"], message["source"], message["detailType"]) == (
        ACCOUNT,
        "aws.codebuild",
        "CodeBuild Build State Change",
    )
    # the plugin's delivery log names the managed rule's delivery of that event
    [record] = [
        d
        for d in _json(localstack, "/_gitops/eventbridge/deliveries")["deliveries"]
        if d["event_id"] == event_id
    ]
    assert record["rule"].endswith(f"/{MANAGED_RULE}") and record["outcome"] == "delivered"
    assert record["detail"].startswith("1 notification(s) sent for 1 rule(s)")
    assert not [m for m in seen if m["detail"].get("project-name") == "other-project"], seen
    targets = _client(localstack, "codestar-notifications").describe_notification_rule(Arn=rule_arn)[
        "Targets"
    ]
    assert [t["TargetStatus"] for t in targets] == ["ACTIVE"]

    # a user cannot take the managed rule's target away (ManagedRuleException, as on AWS); 4.14 drops its
    # sender all the same, and the next CreateNotificationRule puts the target back
    refused = _client(localstack, "events").remove_targets(Rule=MANAGED_RULE, Ids=[target["Id"]])
    assert [e["ErrorCode"] for e in refused["FailedEntries"]] == ["ManagedRuleException"]
    second = _rule(localstack, "app-image-builds-2", "app-image", topic)
    _put(localstack, _build_event("app-image", "SUCCEEDED", "b2"))
    wait_until(
        lambda: (
            {
                m["notificationRuleArn"]
                for m in _notifications(localstack, queue, seen)
                if m["detail"].get("build-id", "").endswith(":b2")
            }
            == {rule_arn, second}
            or None
        ),
        timeout=WAIT,
        describe_expected="the app-image SUCCEEDED notification of both rules",
        describe_seen=lambda _: json.dumps(seen)[:2000],
    )

    codestar = _client(localstack, "codestar-notifications")
    codestar.delete_notification_rule(Arn=rule_arn)
    assert _managed_rule(localstack) is not None  # another notification rule still needs it
    codestar.delete_notification_rule(Arn=second)
    assert _managed_rule(localstack) is None  # the last notification rule took it away


def test_a_topic_without_the_codestar_grant_gets_nothing(localstack: HostLocalStack) -> None:
    topic, queue = _topic(localstack, "ungranted", grant=False)
    rule_arn = _rule(localstack, "ungranted-builds", "ungranted", topic)
    try:
        [event_id] = _put(localstack, _build_event("ungranted", "SUCCEEDED", "b1"))
        record = wait_until(
            lambda: next(
                (
                    d
                    for d in _json(localstack, "/_gitops/eventbridge/deliveries")["deliveries"]
                    if d["event_id"] == event_id
                ),
                None,
            ),
            timeout=WAIT,
            describe_expected="the managed rule's delivery record of the event",
        )
        assert record["detail"].startswith("0 notification(s) sent for 1 rule(s)"), record
        assert _notifications(localstack, queue, []) == []
        targets = _client(localstack, "codestar-notifications").describe_notification_rule(Arn=rule_arn)[
            "Targets"
        ]
        assert [t["TargetStatus"] for t in targets] == ["UNREACHABLE"]
    finally:
        _client(localstack, "codestar-notifications").delete_notification_rule(Arn=rule_arn)
    assert _managed_rule(localstack) is None
