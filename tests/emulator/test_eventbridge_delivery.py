"""EventBridge delivery through the embedded AWS: cross-account forwarding under the receiving bus's policy,
CodePipeline targets started as the target's role, and moto's own targets still delivered.

Absence is proven on ordered paths: events bound for one target ARN are decided in the order PutEvents
accepted them, so when a later, allowed event arrives, every earlier one for that target was decided.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from moto.events.models import EventPattern

from gitops_harness.emulator.codecommit.events import DETAIL_TYPE, SOURCE, branch_pattern
from gitops_harness.emulator.controlplane import ControlPlane, RequestContext, Runtime
from gitops_harness.emulator.testing import running_emulator

A = "111111111111"  # management account: the repository, its rule forwards to B
B = "222222222222"  # pipeline account
C = "333333333333"  # an account B's bus does not allow
D = "444444444444"  # an account whose bus has no policy at all
REGION = "us-east-1"
DEADLINE = 10.0

# The DESIGN's source pattern; `resources` keeps each test's events to its own rules.
DESIGN_PATTERN = branch_pattern()
EVENTS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


class RecordingCodePipeline(ControlPlane):
    """Test-only codepipeline plane: records StartPipelineExecution calls and who made them."""

    service_name = "codepipeline"

    def __init__(self, runtime: Runtime):
        super().__init__(runtime)
        self.calls: list[dict[str, str]] = []
        self.changed = threading.Condition()

    def StartPipelineExecution(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        execution_id = str(uuid.uuid4())
        with self.changed:
            self.calls.append(
                {
                    "name": request["name"],
                    "account": ctx.account_id,
                    "caller": ctx.caller_arn,
                    "id": execution_id,
                }
            )
            self.changed.notify_all()
        return {"pipelineExecutionId": execution_id}

    def wait_calls(self, predicate: Any, timeout: float = DEADLINE) -> list[dict[str, str]]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not (found := [c for c in self.calls if predicate(c)]):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"no matching StartPipelineExecution within {timeout}s; calls: {self.calls}"
                    )
                self.changed.wait(remaining)
            return found


@pytest.fixture(scope="module")
def aws():
    with running_emulator(planes=[RecordingCodePipeline]) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def pipeline_plane(aws) -> RecordingCodePipeline:
    [plane] = aws.aws.planes
    return plane


@pytest.fixture(scope="module")
def b_allows_a(aws):
    events = aws.client("events", account=B)
    events.put_permission(
        EventBusName="default", Action="events:PutEvents", Principal=A, StatementId="ebd-allow-a"
    )
    yield
    events.remove_permission(EventBusName="default", StatementId="ebd-allow-a")


class Rules:
    """Rules a test creates, removed afterwards: moto's state outlives the emulator."""

    def __init__(self, aws):
        self.aws = aws
        self.created: list[tuple[str, str, str, list[str]]] = []

    def put(self, account: str, name: str, pattern: dict, targets: list[dict], bus: str = "default") -> None:
        events = self.aws.client("events", account=account)
        events.put_rule(Name=name, EventPattern=json.dumps(pattern), EventBusName=bus)
        events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        self.created.append((account, name, bus, [t["Id"] for t in targets]))

    def remove_all(self) -> None:
        for account, name, bus, ids in reversed(self.created):
            events = self.aws.client("events", account=account)
            events.remove_targets(Rule=name, EventBusName=bus, Ids=ids)
            events.delete_rule(Name=name, EventBusName=bus)


@pytest.fixture
def rules(aws):
    made = Rules(aws)
    yield made
    made.remove_all()


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _repo_arn(account: str, name: str) -> str:
    return f"arn:aws:codecommit:{REGION}:{account}:{name}"


def _bus(account: str, name: str = "default") -> str:
    return f"arn:aws:events:{REGION}:{account}:event-bus/{name}"


def _queue(aws, account: str) -> tuple[str, str]:
    sqs = aws.client("sqs", account=account)
    url = sqs.create_queue(QueueName=_unique("ebd"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _put(
    aws,
    account: str,
    repo_arn: str,
    *,
    event="referenceUpdated",
    ref_type="branch",
    ref="main",
    bus="default",
):
    commit = uuid.uuid4().hex + "00000000"
    detail = {
        "event": event,
        "repositoryName": repo_arn.rsplit(":", 1)[1],
        "referenceType": ref_type,
        "referenceName": ref,
        "referenceFullName": f"refs/{'heads' if ref_type == 'branch' else 'tags'}/{ref}",
        "commitId": commit,
    }
    entry = {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "Detail": json.dumps(detail),
        "Resources": [repo_arn],
        "Time": datetime.now(UTC),
        "EventBusName": bus,
    }
    answer = aws.client("events", account=account).put_events(Entries=[entry])
    assert answer["FailedEntryCount"] == 0, answer
    return commit


def _receive_until(aws, account: str, url: str, commit: str, timeout: float = DEADLINE) -> list[dict]:
    """Every message in the queue up to and including the one for `commit` (long polls, with a deadline)."""
    sqs = aws.client("sqs", account=account)
    deadline = time.monotonic() + timeout
    seen: list[dict] = []
    while not any(m["detail"]["commitId"] == commit for m in seen):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no message for commit {commit} within {timeout}s; seen {seen}")
        answer = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=max(1, min(5, int(remaining)))
        )
        for message in answer.get("Messages", []):
            seen.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    # anything already queued behind it (it would have been delivered before it on the ordered path)
    for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
        "Messages", []
    ):
        seen.append(json.loads(message["Body"]))
    return seen


def _forward_a_to_b(rules: Rules, aws, repo_arn: str) -> tuple[str, str]:
    """A's DESIGN rule forwarding to B's default bus; B's rule sending the repo's events to a queue in B."""
    rules.put(
        A, _unique("ebd-fwd"), {**DESIGN_PATTERN, "resources": [repo_arn]}, [{"Id": "b", "Arn": _bus(B)}]
    )
    url, queue_arn = _queue(aws, B)
    rules.put(
        B,
        _unique("ebd-probe"),
        {"source": ["aws.codecommit"], "resources": [repo_arn]},
        [{"Id": "q", "Arn": queue_arn}],
    )
    return url, queue_arn


# ---- moto's matcher on the DESIGN pattern --------------------------------------------------------------


@pytest.mark.parametrize(
    ("detail", "matches"),
    [
        ({"event": "referenceCreated", "referenceType": "branch", "referenceName": "main"}, True),
        ({"event": "referenceUpdated", "referenceType": "branch", "referenceName": "main"}, True),
        ({"event": "referenceDeleted", "referenceType": "branch", "referenceName": "main"}, False),
        ({"event": "referenceUpdated", "referenceType": "branch", "referenceName": "dev"}, False),
        ({"event": "referenceUpdated", "referenceType": "tag", "referenceName": "main"}, False),
        ({"event": "referenceUpdated", "referenceName": "main"}, False),
    ],
)
def test_moto_matcher_handles_the_design_pattern(detail, matches):
    event = {
        "source": "aws.codecommit",
        "detail-type": "CodeCommit Repository State Change",
        "detail": detail,
    }
    assert EventPattern.load(json.dumps(DESIGN_PATTERN)).matches_event(event) is matches
    assert EventPattern.load(json.dumps(DESIGN_PATTERN)).matches_event({**event, "source": "aws.s3"}) is False


def test_moto_method_replaced_while_running_and_restored_after():
    from moto.events.models import Rule

    before = Rule.send_to_targets  # moto's own, unless another emulator in this process runs
    with running_emulator(planes=[]):
        assert Rule.send_to_targets.__qualname__.startswith("routing_send_to_targets")
    assert Rule.send_to_targets is before


# ---- cross-account forwarding --------------------------------------------------------------------------


def test_forwarded_event_reaches_b_with_account_a(aws, rules, b_allows_a):
    repo_arn = _repo_arn(A, _unique("repo"))
    url, _ = _forward_a_to_b(rules, aws, repo_arn)
    # Events the pattern rejects go first: PutEvents matches them synchronously, so none is queued.
    _put(aws, A, repo_arn, ref="dev")
    _put(aws, A, repo_arn, ref_type="tag")
    _put(aws, A, repo_arn, event="referenceDeleted")
    commit = _put(aws, A, repo_arn, event="referenceCreated")
    [message] = _receive_until(aws, B, url, commit)
    assert message["account"] == A
    assert message["source"] == "aws.codecommit"
    assert message["detail-type"] == "CodeCommit Repository State Change"
    assert message["region"] == REGION
    assert message["resources"] == [repo_arn]
    assert message["detail"]["event"] == "referenceCreated"
    assert message["time"].endswith("Z")
    record = aws.aws.event_delivery.wait_for(
        lambda r: r["target"] == _bus(B) and r["outcome"] == "delivered", 1
    )
    assert record["account"] == A


def test_bus_policy_denies_other_accounts(aws, rules, b_allows_a):
    repo_c = _repo_arn(C, _unique("repo"))
    repo_a = _repo_arn(A, _unique("repo"))
    url, queue_arn = _queue(aws, B)
    # C forwards the same way A does, but B's policy names only A
    rules.put(C, _unique("ebd-fwd"), {**DESIGN_PATTERN, "resources": [repo_c]}, [{"Id": "b", "Arn": _bus(B)}])
    rules.put(A, _unique("ebd-fwd"), {**DESIGN_PATTERN, "resources": [repo_a]}, [{"Id": "b", "Arn": _bus(B)}])
    rules.put(
        B,
        _unique("ebd-probe"),
        {"source": ["aws.codecommit"], "resources": [repo_c, repo_a]},
        [{"Id": "q", "Arn": queue_arn}],
    )
    denied = _put(aws, C, repo_c)
    allowed = _put(aws, A, repo_a)  # same lane (B's default bus) after C's: decided after it
    seen = _receive_until(aws, B, url, allowed)
    assert [m["detail"]["commitId"] for m in seen] == [allowed]
    assert denied not in json.dumps(seen)
    failure = aws.aws.event_delivery.wait_for(lambda r: r["account"] == C and r["target"] == _bus(B), 1)
    assert failure["outcome"] == "failed"
    assert f"does not allow events:PutEvents from {C}" in failure["detail"]


def test_bus_without_policy_accepts_only_its_own_account(aws, rules):
    repo_a = _repo_arn(A, _unique("repo"))
    repo_d = _repo_arn(D, _unique("repo"))
    events_d = aws.client("events", account=D)
    ingress = _unique("ebd-ingress")
    events_d.create_event_bus(Name=ingress)
    try:
        url, queue_arn = _queue(aws, D)
        rules.put(
            A, _unique("ebd-fwd"), {**DESIGN_PATTERN, "resources": [repo_a]}, [{"Id": "d", "Arn": _bus(D)}]
        )
        # same account, bus to bus: no policy needed; same lane (D's default bus) as A's forward
        rules.put(
            D, _unique("ebd-hop"), {"source": ["aws.codecommit"]}, [{"Id": "d", "Arn": _bus(D)}], bus=ingress
        )
        rules.put(
            D,
            _unique("ebd-probe"),
            {"source": ["aws.codecommit"], "resources": [repo_a, repo_d]},
            [{"Id": "q", "Arn": queue_arn}],
        )
        denied = _put(aws, A, repo_a)
        allowed = _put(aws, D, repo_d, bus=ingress)
        seen = _receive_until(aws, D, url, allowed)
        assert [(m["account"], m["detail"]["commitId"]) for m in seen] == [(D, allowed)]
        failure = aws.aws.event_delivery.wait_for(lambda r: r["account"] == A and r["target"] == _bus(D), 1)
        assert failure["outcome"] == "failed" and "no resource policy" in failure["detail"]
        assert denied not in json.dumps(seen)
    finally:
        rules.remove_all()
        rules.created.clear()
        events_d.delete_event_bus(Name=ingress)


def test_a_forwarded_event_is_not_forwarded_again(aws, rules, b_allows_a):
    repo_a = _repo_arn(A, _unique("repo"))
    rules.put(A, _unique("ebd-fwd"), {**DESIGN_PATTERN, "resources": [repo_a]}, [{"Id": "b", "Arn": _bus(B)}])
    # B would send it on to D (a third account); AWS does not deliver such a second hop
    onward = _unique("ebd-onward")
    rules.put(B, onward, {"resources": [repo_a]}, [{"Id": "d", "Arn": _bus(D)}])
    _put(aws, A, repo_a)
    record = aws.aws.event_delivery.wait_for(lambda r: r["rule"].endswith(f"/{onward}"), DEADLINE)
    assert record["outcome"] == "failed" and "not forwarded again" in record["detail"]


# ---- CodePipeline targets ------------------------------------------------------------------------------


def _role(aws, account: str, trust: dict) -> str:
    iam = aws.client("iam", account=account)
    return iam.create_role(RoleName=_unique("ebd-role"), AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]


def test_forwarded_event_starts_the_pipeline_as_the_target_role(aws, rules, pipeline_plane, b_allows_a):
    repo_a = _repo_arn(A, _unique("repo"))
    pipeline = _unique("ebd-pipeline")
    role_arn = _role(aws, B, EVENTS_TRUST)
    rules.put(A, _unique("ebd-fwd"), {**DESIGN_PATTERN, "resources": [repo_a]}, [{"Id": "b", "Arn": _bus(B)}])
    rule_name = _unique("ebd-start")
    target = {"Id": "p", "Arn": f"arn:aws:codepipeline:{REGION}:{B}:{pipeline}", "RoleArn": role_arn}
    rules.put(B, rule_name, {**DESIGN_PATTERN, "account": [A], "resources": [repo_a]}, [target])
    _put(aws, A, repo_a)
    [call] = pipeline_plane.wait_calls(lambda c: c["name"] == pipeline)
    role_name = role_arn.rsplit("/", 1)[1]
    assert call["account"] == B
    assert call["caller"] == f"arn:aws:sts::{B}:assumed-role/{role_name}/eventbridge-{rule_name}"


def test_pipeline_not_started_without_a_usable_role(aws, rules, pipeline_plane):
    pipeline = _unique("ebd-pipeline")
    pipeline_arn = f"arn:aws:codepipeline:{REGION}:{B}:{pipeline}"
    good_role = _role(aws, B, EVENTS_TRUST)
    ec2_only = _role(
        aws,
        B,
        {
            **EVENTS_TRUST,
            "Statement": [{**EVENTS_TRUST["Statement"][0], "Principal": {"Service": "ec2.amazonaws.com"}}],
        },
    )
    other_account_role = _role(aws, D, EVENTS_TRUST)
    cases = {
        "no role": None,
        "missing role": f"arn:aws:iam::{B}:role/ebd-does-not-exist",
        "untrusting role": ec2_only,
        "other account's role": other_account_role,
        "good": good_role,
    }
    repos = {case: _repo_arn(B, _unique("repo")) for case in cases}
    for case, role in cases.items():
        target = {"Id": "p", "Arn": pipeline_arn, **({"RoleArn": role} if role else {})}
        rules.put(
            B, _unique("ebd-start"), {"source": ["aws.codecommit"], "resources": [repos[case]]}, [target]
        )
    for case in cases:  # one lane (the pipeline ARN): "good" is decided last
        _put(aws, B, repos[case])
    pipeline_plane.wait_calls(lambda c: c["name"] == pipeline)
    with pipeline_plane.changed:
        calls = [c for c in pipeline_plane.calls if c["name"] == pipeline]
    assert len(calls) == 1 and f"/{good_role.rsplit('/', 1)[1]}/" in calls[0]["caller"]
    failures = [
        r
        for r in aws.aws.event_delivery.deliveries()
        if r["target"] == pipeline_arn and r["outcome"] == "failed"
    ]
    reasons = " | ".join(r["detail"] for r in failures)
    assert len(failures) == 4, reasons
    assert "needs a RoleArn" in reasons
    assert "NoSuchEntity" in reasons
    assert "does not let events.amazonaws.com assume it" in reasons
    assert f"not in the rule's account {B}" in reasons


def test_registered_codepipeline_plane_answers_and_a_second_emulator_shares_the_hook(aws, rules, b_allows_a):
    from moto.events.models import Rule

    role_arn = _role(aws, B, EVENTS_TRUST)
    repo_a = _repo_arn(A, _unique("repo"))
    missing = _unique("ebd-no-such-pipeline")
    name = _unique("ebd-start")
    target = {"Id": "p", "Arn": f"arn:aws:codepipeline:{REGION}:{B}:{missing}", "RoleArn": role_arn}
    rules.put(A, _unique("ebd-fwd"), {**DESIGN_PATTERN, "resources": [repo_a]}, [{"Id": "b", "Arn": _bus(B)}])
    rules.put(B, name, {"resources": [repo_a]}, [target])
    with running_emulator() as real:  # the registered planes, codepipeline included
        _put(real, A, repo_a)
        record = real.aws.event_delivery.wait_for(lambda r: r["rule"].endswith(f"/{name}"), DEADLINE)
        assert record["outcome"] == "failed" and "PipelineNotFoundException" in record["detail"], record
    # the first emulator still delivers after the second stopped
    assert Rule.send_to_targets.__qualname__.startswith("routing_send_to_targets")
    url, _ = _forward_a_to_b(rules, aws, repo_b := _repo_arn(A, _unique("repo")))
    commit = _put(aws, A, repo_b)
    assert [m["detail"]["commitId"] for m in _receive_until(aws, B, url, commit)] == [commit]


# ---- what moto delivered before still arrives ----------------------------------------------------------


def test_moto_targets_keep_working_with_aws_payloads(aws, rules):
    repo_a = _repo_arn(A, _unique("repo"))
    plain_url, plain_arn = _queue(aws, A)
    shaped_url, shaped_arn = _queue(aws, A)
    constant_url, constant_arn = _queue(aws, A)
    transformer = {"InputPathsMap": {"c": "$.detail.commitId"}, "InputTemplate": '{"commit": "<c>"}'}
    rules.put(
        A,
        _unique("ebd-local"),
        {**DESIGN_PATTERN, "resources": [repo_a]},
        [
            {"Id": "plain", "Arn": plain_arn},
            {"Id": "shaped", "Arn": shaped_arn, "InputTransformer": transformer},
            {"Id": "constant", "Arn": constant_arn, "Input": '{"fixed": true}'},
        ],
    )
    commit = _put(aws, A, repo_a)
    [plain] = _receive_until(aws, A, plain_url, commit)
    assert plain["account"] == A and "ingestion-time" not in plain  # the whole event, as AWS sends it
    sqs = aws.client("sqs", account=A)
    for url, expected in ((shaped_url, {"commit": commit}), (constant_url, {"fixed": True})):
        [message] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=int(DEADLINE))["Messages"]
        assert json.loads(message["Body"]) == expected


def test_disabled_rule_does_not_deliver(aws, rules):
    repo_a = _repo_arn(A, _unique("repo"))
    url, queue_arn = _queue(aws, A)
    disabled = _unique("ebd-off")
    rules.put(
        A,
        disabled,
        {"source": ["aws.codecommit"], "resources": [repo_a], "detail": {"event": ["referenceDeleted"]}},
        [{"Id": "q", "Arn": queue_arn}],
    )
    aws.client("events", account=A).disable_rule(Name=disabled)
    rules.put(
        A,
        _unique("ebd-on"),
        {"source": ["aws.codecommit"], "resources": [repo_a], "detail": {"event": ["referenceUpdated"]}},
        [{"Id": "q", "Arn": queue_arn}],
    )
    _put(aws, A, repo_a, event="referenceDeleted")
    commit = _put(aws, A, repo_a)
    assert [m["detail"]["commitId"] for m in _receive_until(aws, A, url, commit)] == [commit]


def test_deliveries_endpoint_lists_failed_invocations(aws, rules):
    import urllib.request

    from gitops_harness.emulator.eventbridge import DELIVERIES_PATH

    repo_a = _repo_arn(A, _unique("repo"))
    name = _unique("ebd-norole")
    rules.put(A, name, {"resources": [repo_a]}, [{"Id": "p", "Arn": f"arn:aws:codepipeline:{REGION}:{A}:x"}])
    _put(aws, A, repo_a)
    aws.aws.event_delivery.wait_for(lambda r: r["rule"].endswith(f"/{name}"), DEADLINE)
    with urllib.request.urlopen(aws.endpoint_url + DELIVERIES_PATH, timeout=5) as response:
        body = json.loads(response.read())
    [entry] = [d for d in body["deliveries"] if d["rule"].endswith(f"/{name}")]
    assert entry["outcome"] == "failed" and entry["account"] == A and "needs a RoleArn" in entry["detail"]


def test_failed_and_delivered_invocations_show_as_the_rules_aws_events_metrics(aws, rules, b_allows_a):
    """On AWS a refused delivery is visible only as the rule's FailedInvocations metric."""
    from datetime import UTC, datetime, timedelta

    denied_rule, allowed_rule = _unique("ebd-denied"), _unique("ebd-allowed")
    repo_c, repo_a = _repo_arn(C, _unique("repo")), _repo_arn(A, _unique("repo"))
    rules.put(C, denied_rule, {**DESIGN_PATTERN, "resources": [repo_c]}, [{"Id": "b", "Arn": _bus(B)}])
    rules.put(A, allowed_rule, {**DESIGN_PATTERN, "resources": [repo_a]}, [{"Id": "b", "Arn": _bus(B)}])
    _put(aws, C, repo_c)
    _put(aws, A, repo_a)
    for rule in (denied_rule, allowed_rule):
        aws.aws.event_delivery.wait_for(lambda r, rule=rule: r["rule"].endswith(f"/{rule}"), DEADLINE)

    def total(account: str, rule: str, metric: str) -> float:
        now = datetime.now(UTC)
        points = aws.client("cloudwatch", account=account).get_metric_statistics(
            Namespace="AWS/Events",
            MetricName=metric,
            Dimensions=[{"Name": "RuleName", "Value": rule}],
            StartTime=now - timedelta(minutes=5),
            EndTime=now + timedelta(minutes=1),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        return sum(p["Sum"] for p in points)

    assert (total(C, denied_rule, "Invocations"), total(C, denied_rule, "FailedInvocations")) == (1, 1)
    assert (total(A, allowed_rule, "Invocations"), total(A, allowed_rule, "FailedInvocations")) == (1, 0)


# ---- latency -------------------------------------------------------------------------------------------


def test_latency_put_events_in_a_to_sqs_in_b(aws, rules, b_allows_a):
    repo_arn = _repo_arn(A, _unique("repo"))
    url, _ = _forward_a_to_b(rules, aws, repo_arn)
    samples = []
    for _ in range(20):
        started = time.perf_counter()
        commit = _put(aws, A, repo_arn)
        _receive_until(aws, B, url, commit)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    print(
        f"\nPutEvents(A) -> SQS message in B: median {statistics.median(samples):.1f} ms, "
        f"p90 {samples[17]:.1f} ms, max {samples[-1]:.1f} ms (n=20)"
    )
    assert statistics.median(samples) < 2000
