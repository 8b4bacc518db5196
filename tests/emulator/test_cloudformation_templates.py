"""CloudFormation semantics on the embedded AWS, one small template per behaviour
(tests/emulator/cloudformation_templates/), driven through boto3: parsing as AWS reads templates,
ValidateTemplate as AWS answers it, imports resolved before anything is created."""

from __future__ import annotations

import json
import re
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
    summary = cfn.get_template_summary(TemplateBody=body("lint_warnings.yaml"))
    assert summary["ResourceTypes"] == ["AWS::IAM::Role"]
    assert summary["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    assert [(p["ParameterKey"], p["ParameterType"], p["NoEcho"]) for p in summary["Parameters"]] == [
        ("Unused", "String", False),
        ("Secret", "String", True),
    ]
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


# ---- properties against the resource schemas ------------------------------------------------------------


def failed_resources(cfn, stack: str) -> dict[str, str]:
    return {logical: reason for logical, status, reason in events(cfn, stack) if status == "CREATE_FAILED"}


def test_unknown_property_fails_the_resource_with_the_schema_message(aws, cfn):
    cfn.create_stack(StackName="cfnt-unknown-property", TemplateBody=body("schema_unknown_property.yaml"))
    assert settled(cfn, "cfnt-unknown-property")["StackStatus"] == "ROLLBACK_COMPLETE"
    assert failed_resources(cfn, "cfnt-unknown-property") == {
        "Queue": "Properties validation failed for resource Queue with message: #: extraneous key [Foo] is not permitted"
    }
    assert aws.client("sqs", account=ACCOUNT).list_queues().get("QueueUrls", []) == []
    cfn.delete_stack(StackName="cfnt-unknown-property")


def test_missing_required_property_fails_the_resource(cfn):
    cfn.create_stack(
        StackName="cfnt-missing-required",
        TemplateBody=body("schema_missing_required.yaml"),
        Capabilities=["CAPABILITY_IAM"],
    )
    assert settled(cfn, "cfnt-missing-required")["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = failed_resources(cfn, "cfnt-missing-required")
    # resources are created in template order here: the first failure stops the stack
    assert failed == {
        "Role": "Properties validation failed for resource Role with message: "
        "#: required key [AssumeRolePolicyDocument] not found"
    } or failed == {
        "Repository": "Properties validation failed for resource Repository with message: "
        "#/EncryptionConfiguration: required key [EncryptionType] not found"
    }
    cfn.delete_stack(StackName="cfnt-missing-required")


def test_properties_moto_drops_are_applied(aws, cfn):
    cfn.create_stack(
        StackName="cfnt-applied",
        TemplateBody=body("applied_properties.yaml"),
        Capabilities=["CAPABILITY_IAM"],
    )
    described = settled(cfn, "cfnt-applied")
    assert described["StackStatus"] == "CREATE_COMPLETE", events(cfn, "cfnt-applied")
    out = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    block = aws.client("s3", account=ACCOUNT).get_public_access_block(Bucket=out["BucketName"])
    assert block["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    ecr = aws.client("ecr", account=ACCOUNT)
    [repository] = ecr.describe_repositories(repositoryNames=[out["RepositoryName"]])["repositories"]
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    policy = json.loads(ecr.get_repository_policy(repositoryName=out["RepositoryName"])["policyText"])
    assert policy["Version"] == "2012-10-17" and policy["Statement"][0]["Sid"] == "Pull"
    attached = aws.client("iam", account=ACCOUNT).list_attached_role_policies(RoleName=out["RoleName"])
    assert [p["PolicyArn"] for p in attached["AttachedPolicies"]] == [
        "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
    ]
    task = aws.client("ecs", account=ACCOUNT).describe_task_definition(
        taskDefinition=out["TaskDefinitionArn"]
    )["taskDefinition"]
    assert (task["executionRoleArn"], task["taskRoleArn"]) == (out["RoleArn"], out["RoleArn"])
    assert (task["networkMode"], task["cpu"], task["requiresCompatibilities"]) == (
        "awsvpc",
        "256",
        ["FARGATE"],
    )
    assert task["family"].startswith("cfnt-applied-TaskDefinition-")

    cfn.delete_stack(StackName="cfnt-applied")
    assert settled(cfn, described["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert (
        aws.client("ecs", account=ACCOUNT).describe_task_definition(taskDefinition=out["TaskDefinitionArn"])[
            "taskDefinition"
        ]["status"]
        == "INACTIVE"
    )


@pytest.mark.parametrize(
    ("template", "logical_id", "reason"),
    [
        (
            "refused_property.yaml",
            "Bucket",
            "Property WebsiteConfiguration of AWS::S3::Bucket is not supported by the embedded AWS",
        ),
        (
            "refused_value.yaml",
            "Key",
            "Property KeySpec of AWS::KMS::Key is not supported by the embedded AWS with the value "
            "'RSA_2048' (only symmetric_default)",
        ),
        (
            "refused_notification_target_address.yaml",
            "Rule",
            "Property TargetAddress of AWS::CodeStarNotifications::NotificationRule is not supported by the "
            "embedded AWS",
        ),
        (
            "refused_nested_property.yaml",
            "Group",
            "Property SecurityGroupIngress/0/CidrIpv6 of AWS::EC2::SecurityGroup is not supported by the "
            "embedded AWS",
        ),
    ],
)
def test_a_property_the_emulator_cannot_honour_fails_the_resource_by_name(
    aws, cfn, template, logical_id, reason
):
    # moto would drop these and say CREATE_COMPLETE; the failure is the emulator's gap, not AWS's
    stack = "cfnt-" + template.removesuffix(".yaml").replace("_", "-")
    cfn.create_stack(StackName=stack, TemplateBody=body(template))
    assert settled(cfn, stack)["StackStatus"] == "ROLLBACK_COMPLETE"
    assert failed_resources(cfn, stack) == {logical_id: reason}
    cfn.delete_stack(StackName=stack)


def test_more_properties_moto_drops_are_applied(aws, cfn):
    cfn.create_stack(
        StackName="cfnt-applied-more",
        TemplateBody=body("applied_more_properties.yaml"),
        Capabilities=["CAPABILITY_IAM"],
    )
    described = settled(cfn, "cfnt-applied-more")
    assert described["StackStatus"] == "CREATE_COMPLETE", failed_resources(cfn, "cfnt-applied-more")
    out = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    s3 = aws.client("s3", account=ACCOUNT)
    bucket = out["BucketName"]
    [rule] = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert (rule["ID"], rule["Status"], rule["Expiration"], rule["NoncurrentVersionExpiration"]) == (
        "expire-artifacts",
        "Enabled",
        {"Days": 30},
        {"NoncurrentDays": 7},
    )
    [cors] = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert (cors["AllowedMethods"], cors["AllowedOrigins"], cors["MaxAgeSeconds"]) == (
        ["GET"],
        ["https://example.com"],
        300,
    )
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"] == {
        "TargetBucket": out["LogBucketName"],
        "TargetPrefix": "access/",
    }
    # moto's GetBucketNotificationConfiguration never lists EventBridgeConfiguration: ask its bucket
    from gitops_harness.emulator.common.buckets import bucket_owner

    assert bucket_owner(bucket)[1].notification_configuration.event_bridge == {}
    [group] = aws.client("logs", account=ACCOUNT).describe_log_groups(logGroupNamePrefix=out["LogGroupName"])[
        "logGroups"
    ]
    assert (group["kmsKeyId"], group["retentionInDays"]) == (out["KeyArn"], 14)
    tags = aws.client("sns", account=ACCOUNT).list_tags_for_resource(ResourceArn=out["TopicArn"])["Tags"]
    assert tags == [{"Key": "team", "Value": "delivery"}]
    [cluster] = aws.client("ecs", account=ACCOUNT).describe_clusters(
        clusters=[out["ClusterName"]], include=["SETTINGS", "TAGS"]
    )["clusters"]
    assert cluster["clusterArn"] == out["ClusterArn"]
    assert cluster["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    assert cluster["tags"] == [{"key": "team", "value": "delivery"}]
    iam = aws.client("iam", account=ACCOUNT)
    document = iam.get_user_policy(UserName=out["UserName"], PolicyName="read-artifacts")["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    assert document["Statement"][0]["Resource"] == f"arn:aws:s3:::{bucket}/*"
    assert iam.list_user_tags(UserName=out["UserName"])["Tags"] == [{"Key": "team", "Value": "delivery"}]
    secrets = aws.client("secretsmanager", account=ACCOUNT)
    secret = json.loads(secrets.get_secret_value(SecretId=out["SecretArn"])["SecretString"])
    assert secret["username"] == "notifier"
    assert len(secret["password"]) == 20 and secret["password"].isalnum()
    awslambda = aws.client("lambda", account=ACCOUNT)
    config = awslambda.get_function_configuration(FunctionName=out["FunctionName"])
    assert (config["KMSKeyArn"], config["TracingConfig"]) == (out["KeyArn"], {"Mode": "Active"})
    assert awslambda.list_tags(Resource=config["FunctionArn"])["Tags"] == {"team": "delivery"}

    cfn.delete_stack(StackName="cfnt-applied-more")
    assert settled(cfn, described["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    # the stack's delete schedules the key's deletion with PendingWindowInDays, and deletes the secret
    key = aws.client("kms", account=ACCOUNT).describe_key(KeyId=out["KeyArn"])["KeyMetadata"]
    assert key["KeyState"] == "PendingDeletion"
    assert 6 <= (key["DeletionDate"] - key["CreationDate"]).days <= 7
    with pytest.raises(ClientError) as gone:
        secrets.describe_secret(SecretId=out["SecretArn"])
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_network_properties_moto_drops_are_applied(aws, cfn):
    cfn.create_stack(StackName="cfnt-applied-network", TemplateBody=body("applied_network_properties.yaml"))
    described = settled(cfn, "cfnt-applied-network")
    assert described["StackStatus"] == "CREATE_COMPLETE", events(cfn, "cfnt-applied-network")
    out = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    ec2 = aws.client("ec2", account=ACCOUNT)
    hostnames = ec2.describe_vpc_attribute(VpcId=out["VpcId"], Attribute="enableDnsHostnames")
    assert hostnames["EnableDnsHostnames"] == {"Value": True}
    [subnet] = ec2.describe_subnets(SubnetIds=[out["SubnetId"]])["Subnets"]
    assert subnet["MapPublicIpOnLaunch"] is True
    [gateway] = ec2.describe_internet_gateways(InternetGatewayIds=[out["GatewayId"]])["InternetGateways"]
    assert [t for t in gateway["Tags"] if not t["Key"].startswith("aws:")] == [
        {"Key": "Name", "Value": "cfnt-gateway"}
    ]
    [group] = ec2.describe_security_groups(GroupIds=[out["GroupId"]])["SecurityGroups"]
    assert [(r["IpProtocol"], r["FromPort"], r["IpRanges"]) for r in group["IpPermissions"]] == [
        ("tcp", 80, [{"CidrIp": "0.0.0.0/0", "Description": "public http"}])
    ]
    # the egress rule given replaced the default allow-all one
    assert [(r["IpProtocol"], r.get("FromPort"), r["IpRanges"]) for r in group["IpPermissionsEgress"]] == [
        ("tcp", 8080, [{"CidrIp": "10.42.0.0/16", "Description": "to the tasks"}])
    ]
    elbv2 = aws.client("elbv2", account=ACCOUNT)
    attributes = elbv2.describe_load_balancer_attributes(LoadBalancerArn=out["BalancerArn"])["Attributes"]
    assert {"Key": "idle_timeout.timeout_seconds", "Value": "120"} in attributes
    attributes = elbv2.describe_target_group_attributes(TargetGroupArn=out["TargetGroupArn"])["Attributes"]
    assert {"Key": "deregistration_delay.timeout_seconds", "Value": "30"} in attributes
    tagged = elbv2.describe_tags(ResourceArns=[out["BalancerArn"], out["TargetGroupArn"]])["TagDescriptions"]
    assert [[t for t in d["Tags"] if not t["Key"].startswith("aws:")] for d in tagged] == [
        [{"Key": "team", "Value": "delivery"}]
    ] * 2
    cfn.delete_stack(StackName="cfnt-applied-network")
    assert settled(cfn, described["StackId"])["StackStatus"] == "DELETE_COMPLETE"


def test_managed_policy_aws_does_not_have_fails_the_role(cfn):
    cfn.create_stack(
        StackName="cfnt-no-policy",
        TemplateBody=body("missing_managed_policy.yaml"),
        Capabilities=["CAPABILITY_IAM"],
    )
    assert settled(cfn, "cfnt-no-policy")["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = failed_resources(cfn, "cfnt-no-policy")["Role"]
    assert (
        "Policy arn:aws:iam::aws:policy/NoSuchPolicyForCfnTests does not exist or is not attachable."
        in reason
    )
    assert "Error Code: NoSuchEntity" in reason
    cfn.delete_stack(StackName="cfnt-no-policy")


# ---- references checked at create; failures AWS would not have -------------------------------------------


def test_codebuild_service_role_by_name_is_stored_as_its_arn(aws, cfn):
    cfn.create_stack(
        StackName="cfnt-role-name",
        TemplateBody=body("codebuild_role_by_name.yaml"),
        Capabilities=["CAPABILITY_IAM"],
    )
    described = settled(cfn, "cfnt-role-name")
    assert described["StackStatus"] == "CREATE_COMPLETE", events(cfn, "cfnt-role-name")
    out = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    [project] = aws.client("codebuild", account=ACCOUNT).batch_get_projects(names=[out["ProjectName"]])[
        "projects"
    ]
    assert project["serviceRole"] == out["RoleArn"]
    cfn.delete_stack(StackName="cfnt-role-name")


@pytest.mark.parametrize(
    ("template", "logical_id", "message"),
    [
        (
            "codebuild_missing_role.yaml",
            "Project",
            f'"CodeBuild is not authorized to perform: sts:AssumeRole on arn:aws:iam::{ACCOUNT}:role/no-such-build-role"'
            " (Service: codebuild, Status Code: 400, Error Code: InvalidInputException)",
        ),
        (
            "pipeline_missing_role.yaml",
            "Pipeline",
            f'"CodePipeline is not authorized to perform AssumeRole on role arn:aws:iam::{ACCOUNT}:role/'
            'no-such-pipeline-role" (Service: codepipeline, Status Code: 400, Error Code: InvalidStructureException)',
        ),
    ],
)
def test_a_service_role_that_does_not_exist_fails_the_resource(cfn, template, logical_id, message):
    stack = "cfnt-" + template.removesuffix(".yaml").replace("_", "-")
    cfn.create_stack(StackName=stack, TemplateBody=body(template))
    assert settled(cfn, stack)["StackStatus"] == "ROLLBACK_COMPLETE"
    assert failed_resources(cfn, stack) == {logical_id: f"Resource handler returned message: {message}"}
    cfn.delete_stack(StackName=stack)


def test_codebuild_s3_artifacts_without_a_name_take_the_project_name(aws, cfn):
    cfn.create_stack(
        StackName="cfnt-unnamed-artifacts",
        TemplateBody=body("codebuild_s3_artifacts_unnamed.yaml"),
        Capabilities=["CAPABILITY_IAM"],
    )
    described = settled(cfn, "cfnt-unnamed-artifacts")
    assert described["StackStatus"] == "CREATE_COMPLETE", events(cfn, "cfnt-unnamed-artifacts")
    name = described["Outputs"][0]["OutputValue"]
    [project] = aws.client("codebuild", account=ACCOUNT).batch_get_projects(names=[name])["projects"]
    assert (project["artifacts"]["type"], project["artifacts"]["name"]) == ("S3", name)
    cfn.delete_stack(StackName="cfnt-unnamed-artifacts")


def test_pipeline_artifact_bucket_that_does_not_exist_fails_the_pipeline(cfn):
    cfn.create_stack(
        StackName="cfnt-no-artifact-bucket",
        TemplateBody=body("pipeline_missing_artifact_bucket.yaml"),
        Capabilities=["CAPABILITY_IAM"],
    )
    assert settled(cfn, "cfnt-no-artifact-bucket")["StackStatus"] == "ROLLBACK_COMPLETE"
    assert failed_resources(cfn, "cfnt-no-artifact-bucket") == {
        "Pipeline": 'Resource handler returned message: "An error occurred while validating the artifact '
        "bucket 'cfnt-no-such-artifact-bucket'\" (Service: codepipeline, Status Code: 400, "
        "Error Code: InvalidStructureException)"
    }
    cfn.delete_stack(StackName="cfnt-no-artifact-bucket")


def test_restart_execution_on_update_reruns_the_pipeline_after_an_update(aws, cfn):
    cfn.create_stack(
        StackName="cfnt-restart",
        TemplateBody=body("pipeline_restart_on_update.yaml"),
        Capabilities=["CAPABILITY_IAM"],
    )
    described = settled(cfn, "cfnt-restart")
    assert described["StackStatus"] == "CREATE_COMPLETE", failed_resources(cfn, "cfnt-restart")
    name = described["Outputs"][0]["OutputValue"]
    codepipeline = aws.client("codepipeline", account=ACCOUNT)
    before = len(codepipeline.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"])
    cfn.update_stack(
        StackName="cfnt-restart",
        TemplateBody=body("pipeline_restart_on_update.yaml"),
        Parameters=[{"ParameterKey": "Note", "ParameterValue": "second"}],
        Capabilities=["CAPABILITY_IAM"],
    )
    assert settled(cfn, "cfnt-restart")["StackStatus"] == "UPDATE_COMPLETE", events(cfn, "cfnt-restart")
    after = codepipeline.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"]
    assert len(after) == before + 1
    cfn.delete_stack(StackName="cfnt-restart")


def test_kms_key_id_attribute(aws, cfn):
    cfn.create_stack(StackName="cfnt-key-id", TemplateBody=body("kms_key_id.yaml"))
    described = settled(cfn, "cfnt-key-id")
    assert described["StackStatus"] == "CREATE_COMPLETE", events(cfn, "cfnt-key-id")
    out = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    assert out["KeyId"] == out["KeyRef"]
    assert out["KeyArn"] == f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{out['KeyId']}"
    cfn.delete_stack(StackName="cfnt-key-id")


def test_action_consumes_an_artifact_of_a_lower_run_order_in_its_stage(aws, cfn):
    cfn.create_stack(
        StackName="cfnt-run-order",
        TemplateBody=body("pipeline_same_stage_artifacts.yaml"),
        Capabilities=["CAPABILITY_IAM"],
    )
    described = settled(cfn, "cfnt-run-order")
    assert described["StackStatus"] == "CREATE_COMPLETE", events(cfn, "cfnt-run-order")
    name = described["Outputs"][0]["OutputValue"]
    build = aws.client("codepipeline", account=ACCOUNT).get_pipeline(name=name)["pipeline"]["stages"][1]
    assert [(a["name"], a.get("runOrder")) for a in build["actions"]] == [("Compile", 1), ("Test", 2)]
    cfn.delete_stack(StackName="cfnt-run-order")


# ---- nested stacks --------------------------------------------------------------------------------------


def nested_stack_with_child(aws, cfn, stack: str, child: str, url: str | None = None) -> dict:
    s3 = aws.client("s3", account=ACCOUNT)
    if url is None:
        s3.create_bucket(Bucket="cfnt-nested-templates")
        s3.put_object(Bucket="cfnt-nested-templates", Key=child, Body=body(child).encode())
        url = f"https://cfnt-nested-templates.s3.amazonaws.com/{child}"
    cfn.create_stack(
        StackName=stack,
        TemplateBody=body("nested_parent.yaml"),
        Parameters=[{"ParameterKey": "ChildUrl", "ParameterValue": url}],
    )
    return settled(cfn, stack)


def test_nested_stack_from_s3_is_created(aws, cfn):
    described = nested_stack_with_child(aws, cfn, "cfnt-nested-ok", "nested_child_ok.yaml")
    assert described["StackStatus"] == "CREATE_COMPLETE", events(cfn, "cfnt-nested-ok")
    [child] = [
        r
        for r in cfn.describe_stack_resources(StackName="cfnt-nested-ok")["StackResources"]
        if r["LogicalResourceId"] == "Child"
    ]
    assert settled(cfn, child["PhysicalResourceId"])["StackStatus"] == "CREATE_COMPLETE"
    # Ref of a nested stack (and its physical id) is the child's stack ID
    assert child["PhysicalResourceId"].startswith(
        f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/cfnt-nested-ok-Child-"
    )
    assert described["Outputs"] == [{"OutputKey": "ChildId", "OutputValue": child["PhysicalResourceId"]}]
    cfn.delete_stack(StackName="cfnt-nested-ok")
    assert settled(cfn, described["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert settled(cfn, child["PhysicalResourceId"])["StackStatus"] == "DELETE_COMPLETE"


def test_failed_child_fails_and_rolls_back_its_parent(aws, cfn):
    described = nested_stack_with_child(aws, cfn, "cfnt-nested-fail", "nested_child_failing.yaml")
    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = failed_resources(cfn, "cfnt-nested-fail")["Child"]
    assert reason.startswith(
        f"Embedded stack arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/cfnt-nested-fail-Child-"
    )
    assert reason.endswith(
        "was not successfully created: The following resource(s) failed to create: [Queue]."
    )
    statuses = [(logical, status) for logical, status, _ in events(cfn, "cfnt-nested-fail")]
    assert ("Topic", "DELETE_COMPLETE") in statuses
    live = [
        s["StackName"] for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"
    ]
    assert not [name for name in live if name.startswith("cfnt-nested-fail-Child-")]
    cfn.delete_stack(StackName="cfnt-nested-fail")


@pytest.mark.parametrize(
    "form",
    [
        "https://s3.amazonaws.com/cfnt-nested-templates/{key}",
        "https://s3.us-east-1.amazonaws.com/cfnt-nested-templates/{key}",
        "https://cfnt-nested-templates.s3.us-east-1.amazonaws.com/{key}?versionId={version}",
    ],
)
def test_nested_template_url_in_each_s3_form_is_loaded(aws, cfn, form):
    s3 = aws.client("s3", account=ACCOUNT)
    s3.create_bucket(Bucket="cfnt-nested-templates")
    s3.put_bucket_versioning(Bucket="cfnt-nested-templates", VersioningConfiguration={"Status": "Enabled"})
    key = "forms/nested_child_ok.yaml"
    version = s3.put_object(
        Bucket="cfnt-nested-templates", Key=key, Body=body("nested_child_ok.yaml").encode()
    )["VersionId"]
    stack = f"cfnt-nested-form-{abs(hash(form)) % 10000}"
    described = nested_stack_with_child(
        aws, cfn, stack, "nested_child_ok.yaml", url=form.format(key=key, version=version)
    )
    assert described["StackStatus"] == "CREATE_COMPLETE", events(cfn, stack)
    cfn.delete_stack(StackName=stack)


def test_nested_template_url_to_a_missing_object_fails_the_resource(aws, cfn):
    url = "https://s3.amazonaws.com/cfnt-nested-templates/no-such-child.yaml"
    aws.client("s3", account=ACCOUNT).create_bucket(Bucket="cfnt-nested-templates")
    described = nested_stack_with_child(aws, cfn, "cfnt-nested-missing", "nested_child_ok.yaml", url=url)
    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    assert failed_resources(cfn, "cfnt-nested-missing") == {
        "Child": "TemplateURL must reference a valid S3 object to which you have access."
    }
    cfn.delete_stack(StackName="cfnt-nested-missing")
    # CreateStack's own TemplateURL answers the same as a ValidationError
    assert validation_error(cfn.create_stack, StackName="cfnt-url-missing", TemplateURL=url) == (
        "TemplateURL must reference a valid S3 object to which you have access."
    )


def test_nested_template_url_must_be_an_s3_url(aws, cfn):
    described = nested_stack_with_child(
        aws, cfn, "cfnt-nested-url", "nested_child_ok.yaml", url="https://example.com/child.yaml"
    )
    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    assert failed_resources(cfn, "cfnt-nested-url") == {"Child": "TemplateURL must be a supported URL."}
    cfn.delete_stack(StackName="cfnt-nested-url")


# ---- third-party style pipelines -------------------------------------------------------------------------


def test_third_party_style_blue_green_pipeline_deploys_as_written(aws, cfn):
    cfn.create_stack(
        StackName="cfnt-thirdparty",
        TemplateBody=body("thirdparty_bluegreen_pipeline.yaml"),
        Capabilities=["CAPABILITY_IAM"],
    )
    described = settled(cfn, "cfnt-thirdparty")
    assert described["StackStatus"] == "CREATE_COMPLETE", failed_resources(cfn, "cfnt-thirdparty")
    resources = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName="cfnt-thirdparty")["StackResources"]
    }
    elbv2 = aws.client("elbv2", account=ACCOUNT)
    # the test listener's ForwardConfig-only action (moto's model failed on it with a KeyError)
    [listener] = elbv2.describe_listeners(ListenerArns=[resources["TestListener"]])["Listeners"]
    [action] = listener["DefaultActions"]
    assert [g["TargetGroupArn"] for g in action["ForwardConfig"]["TargetGroups"]] == [
        resources["BlueTargetGroup"]
    ]
    # BucketKeyEnabled of the artifact bucket's encryption (moto's model kept only the algorithm and key)
    [rule] = aws.client("s3", account=ACCOUNT).get_bucket_encryption(Bucket=resources["ArtifactBucket"])[
        "ServerSideEncryptionConfiguration"
    ]["Rules"]
    assert rule["BucketKeyEnabled"] is True
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    group = aws.client("codedeploy", account=ACCOUNT).get_deployment_group(
        applicationName=resources["DeployApplication"], deploymentGroupName=resources["DeploymentGroup"]
    )["deploymentGroupInfo"]
    assert group["deploymentStyle"]["deploymentType"] == "BLUE_GREEN"
    cfn.delete_stack(StackName="cfnt-thirdparty")
    assert settled(cfn, described["StackId"])["StackStatus"] == "DELETE_COMPLETE"


def test_third_party_style_two_stacks_with_imports_and_ssm_parameters(aws, cfn):
    cfn.create_stack(StackName="cfnt-infra", TemplateBody=body("thirdparty_infra_exports.yaml"))
    infra = settled(cfn, "cfnt-infra")
    assert infra["StackStatus"] == "CREATE_COMPLETE", failed_resources(cfn, "cfnt-infra")
    exported = {o["OutputKey"]: o["OutputValue"] for o in infra["Outputs"]}
    # an SSM parameter without Name gets CloudFormation's generated one (moto's model failed on it)
    assert exported["ClusterNameParameter"].startswith("CFN-ClusterNameParameter-")
    ssm = aws.client("ssm", account=ACCOUNT)
    assert (
        ssm.get_parameter(Name=exported["ClusterNameParameter"])["Parameter"]["Value"]
        == exported["ClusterName"]
    )

    given = [
        {"ParameterKey": "InfraStack", "ParameterValue": "cfnt-infra"},
        {"ParameterKey": "ClusterFromSsm", "ParameterValue": exported["ClusterNameParameter"]},
    ]
    cfn.create_stack(
        StackName="cfnt-service",
        TemplateBody=body("thirdparty_service_imports.yaml"),
        Parameters=given,
        Capabilities=["CAPABILITY_IAM"],
    )
    service = settled(cfn, "cfnt-service")
    assert service["StackStatus"] == "CREATE_COMPLETE", failed_resources(cfn, "cfnt-service")
    out = {o["OutputKey"]: o["OutputValue"] for o in service["Outputs"]}
    assert out["Cluster"] == out["ClusterFromSsm"] == exported["ClusterName"]
    described = {p["ParameterKey"]: p for p in service["Parameters"]}
    assert described["ClusterFromSsm"] == {
        "ParameterKey": "ClusterFromSsm",
        "ParameterValue": exported["ClusterNameParameter"],
        "ResolvedValue": exported["ClusterName"],
    }
    pipeline = aws.client("codepipeline", account=ACCOUNT).get_pipeline(name=out["PipelineName"])["pipeline"]
    assert pipeline["artifactStore"]["location"] == exported["ArtifactBucket"]
    attached = aws.client("iam", account=ACCOUNT).list_attached_role_policies(RoleName=out["RoleName"])
    assert [p["PolicyArn"] for p in attached["AttachedPolicies"]] == [exported["DeployPolicyArn"]]

    # a parameter of an SSM type naming no parameter: CreateStack's ValidationError (moto answered a 500)
    missing = [given[0], {"ParameterKey": "ClusterFromSsm", "ParameterValue": "/cfnt/no-such-parameter"}]
    assert (
        validation_error(
            cfn.create_stack,
            StackName="cfnt-service-2",
            TemplateBody=body("thirdparty_service_imports.yaml"),
            Parameters=missing,
            Capabilities=["CAPABILITY_IAM"],
        )
        == "Unable to fetch parameters [/cfnt/no-such-parameter] from parameter store for this account."
    )
    cfn.delete_stack(StackName="cfnt-service")
    assert settled(cfn, service["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    cfn.delete_stack(StackName="cfnt-infra")
    assert settled(cfn, infra["StackId"])["StackStatus"] == "DELETE_COMPLETE"


def test_types_moto_lacks_that_samples_use_are_created_and_deleted(aws, cfn):
    cfn.create_stack(StackName="cfnt-more-types", TemplateBody=body("more_types_sample_style.yaml"))
    described = settled(cfn, "cfnt-more-types")
    assert described["StackStatus"] == "CREATE_COMPLETE", failed_resources(cfn, "cfnt-more-types")
    out = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    ec2 = aws.client("ec2", account=ACCOUNT)
    [group] = ec2.describe_security_groups(GroupIds=[out["LoadBalancerGroupId"]])["SecurityGroups"]
    to_tasks = [r for r in group["IpPermissionsEgress"] if r.get("FromPort") == 8080]
    assert [(p["GroupId"], p["Description"]) for r in to_tasks for p in r["UserIdGroupPairs"]] == [
        (out["TaskGroupId"], "to the tasks")
    ]
    assert out["EgressRuleId"].startswith("sgr-")
    scaling = aws.client("application-autoscaling", account=ACCOUNT)
    resource_id, dimension, namespace = out["ScalableTargetId"].split("|")
    [target] = scaling.describe_scalable_targets(ServiceNamespace=namespace, ResourceIds=[resource_id])[
        "ScalableTargets"
    ]
    assert (target["ScalableDimension"], target["MinCapacity"], target["MaxCapacity"]) == (dimension, 1, 4)
    [policy] = scaling.describe_scaling_policies(ServiceNamespace=namespace, ResourceId=resource_id)[
        "ScalingPolicies"
    ]
    assert (policy["PolicyARN"], policy["PolicyType"]) == (out["PolicyArn"], "TargetTrackingScaling")
    assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 60
    attributes = aws.client("sqs", account=ACCOUNT).get_queue_attributes(
        QueueUrl=out["QueueUrl"], AttributeNames=["Policy"]
    )["Attributes"]
    assert json.loads(attributes["Policy"])["Statement"][0]["Principal"] == {
        "Service": "events.amazonaws.com"
    }

    cfn.delete_stack(StackName="cfnt-more-types")
    assert settled(cfn, described["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert (
        scaling.describe_scalable_targets(ServiceNamespace=namespace, ResourceIds=[resource_id])[
            "ScalableTargets"
        ]
        == []
    )


def test_an_update_that_fails_rolls_back_to_the_previous_template(aws, cfn):
    cfn.create_stack(StackName="cfnt-update", TemplateBody=body("update_base.yaml"))
    created = settled(cfn, "cfnt-update")
    assert created["StackStatus"] == "CREATE_COMPLETE"
    cfn.update_stack(StackName="cfnt-update", TemplateBody=body("update_refused.yaml"))  # no 500
    described = settled(cfn, "cfnt-update")
    assert described["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE", events(cfn, "cfnt-update")
    assert described["StackStatusReason"] == "The following resource(s) failed to update: [Bucket]. "
    seen = events(cfn, "cfnt-update")
    assert (
        "Bucket",
        "UPDATE_FAILED",
        "Property WebsiteConfiguration of AWS::S3::Bucket is not supported by the embedded AWS",
    ) in seen
    assert [(logical, status) for logical, status, _ in seen if logical == "Topic"] == [
        ("Topic", "CREATE_IN_PROGRESS"),
        ("Topic", "CREATE_COMPLETE"),
        ("Topic", "DELETE_IN_PROGRESS"),
        ("Topic", "DELETE_COMPLETE"),
    ]
    topics = aws.client("sns", account=ACCOUNT).list_topics()["Topics"]
    assert not [t for t in topics if ":cfnt-update-Topic-" in t["TopicArn"]]
    assert cfn.get_template(StackName="cfnt-update")["TemplateBody"] == body("update_base.yaml")
    assert described["Outputs"] == created["Outputs"]
    assert {
        r["LogicalResourceId"]
        for r in cfn.describe_stack_resources(StackName="cfnt-update")["StackResources"]
    } == {
        "Queue",
        "Bucket",
    }
    # the same update as a change set (aws cloudformation deploy on an existing stack) rolls back too
    cfn.create_change_set(
        StackName="cfnt-update",
        ChangeSetName="second",
        ChangeSetType="UPDATE",
        TemplateBody=body("update_refused.yaml"),
    )
    cfn.execute_change_set(StackName="cfnt-update", ChangeSetName="second")
    assert settled(cfn, "cfnt-update")["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert cfn.get_template(StackName="cfnt-update")["TemplateBody"] == body("update_base.yaml")
    # and a change set that works updates it
    cfn.create_change_set(
        StackName="cfnt-update",
        ChangeSetName="third",
        ChangeSetType="UPDATE",
        TemplateBody=body("update_ok.yaml"),
    )
    cfn.execute_change_set(StackName="cfnt-update", ChangeSetName="third")
    updated = settled(cfn, "cfnt-update")
    assert updated["StackStatus"] == "UPDATE_COMPLETE", events(cfn, "cfnt-update")
    assert {o["OutputKey"] for o in updated["Outputs"]} == {"BucketName", "TopicArn"}
    cfn.delete_stack(StackName="cfnt-update")
    assert settled(cfn, created["StackId"])["StackStatus"] == "DELETE_COMPLETE"


# ---- change sets -----------------------------------------------------------------------------------------


def test_create_change_set_of_a_failing_template_rolls_back_as_create_stack_does(aws, cfn):
    # `aws cloudformation deploy` creates a new stack through a CREATE change set
    cfn.create_change_set(
        StackName="cfnt-change-set",
        ChangeSetName="first",
        ChangeSetType="CREATE",
        TemplateBody=body("refused_property.yaml"),
    )
    cfn.execute_change_set(StackName="cfnt-change-set", ChangeSetName="first")
    described = settled(cfn, "cfnt-change-set")
    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    assert [s for _, s, _ in events(cfn, "cfnt-change-set")][:2] == [
        "REVIEW_IN_PROGRESS",
        "CREATE_IN_PROGRESS",
    ]
    assert set(failed_resources(cfn, "cfnt-change-set")) == {"Bucket"}
    assert (
        validation_error(
            cfn.create_change_set,
            StackName="cfnt-change-set-bad",
            ChangeSetName="first",
            ChangeSetType="CREATE",
            TemplateBody=body("parameter_typo.yaml"),
        )
        == "Invalid template parameter property 'Deafault'"
    )
    cfn.delete_stack(StackName="cfnt-change-set")


# ---- dynamic references ---------------------------------------------------------------------------------


def test_secretsmanager_reference_resolves_to_the_secret_value(aws, cfn):
    aws.client("secretsmanager", account=ACCOUNT).create_secret(
        Name="cfnt-secret", SecretString=json.dumps({"user": "app", "password": "s3cr3t"})
    )
    cfn.create_stack(
        StackName="cfnt-secret",
        TemplateBody=body("secret_reference.yaml"),
        Parameters=[{"ParameterKey": "SecretName", "ParameterValue": "cfnt-secret"}],
    )
    described = settled(cfn, "cfnt-secret")
    assert described["StackStatus"] == "CREATE_COMPLETE", events(cfn, "cfnt-secret")
    name = described["Outputs"][0]["OutputValue"]
    assert aws.client("ssm", account=ACCOUNT).get_parameter(Name=name)["Parameter"]["Value"] == "s3cr3t"
    cfn.delete_stack(StackName="cfnt-secret")


def test_secretsmanager_reference_to_a_missing_secret_fails_the_resource(cfn):
    cfn.create_stack(
        StackName="cfnt-no-secret",
        TemplateBody=body("secret_reference.yaml"),
        Parameters=[{"ParameterKey": "SecretName", "ParameterValue": "cfnt-no-such-secret"}],
    )
    assert settled(cfn, "cfnt-no-secret")["StackStatus"] == "ROLLBACK_COMPLETE"
    assert failed_resources(cfn, "cfnt-no-secret") == {
        "Copy": "Secrets Manager can't find the specified secret. "
        "(Service: AWSSecretsManager; Status Code: 400; Error Code: ResourceNotFoundException)"
    }
    cfn.delete_stack(StackName="cfnt-no-secret")


# ---- custom resources -----------------------------------------------------------------------------------


def custom_stack(cfn, name: str, mode: str, service_timeout: int = 3600) -> dict:
    cfn.create_stack(
        StackName=name,
        TemplateBody=body("custom_resource.yaml"),
        Parameters=[
            {"ParameterKey": "Mode", "ParameterValue": mode},
            {"ParameterKey": "ServiceTimeout", "ParameterValue": str(service_timeout)},
        ],
        Capabilities=["CAPABILITY_IAM"],
    )
    return settled(cfn, name)


def provider_requests(aws, stack: str) -> dict[str, str]:
    """What the provider function recorded: request type -> 'PhysicalResourceId Greeting'."""
    found = aws.client("ssm", account=ACCOUNT).get_parameters_by_path(Path=f"/cfnt/{stack}/")["Parameters"]
    return {p["Name"].rsplit("/", 1)[1]: p["Value"] for p in found}


def test_custom_resource_answers_with_data_for_getatt_and_gets_delete(aws, cfn):
    described = custom_stack(cfn, "cfnt-custom", "succeed")
    assert described["StackStatus"] == "CREATE_COMPLETE", events(cfn, "cfnt-custom")
    out = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    assert out == {"WidgetId": "widget-world", "Message": "hello world", "Size": "3"}  # scalars as strings
    resources = cfn.describe_stack_resources(StackName="cfnt-custom")["StackResources"]
    widget = next(r for r in resources if r["LogicalResourceId"] == "Widget")
    assert (widget["ResourceType"], widget["PhysicalResourceId"]) == ("Custom::Widget", "widget-world")
    consumer = next(r for r in resources if r["LogicalResourceId"] == "Consumer")["PhysicalResourceId"]
    ssm = aws.client("ssm", account=ACCOUNT)
    assert ssm.get_parameter(Name=consumer)["Parameter"]["Value"] == "hello world"
    assert provider_requests(aws, "cfnt-custom") == {"Create": "- world"}
    # the responses went to CloudFormation's bucket, not to one of the stack's account
    buckets = [b["Name"] for b in aws.client("s3", account=ACCOUNT).list_buckets()["Buckets"]]
    assert not [name for name in buckets if name.startswith("cloudformation-custom-resource-response")]

    cfn.delete_stack(StackName="cfnt-custom")
    wait_until(
        lambda: cfn.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"],
        accept=lambda summaries: any(s["StackName"] == "cfnt-custom" for s in summaries),
        timeout=60,
        describe_expected="cfnt-custom deleted",
    )
    # Delete reached the provider with the physical id it returned (before its function was deleted)
    assert provider_requests(aws, "cfnt-custom")["Delete"] == "widget-world world"


def test_custom_resource_failed_response_fails_it_and_rolls_back(aws, cfn):
    described = custom_stack(cfn, "cfnt-custom-fail", "fail")
    assert described["StackStatus"] == "ROLLBACK_COMPLETE", events(cfn, "cfnt-custom-fail")
    reason = failed_resources(cfn, "cfnt-custom-fail")["Widget"]
    assert reason.startswith(
        "Received response status [FAILED] from custom resource. Message returned: "
        "the widget is out of stock (RequestId: "
    )
    assert "Consumer" not in failed_resources(cfn, "cfnt-custom-fail")
    rolled_back = [e for e in events(cfn, "cfnt-custom-fail") if e[1] == "DELETE_COMPLETE"]
    assert {logical for logical, _, _ in rolled_back} == {"Widget", "Provider", "ProviderRole"}
    # the failed resource got its Delete, with the physical id of its FAILED response (cfnresponse's
    # default: the function's log stream), before its function went
    requests = provider_requests(aws, "cfnt-custom-fail")
    assert requests["Create"] == "- world"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32} world", requests["Delete"]), requests
    cfn.delete_stack(StackName="cfnt-custom-fail")


def test_custom_resource_without_an_answer_times_out_on_the_emulators_time_scale():
    # 200 AWS seconds at time scale 0.01: two seconds of waiting
    with running_emulator(time_scale=0.01) as fast:
        cfn = fast.client("cloudformation", account=ACCOUNT)
        described = custom_stack(cfn, "cfnt-custom-silent", "silent", service_timeout=200)
        assert described["StackStatus"] == "ROLLBACK_COMPLETE", events(cfn, "cfnt-custom-silent")
        reason = failed_resources(cfn, "cfnt-custom-silent")["Widget"]
        assert reason.startswith(
            "CloudFormation did not receive a response from your Custom Resource. "
            "Please check your logs for requestId ["
        )
        assert provider_requests(fast, "cfnt-custom-silent") == {"Create": "- world"}


def test_custom_resource_update_sends_old_properties_and_replacement_deletes_the_old_one(aws, cfn):
    assert custom_stack(cfn, "cfnt-custom-update", "succeed")["StackStatus"] == "CREATE_COMPLETE"
    cfn.update_stack(
        StackName="cfnt-custom-update",
        TemplateBody=body("custom_resource.yaml"),
        Parameters=[
            {"ParameterKey": "Mode", "ParameterValue": "succeed"},
            {"ParameterKey": "Greeting", "ParameterValue": "there"},
        ],
        Capabilities=["CAPABILITY_IAM"],
    )
    described = settled(cfn, "cfnt-custom-update")
    assert described["StackStatus"] == "UPDATE_COMPLETE", events(cfn, "cfnt-custom-update")
    out = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    assert (out["WidgetId"], out["Message"]) == ("widget-there", "hello there")
    # Update carried the old physical id and properties; the new physical id made the old one go
    assert provider_requests(aws, "cfnt-custom-update") == {
        "Create": "- world",
        "Update": "widget-world there world",
        "Delete": "widget-world world",
    }
    cfn.delete_stack(StackName="cfnt-custom-update")


def test_custom_resource_with_an_sns_topic_as_service_token(cfn):
    cfn.create_stack(
        StackName="cfnt-custom-sns",
        TemplateBody=body("custom_resource_sns.yaml"),
        Capabilities=["CAPABILITY_IAM"],
    )
    described = settled(cfn, "cfnt-custom-sns")
    assert described["StackStatus"] == "CREATE_COMPLETE", events(cfn, "cfnt-custom-sns")
    out = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    assert out == {"ThingId": "by-sns", "Via": "AWS::CloudFormation::CustomResource Create"}
    cfn.delete_stack(StackName="cfnt-custom-sns")


def test_cfnresponse_puts_the_documented_response_to_the_response_url(aws):
    from types import SimpleNamespace

    from gitops_harness.emulator.cloudformation import cfnresponse

    s3 = aws.client("s3", account=ACCOUNT)
    s3.create_bucket(Bucket="cfnt-responses")
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "cfnt-responses", "Key": "r1"})
    event = {"ResponseURL": url, "StackId": "arn:stack", "RequestId": "req-1", "LogicalResourceId": "Widget"}
    cfnresponse.send(
        event, SimpleNamespace(log_stream_name="stream-7"), cfnresponse.FAILED, {"A": "1"}, noEcho=True
    )
    sent = json.loads(s3.get_object(Bucket="cfnt-responses", Key="r1")["Body"].read())
    assert sent == {
        "Status": "FAILED",
        "Reason": "See the details in CloudWatch Log Stream: stream-7",
        "PhysicalResourceId": "stream-7",  # the log stream when no physical id is given
        "StackId": "arn:stack",
        "RequestId": "req-1",
        "LogicalResourceId": "Widget",
        "NoEcho": True,
        "Data": {"A": "1"},
    }
    # an unreachable URL is reported, never raised (the provider's own outcome must not depend on it)
    cfnresponse.send(
        {**event, "ResponseURL": "http://127.0.0.1:9/"}, SimpleNamespace(), cfnresponse.SUCCESS, {}
    )


def test_template_size_quotas_are_aws_s(aws, cfn):
    # 51,200 bytes in the request, 460,800 bytes read from S3 (CloudFormation's quotas); the template is
    # padded with a comment to exactly the size
    def padded(size: int) -> str:
        base = body("nested_child_ok.yaml")
        return base + "\n" + "#" * (size - len(base.encode()) - 1)

    too_long = padded(51_201)
    for call in (cfn.create_stack, cfn.validate_template):
        kwargs = {"StackName": "cfnt-too-long"} if call == cfn.create_stack else {}
        message = validation_error(call, TemplateBody=too_long, **kwargs)
        assert message.endswith("Member must have length less than or equal to 51200"), message
        assert "#####" not in message  # the template is not echoed back
    assert cfn.validate_template(TemplateBody=padded(51_200))["Parameters"] is not None

    s3 = aws.client("s3", account=ACCOUNT)
    s3.create_bucket(Bucket="cfnt-big-templates")
    s3.put_object(Bucket="cfnt-big-templates", Key="ok.yaml", Body=padded(460_800).encode())
    s3.put_object(Bucket="cfnt-big-templates", Key="big.yaml", Body=padded(460_801).encode())
    cfn.create_stack(
        StackName="cfnt-url-ok", TemplateURL="https://s3.amazonaws.com/cfnt-big-templates/ok.yaml"
    )
    assert settled(cfn, "cfnt-url-ok")["StackStatus"] == "CREATE_COMPLETE"
    cfn.delete_stack(StackName="cfnt-url-ok")
    big = "https://s3.amazonaws.com/cfnt-big-templates/big.yaml"
    assert validation_error(cfn.create_stack, StackName="cfnt-url-big", TemplateURL=big) == (
        "Template may not exceed 460800 bytes in size."
    )
