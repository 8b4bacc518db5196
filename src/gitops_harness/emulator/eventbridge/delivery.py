"""EventBridge target delivery as AWS does it, where moto 5.2.5 does not.

moto matches rules well (its EventPattern handles the pipeline's source pattern, lists included) but
delivers inside the PutEvents request, to a few target kinds, without asking anyone's permission:
- an event-bus target in another account gets the event re-put *as that account* (AWS keeps the
  sender's `account`), whatever the receiving bus's resource policy says;
- a CodePipeline target (or any kind moto lacks) raises NotImplementedError, failing the PutEvents;
- disabled rules and schedule rules fire on every event; a target without InputTransformer gets moto's
  default template, which drops `account` (AWS sends the whole event).

The one point where a built event meets a rule's targets is `moto.events.models.Rule.send_to_targets`
(PutEvents, replays, S3 notifications and moto's own bus forwarding all call it), so that one method is
replaced while an emulator runs and put back when the last one stops. The replacement only acts for
requests that came through an emulator's front door (a ContextVar its WSGI middleware sets), so moto
used in-process elsewhere (mock_aws tests) keeps moto's behaviour.

Delivery runs on the emulator's scheduler, not in the PutEvents request: AWS delivers asynchronously,
and a target call (StartPipelineExecution) goes back through the front door. Each target ARN is a FIFO
lane, so events bound for one target are decided in the order PutEvents accepted them.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError

from gitops_harness.emulator import service_metrics
from gitops_harness.emulator.common.arns import parse_arn
from gitops_harness.emulator.common.records import RecordLog
from gitops_harness.emulator.eventbridge.policy import (
    EVENTS_SERVICE,
    Decision,
    bus_allows_put_events,
    trusts_service,
)

if TYPE_CHECKING:
    from gitops_harness.emulator.clients import RoleClients
    from gitops_harness.emulator.scheduler import Scheduler

log = logging.getLogger(__name__)

DELIVERIES_PATH = "/_emulator/eventbridge/deliveries"

_current: ContextVar[EventDelivery | None] = ContextVar("gitops_eventbridge_delivery", default=None)
StartResponse = Callable[..., Any]
# an AWS service that is itself a rule's target (CodeStar Notifications' managed rule): (target, event) -> detail
ServiceTarget = Callable[[dict[str, Any], dict[str, Any]], str]


def routing_send_to_targets(original: Callable[..., None]) -> Callable[..., None]:
    """moto's Rule.send_to_targets while an emulator runs (installed by emulator/moto_patches.py): an
    event put through an emulator's front door goes to that emulator's delivery; any other (a plain
    moto in the same process) goes to moto's own method."""

    def send_to_targets(rule: Any, event: dict[str, Any], transform_input: bool = True) -> None:
        delivery = _current.get()
        if delivery is None:
            original(rule, event, transform_input)
            return
        delivery.route(rule, event, transform_input=transform_input)

    return send_to_targets


@dataclass
class _Item:
    rule: Any  # a shallow copy of moto's Rule, taken when the event matched
    target: dict[str, Any]
    event: dict[str, Any]
    transform_input: bool
    forwarded: bool  # it reached this rule's bus from another bus
    accepted: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class PipelineStart:
    """What a rule's CodePipeline target tells CodePipeline inside AWS: which rule started the
    execution (its trigger) and the event (a CodeCommit source takes the event's commitId)."""

    rule_arn: str
    event: dict[str, Any]


def _session_name(rule_name: str) -> str:
    # RoleSessionName: 2-64 of [\w+=,.@-]
    return re.sub(r"[^\w+=,.@-]", "-", f"eventbridge-{rule_name}")[:64]


class EventDelivery:
    def __init__(self, scheduler: Scheduler, clients: RoleClients, *, log_size: int = 1000):
        self.scheduler = scheduler
        self.clients = clients
        self._cond = threading.Condition(threading.RLock())
        self._lanes: dict[str, deque[_Item]] = {}
        self._draining: set[str] = set()
        self._records = RecordLog("EventBridge delivery", maxlen=log_size)
        self._installed = False
        self._service_targets: dict[str, ServiceTarget] = {}
        # cleared while the planes are not loaded (background_planes): a service target may not be
        # registered yet; load_targets() starts loading them
        self.targets_ready = threading.Event()
        self.targets_ready.set()
        self.load_targets: Callable[[], None] = lambda: None
        # clientRequestToken -> what started a pipeline (rule ARN and event), while its
        # StartPipelineExecution is in flight: the CodePipeline plane claims it (claim_pipeline_start)
        self._pipeline_starts: dict[str, PipelineStart] = {}

    # ---- install / uninstall -----------------------------------------------------------------------

    def install(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        """Wrap `app` so the events its requests put are delivered here (moto's Rule.send_to_targets is
        routed to the current delivery by the "eventbridge" group of emulator/moto_patches.py)."""
        self._installed = True

        def middleware(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            if environ.get("PATH_INFO") == DELIVERIES_PATH:
                body = json.dumps({"deliveries": self.deliveries()}).encode()
                start_response("200 OK", [("Content-Type", "application/json")])
                return [body]
            token = _current.set(self)
            try:
                return app(environ, start_response)
            finally:
                _current.reset(token)

        return middleware

    def uninstall(self) -> None:
        """Stop taking events (queued ones are dropped)."""
        with self._cond:
            self._installed = False
            self._lanes.clear()

    # ---- routing (in the PutEvents request, or in a delivery job for a forwarded event) ------------

    def route(
        self, rule: Any, event: dict[str, Any], *, transform_input: bool = True, forwarded: bool = False
    ) -> None:
        """Match `event` against one rule and queue it for each of the rule's targets."""
        if rule.state != "ENABLED":
            return
        pattern = rule.event_pattern.get_pattern()
        if not pattern:
            return  # a schedule rule has no pattern and never matches events
        if not rule.event_pattern.matches_event(event):
            return
        snapshot = copy.copy(rule)
        frozen = copy.deepcopy(event)
        for target in list(rule.targets):
            self._submit(_Item(snapshot, dict(target), frozen, transform_input, forwarded))

    def _submit(self, item: _Item) -> None:
        key = item.target["Arn"]
        with self._cond:
            if not self._installed:
                return
            self._lanes.setdefault(key, deque()).append(item)
            if key in self._draining:
                return
            self._draining.add(key)
        try:
            self.scheduler.spawn(self._drain, key, name=f"eventbridge-delivery {key}")
        except RuntimeError:  # the scheduler is shut down: the emulator is stopping
            with self._cond:
                self._draining.discard(key)
                self._lanes.pop(key, None)

    def _drain(self, key: str) -> None:
        token = _current.set(self)  # events this delivery forwards are routed by us too
        try:
            while True:
                with self._cond:
                    lane = self._lanes.get(key)
                    if not lane:
                        self._draining.discard(key)
                        self._lanes.pop(key, None)
                        return
                    item = lane.popleft()
                try:
                    self._deliver(item)
                except Exception as exc:  # a bug here must not stall the lane
                    log.exception("EventBridge delivery to %s failed", key)
                    self._failed(item, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            _current.reset(token)

    # ---- delivery -----------------------------------------------------------------------------------

    def _deliver(self, item: _Item) -> None:
        service, _, _, resource = parse_arn(item.target["Arn"]).parts
        if not self.targets_ready.is_set():  # the planes register their targets when they load
            self.load_targets()
            self.targets_ready.wait(120)
        if service == "events" and resource.startswith("event-bus/"):
            self._to_event_bus(item)
        elif service == "codepipeline":
            self._start_pipeline(item)
        elif service in self._service_targets:
            event = copy.deepcopy(item.event)
            event.pop("ingestion-time", None)
            self._delivered(item, self._service_targets[service](dict(item.target), event))
        else:
            self._to_moto(item)

    def _to_event_bus(self, item: _Item) -> None:
        from moto.events.models import events_backends

        target_arn = item.target["Arn"]
        _, region, account, resource = parse_arn(target_arn).parts
        if item.forwarded:
            # AWS: an event a bus received from another bus is not sent on to a further bus
            self._failed(item, "the event came from another event bus and is not forwarded again")
            return
        bus = events_backends[account][region].event_buses.get(resource.removeprefix("event-bus/"))
        if bus is None:
            self._failed(item, f"event bus {target_arn} does not exist")
            return
        role_arn = item.target.get("RoleArn")
        if role_arn:
            usable = self._role_usable(item, role_arn)
            if not usable.allowed:
                self._failed(item, usable.reason)
                return
        if account != item.rule.account_id:
            decision = bus_allows_put_events(
                bus.policy,
                bus_arn=bus.arn,
                sender_account=item.rule.account_id,
                role_arn=role_arn,
                event=item.event,
                rule_arn=item.rule.arn,
            )
            if not decision.allowed:
                self._failed(
                    item,
                    f"{bus.arn} does not allow events:PutEvents from {item.rule.account_id}: {decision.reason}",
                )
                return
        # The event keeps its id, account, region and source: the receiver sees who sent it.
        rules = list(bus.rules.values())
        for rule in rules:
            self.route(rule, item.event, forwarded=True)
        self._delivered(item, f"put on {bus.arn} ({len(rules)} rule(s) there)")

    def serve_target(self, service: str, handler: ServiceTarget) -> None:
        """Deliver targets whose ARN names `service` to `handler`, in their lane; it raises to fail one."""
        with self._cond:
            self._service_targets[service] = handler

    def _start_pipeline(self, item: _Item) -> None:
        _, region, _, name = parse_arn(item.target["Arn"]).parts
        role_arn = item.target.get("RoleArn")
        if not role_arn:
            self._failed(
                item, "a CodePipeline target needs a RoleArn that allows codepipeline:StartPipelineExecution"
            )
            return
        usable = self._role_usable(item, role_arn)
        if not usable.allowed:
            self._failed(item, usable.reason)
            return
        # The call goes through the front door as the role (so IAM decides), with a token that lets
        # the plane find the rule and event behind it: AWS records the trigger as CloudWatchEvent.
        token = f"events-{uuid.uuid4()}"
        event = copy.deepcopy(item.event)
        event.pop("ingestion-time", None)
        with self._cond:
            self._pipeline_starts[token] = PipelineStart(item.rule.arn, event)
        try:
            client = self.clients.for_role(
                "codepipeline", role_arn, region, session_name=_session_name(item.rule.name)
            )
            answer = client.start_pipeline_execution(name=name, clientRequestToken=token)
        except ClientError as error:
            err = error.response.get("Error", {})
            self._failed(
                item, f"StartPipelineExecution as {role_arn}: {err.get('Code')}: {err.get('Message')}"
            )
            return
        except (BotoCoreError, ValueError) as error:
            self._failed(item, f"StartPipelineExecution as {role_arn}: {error}")
            return
        finally:
            with self._cond:
                self._pipeline_starts.pop(token, None)
        self._delivered(item, f"started {name}: {answer.get('pipelineExecutionId')}")

    def claim_pipeline_start(self, token: str | None) -> PipelineStart | None:
        """The rule and event behind a StartPipelineExecution this delivery is making (by its
        clientRequestToken), once; None for any other call."""
        if not token:
            return None
        with self._cond:
            return self._pipeline_starts.pop(token, None)

    def _role_usable(self, item: _Item, role_arn: str) -> Decision:
        """Whether EventBridge could assume the target's role: it exists in the rule's account and trusts
        events.amazonaws.com (moto's STS assumes any ARN, so this is checked here)."""
        try:
            service, _, account, resource = parse_arn(role_arn).parts
        except ValueError as error:
            return Decision(False, str(error))
        if service != "iam" or not resource.startswith("role/"):
            return Decision(False, f"RoleArn {role_arn} is not an IAM role")
        if account != item.rule.account_id:
            return Decision(False, f"role {role_arn} is not in the rule's account {item.rule.account_id}")
        try:
            iam = self.clients.for_account("iam", account)
            role = iam.get_role(RoleName=resource.rsplit("/", 1)[-1])["Role"]
        except ClientError as error:
            return Decision(False, f"cannot assume {role_arn}: {error.response.get('Error', {}).get('Code')}")
        document = role.get("AssumeRolePolicyDocument")
        if isinstance(document, str):
            document = json.loads(unquote(document))
        trust = trusts_service(
            document,
            EVENTS_SERVICE,
            context={"aws:SourceAccount": item.rule.account_id, "aws:SourceArn": item.rule.arn},
        )
        if not trust.allowed:
            return Decision(
                False,
                f"cannot assume {role_arn}: its trust policy does not let {EVENTS_SERVICE} assume it ({trust.reason})",
            )
        return trust

    def _to_moto(self, item: _Item) -> None:
        """The target kinds moto delivers (SQS, log groups, archives, API destinations), with AWS's payload."""
        from moto.events.models import Rule

        event, transform = self._payload(item)
        if event is None:
            return
        proxy = copy.copy(item.rule)
        proxy.targets = [item.target]
        proxy.event_pattern = _MATCH_ALL  # matched already; the payload may no longer look like the event
        token = _current.set(None)  # outside a delivery the routed method is moto's own
        try:
            Rule.send_to_targets(proxy, event, transform)
        except NotImplementedError:
            service = parse_arn(item.target["Arn"]).parts[0]
            self._failed(item, f"the embedded AWS (moto) does not deliver to {service} targets")
            return
        finally:
            _current.reset(token)
        self._delivered(item, "handed to moto")

    def _payload(self, item: _Item) -> tuple[dict[str, Any] | None, bool]:
        """What the target receives: the whole event unless the target says otherwise (moto would send its
        default template, which lacks `account`)."""
        event = copy.deepcopy(item.event)
        target = item.target
        if item.transform_input and "InputTransformer" in target:
            return event, True  # moto's transformer (it reads moto's ingestion-time)
        event.pop("ingestion-time", None)  # moto's bookkeeping, not part of an AWS event
        if not item.transform_input:
            return event, False
        if "Input" in target:
            constant = json.loads(target["Input"])
            if not isinstance(constant, dict):
                self._failed(item, "the embedded AWS delivers Input only when it is a JSON object")
                return None, False
            return constant, False
        if "InputPath" in target:
            from jsonpath_ng.ext import parse  # moto's own dependency for input transformers

            found = parse(target["InputPath"]).find(event)
            value = found[0].value if found else None
            if not isinstance(value, dict):
                self._failed(item, f"InputPath {target['InputPath']} does not select a JSON object")
                return None, False
            return value, False
        return event, False

    # ---- the delivery log ---------------------------------------------------------------------------

    def _delivered(self, item: _Item, detail: str) -> None:
        self._record(item, "delivered", detail)

    def _failed(self, item: _Item, reason: str) -> None:
        # AWS counts these as the rule's FailedInvocations (published by _record); the reason is logged here
        log.warning(
            "EventBridge FailedInvocation: rule %s target %s event %s: %s",
            item.rule.arn,
            item.target.get("Arn"),
            item.event.get("id"),
            reason,
        )
        self._record(item, "failed", reason)

    def _record(self, item: _Item, outcome: str, detail: str) -> None:
        entry = {
            "time": time.time(),
            "rule": item.rule.arn,
            "target_id": item.target.get("Id"),
            "target": item.target.get("Arn"),
            "event_id": item.event.get("id"),
            "account": item.event.get("account"),
            "outcome": outcome,
            "detail": detail,
            "ms": round((time.monotonic() - item.accepted) * 1000, 1),
        }
        self._publish_metrics(item, outcome)  # first: whoever waits on the record may read the metric
        self._records.append(entry)

    @staticmethod
    def _publish_metrics(item: _Item, outcome: str) -> None:
        """AWS/Events Invocations and FailedInvocations of the rule: how a refused cross-account delivery
        shows on AWS too (no API reports it otherwise)."""
        rule = item.rule
        bus = getattr(rule, "event_bus_name", "default") or "default"
        dimensions = (
            {"RuleName": rule.name} if bus == "default" else {"EventBusName": bus, "RuleName": rule.name}
        )
        try:
            service_metrics.publish(
                rule.account_id, rule.region_name, "AWS/Events", "Invocations", 1, dimensions
            )
            if outcome == "failed":
                service_metrics.publish(
                    rule.account_id, rule.region_name, "AWS/Events", "FailedInvocations", 1, dimensions
                )
        except Exception:  # metrics are an observation; a delivery is never failed by them
            log.exception("could not publish AWS/Events metrics for %s", rule.arn)

    def deliveries(self) -> list[dict[str, Any]]:
        return self._records.records()

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        """The first delivery record matching `predicate`, waiting up to `timeout` seconds for it."""
        return self._records.wait_for(predicate, timeout)


class _MatchAll:
    """Stands in for a rule's EventPattern when moto delivers: the rule was matched before queueing."""

    def matches_event(self, event: Any) -> bool:
        return True


_MATCH_ALL = _MatchAll()
