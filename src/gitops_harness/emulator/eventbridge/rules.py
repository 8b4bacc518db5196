"""Managed rules: EventBridge rules an AWS service keeps on a bus for itself (ManagedBy set), which the
public PutRule cannot make (CodeStar Notifications' `awscodestarnotifications-rule`).

A plane puts and removes its managed rule through `Runtime.event_rules`, whose EventBridge holds the rule:
`MotoEventRules` here (the embedded emulator's EventBridge is moto's, delivered by delivery.py); inside
LocalStack the plugin gives its own (gitops_localstack/eventbridge.py: LocalStack's events store).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

DEFAULT_BUS = "default"


@dataclass(frozen=True)
class ManagedRule:
    """A rule on an account's default bus with one target, the service that manages it."""

    name: str
    managed_by: str  # the service principal (codestar-notifications.amazonaws.com)
    description: str
    pattern: dict[str, Any]
    target_id: str
    target_arn: str

    @property
    def pattern_json(self) -> str:
        return json.dumps(self.pattern)


class EventRules(Protocol):
    """Where a plane's managed rules live: an EventBridge whose delivery reaches the plane."""

    def put_managed_rule(self, account: str, region: str, rule: ManagedRule) -> None:
        """The rule and its target on the account's default bus, if the rule is not there yet."""

    def remove_managed_rule(self, account: str, region: str, name: str) -> None:
        """The rule and its targets gone from the account's default bus (nothing when it is absent)."""


class MotoEventRules:
    """The embedded emulator's: moto's events backend, the one its front door serves EventBridge from."""

    @staticmethod
    def _backend(account: str, region: str) -> Any:
        from moto.events.models import events_backends

        return events_backends[account][region]

    def put_managed_rule(self, account: str, region: str, rule: ManagedRule) -> None:
        events = self._backend(account, region)
        if rule.name in events.event_buses[DEFAULT_BUS].rules:
            return
        events.put_rule(
            rule.name,
            description=rule.description,
            event_pattern=rule.pattern_json,
            state="ENABLED",
            managed_by=rule.managed_by,
        )
        events.put_targets(rule.name, None, [{"Id": rule.target_id, "Arn": rule.target_arn}])

    def remove_managed_rule(self, account: str, region: str, name: str) -> None:
        self._backend(account, region).event_buses[DEFAULT_BUS].rules.pop(name, None)
