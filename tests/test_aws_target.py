"""The aws target rehearsed on the embedded AWS (targets.aws.endpoint_url): credentials from profiles,
the default chain and GitLab OIDC; the allowlist refusing a wrong account before any write (proven from
the emulator's request log) in every mode; run tags; teardown on failure, SIGTERM and the deadline;
existing mode; `gitops-harness sweep`; and a run killed mid-way leaving nothing behind."""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gitops_harness.cli import main
from gitops_harness.config import Accounts, load_config
from gitops_harness.emulator.testing import RunningEmulator, running_emulator
from gitops_harness.errors import InputError
from gitops_harness.pipeline import PipelineUnderTest
from gitops_harness.pipeline_layer import pipeline_verdicts
from gitops_harness.rehearsal import (
    is_write,
    leftovers,
    rehearsal_env,
    requests,
    run_pipeline_layer,
    sdk_client,
    write_rehearsal_config,
)
from gitops_harness.report import RunReport, Verdict
from gitops_harness.run_guard import RunCancelled, RunTimedOut
from gitops_harness.run_tags import RUN_ID_TAG, RunTags
from gitops_harness.stacks import deploy, teardown
from gitops_harness.sweep import find_leftovers
from gitops_harness.targets import make_target
from gitops_harness.targets.aws import AwsTarget
from gitops_harness.waiting import wait_until
from slack_double import WEBHOOK_PATH, SlackDouble, serving

ACCOUNTS = Accounts(management="710000000001", pipeline="710000000002")
STRANGER = "799999999999"
MANIFEST = '{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}'


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with running_emulator(time_scale=0.0167) as running:
        yield running


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    yield


def _config(tmp_path: Path, emulator: RunningEmulator, accounts: Accounts = ACCOUNTS, **options) -> Path:
    path = write_rehearsal_config(tmp_path, emulator.endpoint_url, accounts, **options)
    os.environ.update({k: v for k, v in rehearsal_env(path).items() if k.startswith("AWS_")})
    return path


# -- settings: refused before any call -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"allowed_accounts": []}, "allowed_accounts is empty"),
        (
            {"allowed_accounts": [ACCOUNTS.pipeline]},
            f"does not list accounts.management ({ACCOUNTS.management})",
        ),
        ({"region": "mars-north-1"}, " must be an AWS region such as us-east-1, got 'mars-north-1'"),
        ({"allowed_regions": ["eu-west-1"]}, "not in allowed_regions"),
        ({"mode": "forever"}, "mode must be one of ephemeral, existing"),
        (
            {"credentials": {"source": "oidc", "roles": {"pipeline": f"arn:aws:iam::{STRANGER}:role/x"}}},
            f"is in account {STRANGER}, not accounts.pipeline",
        ),
        ({"mode": "existing"}, "existing must name the deployed pipeline's repository"),
        (
            {"smoke": {"deployment_config": "CodeDeployDefault.OneAtATime"}},
            "deployment_config must be one of",
        ),
    ],
)
def test_bad_settings_are_one_line_errors(tmp_path, aws_env, change, message) -> None:
    path = write_rehearsal_config(tmp_path, "http://127.0.0.1:9", ACCOUNTS, extra=change)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make_target(load_config(path), "aws")


# -- credentials ---------------------------------------------------------------------------------------


def test_profiles_act_in_each_account_and_capabilities_come_from_the_endpoint(tmp_path, emulator, aws_env):
    path = _config(tmp_path, emulator)
    with AwsTarget.from_config(load_config(path), purpose="sweep") as target:
        assert target.client("sts", "management").get_caller_identity()["Account"] == ACCOUNTS.management
        assert target.client("sts", "pipeline").get_caller_identity()["Account"] == ACCOUNTS.pipeline
        assert {"cloudformation", "codecommit-git", "pipeline-execution", "events"} <= target.capabilities
        assert "real-aws" not in target.capabilities  # a stand-in endpoint is not AWS
        assert target.git_url_rewrites()  # CodeCommit clone URLs go to the endpoint
        with pytest.raises(InputError, match="acts only in those two"):
            target.credentials(STRANGER)


def test_oidc_web_identity_then_role_chain_into_the_management_account(tmp_path, emulator, aws_env):
    roles = {
        "pipeline": f"arn:aws:iam::{ACCOUNTS.pipeline}:role/gitops-harness-nightly",
        "management": f"arn:aws:iam::{ACCOUNTS.management}:role/gitops-harness-nightly",
    }
    path = _config(tmp_path, emulator, extra={"credentials": {"source": "oidc", "roles": roles}})
    config = load_config(path)
    with pytest.raises(InputError, match="AWS_ID_TOKEN .* is empty"):
        AwsTarget.from_config(config, purpose="sweep").start()
    os.environ["AWS_ID_TOKEN"] = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJzdHMuYW1hem9uYXdzLmNvbSJ9.c2ln"
    since = time.time()
    with AwsTarget.from_config(config, purpose="sweep") as target:
        assert target.identities["pipeline"].startswith(f"arn:aws:sts::{ACCOUNTS.pipeline}:assumed-role/")
        assert target.identities["management"].startswith(f"arn:aws:sts::{ACCOUNTS.management}:assumed-role/")
        assert target.client("sts", "management").get_caller_identity()["Account"] == ACCOUNTS.management
    seen = requests(emulator.endpoint_url, since)
    # The web identity call is unsigned (account unknown); the chained AssumeRole acts as the pipeline role.
    assert [e["service"] for e in seen[:3]] == ["sts", "sts", "sts"]


def test_default_chain_plus_a_role_for_the_management_account(tmp_path, emulator, aws_env, monkeypatch):
    role = f"arn:aws:iam::{ACCOUNTS.management}:role/gitops-harness-nightly"
    path = write_rehearsal_config(
        tmp_path,
        emulator.endpoint_url,
        ACCOUNTS,
        extra={"credentials": {"source": "default", "roles": {"management": role}}},
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCOUNTS.pipeline)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with AwsTarget.from_config(load_config(path), purpose="sweep") as target:
        assert target.identities["management"].startswith(f"arn:aws:sts::{ACCOUNTS.management}:assumed-role/")
        assert f"::{ACCOUNTS.pipeline}:" in target.identities["pipeline"]  # the chain's own identity


# -- the allowlist -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["ephemeral", "existing", "sweep"])
def test_a_wrong_account_is_refused_before_the_first_write(
    tmp_path, emulator, aws_env, mode, monkeypatch
) -> None:
    # The emulator is shared by this module: earlier tests' background writes (draining tasks' logs,
    # async Lambda) can land in this test's window. This run's SDK clients carry their own app id.
    app_id = f"wrong-account-{mode}-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("AWS_SDK_UA_APP_ID", app_id)
    existing = {
        "existing": {
            "repository": "r",
            "pipeline": "p",
            "application": "a",
            "deployment_group": "g",
            "approval_topic": "t",
            "notification_topic": "n",
            "listener": "l",
        }
    }
    path = _config(
        tmp_path,
        emulator,
        profiles={"management": STRANGER, "pipeline": ACCOUNTS.pipeline},
        mode="existing" if mode == "existing" else "ephemeral",
        extra=existing if mode == "existing" else None,
    )
    since = time.time()
    if mode == "sweep":
        assert main(["sweep", "--config", str(path), "--yes"]) == 2
    else:
        with pytest.raises(InputError, match=f"account {STRANGER} .* not in targets.aws.allowed_accounts"):
            make_target(load_config(path), "aws").start()
    seen = requests(emulator.endpoint_url, since, app_id=app_id)
    assert seen, "GetCallerIdentity must have been called"
    assert {e["service"] for e in seen} == {"sts"}
    assert not [e for e in seen if is_write(e)]
    # and no write by anything but an SDK client (git, plain HTTP) in the window either
    others = requests(emulator.endpoint_url, since)
    assert not [e for e in others if is_write(e) and not sdk_client(e)]


def test_credentials_of_another_allowed_account_are_refused_too(tmp_path, emulator, aws_env) -> None:
    path = _config(
        tmp_path,
        emulator,
        profiles={"management": ACCOUNTS.pipeline, "pipeline": ACCOUNTS.pipeline},
    )
    with pytest.raises(InputError, match=f"accounts.management act in account {ACCOUNTS.pipeline}"):
        make_target(load_config(path), "aws").start()


# -- tagging and teardown ------------------------------------------------------------------------------


def _make_resources(target: AwsTarget) -> None:
    tags = target.resource_tags()
    target.client("sqs", "pipeline").create_queue(QueueName=f"probe-{target.run_id}", tags=tags)
    target.client("sns", "management").create_topic(
        Name=f"probe-{target.run_id}", Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
    )
    s3 = target.client("s3", "pipeline")
    s3.create_bucket(Bucket=f"probe-{target.run_id}")
    s3.put_bucket_versioning(Bucket=f"probe-{target.run_id}", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=f"probe-{target.run_id}", Key="a", Body=b"1")
    s3.put_object(Bucket=f"probe-{target.run_id}", Key="a", Body=b"2")
    s3.put_bucket_tagging(
        Bucket=f"probe-{target.run_id}", Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}
    )
    ecr = target.client("ecr", "pipeline")
    ecr.create_repository(
        repositoryName=f"probe-{target.run_id}", tags=[{"Key": k, "Value": v} for k, v in tags.items()]
    )
    ecr.put_image(repositoryName=f"probe-{target.run_id}", imageManifest=MANIFEST, imageTag="t")
    # AWS creates build log groups at run time, untagged: found by name
    target.client("logs", "pipeline").create_log_group(
        logGroupName=f"/aws/codebuild/{target.project}-{target.run_id}-build"
    )
    # and SNS creates its delivery status group when a topic's feedback role may (not stack-made)
    target.client("logs", "pipeline").create_log_group(
        logGroupName=f"sns/{target.region}/{target.account_id('pipeline')}/{target.project}-{target.run_id}"
        "-notifications/Failure"
    )


def test_teardown_on_failure_leaves_nothing_tagged(tmp_path, emulator, aws_env) -> None:
    path = _config(tmp_path, emulator, Accounts("710000000011", "710000000012"))
    target = AwsTarget.from_config(load_config(path))
    with pytest.raises(RuntimeError, match="a step failed"), target:
        _make_resources(target)
        assert len(find_leftovers(target, run_id=target.run_id, project=target.project)) == 6
        raise RuntimeError("a step failed")
    assert target.cleanup_failures == []
    assert leftovers(path) == []


def test_sigterm_and_the_deadline_unwind_through_teardown(tmp_path, emulator, aws_env) -> None:
    path = _config(tmp_path, emulator, Accounts("710000000021", "710000000022"))
    target = AwsTarget.from_config(load_config(path))
    with pytest.raises(RunCancelled, match="SIGTERM"), target:
        _make_resources(target)
        os.kill(os.getpid(), signal.SIGTERM)
        wait_until(lambda: False, timeout=10, describe_expected="the signal to interrupt")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or callable(signal.getsignal(signal.SIGTERM))
    assert leftovers(path) == []

    path = _config(
        tmp_path / "deadline",
        emulator,
        Accounts("710000000021", "710000000022"),
        extra={"smoke": {"run_timeout_minutes": 0.02}},
    )
    target = AwsTarget.from_config(load_config(path))
    with pytest.raises(RunTimedOut), target:
        _make_resources(target)
        wait_until(lambda: False, timeout=30, describe_expected="the deadline to interrupt")
    assert leftovers(path) == []


def test_stacks_carry_the_run_tags_and_ephemeral_names_carry_the_run_id(tmp_path, emulator, aws_env) -> None:
    path = _config(tmp_path, emulator, Accounts("710000000031", "710000000032"))
    with AwsTarget.from_config(load_config(path)) as target:
        config = target.run_config(load_config(path))
        assert config.project == f"gitops-sample-{target.run_id}"
        assert (
            config.templates.parameters["pipeline"]["DeploymentConfigName"]
            == "CodeDeployDefault.ECSAllAtOnce"
        )
        deployment = deploy(target, config, timeout=120)
        stack = target.client("cloudformation", "pipeline").describe_stacks(
            StackName=deployment.stacks["pipeline"].stack_id
        )["Stacks"][0]
        tags = {t["Key"]: t["Value"] for t in stack["Tags"]}
        assert tags[RUN_ID_TAG] == target.run_id
        assert set(RunTags.new().as_dict()) <= set(tags)
        assert target.run_id in deployment.pipeline_name

        # existing mode finds the same pipeline by its names, and never tears it down
        existing_path = _config(
            tmp_path / "existing",
            emulator,
            Accounts("710000000031", "710000000032"),
            mode="existing",
            extra={
                "existing": {
                    "repository": deployment.repository_name,
                    "pipeline": deployment.pipeline_name,
                    "application": deployment.codedeploy_application,
                    "deployment_group": deployment.deployment_group,
                    "approval_topic": deployment.approval_topic_arn,
                    "notification_topic": deployment.notification_topic_arn.rsplit(":", 1)[1],
                    "listener": deployment.production_listener_arn,
                    "mirror_user": deployment.mirror_user,
                }
            },
        )
        with AwsTarget.from_config(load_config(existing_path)) as existing:
            found = deploy(existing, load_config(existing_path))
            assert not found.owned
            for name in (
                "pipeline_name",
                "clone_url",
                "artifact_bucket",
                "build_project",
                "notification_topic_arn",
                "ecr_repository_uri",
                "cluster_name",
                "test_listener_arn",
                "mirror_user",
            ):
                assert getattr(found, name) == getattr(deployment, name), name
            teardown(existing, found)  # a no-op for a pipeline the team owns
            assert existing.client("codepipeline", "pipeline").get_pipeline(name=deployment.pipeline_name)

        # the team's main holds the app; the smoke run commits only a marker file on top of it
        team = PipelineUnderTest.connect(target, config, deployment, tmp_path / "team")
        try:
            team_commit = team.push_app(message="the team's app")
            team.wait_for_execution(team_commit, timeout=60)
            team.stop_running_executions("the team's pipeline is idle when the nightly starts")
        finally:
            team.close()
        progress: list[str] = []
        verdicts, _ = pipeline_verdicts(load_config(existing_path), "aws", progress.append)
        checked = [v for v in verdicts if not v.skipped]
        assert [f"{v.assertion}: {v.detail}" for v in checked if not v.passed] == []
        assert {v.area for v in checked} >= {"mirror", "approval", "artifacts"}
        assert [v.assertion for v in verdicts if v.area == "stacks"] == [
            "the team's deployed pipeline is found by the names in harness.yaml"  # nothing deployed
        ]
        codecommit = target.client("codecommit", "management")
        head = codecommit.get_branch(repositoryName=deployment.repository_name, branchName="main")["branch"]
        smoke = codecommit.get_commit(repositoryName=deployment.repository_name, commitId=head["commitId"])[
            "commit"
        ]
        assert smoke["parents"] == [team_commit]

        def top_level(commit: str) -> dict[str, str]:
            folder = codecommit.get_folder(
                repositoryName=deployment.repository_name, commitSpecifier=commit, folderPath="/"
            )
            entries = folder.get("files", []) + folder.get("subFolders", [])
            return {e["relativePath"]: e.get("blobId") or e.get("treeId") for e in entries}

        before, after = top_level(team_commit), top_level(head["commitId"])
        assert set(after) - set(before) == {".gitops-harness"}
        assert {k: v for k, v in after.items() if k != ".gitops-harness"} == before  # nothing else changed
        assert target.client("cloudformation", "pipeline").describe_stacks(
            StackName=deployment.stacks["pipeline"].stack_id
        )
    assert leftovers(path) == []


# -- notification delivery -----------------------------------------------------------------------------


@pytest.mark.slow
def test_notify_on_aws_is_proven_by_the_notifier_log_sns_delivery_status_and_slack(
    tmp_path, emulator, aws_env, monkeypatch
) -> None:
    """The aws path of the notify verdict end to end: the notifier the run deploys posts to a Slack
    webhook (the double), SNS's delivery status records tie each post to its SNS message, and the
    messages are read back with conversations.history. Neither the token nor the webhook shows."""
    double = SlackDouble()
    accounts = Accounts("710000000051", "710000000052")
    with serving(double) as slack_url:
        monkeypatch.setenv("REHEARSAL_WEBHOOK", f"{slack_url}{WEBHOOK_PATH}")
        monkeypatch.setenv("REHEARSAL_SLACK_TOKEN", double.token)
        chat = {
            "webhook_url_env": "REHEARSAL_WEBHOOK",
            "slack": {
                "bot_token_env": "REHEARSAL_SLACK_TOKEN",
                "channel": double.webhook_channel,
                "api_url": f"{slack_url}/api/",
            },
        }
        path = write_rehearsal_config(tmp_path, emulator.endpoint_url, accounts, chat=chat)
        outcome = run_pipeline_layer(path, endpoint_url=emulator.endpoint_url)
    assert outcome.returncode == 0, outcome.stderr_tail
    [notify] = [v for v in outcome.verdicts if v["area"] == "notify"]
    assert notify["passed"] and not notify["skipped"], notify["detail"]
    detail = notify["detail"]
    assert f"SNS delivery status (sns/us-east-1/{accounts.pipeline}/gitops-sample-r" in detail
    assert re.search(r"build finished SUCCESS 202 \(Lambda request [0-9a-f-]{36}\)", detail), detail
    assert re.search(r"approval needed SUCCESS 202 \(Lambda request [0-9a-f-]{36}\)", detail), detail
    assert f"Slack channel {double.webhook_channel} has them" in detail
    posted = double.channels[double.webhook_channel]
    assert any("Build finished" in m["text"] for m in posted) and any(
        "Approval needed" in m["text"] for m in posted
    )
    assert double.requests and all(r["params"]["channel"] == double.webhook_channel for r in double.requests)
    report = RunReport("rehearsal", [Verdict(**v) for v in outcome.verdicts]).render()
    for secret in (double.token, "double-webhook-secret"):
        assert secret not in outcome.output and secret not in report
    assert leftovers(path) == []


def test_without_a_chat_webhook_notify_on_aws_is_skipped_with_the_reason(tmp_path, emulator, aws_env) -> None:
    path = _config(tmp_path, emulator, Accounts("710000000061", "710000000062"))
    target = AwsTarget.from_config(load_config(path), chat_webhook_url=None)
    with target:
        assert target.stack_parameters() == {}
        assert "set the environment variable CHAT_WEBHOOK_URL (chat.webhook_url_env)" in (
            target.notify_unavailable() or ""
        )
        assert "lambda-invoke" in target.capabilities
    with_hook = AwsTarget.from_config(load_config(path), chat_webhook_url="https://hooks.example/x")
    assert with_hook.stack_parameters() == {"pipeline": {"ChatWebhookUrl": "https://hooks.example/x"}}
    assert with_hook.notify_unavailable() is None


# -- sweep ---------------------------------------------------------------------------------------------


def test_sweep_dry_run_lists_expired_and_yes_deletes_them(tmp_path, emulator, aws_env, capsys) -> None:
    path = _config(tmp_path, emulator, Accounts("710000000041", "710000000042"))
    with AwsTarget.from_config(load_config(path), purpose="sweep") as target:
        sqs = target.client("sqs", "pipeline")
        old = RunTags(
            "rold0001", datetime.now(UTC) - timedelta(hours=9), datetime.now(UTC) - timedelta(hours=3)
        )
        fresh = RunTags.new("rnew0001")
        sqs.create_queue(QueueName="left-by-old-run", tags=old.as_dict())
        sqs.create_queue(QueueName="running-now", tags=fresh.as_dict())
    assert main(["sweep", "--config", str(path)]) == 1
    out = capsys.readouterr().out
    assert "left-by-old-run" in out and "run rold0001" in out and "expired 3h" in out
    assert "running-now" not in out and "dry run: nothing deleted" in out
    assert {i.name for i in leftovers(path)} == {"left-by-old-run", "running-now"}

    assert main(["sweep", "--config", str(path), "--older-than", "10h"]) == 0  # nothing that old
    assert main(["sweep", "--config", str(path), "--yes"]) == 0
    assert {i.name for i in leftovers(path)} == {"running-now"}
    assert main(["sweep", "--config", str(path), "--run-id", "rnew0001", "--yes"]) == 0
    assert leftovers(path) == []


# -- a run killed mid-way ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [4, 30])
def test_a_run_killed_mid_way_leaves_nothing(tmp_path, emulator, aws_env, kill_after) -> None:
    accounts = Accounts(f"7200000000{kill_after:02d}", f"7300000000{kill_after:02d}")
    path = write_rehearsal_config(tmp_path, emulator.endpoint_url, accounts)
    outcome = run_pipeline_layer(path, endpoint_url=emulator.endpoint_url, kill_after_writes=kill_after)
    assert outcome.killed_at_write is not None, outcome.stderr_tail
    assert outcome.returncode != 0 and "RunCancelled: cancelled by SIGTERM" in outcome.stderr_tail
    assert leftovers(path) == []
