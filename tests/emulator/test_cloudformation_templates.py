"""CloudFormation semantics on the embedded AWS, one small template per behaviour
(tests/emulator/cloudformation_templates/), driven through boto3: parsing as AWS reads templates,
ValidateTemplate as AWS answers it, imports resolved before anything is created."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from gitops_harness.emulator.testing import running_emulator
from gitops_harness.waiting import wait_until

TEMPLATES = Path(__file__).resolve().parent / "cloudformation_templates"
ACCOUNT = "555555555555"


@pytest.fixture(scope="module")
def aws():
    with running_emulator() as emulator:
        yield emulator


@pytest.fixture
def cfn(aws):
    return aws.client("cloudformation", account=ACCOUNT)


def body(name: str) -> str:
    return (TEMPLATES / name).read_text()


def settled(cfn, stack: str) -> dict:
    return wait_until(
        lambda: cfn.describe_stacks(StackName=stack)["Stacks"][0],
        accept=lambda d: not d["StackStatus"].endswith("_IN_PROGRESS"),
        timeout=60,
        describe_expected=f"stack {stack} to settle",
        describe_seen=lambda d: f"status {d['StackStatus'] if d else None}",
    )


def events(cfn, stack: str) -> list[tuple[str, str, str]]:
    return [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason", ""))
        for e in reversed(cfn.describe_stack_events(StackName=stack)["StackEvents"])
    ]


def validation_error(call, **kwargs) -> str:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return raised.value.response["Error"]["Message"]


# ---- parsing ----------------------------------------------------------------------------------------


def test_short_forms_and_unquoted_policy_version_deploy(aws, cfn):
    cfn.create_stack(StackName="cfnt-exporter", TemplateBody=body("export_topic.yaml"))
    exporter = settled(cfn, "cfnt-exporter")
    assert exporter["StackStatus"] == "CREATE_COMPLETE", events(cfn, "cfnt-exporter")
    topic_arn = exporter["Outputs"][0]["OutputValue"]

    cfn.create_stack(
        StackName="cfnt-short-forms",
        TemplateBody=body("short_forms.yaml"),
        Parameters=[{"ParameterKey": "ExporterStack", "ParameterValue": "cfnt-exporter"}],
        Capabilities=["CAPABILITY_IAM"],
    )
    described = settled(cfn, "cfnt-short-forms")
    assert described["StackStatus"] == "CREATE_COMPLETE", events(cfn, "cfnt-short-forms")
    out = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    assert out["RoleArnList"] == out["RoleArnDotted"]
    assert out["RoleArnList"].startswith(f"arn:aws:iam::{ACCOUNT}:role/cfnt-short-forms-Role-")
    assert out["QueueArn"].startswith(f"arn:aws:sqs:us-east-1:{ACCOUNT}:")
    assert out["Imported"] == topic_arn

    iam = aws.client("iam", account=ACCOUNT)
    role_name = out["RoleArnList"].rsplit("/", 1)[1]
    trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Version"] == "2012-10-17"
    policy = iam.get_role_policy(RoleName=role_name, PolicyName="publish")["PolicyDocument"]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    assert policy["Version"] == "2012-10-17"
    assert policy["Statement"][0]["Resource"] == topic_arn
    # GetTemplate gives the text back as it was sent
    assert cfn.get_template(StackName="cfnt-short-forms")["TemplateBody"] == body("short_forms.yaml")

    cfn.delete_stack(StackName="cfnt-short-forms")
    cfn.delete_stack(StackName="cfnt-exporter")


def test_malformed_template_is_a_format_error_never_a_500(cfn):
    message = validation_error(
        cfn.create_stack, StackName="cfnt-malformed", TemplateBody=body("malformed.yaml")
    )
    assert message.startswith("Template format error: YAML not well-formed.")
    assert "line" in message
    message = validation_error(cfn.create_stack, StackName="cfnt-malformed", TemplateBody='{"Resources": {')
    assert message.startswith("Template format error: JSON not well-formed.")
    message = validation_error(cfn.validate_template, TemplateBody=body("malformed.yaml"))
    assert message.startswith("Template format error: YAML not well-formed.")
    assert not [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == "cfnt-malformed"]


# ---- ValidateTemplate ---------------------------------------------------------------------------------


def test_validate_template_accepts_lint_warnings_and_reports_capabilities(cfn):
    answer = cfn.validate_template(TemplateBody=body("lint_warnings.yaml"))
    assert answer["Description"] == "A role with a custom name"
    assert answer["Parameters"] == [
        {
            "ParameterKey": "Unused",
            "DefaultValue": "spare",
            "NoEcho": False,
            "Description": "nobody refers to this",
        },
        {"ParameterKey": "Secret", "NoEcho": True},
    ]
    assert answer["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    assert answer["CapabilitiesReason"] == "The following resource(s) require capabilities: [AWS::IAM::Role]"
    # no IAM resource: no capabilities
    plain = cfn.validate_template(TemplateBody=body("export_topic.yaml"))
    assert plain["Capabilities"] == [] and "CapabilitiesReason" not in plain
    # an unnamed role needs CAPABILITY_IAM only
    unnamed = cfn.validate_template(TemplateBody=body("short_forms.yaml"))
    assert unnamed["Capabilities"] == ["CAPABILITY_IAM"]
    assert [p["ParameterKey"] for p in unnamed["Parameters"]] == ["ExporterStack"]


def test_validate_template_rejects_only_format_errors(cfn):
    assert (
        validation_error(cfn.validate_template, TemplateBody=body("parameter_typo.yaml"))
        == "Invalid template parameter property 'Deafault'"
    )
    assert (
        validation_error(cfn.create_stack, StackName="cfnt-typo", TemplateBody=body("parameter_typo.yaml"))
        == "Invalid template parameter property 'Deafault'"
    )
    message = validation_error(
        cfn.validate_template,
        TemplateBody='{"Resources": {"Q": {"Type": "AWS::SQS::Queue", "DependsOn": "Nope"}}}',
    )
    assert message.startswith("Template format error: Unresolved resource dependencies [Nope]")


# ---- imports ------------------------------------------------------------------------------------------


def test_missing_export_fails_the_stack_before_any_resource(aws, cfn):
    cfn.create_stack(StackName="cfnt-missing-import", TemplateBody=body("missing_import.yaml"))
    described = settled(cfn, "cfnt-missing-import")
    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = "No export named cfn-templates-no-such-export found. Rollback requested by user."
    assert described["StackStatusReason"] == reason
    seen = events(cfn, "cfnt-missing-import")
    assert [(s, r) for _, s, r in seen] == [
        ("CREATE_IN_PROGRESS", "User Initiated"),
        ("ROLLBACK_IN_PROGRESS", reason),
        ("ROLLBACK_COMPLETE", ""),
    ]
    assert aws.client("sqs", account=ACCOUNT).list_queues().get("QueueUrls", []) == []
    cfn.delete_stack(StackName="cfnt-missing-import")
