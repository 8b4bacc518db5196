"""What CodeStar Notifications takes and sends: the EventBridge managed rule that brings it the
developer-tools events, and the notifications it sends for them (with their delivery log).

How events reach the rules, as on AWS: the service keeps an EventBridge *managed rule*,
`awscodestarnotifications-rule` (ManagedBy codestar-notifications.amazonaws.com), on the default bus of
each account and region that has notification rules; its pattern takes the developer-tools sources.
Events put on that bus (PutEvents from our CodeBuild/CodePipeline/CodeCommit planes, from tests, or
forwarded from another account's bus) therefore pass through the same rule matching and per-target FIFO
lanes on the scheduler as every other rule (eventbridge/delivery.py), and the lane hands them to
`Notifier.on_event`. A bus without notification rules gets no extra rule, so nothing else changes.

The public PutRule cannot set ManagedBy, so the plane puts the managed rule through its Runtime's
`event_rules` (emulator/eventbridge/rules.py): moto's EventBridge in the embedded emulator, LocalStack's
events store inside LocalStack (the plugin's eventbridge.py), whichever EventBridge the events go to.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from gitops_harness.emulator.codestar_notifications import messages
from gitops_harness.emulator.codestar_notifications.delivery import TargetSender
from gitops_harness.emulator.codestar_notifications.event_types import SOURCES, event_type_ids
from gitops_harness.emulator.codestar_notifications.models import NotificationsState
from gitops_harness.emulator.common.arns import build_arn, parse_arn
from gitops_harness.emulator.common.records import RecordLog
from gitops_harness.emulator.controlplane import Store
from gitops_harness.emulator.eventbridge.rules import EventRules, ManagedRule

if TYPE_CHECKING:
    from gitops_harness.emulator.clients import RoleClients
    from gitops_harness.emulator.scheduler import Scheduler

log = logging.getLogger(__name__)

SERVICE = "codestar-notifications"
MANAGED_RULE = "awscodestarnotifications-rule"
MANAGED_BY = "codestar-notifications.amazonaws.com"


# ---- the EventBridge managed rule ---------------------------------------------------------------------


def managed_rule(account: str, region: str) -> ManagedRule:
    """The managed rule of one account and Region; its target ARN names them (`Notifier.on_event`)."""
    return ManagedRule(
        name=MANAGED_RULE,
        managed_by=MANAGED_BY,
        description="Managed by CodeStar Notifications: the events of its notification rules",
        pattern={"source": list(SOURCES)},
        target_id=SERVICE,
        target_arn=build_arn(SERVICE, region, account, MANAGED_RULE),
    )


def put_managed_rule(rules: EventRules, account: str, region: str) -> None:
    """The managed rule on the account's default bus, if it is not there yet."""
    rules.put_managed_rule(account, region, managed_rule(account, region))


def remove_managed_rule(rules: EventRules, account: str, region: str) -> None:
    rules.remove_managed_rule(account, region, MANAGED_RULE)


# ---- notifications --------------------------------------------------------------------------------------


class Notifier:
    """The managed rule's target: turns an event into notifications for the matching rules."""

    def __init__(
        self,
        store: Store[NotificationsState],
        lock: threading.RLock,
        clients: RoleClients,
        scheduler: Scheduler,
        log_size: int = 1000,
    ):
        self.store = store
        self.lock = lock
        self.clients = clients
        self.scheduler = scheduler
        self.sender = TargetSender(clients)
        self.log = RecordLog("CodeStar notification delivery", maxlen=log_size)

    def on_event(self, target: Mapping[str, Any], event: Mapping[str, Any]) -> str:
        """Notify every enabled rule of that account whose resource and event types the event matches.
        Runs in the rule's EventBridge delivery lane (in order, on the scheduler)."""
        # the managed rule's target ARN names the account and Region whose rules it serves
        arn = parse_arn(str(target["Arn"]))
        account, region = arn.account, arn.region
        match = event_type_ids(event)
        if match is None:
            return "no notification event type"
        with self.lock:
            state = self.store.get(account, region)
            rules = [
                (rule.arn, rule.detail_type, [(state.targets[a].type, a) for a in rule.targets])
                for rule in state.rules.values()
                if rule.status == "ENABLED"
                and rule.resource == match.resource_arn
                and set(rule.event_type_ids) & set(match.event_type_ids)
            ]
        sent = 0
        for rule_arn, detail_type, targets in rules:
            message = messages.notification(
                event,
                rule_arn=rule_arn,
                detail_type=detail_type,
                additional_attributes=self._additional_attributes(
                    account, region, event, match.event_type_ids
                ),
            )
            rendered = messages.render(message)
            for kind, address in targets:
                outcome = self.sender.send(
                    rule_arn=rule_arn,
                    rule_account=account,
                    target_type=kind,
                    target_address=address,
                    message=message,
                    rendered=rendered,
                    event_id=event.get("id"),
                )
                self.mark_target(account, region, address, outcome.delivered, outcome.detail)
                self.log.append(outcome.as_dict())
                sent += outcome.delivered
        return f"{sent} notification(s) sent for {len(rules)} rule(s) ({', '.join(match.event_type_ids)})"

    def check_target(self, account: str, region: str, rule_arn: str, address: str) -> None:
        """AWS checks a new SNS target in the background: PENDING, then ACTIVE or UNREACHABLE."""
        decision = self.sender.check_sns(address, rule_account=account, rule_arn=rule_arn)
        self.mark_target(account, region, address, decision.allowed, decision.reason, only_pending=True)

    def mark_target(
        self,
        account: str,
        region: str,
        address: str,
        reachable: bool,
        reason: str,
        *,
        only_pending: bool = False,
    ) -> None:
        with self.lock:
            target = self.store.get(account, region).targets.get(address)
            if target is None or (only_pending and target.status != "PENDING"):
                return
            target.mark(reachable, reason, self.scheduler.clock.now())

    def _additional_attributes(
        self, account: str, region: str, event: Mapping[str, Any], ids: tuple[str, ...]
    ) -> dict[str, Any]:
        """FULL detail: for a manual approval, the action's CustomData and ExternalEntityLink."""
        if not any(i.startswith("codepipeline-pipeline-manual-approval-") for i in ids):
            return {}
        detail = event.get("detail") or {}
        try:
            pipeline = self.clients.for_account("codepipeline", account, region).get_pipeline(
                name=detail.get("pipeline")
            )["pipeline"]
        except (ClientError, BotoCoreError) as error:
            log.info("no approval details for %s: %s", detail.get("pipeline"), error)
            return {}
        for stage in pipeline.get("stages", []):
            if stage.get("name") != detail.get("stage"):
                continue
            for action in stage.get("actions", []):
                if action.get("name") == detail.get("action"):
                    config = action.get("configuration") or {}
                    found = {
                        "customData": config.get("CustomData"),
                        "externalEntityLink": config.get("ExternalEntityLink"),
                    }
                    return {k: v for k, v in found.items() if v}
        return {}
