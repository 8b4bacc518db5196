"""The front door: routing by credential scope to moto, accounts from access keys, health, clear errors."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from botocore.config import Config

from gitops_harness.emulator.clients import RoleClients
from gitops_harness.emulator.testing import running_emulator

A, B = "111111111111", "222222222222"


@pytest.fixture(scope="module")
def aws():
    with running_emulator(planes=[]) as emulator:
        yield emulator


def _http(url: str, *, method: str = "GET", data: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_s3_path_style_round_trip(aws):
    s3 = aws.client("s3", account=A)
    s3.create_bucket(Bucket="fd-round-trip")
    s3.put_object(Bucket="fd-round-trip", Key="dir/k.txt", Body=b"payload")
    assert s3.get_object(Bucket="fd-round-trip", Key="dir/k.txt")["Body"].read() == b"payload"
    params = {"Bucket": "fd-round-trip", "Key": "dir/k.txt"}
    v2_url = s3.generate_presigned_url("get_object", Params=params)
    assert "AWSAccessKeyId" in v2_url
    assert _http(v2_url) == (200, b"payload")  # SigV2 presigned: no scope, so S3, in the key's account
    s3v4 = aws.client("s3", account=A, config=Config(signature_version="s3v4"))
    v4_url = s3v4.generate_presigned_url("get_object", Params=params)
    assert "X-Amz-Credential" in v4_url
    assert _http(v4_url) == (200, b"payload")  # SigV4 presigned: routed by the query's credential scope


def test_sqs_round_trip(aws):
    sqs = aws.client("sqs", account=A)
    queue_url = sqs.create_queue(QueueName="fd-queue")["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="hello")
    [message] = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)["Messages"]
    assert message["Body"] == "hello"


def test_sts_account_from_a_12_digit_key_and_default_for_others(aws):
    assert aws.client("sts", account=B).get_caller_identity()["Account"] == B
    assert aws.client("sts", aws_access_key_id="test").get_caller_identity()["Account"] == "000000000000"


def test_accounts_are_isolated(aws):
    aws.client("s3", account=A).create_bucket(Bucket="fd-only-in-a")
    names_b = [bucket["Name"] for bucket in aws.client("s3", account=B).list_buckets()["Buckets"]]
    names_a = [bucket["Name"] for bucket in aws.client("s3", account=A).list_buckets()["Buckets"]]
    assert "fd-only-in-a" in names_a and "fd-only-in-a" not in names_b


def test_assumed_role_credentials_act_in_the_roles_account(aws):
    creds = aws.client("sts", account=A).assume_role(
        RoleArn=f"arn:aws:iam::{B}:role/deployer", RoleSessionName="fd-test"
    )["Credentials"]
    as_role = {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }
    identity = aws.client("sts", **as_role).get_caller_identity()
    assert identity["Account"] == B
    assert identity["Arn"] == f"arn:aws:sts::{B}:assumed-role/deployer/fd-test"
    aws.client("s3", **as_role).create_bucket(Bucket="fd-made-by-role")
    assert "fd-made-by-role" in [b["Name"] for b in aws.client("s3", account=B).list_buckets()["Buckets"]]
    assert "fd-made-by-role" not in [b["Name"] for b in aws.client("s3", account=A).list_buckets()["Buckets"]]


def test_iam_user_access_key_acts_in_the_users_account(aws):
    iam = aws.client("iam", account=B)
    iam.create_user(UserName="fd-mirror")
    key = iam.create_access_key(UserName="fd-mirror")["AccessKey"]
    sts = aws.client(
        "sts", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    identity = sts.get_caller_identity()
    assert identity["Account"] == B and identity["Arn"].endswith(":user/fd-mirror")


# One cheap call per moto service the pipeline uses; where the answer carries an ARN or account, it must
# be the caller's account (proves the per-request account reaches every service).
MOTO_CALLS = {
    "iam": lambda c: c.create_role(RoleName="fd-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"],
    "kms": lambda c: c.create_key()["KeyMetadata"]["Arn"],
    "sns": lambda c: c.create_topic(Name="fd-topic")["TopicArn"],
    "events": lambda c: c.put_rule(Name="fd-rule", EventPattern='{"source": ["aws.codecommit"]}')["RuleArn"],
    "ecr": lambda c: c.create_repository(repositoryName="fd-repo")["repository"]["repositoryArn"],
    "logs": lambda c: (
        c.create_log_group(logGroupName="fd-logs")
        and c.describe_log_groups(logGroupNamePrefix="fd-logs")["logGroups"][0]["arn"]
    ),
    "ssm": lambda c: (
        c.put_parameter(Name="/fd/p", Value="v", Type="String")
        and c.get_parameter(Name="/fd/p")["Parameter"]["ARN"]
    ),
    "secretsmanager": lambda c: c.create_secret(Name="fd-secret", SecretString="s")["ARN"],
    "cloudformation": lambda c: str(c.list_stacks()["StackSummaries"] == []) + f":{B}:",
    "lambda": lambda c: str(c.list_functions()["Functions"] == []) + f":{B}:",
    "elbv2": lambda c: str(c.describe_load_balancers()["LoadBalancers"] == []) + f":{B}:",
    "ecs": lambda c: c.create_cluster(clusterName="fd-cluster")["cluster"]["clusterArn"],
    "ec2": lambda c: c.describe_vpcs()["Vpcs"][0]["OwnerId"] + f":{B}:",
}


@pytest.mark.parametrize("service", sorted(MOTO_CALLS))
def test_moto_services_through_the_front_door(aws, service):
    assert f":{B}:" in MOTO_CALLS[service](aws.client(service, account=B))


def test_health_endpoints(aws):
    aws.client("sqs", account=A).list_queues()
    status, body = _http(aws.endpoint_url + "/_localstack/health")
    health = json.loads(body)
    assert status == 200 and {"services", "edition", "version"} <= set(health)
    assert health["services"]["sqs"] == "running" and health["services"]["s3"] in ("running", "available")
    assert "lambda" in health["services"]
    status, body = _http(aws.endpoint_url + "/_emulator/health")
    services = json.loads(body)["services"]
    assert services["sqs"]["provider"] == "moto"
    assert not [name for name, info in services.items() if info["provider"] == "emulator"]  # no planes here


def test_request_log_records_account_and_provider(aws):
    aws.client("sns", account=A).list_topics()
    status, body = _http(aws.endpoint_url + "/_emulator/requests")
    entries = json.loads(body)["requests"]
    assert any(e["service"] == "sns" and e["account"] == A and e["provider"] == "moto" for e in entries)


def test_request_log_records_the_callers_user_agent(aws, monkeypatch):
    # as CloudTrail's userAgent: a client started with an SDK app id can find its own calls
    monkeypatch.setenv("AWS_SDK_UA_APP_ID", "frontdoor-ua-test")
    aws.client("sqs", account=A).list_queues()
    status, body = _http(aws.endpoint_url + "/_emulator/requests")
    [mine] = [e for e in json.loads(body)["requests"] if "app/frontdoor-ua-test" in e["userAgent"]]
    assert mine["service"] == "sqs" and mine["userAgent"].startswith("Boto3/")


def test_unsigned_request_is_refused_clearly(aws):
    status, body = _http(
        aws.endpoint_url + "/",
        method="POST",
        data=b"Action=ListQueues",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    error = json.loads(body)
    assert status == 403 and error["__type"] == "MissingAuthenticationTokenException"
    assert "credential scope" in error["message"]


def test_unknown_service_is_named(aws):
    auth = f"AWS4-HMAC-SHA256 Credential={A}/20240101/us-east-1/nosuchservice/aws4_request, SignedHeaders=host, Signature=0"
    status, body = _http(aws.endpoint_url + "/", method="POST", data=b"{}", headers={"Authorization": auth})
    error = json.loads(body)
    assert status == 501 and error["__type"] == "InternalFailure"
    assert "nosuchservice" in error["message"]


def test_role_clients_assume_cache_and_renew(aws):
    now = [1_000_000_000.0]
    clients = RoleClients(aws.endpoint_url, clock=lambda: now[0])
    role = f"arn:aws:iam::{B}:role/pipeline-role"
    s3 = clients.for_role("s3", role, source_account=A)
    s3.create_bucket(Bucket="fd-role-client")
    assert "fd-role-client" in [b["Name"] for b in aws.client("s3", account=B).list_buckets()["Buckets"]]
    assert clients.for_role("s3", role, source_account=A) is s3  # cached while the session is fresh
    first = clients.role_credentials(role, A, "gitops-emulator")
    now[0] = first.expires_at  # at expiry (inside the renewal margin): assume the role again
    renewed = clients.for_role("s3", role, source_account=A)
    assert renewed is not s3
    assert clients.role_credentials(role, A, "gitops-emulator").access_key != first.access_key
    assert clients.for_account("sts", A).get_caller_identity()["Account"] == A
    with pytest.raises(ValueError, match="not an IAM role ARN"):
        clients.for_role("s3", "arn:aws:s3:::bucket")


def test_request_log_names_every_moto_operation(aws):
    """moto's requests read "operation": "?" in the log; each protocol names its operation differently."""
    account = "545454545454"
    aws.client("sts", account=account).get_caller_identity()  # query (form body)
    s3 = aws.client("s3", account=account)  # rest-xml, path style
    s3.create_bucket(Bucket="named-ops")
    s3.put_object(Bucket="named-ops", Key="k/v.txt", Body=b"x")
    s3.get_object(Bucket="named-ops", Key="k/v.txt")
    s3.list_objects_v2(Bucket="named-ops")
    aws.client("sqs", account=account).list_queues()  # json (X-Amz-Target)
    aws.client("lambda", account=account).list_functions()  # rest-json
    aws.client("ec2", account=account).describe_vpcs()  # ec2
    status, body = _http(aws.endpoint_url + "/_emulator/requests")
    named = [(e["service"], e["operation"]) for e in json.loads(body)["requests"] if e["account"] == account]
    assert named == [
        ("sts", "GetCallerIdentity"),
        ("s3", "CreateBucket"),
        ("s3", "PutObject"),
        ("s3", "GetObject"),
        ("s3", "ListObjectsV2"),
        ("sqs", "ListQueues"),
        ("lambda", "ListFunctions"),
        ("ec2", "DescribeVpcs"),
    ]


def test_operation_names_from_the_model_for_virtual_hosted_s3_and_unknown_requests():
    from io import BytesIO

    from gitops_harness.emulator.operations import operation_name

    virtual = {"REQUEST_METHOD": "GET", "PATH_INFO": "/key", "HTTP_HOST": "bucket.s3.us-east-1.amazonaws.com"}
    assert operation_name("s3", virtual) == "GetObject"
    body = b"Action=Publish&TopicArn=x"
    form = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": BytesIO(body),
    }
    assert operation_name("sns", form) == "Publish"
    assert form["wsgi.input"].read() == body  # put back for moto
    assert operation_name("lambda", {"REQUEST_METHOD": "PATCH", "PATH_INFO": "/nowhere"}) == "?"


def test_request_log_wait_for(aws):
    account = "565656565656"
    aws.client("sts", account=account).get_caller_identity()
    entry = aws.aws.front_door.wait_for_request(lambda r: r["account"] == account, timeout=5)
    assert (entry["service"], entry["operation"], entry["provider"]) == ("sts", "GetCallerIdentity", "moto")
    with pytest.raises(TimeoutError, match="front-door request"):
        aws.aws.front_door.wait_for_request(lambda r: r["account"] == "000000000001", timeout=0.05)


def test_background_planes_answer_once_loaded_and_moto_answers_meanwhile():
    """The CLI's cold start: planes load on a thread after the server listens; a plane's request waits
    for them, moto's services never do."""
    import boto3

    from gitops_harness.emulator.server import EmbeddedAWS

    aws = EmbeddedAWS(port=0, background_planes=True).start()
    try:

        def client(service: str):
            return boto3.client(
                service,
                endpoint_url=aws.endpoint_url,
                region_name="us-east-1",
                aws_access_key_id="575757575700",
                aws_secret_access_key="test",
            )

        assert client("sts").get_caller_identity()["Account"] == "575757575700"
        assert client("codepipeline").list_pipelines()["pipelines"] == []  # waits for the planes
        assert {p.service_name for p in aws.wait_for_planes()} >= {"codepipeline", "codecommit", "iam"}
        assert aws.front_door.planes["codepipeline"] is not None
    finally:
        aws.stop()


# ---- hostile requests: AWS-style 4xx in the service's format, each in the request log -------------


@pytest.fixture(scope="module")
def every():
    """The emulator with all its control planes: CodeCommit's own (not moto's) among them."""
    with running_emulator() as emulator:
        yield emulator


def _raw(aws, headers: dict[str, str], body: bytes = b"", *, method: str = "POST", path: str = "/"):
    """One request sent as written (http.client keeps a negative or false Content-Length as given)."""
    import http.client
    from urllib.parse import urlsplit

    where = urlsplit(aws.endpoint_url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=20)
    connection.putrequest(method, path, skip_accept_encoding=True)
    for key, value in headers.items():
        connection.putheader(key, value)
    connection.endheaders()
    if body:
        connection.send(body)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, response.getheader("Content-Type") or "", data


def _signed(service: str, region: str = "us-east-1") -> str:
    return f"AWS4-HMAC-SHA256 Credential={A}/20240101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0"


def _json_headers(service: str, target: str, length: int, region: str = "us-east-1") -> dict[str, str]:
    return {
        "Authorization": _signed(service, region),
        "X-Amz-Target": target,
        "Content-Type": "application/x-amz-json-1.1",
        "Content-Length": str(length),
    }


def _form_headers(service: str, length: int) -> dict[str, str]:
    """A signed query-protocol (form-encoded) request's headers."""
    return {
        "Authorization": _signed(service),
        "Content-Type": "application/x-www-form-urlencoded",
        "Content-Length": str(length),
    }


def _chunked(headers: dict[str, str]) -> dict[str, str]:
    """The same request sent with Transfer-Encoding: chunked and no Content-Length."""
    return {**{k: v for k, v in headers.items() if k != "Content-Length"}, "Transfer-Encoding": "chunked"}


def _logged(aws, status: int, service: str) -> None:
    aws.aws.front_door.wait_for_request(lambda e: e["status"] == status and e["service"] == service, 5)


@pytest.mark.parametrize("service", ["sqs", "codecommit"])  # moto's service and one of ours
def test_negative_content_length_is_a_400(every, service):
    status, kind, body = _raw(every, {"Authorization": _signed(service), "Content-Length": "-5"})
    assert status == 400 and kind.startswith("application/x-amz-json")
    assert json.loads(body)["__type"] == "BadRequest" and "Content-Length" in json.loads(body)["message"]
    _logged(every, 400, service)


@pytest.mark.parametrize(
    ("service", "target"),
    [("codecommit", "CodeCommit_20150413.ListRepositories"), ("logs", "Logs_20140328.DescribeLogGroups")],
)
def test_deeply_nested_json_is_a_serialization_exception(every, service, target):
    deep = b"[" * 100_000
    status, _, body = _raw(every, _json_headers(service, target, len(deep)), deep)
    assert status == 400 and json.loads(body)["__type"] == "SerializationException"
    _logged(every, 400, service)


def test_an_operation_of_another_service_is_invalid_action(every):
    form = b"Action=GetCallerIdentity&Version=2011-06-15"
    status, kind, body = _raw(every, _form_headers("iam", len(form)), form)
    assert status == 400 and kind == "text/xml"
    assert b"<Code>InvalidAction</Code>" in body and b"GetCallerIdentity" in body
    _logged(every, 400, "iam")


def test_presigned_sts_url_is_answered_by_sts(every):
    sts = every.client("sts", account=A)
    url = sts.generate_presigned_url("get_caller_identity")
    status, body = _http(url)
    assert status == 200 and b"<GetCallerIdentityResult>" in body and A.encode() in body


def test_oversized_body_is_refused_from_its_length_and_not_echoed(every):
    big = b"x" * (20 * 1024 * 1024)
    target = "CodeCommit_20150413.ListRepositories"
    status, _, body = _raw(every, _json_headers("codecommit", target, len(big)), big)
    assert status == 413 and len(body) < 1000
    assert json.loads(body)["__type"] == "RequestEntityTooLargeException"
    _logged(every, 413, "codecommit")


@pytest.mark.parametrize("service", ["sqs", "codecommit"])  # moto's service and one of ours
def test_a_small_chunked_body_reaches_the_service_whole(every, service):
    target = "CodeCommit_20150413.ListRepositories" if service == "codecommit" else "AmazonSQS.ListQueues"
    headers = _chunked(_json_headers(service, target, 0))
    status, _, body = _raw(every, headers, b"1\r\n{\r\n1\r\n}\r\n0\r\n\r\n")
    assert status == 200, body


def test_an_oversized_chunked_body_is_refused_too(every):
    """Without a Content-Length the limit still holds: the body is read one byte past it, no further."""
    chunk = b"x" * (1024 * 1024)
    headers = _chunked(_json_headers("codecommit", "CodeCommit_20150413.ListRepositories", 0))
    framed = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(17)) + b"0\r\n\r\n"
    status, _, body = _raw(every, headers, framed)
    assert status == 413 and len(body) < 1000
    assert json.loads(body)["__type"] == "RequestEntityTooLargeException"
    _logged(every, 413, "codecommit")


@pytest.mark.parametrize("name", ["..", "."])
def test_codecommit_refuses_dot_repository_names(every, name):
    codecommit = every.client("codecommit", account=A)
    with pytest.raises(codecommit.exceptions.InvalidRepositoryNameException):
        codecommit.create_repository(repositoryName=name)


@pytest.mark.parametrize("service", ["sqs", "codecommit"])
def test_region_that_is_not_a_region_is_refused(every, service):
    target = "CodeCommit_20150413.ListRepositories" if service == "codecommit" else "AmazonSQS.ListQueues"
    status, _, body = _raw(every, _json_headers(service, target, 2, region=".."), b"{}")
    error = json.loads(body)
    assert status == 403 and error["__type"] == "InvalidSignatureException"
    assert "valid region" in error["message"]
    _logged(every, 403, service)


def test_a_moto_failure_is_an_aws_style_500_in_the_log(every, monkeypatch):
    """Where moto itself breaks (Flask's HTML 500 page), the client gets InternalFailure in the service's
    format, and the request is logged."""
    from moto.sns.responses import SNSResponse

    def broken(self):
        raise KeyError("a moto bug")

    monkeypatch.setattr(SNSResponse, "list_topics", broken)
    form = b"Action=ListTopics&Version=2010-03-31"
    status, kind, body = _raw(every, _form_headers("sns", len(form)), form)
    assert status == 500 and kind == "text/xml" and b"<Code>InternalFailure</Code>" in body
    assert b"<html" not in body.lower()
    _logged(every, 500, "sns")
