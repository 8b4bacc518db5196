"""CodeStar Notifications in the embedded AWS: the API, and events on a bus becoming SNS notifications
that the chat notifier (fixtures/chat-notifier/handler.py) turns into posts."""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gitops_harness.emulator.codestar_notifications import messages
from gitops_harness.emulator.codestar_notifications.event_types import event_type_ids
from gitops_harness.emulator.codestar_notifications.plane import MANAGED_RULE, CodeStarNotifications
from gitops_harness.emulator.testing import RunningEmulator, running_emulator
from gitops_harness.probes import SnsNotification, SnsProbe
from gitops_harness.waiting import wait_until

REGION = "us-east-1"
HANDLER = Path(__file__).resolve().parents[2] / "fixtures" / "chat-notifier" / "handler.py"
WAIT = 15.0


@pytest.fixture(scope="module")
def aws() -> Iterator[RunningEmulator]:
    with running_emulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def chat() -> Any:
    spec = importlib.util.spec_from_file_location("chat_notifier_handler", HANDLER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def plane(aws: RunningEmulator) -> CodeStarNotifications:
    return next(p for p in aws.aws.planes if isinstance(p, CodeStarNotifications))


def topic_with_policy(aws: RunningEmulator, account: str, name: str, *, grant: bool) -> str:
    sns = aws.client("sns", account=account)
    arn = sns.create_topic(Name=name)["TopicArn"]
    statements: list[dict[str, Any]] = [
        {  # the owner may publish (the test's marker), as in SNS's default policy
            "Sid": "Owner",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "sns:Publish",
            "Resource": arn,
        }
    ]
    if grant:
        statements.append(
            {
                "Sid": "CodeStarNotifications",
                "Effect": "Allow",
                "Principal": {"Service": "codestar-notifications.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": arn,
                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
            }
        )
    policy = {"Version": "2012-10-17", "Statement": statements}
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(policy))
    return arn


def probe(aws: RunningEmulator, account: str, topic_arn: str) -> SnsProbe:
    return SnsProbe(aws.client("sns", account=account), aws.client("sqs", account=account), topic_arn)


def build_event(account: str, project: str, status: str, build: str = "b1") -> dict[str, Any]:
    build_arn = f"arn:aws:codebuild:{REGION}:{account}:build/{project}:{build}"
    detail = {
        "build-status": status,
        "project-name": project,
        "build-id": build_arn,
        "additional-information": {"build-complete": status != "IN_PROGRESS", "initiator": "test"},
        "current-phase": "COMPLETED",
        "version": "1",
    }
    return {
        "Source": "aws.codebuild",
        "DetailType": "CodeBuild Build State Change",
        "Detail": json.dumps(detail),
        "Resources": [build_arn],
    }


def put(aws: RunningEmulator, account: str, *entries: dict[str, Any]) -> None:
    answer = aws.client("events", account=account).put_events(Entries=list(entries))
    assert answer["FailedEntryCount"] == 0, answer


def build_rule(aws: RunningEmulator, account: str, project: str, topic_arn: str, **extra: Any) -> str:
    client = aws.client("codestar-notifications", account=account)
    return client.create_notification_rule(
        Name=extra.pop("Name", f"{project}-build-finished"),
        DetailType=extra.pop("DetailType", "FULL"),
        Resource=f"arn:aws:codebuild:{REGION}:{account}:project/{project}",
        EventTypeIds=["codebuild-project-build-state-succeeded", "codebuild-project-build-state-failed"],
        Targets=[{"TargetType": "SNS", "TargetAddress": topic_arn}],
        **extra,
    )["Arn"]


def notification_of(body: Any) -> dict[str, Any] | None:
    if not isinstance(body, SnsNotification):
        return None
    try:
        message = json.loads(body.message)
    except ValueError:
        return None
    return message if isinstance(message, dict) and "notificationRuleArn" in message else None


def about(project: str, status: str) -> Any:
    def predicate(body: Any) -> bool:
        message = notification_of(body)
        return (
            bool(message)
            and message["detail"].get("project-name") == project
            and (message["detail"].get("build-status") == status)
        )

    return predicate


def capturing(predicate: Any) -> tuple[Any, list[Any]]:
    """`predicate` that also keeps what it matched (expect_none consumes its marker)."""
    matched: list[Any] = []

    def check(body: Any) -> bool:
        if predicate(body):
            matched.append(body)
            return True
        return False

    return check, matched


def target_status(aws: RunningEmulator, account: str, rule_arn: str) -> list[str]:
    client = aws.client("codestar-notifications", account=account)
    return [t["TargetStatus"] for t in client.describe_notification_rule(Arn=rule_arn)["Targets"]]


# ---- the API ---------------------------------------------------------------------------------------------


def test_rule_lifecycle_filters_targets_and_tags(aws: RunningEmulator):
    account = "310000000001"
    client = aws.client("codestar-notifications", account=account)
    topic = topic_with_policy(aws, account, "crud", grant=True)
    slack = f"arn:aws:chatbot::{account}:chat-configuration/slack-channel/builds"
    arn = build_rule(aws, account, "app", topic, Tags={"team": "platform"}, ClientRequestToken="t-1")
    assert arn.startswith(f"arn:aws:codestar-notifications:{REGION}:{account}:notificationrule/")
    # the same token and name: the same rule (an idempotent retry)
    assert build_rule(aws, account, "app", topic, ClientRequestToken="t-1") == arn

    rule = client.describe_notification_rule(Arn=arn)
    assert rule["Name"] == "app-build-finished" and rule["Status"] == "ENABLED"
    assert rule["DetailType"] == "FULL" and rule["Tags"] == {"team": "platform"}
    assert rule["CreatedBy"] == f"arn:aws:iam::{account}:root"
    assert {
        (t["EventTypeId"], t["EventTypeName"], t["ServiceName"], t["ResourceType"])
        for t in rule["EventTypes"]
    } == {
        ("codebuild-project-build-state-succeeded", "Build state: Succeeded", "CodeBuild", "Project"),
        ("codebuild-project-build-state-failed", "Build state: Failed", "CodeBuild", "Project"),
    }
    # a new SNS target is checked in the background: PENDING, then ACTIVE (the policy grants the service)
    wait_until(
        lambda: target_status(aws, account, arn),
        timeout=WAIT,
        describe_expected="the topic target ACTIVE",
        accept=lambda s: s == ["ACTIVE"],
    )

    other = build_rule(aws, account, "lib", topic)
    by = lambda name, value: [  # noqa: E731
        r["Arn"]
        for r in client.list_notification_rules(Filters=[{"Name": name, "Value": value}])["NotificationRules"]
    ]
    assert by("RESOURCE", f"arn:aws:codebuild:{REGION}:{account}:project/lib") == [other]
    assert sorted(by("TARGET_ADDRESS", topic)) == sorted([arn, other])
    assert by("TARGET_ADDRESS", slack) == []
    first = client.list_notification_rules(MaxResults=1)
    assert len(first["NotificationRules"]) == 1 and first["NextToken"]
    second = client.list_notification_rules(MaxResults=1, NextToken=first["NextToken"])
    assert {first["NotificationRules"][0]["Arn"], second["NotificationRules"][0]["Arn"]} == {arn, other}
    assert "NextToken" not in second

    client.update_notification_rule(Arn=arn, Name="app-builds", Status="DISABLED", DetailType="BASIC")
    client.subscribe(Arn=arn, Target={"TargetType": "AWSChatbotSlack", "TargetAddress": slack})
    rule = client.describe_notification_rule(Arn=arn)
    assert (rule["Name"], rule["Status"], rule["DetailType"]) == ("app-builds", "DISABLED", "BASIC")
    assert [t["TargetAddress"] for t in rule["Targets"]] == [topic, slack]
    assert rule["LastModifiedTimestamp"] >= rule["CreatedTimestamp"]
    targets = client.list_targets(Filters=[{"Name": "TARGET_TYPE", "Value": "AWSChatbotSlack"}])["Targets"]
    assert targets == [{"TargetAddress": slack, "TargetType": "AWSChatbotSlack", "TargetStatus": "ACTIVE"}]

    client.unsubscribe(Arn=arn, TargetAddress=slack)
    assert client.list_targets(Filters=[{"Name": "TARGET_ADDRESS", "Value": slack}])["Targets"] == []
    with pytest.raises(ClientError) as error:  # still used by two rules
        client.delete_target(TargetAddress=topic)
    assert error.value.response["Error"]["Code"] == "ValidationException"
    client.delete_target(TargetAddress=topic, ForceUnsubscribeAll=True)
    assert client.describe_notification_rule(Arn=other)["Targets"] == []

    assert client.tag_resource(Arn=arn, Tags={"env": "dev"})["Tags"] == {"team": "platform", "env": "dev"}
    client.untag_resource(Arn=arn, TagKeys=["team"])
    assert client.list_tags_for_resource(Arn=arn)["Tags"] == {"env": "dev"}

    events = aws.client("events", account=account)
    [managed] = events.list_rules(NamePrefix=MANAGED_RULE)["Rules"]
    assert managed["ManagedBy"] == "codestar-notifications.amazonaws.com"
    assert client.delete_notification_rule(Arn=arn)["Arn"] == arn
    assert client.delete_notification_rule(Arn=arn)["Arn"] == arn  # already gone: AWS answers the same
    client.delete_notification_rule(Arn=other)
    assert client.list_notification_rules()["NotificationRules"] == []
    # no notification rule left: the managed rule goes too
    assert events.list_rules(NamePrefix=MANAGED_RULE)["Rules"] == []


@pytest.mark.parametrize(
    ("change", "code", "text"),
    [
        ({"Resource": "arn:aws:s3:::bucket"}, "ValidationException", "is not the ARN of"),
        (
            {"Resource": f"arn:aws:codebuild:{REGION}:999999999999:project/x"},
            "ValidationException",
            "not in this account",
        ),
        (
            {"EventTypeIds": ["codedeploy-application-deployment-failed"]},
            "ValidationException",
            "does not apply",
        ),
        ({"EventTypeIds": ["codebuild-project-build-state-exploded"]}, "ValidationException", "is not valid"),
        (
            {"Targets": [{"TargetType": "Email", "TargetAddress": "a@b.c"}]},
            "ValidationException",
            "TargetType",
        ),
        (
            {"Targets": [{"TargetType": "SNS", "TargetAddress": "not-an-arn"}]},
            "ValidationException",
            "SNS topic",
        ),
        ({"DetailType": "VERBOSE"}, "ValidationException", "DetailType"),
        ({"Name": "bad/name"}, "ValidationException", "Name"),
    ],
)
def test_create_rejects_what_aws_rejects(aws: RunningEmulator, change: dict[str, Any], code: str, text: str):
    account = "310000000002"
    request = {
        "Name": "valid",
        "DetailType": "FULL",
        "Resource": f"arn:aws:codebuild:{REGION}:{account}:project/p",
        "EventTypeIds": ["codebuild-project-build-state-failed"],
        "Targets": [{"TargetType": "SNS", "TargetAddress": f"arn:aws:sns:{REGION}:{account}:t"}],
        **change,
    }
    with pytest.raises(ClientError) as error:
        aws.client("codestar-notifications", account=account).create_notification_rule(**request)
    assert error.value.response["Error"]["Code"] == code
    assert text in error.value.response["Error"]["Message"]


def test_errors_for_missing_rules_names_and_tokens(aws: RunningEmulator):
    account = "310000000003"
    client = aws.client("codestar-notifications", account=account)
    topic = f"arn:aws:sns:{REGION}:{account}:nowhere"
    build_rule(aws, account, "p", topic, Name="taken")
    with pytest.raises(ClientError) as error:
        build_rule(aws, account, "q", topic, Name="taken")
    assert error.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    missing = f"arn:aws:codestar-notifications:{REGION}:{account}:notificationrule/" + "0" * 40
    for call, code in [
        (lambda: client.describe_notification_rule(Arn=missing), "ResourceNotFoundException"),
        (
            lambda: client.update_notification_rule(Arn=missing, Status="DISABLED"),
            "ResourceNotFoundException",
        ),
        (lambda: client.list_tags_for_resource(Arn=missing), "ResourceNotFoundException"),
        (lambda: client.describe_notification_rule(Arn="arn:aws:sns:us-east-1:1:x"), "ValidationException"),
        (lambda: client.list_notification_rules(NextToken="garbage"), "InvalidNextTokenException"),
    ]:
        with pytest.raises(ClientError) as error:
            call()
        assert error.value.response["Error"]["Code"] == code
        assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 404)


def test_list_event_types_filters_by_service_and_resource_type(aws: RunningEmulator):
    client = aws.client("codestar-notifications")
    pipeline = client.list_event_types(Filters=[{"Name": "SERVICE_NAME", "Value": "CodePipeline"}])[
        "EventTypes"
    ]
    ids = {t["EventTypeId"] for t in pipeline}
    assert "codepipeline-pipeline-manual-approval-needed" in ids
    assert all(t["ResourceType"] == "Pipeline" for t in pipeline)
    deploy = client.list_event_types(Filters=[{"Name": "RESOURCE_TYPE", "Value": "Application"}])[
        "EventTypes"
    ]
    assert {t["EventTypeId"] for t in deploy} == {
        "codedeploy-application-deployment-succeeded",
        "codedeploy-application-deployment-failed",
        "codedeploy-application-deployment-started",
    }


# ---- events become notifications ------------------------------------------------------------------------


def test_build_failed_and_succeeded_reach_the_topic_as_chat_notifier_messages(
    aws: RunningEmulator, chat: Any
):
    account = "310000000010"
    topic = topic_with_policy(aws, account, "builds", grant=True)
    with probe(aws, account, topic) as queue:
        rule_arn = build_rule(aws, account, "app-image", topic)
        started = time.monotonic()
        # another project's failure first: it must not be notified; our failure after it is the marker
        put(aws, account, build_event(account, "other-project", "FAILED"))
        put(aws, account, build_event(account, "app-image", "FAILED"))
        marker, seen = capturing(about("app-image", "FAILED"))
        queue.expect_none(
            about("other-project", "FAILED"),
            until=marker,
            timeout=WAIT,
            describe="a notification for another project",
            describe_marker="the app-image FAILED notification",
        )
        latency = time.monotonic() - started
        message = json.loads(seen[0].message)
        assert list(message) == [
            "account", "detailType", "region", "source", "time",
            "notificationRuleArn", "detail", "resources", "additionalAttributes",
        ]  # fmt: skip
        assert message["notificationRuleArn"] == rule_arn
        assert (message["account"], message["region"], message["source"]) == (
            account,
            REGION,
            "aws.codebuild",
        )
        assert message["detailType"] == "CodeBuild Build State Change"
        assert message["resources"] == [f"arn:aws:codebuild:{REGION}:{account}:build/app-image:b1"]
        assert message["time"].endswith("Z") and "T" in message["time"]
        payload, kind = chat.format_message(message)
        assert kind == "build"
        assert payload["text"].startswith("Build finished: app-image FAILED")

        put(aws, account, build_event(account, "app-image", "SUCCEEDED", build="b2"))
        succeeded = queue.wait_for(about("app-image", "SUCCEEDED"), timeout=WAIT)
        payload, kind = chat.format_message(json.loads(succeeded.message))
        assert kind == "build" and payload["text"].startswith("Build finished: app-image succeeded")
    assert target_status(aws, account, rule_arn) == ["ACTIVE"]
    print(f"build event -> SQS via CodeStar notification: {latency * 1000:.0f} ms")


def test_topic_policy_without_the_codestar_grant_publishes_nothing(aws: RunningEmulator):
    account = "310000000011"
    topic = topic_with_policy(aws, account, "closed", grant=False)
    sns = aws.client("sns", account=account)
    with probe(aws, account, topic) as queue:
        rule_arn = build_rule(aws, account, "app-image", topic)
        put(aws, account, build_event(account, "app-image", "FAILED"))
        record = plane(aws).wait_for_delivery(lambda r: r["rule"] == rule_arn, timeout=WAIT)
        assert record["outcome"] == "failed"
        assert "does not allow codestar-notifications.amazonaws.com sns:Publish" in record["detail"]
        # the owner's marker after the refused notification: nothing came before it
        sns.publish(TopicArn=topic, Message="marker")
        queue.expect_none(
            lambda body: notification_of(body) is not None,
            until=lambda body: isinstance(body, SnsNotification) and body.message == "marker",
            timeout=WAIT,
            describe="a CodeStar notification",
        )
    assert target_status(aws, account, rule_arn) == ["UNREACHABLE"]
    listed = aws.client("codestar-notifications", account=account).list_targets(
        Filters=[{"Name": "TARGET_STATUS", "Value": "UNREACHABLE"}]
    )["Targets"]
    assert [t["TargetAddress"] for t in listed] == [topic]


def test_a_source_account_condition_for_another_account_does_not_grant(aws: RunningEmulator):
    account = "310000000012"
    topic = topic_with_policy(aws, account, "foreign", grant=True)
    policy = json.loads(
        aws.client("sns", account=account).get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"]
    )
    policy["Statement"][1]["Condition"]["StringEquals"]["aws:SourceAccount"] = "999999999999"
    aws.client("sns", account=account).set_topic_attributes(
        TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(policy)
    )
    rule_arn = build_rule(aws, account, "app-image", topic)
    wait_until(
        lambda: target_status(aws, account, rule_arn),
        timeout=WAIT,
        describe_expected="the topic target UNREACHABLE",
        accept=lambda s: s == ["UNREACHABLE"],
    )


def test_manual_approval_needed_from_an_approval_action_entering_started(aws: RunningEmulator, chat: Any):
    account = "310000000013"
    topic = topic_with_policy(aws, account, "approvals", grant=True)
    client = aws.client("codestar-notifications", account=account)
    rule_arn = client.create_notification_rule(
        Name="approval-needed",
        DetailType="FULL",
        Resource=f"arn:aws:codepipeline:{REGION}:{account}:app",
        EventTypeIds=["codepipeline-pipeline-manual-approval-needed"],
        Targets=[{"TargetType": "SNS", "TargetAddress": topic}],
    )["Arn"]

    def action(stage: str, name: str, category: str, provider: str) -> dict[str, Any]:
        detail = {
            "pipeline": "app",
            "execution-id": "e-1",
            "stage": stage,
            "action": name,
            "state": "STARTED",
            "region": REGION,
            "type": {"owner": "AWS", "provider": provider, "category": category, "version": "1"},
            "version": 1,
        }
        return {
            "Source": "aws.codepipeline",
            "DetailType": "CodePipeline Action Execution State Change",
            "Detail": json.dumps(detail),
            "Resources": [f"arn:aws:codepipeline:{REGION}:{account}:app"],
        }

    def approval(body: Any) -> bool:
        message = notification_of(body)
        return bool(message) and message["detail"].get("action") == "ManualApproval"

    with probe(aws, account, topic) as queue:
        # a build action starting is no approval; the approval after it is the marker
        put(aws, account, action("Build", "Build", "Build", "CodeBuild"))
        put(aws, account, action("Approve", "ManualApproval", "Approval", "Manual"))
        marker, seen = capturing(approval)
        queue.expect_none(
            lambda body: notification_of(body) is not None and not approval(body),
            until=marker,
            timeout=WAIT,
            describe="a notification for a non-approval action",
            describe_marker="the approval-needed notification",
        )
    message = json.loads(seen[0].message)
    assert message["notificationRuleArn"] == rule_arn
    payload, kind = chat.format_message(message)
    assert kind == "approval-needed"
    assert payload["text"].startswith("Approval needed: app")


def test_disabled_rules_send_nothing_and_slack_targets_are_recorded(aws: RunningEmulator):
    account = "310000000014"
    client = aws.client("codestar-notifications", account=account)
    topic = topic_with_policy(aws, account, "quiet", grant=True)
    slack = f"arn:aws:chatbot::{account}:chat-configuration/slack-channel/builds"
    quiet = build_rule(aws, account, "app-image", topic, Name="quiet", Status="DISABLED")
    loud = client.create_notification_rule(
        Name="slack",
        DetailType="BASIC",
        Resource=f"arn:aws:codebuild:{REGION}:{account}:project/app-image",
        EventTypeIds=["codebuild-project-build-state-in-progress"],
        Targets=[{"TargetType": "AWSChatbotSlack", "TargetAddress": slack}],
    )["Arn"]
    put(aws, account, build_event(account, "app-image", "FAILED"))
    put(aws, account, build_event(account, "app-image", "IN_PROGRESS", build="b2"))
    # the lane is ordered: once the IN_PROGRESS notification is recorded, the FAILED event was handled
    record = plane(aws).wait_for_delivery(lambda r: r["rule"] == loud, timeout=WAIT)
    assert record["outcome"] == "delivered" and record["target"] == slack
    assert record["message"]["detail"]["build-status"] == "IN_PROGRESS"
    assert record["message"]["additionalAttributes"] == {}
    assert [r for r in plane(aws).deliveries() if r["rule"] == quiet] == []


# ---- pure parts -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "resource", "ids"),
    [
        (
            {"source": "aws.codedeploy", "detail-type": "CodeDeploy Deployment State-change Notification",
             "detail": {"application": "app", "state": "SUCCESS"}},
            "arn:aws:codedeploy:r:1:application:app",
            ("codedeploy-application-deployment-succeeded",),
        ),
        (
            {"source": "aws.codedeploy", "detail-type": "CodeDeploy Deployment State-change Notification",
             "detail": {"application": "app", "state": "FAILURE"}},
            "arn:aws:codedeploy:r:1:application:app",
            ("codedeploy-application-deployment-failed",),
        ),
        (
            {"source": "aws.codepipeline", "detail-type": "CodePipeline Pipeline Execution State Change",
             "detail": {"pipeline": "p", "state": "SUPERSEDED"}},
            "arn:aws:codepipeline:r:1:p",
            ("codepipeline-pipeline-pipeline-execution-superseded",),
        ),
        (
            {"source": "aws.codepipeline", "detail-type": "CodePipeline Action Execution State Change",
             "detail": {"pipeline": "p", "state": "SUCCEEDED", "type": {"category": "Approval"}}},
            "arn:aws:codepipeline:r:1:p",
            ("codepipeline-pipeline-action-execution-succeeded", "codepipeline-pipeline-manual-approval-succeeded"),
        ),
        (
            {"source": "aws.codecommit", "detail-type": "CodeCommit Repository State Change",
             "detail": {"repositoryName": "repo", "event": "referenceUpdated"}},
            "arn:aws:codecommit:r:1:repo",
            ("codecommit-repository-branches-and-tags-updated",),
        ),
    ],
)  # fmt: skip
def test_events_map_to_their_resource_and_event_types(
    event: dict[str, Any], resource: str, ids: tuple[str, ...]
):
    match = event_type_ids({"region": "r", "account": "1", **event})
    assert match is not None and (match.resource_arn, match.event_type_ids) == (resource, ids)


def test_events_that_fire_no_event_type():
    assert event_type_ids({"source": "aws.codedeploy", "detail-type": "CodeDeploy Deployment State-change Notification",
                           "detail": {"application": "a", "state": "READY"}}) is None  # fmt: skip
    assert event_type_ids({"source": "my.app", "detail-type": "x", "detail": {}}) is None


def test_basic_detail_leaves_out_additional_attributes():
    event = {
        "account": "1",
        "region": "r",
        "source": "aws.codepipeline",
        "detail-type": "d",
        "time": 0,
        "detail": {},
    }
    extra = {"customData": "look"}
    full = messages.notification(event, rule_arn="arn", detail_type="FULL", additional_attributes=extra)
    basic = messages.notification(event, rule_arn="arn", detail_type="BASIC", additional_attributes=extra)
    assert full["additionalAttributes"] == extra and basic["additionalAttributes"] == {}
    assert full["time"] == "1970-01-01T00:00:00Z"


@pytest.mark.parametrize("grant_key", [True, False], ids=["key-grants", "key-silent"])
def test_encrypted_topic_needs_the_key_to_let_codestar_use_it_via_sns(aws: RunningEmulator, grant_key: bool):
    account = "310000000015" if grant_key else "310000000016"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Owner",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    if grant_key:  # as fixtures/pipeline/pipeline-account.yaml grants its artifact key
        statements.append(
            {
                "Sid": "CodeStarNotificationsToEncryptedTopic",
                "Effect": "Allow",
                "Principal": {"Service": "codestar-notifications.amazonaws.com"},
                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:ViaService": f"sns.{REGION}.amazonaws.com"}},
            }
        )
    key = aws.client("kms", account=account).create_key(
        Policy=json.dumps({"Version": "2012-10-17", "Statement": statements})
    )["KeyMetadata"]["Arn"]
    topic = topic_with_policy(aws, account, "encrypted", grant=True)
    aws.client("sns", account=account).set_topic_attributes(
        TopicArn=topic, AttributeName="KmsMasterKeyId", AttributeValue=key
    )
    rule_arn = build_rule(aws, account, "app-image", topic)
    put(aws, account, build_event(account, "app-image", "FAILED"))
    record = plane(aws).wait_for_delivery(lambda r: r["rule"] == rule_arn, timeout=WAIT)
    if grant_key:
        assert record["outcome"] == "delivered", record["detail"]
        assert target_status(aws, account, rule_arn) == ["ACTIVE"]
    else:
        assert record["outcome"] == "failed"
        assert f"the policy of key {key} does not allow" in record["detail"]
        assert target_status(aws, account, rule_arn) == ["UNREACHABLE"]


def test_an_unreachable_target_becomes_inactive_after_24_hours():
    from gitops_harness.emulator.scheduler import FakeClock

    clock = FakeClock()
    account = "310000000017"
    with running_emulator(clock=clock) as aws:
        topic = topic_with_policy(aws, account, "stale", grant=False)
        rule_arn = build_rule(aws, account, "app-image", topic)
        wait_until(
            lambda: target_status(aws, account, rule_arn),
            timeout=WAIT,
            describe_expected="the topic target UNREACHABLE",
            accept=lambda s: s == ["UNREACHABLE"],
        )
        clock.advance(23 * 3600)
        assert target_status(aws, account, rule_arn) == ["UNREACHABLE"]
        clock.advance(3600)
        assert target_status(aws, account, rule_arn) == ["INACTIVE"]


def test_an_emulator_serves_the_managed_rule_before_any_codestar_request(aws: RunningEmulator) -> None:
    """The target was registered on the first CodeStar Notifications request an emulator served, so a
    second emulator in the process (moto's rules are shared) failed every delivery to the managed rule."""
    account = "464646464646"
    topic = topic_with_policy(aws, account, "served-from-start", grant=True)
    build_rule(aws, account, "served-from-start", topic)  # the managed rule, made through `aws`
    with running_emulator() as other:  # it never sees a CodeStar Notifications request
        put(other, account, build_event(account, "served-from-start", "SUCCEEDED"))
        record = other.aws.event_delivery.wait_for(lambda r: r["rule"].endswith(f"/{MANAGED_RULE}"), WAIT)
    assert record["outcome"] == "delivered", record


def test_an_event_for_the_managed_rule_loads_background_planes(aws: RunningEmulator) -> None:
    """`gitops-harness emulator` loads planes when first needed: an event for the managed rule is such a
    need, so it is delivered to the plane, not failed for want of a registered target."""
    from gitops_harness.emulator.server import EmbeddedAWS

    account = "464646464647"
    topic = topic_with_policy(aws, account, "background-planes", grant=True)
    build_rule(aws, account, "background-planes", topic)  # the managed rule, in moto (shared)
    other = EmbeddedAWS(port=0, background_planes=True).start()
    try:
        assert other.planes == []  # nothing has needed them yet
        events = other.clients.for_account("events", account, REGION)  # type: ignore[union-attr]
        answer = events.put_events(Entries=[build_event(account, "background-planes", "SUCCEEDED")])
        assert answer["FailedEntryCount"] == 0
        record = other.event_delivery.wait_for(  # type: ignore[union-attr]
            lambda r: r["rule"].endswith(f"/{MANAGED_RULE}"), WAIT
        )
        assert record["outcome"] == "delivered", record
        assert any(isinstance(p, CodeStarNotifications) for p in other.planes)
    finally:
        other.stop()
