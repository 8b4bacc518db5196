"""Lambda functions on the embedded AWS (emulator/lambda_runtime): python3.x zips run as local processes.

Everything goes through boto3 against a running emulator: CreateFunction, Invoke, SNS subscriptions,
CloudWatch Logs. The functions' side effects (SQS messages, webhook posts) are waited on with deadlines.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import queue
import re
import threading
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gitops_harness.emulator.testing import RunningEmulator, running_emulator
from gitops_harness.waiting import wait_until

ACCOUNT = "646464646464"
NOTIFIER = Path(__file__).resolve().parents[2] / "fixtures" / "chat-notifier"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


@pytest.fixture(scope="module")
def aws() -> Iterator[RunningEmulator]:
    with running_emulator() as emulator:
        emulator.client("iam", account=ACCOUNT).create_role(
            RoleName="function-role", AssumeRolePolicyDocument=json.dumps(TRUST)
        )
        yield emulator


def zipped(files: dict[str, str]) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zip_file:
        for name, text in files.items():
            zip_file.writestr(name, text)
    return archive.getvalue()


def create_function(
    aws: RunningEmulator, name: str, source: str, *, runtime: str = "python3.12", **options: Any
) -> dict[str, Any]:
    return aws.client("lambda", account=ACCOUNT).create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=f"arn:aws:iam::{ACCOUNT}:role/function-role",
        Handler="handler.handler",
        Code={"ZipFile": zipped({"handler.py": source})},
        **options,
    )


def create_queue(aws: RunningEmulator, name: str) -> str:
    return aws.client("sqs", account=ACCOUNT).create_queue(QueueName=name)["QueueUrl"]


def next_message(aws: RunningEmulator, queue_url: str, timeout: float = 15) -> str:
    sqs = aws.client("sqs", account=ACCOUNT)

    def receive() -> list[dict[str, Any]]:
        return sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])

    messages = wait_until(receive, timeout=timeout, describe_expected=f"a message on {queue_url}", interval=0)
    return str(messages[0]["Body"])


def invoke(aws: RunningEmulator, name: str, event: Any = None, **options: Any) -> tuple[dict[str, Any], Any]:
    answer = aws.client("lambda", account=ACCOUNT).invoke(
        FunctionName=name, Payload=json.dumps(event or {}).encode(), **options
    )
    body = answer["Payload"].read()
    return answer, json.loads(body) if body else None


INTROSPECTING = """
import os, sys, boto3
def handler(event, context):
    try:
        import gitops_harness  # noqa: F401
        harness_visible = True
    except ImportError:
        harness_visible = False
    return {
        "event": event,
        "env": dict(os.environ),
        "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining": context.get_remaining_time_in_millis(),
        },
        "caller": boto3.client("sts").get_caller_identity()["Arn"],
        "harness_visible": harness_visible,
        "cwd": os.getcwd(),
    }
"""


def test_invoke_runs_the_handler_with_its_environment_context_and_role(
    aws: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_ONLY_SECRET", "must-not-leak")
    create_function(
        aws, "introspect", INTROSPECTING, Environment={"Variables": {"GREETING": "hello"}}, MemorySize=256
    )
    answer, result = invoke(aws, "introspect", {"ping": 1})

    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert answer["ExecutedVersion"] == "$LATEST"
    assert result["event"] == {"ping": 1}
    env = result["env"]
    assert env["GREETING"] == "hello"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "introspect"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["_HANDLER"] == "handler.handler"
    assert env["LAMBDA_TASK_ROOT"] == result["cwd"]
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/introspect"
    assert env["AWS_ENDPOINT_URL"] == aws.endpoint_url
    assert env["AWS_SESSION_TOKEN"] and env["AWS_ACCESS_KEY_ID"] != ACCOUNT
    # nothing of the harness's process: not its variables, not its packages
    assert "HARNESS_ONLY_SECRET" not in env and "PYTHONPATH" not in env
    assert result["harness_visible"] is False
    # the role's temporary credentials work against the emulator
    assert result["caller"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/function-role/introspect"
    context = result["context"]
    assert context["function_name"] == "introspect"
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:introspect"
    assert context["memory_limit_in_mb"] == "256"
    assert context["log_group_name"] == "/aws/lambda/introspect"
    assert context["log_stream_name"] == env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert 0 < context["remaining"] <= 3000
    assert re.fullmatch(r"[0-9a-f-]{36}", context["aws_request_id"])


def test_logs_land_in_the_function_log_group_with_start_end_report(aws: RunningEmulator) -> None:
    source = "def handler(event, context):\n    print('working on', event['job'])\n    return 'done'\n"
    create_function(aws, "logger", source)
    answer, result = invoke(aws, "logger", {"job": "j-42"}, LogType="Tail")
    assert result == "done"

    logs = aws.client("logs", account=ACCOUNT)
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/logger")["logStreams"]
    assert len(streams) == 1
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", streams[0]["logStreamName"])
    lines = [
        event["message"]
        for event in logs.get_log_events(
            logGroupName="/aws/lambda/logger", logStreamName=streams[0]["logStreamName"]
        )["events"]
    ]
    assert lines[0].startswith("START RequestId: ") and lines[0].endswith(" Version: $LATEST")
    request_id = lines[0].split()[2]
    assert "working on j-42" in lines
    assert lines[-2] == f"END RequestId: {request_id}"
    assert re.match(
        rf"REPORT RequestId: {request_id}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\t",
        lines[-1],
    )
    # LogType=Tail: the same log, base64 in the response
    assert "working on j-42" in base64.b64decode(answer["LogResult"]).decode()


def test_a_raising_handler_answers_function_error_unhandled(aws: RunningEmulator) -> None:
    source = "def handler(event, context):\n    raise ValueError('no such order: ' + event['order'])\n"
    create_function(aws, "raiser", source)
    answer, error = invoke(aws, "raiser", {"order": "o-7"})

    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] == "Unhandled"
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "no such order: o-7"
    assert any('handler.py", line 2, in handler' in frame for frame in error["stackTrace"])


def test_import_errors_are_named_as_lambda_names_them(aws: RunningEmulator) -> None:
    create_function(aws, "broken-import", "import not_a_module_anywhere\ndef handler(e, c):\n    return 1\n")
    answer, error = invoke(aws, "broken-import")
    assert answer["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["errorMessage"].startswith("Unable to import module 'handler': No module named")


def test_a_function_past_its_timeout_is_killed_and_answers_task_timed_out(aws: RunningEmulator) -> None:
    # blocks on a socket nobody writes to: it would wait forever without the timeout
    source = "import socket\ndef handler(event, context):\n    a, b = socket.socketpair()\n    a.recv(1)\n"
    create_function(aws, "sleeper", source, Timeout=1)
    started = time.monotonic()
    answer, error = invoke(aws, "sleeper")
    elapsed = time.monotonic() - started

    assert answer["FunctionError"] == "Unhandled"
    assert re.search(r"Task timed out after 1\.\d\d seconds", error["errorMessage"])
    assert elapsed < 5


def test_event_invocation_answers_202_and_runs_in_the_background(aws: RunningEmulator) -> None:
    go, done = create_queue(aws, "event-go"), create_queue(aws, "event-done")
    # the function waits for a "go" the test sends only after Invoke answered: a blocking Invoke would hang
    source = f"""
import boto3
def handler(event, context):
    sqs = boto3.client("sqs")
    for _ in range(20):
        if sqs.receive_message(QueueUrl="{go}", WaitTimeSeconds=1).get("Messages"):
            break
    sqs.send_message(QueueUrl="{done}", MessageBody="ran with " + event["token"])
"""
    create_function(aws, "eventful", source, Timeout=30)
    answer = aws.client("lambda", account=ACCOUNT).invoke(
        FunctionName="eventful", InvocationType="Event", Payload=b'{"token": "t-1"}'
    )
    assert answer["StatusCode"] == 202
    aws.client("sqs", account=ACCOUNT).send_message(QueueUrl=go, MessageBody="go")
    assert next_message(aws, done, timeout=25) == "ran with t-1"


def test_dry_run_checks_without_running(aws: RunningEmulator) -> None:
    done = create_queue(aws, "dry-run-done")
    source = f"import boto3\ndef handler(e, c):\n    boto3.client('sqs').send_message(QueueUrl='{done}', MessageBody='ran')\n"
    create_function(aws, "dry", source)
    answer = aws.client("lambda", account=ACCOUNT).invoke(FunctionName="dry", InvocationType="DryRun")
    assert answer["StatusCode"] == 204
    invoke(aws, "dry")  # a real run afterwards: its message is the only one on the queue
    assert next_message(aws, done) == "ran"
    assert aws.client("sqs", account=ACCOUNT).receive_message(QueueUrl=done).get("Messages") is None


def test_sns_publish_runs_a_subscribed_function_with_the_sns_event(aws: RunningEmulator) -> None:
    seen = create_queue(aws, "sns-seen")
    source = f"""
import json, boto3
def handler(event, context):
    record = event["Records"][0]
    body = {{"source": record["EventSource"], "message": record["Sns"]["Message"]}}
    boto3.client("sqs").send_message(QueueUrl="{seen}", MessageBody=json.dumps(body))
"""
    function_arn = create_function(aws, "sns-subscriber", source)["FunctionArn"]
    sns = aws.client("sns", account=ACCOUNT)
    topic = sns.create_topic(Name="function-topic")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)
    sns.publish(TopicArn=topic, Message="build finished")
    assert json.loads(next_message(aws, seen)) == {"source": "aws:sns", "message": "build finished"}


def test_non_python_runtimes_fail_with_the_reason(aws: RunningEmulator) -> None:
    create_function(aws, "node-function", "exports.handler = async () => 1;", runtime="nodejs20.x")
    with pytest.raises(ClientError) as raised:
        invoke(aws, "node-function")
    error = raised.value.response["Error"]
    assert error["Code"] == "InvalidRuntimeException"
    assert "nodejs20.x" in error["Message"] and "python3.x" in error["Message"]


# --------------------------------------------------------------------------- the real chat notifier


class Webhook:
    """An incoming-webhook receiver on 127.0.0.1 that queues every JSON body posted to it."""

    def __init__(self) -> None:
        self.posts: queue.Queue[dict[str, Any]] = queue.Queue()
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                posts.put(json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0")))))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T0/B0/token"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    receiver = Webhook()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
    receiver.thread.join(timeout=5)


def test_the_chat_notifier_posts_a_build_notification_published_to_its_topic(
    aws: RunningEmulator, webhook: Webhook
) -> None:
    lam = aws.client("lambda", account=ACCOUNT)
    function_arn = lam.create_function(
        FunctionName="chat-notifier",
        Runtime="python3.12",
        Role=f"arn:aws:iam::{ACCOUNT}:role/function-role",
        Handler="handler.handler",
        Code={"ZipFile": zipped({"handler.py": (NOTIFIER / "handler.py").read_text()})},
        Timeout=30,
        Environment={"Variables": {"WEBHOOK_URL": webhook.url}},
    )["FunctionArn"]
    sns = aws.client("sns", account=ACCOUNT)
    topic = sns.create_topic(Name="pipeline-notifications")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)
    delivery = json.loads((NOTIFIER / "events" / "sns-codebuild-build-succeeded.json").read_text())
    sns.publish(TopicArn=topic, Message=delivery["Records"][0]["Sns"]["Message"])

    post = wait_until(
        lambda: webhook.posts.get(timeout=1),
        timeout=20,
        describe_expected="a chat post from the notifier",
        retry_on=(queue.Empty,),
        interval=0,
    )
    assert post["text"].startswith("Build finished: ")
    assert "succeeded" in post["text"]


def test_code_from_s3_and_a_layer_on_sys_path(aws: RunningEmulator) -> None:
    s3 = aws.client("s3", account=ACCOUNT)
    s3.create_bucket(Bucket="function-code-646464")
    s3.put_object(
        Bucket="function-code-646464",
        Key="fn.zip",
        Body=zipped(
            {"handler.py": "import greeting\ndef handler(e, c):\n    return greeting.hello(e['who'])\n"}
        ),
    )
    lam = aws.client("lambda", account=ACCOUNT)
    layer = lam.publish_layer_version(
        LayerName="greeting",
        Content={"ZipFile": zipped({"python/greeting.py": "def hello(who):\n    return 'hello ' + who\n"})},
        CompatibleRuntimes=["python3.12"],
    )["LayerVersionArn"]
    lam.create_function(
        FunctionName="from-s3",
        Runtime="python3.12",
        Role=f"arn:aws:iam::{ACCOUNT}:role/function-role",
        Handler="handler.handler",
        Code={"S3Bucket": "function-code-646464", "S3Key": "fn.zip"},
        Layers=[layer],
    )
    answer, result = invoke(aws, "from-s3", {"who": "layer"})
    assert "FunctionError" not in answer
    assert result == "hello layer"


def test_a_published_version_runs_its_own_code(aws: RunningEmulator) -> None:
    lam = aws.client("lambda", account=ACCOUNT)
    create_function(aws, "versioned", "def handler(e, c):\n    return ['one', c.function_version]\n")
    version_arn = lam.publish_version(FunctionName="versioned")["FunctionArn"]
    lam.update_function_code(
        FunctionName="versioned", ZipFile=zipped({"handler.py": "def handler(e, c):\n    return 'two'\n"})
    )
    # a qualified ARN: moto 5.2.5 reads Invoke's Qualifier from the wrong (lower-case) query parameter
    answer, result = invoke(aws, version_arn)
    assert result == ["one", "1"] and answer["ExecutedVersion"] == "1"
    assert invoke(aws, "versioned")[1] == "two"


def test_container_image_functions_are_refused_with_the_reason(aws: RunningEmulator) -> None:
    aws.client("lambda", account=ACCOUNT).create_function(
        FunctionName="image-function",
        Role=f"arn:aws:iam::{ACCOUNT}:role/function-role",
        PackageType="Image",
        Code={"ImageUri": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/fn:latest"},
    )
    with pytest.raises(ClientError) as raised:
        invoke(aws, "image-function")
    assert raised.value.response["Error"]["Code"] == "InvalidRuntimeException"
    assert "container image" in raised.value.response["Error"]["Message"]


def test_moto_never_reaches_docker(aws: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every way a function runs (sync, async, from SNS, with a layer: moto's layer path pulls busybox)
    goes through the project's executor: moto's Docker client is never asked for, so no registry is."""
    from moto.utilities.docker_utilities import DockerModel

    reached: list[str] = []

    def no_docker(self: Any) -> Any:
        reached.append(type(self).__name__)  # recorded too: a background invocation swallows the raise
        raise AssertionError("moto reached for a Docker client")

    def no_image(self: Any, name: str) -> None:
        reached.append(f"image {name}")
        raise AssertionError(f"moto tried to pull {name}")

    monkeypatch.setattr(DockerModel, "docker_client", property(no_docker))
    monkeypatch.setattr(DockerModel, "ensure_image_exists", no_image)
    done = create_queue(aws, "no-docker-done")
    source = (
        "import boto3, helper\n"
        "def handler(e, c):\n"
        f"    boto3.client('sqs').send_message(QueueUrl='{done}', MessageBody=helper.word(e))\n"
        "    return 'local'\n"
    )
    lam = aws.client("lambda", account=ACCOUNT)
    layer = lam.publish_layer_version(
        LayerName="no-docker-helper",
        Content={"ZipFile": zipped({"python/helper.py": "def word(e):\n    return str(e.get('via'))\n"})},
        CompatibleRuntimes=["python3.12"],
    )["LayerVersionArn"]
    function_arn = create_function(aws, "no-docker", source, Layers=[layer])["FunctionArn"]
    assert invoke(aws, "no-docker", {"via": "sync"})[1] == "local"
    assert next_message(aws, done) == "sync"
    lam.invoke(FunctionName="no-docker", InvocationType="Event", Payload=b'{"via": "event"}')
    assert next_message(aws, done) == "event"
    sns = aws.client("sns", account=ACCOUNT)
    topic = sns.create_topic(Name="no-docker-topic")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)
    sns.publish(TopicArn=topic, Message="x")
    assert next_message(aws, done) == "None"  # an SNS event has no "via"
    assert reached == []


def test_the_newest_running_emulator_runs_functions_and_the_patch_comes_out_with_the_last() -> None:
    from moto.awslambda.models import LambdaFunction

    before = LambdaFunction.invoke
    source = "import os\ndef handler(e, c):\n    return os.environ['AWS_ENDPOINT_URL']\n"
    with running_emulator() as first:
        first.client("iam", account="656565656565").create_role(
            RoleName="function-role", AssumeRolePolicyDocument=json.dumps(TRUST)
        )
        first.client("lambda", account="656565656565").create_function(
            FunctionName="where",
            Runtime="python3.12",
            Role="arn:aws:iam::656565656565:role/function-role",
            Handler="handler.handler",
            Code={"ZipFile": zipped({"handler.py": source})},
        )

        def endpoint_seen(through: RunningEmulator) -> str:
            answer = through.client("lambda", account="656565656565").invoke(FunctionName="where")
            return json.loads(answer["Payload"].read())

        with running_emulator() as second:
            # moto's functions are shared: whichever door the call comes through, the newest emulator runs it
            assert endpoint_seen(first) == second.endpoint_url
        assert endpoint_seen(first) == first.endpoint_url
    assert LambdaFunction.invoke is before


def test_a_failing_asynchronous_invocation_is_retried_twice_with_its_request_id() -> None:
    account = "666666666666"
    # one AWS minute before the first retry and two before the second: 0.3 s and 0.6 s at this scale
    with running_emulator(time_scale=0.005) as scaled:
        scaled.client("iam", account=account).create_role(
            RoleName="function-role", AssumeRolePolicyDocument=json.dumps(TRUST)
        )
        attempts = scaled.client("sqs", account=account).create_queue(QueueName="attempts")["QueueUrl"]
        source = f"""
import boto3
def handler(event, context):
    boto3.client("sqs").send_message(QueueUrl="{attempts}", MessageBody=context.aws_request_id)
    raise RuntimeError("chat is down")
"""
        scaled.client("lambda", account=account).create_function(
            FunctionName="flaky",
            Runtime="python3.12",
            Role=f"arn:aws:iam::{account}:role/function-role",
            Handler="handler.handler",
            Code={"ZipFile": zipped({"handler.py": source})},
        )
        answer = scaled.client("lambda", account=account).invoke(FunctionName="flaky", InvocationType="Event")
        assert answer["StatusCode"] == 202
        sqs = scaled.client("sqs", account=account)
        seen: list[str] = []

        def three_attempts() -> list[str]:
            for message in sqs.receive_message(QueueUrl=attempts, WaitTimeSeconds=1).get("Messages", []):
                seen.append(message["Body"])
                sqs.delete_message(QueueUrl=attempts, ReceiptHandle=message["ReceiptHandle"])
            return seen

        wait_until(
            three_attempts,
            timeout=20,
            describe_expected="three attempts of the failing function",
            accept=lambda bodies: len(bodies) >= 3,
            interval=0,
        )
        assert len(set(seen)) == 1  # one request id across the retries


def test_a_function_bundling_its_own_boto3_imports_its_copy(aws: RunningEmulator) -> None:
    # Lambda puts the function's code before the runtime's packages on sys.path
    aws.client("lambda", account=ACCOUNT).create_function(
        FunctionName="own-boto3",
        Runtime="python3.12",
        Role=f"arn:aws:iam::{ACCOUNT}:role/function-role",
        Handler="handler.handler",
        Code={
            "ZipFile": zipped(
                {
                    "boto3/__init__.py": "__version__ = 'bundled'\n",
                    "handler.py": "import boto3\ndef handler(e, c):\n    return boto3.__version__\n",
                }
            )
        },
    )
    assert invoke(aws, "own-boto3")[1] == "bundled"


# --------------------------------------------------------------------------- both ways of starting a process


def _spec(name: str, source: str, *, timeout: float = 3, variables: dict[str, str] | None = None) -> Any:
    from gitops_harness.emulator.lambda_runtime.executor import FunctionSpec

    code = zipped({"handler.py": source})
    return FunctionSpec(
        account=ACCOUNT,
        region="us-east-1",
        name=name,
        invoked_arn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}",
        version="$LATEST",
        runtime="python3.12",
        handler="handler.handler",
        role=f"arn:aws:iam::{ACCOUNT}:role/function-role",
        timeout=timeout,
        memory_size=128,
        variables=variables or {},
        package_type="Zip",
        code_sha256=hashlib.sha256(code).hexdigest(),
        code=code,
    )


@pytest.fixture(scope="module", params=[True, False], ids=["forked", "spawned"])
def executor(
    request: pytest.FixtureRequest, aws: RunningEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    from gitops_harness.emulator.lambda_runtime import LambdaExecutor

    running = LambdaExecutor(
        lambda: aws.endpoint_url,
        tmp_path_factory.mktemp("lambda"),
        aws.aws.clients,
        aws.aws.scheduler,
        use_fork_server=request.param,
    )
    yield running
    running.close()


def test_both_process_kinds_run_the_handler_with_its_environment(executor: Any) -> None:
    source = "import os, boto3\ndef handler(e, c):\n    return [e, os.environ['COLOUR'], boto3.__name__]\n"
    result = executor.invoke(_spec("kinds-env", source, variables={"COLOUR": "green"}), b'{"n": 1}')
    assert result.function_error is None
    assert json.loads(result.payload) == [{"n": 1}, "green", "boto3"]


def test_both_process_kinds_kill_what_the_function_started_at_its_timeout(
    executor: Any, tmp_path: Path
) -> None:
    pid_file = tmp_path / "background.pid"
    source = f"""
import subprocess, socket
def handler(event, context):
    child = subprocess.Popen(["sleep", "600"])
    open({str(pid_file)!r}, "w").write(str(child.pid))
    a, b = socket.socketpair()
    a.recv(1)
"""
    # 2 s: time enough, even on a loaded machine, to start the background process before the timeout
    result = executor.invoke(_spec("kinds-timeout", source, timeout=2), b"{}")
    assert result.function_error == "Unhandled"
    assert "Task timed out after 2." in json.loads(result.payload)["errorMessage"]
    background = int(pid_file.read_text())

    def gone() -> bool:
        try:
            state = Path(f"/proc/{background}/stat").read_text().split(")")[-1].split()[0]
        except FileNotFoundError:
            return True
        return state == "Z"  # killed, waiting for init to reap it

    wait_until(gone, timeout=5, describe_expected=f"the function's background process {background} killed")


def test_both_process_kinds_report_a_runtime_exit(executor: Any) -> None:
    result = executor.invoke(_spec("kinds-exit", "import sys\ndef handler(e, c):\n    sys.exit(3)\n"), b"{}")
    assert result.function_error == "Unhandled"
    error = json.loads(result.payload)
    assert error["errorType"] == "Runtime.ExitError"
    assert error["errorMessage"].endswith("Runtime exited with error: exit status 3")


def test_a_payload_that_is_not_json_is_refused_before_anything_runs(aws: RunningEmulator) -> None:
    create_function(aws, "strict-json", "def handler(e, c):\n    return e\n")
    with pytest.raises(ClientError) as raised:
        aws.client("lambda", account=ACCOUNT).invoke(FunctionName="strict-json", Payload=b"{not json")
    assert raised.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert raised.value.response["Error"]["Message"].startswith("Could not parse request body into json")


def test_a_handler_in_a_folder_of_the_zip(aws: RunningEmulator) -> None:
    aws.client("lambda", account=ACCOUNT).create_function(
        FunctionName="nested-handler",
        Runtime="python3.12",
        Role=f"arn:aws:iam::{ACCOUNT}:role/function-role",
        Handler="app/main.entry",
        Code={
            "ZipFile": zipped(
                {"app/__init__.py": "", "app/main.py": "def entry(e, c):\n    return 'nested'\n"}
            )
        },
    )
    assert invoke(aws, "nested-handler")[1] == "nested"


def test_a_role_lambda_may_not_assume_fails_the_invocation_with_the_reason(aws: RunningEmulator) -> None:
    # a role only another account may assume (the emulator lets the platform stand in for any Service
    # principal, so a role trusting another service would be assumed)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    aws.client("iam", account=ACCOUNT).create_role(
        RoleName="others-only", AssumeRolePolicyDocument=json.dumps(trust)
    )
    aws.client("lambda", account=ACCOUNT).create_function(
        FunctionName="wrong-role",
        Runtime="python3.12",
        Role=f"arn:aws:iam::{ACCOUNT}:role/others-only",
        Handler="handler.handler",
        Code={"ZipFile": zipped({"handler.py": "def handler(e, c):\n    return 1\n"})},
    )
    with pytest.raises(ClientError) as raised:
        invoke(aws, "wrong-role")
    error = raised.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert "The role defined for the function cannot be assumed by Lambda" in error["Message"]
    assert f"arn:aws:iam::{ACCOUNT}:role/others-only" in error["Message"]


def test_an_sns_subscriber_that_cannot_run_does_not_fail_the_publish(aws: RunningEmulator) -> None:
    function_arn = create_function(
        aws, "node-subscriber", "exports.handler = async () => 1;", runtime="nodejs20.x"
    )["FunctionArn"]
    sns = aws.client("sns", account=ACCOUNT)
    topic = sns.create_topic(Name="node-topic")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)
    assert sns.publish(TopicArn=topic, Message="hello")["MessageId"]

    logs = aws.client("logs", account=ACCOUNT)

    def logged() -> list[str]:
        try:
            events = logs.filter_log_events(logGroupName="/aws/lambda/node-subscriber")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        return [event["message"] for event in events]

    lines = wait_until(logged, timeout=10, describe_expected="the refusal in /aws/lambda/node-subscriber")
    assert any("InvalidRuntimeException" in line and "nodejs20.x" in line for line in lines)


def test_parallel_invocations_of_one_function_each_answer_and_log(aws: RunningEmulator) -> None:
    create_function(aws, "parallel", "def handler(e, c):\n    print('job', e['n'])\n    return e['n']\n")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda n: invoke(aws, "parallel", {"n": n})[1], range(4)))
    assert results == [0, 1, 2, 3]
    logs = aws.client("logs", account=ACCOUNT)
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/parallel")["logStreams"]
    assert len(streams) == 4
    printed = {
        event["message"]
        for stream in streams
        for event in logs.get_log_events(
            logGroupName="/aws/lambda/parallel", logStreamName=stream["logStreamName"]
        )["events"]
        if event["message"].startswith("job ")
    }
    assert printed == {"job 0", "job 1", "job 2", "job 3"}


def test_a_one_letter_function_gets_its_role_session(aws: RunningEmulator) -> None:
    # STS wants session names of at least two characters; Lambda names the session after the function
    create_function(
        aws,
        "x",
        "import boto3\ndef handler(e, c):\n    return boto3.client('sts').get_caller_identity()['Arn']\n",
    )
    answer, caller = invoke(aws, "x")
    assert "FunctionError" not in answer
    assert caller.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/function-role/x")
