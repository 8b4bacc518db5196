"""The tags every resource a harness run creates carries, so teardown and `gitops-harness sweep` can find
it again: ``gitops-harness:run-id``, ``gitops-harness:created-at`` and ``gitops-harness:expires-at``
(ISO 8601, UTC, seconds). The run id also goes into stack and resource names (``<project>-<run id>``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

RUN_ID_TAG = "gitops-harness:run-id"
CREATED_AT_TAG = "gitops-harness:created-at"
EXPIRES_AT_TAG = "gitops-harness:expires-at"
DEFAULT_TTL = timedelta(hours=6)  # a nightly takes minutes; anything older than this is a leftover
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_run_id() -> str:
    """``r`` + 7 random lowercase letters/digits: short enough for S3 and IAM names, and it starts with
    a letter as CloudFormation stack names and ProjectName's pattern (``^[a-z][a-z0-9-]*``) want."""
    return "r" + "".join(secrets.choice(_ALPHABET) for _ in range(7))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime | None:
    """A tag's time, or None when it is not one (a hand-made tag must not crash a sweep)."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RunTags:
    run_id: str
    created_at: datetime
    expires_at: datetime

    @classmethod
    def new(cls, run_id: str | None = None, ttl: timedelta = DEFAULT_TTL) -> RunTags:
        now = datetime.now(UTC).replace(microsecond=0)
        return cls(run_id or new_run_id(), now, now + ttl)

    def as_dict(self) -> dict[str, str]:
        return {
            RUN_ID_TAG: self.run_id,
            CREATED_AT_TAG: _iso(self.created_at),
            EXPIRES_AT_TAG: _iso(self.expires_at),
        }

    def as_list(self) -> list[dict[str, str]]:
        """``[{"Key": ..., "Value": ...}]`` as CloudFormation, S3, ECR, CodeCommit-less APIs take them."""
        return [{"Key": k, "Value": v} for k, v in self.as_dict().items()]
