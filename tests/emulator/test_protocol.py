"""Our protocol layer, proven by the strongest judge: botocore's own clients parse what we answer."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from emulator_demo_planes import ACCOUNT, DEMO_PLANES, DemoCodePipeline

from gitops_harness.emulator.testing import running_emulator

NO_CLIENT_VALIDATION = {"config": Config(parameter_validation=False, retries={"max_attempts": 1})}


@pytest.fixture(scope="module")
def aws():
    with running_emulator(planes=DEMO_PLANES) as emulator:
        yield emulator


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


# ---- json (X-Amz-Target) ---------------------------------------------------------------------------


def test_json_round_trip_with_timestamps_and_account(aws):
    codecommit = aws.client("codecommit", account=ACCOUNT)
    created = codecommit.create_repository(repositoryName="proto-repo", repositoryDescription="demo")
    meta = codecommit.get_repository(repositoryName="proto-repo")["repositoryMetadata"]
    assert meta["repositoryName"] == "proto-repo"
    assert meta["accountId"] == ACCOUNT
    assert isinstance(meta["creationDate"], datetime) and meta["creationDate"].tzinfo is not None
    assert abs((datetime.now(UTC) - meta["creationDate"]).total_seconds()) < 60
    assert meta["creationDate"] == created["repositoryMetadata"]["creationDate"]


def test_json_blob_is_base64_on_the_wire_and_bytes_in_boto3(aws):
    codecommit = aws.client("codecommit", account=ACCOUNT)
    codecommit.create_repository(repositoryName="blob-repo")
    assert codecommit.get_blob(repositoryName="blob-repo", blobId="b1")["content"] == b"\x00binary\xffcontent"


def test_state_is_per_account(aws):
    aws.client("codecommit", account=ACCOUNT).create_repository(repositoryName="only-in-a")
    with pytest.raises(ClientError) as excinfo:
        aws.client("codecommit", account="222222222222").get_repository(repositoryName="only-in-a")
    assert _error(excinfo)[0] == "RepositoryDoesNotExistException"


def test_modeled_error_code_reaches_boto3_as_its_exception_class(aws):
    codecommit = aws.client("codecommit", account=ACCOUNT)
    codecommit.create_repository(repositoryName="twice")
    with pytest.raises(codecommit.exceptions.RepositoryNameExistsException) as excinfo:
        codecommit.create_repository(repositoryName="twice")
    code, message, status = _error(excinfo)
    assert (code, status) == ("RepositoryNameExistsException", 400)
    assert "twice" in message


def test_param_validator_errors_answer_validation_exception(aws):
    codecommit = aws.client("codecommit", account=ACCOUNT, **NO_CLIENT_VALIDATION)
    with pytest.raises(ClientError) as excinfo:
        codecommit.get_repository(repositoryName="")  # min length 1
    code, message, status = _error(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert "repositoryName" in message
    with pytest.raises(ClientError) as excinfo:
        codecommit.get_repository()  # required member missing
    assert _error(excinfo)[0] == "ValidationException"
    assert "Missing required parameter" in _error(excinfo)[1]


def test_unimplemented_operation_names_itself(aws):
    codecommit = aws.client("codecommit", account=ACCOUNT)
    with pytest.raises(ClientError) as excinfo:
        codecommit.delete_repository(repositoryName="x")
    code, message, status = _error(excinfo)
    assert (code, status) == ("InternalFailure", 501)
    assert "DeleteRepository" in message and "codecommit" in message


def test_unknown_target_and_broken_json_are_clear_errors(aws):
    def post(target: str, body: bytes) -> tuple[int, dict]:
        request = urllib.request.Request(
            aws.endpoint_url,
            data=body,
            method="POST",
            headers={
                "X-Amz-Target": target,
                "Content-Type": "application/x-amz-json-1.1",
                "Authorization": f"AWS4-HMAC-SHA256 Credential={ACCOUNT}/20240101/us-east-1/codecommit/aws4_request, "
                "SignedHeaders=host, Signature=0",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    status, body = post("CodeCommit_20150413.NoSuchThing", b"{}")
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    assert "NoSuchThing" in body["message"]
    status, body = post("CodeCommit_20150413.GetRepository", b"{not json")
    assert (status, body["__type"]) == (400, "SerializationException")


# ---- smithy-rpc-v2-cbor (what botocore speaks to codepipeline) ------------------------------------


def test_cbor_round_trip_keeps_nested_timestamps(aws):
    codepipeline = aws.client("codepipeline", account=ACCOUNT)
    assert codepipeline.meta.service_model.protocol == "smithy-rpc-v2-cbor"
    [summary] = codepipeline.list_pipelines()["pipelines"]
    assert summary["created"] == DemoCodePipeline.created  # sub-second precision survives
    state = codepipeline.get_pipeline_state(name="demo")
    action = state["stageStates"][0]["actionStates"][0]
    assert action["latestExecution"]["token"] == "tok-1"
    assert action["latestExecution"]["lastStatusChange"] == DemoCodePipeline.created


def test_cbor_errors(aws):
    codepipeline = aws.client("codepipeline", account=ACCOUNT, **NO_CLIENT_VALIDATION)
    with pytest.raises(codepipeline.exceptions.PipelineNotFoundException):
        codepipeline.get_pipeline_state(name="missing")
    with pytest.raises(ClientError) as excinfo:
        codepipeline.get_pipeline_state(name="")
    assert _error(excinfo)[0] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        codepipeline.get_pipeline(name="demo")
    assert _error(excinfo)[:1] == ("InternalFailure",) and "GetPipeline" in _error(excinfo)[1]


# ---- rest-json (codestar-notifications) -----------------------------------------------------------


def test_rest_json_routes_by_uri_and_binds_path_and_query(aws):
    notifications = aws.client("codestar-notifications", account=ACCOUNT)
    assert notifications.list_event_types()["EventTypes"][0]["ServiceName"] == "CodeBuild"
    arn = notifications.create_notification_rule(
        Name="builds",
        EventTypeIds=["codebuild-project-build-state-succeeded"],
        Resource=f"arn:aws:codebuild:us-east-1:{ACCOUNT}:project/app",
        Targets=[{"TargetType": "SNS", "TargetAddress": f"arn:aws:sns:us-east-1:{ACCOUNT}:chat"}],
        DetailType="FULL",
        Tags={"team": "a", "cost": "b", "keep": "c"},
    )["Arn"]
    # UntagResource: the ARN travels in the path (with '/' encoded), the keys in a repeated query param
    notifications.untag_resource(Arn=arn, TagKeys=["team", "cost"])
    rule = notifications.describe_notification_rule(Arn=arn)
    assert rule["Tags"] == {"keep": "c"}
    assert isinstance(rule["CreatedTimestamp"], datetime)
    assert rule["CreatedBy"] == f"arn:aws:iam::{ACCOUNT}:root"


def test_rest_json_modeled_status_code(aws):
    notifications = aws.client("codestar-notifications", account=ACCOUNT)
    with pytest.raises(notifications.exceptions.ResourceNotFoundException) as excinfo:
        notifications.describe_notification_rule(
            Arn=f"arn:aws:codestar-notifications:us-east-1:{ACCOUNT}:notificationrule/none"
        )
    assert _error(excinfo)[2] == 404  # the model's httpStatusCode for ResourceNotFoundException


def test_caller_is_the_assumed_role(aws):
    sts = aws.client("sts", account=ACCOUNT)
    creds = sts.assume_role(RoleArn="arn:aws:iam::333333333333:role/notifier", RoleSessionName="proto")[
        "Credentials"
    ]
    notifications = aws.client(
        "codestar-notifications",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    arn = notifications.create_notification_rule(
        Name="r",
        EventTypeIds=["codebuild-project-build-state-failed"],
        Resource="arn:aws:codebuild:us-east-1:333333333333:project/app",
        Targets=[{"TargetType": "SNS", "TargetAddress": "arn:aws:sns:us-east-1:333333333333:t"}],
        DetailType="BASIC",
    )["Arn"]
    assert ":333333333333:" in arn  # acts in the role's account
    created_by = notifications.describe_notification_rule(Arn=arn)["CreatedBy"]
    assert created_by == "arn:aws:sts::333333333333:assumed-role/notifier/proto"
