"""CodeStar Notifications: notification rules on developer-tools resources, delivered to SNS topics.

How events reach the rules (the one hook): like AWS, the service keeps an EventBridge *managed rule*,
`awscodestarnotifications-rule` (ManagedBy codestar-notifications.amazonaws.com), on the default bus of
each account and region that has notification rules; its pattern takes the developer-tools sources.
Events put on that bus (PutEvents from our CodeBuild/CodePipeline/CodeCommit planes, from tests, or
forwarded from another account's bus) therefore pass through the same rule matching and per-target
FIFO lanes on the scheduler as every other rule (eventbridge/delivery.py), and the lane hands them to
`on_event` here. A bus without notification rules gets no extra rule, so nothing else changes.

The managed rule is put into moto's EventBridge directly: the public PutRule cannot set ManagedBy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from threading import Condition
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from gitops_harness.emulator.codestar_notifications import messages
from gitops_harness.emulator.codestar_notifications.delivery import SLACK, SNS, Outcome, TargetSender
from gitops_harness.emulator.codestar_notifications.event_types import (
    ARN_SERVICE,
    EVENT_TYPES,
    SOURCES,
    event_type_ids,
)
from gitops_harness.emulator.controlplane import ControlPlane, RequestContext, Runtime, Store
from gitops_harness.emulator.eventbridge.delivery import current_delivery
from gitops_harness.emulator.exceptions import ModeledErrors

log = logging.getLogger(__name__)

SERVICE = "codestar-notifications"
MANAGED_RULE = "awscodestarnotifications-rule"
MANAGED_BY = "codestar-notifications.amazonaws.com"
MAX_TARGETS = 10
UNREACHABLE_TO_INACTIVE = 24 * 3600  # AWS seconds a target stays UNREACHABLE before it is INACTIVE
_RULE_ARN = re.compile(r"^arn:aws[^:\s]*:codestar-notifications:([^:\s]+):(\d{12}):notificationrule/(.*\S)$")
_TOPIC_ARN = re.compile(r"^arn:aws[^:\s]*:sns:[^:\s]+:\d{12}:[\w-]{1,256}$")
_CHATBOT_ARN = re.compile(r"^arn:aws[^:\s]*:chatbot::\d{12}:chat-configuration/slack-channel/.+$")
_RESOURCE_ARN = re.compile(r"^arn:aws[^:\s]*:([^:\s]+):([^:\s]*):(\d{12}):(.+)$")


@dataclass
class Target:
    address: str
    type: str
    status: str = "PENDING"
    reason: str = ""
    unreachable_since: float | None = None  # scheduler clock


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
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.arn.rsplit("/", 1)[1]


@dataclass
class NotificationsState:
    rules: dict[str, NotificationRule] = field(default_factory=dict)  # by ARN
    targets: dict[str, Target] = field(default_factory=dict)  # by address, shared by the account's rules
    tokens: dict[str, str] = field(default_factory=dict)  # ClientRequestToken -> rule ARN


class CodeStarNotifications(ControlPlane):
    service_name = SERVICE
    errors = ModeledErrors(SERVICE)

    def __init__(self, runtime: Runtime):
        super().__init__(runtime)
        self.store: Store[NotificationsState] = Store(NotificationsState)
        self.sender = TargetSender(runtime.clients)
        self._log: deque[dict[str, Any]] = deque(maxlen=1000)
        self._log_cond = Condition()

    def handle(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        # Serve the managed rule's target on the EventBridge delivery of the emulator this request came
        # through (each emulator has its own; moto's rules are shared by all emulators in the process).
        delivery = current_delivery()
        if delivery is not None:
            delivery.serve_target(SERVICE, self.on_event)
        return super().handle(ctx, params)

    # ---- rules --------------------------------------------------------------------------------------

    def CreateNotificationRule(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        state = self.store[ctx]
        token = request.get("ClientRequestToken")
        if token and token in state.tokens and state.tokens[token] in state.rules:
            existing = state.rules[state.tokens[token]]
            if existing.name == request["Name"]:
                return {"Arn": existing.arn}  # an idempotent retry
        name = self._name(request["Name"])
        if any(rule.name == name for rule in state.rules.values()):
            raise self.errors.ResourceAlreadyExistsException(
                f"A notification rule named {name} already exists in this account"
            )
        self._resource(ctx, request["Resource"])
        event_type_ids = self._event_types(request["Resource"], request["EventTypeIds"])
        detail_type = self._enum("DetailType", request["DetailType"], (messages.BASIC, messages.FULL))
        status = self._enum("Status", request.get("Status", "ENABLED"), ("ENABLED", "DISABLED"))
        targets = self._targets(request["Targets"])
        digest = hashlib.sha1(f"{ctx.account_id}/{ctx.region}/{name}/{uuid.uuid4()}".encode()).hexdigest()
        now = datetime.now(UTC)
        rule = NotificationRule(
            arn=f"arn:aws:codestar-notifications:{ctx.region}:{ctx.account_id}:notificationrule/{digest}",
            name=name,
            resource=request["Resource"],
            event_type_ids=event_type_ids,
            detail_type=detail_type,
            status=status,
            created_by=ctx.caller_arn,
            created=now,
            modified=now,
            tags=self._tags(request.get("Tags") or {}),
        )
        state.rules[rule.arn] = rule
        if token:
            state.tokens[token] = rule.arn
        self._attach(ctx, state, rule, targets)
        self._put_managed_rule(ctx.account_id, ctx.region)
        return {"Arn": rule.arn}

    def DescribeNotificationRule(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        rule = self._rule(ctx, request["Arn"])
        state = self.store[ctx]
        return {
            "Arn": rule.arn,
            "Name": rule.name,
            "EventTypes": [self._event_type(EVENT_TYPES[i]) for i in rule.event_type_ids],
            "Resource": rule.resource,
            "Targets": [self._target(self._status(state.targets[a])) for a in rule.targets],
            "DetailType": rule.detail_type,
            "CreatedBy": rule.created_by,
            "Status": rule.status,
            "CreatedTimestamp": rule.created,
            "LastModifiedTimestamp": rule.modified,
            "Tags": dict(rule.tags),
        }

    def ListNotificationRules(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        state = self.store[ctx]
        rules = list(state.rules.values())
        for item in request.get("Filters") or []:
            name, value = item["Name"], item["Value"]
            if name == "EVENT_TYPE_ID":
                rules = [r for r in rules if value in r.event_type_ids]
            elif name == "CREATED_BY":
                rules = [r for r in rules if r.created_by == value]
            elif name == "RESOURCE":
                rules = [r for r in rules if r.resource == value]
            elif name == "TARGET_ADDRESS":
                rules = [r for r in rules if value in r.targets]
            else:
                raise self.errors.ValidationException(f"Unknown filter name {name}")
        page, token = self._page(rules, request)
        answer: dict[str, Any] = {"NotificationRules": [{"Id": r.id, "Arn": r.arn} for r in page]}
        if token:
            answer["NextToken"] = token
        return answer

    def UpdateNotificationRule(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        state = self.store[ctx]
        rule = self._rule(ctx, request["Arn"], error="ResourceNotFoundException")
        if "Name" in request:
            name = self._name(request["Name"])
            if any(r.name == name and r.arn != rule.arn for r in state.rules.values()):
                raise self.errors.ValidationException(f"A notification rule named {name} already exists")
            rule.name = name
        if "EventTypeIds" in request:
            rule.event_type_ids = self._event_types(rule.resource, request["EventTypeIds"])
        if "DetailType" in request:
            rule.detail_type = self._enum(
                "DetailType", request["DetailType"], (messages.BASIC, messages.FULL)
            )
        if "Status" in request:
            rule.status = self._enum("Status", request["Status"], ("ENABLED", "DISABLED"))
        if "Targets" in request:
            # AWS: the given targets are added; Unsubscribe/DeleteTarget remove them
            self._attach(ctx, state, rule, self._targets(request["Targets"]))
        rule.modified = datetime.now(UTC)
        return {}

    def DeleteNotificationRule(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        arn = self._rule_arn(request["Arn"])
        state = self.store[ctx]
        rule = state.rules.pop(arn, None)
        if rule is not None:
            self._drop_unused_targets(state)
            if not state.rules:
                self._remove_managed_rule(ctx.account_id, ctx.region)
        return {"Arn": arn}  # AWS answers the ARN even when the rule is already gone

    # ---- targets ------------------------------------------------------------------------------------

    def Subscribe(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        rule = self._rule(ctx, request["Arn"], error="ResourceNotFoundException")
        self._attach(ctx, self.store[ctx], rule, self._targets([request["Target"]]))
        rule.modified = datetime.now(UTC)
        return {"Arn": rule.arn}

    def Unsubscribe(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        state = self.store[ctx]
        rule = self._rule(ctx, request["Arn"], error="ValidationException")
        if request["TargetAddress"] in rule.targets:
            rule.targets.remove(request["TargetAddress"])
            rule.modified = datetime.now(UTC)
            self._drop_unused_targets(state)
        return {"Arn": rule.arn}

    def ListTargets(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        targets = [self._status(t) for t in self.store[ctx].targets.values()]
        for item in request.get("Filters") or []:
            name, value = item["Name"], item["Value"]
            key = {"TARGET_TYPE": "type", "TARGET_ADDRESS": "address", "TARGET_STATUS": "status"}.get(name)
            if key is None:
                raise self.errors.ValidationException(f"Unknown filter name {name}")
            targets = [t for t in targets if getattr(t, key) == value]
        page, token = self._page(targets, request)
        answer: dict[str, Any] = {"Targets": [self._target(t) for t in page]}
        if token:
            answer["NextToken"] = token
        return answer

    def DeleteTarget(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        state = self.store[ctx]
        address = request["TargetAddress"]
        users = [rule for rule in state.rules.values() if address in rule.targets]
        if users and not request.get("ForceUnsubscribeAll"):
            raise self.errors.ValidationException(
                f"Target {address} is associated with {len(users)} notification rule(s); "
                "unsubscribe it first or set ForceUnsubscribeAll"
            )
        for rule in users:
            rule.targets.remove(address)
        state.targets.pop(address, None)
        return {}

    # ---- event types and tags -----------------------------------------------------------------------

    def ListEventTypes(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        types = list(EVENT_TYPES.values())
        for item in request.get("Filters") or []:
            name, value = item["Name"], item["Value"]
            if name == "RESOURCE_TYPE":
                types = [t for t in types if t.resource_type == value]
            elif name == "SERVICE_NAME":
                types = [t for t in types if t.service == value]
            else:
                raise self.errors.ValidationException(f"Unknown filter name {name}")
        page, token = self._page(types, request)
        answer: dict[str, Any] = {"EventTypes": [self._event_type(t) for t in page]}
        if token:
            answer["NextToken"] = token
        return answer

    def TagResource(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        rule = self._rule(ctx, request["Arn"])
        rule.tags.update(self._tags(request["Tags"]))
        return {"Tags": dict(rule.tags)}

    def UntagResource(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        rule = self._rule(ctx, request["Arn"])
        for key in request["TagKeys"]:
            rule.tags.pop(key, None)
        return {}

    def ListTagsForResource(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        return {"Tags": dict(self._rule(ctx, request["Arn"]).tags)}

    # ---- validation helpers -------------------------------------------------------------------------

    def _name(self, name: str) -> str:
        if not 1 <= len(name) <= 64 or not re.fullmatch(r"[A-Za-z0-9\-_ ]+", name):
            raise self.errors.ValidationException(
                f"Name {name!r} is not valid: 1-64 letters, digits, spaces, hyphens or underscores"
            )
        return name

    def _enum(self, member: str, value: str, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            raise self.errors.ValidationException(f"{member} {value!r} is not one of {', '.join(allowed)}")
        return value

    def _resource(self, ctx: RequestContext, resource: str) -> None:
        match = _RESOURCE_ARN.match(resource)
        if match is None or match.group(1) not in set(ARN_SERVICE.values()):
            raise self.errors.ValidationException(
                f"Resource {resource} is not the ARN of a CodeBuild project, CodePipeline pipeline, "
                "CodeDeploy application or CodeCommit repository"
            )
        if match.group(3) != ctx.account_id or match.group(2) != ctx.region:
            raise self.errors.ValidationException(
                f"Resource {resource} is not in this account and Region ({ctx.account_id}, {ctx.region})"
            )

    def _event_types(self, resource: str, ids: list[str]) -> list[str]:
        if not ids:
            raise self.errors.ValidationException("EventTypeIds must name at least one event type")
        service = resource.split(":")[2]
        for event_type_id in ids:
            if event_type_id not in EVENT_TYPES:
                raise self.errors.ValidationException(f"Event type {event_type_id} is not valid")
            if ARN_SERVICE[event_type_id] != service:
                raise self.errors.ValidationException(
                    f"Event type {event_type_id} does not apply to resource {resource} ({service})"
                )
        return list(dict.fromkeys(ids))

    def _targets(self, targets: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
        found = []
        for target in targets:
            kind, address = target.get("TargetType"), target.get("TargetAddress")
            if not kind or not address:
                raise self.errors.ValidationException("A target needs TargetType and TargetAddress")
            if kind == SNS:
                if not _TOPIC_ARN.match(address):
                    raise self.errors.ValidationException(f"TargetAddress {address} is not an SNS topic ARN")
            elif kind == SLACK:
                if not _CHATBOT_ARN.match(address):
                    raise self.errors.ValidationException(
                        f"TargetAddress {address} is not an AWS Chatbot Slack channel configuration ARN"
                    )
            else:
                raise self.errors.ValidationException(f"TargetType {kind} is not SNS or {SLACK}")
            found.append((kind, address))
        return found

    def _tags(self, tags: Mapping[str, str]) -> dict[str, str]:
        for key in tags:
            if key.lower().startswith("aws:"):
                raise self.errors.ValidationException(f"Tag key {key} uses the reserved prefix aws:")
        return dict(tags)

    def _rule_arn(self, arn: str) -> str:
        if not _RULE_ARN.match(arn):
            raise self.errors.ValidationException(f"{arn} is not a notification rule ARN")
        return arn

    def _rule(
        self, ctx: RequestContext, arn: str, error: str = "ResourceNotFoundException"
    ) -> NotificationRule:
        rule = self.store[ctx].rules.get(self._rule_arn(arn))
        if rule is None:
            raise getattr(self.errors, error)(f"Notification rule {arn} does not exist")
        return rule

    def _page(self, items: list[Any], request: Mapping[str, Any]) -> tuple[list[Any], str | None]:
        size = request.get("MaxResults") or 100
        if not 1 <= size <= 100:
            raise self.errors.ValidationException("MaxResults must be between 1 and 100")
        token = request.get("NextToken")
        start = 0
        if token:
            try:
                start = int(token)
            except ValueError:
                raise self.errors.InvalidNextTokenException("The NextToken is not valid") from None
            if not 0 <= start <= len(items):
                raise self.errors.InvalidNextTokenException("The NextToken is not valid")
        end = start + size
        return items[start:end], (str(end) if end < len(items) else None)

    @staticmethod
    def _event_type(event_type: Any) -> dict[str, str]:
        return {
            "EventTypeId": event_type.id,
            "ServiceName": event_type.service,
            "EventTypeName": event_type.name,
            "ResourceType": event_type.resource_type,
        }

    @staticmethod
    def _target(target: Target) -> dict[str, str]:
        return {"TargetAddress": target.address, "TargetType": target.type, "TargetStatus": target.status}

    def _status(self, target: Target) -> Target:
        since = target.unreachable_since
        if target.status == "UNREACHABLE" and since is not None:
            clock = self.runtime.scheduler.clock.now()
            if clock - since >= self.runtime.scheduler.to_clock(UNREACHABLE_TO_INACTIVE):
                target.status = "INACTIVE"
        return target

    # ---- targets' life ------------------------------------------------------------------------------

    def _attach(
        self,
        ctx: RequestContext,
        state: NotificationsState,
        rule: NotificationRule,
        targets: list[tuple[str, str]],
    ) -> None:
        new = [a for _, a in targets if a not in rule.targets]
        if len(rule.targets) + len(new) > MAX_TARGETS:
            raise self.errors.ValidationException(f"A notification rule has at most {MAX_TARGETS} targets")
        for kind, address in targets:
            if address not in state.targets:
                state.targets[address] = Target(address, kind)
                if kind == SNS:
                    # AWS checks a new target in the background: PENDING, then ACTIVE or UNREACHABLE
                    self.runtime.scheduler.spawn(
                        self._check_target, ctx.account_id, ctx.region, rule.arn, address,
                        name=f"codestar-notifications check {address}",
                    )  # fmt: skip
                else:
                    state.targets[address].status = "ACTIVE"
            if address not in rule.targets:
                rule.targets.append(address)

    def _check_target(self, account: str, region: str, rule_arn: str, address: str) -> None:
        decision = self.sender.check_sns(address, rule_account=account, rule_arn=rule_arn)
        self._set_status(account, region, address, decision.allowed, decision.reason, only_pending=True)

    def _set_status(
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
            target.reason = reason
            if reachable:
                target.status, target.unreachable_since = "ACTIVE", None
            elif target.status not in ("UNREACHABLE", "INACTIVE"):
                target.status = "UNREACHABLE"
                target.unreachable_since = self.runtime.scheduler.clock.now()

    def _drop_unused_targets(self, state: NotificationsState) -> None:
        # a target not used by any rule is gone from ListTargets too
        used = {address for rule in state.rules.values() for address in rule.targets}
        for address in [a for a in state.targets if a not in used]:
            del state.targets[address]

    # ---- the EventBridge managed rule ---------------------------------------------------------------

    @staticmethod
    def _events(account: str, region: str) -> Any:
        from moto.events.models import events_backends

        return events_backends[account][region]

    def _put_managed_rule(self, account: str, region: str) -> None:
        events = self._events(account, region)
        if MANAGED_RULE in events.event_buses["default"].rules:
            return
        events.put_rule(
            MANAGED_RULE,
            description="Managed by CodeStar Notifications: the events of its notification rules",
            event_pattern=json.dumps({"source": list(SOURCES)}),
            state="ENABLED",
            managed_by=MANAGED_BY,
        )
        events.put_targets(
            MANAGED_RULE,
            None,
            [{"Id": SERVICE, "Arn": f"arn:aws:codestar-notifications:{region}:{account}:{MANAGED_RULE}"}],
        )

    def _remove_managed_rule(self, account: str, region: str) -> None:
        self._events(account, region).event_buses["default"].rules.pop(MANAGED_RULE, None)

    # ---- delivery -----------------------------------------------------------------------------------

    def on_event(self, target: Mapping[str, Any], event: Mapping[str, Any]) -> str:
        """The managed rule's target: notify every enabled rule of that account whose resource and event
        types the event matches. Runs in the rule's EventBridge delivery lane (in order, on the scheduler)."""
        # the managed rule's target ARN names the account and Region whose rules it serves
        region, account = str(target["Arn"]).split(":", 5)[3:5]
        match = event_type_ids(event)
        if match is None:
            return "no notification event type"
        with self.lock:
            rules = [
                (rule.arn, rule.detail_type, [(state_target.type, state_target.address) for state_target in
                 (self.store.get(account, region).targets[a] for a in rule.targets)])
                for rule in self.store.get(account, region).rules.values()
                if rule.status == "ENABLED"
                and rule.resource == match.resource_arn
                and set(rule.event_type_ids) & set(match.event_type_ids)
            ]  # fmt: skip
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
                self._set_status(account, region, address, outcome.delivered, outcome.detail)
                self._record(outcome)
                sent += outcome.delivered
        return f"{sent} notification(s) sent for {len(rules)} rule(s) ({', '.join(match.event_type_ids)})"

    def _additional_attributes(
        self, account: str, region: str, event: Mapping[str, Any], ids: tuple[str, ...]
    ) -> dict[str, Any]:
        """FULL detail: for a manual approval, the action's CustomData and ExternalEntityLink."""
        if not any(i.startswith("codepipeline-pipeline-manual-approval-") for i in ids):
            return {}
        detail = event.get("detail") or {}
        try:
            pipeline = self.runtime.clients.for_account("codepipeline", account, region).get_pipeline(
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

    # ---- the delivery log (tests and humans read it) ------------------------------------------------

    def _record(self, outcome: Outcome) -> None:
        with self._log_cond:
            self._log.append(outcome.as_dict())
            self._log_cond.notify_all()

    def deliveries(self) -> list[dict[str, Any]]:
        with self._log_cond:
            return list(self._log)

    def wait_for_delivery(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float
    ) -> dict[str, Any]:
        """The first delivery record matching `predicate`, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._log_cond:
            while True:
                for entry in self._log:
                    if predicate(entry):
                        return entry
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"no matching CodeStar notification delivery within {timeout}s; seen: {list(self._log)[-5:]}"
                    )
                self._log_cond.wait(remaining)
