"""The notify verdict of `gitops-harness run` (notify_check.py) judged on a chat receiver's record."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from gitops_harness import notify_check
from gitops_harness.chat_receiver import ChatReceiver
from gitops_harness.notify_check import ChatWatch

STACKS = SimpleNamespace(
    build_project="demo-build", pipeline_name="demo-pipeline", chat_notifier_function="demo-chat-notifier"
)
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _post(chat: ChatReceiver, text: str) -> None:
    request = urllib.request.Request(chat.url, data=json.dumps({"text": text}).encode())
    with urllib.request.urlopen(request, timeout=5):
        pass


@pytest.fixture
def chat(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(notify_check, "CHAT_DEADLINE", 0.3)
    with ChatReceiver() as receiver:
        yield receiver


def test_build_and_approval_posts_pass_with_a_row_each(chat):
    watch = ChatWatch(SimpleNamespace(chat=chat), STACKS, COMMIT, time.time())
    _post(chat, f"Build finished: demo-build succeeded\nCommit: {COMMIT}")
    _post(chat, "Approval needed: demo-pipeline")
    verdict, rows = watch.judge(None)
    assert verdict.passed, verdict.detail
    assert [r.action for r in rows] == ["post: build finished", "post: approval needed"]


def test_a_missing_post_names_the_step_what_it_waited_for_and_what_came_without_the_url(chat):
    watch = ChatWatch(SimpleNamespace(chat=chat), STACKS, COMMIT, time.time())
    _post(chat, f"Build finished: demo-build succeeded\nCommit: {COMMIT}")
    verdict, rows = watch.judge(None)
    assert not verdict.passed
    assert "step 'approval needed'" in verdict.detail and "Approval needed" in verdict.detail
    assert "Build finished" in verdict.detail  # what arrived instead
    assert chat.path.rsplit("/", 1)[-1] not in verdict.detail + verdict.where_to_look
    assert [r.action for r in rows] == ["post: build finished"]


def test_a_traffic_shift_post_before_prod_is_green_fails(chat):
    watch = ChatWatch(SimpleNamespace(chat=chat), STACKS, COMMIT, time.time())
    _post(chat, f"Build finished: demo-build succeeded\nCommit: {COMMIT}")
    _post(chat, "Approval needed: demo-pipeline")
    _post(chat, "Traffic shift complete: d-TEST")
    later = datetime.now(UTC) + timedelta(seconds=30)
    release = SimpleNamespace(
        deployment=SimpleNamespace(id="d-TEST"),
        weight_steps=[SimpleNamespace(at=later, green=100.0)],
        info={"completeTime": later + timedelta(seconds=5)},
    )
    verdict, _ = watch.judge(release)
    assert not verdict.passed and "before prod was 100% green" in verdict.detail


# -- a real account's evidence: the notifier's log lines and SNS's delivery status records ---------------

ACCOUNT = "676767676767"
SNS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
# Logs as the reference chat notifier does when it posts, without posting anywhere.
NOTIFIER_LINES = """
import json
def handler(event, context):
    for record in event["Records"]:
        kind = "build" if "Build" in record["Sns"]["Message"] else "approval-needed"
        print(f"posted {kind} notification (SNS message {record['Sns']['MessageId']})")
"""


@pytest.fixture(scope="module")
def aws():
    from gitops_harness.emulator.testing import running_emulator

    with running_emulator() as emulator:
        iam = emulator.client("iam", account=ACCOUNT)
        iam.create_role(RoleName="notifier-role", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
        iam.create_role(RoleName="feedback", AssumeRolePolicyDocument=json.dumps(SNS_TRUST))
        logs_policy = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "logs:*", "Resource": "arn:aws:logs:*:*:log-group:sns/*"}
            ],
        }
        iam.put_role_policy(RoleName="feedback", PolicyName="logs", PolicyDocument=json.dumps(logs_policy))
        yield emulator


def _account_watch(aws, name: str, *, feedback: bool = True) -> tuple[ChatWatch, str]:
    """A notifier-like function subscribed to a topic (with delivery status logging), and a ChatWatch
    reading them as on a real account (no chat receiver)."""
    import io
    import zipfile

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handler.py", NOTIFIER_LINES)
    aws.client("lambda", account=ACCOUNT).create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=f"arn:aws:iam::{ACCOUNT}:role/notifier-role",
        Handler="handler.handler",
        Code={"ZipFile": archive.getvalue()},
    )
    sns = aws.client("sns", account=ACCOUNT)
    topic = sns.create_topic(Name=f"{name}-topic")["TopicArn"]
    if feedback:
        role = f"arn:aws:iam::{ACCOUNT}:role/feedback"
        for key, value in (
            ("LambdaSuccessFeedbackRoleArn", role),
            ("LambdaFailureFeedbackRoleArn", role),
            ("LambdaSuccessFeedbackSampleRate", "100"),
        ):
            sns.set_topic_attributes(TopicArn=topic, AttributeName=key, AttributeValue=value)
    sns.subscribe(
        TopicArn=topic, Protocol="lambda", Endpoint=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    )
    target = SimpleNamespace(
        chat=None, client=lambda service, account="pipeline": aws.client(service, account=ACCOUNT)
    )
    deployment = SimpleNamespace(
        chat_notifier_function=name, notification_topic_arn=topic, pipeline_name="demo-pipeline"
    )
    return ChatWatch(target, deployment, COMMIT, time.time() - 1), topic


def test_on_a_real_account_each_post_is_tied_to_its_sns_delivery_status(aws, monkeypatch):
    monkeypatch.setattr(notify_check, "CHAT_DEADLINE", 15.0)
    watch, topic = _account_watch(aws, "status-notifier")
    sns = aws.client("sns", account=ACCOUNT)
    sns.publish(TopicArn=topic, Message=f"Build finished {COMMIT}")
    sns.publish(TopicArn=topic, Message="Approval needed demo-pipeline")
    verdict, rows = watch.judge(None)
    assert verdict.passed, verdict.detail
    assert f"SNS delivery status (sns/us-east-1/{ACCOUNT}/status-notifier-topic)" in verdict.detail
    assert "build finished SUCCESS 202 (Lambda request" in verdict.detail
    assert "approval needed SUCCESS 202" in verdict.detail
    assert [r.action for r in rows] == [
        "log: build finished",
        "sns: build finished",
        "log: approval needed",
        "sns: approval needed",
    ]
    assert [r.status for r in rows if r.action.startswith("sns")] == ["SUCCESS 202", "SUCCESS 202"]


def test_a_topic_without_delivery_status_logging_is_said_so(aws, monkeypatch):
    monkeypatch.setattr(notify_check, "CHAT_DEADLINE", 15.0)
    watch, topic = _account_watch(aws, "plain-notifier", feedback=False)
    sns = aws.client("sns", account=ACCOUNT)
    sns.publish(TopicArn=topic, Message=f"Build finished {COMMIT}")
    sns.publish(TopicArn=topic, Message="Approval needed demo-pipeline")
    verdict, _ = watch.judge(None)
    assert verdict.passed, verdict.detail
    assert (
        f"SNS delivery status not logged: topic {topic} has no LambdaSuccessFeedbackRoleArn" in verdict.detail
    )


def test_a_message_sns_could_not_deliver_fails_the_verdict_with_the_provider_response(aws, monkeypatch):
    monkeypatch.setattr(notify_check, "CHAT_DEADLINE", 2.0)
    watch, topic = _account_watch(aws, "gone-notifier")
    aws.client("lambda", account=ACCOUNT).delete_function(FunctionName="gone-notifier")
    aws.client("sns", account=ACCOUNT).publish(TopicArn=topic, Message=f"Build finished {COMMIT}")
    verdict, rows = watch.judge(None)
    assert not verdict.passed and rows == []
    assert verdict.detail.startswith("step 'build finished': expected \"posted build notification\"")
    assert "SNS could not deliver 1 message(s) to the notifier" in verdict.detail
    assert "FAILURE 404: ResourceNotFoundException: Function not found" in verdict.detail
    assert verdict.where_to_look == "aws logs tail /aws/lambda/gone-notifier"
