"""Cross-account access: CodeCommit lives in the management account, the pipeline in the pipeline account.

The reference pipeline reads the repository only through the cross-account role, keeps its artifacts under
the pipeline account's CMK, and receives the management account's events only under its bus policy. Each
grant is then taken away in a variant of the reference stacks (template_variants.MUTATIONS), deployed beside
it, and the pipeline must fail at the step the grant is for, with the reason named.

Variants go to fresh accounts where the target has them (disposable-accounts), else beside the reference
pipeline in the configured accounts under their own project name.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from conftest import BUILD_DEADLINE, TRIGGER_DEADLINE

from gitops_harness.config import Accounts
from gitops_harness.gitlab import MirrorError
from gitops_harness.pipeline import SOURCE_STAGE, PipelineUnderTest
from gitops_harness.stacks import deploy, teardown
from gitops_harness.template_variants import MUTATIONS, variant_config
from gitops_harness.waiting import wait_until

pytestmark = [pytest.mark.suite("pipeline"), pytest.mark.suite("cross_account")]

# Fresh account pairs for variants on targets with disposable accounts (no other suite uses them).
_ACCOUNT_PAIRS = itertools.count(1)


# ---- the reference pipeline ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source_run(pipeline):
    """One execution of the reference pipeline through its Source action."""
    sha = pipeline.push_app({"VERSION": "cross-account\n"}, "cross-account source run")
    execution_id = pipeline.wait_for_execution(sha, timeout=TRIGGER_DEADLINE)["pipelineExecutionId"]
    action = pipeline.wait_for_stage_action(
        execution_id, SOURCE_STAGE, timeout=BUILD_DEADLINE, status="Succeeded"
    )
    yield sha, action
    pipeline.stop_running_executions("cross-account suite done")


def test_the_source_action_reads_the_repository_as_the_cross_account_role(pipeline, source_run):
    sha, action = source_run
    assert action["input"]["roleArn"] == pipeline.deployment.cross_account_role_arn
    assert action["output"]["executionResult"]["externalExecutionId"] == sha
    role_account = pipeline.deployment.cross_account_role_arn.split(":")[4]
    assert role_account == pipeline.target.account_id("management")


def test_the_source_artifact_is_encrypted_with_the_pipeline_accounts_cmk(pipeline, source_run):
    _, action = source_run
    [artifact] = action["output"]["outputArtifacts"]
    location = artifact["s3location"]
    assert location["bucket"] == pipeline.deployment.artifact_bucket
    head = pipeline.target.client("s3", "pipeline").head_object(
        Bucket=location["bucket"], Key=location["key"]
    )
    assert head["ServerSideEncryption"] == "aws:kms"
    key = pipeline.target.client("kms", "pipeline").describe_key(KeyId=head["SSEKMSKeyId"])["KeyMetadata"]
    assert key["Arn"] == pipeline.deployment.artifact_key_arn
    assert key["KeyManager"] == "CUSTOMER"  # aws/s3 cannot be used across accounts


def test_the_pipeline_bus_accepts_the_management_accounts_events_by_policy(pipeline):
    import json

    bus = pipeline.target.client("events", "pipeline").describe_event_bus(Name="default")
    statements = json.loads(bus["Policy"])["Statement"]
    management_root = f"arn:aws:iam::{pipeline.target.account_id('management')}:root"
    grants = [
        s
        for s in statements
        if s["Effect"] == "Allow"
        and "events:PutEvents" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        and management_root in str(s["Principal"])
    ]
    assert grants, f"no statement of the pipeline account's default bus lets {management_root} put events"


# ---- variants, each without one grant -----------------------------------------------------------------


@contextmanager
def deployed_variant(target, harness_config, mutation_name: str, workdir) -> Iterator[PipelineUnderTest]:
    mutation = MUTATIONS[mutation_name]
    accounts = None
    if "disposable-accounts" in target.capabilities:
        n = next(_ACCOUNT_PAIRS)
        accounts = Accounts(f"3{n:011d}", f"4{n:011d}")
        target = target.with_accounts(accounts)
    config = variant_config(harness_config, f"x{list(MUTATIONS).index(mutation_name)}", accounts)
    deployment = deploy(target, config, bodies=mutation.bodies(config))
    try:
        pipeline = PipelineUnderTest.connect(target, config, deployment, workdir)
        try:
            yield pipeline
        finally:
            pipeline.stop_running_executions("variant done")
            pipeline.close()
    finally:
        teardown(target, deployment, force=True)


def _failed_source(pipeline: PipelineUnderTest) -> dict:
    # The variant's pipeline is new: its only execution is the push's (a Source action that fails records
    # no source revision to find it by).
    [execution] = wait_until(
        pipeline.executions,
        timeout=TRIGGER_DEADLINE,
        describe_expected="an execution of the variant pipeline",
    )
    execution_id = execution["pipelineExecutionId"]
    execution = pipeline.wait_until_finished(execution_id, timeout=BUILD_DEADLINE)
    assert execution["status"] == "Failed", execution
    [action] = pipeline.stage_actions(execution_id, SOURCE_STAGE)
    assert action["status"] == "Failed"
    return action


@pytest.mark.parametrize(
    ("mutation", "reason"),
    [
        ("trust-without-pipeline-role", "sts:AssumeRole"),
        ("key-policy-without-management-role", "kms:GenerateDataKey"),
        ("bucket-policy-without-management-role", "Access Denied"),
    ],
)
def test_without_the_grant_the_source_action_fails_naming_it(
    target, harness_config, tmp_path, mutation, reason
):
    with deployed_variant(target, harness_config, mutation, tmp_path) as pipeline:
        pipeline.push_app({"VERSION": mutation + "\n"}, f"variant {mutation}")
        action = _failed_source(pipeline)
        message = action["output"]["executionResult"]["externalExecutionSummary"]
        assert reason in message, f"{MUTATIONS[mutation].fails_at}: {message}"
        assert pipeline.stage_actions(action["pipelineExecutionId"], "Build") == []


def test_without_the_bus_policy_the_event_is_refused_and_nothing_starts(target, harness_config, tmp_path):
    with deployed_variant(target, harness_config, "no-event-bus-policy", tmp_path) as pipeline:
        forward_rule = pipeline.deployment.stacks["management"].output("SourceChangeForwardRuleArn")
        rule_name = forward_rule.rsplit("/", 1)[-1]
        sha = pipeline.push_app({"VERSION": "no-bus-policy\n"}, "variant no-event-bus-policy")
        cloudwatch = pipeline.target.client("cloudwatch", "management")

        def failed_invocations() -> float:
            now = datetime.now(UTC)
            points = cloudwatch.get_metric_statistics(
                Namespace="AWS/Events",
                MetricName="FailedInvocations",
                Dimensions=[{"Name": "RuleName", "Value": rule_name}],
                StartTime=now - timedelta(minutes=15),
                EndTime=now + timedelta(minutes=1),
                Period=60,
                Statistics=["Sum"],
            )["Datapoints"]
            return sum(p["Sum"] for p in points)

        # The refusal is the signal (AWS publishes it as the rule's FailedInvocations); once it is counted,
        # the event that could have started an execution is gone.
        wait_until(
            failed_invocations,
            timeout=TRIGGER_DEADLINE,
            describe_expected=f"FailedInvocations of the management account's rule {rule_name}",
        )
        assert pipeline.executions_for(sha) == []


def test_without_git_push_the_mirror_push_is_refused_and_nothing_starts(target, harness_config, tmp_path):
    with deployed_variant(target, harness_config, "mirror-user-without-git-push", tmp_path) as pipeline:
        with pytest.raises(MirrorError, match="403|denied|not authorized"):
            pipeline.push_app({"VERSION": "no-git-push\n"}, "variant mirror-user-without-git-push")
        codecommit = pipeline.target.client("codecommit", "management")
        branches = codecommit.list_branches(repositoryName=pipeline.deployment.repository_name)["branches"]
        assert branches == []  # nothing reached the repository
        assert pipeline.executions() == []
