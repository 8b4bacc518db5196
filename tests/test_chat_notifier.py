"""Tests for the chat-notifier Lambda (fixtures/chat-notifier/handler.py).

A real HTTP receiver on 127.0.0.1 stands in for the Slack/Mattermost webhook; moto stands in for
CodeDeploy and Secrets Manager. moto 5.2.5 does not implement PutLifecycleEventHookExecutionStatus
(it raises NotImplementedError), so that one operation is answered at the botocore boundary by a
before-call hook on the handler's own client: parameter validation and serialization still run.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from gitops_harness.chat_receiver import ChatReceiver

ROOT = Path(__file__).resolve().parents[1]
NOTIFIER_DIR = ROOT / "fixtures" / "chat-notifier"
EVENTS = NOTIFIER_DIR / "events"
REGION = "eu-west-1"
SECRET_TOKEN = "T0SECRET/B0SECRET/xoxSeCrEtWebhookToken42"  # must never reach a log line
ALLOWED_BLOCKS = {"section", "context"}


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def receiver() -> Iterator[ChatReceiver]:
    with ChatReceiver(path=f"/hooks/{SECRET_TOKEN}") as recv:
        yield recv


@pytest.fixture
def notifier(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """A freshly imported handler module (a new Lambda container): empty URL and client caches."""
    for var in (
        "WEBHOOK_URL",
        "WEBHOOK_SECRET_ARN",
        "NOTIFY_FAILURE_FAILS_HOOK",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_CODEDEPLOY",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    botocore_logger = logging.getLogger("botocore")
    monkeypatch.setattr(botocore_logger, "level", botocore_logger.level)  # the import pins it; undo after
    spec = importlib.util.spec_from_file_location("chat_notifier_handler", NOTIFIER_DIR / "handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sleeps: list[float] = []
    monkeypatch.setattr(module, "_sleep", sleeps.append)  # observe back-off instead of waiting
    module.test_sleeps = sleeps  # type: ignore[attr-defined]
    return module


@pytest.fixture
def webhook(notifier: ModuleType, receiver: ChatReceiver, monkeypatch: pytest.MonkeyPatch) -> ChatReceiver:
    monkeypatch.setenv("WEBHOOK_URL", receiver.url)
    return receiver


def dead_url() -> str:
    """A 127.0.0.1 URL nobody listens on: bind a port, then close it (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks/{SECRET_TOKEN}"


def assert_webhook_shape(payload: dict[str, Any]) -> str:
    """Only fields both Slack and Mattermost incoming webhooks accept; returns the text."""
    assert set(payload) == {"text", "blocks"}
    assert isinstance(payload["text"], str) and payload["text"].strip()
    assert len(payload["text"]) <= 3000
    for block in payload["blocks"]:
        assert block["type"] in ALLOWED_BLOCKS
        if "fields" in block:
            assert 0 < len(block["fields"]) <= 10
            assert all(f["type"] == "mrkdwn" and len(f["text"]) <= 2000 for f in block["fields"])
    # Mattermost shows only `text`, so `text` must not rely on Slack-only bold markup.
    assert "*" not in payload["text"].splitlines()[0]
    return payload["text"]


def post_one(notifier: ModuleType, webhook: ChatReceiver, event_file: str) -> str:
    before = len(webhook.posts())
    result = notifier.handler(load_event(event_file), None)
    assert result == {"posted": 1, "skipped": 0}
    *_, request = webhook.posts()
    assert len(webhook.posts()) == before + 1
    assert request.path == f"/hooks/{SECRET_TOKEN}"
    assert request.headers["Content-Type"].startswith("application/json")
    return assert_webhook_shape(request.json)


# --------------------------------------------------------------------------- message kinds


def test_build_succeeded_posts_build_finished_with_commit_and_console_link(notifier, webhook) -> None:
    text = post_one(notifier, webhook, "sns-codebuild-build-succeeded.json")
    assert text.startswith("Build finished: gitops-sample-app-image succeeded")
    assert "Build: gitops-sample-app-image:5e2b7c1a-0d4f-4b8e-9a6c-3f1d2e0b9a87" in text
    assert "Commit: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b" in text  # from COMMIT_ID, not the S3 ARN
    assert (
        "<https://eu-west-1.console.aws.amazon.com/codesuite/codebuild/111122223333/projects/"
        "gitops-sample-app-image/build/gitops-sample-app-image%3A5e2b7c1a-0d4f-4b8e-9a6c-3f1d2e0b9a87/"
        "?region=eu-west-1|Open build>" in text
    )


def test_build_failed_posts_failure_with_source_version_commit(notifier, webhook) -> None:
    text = post_one(notifier, webhook, "sns-codebuild-build-failed.json")
    assert text.startswith("Build finished: gitops-sample-app-image FAILED")
    assert "Status: FAILED" in text
    assert "Commit: 3c6e0b8a4c12d3f5e7a9b1c2d4e6f80912a3b4c5" in text
    assert "|Logs>" in text


def test_build_stopped_without_commit_omits_commit_line(notifier, webhook) -> None:
    text = post_one(notifier, webhook, "sns-codebuild-build-stopped.json")
    assert "gitops-sample-app-image was stopped" in text
    assert "Commit:" not in text


def test_deployment_success_and_failure(notifier, webhook) -> None:
    ok = post_one(notifier, webhook, "sns-codedeploy-deployment-success.json")
    assert ok.startswith("Deployment succeeded: gitops-sample-app")
    failed = post_one(notifier, webhook, "sns-codedeploy-deployment-failure.json")
    assert failed.startswith("Deployment FAILED: gitops-sample-app")
    assert "Deployment group: gitops-sample-app-bluegreen" in failed
    assert "codesuite/codedeploy/deployments/d-3HV8M0P4C?region=eu-west-1|Open deployment>" in failed


def test_codestar_manual_approval_needed(notifier, webhook) -> None:
    text = post_one(notifier, webhook, "sns-codepipeline-manual-approval-needed.json")
    assert text.startswith("Approval needed: gitops-sample-app")
    for line in ("Stage: Approve", "Action: ManualApproval", "Expires: 2025-03-11T10:16Z"):
        assert line in text
    assert "codesuite/codepipeline/pipelines/gitops-sample-app/view?region=eu-west-1|Review>" in text


def test_approval_action_message_has_review_link_custom_data_and_expiry(notifier, webhook) -> None:
    text = post_one(notifier, webhook, "sns-codepipeline-approval-action.json")
    approval = json.loads(
        load_event("sns-codepipeline-approval-action.json")["Records"][0]["Sns"]["Message"]
    )["approval"]
    assert text.startswith("Approval needed: gitops-sample-app")
    assert "Stage: Approve" in text and "Action: ManualApproval" in text
    assert f"Custom data: {approval['customData']}" in text
    assert f"Expires: {approval['expires']}" in text
    assert f"<{approval['approvalReviewLink']}|Review and approve>" in text
    assert f"<{approval['externalEntityLink']}|Details>" in text


def test_custom_data_cannot_inject_mentions(notifier, webhook) -> None:
    event = load_event("sns-codepipeline-approval-action.json")
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    message["approval"]["customData"] = "<!channel> ship it & <https://evil.example|click>"
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    notifier.handler(event, None)
    (request,) = webhook.posts()
    dumped = json.dumps(request.json)
    assert "<!channel>" not in dumped and "<https://evil.example" not in dumped
    assert "&lt;!channel&gt; ship it &amp;" in request.json["text"]


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (load_event("sns-codebuild-build-in-progress.json"), "build status 'IN_PROGRESS' is not notified"),
        (load_event("sns-unrelated-text-message.json"), "not JSON"),
        (
            {
                "Records": [
                    {
                        "Sns": {
                            "MessageId": "m-1",
                            "Message": json.dumps({"source": "aws.s3", "detailType": "x"}),
                        }
                    }
                ]
            },
            "unsupported notification source='aws.s3'",
        ),
        ({"Records": [{"Sns": {"MessageId": "m-2", "Message": "[1, 2]"}}]}, "not a JSON object"),
        ({"Records": [{"Sns": {"MessageId": "m-4", "Message": "null"}}]}, "not a JSON object"),
        ({"hello": "world"}, "not an SNS delivery or a CodeDeploy lifecycle hook"),
    ],
    ids=["build-in-progress", "plain-text-sns", "other-source", "json-array", "json-null", "not-sns"],
)
def test_unknown_message_posts_nothing_and_logs_one_line(notifier, webhook, caplog, event, reason) -> None:
    caplog.set_level(logging.INFO, logger="chat_notifier")
    result = notifier.handler(event, None)
    assert result["posted"] == 0 and result["skipped"] == 1
    assert webhook.posts() == []
    skipped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped")]
    assert len(skipped) == 1 and "\n" not in skipped[0]
    assert reason in skipped[0]


def test_known_kind_with_broken_shape_is_skipped_not_crashed(notifier, webhook, caplog) -> None:
    caplog.set_level(logging.INFO, logger="chat_notifier")
    broken = {
        "source": "aws.codebuild",
        "detailType": "CodeBuild Build State Change",
        "detail": {"build-status": "FAILED", "additional-information": {"environment": "oops"}},
    }
    result = notifier.handler(
        {"Records": [{"Sns": {"MessageId": "m-3", "Message": json.dumps(broken)}}]}, None
    )
    assert result == {"posted": 0, "skipped": 1}
    assert webhook.posts() == []
    assert any("could not format message: AttributeError" in r.getMessage() for r in caplog.records)


# --------------------------------------------------------------------------- webhook transport


def test_500_then_200_is_retried_once_with_the_same_body(notifier, webhook) -> None:
    webhook.fail(500, answer="oops")
    notifier.handler(load_event("sns-codebuild-build-failed.json"), None)
    first, second = webhook.posts()
    assert first.json == second.json
    assert notifier.test_sleeps == [notifier.RETRY_BACKOFF_SECONDS]


def test_two_500s_fail_the_sns_invocation_so_lambda_retries(notifier, webhook) -> None:
    webhook.fail(502, answer="bad gateway")
    webhook.fail(503, answer="unavailable")
    with pytest.raises(notifier.WebhookError, match="HTTP 503"):
        notifier.handler(load_event("sns-codebuild-build-failed.json"), None)
    assert len(webhook.posts()) == 2


def test_4xx_is_not_retried(notifier, webhook) -> None:
    webhook.fail(400, answer="invalid_payload")
    with pytest.raises(notifier.WebhookError, match="HTTP 400 invalid_payload"):
        notifier.handler(load_event("sns-codebuild-build-failed.json"), None)
    assert len(webhook.posts()) == 1
    assert notifier.test_sleeps == []


@pytest.mark.parametrize(
    ("retry_after", "expected"), [("2", 2.0), ("120", 5.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 1.0)]
)
def test_429_honours_retry_after_up_to_the_cap(notifier, webhook, retry_after, expected) -> None:
    webhook.fail(429, retry_after=retry_after)
    notifier.handler(load_event("sns-codebuild-build-succeeded.json"), None)
    assert len(webhook.posts()) == 2
    assert notifier.test_sleeps == [expected]
    assert notifier.RETRY_AFTER_CAP_SECONDS == 5.0


def test_connection_refused_is_retried_once_then_fails(notifier, monkeypatch) -> None:
    monkeypatch.setenv("WEBHOOK_URL", dead_url())
    with pytest.raises(notifier.WebhookError, match="after 2 attempt"):
        notifier.handler(load_event("sns-codebuild-build-failed.json"), None)
    assert notifier.test_sleeps == [notifier.RETRY_BACKOFF_SECONDS]


def test_missing_configuration_is_a_clear_error(notifier) -> None:
    with pytest.raises(notifier.WebhookError, match="set WEBHOOK_URL or WEBHOOK_SECRET_ARN"):
        notifier.handler(load_event("sns-codebuild-build-failed.json"), None)


# --------------------------------------------------------------------------- Secrets Manager


@pytest.mark.parametrize("as_json", [True, False])
def test_webhook_url_from_secrets_manager_is_fetched_once(notifier, receiver, monkeypatch, as_json) -> None:
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name=REGION)
        secret = json.dumps({"url": receiver.url}) if as_json else receiver.url
        arn = sm.create_secret(Name="gitops/chat-webhook", SecretString=secret)["ARN"]
        monkeypatch.setenv("WEBHOOK_SECRET_ARN", arn)
        notifier.handler(load_event("sns-codebuild-build-succeeded.json"), None)
        # Once per container: with the secret gone, the cached URL still serves the next message.
        sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
        notifier.handler(load_event("sns-codedeploy-deployment-failure.json"), None)
    first, second = receiver.posts()
    assert first.json["text"].startswith("Build finished")
    assert second.json["text"].startswith("Deployment FAILED")


def test_secret_that_is_not_a_url_is_rejected_without_echoing_it(notifier, monkeypatch) -> None:
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name=REGION)
        arn = sm.create_secret(Name="gitops/chat-webhook", SecretString=f"ftp://{SECRET_TOKEN}")["ARN"]
        monkeypatch.setenv("WEBHOOK_SECRET_ARN", arn)
        with pytest.raises(notifier.WebhookError) as err:
            notifier.handler(load_event("sns-codebuild-build-failed.json"), None)
    assert "must start with https://" in str(err.value)
    assert SECRET_TOKEN not in str(err.value)


def test_webhook_url_never_appears_in_logs_or_errors(notifier, receiver, monkeypatch, caplog) -> None:
    caplog.set_level(logging.DEBUG)  # everything, botocore included
    errors: list[str] = []
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name=REGION)
        arn = sm.create_secret(Name="gitops/chat-webhook", SecretString=json.dumps({"url": receiver.url}))[
            "ARN"
        ]
        monkeypatch.setenv("WEBHOOK_SECRET_ARN", arn)
        receiver.fail(500, answer=f"echo {receiver.url}")
        receiver.fail(500, answer=f"path /hooks/{SECRET_TOKEN}")
        with pytest.raises(notifier.WebhookError) as err:
            notifier.handler(load_event("sns-codebuild-build-failed.json"), None)
        errors.append(str(err.value))
    assert "<webhook-url>" in errors[0]  # the receiver echoed the URL back; it was redacted
    notifier.reset_cache()
    monkeypatch.delenv("WEBHOOK_SECRET_ARN")
    monkeypatch.setenv("WEBHOOK_URL", dead_url())
    with pytest.raises(notifier.WebhookError) as err:
        notifier.handler(load_event("sns-codebuild-build-failed.json"), None)
    errors.append(str(err.value))
    assert len(caplog.records) > 0
    for text in [caplog.text, *errors]:
        assert SECRET_TOKEN not in text
        assert "xoxSeCrEt" not in text


# --------------------------------------------------------------------------- lifecycle hook


def record_hook_status(notifier: ModuleType) -> list[dict[str, Any]]:
    """Answer PutLifecycleEventHookExecutionStatus on the handler's client (moto lacks it)."""
    calls: list[dict[str, Any]] = []
    client = notifier._client("codedeploy")

    def answer(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        request = json.loads(params["body"])
        calls.append(request)
        parsed = {"lifecycleEventHookExecutionId": request["lifecycleEventHookExecutionId"]}
        return AWSResponse(params["url"], 200, {}, None), parsed

    client.meta.events.register("before-call.codedeploy.PutLifecycleEventHookExecutionStatus", answer)
    return calls


def create_deployment() -> str:
    cd = boto3.client("codedeploy", region_name=REGION)
    cd.create_application(applicationName="gitops-sample-app", computePlatform="ECS")
    cd.create_deployment_group(
        applicationName="gitops-sample-app",
        deploymentGroupName="gitops-sample-app-bluegreen",
        deploymentConfigName="CodeDeployDefault.ECSCanary10Percent5Minutes",
        serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy-ecs",
    )
    return cd.create_deployment(
        applicationName="gitops-sample-app",
        deploymentGroupName="gitops-sample-app-bluegreen",
        revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": "version: 0.0"}},
    )["deploymentId"]


def hook_event(deployment_id: str) -> dict[str, Any]:
    event = load_event("codedeploy-hook-after-allow-traffic.json")
    event["DeploymentId"] = deployment_id
    return event


def test_hook_posts_traffic_shift_and_reports_succeeded(notifier, webhook) -> None:
    with mock_aws():
        deployment_id = create_deployment()
        calls = record_hook_status(notifier)
        event = hook_event(deployment_id)
        result = notifier.handler(event, None)
    assert result == {"posted": True, "hookStatus": "Succeeded"}
    (request,) = webhook.posts()
    text = assert_webhook_shape(request.json)
    assert text.startswith("Traffic shift complete: gitops-sample-app")
    assert f"Deployment: {deployment_id}" in text
    assert "Deployment group: gitops-sample-app-bluegreen" in text
    assert calls == [
        {
            "deploymentId": deployment_id,
            "lifecycleEventHookExecutionId": event["LifecycleEventHookExecutionId"],
            "status": "Succeeded",
        }
    ]


def test_hook_still_posts_when_get_deployment_fails(notifier, webhook) -> None:
    with mock_aws():  # no such deployment in moto: GetDeployment raises DeploymentDoesNotExist
        calls = record_hook_status(notifier)
        result = notifier.handler(load_event("codedeploy-hook-after-allow-traffic.json"), None)
    assert result["hookStatus"] == "Succeeded" and result["posted"] is True
    (request,) = webhook.posts()
    assert request.json["text"].startswith("Traffic shift complete: d-7KQ2Z9X1A")
    assert [c["status"] for c in calls] == ["Succeeded"]


@pytest.mark.parametrize(
    ("fails_hook", "expected"), [(None, "Succeeded"), ("false", "Succeeded"), ("true", "Failed")]
)
def test_hook_with_webhook_down_follows_the_documented_policy(
    notifier, monkeypatch, fails_hook, expected
) -> None:
    monkeypatch.setenv("WEBHOOK_URL", dead_url())
    if fails_hook is not None:
        monkeypatch.setenv("NOTIFY_FAILURE_FAILS_HOOK", fails_hook)
    with mock_aws():
        deployment_id = create_deployment()
        calls = record_hook_status(notifier)
        result = notifier.handler(hook_event(deployment_id), None)
    assert result == {"posted": False, "hookStatus": expected}
    assert [c["status"] for c in calls] == [expected]
    assert notifier.test_sleeps == [notifier.RETRY_BACKOFF_SECONDS]  # it did retry before giving up


@pytest.mark.parametrize(("fails_hook", "expected"), [("false", "Succeeded"), ("true", "Failed")])
def test_hook_reports_status_even_when_formatting_raises(
    notifier, webhook, monkeypatch, fails_hook, expected
) -> None:
    monkeypatch.setenv("NOTIFY_FAILURE_FAILS_HOOK", fails_hook)

    def broken(*_: Any) -> dict[str, Any]:
        raise RuntimeError("formatter bug")

    monkeypatch.setattr(notifier, "format_traffic_shift", broken)
    with mock_aws():
        deployment_id = create_deployment()
        calls = record_hook_status(notifier)
        result = notifier.handler(hook_event(deployment_id), None)
    assert result == {"posted": False, "hookStatus": expected}
    assert [c["status"] for c in calls] == [expected]
    assert webhook.posts() == []


# --------------------------------------------------------------------------- AWS endpoint


def test_boto3_clients_honour_aws_endpoint_url(notifier, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:4599")
    assert notifier._client("codedeploy").meta.endpoint_url == "http://127.0.0.1:4566"
    assert notifier._client("secretsmanager").meta.endpoint_url == "http://127.0.0.1:4599"
    notifier.reset_cache()
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert notifier._client("codedeploy").meta.endpoint_url == f"https://codedeploy.{REGION}.amazonaws.com"
