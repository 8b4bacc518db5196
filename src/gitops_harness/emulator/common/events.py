"""One way for a control plane to emit EventBridge events: PutEvents through the front door.

AWS services deliver their own events to the default bus of the resource's account and region; here a
plane does that with PutEvents as that account (`RoleClients.for_account("events", account, region)`), so
moto's rules, targets, bus policies and the request log apply as for any caller.

    publisher = EventPublisher.through(runtime)   # or EventPublisher(events_client_for) for other clients
    publisher.publish(account, region, [event_entry("aws.codebuild", "CodeBuild Build State Change",
                                                    detail, resources=[build_arn])])
    publisher.try_publish(...)   # log instead of raise: an event lost must not fail an execution
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

MAX_ENTRIES = 10  # PutEvents takes at most 10 entries per call

EventsClientFor = Callable[[str, str], Any]  # (account, region) -> a boto3 EventBridge client


class EventsRejected(RuntimeError):
    """EventBridge refused some entries (FailedEntryCount > 0); the message names each with its error."""


def event_entry(
    source: str,
    detail_type: str,
    detail: Mapping[str, Any],
    resources: Iterable[str] = (),
    time: datetime | None = None,
    bus: str = "default",
) -> dict[str, Any]:
    """A PutEvents request entry (EventBridge fills in id, account and region from the caller)."""
    entry: dict[str, Any] = {
        "Source": source,
        "DetailType": detail_type,
        "Detail": json.dumps(detail),
        "Resources": list(resources),
        "EventBusName": bus,
    }
    if time is not None:
        entry["Time"] = time
    return entry


class EventPublisher:
    def __init__(self, events_client_for: EventsClientFor):
        self._events_client_for = events_client_for

    @classmethod
    def through(cls, runtime: Any) -> EventPublisher:
        """A plane's publisher: PutEvents as the resource's account through the emulator's role clients."""
        return cls(lambda account, region: runtime.clients.for_account("events", account, region))

    def publish(self, account_id: str, region: str, entries: list[dict[str, Any]]) -> None:
        """PutEvents `entries` on `account_id`'s bus in `region`, in batches of 10, in order.
        Raises EventsRejected naming the refused entries; client errors propagate."""
        client = self._events_client_for(account_id, region)
        for start in range(0, len(entries), MAX_ENTRIES):
            batch = entries[start : start + MAX_ENTRIES]
            answer = client.put_events(Entries=batch)
            if answer.get("FailedEntryCount"):
                failed = [
                    f"{entry['DetailType']} ({', '.join(entry.get('Resources') or [])}): "
                    f"{result.get('ErrorCode')} {result.get('ErrorMessage')}"
                    for entry, result in zip(batch, answer.get("Entries") or [], strict=False)
                    if result.get("ErrorCode")
                ]
                raise EventsRejected(f"EventBridge PutEvents rejected {len(failed)} event(s): {failed}")

    def try_publish(self, account_id: str, region: str, entries: list[dict[str, Any]]) -> bool:
        """`publish`, but a failure is logged and answered False: events are observability, and losing one
        must not fail the build or execution that emitted it (the request log still shows the call)."""
        if not entries:
            return True
        try:
            self.publish(account_id, region, entries)
        except Exception as error:
            log.warning(
                "PutEvents of %d event(s) (%s) in %s/%s failed: %s",
                len(entries),
                ", ".join(sorted({e["DetailType"] for e in entries})),
                account_id,
                region,
                error,
            )
            return False
        return True
