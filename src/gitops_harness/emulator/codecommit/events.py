"""Events of detail-type "CodeCommit Repository State Change" for ref changes, shaped as AWS sends them.

AWS's shape (CodeCommit user guide, "Monitoring CodeCommit events"): source ``aws.codecommit``, the
repository ARN as the only resource, and in ``detail`` the event name, repository name and id, reference
type/name/full name, ``commitId`` (not on deletion), ``oldCommitId`` (on update and deletion) and the
caller's ARN. Only branches and tags produce events.

Events are handed to an injected ``publish(events)``; the emulator wires it to PutEvents on the
repository account's default bus (``routing_publisher``, over common.events.EventPublisher).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from gitops_harness.emulator.common.events import EventPublisher, EventsClientFor, event_entry

from .models import RefChange, RepositoryRecord

SOURCE = "aws.codecommit"
DETAIL_TYPE = "CodeCommit Repository State Change"


def branch_pattern(branch: str = "main") -> dict:
    """The EventBridge pattern a CodeCommit source action's rule uses (DESIGN section 1): a branch
    created or updated. Tests and probes share it with the reference templates' rules."""
    return {
        "source": [SOURCE],
        "detail-type": [DETAIL_TYPE],
        "detail": {
            "event": ["referenceCreated", "referenceUpdated"],
            "referenceType": ["branch"],
            "referenceName": [branch],
        },
    }


Publish = Callable[[list[dict[str, Any]]], None]

log = logging.getLogger(__name__)

_REF_TYPES = {"refs/heads/": "branch", "refs/tags/": "tag"}


def reference_events(
    repository: RepositoryRecord,
    changes: Iterable[RefChange],
    caller_user_arn: str,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """One event per changed branch or tag, in the order of ``changes``."""
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    events = []
    for change in changes:
        prefix = next((p for p in _REF_TYPES if change.ref.startswith(p)), None)
        if prefix is None:
            continue  # notes, pull-request refs, ...: CodeCommit emits nothing for them
        detail: dict[str, Any] = {
            "callerUserArn": caller_user_arn,
            "repositoryName": repository.name,
            "repositoryId": repository.repository_id,
            "referenceType": _REF_TYPES[prefix],
            "referenceName": change.ref[len(prefix) :],
            "referenceFullName": change.ref,
        }
        if change.old is None:
            detail["event"] = "referenceCreated"
            detail["commitId"] = change.new
        elif change.new is None:
            detail["event"] = "referenceDeleted"
            detail["oldCommitId"] = change.old
        else:
            detail["event"] = "referenceUpdated"
            detail["commitId"] = change.new
            detail["oldCommitId"] = change.old
        events.append(
            {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": DETAIL_TYPE,
                "source": SOURCE,
                "account": repository.account_id,
                "time": when,
                "region": repository.region,
                "resources": [repository.arn],
                "detail": detail,
            }
        )
    return events


def put_events_entries(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PutEvents request entries for ``events`` (the envelope's id/account/region are set by the bus)."""
    return [
        event_entry(
            e["source"],
            e["detail-type"],
            e["detail"],
            resources=e["resources"],
            time=datetime.strptime(e["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC),
        )
        for e in events
    ]


def routing_publisher(events_client_for: EventsClientFor) -> Publish:
    """A ``publish`` that sends each event to the default bus of its repository's account and region.

    ``events_client_for(account_id, region)`` returns a boto3 EventBridge client acting in that account
    (the emulator's front door with that account's credentials). Raises EventsRejected naming the
    refused entries.
    """
    publisher = EventPublisher(events_client_for)

    def publish(events: list[dict[str, Any]]) -> None:
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for event in events:
            groups.setdefault((event["account"], event["region"]), []).append(event)
        for (account_id, region), group in groups.items():
            publisher.publish(account_id, region, put_events_entries(group))

    return publish
