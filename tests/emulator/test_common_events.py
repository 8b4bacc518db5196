"""emulator/common/events.py against moto's EventBridge: entries, batches of 10, rejections named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from gitops_harness.emulator.common.events import EventPublisher, EventsRejected, event_entry


@pytest.fixture
def events() -> Iterator[tuple[Any, list[int]]]:
    """A moto EventBridge client and the entry count of each PutEvents call it makes."""
    with mock_aws():
        client = boto3.client(
            "events", region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        batches: list[int] = []
        client.meta.events.register(
            "provide-client-params.events.PutEvents",
            lambda params, **_: batches.append(len(params["Entries"])),
        )
        yield client, batches


def test_entry_shape() -> None:
    entry = event_entry("aws.codebuild", "CodeBuild Build State Change", {"a": 1}, resources=["arn:x"])
    assert entry == {
        "Source": "aws.codebuild",
        "DetailType": "CodeBuild Build State Change",
        "Detail": json.dumps({"a": 1}),
        "Resources": ["arn:x"],
        "EventBusName": "default",
    }


def test_batches_of_ten_to_the_accounts_client(events: tuple[Any, list[int]]) -> None:
    client, batches = events
    asked: list[tuple[str, str]] = []

    def client_for(account: str, region: str) -> Any:
        asked.append((account, region))
        return client

    EventPublisher(client_for).publish(
        "123456789012", "eu-west-1", [event_entry("s", f"t{i}", {}) for i in range(23)]
    )
    assert batches == [10, 10, 3]
    assert asked == [("123456789012", "eu-west-1")]


def test_rejected_entries_raise_or_log(
    events: tuple[Any, list[int]], caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = events
    publisher = EventPublisher(lambda account, region: client)
    malformed = {**event_entry("s", "broken", {}), "Detail": "not json"}
    with pytest.raises(EventsRejected, match="broken .*MalformedDetail"):
        publisher.publish("123456789012", "eu-west-1", [event_entry("s", "ok", {}), malformed])
    assert publisher.try_publish("123456789012", "eu-west-1", [malformed]) is False
    assert "MalformedDetail" in caplog.text
    assert publisher.try_publish("123456789012", "eu-west-1", [event_entry("s", "ok", {})]) is True
