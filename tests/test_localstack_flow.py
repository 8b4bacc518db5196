"""The mirror leg on LocalStack community 4.14.0 with the plugin (host mode, the Makefile's .venv-localstack):
a git push over HTTPS, authenticated with the service-specific credentials LocalStack's own IAM issues,
becomes CodeCommit's "Repository State Change" event on LocalStack's EventBridge; the management account's
rule forwards it to the pipeline account's bus, whose rule's CodePipeline target (the plugin's sender,
localstack/src/gitops_localstack/eventbridge.py) starts the execution for the pushed commit, which runs
source -> build -> approval pending. The stacks are the reference management stack and
fixtures/localstack/mirror-pipeline.yaml (gitops_harness.mirror_leg): the reference pipeline-account
stack does not deploy on LocalStack community. Without LocalStack's venv these tests skip with the reason."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gitops_harness.config import load_config
from gitops_harness.gitlab import MirrorCredentials, MirrorError
from gitops_harness.mirror_leg import TEMPLATE, deploy_mirror_leg
from gitops_harness.pipeline import APPROVAL_STAGE, BUILD_STAGE, PipelineUnderTest
from gitops_harness.policy.cfnlint_scan import run_cfn_lint
from gitops_harness.stacks import teardown
from gitops_harness.targets.localstack import LocalStackTarget
from gitops_harness.targets.localstack_host import TIME_SCALE_ENV, HostLocalStack, host_environment
from gitops_harness.waiting import wait_until
from localstack_started import started_localstack

ROOT = Path(__file__).resolve().parent.parent
TRIGGER_DEADLINE = 30
BUILD_DEADLINE = 120


def test_the_mirror_leg_template_passes_cfn_lint() -> None:
    outcome = run_cfn_lint([ROOT / TEMPLATE])
    assert outcome.findings == []
    assert [p.file for p in outcome.passes] == [str(ROOT / TEMPLATE)]


def test_the_time_scale_reaches_a_localstack_the_target_starts(tmp_path: Path) -> None:
    config = load_config(ROOT / "harness.yaml")
    target = LocalStackTarget.from_config(config)
    scale = config.target_settings("localstack")["time_scale"]
    assert target._host_time_scale == scale  # noqa: SLF001 - what HostLocalStack gets
    env = host_environment(4566, tmp_path, scale)
    assert float(env[TIME_SCALE_ENV]) == scale
    assert TIME_SCALE_ENV not in host_environment(4566, tmp_path)  # unset: the plugin keeps AWS's timing


# -- LocalStack 4.14.0 in host mode with the plugin ----------------------------------------------------


@pytest.fixture(scope="module")
def localstack() -> Any:
    # the planes at the harness's time scale, as `--target localstack` starts them (a build poll's 5 AWS s)
    yield from started_localstack(
        load_config(ROOT / "harness.yaml").target_settings("localstack").get("time_scale")
    )


@pytest.fixture(scope="module")
def mirror(localstack: HostLocalStack, tmp_path_factory: pytest.TempPathFactory) -> Any:
    config = load_config(ROOT / "harness.yaml")
    target = LocalStackTarget(config.accounts, config.region, endpoint=localstack.endpoint_url)
    with target:
        assert target.time_scale == localstack.time_scale  # read back from the plugin's health route
        deployment = deploy_mirror_leg(target, config, ROOT / TEMPLATE, timeout=180)
        try:
            pipeline = PipelineUnderTest.connect(
                target, config, deployment, tmp_path_factory.mktemp("mirror")
            )
            try:
                yield pipeline
            finally:
                pipeline.stop_running_executions("module over")
                pipeline.close()
        finally:
            teardown(target, deployment, timeout=180, force=True)


@pytest.fixture
def idle(mirror: PipelineUnderTest) -> Any:
    yield mirror
    mirror.stop_running_executions("test finished")


def _deliveries(host: HostLocalStack) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{host.endpoint_url}/_gitops/eventbridge/deliveries", timeout=10) as resp:  # noqa: S310
        return json.loads(resp.read())["deliveries"]  # type: ignore[no-any-return]


def test_the_plugin_says_which_rule_targets_it_delivers(localstack: HostLocalStack) -> None:
    with urllib.request.urlopen(f"{localstack.endpoint_url}/_gitops/health", timeout=10) as resp:  # noqa: S310
        health = json.loads(resp.read())
    assert "codepipeline" in health["eventbridge_targets"]


def test_a_push_starts_the_pipeline_through_localstacks_eventbridge_and_waits_at_the_approval(
    localstack: HostLocalStack, idle: PipelineUnderTest
) -> None:
    pipeline = idle
    management = pipeline.target.account_id("management")
    account = pipeline.target.account_id("pipeline")
    sha = pipeline.push_app({"VERSION": "1.0.0-localstack\n"}, "first push through LocalStack")
    execution = pipeline.wait_for_execution(sha, timeout=TRIGGER_DEADLINE)
    assert [r["revisionId"] for r in execution["sourceRevisions"]] == [sha]
    rule_arn = (
        f"arn:aws:events:{pipeline.target.region}:{account}:rule/{pipeline.config.project}-source-change"
    )
    details = pipeline.execution(execution["pipelineExecutionId"])
    assert details["trigger"] == {"triggerType": "CloudWatchEvent", "triggerDetail": rule_arn}
    # the forwarded event keeps the management account as its sender, as AWS's bus-to-bus delivery does
    [delivered] = [d for d in _deliveries(localstack) if execution["pipelineExecutionId"] in d["detail"]]
    assert delivered["outcome"] == "delivered" and delivered["account"] == management
    assert delivered["rule"] == rule_arn
    approval = pipeline.wait_for_approval(execution["pipelineExecutionId"], timeout=BUILD_DEADLINE)
    assert approval.stage == APPROVAL_STAGE and approval.token
    [build] = pipeline.stage_actions(execution["pipelineExecutionId"], BUILD_STAGE)
    assert build["status"] == "Succeeded"
    assert len(pipeline.executions_for(sha)) == 1  # one event, one execution


def test_https_git_credentials_are_those_localstacks_iam_issued(idle: PipelineUnderTest) -> None:
    pipeline = idle
    iam = pipeline.target.client("iam", "management")
    user = pipeline.deployment.mirror_user
    [listed] = iam.list_service_specific_credentials(UserName=user, ServiceName="codecommit.amazonaws.com")[
        "ServiceSpecificCredentials"
    ]
    assert listed["ServiceUserName"] == pipeline.mirror_credentials.username
    # LocalStack's IAM refuses to delete a user that still has them, as AWS does
    with pytest.raises(ClientError) as conflict:
        iam.delete_user(UserName=user)
    assert conflict.value.response["Error"]["Code"] == "DeleteConflict"
    good = pipeline.mirror_credentials
    project = pipeline.project
    before = _codecommit_head(pipeline)
    iam.update_service_specific_credential(
        UserName=user, ServiceSpecificCredentialId=listed["ServiceSpecificCredentialId"], Status="Inactive"
    )
    try:
        with pytest.raises(MirrorError, match="403|401|denied|Authentication"):
            pipeline.push_app({"VERSION": "inactive\n"}, "pushed with an inactive credential")
    finally:
        iam.update_service_specific_credential(
            UserName=user, ServiceSpecificCredentialId=listed["ServiceSpecificCredentialId"], Status="Active"
        )
    project.update_mirror_credentials(MirrorCredentials(good.username, good.password + "x"))
    try:
        with pytest.raises(MirrorError, match="403|401|denied|Authentication"):
            pipeline.push_app({"VERSION": "wrong\n"}, "pushed with a wrong password")
    finally:
        project.update_mirror_credentials(good)
    assert _codecommit_head(pipeline) == before  # neither push reached the repository


def _codecommit_head(pipeline: PipelineUnderTest) -> str | None:
    codecommit = pipeline.target.client("codecommit", "management")
    try:
        branch = codecommit.get_branch(repositoryName=pipeline.deployment.repository_name, branchName="main")
    except ClientError as error:
        if error.response["Error"]["Code"] == "BranchDoesNotExistException":
            return None
        raise
    return str(branch["branch"]["commitId"])


def _rule_to_pipeline(pipeline: PipelineUnderTest, name: str, role_arn: str) -> str:
    events = pipeline.target.client("events", "pipeline")
    account = pipeline.target.account_id("pipeline")
    rule_arn = events.put_rule(
        Name=name,
        EventPattern=json.dumps({"source": ["gitops.test"], "detail-type": [name]}),
        State="ENABLED",
    )["RuleArn"]
    target_arn = f"arn:aws:codepipeline:{pipeline.target.region}:{account}:{pipeline.name}"
    answer = events.put_targets(
        Rule=name, Targets=[{"Id": "pipeline", "Arn": target_arn, "RoleArn": role_arn}]
    )
    assert answer["FailedEntryCount"] == 0
    return rule_arn


def _put(pipeline: PipelineUnderTest, detail_type: str) -> str:
    answer = pipeline.target.client("events", "pipeline").put_events(
        Entries=[{"Source": "gitops.test", "DetailType": detail_type, "Detail": "{}"}]
    )
    assert answer["FailedEntryCount"] == 0
    return str(answer["Entries"][0]["EventId"])


def test_a_codepipeline_target_runs_as_its_role_only_if_the_role_trusts_eventbridge(
    localstack: HostLocalStack, idle: PipelineUnderTest
) -> None:
    pipeline = idle
    account = pipeline.target.account_id("pipeline")
    project = pipeline.config.project
    # the pipeline's own service role trusts codepipeline.amazonaws.com only
    refused_rule = _rule_to_pipeline(
        pipeline, "untrusted-role", f"arn:aws:iam::{account}:role/{project}-pipeline"
    )
    trusted_rule = _rule_to_pipeline(
        pipeline, "trusted-role", f"arn:aws:iam::{account}:role/{project}-start-pipeline"
    )
    before = {e["pipelineExecutionId"] for e in pipeline.executions()}

    refused_event = _put(pipeline, "untrusted-role")
    refused = wait_until(
        lambda: next((d for d in _deliveries(localstack) if d["event_id"] == refused_event), None),
        timeout=TRIGGER_DEADLINE,
        describe_expected="the plugin's record of the untrusted role's delivery",
    )
    assert refused["outcome"] == "failed" and refused["rule"] == refused_rule
    assert "trust policy does not let events.amazonaws.com assume it" in refused["detail"]

    started_event = _put(pipeline, "trusted-role")
    started = wait_until(
        lambda: next((d for d in _deliveries(localstack) if d["event_id"] == started_event), None),
        timeout=TRIGGER_DEADLINE,
        describe_expected="the plugin's record of the trusted role's delivery",
    )
    assert started["outcome"] == "delivered", started
    new = [e for e in pipeline.executions() if e["pipelineExecutionId"] not in before]
    assert len(new) == 1  # the refused event started nothing
    details = pipeline.execution(new[0]["pipelineExecutionId"])
    assert details["trigger"] == {"triggerType": "CloudWatchEvent", "triggerDetail": trusted_rule}
