"""stacks.py on the embedded target: deploy/teardown over StackSpecs with a small S3 + SNS template,
failure reporting from stack events, kept stacks, and the reference pipeline's specs and code upload.

Deploying the reference templates themselves waits for CloudFormation models of every resource type
they use (being written); the small template tests the mechanism."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_harness.config import Accounts, load_config
from gitops_harness.stacks import (
    HASH_TAG,
    KEEP_STACKS_ENV,
    StackError,
    StackSpec,
    deploy_stacks,
    pipeline_specs,
    teardown,
    upload_chat_notifier,
    zip_directory,
)
from gitops_harness.targets.embedded import EmbeddedTarget

ACCOUNTS = Accounts(management="888899990000", pipeline="888899990001")
REPO = Path(__file__).resolve().parents[1]

SMALL = {
    "Parameters": {"Label": {"Type": "String"}},
    "Resources": {
        "Artifacts": {
            "Type": "AWS::S3::Bucket",
            "Properties": {"VersioningConfiguration": {"Status": "Enabled"}},
        },
        "Notifications": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": {"Ref": "Label"}}},
    },
    "Outputs": {
        "BucketName": {"Value": {"Ref": "Artifacts"}},
        "TopicArn": {"Value": {"Ref": "Notifications"}},
        "Label": {"Value": {"Ref": "Label"}},
    },
}
BROKEN = {
    "Resources": {
        "Fine": {"Type": "AWS::SNS::Topic"},
        "Notifier": {
            "Type": "AWS::Lambda::Function",
            "DependsOn": "Fine",
            "Properties": {
                "Runtime": "python3.12",
                "Handler": "handler.handler",
                "Role": f"arn:aws:iam::{ACCOUNTS.pipeline}:role/none",
                "Code": {"S3Bucket": "no-such-code-bucket-888899990001", "S3Key": "x.zip"},
            },
        },
    }
}


@pytest.fixture(scope="module")
def target() -> Iterator[EmbeddedTarget]:
    with EmbeddedTarget(ACCOUNTS) as started:
        yield started  # type: ignore[misc]


@pytest.fixture(autouse=True)
def not_keeping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEEP_STACKS_ENV, raising=False)


def spec(key: str, name: str, account: str, body: dict[str, object], **parameters: str) -> StackSpec:
    return StackSpec(key, name, account, json.dumps(body), parameters, capabilities=())


def stack_names(target: EmbeddedTarget, account: str) -> list[str]:
    cfn = target.client("cloudformation", account)
    return [s["StackName"] for s in cfn.describe_stacks()["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE"]


def test_deploy_reads_outputs_per_account_and_teardown_empties_versioned_buckets(
    target: EmbeddedTarget,
) -> None:
    specs = [
        spec("management", "small-mgmt", "management", SMALL, Label="m"),
        spec("pipeline", "small-pipe", "pipeline", SMALL, Label="p"),
    ]
    deployed = deploy_stacks(target, specs, timeout=60)
    assert [d.spec.key for d in deployed] == ["management", "pipeline"]
    management, pipeline = deployed
    assert management.outputs["Label"] == "m" and pipeline.outputs["Label"] == "p"
    assert f":{ACCOUNTS.management}:" in management.outputs["TopicArn"]
    assert f":{ACCOUNTS.pipeline}:" in pipeline.output("TopicArn")
    with pytest.raises(StackError, match="has no output 'Nope'"):
        pipeline.output("Nope")

    s3 = target.client("s3", "pipeline")
    bucket = pipeline.outputs["BucketName"]
    s3.put_object(Bucket=bucket, Key="a", Body=b"1")
    s3.put_object(Bucket=bucket, Key="a", Body=b"2")
    s3.delete_object(Bucket=bucket, Key="a")  # leaves two versions and a delete marker
    teardown(target, specs, timeout=60)
    assert "small-mgmt" not in stack_names(target, "management")
    assert "small-pipe" not in stack_names(target, "pipeline")
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_failed_resource_is_reported_with_its_reason_and_teardown_still_cleans_up(
    target: EmbeddedTarget,
) -> None:
    specs = [
        spec("good", "first-ok", "pipeline", SMALL, Label="x"),
        spec("bad", "second-broken", "pipeline", BROKEN),
    ]
    with pytest.raises(StackError) as info:
        deploy_stacks(target, specs, timeout=60)
    message = str(info.value)
    assert message.startswith(
        f"stack second-broken (account {ACCOUNTS.pipeline}, target embedded) ended ROLLBACK_"
    )
    assert "Notifier (AWS::Lambda::Function) CREATE_FAILED:" in message
    assert "NoSuchBucket" in message
    assert "Fine" not in message  # only failed resources are named
    teardown(target, specs, timeout=60)
    assert not {"first-ok", "second-broken"} & set(stack_names(target, "pipeline"))


def test_a_template_cloudformation_refuses_is_reported(target: EmbeddedTarget) -> None:
    bad_ref = {
        "Resources": {"T": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": {"Ref": "Missing"}}}}
    }
    with pytest.raises(StackError, match=r"CreateStack refused: ValidationError: .*Missing"):
        deploy_stacks(target, [spec("x", "refused", "pipeline", bad_ref)], timeout=60)


def test_kept_stacks_are_reused_while_their_hash_matches(
    target: EmbeddedTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEEP_STACKS_ENV, "1")
    first_spec = spec("k", "kept", "pipeline", SMALL, Label="one")
    (first,) = deploy_stacks(target, [first_spec], timeout=60)
    (again,) = deploy_stacks(target, [first_spec], timeout=60)
    assert (again.reused, again.stack_id, again.outputs) == (True, first.stack_id, first.outputs)
    tags = target.client("cloudformation", "pipeline").describe_stacks(StackName="kept")["Stacks"][0]["Tags"]
    assert {"Key": HASH_TAG, "Value": first_spec.fingerprint()} in tags

    changed_spec = spec("k", "kept", "pipeline", SMALL, Label="two")
    (changed,) = deploy_stacks(target, [changed_spec], timeout=60)
    assert not changed.reused and changed.stack_id != first.stack_id and changed.outputs["Label"] == "two"

    teardown(target, [changed_spec], timeout=60)  # kept: nothing deleted
    assert "kept" in stack_names(target, "pipeline")
    teardown(target, [changed_spec], timeout=60, force=True)
    assert "kept" not in stack_names(target, "pipeline")


def test_without_keeping_an_existing_stack_is_recreated(target: EmbeddedTarget) -> None:
    s = spec("r", "recreated", "pipeline", SMALL, Label="same")
    (first,) = deploy_stacks(target, [s], timeout=60)
    (second,) = deploy_stacks(target, [s], timeout=60)
    assert not second.reused and second.stack_id != first.stack_id
    teardown(target, [s], timeout=60)


def test_reference_pipeline_specs_and_chat_notifier_upload(target: EmbeddedTarget, tmp_path: Path) -> None:
    config_file = tmp_path / "harness.yaml"
    config_file.write_text(
        f"""project: harness-stacks
accounts: {{management: "{ACCOUNTS.management}", pipeline: "{ACCOUNTS.pipeline}"}}
pipeline:
  templates: {{management: {REPO}/fixtures/pipeline/management-account.yaml, pipeline: {REPO}/fixtures/pipeline/pipeline-account.yaml}}
  parameters:
    pipeline: {{DeploymentConfigName: CodeDeployDefault.ECSAllAtOnce, ProjectName: ignored}}
app: {{chat_notifier_dir: {REPO}/fixtures/chat-notifier}}
"""
    )
    config = load_config(config_file)
    bucket, key = upload_chat_notifier(target, config)
    assert upload_chat_notifier(target, config) == (bucket, key)  # reproducible zip: same key
    body = target.client("s3", "pipeline").get_object(Bucket=bucket, Key=key)["Body"].read()
    names = zipfile.ZipFile(io.BytesIO(body)).namelist()
    assert "handler.py" in names and not any("__pycache__" in n for n in names)
    assert body == zip_directory(config.chat_notifier_dir)

    management, pipeline = pipeline_specs(target, config, (bucket, key))
    assert (management.name, management.account) == ("harness-stacks-management", "management")
    assert management.parameters == {"ProjectName": "harness-stacks", "PipelineAccountId": ACCOUNTS.pipeline}
    assert pipeline.parameters == {
        "DeploymentConfigName": "CodeDeployDefault.ECSAllAtOnce",
        "ProjectName": "harness-stacks",  # the harness's names win over the config's
        "ManagementAccountId": ACCOUNTS.management,
        "ChatNotifierCodeBucket": bucket,
        "ChatNotifierCodeKey": key,
        "ChatWebhookUrl": target.chat.url,  # the embedded target's chat receiver (stack_parameters)
    }
    assert pipeline.capabilities == ("CAPABILITY_NAMED_IAM",)
    assert "AWS::CodePipeline::Pipeline" in pipeline.body()


def test_a_template_over_the_template_body_limit_goes_through_s3(target: EmbeddedTarget) -> None:
    """CreateStack's TemplateBody takes 51,200 bytes; a larger template is uploaded to the spec's bucket
    and created from its TemplateURL (a comment pads SMALL past the limit)."""
    body = json.dumps(SMALL, indent=1) + "\n" + "#" * 52_000 + "\n"  # JSON is YAML; a comment line pads it
    s3 = target.client("s3", "pipeline")
    bucket = f"templates-{ACCOUNTS.pipeline}"
    s3.create_bucket(Bucket=bucket)
    large = StackSpec("big", "large-template", "pipeline", body, {"Label": "big"}, template_bucket=bucket)
    [deployed] = deploy_stacks(target, [large], timeout=60)
    assert deployed.outputs["Label"] == "big"
    [uploaded] = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert uploaded["Key"].startswith("templates/large-template-") and uploaded["Size"] > 51_200
    teardown(target, [large], timeout=60)
    without = StackSpec("big", "large-no-bucket", "pipeline", body, {"Label": "big"})
    with pytest.raises(StackError, match="over CloudFormation's 51200-byte TemplateBody limit"):
        deploy_stacks(target, [without], timeout=60)
