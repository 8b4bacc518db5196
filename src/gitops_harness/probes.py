"""Event probes: SQS queues that see what the pipeline emits, so tests wait on events, not on time.

- ``EventProbe``: a queue targeted by an EventBridge rule (a given pattern, on a given account's bus).
- ``SnsProbe``: a queue subscribed to an SNS topic (raw delivery off: each body is the SNS envelope).

Both are context managers that create their resources on enter and delete them on exit, and both
offer the same waits:

- ``wait_for(predicate, timeout)`` -> the first message whose body matches. Messages received that
  do not match are kept for later waits (two waits for two events never lose one to the other) and
  are listed in the timeout message: "expected X; saw N other message(s): ...".
- ``expect_none(predicate, until=marker, timeout)``: absence proven by order, not by sleeping. The
  caller causes a marker event after the action under test (a push to main after a push to a feature
  branch); once the marker arrives, everything emitted before it has been received too, so no earlier
  message may match. Standard SQS queues are ordered best-effort only, so after the marker the probe
  drains what the queue still holds (a receive that does not wait) before it concludes.

Each wait has a twin ending in ``_e`` that returns ``(value, error)`` instead of raising.
Waiting is SQS long polling (``WaitTimeSeconds``): the call returns as soon as a message arrives.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gitops_harness.waiting import WaitTimeout, wait_until_e

Predicate = Callable[[Any], bool]

_LONG_POLL_MAX = 20  # SQS's maximum WaitTimeSeconds
_SUMMARY_LIMIT = 10  # messages listed in a timeout message
_SUMMARY_CHARS = 200


@dataclass(frozen=True)
class ProbeMessage:
    """One delivery: ``body`` is what predicates see (the event, or the SNS notification)."""

    body: Any
    raw: str
    message_id: str


@dataclass(frozen=True)
class SnsNotification:
    """An SNS envelope as SQS receives it with raw delivery off."""

    topic_arn: str
    message: str
    subject: str | None
    message_id: str
    timestamp: str
    attributes: dict[str, Any] = field(default_factory=dict)
    envelope: dict[str, Any] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        """The message parsed as JSON (SNS JSON message structure, a CodeStar notification, ...)."""
        return json.loads(self.message)


class ProbeError(AssertionError):
    """A probe saw what it must not (expect_none); an AssertionError, so pytest shows a failure."""


class _QueueProbe:
    """An SQS queue the probe owns, and the waits over what it receives."""

    kind = "message"

    def __init__(self, sqs: Any, *, name: str | None = None, tags: dict[str, str] | None = None):
        self._sqs = sqs
        self.name = name or f"gitops-probe-{uuid.uuid4().hex[:12]}"
        self._tags = dict(tags or {})
        self.queue_url: str | None = None
        self.queue_arn: str | None = None
        self.pending: list[ProbeMessage] = []  # received, not yet taken by a wait
        self.taken: list[ProbeMessage] = []  # returned by wait_for, in order

    # -- lifecycle --------------------------------------------------------------------------------------

    def __enter__(self) -> _QueueProbe:
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        kwargs: dict[str, Any] = {"QueueName": self.name}
        if self._tags:
            kwargs["tags"] = self._tags
        self.queue_url = self._sqs.create_queue(**kwargs)["QueueUrl"]
        self.queue_arn = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self._connect()

    def close(self) -> None:
        """Delete what open() created; safe after a failed open and when called twice."""
        errors: list[str] = []
        try:
            self._disconnect()
        except Exception as exc:  # keep going: the queue must go too
            errors.append(f"{type(exc).__name__}: {exc}")
        if self.queue_url is not None:
            try:
                self._sqs.delete_queue(QueueUrl=self.queue_url)
            except Exception as exc:
                errors.append(f"delete queue {self.name}: {type(exc).__name__}: {exc}")
            self.queue_url = None
        if errors:
            raise RuntimeError(f"probe {self.name} cleanup failed: {'; '.join(errors)}")

    def _connect(self) -> None:
        raise NotImplementedError

    def _disconnect(self) -> None:
        raise NotImplementedError

    def _queue_policy(self, service: str, source_arn: str) -> str:
        # Only the rule/topic this probe was made for may send: the queue belongs to a test, not a bus.
        return json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "probe",
                        "Effect": "Allow",
                        "Principal": {"Service": service},
                        "Action": "sqs:SendMessage",
                        "Resource": self.queue_arn,
                        "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
                    }
                ],
            }
        )

    # -- receiving --------------------------------------------------------------------------------------

    def _parse(self, raw: str) -> Any:
        return json.loads(raw)

    def summarize(self, body: Any) -> str:
        text = json.dumps(body, default=str, sort_keys=True)
        return text if len(text) <= _SUMMARY_CHARS else text[: _SUMMARY_CHARS - 3] + "..."

    def receive(self, wait_seconds: float) -> list[ProbeMessage]:
        """Receive what the queue has (long polling up to ``wait_seconds``) into ``pending``."""
        if self.queue_url is None:
            raise RuntimeError(f"probe {self.name} is not open: use it as a context manager")
        answer = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=max(0, min(_LONG_POLL_MAX, math.ceil(wait_seconds))),
        )
        received = []
        for message in answer.get("Messages", []):
            received.append(ProbeMessage(self._parse(message["Body"]), message["Body"], message["MessageId"]))
            self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        self.pending.extend(received)
        return received

    def _take(self, predicate: Predicate) -> ProbeMessage | None:
        for index, message in enumerate(self.pending):
            if predicate(message.body):
                del self.pending[index]
                self.taken.append(message)
                return message
        return None

    def _describe_pending(self, expected: str) -> Callable[[Any], str]:
        def describe(_: Any) -> str:
            if not self.pending:
                return f"no {self.kind}s on {self.name}"
            listed = "; ".join(self.summarize(m.body) for m in self.pending[-_SUMMARY_LIMIT:])
            more = len(self.pending) - _SUMMARY_LIMIT
            prefix = f"(latest {_SUMMARY_LIMIT}) " if more > 0 else ""
            return f"{len(self.pending)} other {self.kind}(s) on {self.name}: {prefix}{listed}"

        return describe

    # -- waits ------------------------------------------------------------------------------------------

    def wait_for_e(
        self, predicate: Predicate, timeout: float, describe: str = "a matching message"
    ) -> tuple[ProbeMessage | None, WaitTimeout | None]:
        """The first message matching ``predicate`` (earlier ones included), or the timeout error."""
        found = self._take(predicate)
        if found is not None:
            return found, None
        deadline = _Deadline(timeout)

        def check() -> ProbeMessage | None:
            self.receive(deadline.remaining())
            return self._take(predicate)

        return wait_until_e(
            check,
            timeout=timeout,
            describe_expected=f"{self.kind} {describe}",
            describe_seen=self._describe_pending(describe),
            accept=lambda m: m is not None,
            interval=0,  # the long poll is the wait
        )

    def wait_for(self, predicate: Predicate, timeout: float, describe: str = "a matching message") -> Any:
        """wait_for_e that returns the matching message's body or raises WaitTimeout."""
        message, error = self.wait_for_e(predicate, timeout, describe)
        if error is not None:
            raise error
        return message.body  # type: ignore[union-attr]

    def expect_none_e(
        self,
        predicate: Predicate,
        *,
        until: Predicate,
        timeout: float,
        describe: str = "a matching message",
        describe_marker: str = "the marker",
    ) -> AssertionError | None:
        """None when no message matching ``predicate`` came before the marker ``until``; else the error."""
        _, error = self.wait_for_e(until, timeout, describe_marker)
        if error is not None:
            return WaitTimeout(
                f"{describe_marker} (to prove no {describe} came before it)",
                error.seen,
                error.waited,
                error.attempts,
                error.last_error,
            )
        # Standard queues are ordered best-effort: take what is already there before judging.
        while self.receive(0):
            pass
        unwanted = [m for m in self.pending if predicate(m.body)]
        if unwanted:
            listed = "; ".join(self.summarize(m.body) for m in unwanted[:_SUMMARY_LIMIT])
            return ProbeError(
                f"expected no {describe} before {describe_marker}, but {len(unwanted)} arrived: {listed}"
            )
        return None

    def expect_none(
        self,
        predicate: Predicate,
        *,
        until: Predicate,
        timeout: float,
        describe: str = "a matching message",
        describe_marker: str = "the marker",
    ) -> None:
        """expect_none_e that raises its error."""
        error = self.expect_none_e(
            predicate, until=until, timeout=timeout, describe=describe, describe_marker=describe_marker
        )
        if error is not None:
            raise error


class _Deadline:
    def __init__(self, seconds: float):
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - time.monotonic())


class EventProbe(_QueueProbe):
    """A queue on an EventBridge rule: ``EventProbe(events, sqs, pattern)`` with clients of one account.

    The rule lives on ``event_bus_name`` (default: the account's default bus) and targets the queue; the
    queue policy lets only that rule send. Bodies are the events as EventBridge delivers them.
    """

    kind = "event"

    def __init__(
        self,
        events: Any,
        sqs: Any,
        pattern: dict[str, Any],
        *,
        event_bus_name: str = "default",
        name: str | None = None,
        tags: dict[str, str] | None = None,
    ):
        super().__init__(sqs, name=name, tags=tags)
        self._events = events
        self.pattern = pattern
        self.event_bus_name = event_bus_name
        self.rule_arn: str | None = None
        self._target_id = "probe-queue"

    def __enter__(self) -> EventProbe:
        super().__enter__()
        return self

    def _connect(self) -> None:
        rule_kwargs: dict[str, Any] = {
            "Name": self.name,
            "EventPattern": json.dumps(self.pattern),
            "EventBusName": self.event_bus_name,
            "State": "ENABLED",
            "Description": "gitops-harness probe",
        }
        if self._tags:
            rule_kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in self._tags.items()]
        self.rule_arn = self._events.put_rule(**rule_kwargs)["RuleArn"]
        self._sqs.set_queue_attributes(
            QueueUrl=self.queue_url,
            Attributes={"Policy": self._queue_policy("events.amazonaws.com", self.rule_arn)},
        )
        self._events.put_targets(
            Rule=self.name,
            EventBusName=self.event_bus_name,
            Targets=[{"Id": self._target_id, "Arn": self.queue_arn}],
        )

    def _disconnect(self) -> None:
        if self.rule_arn is None:
            return
        self._events.remove_targets(Rule=self.name, EventBusName=self.event_bus_name, Ids=[self._target_id])
        self._events.delete_rule(Name=self.name, EventBusName=self.event_bus_name)
        self.rule_arn = None

    def summarize(self, body: Any) -> str:
        if isinstance(body, dict) and "detail-type" in body:
            detail = json.dumps(body.get("detail"), default=str, sort_keys=True)
            if len(detail) > _SUMMARY_CHARS:
                detail = detail[: _SUMMARY_CHARS - 3] + "..."
            return f"[{body.get('source')} / {body.get('detail-type')}] {detail}"
        return super().summarize(body)


class SnsProbe(_QueueProbe):
    """A queue subscribed to ``topic_arn``: ``SnsProbe(sns, sqs, topic_arn)`` with clients of the topic's
    account. Bodies are ``SnsNotification``s parsed from the envelope."""

    kind = "notification"

    def __init__(
        self,
        sns: Any,
        sqs: Any,
        topic_arn: str,
        *,
        name: str | None = None,
        tags: dict[str, str] | None = None,
    ):
        super().__init__(sqs, name=name, tags=tags)
        self._sns = sns
        self.topic_arn = topic_arn
        self.subscription_arn: str | None = None

    def __enter__(self) -> SnsProbe:
        super().__enter__()
        return self

    def _connect(self) -> None:
        self._sqs.set_queue_attributes(
            QueueUrl=self.queue_url,
            Attributes={"Policy": self._queue_policy("sns.amazonaws.com", self.topic_arn)},
        )
        self.subscription_arn = self._sns.subscribe(
            TopicArn=self.topic_arn,
            Protocol="sqs",
            Endpoint=self.queue_arn,
            Attributes={"RawMessageDelivery": "false"},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]

    def _disconnect(self) -> None:
        if self.subscription_arn is None:
            return
        self._sns.unsubscribe(SubscriptionArn=self.subscription_arn)
        self.subscription_arn = None

    def _parse(self, raw: str) -> Any:
        envelope = json.loads(raw)
        if not isinstance(envelope, dict) or envelope.get("Type") != "Notification":
            raise ValueError(f"probe {self.name}: not an SNS notification envelope: {raw[:200]}")
        return SnsNotification(
            topic_arn=envelope["TopicArn"],
            message=envelope["Message"],
            subject=envelope.get("Subject"),
            message_id=envelope["MessageId"],
            timestamp=envelope.get("Timestamp", ""),
            attributes=envelope.get("MessageAttributes") or {},
            envelope=envelope,
        )

    def summarize(self, body: Any) -> str:
        if isinstance(body, SnsNotification):
            text = (
                body.message
                if len(body.message) <= _SUMMARY_CHARS
                else body.message[: _SUMMARY_CHARS - 3] + "..."
            )
            return f"[{body.subject or 'no subject'}] {text}"
        return super().summarize(body)
