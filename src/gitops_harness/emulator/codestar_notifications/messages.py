"""The JSON CodeStar Notifications publishes to a target for one event.

The shape AWS sends (and fixtures/chat-notifier parses): account, detailType (not EventBridge's
"detail-type"), region, source, time, notificationRuleArn, detail, resources, additionalAttributes.
DetailType BASIC carries the event as EventBridge shows it; FULL adds what the service supplies in
additionalAttributes (for a manual approval: the action's customData and externalEntityLink).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

FULL = "FULL"
BASIC = "BASIC"


def event_time(value: Any) -> str:
    """EventBridge's time form, "2025-03-04T10:15:28Z"; moto keeps an event's time as epoch seconds."""
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value) if value else datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def notification(
    event: Mapping[str, Any],
    *,
    rule_arn: str,
    detail_type: str,
    additional_attributes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "account": event.get("account"),
        "detailType": event.get("detail-type"),
        "region": event.get("region"),
        "source": event.get("source"),
        "time": event_time(event.get("time")),
        "notificationRuleArn": rule_arn,
        "detail": event.get("detail") or {},
        "resources": list(event.get("resources") or []),
        "additionalAttributes": dict(additional_attributes or {}) if detail_type == FULL else {},
    }


def render(message: Mapping[str, Any]) -> str:
    return json.dumps(message)
