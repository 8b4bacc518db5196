"""CodeStar Notifications state per account and region: notification rules and their targets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

MAX_TARGETS = 10  # targets per notification rule
UNREACHABLE_TO_INACTIVE = 24 * 3600  # AWS seconds a target stays UNREACHABLE before it reads INACTIVE


@dataclass
class Target:
    address: str
    type: str
    status: str = "PENDING"
    reason: str = ""
    unreachable_since: float | None = None  # scheduler clock

    def mark(self, reachable: bool, reason: str, clock_now: float) -> None:
        """The outcome of a check or a send: ACTIVE, or UNREACHABLE from the first failure on."""
        self.reason = reason
        if reachable:
            self.status, self.unreachable_since = "ACTIVE", None
        elif self.status not in ("UNREACHABLE", "INACTIVE"):
            self.status, self.unreachable_since = "UNREACHABLE", clock_now

    def age(self, clock_now: float, inactive_after: float) -> None:
        """UNREACHABLE for `inactive_after` (scheduler clock seconds) reads INACTIVE."""
        since = self.unreachable_since
        if self.status == "UNREACHABLE" and since is not None and clock_now - since >= inactive_after:
            self.status = "INACTIVE"


@dataclass
class NotificationRule:
    arn: str
    name: str
    resource: str
    event_type_ids: list[str]
    detail_type: str
    status: str
    created_by: str
    created: datetime
    modified: datetime
    targets: list[str] = field(default_factory=list)  # target addresses, in the order given

    @property
    def id(self) -> str:
        return self.arn.rsplit("/", 1)[1]


@dataclass
class NotificationsState:
    rules: dict[str, NotificationRule] = field(default_factory=dict)  # by ARN
    targets: dict[str, Target] = field(default_factory=dict)  # by address, shared by the account's rules
    tokens: dict[str, str] = field(default_factory=dict)  # ClientRequestToken -> rule ARN

    def drop_unused_targets(self) -> None:
        """A target no rule uses is gone from ListTargets too."""
        used = {address for rule in self.rules.values() for address in rule.targets}
        for address in [a for a in self.targets if a not in used]:
            del self.targets[address]
