"""EventBridge delivery into the planes, on LocalStack's own EventBridge (its community events provider).

LocalStack matches a bus's rules and hands each target to a `TargetSender` picked by the service in the
target's ARN from `TargetSenderFactory.target_map` (localstack/services/events/target.py in 4.14.0). It
has none for CodePipeline: PutTargets with a pipeline ARN fails with "Unsupported target for Service:
codepipeline". The ONE place the plugin changes that is `register_targets` below, run when LocalStack
starts (hook `localstack.hooks.on_runtime_create`, before anything is served): it adds senders through
LocalStack's own `TargetSenderFactory.register_target_sender`, nothing else of LocalStack is patched.

- `codepipeline`: `CodePipelineTargetSender` does what the embedded emulator's EventDelivery does for a
  pipeline target: the target's RoleArn must be a role in the rule's account that trusts
  events.amazonaws.com; StartPipelineExecution runs as that role (LocalStack's assumed-role client,
  through its gateway, so the call reaches our CodePipeline provider like any other) with a
  clientRequestToken this delivery remembers with the rule ARN and the event; the CodePipeline plane
  claims it (`runtime.event_delivery.claim_pipeline_start`) and records the trigger as CloudWatchEvent
  with the rule's ARN, its CodeCommit source pinned to the event's commitId.
- a service a plane serves as a rule target (`serve_target`, CodeStar Notifications' managed rule):
  `ServiceTargetSender` hands the event to that plane's handler (registered for codestar-notifications
  at start too, so the health route can say notification rules are fed before the plane is made).

`LocalStackEventRules` is the plugin Runtime's `event_rules` (emulator/eventbridge/rules.py): where a
plane's EventBridge *managed rule* goes (CodeStar Notifications' `awscodestarnotifications-rule`, put with
the first notification rule of an account and Region, removed with the last, whether by
DeleteNotificationRule or a stack's DeleteStack). It is the one place the plugin writes LocalStack's
events state: PutRule and PutTargets through LocalStack's internal client (so its events provider makes
the rule's service and the target's sender, ours above), then `managed_by` set on the stored rule (the
public PutRule cannot set it; DescribeRule and ListRules then show ManagedBy, as on AWS); removal is
DeleteRule with Force. Not RemoveTargets: 4.14's provider does not pass its Force on, so it answers a
managed rule's targets ManagedRuleException yet drops their senders (a user's RemoveTargets on the
managed rule therefore stops its delivery until the next CreateNotificationRule, which puts the target
again).

Cross-account bus-to-bus forwarding is LocalStack's own (EventsTargetSender keeps the sender's account in
the forwarded event). LocalStack does not evaluate the receiving bus's resource policy.

`PlaneEventDelivery` is the plugin Runtime's `event_delivery`: the part of emulator/eventbridge's
EventDelivery the planes call, and a log of what was delivered or refused and why (GET
/_gitops/eventbridge/deliveries), since LocalStack only logs a failed target.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from localstack.runtime import hooks

if TYPE_CHECKING:
    from gitops_harness.emulator.eventbridge.rules import ManagedRule

log = logging.getLogger(__name__)

DELIVERIES_PATH = "/_gitops/eventbridge/deliveries"
NOTIFICATIONS = "codestar-notifications"  # the service whose managed rule's target a plane serves
EVENTS_PRINCIPAL = "events.amazonaws.com"
ServiceTarget = Callable[[dict[str, Any], dict[str, Any]], str]


class PlaneEventDelivery:
    """The Runtime's `event_delivery` inside LocalStack (LocalStack's events provider does the routing)."""

    def __init__(self, log_size: int = 1000) -> None:
        from gitops_harness.emulator.common.records import RecordLog
        from gitops_harness.emulator.eventbridge.delivery import PipelineStart

        self._pipeline_start = PipelineStart
        self._lock = threading.Lock()
        self._pipeline_starts: dict[str, Any] = {}
        self._service_targets: dict[str, ServiceTarget] = {}
        self.records = RecordLog("EventBridge delivery (LocalStack)", maxlen=log_size)

    # -- what the planes call ---------------------------------------------------------------------------

    def serve_target(self, service: str, handler: ServiceTarget) -> None:
        with self._lock:
            self._service_targets[service] = handler
        _register(service, _senders()[1])

    def claim_pipeline_start(self, token: str | None) -> Any:
        """The rule and event behind a StartPipelineExecution a sender is making, once; else None."""
        if not token:
            return None
        with self._lock:
            return self._pipeline_starts.pop(token, None)

    # -- what the senders call --------------------------------------------------------------------------

    def expect_pipeline_start(self, token: str, rule_arn: str, event: dict[str, Any]) -> None:
        with self._lock:
            self._pipeline_starts[token] = self._pipeline_start(rule_arn, event)

    def forget_pipeline_start(self, token: str) -> None:
        with self._lock:
            self._pipeline_starts.pop(token, None)

    def service_target(self, service: str) -> ServiceTarget | None:
        with self._lock:
            return self._service_targets.get(service)

    def record(
        self, rule_arn: str, target: dict[str, Any], event: dict[str, Any], ok: bool, detail: str
    ) -> None:
        if not ok:
            log.warning(
                "EventBridge FailedInvocation: rule %s target %s event %s: %s",
                rule_arn,
                target.get("Arn"),
                event.get("id"),
                detail,
            )
        self.records.append(
            {
                "time": time.time(),
                "rule": rule_arn,
                "target_id": target.get("Id"),
                "target": target.get("Arn"),
                "event_id": event.get("id"),
                "account": event.get("account"),
                "outcome": "delivered" if ok else "failed",
                "detail": detail,
            }
        )


class LocalStackEventRules:
    """The Runtime's `event_rules` inside LocalStack: managed rules in LocalStack's own EventBridge."""

    @staticmethod
    def _events(account: str, region: str) -> Any:
        from localstack.aws.connect import connect_to

        return connect_to(aws_access_key_id=account, region_name=region).events

    def put_managed_rule(self, account: str, region: str, rule: ManagedRule) -> None:
        from botocore.exceptions import ClientError
        from localstack.services.events.models import events_stores

        events = self._events(account, region)
        try:
            events.describe_rule(Name=rule.name)  # every notification rule of the account shares it
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            events.put_rule(
                Name=rule.name, EventPattern=rule.pattern_json, State="ENABLED", Description=rule.description
            )
        # PutTargets every time: idempotent, and it restores the target's sender (see the module's doc)
        answer = events.put_targets(Rule=rule.name, Targets=[{"Id": rule.target_id, "Arn": rule.target_arn}])
        if answer.get("FailedEntryCount"):
            raise RuntimeError(f"PutTargets on {rule.name}: {answer.get('FailedEntries')}")
        stored = events_stores[account][region].event_buses["default"].rules.get(rule.name)
        if stored is not None:
            stored.managed_by = rule.managed_by

    def remove_managed_rule(self, account: str, region: str, name: str) -> None:
        # DeleteRule with Force takes the rule with its target (not RemoveTargets: see the module's doc)
        from botocore.exceptions import ClientError

        try:
            self._events(account, region).delete_rule(Name=name, Force=True)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise


def _delivery() -> PlaneEventDelivery:
    from gitops_localstack import runtime

    delivery = runtime.runtime().event_delivery
    assert isinstance(delivery, PlaneEventDelivery)  # runtime.runtime() makes it
    return delivery


_SENDERS: tuple[type, type] | None = None


def _senders() -> tuple[type, type]:
    """The sender classes, made on first use: they subclass LocalStack's TargetSender, whose module
    loads LocalStack's events internals (not wanted at plugin discovery)."""
    global _SENDERS
    if _SENDERS is None:
        from localstack.services.events.target import TargetSender

        class _CodePipeline(TargetSender):  # type: ignore[misc]
            def send_event(self, event: Any, trace_header: Any) -> None:
                _start_pipeline(self, event)

        class _Service(TargetSender):  # type: ignore[misc]
            def send_event(self, event: Any, trace_header: Any) -> None:
                _to_service(self, event)

        _CodePipeline.__name__ = _CodePipeline.__qualname__ = "CodePipelineTargetSender"
        _Service.__name__ = _Service.__qualname__ = "ServiceTargetSender"
        _SENDERS = (_CodePipeline, _Service)
    return _SENDERS


def _register(service: str, sender: type) -> None:
    from localstack.services.events.target import TargetSenderFactory

    TargetSenderFactory.register_target_sender(service, sender)


def _role_usable(sender: Any, role_arn: str) -> str | None:
    """Why EventBridge could not assume the target's role (None when it could): it must be a role in the
    rule's account whose trust policy lets events.amazonaws.com assume it (LocalStack's STS assumes any)."""
    from botocore.exceptions import ClientError
    from localstack.aws.connect import connect_to

    from gitops_harness.emulator.common.arns import parse_arn
    from gitops_harness.emulator.eventbridge.policy import trusts_service

    try:
        service, _, account, resource = parse_arn(role_arn).parts
    except ValueError as error:
        return str(error)
    if service != "iam" or not resource.startswith("role/"):
        return f"RoleArn {role_arn} is not an IAM role"
    if account != sender.account_id:
        return f"role {role_arn} is not in the rule's account {sender.account_id}"
    try:
        iam = connect_to(aws_access_key_id=account, region_name=sender.region).iam
        role = iam.get_role(RoleName=resource.rsplit("/", 1)[-1])["Role"]
    except ClientError as error:
        return f"cannot assume {role_arn}: {error.response.get('Error', {}).get('Code')}"
    document = role.get("AssumeRolePolicyDocument")
    if isinstance(document, str):
        document = json.loads(unquote(document))
    trust = trusts_service(
        document,
        EVENTS_PRINCIPAL,
        context={"aws:SourceAccount": sender.account_id, "aws:SourceArn": sender.rule_arn},
    )
    if not trust.allowed:
        return f"cannot assume {role_arn}: its trust policy does not let {EVENTS_PRINCIPAL} assume it ({trust.reason})"
    return None


def _start_pipeline(sender: Any, event: Any) -> None:
    """StartPipelineExecution as the target's role, with the rule and event the plane records."""
    from botocore.exceptions import BotoCoreError, ClientError
    from localstack.aws.connect import connect_to

    from gitops_harness.emulator.common.arns import parse_arn
    from gitops_harness.emulator.eventbridge.delivery import _session_name

    delivery = _delivery()
    target = dict(sender.target)
    event = copy.deepcopy(event) if isinstance(event, dict) else {}
    role_arn = target.get("RoleArn")
    if not role_arn:
        delivery.record(
            sender.rule_arn,
            target,
            event,
            False,
            "a CodePipeline target needs a RoleArn that allows codepipeline:StartPipelineExecution",
        )
        return
    refused = _role_usable(sender, role_arn)
    if refused:
        delivery.record(sender.rule_arn, target, event, False, refused)
        return
    _, region, _, name = parse_arn(target["Arn"]).parts
    token = f"events-{uuid.uuid4()}"
    delivery.expect_pipeline_start(token, sender.rule_arn, event)
    try:
        client = connect_to.with_assumed_role(
            role_arn=role_arn,
            service_principal="events",
            region_name=region,
            session_name=_session_name(sender.rule_name),
        ).codepipeline
        answer = client.start_pipeline_execution(name=name, clientRequestToken=token)
    except ClientError as error:
        err = error.response.get("Error", {})
        detail = f"StartPipelineExecution as {role_arn}: {err.get('Code')}: {err.get('Message')}"
        delivery.record(sender.rule_arn, target, event, False, detail)
        return
    except (BotoCoreError, ValueError) as error:
        delivery.record(
            sender.rule_arn, target, event, False, f"StartPipelineExecution as {role_arn}: {error}"
        )
        return
    finally:
        delivery.forget_pipeline_start(token)
    delivery.record(
        sender.rule_arn, target, event, True, f"started {name}: {answer.get('pipelineExecutionId')}"
    )


def _to_service(sender: Any, event: Any) -> None:
    delivery = _delivery()
    target = dict(sender.target)
    event = copy.deepcopy(event) if isinstance(event, dict) else {}
    handler = delivery.service_target(sender.service)
    if handler is None:
        delivery.record(sender.rule_arn, target, event, False, f"no plane serves {sender.service} targets")
        return
    try:
        detail = handler(target, event)
    except Exception as error:  # the handler refuses; LocalStack would only log it
        delivery.record(sender.rule_arn, target, event, False, f"{type(error).__name__}: {error}")
        return
    delivery.record(sender.rule_arn, target, event, True, detail)


def deliveries(request: Any, **_: Any) -> Any:
    from rolo import Response

    return Response.for_json({"deliveries": _delivery().records.records()})


def registered() -> list[str]:
    """The target services this plugin added to LocalStack's EventBridge (the health route reports them)."""
    from localstack.services.events.target import TargetSenderFactory

    ours = set(_senders())
    return sorted(s for s, cls in TargetSenderFactory.target_map.items() if cls in ours)


def notification_rules_fed() -> bool:
    """Whether CodeStar Notifications' managed rule reaches its plane here: the Runtime puts the rule into
    LocalStack's EventBridge (`LocalStackEventRules`), whose events provider needs our sender for its target
    (without it PutTargets answers "Unsupported target for Service: codestar-notifications")."""
    return NOTIFICATIONS in registered()


@hooks.on_runtime_create()
def register_targets() -> None:
    """LocalStack's EventBridge gets senders for CodePipeline targets and CodeStar Notifications' managed
    rule's target; the delivery log gets a route."""
    from localstack.services.edge import ROUTER

    _register("codepipeline", _senders()[0])
    _register(NOTIFICATIONS, _senders()[1])
    ROUTER.add(DELIVERIES_PATH, deliveries, methods=["GET"])
