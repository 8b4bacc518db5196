"""Deadline waits (waiting.py) on a fake clock, and event probes (probes.py) against the embedded AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from gitops_harness.emulator.testing import RunningEmulator, running_emulator
from gitops_harness.probes import EventProbe, ProbeError, SnsNotification, SnsProbe
from gitops_harness.waiting import WaitTimeout, wait_until, wait_until_e

ACCOUNT = "444455556666"  # this module's own account: moto state is shared by every emulator in the process
OTHER_ACCOUNT = "444455557777"


# -- waiting.py -----------------------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_until_returns_the_first_accepted_value_with_growing_intervals() -> None:
    fake = FakeTime()
    values = iter([None, None, None, "ready"])
    result = wait_until(
        lambda: next(values),
        timeout=10,
        describe_expected="the thing",
        interval=0.1,
        factor=2,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    assert result == "ready"
    assert fake.sleeps == pytest.approx([0.1, 0.2, 0.4])


def test_backoff_is_capped_and_the_last_sleep_ends_at_the_deadline() -> None:
    fake = FakeTime()
    _, error = wait_until_e(
        lambda: 0,
        timeout=5,
        describe_expected="x",
        interval=1,
        factor=3,
        max_interval=2,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    assert error is not None
    assert fake.sleeps == pytest.approx([1, 2, 2])
    assert fake.now == pytest.approx(5)
    assert error.attempts == 4  # one more check at the deadline


def test_timeout_says_what_was_expected_what_was_seen_and_how_long() -> None:
    fake = FakeTime()
    states = iter(
        ["CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS"] + ["ROLLBACK_IN_PROGRESS"] * 99
    )
    with pytest.raises(WaitTimeout) as info:
        wait_until(
            lambda: next(states),
            timeout=3,
            accept=lambda s: s == "CREATE_COMPLETE",
            describe_expected="stack app to reach CREATE_COMPLETE",
            describe_seen=lambda s: f"status {s}",
            clock=fake.clock,
            sleep=fake.sleep,
        )
    message = str(info.value)
    assert "expected stack app to reach CREATE_COMPLETE within 3.0s" in message
    assert "last seen: status ROLLBACK_IN_PROGRESS" in message
    assert isinstance(info.value, AssertionError)


def test_retry_on_errors_are_retried_and_reported_other_errors_propagate() -> None:
    fake = FakeTime()
    calls = iter([ConnectionError("refused"), ConnectionError("refused"), "up"])

    def check() -> str:
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    assert (
        wait_until(
            check,
            timeout=5,
            describe_expected="up",
            retry_on=(ConnectionError,),
            clock=fake.clock,
            sleep=fake.sleep,
        )
        == "up"
    )

    value, error = wait_until_e(
        lambda: (_ for _ in ()).throw(ConnectionError("refused")),
        timeout=1,
        describe_expected="up",
        retry_on=(ConnectionError,),
        clock=fake.clock,
        sleep=fake.sleep,
    )
    assert value is None and error is not None
    assert "nothing (no check completed)" in str(error) and "ConnectionError: refused" in str(error)

    with pytest.raises(KeyError):
        wait_until(
            lambda: {}["missing"], timeout=5, describe_expected="x", clock=fake.clock, sleep=fake.sleep
        )


# -- probes.py ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def aws() -> Iterator[RunningEmulator]:
    with running_emulator() as emulator:
        yield emulator


def put_event(
    aws: RunningEmulator,
    detail: dict[str, Any],
    *,
    source: str = "test.probe",
    detail_type: str = "Probe Test",
    account: str = ACCOUNT,
) -> None:
    answer = aws.client("events", account).put_events(
        Entries=[{"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}]
    )
    assert answer["FailedEntryCount"] == 0, answer


PATTERN = {"source": ["test.probe"], "detail-type": ["Probe Test"]}


def make_event_probe(
    aws: RunningEmulator, pattern: dict[str, Any] = PATTERN, account: str = ACCOUNT
) -> EventProbe:
    return EventProbe(aws.client("events", account), aws.client("sqs", account), pattern)


def test_event_probe_receives_put_events_matching_its_pattern(aws: RunningEmulator) -> None:
    with make_event_probe(aws) as probe:
        put_event(aws, {"n": 1}, source="test.other")  # outside the pattern: never delivered
        put_event(aws, {"n": 2})
        event = probe.wait_for(lambda e: e["detail"]["n"] == 2, timeout=10, describe="n=2")
        assert event["source"] == "test.probe"
        assert event["detail-type"] == "Probe Test"
        # (moto 5.2.5 leaves "account" out of events delivered to SQS; real EventBridge sets it)
        assert probe.pending == []


def test_event_probe_keeps_non_matching_events_for_later_waits(aws: RunningEmulator) -> None:
    with make_event_probe(aws) as probe:
        put_event(aws, {"n": 1})
        put_event(aws, {"n": 2})
        second = probe.wait_for(lambda e: e["detail"]["n"] == 2, timeout=10)
        first = probe.wait_for(lambda e: e["detail"]["n"] == 1, timeout=10)
        assert (first["detail"], second["detail"]) == ({"n": 1}, {"n": 2})
        assert [m.body["detail"]["n"] for m in probe.taken] == [2, 1]


def test_event_probe_timeout_lists_what_it_saw(aws: RunningEmulator) -> None:
    with make_event_probe(aws) as probe:
        put_event(aws, {"stage": "Build", "state": "FAILED"})
        probe.wait_for(lambda e: True, timeout=10)  # the event is delivered ...
        put_event(aws, {"stage": "Build", "state": "FAILED"})
        with pytest.raises(WaitTimeout) as info:
            probe.wait_for(
                lambda e: e["detail"]["state"] == "SUCCEEDED", timeout=1.5, describe="Build SUCCEEDED"
            )
    message = str(info.value)
    assert message.startswith("expected event Build SUCCEEDED within")
    assert "1 other event(s)" in message
    assert '[test.probe / Probe Test] {"stage": "Build", "state": "FAILED"}' in message


def test_event_probe_is_scoped_to_its_account(aws: RunningEmulator) -> None:
    with make_event_probe(aws) as probe:
        put_event(aws, {"n": "elsewhere"}, account=OTHER_ACCOUNT)
        put_event(aws, {"n": "here"})
        probe.wait_for(lambda e: e["detail"]["n"] == "here", timeout=10)
        _, error = probe.wait_for_e(lambda e: e["detail"]["n"] == "elsewhere", timeout=1)
        assert error is not None


def test_expect_none_passes_when_only_the_marker_arrives(aws: RunningEmulator) -> None:
    with make_event_probe(aws) as probe:
        put_event(aws, {"ref": "feature", "kind": "push"})
        put_event(aws, {"ref": "main", "kind": "marker"})
        probe.expect_none(
            lambda e: e["detail"]["ref"] == "release",
            until=lambda e: e["detail"]["kind"] == "marker",
            timeout=10,
            describe="a release event",
        )


def test_expect_none_fails_naming_the_unwanted_event(aws: RunningEmulator) -> None:
    with make_event_probe(aws) as probe:
        put_event(aws, {"ref": "feature", "kind": "push"})
        put_event(aws, {"ref": "main", "kind": "marker"})
        with pytest.raises(ProbeError) as info:
            probe.expect_none(
                lambda e: e["detail"]["ref"] == "feature",
                until=lambda e: e["detail"]["kind"] == "marker",
                timeout=10,
                describe="a pipeline trigger for feature",
                describe_marker="the main push",
            )
    assert "expected no a pipeline trigger for feature before the main push, but 1 arrived" in str(info.value)
    assert '"ref": "feature"' in str(info.value)


def test_expect_none_without_the_marker_is_a_timeout_not_a_pass(aws: RunningEmulator) -> None:
    with make_event_probe(aws) as probe:
        error = probe.expect_none_e(
            lambda e: True,
            until=lambda e: e["detail"].get("kind") == "marker",
            timeout=1,
            describe_marker="the marker push",
        )
    assert isinstance(error, WaitTimeout)
    assert "expected the marker push (to prove no a matching message came before it)" in str(error)


def test_event_probe_cleanup_removes_rule_targets_and_queue(aws: RunningEmulator) -> None:
    events, sqs = aws.client("events", ACCOUNT), aws.client("sqs", ACCOUNT)
    with make_event_probe(aws) as probe:
        name, queue_url = probe.name, probe.queue_url
        assert events.describe_rule(Name=name)["EventPattern"] == json.dumps(PATTERN)
        targets = events.list_targets_by_rule(Rule=name)["Targets"]
        assert [t["Arn"] for t in targets] == [probe.queue_arn]
        policy = json.loads(
            sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["Policy"])["Attributes"]["Policy"]
        )
        assert policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] == probe.rule_arn
    assert name not in [r["Name"] for r in events.list_rules(NamePrefix=name)["Rules"]]
    assert queue_url not in sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", [])


def test_probe_cleans_up_when_setup_fails_half_way(aws: RunningEmulator) -> None:
    sqs = aws.client("sqs", ACCOUNT)
    probe = EventProbe(aws.client("events", ACCOUNT), sqs, PATTERN, event_bus_name="no-such-bus")
    with pytest.raises(Exception, match="no-such-bus"), probe:
        pass
    assert sqs.list_queues(QueueNamePrefix=probe.name).get("QueueUrls", []) == []


def test_sns_probe_parses_the_envelope(aws: RunningEmulator) -> None:
    sns = aws.client("sns", ACCOUNT)
    topic = sns.create_topic(Name="probe-notifications")["TopicArn"]
    try:
        with SnsProbe(sns, aws.client("sqs", ACCOUNT), topic) as probe:
            sns.publish(TopicArn=topic, Subject="ignored", Message="other")
            sns.publish(
                TopicArn=topic,
                Subject="Build",
                Message=json.dumps({"detailType": "CodeBuild Build State Change"}),
            )
            note = probe.wait_for(
                lambda n: n.subject == "Build", timeout=10, describe="the build notification"
            )
            assert isinstance(note, SnsNotification)
            assert note.topic_arn == topic
            assert note.json == {"detailType": "CodeBuild Build State Change"}
            assert note.envelope["Type"] == "Notification"
            with pytest.raises(WaitTimeout, match=r"1 other notification\(s\).*\[ignored\] other"):
                probe.wait_for(lambda n: n.subject == "Deploy", timeout=1, describe="the deploy notification")
            subscription = probe.subscription_arn
            assert subscription in [
                s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
            ]
        assert subscription not in [
            s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        ]
        assert aws.client("sqs", ACCOUNT).list_queues(QueueNamePrefix=probe.name).get("QueueUrls", []) == []
    finally:
        sns.delete_topic(TopicArn=topic)
