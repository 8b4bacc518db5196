"""CodeStar Notifications: notification rules on developer-tools resources, delivered to SNS topics.

One handler per operation here; state in models.py; the EventBridge managed rule that brings events and
the notifications sent for them in events.py (its `Notifier` is the managed rule's target, registered
with the emulator's EventBridge delivery when the plane is created).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from gitops_harness.emulator.codestar_notifications import messages
from gitops_harness.emulator.codestar_notifications.delivery import SLACK, SNS
from gitops_harness.emulator.codestar_notifications.event_types import ARN_SERVICE, EVENT_TYPES
from gitops_harness.emulator.codestar_notifications.events import (
    MANAGED_RULE,
    SERVICE,
    Notifier,
    put_managed_rule,
    remove_managed_rule,
)
from gitops_harness.emulator.codestar_notifications.models import (
    MAX_TARGETS,
    UNREACHABLE_TO_INACTIVE,
    NotificationRule,
    NotificationsState,
    Target,
)
from gitops_harness.emulator.common.arns import InvalidArn, build_arn, parse_arn
from gitops_harness.emulator.common.pagination import paginate
from gitops_harness.emulator.controlplane import ControlPlane, RequestContext, Runtime, Store
from gitops_harness.emulator.exceptions import ModeledErrors

__all__ = ["MANAGED_RULE", "CodeStarNotifications"]

_RULE_ARN = re.compile(r"^arn:aws[^:\s]*:codestar-notifications:([^:\s]+):(\d{12}):notificationrule/(.*\S)$")
_TOPIC_ARN = re.compile(r"^arn:aws[^:\s]*:sns:[^:\s]+:\d{12}:[\w-]{1,256}$")
_CHATBOT_ARN = re.compile(r"^arn:aws[^:\s]*:chatbot::\d{12}:chat-configuration/slack-channel/.+$")


class CodeStarNotifications(ControlPlane):
    service_name = SERVICE
    signing = "codestar-notifications"
    errors = ModeledErrors(SERVICE)

    def __init__(self, runtime: Runtime):
        super().__init__(runtime)
        self.store: Store[NotificationsState] = Store(NotificationsState)
        self.tags = self.tag_store("LimitExceededException", "ValidationException")
        self.notifier = Notifier(self.store, self.lock, runtime.clients, runtime.scheduler)
        # The managed rule's target, served by this emulator's EventBridge delivery from the start (moto's
        # rules are shared by every emulator in the process; each emulator delivers its own requests).
        if runtime.event_delivery is not None:
            runtime.event_delivery.serve_target(SERVICE, self.notifier.on_event)

    def deliveries(self) -> list[dict[str, Any]]:
        """The notifications sent (or refused), oldest first."""
        return self.notifier.log.records()

    def wait_for_delivery(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float
    ) -> dict[str, Any]:
        """The first delivery record matching `predicate`, waiting up to `timeout` seconds."""
        return self.notifier.log.wait_for(predicate, timeout)

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
        arn = build_arn(SERVICE, ctx.region, ctx.account_id, f"notificationrule/{digest}")
        self.tags.tag(arn, request.get("Tags") or {})  # limits checked before the rule exists
        now = datetime.now(UTC)
        rule = NotificationRule(
            arn=arn,
            name=name,
            resource=request["Resource"],
            event_type_ids=event_type_ids,
            detail_type=detail_type,
            status=status,
            created_by=ctx.caller_arn,
            created=now,
            modified=now,
        )
        state.rules[rule.arn] = rule
        if token:
            state.tokens[token] = rule.arn
        self._attach(ctx, state, rule, targets)
        put_managed_rule(self.runtime.event_rules, ctx.account_id, ctx.region)
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
            "Tags": self.tags.get(rule.arn),
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
            self.tags.drop(arn)
            state.drop_unused_targets()
            if not state.rules:
                remove_managed_rule(self.runtime.event_rules, ctx.account_id, ctx.region)
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
            state.drop_unused_targets()
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
        self.tags.tag(rule.arn, request["Tags"])
        return {"Tags": self.tags.get(rule.arn)}

    def UntagResource(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        rule = self._rule(ctx, request["Arn"])
        self.tags.untag(rule.arn, request["TagKeys"])
        return {}

    def ListTagsForResource(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        return {"Tags": self.tags.get(self._rule(ctx, request["Arn"]).arn)}

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
        try:
            arn = parse_arn(resource)
        except InvalidArn:
            arn = None
        if arn is None or arn.service not in set(ARN_SERVICE.values()):
            raise self.errors.ValidationException(
                f"Resource {resource} is not the ARN of a CodeBuild project, CodePipeline pipeline, "
                "CodeDeploy application or CodeCommit repository"
            )
        if arn.account != ctx.account_id or arn.region != ctx.region:
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
        return paginate(
            items,
            request.get("NextToken"),
            size,
            invalid_token=self.errors.InvalidNextTokenException,
            message="The NextToken is not valid",
        )

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
        scheduler = self.runtime.scheduler
        target.age(scheduler.clock.now(), scheduler.to_clock(UNREACHABLE_TO_INACTIVE))
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
                        self.notifier.check_target, ctx.account_id, ctx.region, rule.arn, address,
                        name=f"codestar-notifications check {address}",
                    )  # fmt: skip
                else:
                    state.targets[address].status = "ACTIVE"
            if address not in rule.targets:
                rule.targets.append(address)
