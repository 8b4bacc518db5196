"""CloudFormation on the embedded AWS: stacks through moto's engine with our resource models, events,
failures that roll back, template validation, outputs/exports, and deletes that remove what was made."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import pytest
import yaml
from botocore.exceptions import ClientError

from gitops_harness.emulator.testing import running_emulator
from gitops_harness.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "fixtures" / "pipeline"
MANAGEMENT, PIPELINE_ACCOUNT = "111111111111", "222222222222"
DEADLINE = 120.0  # seconds for a stack to settle
# Code services whose moto backends cannot create the reference pipeline's resources: CodeBuild
# rejects a CODEPIPELINE source without a location, CodeStar Notifications is not in moto at all.
ACCEPTANCE_PROJECT = "cfn-acceptance"
MGMT_ONLY_PROJECT = "cfn-management-only"


@pytest.fixture(scope="module")
def aws():
    with running_emulator() as emulator:
        yield emulator


def settled(cfn, stack: str, *, deadline: float = DEADLINE) -> dict:
    """The stack once it leaves *_IN_PROGRESS, polled with a deadline."""
    return wait_until(
        lambda: cfn.describe_stacks(StackName=stack)["Stacks"][0],
        accept=lambda d: not d["StackStatus"].endswith("_IN_PROGRESS"),
        timeout=deadline,
        describe_expected=f"stack {stack} to settle",
        describe_seen=lambda d: f"status {d['StackStatus'] if d else None}",
    )


def outputs(described: dict) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs") or []}


def failures(cfn, stack: str) -> list[tuple[str, str, str]]:
    return [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason", ""))
        for e in cfn.describe_stack_events(StackName=stack)["StackEvents"]
        if e["ResourceStatus"].endswith("_FAILED")
    ]


def template(resources: dict, **sections) -> str:
    return json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources, **sections})


# ---- the reference stacks ----------------------------------------------------------------------------


def deploy_management(aws, stack: str = "gitops-management", project: str = "gitops-sample") -> dict:
    cfn = aws.client("cloudformation", account=MANAGEMENT)
    cfn.create_stack(
        StackName=stack,
        TemplateBody=(PIPELINE / "management-account.yaml").read_text(),
        Parameters=[
            {"ParameterKey": "PipelineAccountId", "ParameterValue": PIPELINE_ACCOUNT},
            {"ParameterKey": "ProjectName", "ParameterValue": project},
            {"ParameterKey": "RepositoryName", "ParameterValue": project},
        ],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    cfn.get_waiter("stack_create_complete").wait(
        StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": int(DEADLINE)}
    )
    return settled(cfn, stack)


def upload_chat_notifier(aws, bucket: str) -> None:
    s3 = aws.client("s3", account=PIPELINE_ACCOUNT)
    s3.create_bucket(Bucket=bucket)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted((ROOT / "fixtures" / "chat-notifier").rglob("*")):
            if path.is_file():
                zipped.write(path, path.relative_to(ROOT / "fixtures" / "chat-notifier").as_posix())
    s3.put_object(Bucket=bucket, Key="chat-notifier.zip", Body=archive.getvalue())


def pipeline_template_url(aws, account: str, bucket: str) -> str:
    """The pipeline template from S3, as on AWS: it is over CreateStack's 51,200-byte TemplateBody limit."""
    s3 = aws.client("s3", account=account)
    if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=bucket)
    s3.put_object(
        Bucket=bucket, Key="pipeline-account.yaml", Body=(PIPELINE / "pipeline-account.yaml").read_bytes()
    )
    return f"https://s3.amazonaws.com/{bucket}/pipeline-account.yaml"


def test_management_stack_deploys_and_its_outputs_exist(aws):
    started = time.monotonic()
    described = deploy_management(aws, "mgmt-only", project=MGMT_ONLY_PROJECT)
    elapsed = time.monotonic() - started
    assert described["StackStatus"] == "CREATE_COMPLETE", failures(
        aws.client("cloudformation", account=MANAGEMENT), "mgmt-only"
    )
    out = outputs(described)
    codecommit = aws.client("codecommit", account=MANAGEMENT)
    repo = codecommit.get_repository(repositoryName=out["RepositoryName"])["repositoryMetadata"]
    assert (
        repo["Arn"]
        == out["RepositoryArn"]
        == f"arn:aws:codecommit:us-east-1:{MANAGEMENT}:{MGMT_ONLY_PROJECT}"
    )
    assert out["CloneUrlHttp"] == repo["cloneUrlHttp"]
    iam = aws.client("iam", account=MANAGEMENT)
    role = iam.get_role(RoleName=f"{MGMT_ONLY_PROJECT}-codecommit-source")["Role"]
    assert role["Arn"] == out["CrossAccountSourceRoleArn"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"]["AWS"] == f"arn:aws:iam::{PIPELINE_ACCOUNT}:root"
    # the group (our model: moto's CloudFormation has no AWS::IAM::Group) holds the mirror's grant
    group = iam.get_group(GroupName=f"{MGMT_ONLY_PROJECT}-gitlab-mirror")
    assert [u["UserName"] for u in group["Users"]] == [out["MirrorUserName"]]
    policy = iam.get_group_policy(
        GroupName=f"{MGMT_ONLY_PROJECT}-gitlab-mirror", PolicyName="git-pull-push-one-repository"
    )
    document = policy["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    assert document["Statement"][0]["Resource"] == repo["Arn"]
    rule = aws.client("events", account=MANAGEMENT).describe_rule(
        Name=f"{MGMT_ONLY_PROJECT}-forward-source-changes"
    )
    assert rule["Arn"] == out["SourceChangeForwardRuleArn"]
    assert json.loads(rule["EventPattern"])["resources"] == [repo["Arn"]]
    print(f"management stack: CREATE_COMPLETE in {elapsed:.2f}s")

    aws.client("cloudformation", account=MANAGEMENT).delete_stack(StackName="mgmt-only")
    with pytest.raises(ClientError, match="RepositoryDoesNotExist"):
        codecommit.get_repository(repositoryName=MGMT_ONLY_PROJECT)
    with pytest.raises(ClientError, match="NoSuchEntity"):
        iam.get_group(GroupName=f"{MGMT_ONLY_PROJECT}-gitlab-mirror")


def test_both_reference_stacks_deploy_into_their_accounts(aws):
    # A project name of its own: moto's state is shared by every emulator in the process, and the
    # harness's own runs deploy the default project into the same accounts.
    timings = {}
    started = time.monotonic()
    management = deploy_management(aws, project=ACCEPTANCE_PROJECT)
    timings["management"] = time.monotonic() - started
    assert management["StackStatus"] == "CREATE_COMPLETE"

    upload_chat_notifier(aws, "gitops-chat-notifier-code")
    cfn = aws.client("cloudformation", account=PIPELINE_ACCOUNT)
    started = time.monotonic()
    cfn.create_stack(
        StackName="gitops-pipeline",
        TemplateURL=pipeline_template_url(aws, PIPELINE_ACCOUNT, "gitops-chat-notifier-code"),
        Parameters=[
            {"ParameterKey": "ManagementAccountId", "ParameterValue": MANAGEMENT},
            {"ParameterKey": "ProjectName", "ParameterValue": ACCEPTANCE_PROJECT},
            {"ParameterKey": "RepositoryName", "ParameterValue": ACCEPTANCE_PROJECT},
            {"ParameterKey": "ChatNotifierCodeBucket", "ParameterValue": "gitops-chat-notifier-code"},
            {"ParameterKey": "ChatWebhookUrl", "ParameterValue": "http://127.0.0.1:9/hook"},
        ],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    described = settled(cfn, "gitops-pipeline")
    timings["pipeline"] = time.monotonic() - started
    assert described["StackStatus"] == "CREATE_COMPLETE", failures(cfn, "gitops-pipeline")
    print("deploy times: " + ", ".join(f"{k} {v:.2f}s" for k, v in timings.items()))
    out = outputs(described)

    pipeline = aws.client("codepipeline", account=PIPELINE_ACCOUNT).get_pipeline(name=out["PipelineName"])[
        "pipeline"
    ]
    source = pipeline["stages"][0]["actions"][0]
    assert source["roleArn"] == outputs(management)["CrossAccountSourceRoleArn"]
    assert source["configuration"]["PollForSourceChanges"] == "false"
    assert pipeline["roleArn"] == out["PipelineRoleArn"]
    assert pipeline["artifactStore"]["encryptionKey"]["id"] == out["ArtifactKeyArn"]
    projects = aws.client("codebuild", account=PIPELINE_ACCOUNT).batch_get_projects(
        names=[out["BuildProjectName"]]
    )
    assert projects["projects"][0]["environment"]["privilegedMode"] is True
    codedeploy = aws.client("codedeploy", account=PIPELINE_ACCOUNT)
    group = codedeploy.get_deployment_group(
        applicationName=out["CodeDeployApplicationName"],
        deploymentGroupName=out["CodeDeployDeploymentGroupName"],
    )["deploymentGroupInfo"]
    assert group["deploymentStyle"]["deploymentType"] == "BLUE_GREEN"
    assert {tg["name"] for tg in group["loadBalancerInfo"]["targetGroupPairInfoList"][0]["targetGroups"]} == {
        out["BlueTargetGroupName"],
        out["GreenTargetGroupName"],
    }
    ecs = aws.client("ecs", account=PIPELINE_ACCOUNT)
    service = ecs.describe_services(cluster=out["ClusterName"], services=[out["ServiceName"]])["services"][0]
    assert service["deploymentController"]["type"] == "CODE_DEPLOY"
    encryption = aws.client("s3", account=PIPELINE_ACCOUNT).get_bucket_encryption(
        Bucket=out["ArtifactBucketName"]
    )
    rule = encryption["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    assert (rule["SSEAlgorithm"], rule["KMSMasterKeyID"]) == ("aws:kms", out["ArtifactKeyArn"])
    versioning = aws.client("s3", account=PIPELINE_ACCOUNT).get_bucket_versioning(
        Bucket=out["ArtifactBucketName"]
    )
    assert versioning.get("Status") == "Enabled"
    key_policy = aws.client("kms", account=PIPELINE_ACCOUNT).get_key_policy(
        KeyId=out["ArtifactKeyArn"], PolicyName="default"
    )
    assert "ManagementAccountSourceRole" in {s["Sid"] for s in json.loads(key_policy["Policy"])["Statement"]}
    events = aws.client("events", account=PIPELINE_ACCOUNT)
    source_rule = events.describe_rule(Name=out["SourceChangeRuleName"])
    assert json.loads(source_rule["EventPattern"])["account"] == [MANAGEMENT]
    targets = events.list_targets_by_rule(Rule=out["SourceChangeRuleName"])["Targets"]
    assert targets[0]["Arn"].endswith(f":{PIPELINE_ACCOUNT}:{out['PipelineName']}")
    bus_policy = json.loads(events.describe_event_bus(Name="default")["Policy"])
    assert any(s["Principal"] == {"AWS": f"arn:aws:iam::{MANAGEMENT}:root"} for s in bus_policy["Statement"])
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
    assert parameters["ChatWebhookUrl"] == "****"  # NoEcho


# ---- failures, validation, outputs ----------------------------------------------------------------------

A = "333333333333"


def test_unsupported_type_fails_the_stack_and_rolls_back(aws):
    cfn = aws.client("cloudformation", account=A)
    body = template(
        {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "cfn-rollback-queue"}},
            "Chat": {
                "Type": "AWS::Chatbot::SlackChannelConfiguration",
                "DependsOn": "Queue",
                "Properties": {
                    "ConfigurationName": "x",
                    "SlackWorkspaceId": "T1",
                    "SlackChannelId": "C1",
                    "IamRoleArn": f"arn:aws:iam::{A}:role/chatbot",
                },
            },
        }
    )
    cfn.create_stack(StackName="unsupported", TemplateBody=body)
    described = settled(cfn, "unsupported")
    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "[Chat]" in described["StackStatusReason"]
    assert (
        "Chat",
        "CREATE_FAILED",
        "Resource type AWS::Chatbot::SlackChannelConfiguration is not supported by the embedded AWS",
    ) in failures(cfn, "unsupported")
    statuses = [
        (e["LogicalResourceId"], e["ResourceStatus"])
        for e in cfn.describe_stack_events(StackName="unsupported")["StackEvents"]
    ]
    assert ("Queue", "DELETE_COMPLETE") in statuses
    assert "Outputs" not in described
    with pytest.raises(ClientError, match="NonExistentQueue"):
        aws.client("sqs", account=A).get_queue_url(QueueName="cfn-rollback-queue")
    # AWS keeps the name taken until the failed stack is deleted
    with pytest.raises(ClientError, match="AlreadyExists"):
        cfn.create_stack(StackName="unsupported", TemplateBody=body)
    cfn.delete_stack(StackName="unsupported")
    assert not [
        s
        for s in cfn.list_stacks()["StackSummaries"]
        if s["StackName"] == "unsupported" and s["StackStatus"] != "DELETE_COMPLETE"
    ]


def test_api_error_of_a_model_is_the_resource_status_reason(aws):
    cfn = aws.client("cloudformation", account=A)
    body = template(
        {
            "Policy": {
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {"Bucket": "no-such-bucket-cfn", "PolicyDocument": {"Statement": []}},
            }
        }
    )
    cfn.create_stack(StackName="api-error", TemplateBody=body)
    assert settled(cfn, "api-error")["StackStatus"] == "ROLLBACK_COMPLETE"
    [(logical_id, status, reason)] = failures(cfn, "api-error")
    assert (logical_id, status) == ("Policy", "CREATE_FAILED")
    assert "NoSuchBucket" in reason and "Service: s3" in reason


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Resources: [unclosed", "Template format error"),
        (template({}), "At least one Resources member must be defined"),
        (template({"Q": {"Properties": {}}}), "must contain a Type member"),
        (template({"Q": {"Type": "NotAType"}}), "Unrecognized resource types: [NotAType]"),
        (
            template({"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "Nope"}}}}),
            "Unresolved resource dependencies [Nope]",
        ),
        (
            template({"Q": {"Type": "AWS::SQS::Queue", "DependsOn": "Ghost"}}),
            "Unresolved resource dependencies [Ghost]",
        ),
        (
            template(
                {"Q": {"Type": "AWS::SQS::Queue"}}, Outputs={"O": {"Value": {"Fn::GetAtt": ["Q", "Nope"]}}}
            ),
            "does not support attribute type Nope",
        ),
        (
            template(
                {
                    "R": {
                        "Type": "AWS::CodeCommit::Repository",
                        "Properties": {"RepositoryName": {"Fn::Sub": "${R.Bogus}"}},
                    }
                }
            ),
            "does not support attribute type Bogus",
        ),
        (
            template({"Q": {"Type": "AWS::SQS::Queue", "Condition": "Missing"}}),
            "Unresolved condition dependency Missing",
        ),
    ],
)
def test_broken_template_is_a_validation_error(aws, body, message):
    cfn = aws.client("cloudformation", account=A)
    with pytest.raises(ClientError) as raised:
        cfn.create_stack(StackName="broken", TemplateBody=body)
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert message in raised.value.response["Error"]["Message"]
    assert not [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == "broken"]


def test_parameter_constraints_and_rules_are_validation_errors(aws):
    cfn = aws.client("cloudformation", account=A)
    url = pipeline_template_url(aws, A, "constraints-templates")
    base = [{"ParameterKey": "ChatNotifierCodeBucket", "ParameterValue": "b"}]
    cases = [
        ([{"ParameterKey": "ManagementAccountId", "ParameterValue": "12345"}], "must match pattern"),
        (
            [
                {"ParameterKey": "ManagementAccountId", "ParameterValue": MANAGEMENT},
                {"ParameterKey": "DesiredCount", "ParameterValue": "11"},
            ],
            "not greater than 10",
        ),
        (
            [
                {"ParameterKey": "ManagementAccountId", "ParameterValue": MANAGEMENT},
                {"ParameterKey": "DeploymentConfigName", "ParameterValue": "Fast"},
            ],
            "AllowedValues",
        ),
        (
            [
                {"ParameterKey": "ManagementAccountId", "ParameterValue": MANAGEMENT},
                {"ParameterKey": "SlackChannelId", "ParameterValue": "C1"},
            ],
            "SlackWorkspaceId is required",
        ),
        (
            [
                {"ParameterKey": "ManagementAccountId", "ParameterValue": MANAGEMENT},
                {"ParameterKey": "NotDeclared", "ParameterValue": "x"},
            ],
            "[NotDeclared] do not exist",
        ),
    ]
    for parameters, message in cases:
        with pytest.raises(ClientError) as raised:
            cfn.create_stack(
                StackName="constraints",
                TemplateURL=url,
                Parameters=base + parameters,
                Capabilities=["CAPABILITY_NAMED_IAM"],
            )
        assert raised.value.response["Error"]["Code"] == "ValidationError"
        assert message in raised.value.response["Error"]["Message"], parameters


def test_outputs_exports_conditions_and_intrinsics(aws):
    cfn = aws.client("cloudformation", account=A)
    body = yaml.safe_dump(
        {
            "Parameters": {
                "Secret": {"Type": "String", "NoEcho": True, "Default": "hunter2"},
                "Flag": {"Type": "String", "Default": "off"},
            },
            "Conditions": {"On": {"Fn::Equals": [{"Ref": "Flag"}, "on"]}},
            "Resources": {
                "Topic": {
                    "Type": "AWS::SNS::Topic",
                    "Properties": {"TopicName": {"Fn::Sub": "t-${AWS::AccountId}-${AWS::Region}"}},
                },
                "Skipped": {"Type": "AWS::SQS::Queue", "Condition": "On"},
                "Queue": {
                    "Type": "AWS::SQS::Queue",
                    "Properties": {
                        "QueueName": {"Fn::Join": ["-", ["q", {"Fn::Select": [1, {"Fn::GetAZs": ""}]}]]},
                        "DelaySeconds": {"Fn::If": ["On", 5, {"Ref": "AWS::NoValue"}]},
                    },
                },
            },
            "Outputs": {
                "TopicArn": {"Value": {"Ref": "Topic"}, "Export": {"Name": "cfn-test-topic"}},
                "QueueArn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}},
                "Subnets": {"Value": {"Fn::Join": [",", {"Fn::Cidr": ["10.0.0.0/16", 2, 8]}]}},
                "Hidden": {"Condition": "On", "Value": {"Fn::GetAtt": ["Skipped", "Arn"]}},
            },
        }
    )
    cfn.create_stack(StackName="outputs", TemplateBody=body)
    described = settled(cfn, "outputs")
    assert described["StackStatus"] == "CREATE_COMPLETE", failures(cfn, "outputs")
    out = outputs(described)
    assert out == {
        "TopicArn": f"arn:aws:sns:us-east-1:{A}:t-{A}-us-east-1",
        "QueueArn": f"arn:aws:sqs:us-east-1:{A}:q-us-east-1b",
        "Subnets": "10.0.0.0/24,10.0.1.0/24",
    }
    assert {e["Name"]: e["Value"] for e in cfn.list_exports()["Exports"]}["cfn-test-topic"] == out["TopicArn"]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}["Secret"] == "****"
    attributes = aws.client("sqs", account=A).get_queue_attributes(
        QueueUrl=aws.client("sqs", account=A).get_queue_url(QueueName="q-us-east-1b")["QueueUrl"],
        AttributeNames=["All"],
    )["Attributes"]
    assert attributes["DelaySeconds"] == "0"
    importer = template(
        {
            "Sub": {
                "Type": "AWS::SNS::Subscription",
                "Properties": {
                    "TopicArn": {"Fn::ImportValue": "cfn-test-topic"},
                    "Protocol": "sqs",
                    "Endpoint": out["QueueArn"],
                },
            }
        },
        Outputs={"SubscriptionArn": {"Value": {"Ref": "Sub"}}},
    )
    cfn.create_stack(StackName="importer", TemplateBody=importer)
    imported = settled(cfn, "importer")
    assert imported["StackStatus"] == "CREATE_COMPLETE", failures(cfn, "importer")
    sns = aws.client("sns", account=A)
    [subscription] = sns.list_subscriptions_by_topic(TopicArn=out["TopicArn"])["Subscriptions"]
    assert subscription["SubscriptionArn"] == outputs(imported)["SubscriptionArn"]
    cfn.delete_stack(StackName="importer")
    assert sns.list_subscriptions_by_topic(TopicArn=out["TopicArn"])["Subscriptions"] == []
    cfn.delete_stack(StackName="outputs")
    assert "cfn-test-topic" not in {e["Name"] for e in cfn.list_exports()["Exports"]}


B = "444444444444"


def test_moto_served_models_create_and_delete_through_the_apis(aws):
    cfn = aws.client("cloudformation", account=B)
    managed_arn = aws.client("iam", account=B).create_policy(
        PolicyName="cfn-models-read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]
    topic_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Mine",
                "Effect": "Allow",
                "Principal": {"Service": "codestar-notifications.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": {"Ref": "Topic"},
            }
        ],
    }
    body = template(
        {
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "cfn-models-bucket"}},
            "BucketPolicy": {
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {
                    "Bucket": {"Ref": "Bucket"},
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "S",
                                "Effect": "Deny",
                                "Principal": "*",
                                "Action": "s3:*",
                                "Resource": {"Fn::Sub": "${Bucket.Arn}/*"},
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        ],
                    },
                },
            },
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "cfn-models-topic"}},
            "TopicPolicy": {
                "Type": "AWS::SNS::TopicPolicy",
                "Properties": {"Topics": [{"Ref": "Topic"}], "PolicyDocument": topic_policy},
            },
            "BusPolicy": {
                "Type": "AWS::Events::EventBusPolicy",
                "Properties": {
                    "EventBusName": "default",
                    "StatementId": "from-a",
                    "Statement": {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
                        "Action": "events:PutEvents",
                        "Resource": {
                            "Fn::Sub": "arn:aws:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"
                        },
                    },
                },
            },
            "Alarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmName": "cfn-models-alarm",
                    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                    "Threshold": "1",
                    "EvaluationPeriods": 1,
                    "TreatMissingData": "notBreaching",
                    "Namespace": "AWS/ApplicationELB",
                    "MetricName": "HTTPCode_Target_5XX_Count",
                    "Statistic": "Sum",
                    "Period": 60,
                },
            },
            "Group": {"Type": "AWS::IAM::Group", "Properties": {"ManagedPolicyArns": [managed_arn]}},
        },
        Outputs={
            "AlarmArn": {"Value": {"Fn::GetAtt": ["Alarm", "Arn"]}},
            "GroupName": {"Value": {"Ref": "Group"}},
            "PolicyRef": {"Value": {"Ref": "BucketPolicy"}},
        },
    )
    cfn.create_stack(StackName="models", TemplateBody=body, Capabilities=["CAPABILITY_IAM"])
    described = settled(cfn, "models")
    assert described["StackStatus"] == "CREATE_COMPLETE", failures(cfn, "models")
    out = outputs(described)
    assert out["PolicyRef"] == "cfn-models-bucket"
    assert out["GroupName"].startswith("models-Group-")
    s3, sns, events = (aws.client(s, account=B) for s in ("s3", "sns", "events"))
    iam, cloudwatch = aws.client("iam", account=B), aws.client("cloudwatch", account=B)
    assert (
        json.loads(s3.get_bucket_policy(Bucket="cfn-models-bucket")["Policy"])["Statement"][0]["Sid"] == "S"
    )
    topic_arn = f"arn:aws:sns:us-east-1:{B}:cfn-models-topic"
    assert (
        json.loads(sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]["Policy"])["Statement"][0][
            "Sid"
        ]
        == "Mine"
    )
    assert [
        s["Sid"] for s in json.loads(events.describe_event_bus(Name="default")["Policy"])["Statement"]
    ] == ["from-a"]
    [alarm] = cloudwatch.describe_alarms(AlarmNames=["cfn-models-alarm"])["MetricAlarms"]
    assert alarm["AlarmArn"] == out["AlarmArn"] and alarm["Threshold"] == 1.0
    assert (
        iam.list_attached_group_policies(GroupName=out["GroupName"])["AttachedPolicies"][0]["PolicyArn"]
        == managed_arn
    )

    cfn.delete_stack(StackName="models")
    assert settled(cfn, described["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert cloudwatch.describe_alarms(AlarmNames=["cfn-models-alarm"])["MetricAlarms"] == []
    assert (
        "Policy" not in events.describe_event_bus(Name="default")
        or not json.loads(events.describe_event_bus(Name="default")["Policy"])["Statement"]
    )
    with pytest.raises(ClientError, match="NoSuchEntity"):
        iam.get_group(GroupName=out["GroupName"])
    with pytest.raises(ClientError, match="NoSuchBucket"):
        s3.get_bucket_policy(Bucket="cfn-models-bucket")


def test_ecs_service_keeps_its_code_deploy_controller(aws):
    cfn = aws.client("cloudformation", account=B)
    body = template(
        {
            "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "cfn-ecs"}},
            "Task": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {
                    "Family": "cfn-ecs",
                    "ContainerDefinitions": [{"Name": "app", "Image": "x", "Memory": 64}],
                },
            },
            "Service": {
                "Type": "AWS::ECS::Service",
                "Properties": {
                    "ServiceName": "cfn-ecs-svc",
                    "Cluster": {"Ref": "Cluster"},
                    "TaskDefinition": {"Ref": "Task"},
                    "DesiredCount": "1",
                    "DeploymentController": {"Type": "CODE_DEPLOY"},
                },
            },
        },
        Outputs={
            "Name": {"Value": {"Fn::GetAtt": ["Service", "Name"]}},
            "Arn": {"Value": {"Ref": "Service"}},
        },
    )
    cfn.create_stack(StackName="ecs", TemplateBody=body)
    described = settled(cfn, "ecs")
    assert described["StackStatus"] == "CREATE_COMPLETE", failures(cfn, "ecs")
    ecs = aws.client("ecs", account=B)
    [service] = ecs.describe_services(cluster="cfn-ecs", services=["cfn-ecs-svc"])["services"]
    assert service["deploymentController"] == {"type": "CODE_DEPLOY"}
    assert outputs(described) == {"Name": "cfn-ecs-svc", "Arn": service["serviceArn"]}
    cfn.delete_stack(StackName="ecs")
    assert ecs.describe_services(cluster="cfn-ecs", services=["cfn-ecs-svc"])["services"] in (
        [],
        [{**service, "status": "INACTIVE"}],
    ) or all(
        s["status"] == "INACTIVE"
        for s in ecs.describe_services(cluster="cfn-ecs", services=["cfn-ecs-svc"])["services"]
    )


def test_codedeploy_application_and_group_can_be_deleted_through_the_api():
    """Stack deletes need DeleteApplication/DeleteDeploymentGroup (moto lacks them; the CodeDeploy plane serves them)."""
    from gitops_harness.emulator.testing import running_emulator

    with running_emulator() as aws:
        codedeploy = aws.client("codedeploy", account="333333333333")
        codedeploy.create_application(applicationName="gaps", computePlatform="Server")
        codedeploy.create_deployment_group(
            applicationName="gaps", deploymentGroupName="g", serviceRoleArn="arn:aws:iam::333333333333:role/r"
        )
        assert (
            codedeploy.delete_deployment_group(applicationName="gaps", deploymentGroupName="g")[
                "hooksNotCleanedUp"
            ]
            == []
        )
        assert codedeploy.list_deployment_groups(applicationName="gaps")["deploymentGroups"] == []
        codedeploy.delete_application(applicationName="gaps")
        assert "gaps" not in codedeploy.list_applications()["applications"]
        with pytest.raises(codedeploy.exceptions.ApplicationDoesNotExistException):
            codedeploy.delete_deployment_group(applicationName="gaps", deploymentGroupName="g")
