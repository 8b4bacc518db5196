"""What SNS recorded about delivering a topic's messages to a Lambda function: its delivery status records.

A topic with LambdaSuccessFeedbackRoleArn / LambdaFailureFeedbackRoleArn (the reference notification topic
sets them through DeliveryStatusLogging) has SNS write one JSON record per delivery to CloudWatch Logs,
group sns/<region>/<account>/<topic> (successes, sampled at LambdaSuccessFeedbackSampleRate) and
.../Failure (every failure):

    {"notification": {"messageId", "topicArn", "timestamp", ...},
     "delivery": {"destination", "statusCode", "providerResponse", "dwellTimeMs", ...},
     "status": "SUCCESS" | "FAILURE"}

The notify verdict ties a chat post to its record by the SNS message id the chat notifier logs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError


@dataclass(frozen=True)
class DeliveryRecord:
    message_id: str
    status: str  # SUCCESS | FAILURE
    status_code: int | None
    provider_response: str
    destination: str
    at: datetime

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCESS"

    def describe(self) -> str:
        """ "SUCCESS 202 (Lambda request <id>)" or "FAILURE 404: ResourceNotFoundException: Function not
        found: ..." - the provider's own words for a failure."""
        code = "" if self.status_code is None else f" {self.status_code}"
        try:
            response = json.loads(self.provider_response)
        except ValueError:
            response = None
        if self.succeeded:
            request = response.get("lambdaRequestId") if isinstance(response, dict) else None
            return f"SUCCESS{code}" + (f" (Lambda request {request})" if request else "")
        if isinstance(response, dict) and (response.get("ErrorCode") or response.get("ErrorMessage")):
            said = ": ".join(str(response[k]) for k in ("ErrorCode", "ErrorMessage") if response.get(k))
        else:
            said = " ".join(self.provider_response.split())[:300] or "no provider response"
        return f"FAILURE{code}: {said}"


@dataclass(frozen=True)
class FeedbackSettings:
    success_role: str | None
    failure_role: str | None
    sample_rate: float  # percent of successes logged

    @property
    def logs_every_success(self) -> bool:
        return bool(self.success_role) and self.sample_rate >= 100


class DeliveryStatusLog:
    """One topic's delivery status records from `since` on (epoch seconds), for one subscribed function."""

    def __init__(self, sns: Any, logs: Any, topic_arn: str, function: str | None, since: float):
        self._sns = sns
        self._logs = logs
        self.topic_arn = topic_arn
        self.function = function  # the subscribed function's name, or None for any subscriber
        self._since_ms = int(since * 1000)
        _, _, _, region, account, name = topic_arn.split(":", 5)
        self.group = f"sns/{region}/{account}/{name}"
        self.failure_group = f"{self.group}/Failure"
        self._settings: FeedbackSettings | None = None

    def settings(self) -> FeedbackSettings:
        """The topic's Lambda delivery status attributes (GetTopicAttributes)."""
        if self._settings is None:
            attributes = self._sns.get_topic_attributes(TopicArn=self.topic_arn)["Attributes"]
            try:
                rate = float(attributes.get("LambdaSuccessFeedbackSampleRate") or 0)
            except ValueError:
                rate = 0.0
            self._settings = FeedbackSettings(
                attributes.get("LambdaSuccessFeedbackRoleArn") or None,
                attributes.get("LambdaFailureFeedbackRoleArn") or None,
                rate,
            )
        return self._settings

    def records(self, *, failures: bool = False, message_id: str | None = None) -> list[DeliveryRecord]:
        """Records in the success (or failure) group since the start, for this destination."""
        options: dict[str, Any] = {
            "logGroupName": self.failure_group if failures else self.group,
            "startTime": self._since_ms,
        }
        if message_id:
            options["filterPattern"] = f'"{message_id}"'
        found: list[DeliveryRecord] = []
        try:
            for page in self._logs.get_paginator("filter_log_events").paginate(**options):
                for event in page.get("events", []):
                    record = _record(event)
                    if record is None or (message_id and record.message_id != message_id):
                        continue
                    # arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
                    if self.function and record.destination.split(":")[6:7] != [self.function]:
                        continue
                    found.append(record)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return []  # SNS has written nothing there yet (it creates the group on first use)
            raise
        return found

    def find(self, message_id: str) -> DeliveryRecord | None:
        """The record of one message: a failure if SNS logged one, else its success, else None."""
        records = self.records(failures=True, message_id=message_id) + self.records(message_id=message_id)
        return records[0] if records else None

    def failures(self) -> list[DeliveryRecord]:
        return self.records(failures=True)


def _record(event: dict[str, Any]) -> DeliveryRecord | None:
    try:
        body = json.loads(event.get("message", ""))
        notification, delivery = body["notification"], body["delivery"]
        code = delivery.get("statusCode")
        return DeliveryRecord(
            str(notification["messageId"]),
            str(body["status"]),
            int(code) if code is not None else None,
            str(delivery.get("providerResponse") or ""),
            str(delivery.get("destination") or ""),
            datetime.fromtimestamp(event.get("timestamp", 0) / 1000, UTC),
        )
    except (ValueError, KeyError, TypeError):
        return None  # not a delivery status record
