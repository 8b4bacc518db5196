"""The base of our control planes: one class per service, one method per operation named after it.

    class CodeCommit(ControlPlane):
        service_name = "codecommit"
        validation_error_code = "InvalidParameterException"? (see below)

        def GetRepository(self, ctx: RequestContext, request: dict) -> dict:
            state = self.store[ctx]
            ...

Protocol handling (parsing, validation, serialization) stays out of the plane (protocol.py), as in
moto's split of models from responses. State lives in dataclasses in a Store keyed by (account,
region), like LocalStack's AccountRegionBundle. Handlers run under the plane's lock, so they must be
quick: long work (executions, builds, deployments) goes to `self.runtime.scheduler`, and jobs take
`self.lock` when they touch state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from botocore.model import ServiceModel

from gitops_harness.emulator.common.tags import TagErrors, TagStore
from gitops_harness.emulator.exceptions import NotImplementedFailure, ServiceException, botocore_session

if TYPE_CHECKING:
    from gitops_harness.emulator.clients import RoleClients
    from gitops_harness.emulator.eventbridge.delivery import EventDelivery
    from gitops_harness.emulator.eventbridge.rules import EventRules
    from gitops_harness.emulator.scheduler import Scheduler

S = TypeVar("S")


@dataclass(frozen=True)
class RequestContext:
    service: str
    operation: str
    account_id: str
    region: str
    access_key: str
    caller_arn: str
    request_id: str
    endpoint_url: str


def _moto_event_rules() -> EventRules:
    from gitops_harness.emulator.eventbridge.rules import MotoEventRules

    return MotoEventRules()


@dataclass
class Runtime:
    """What a control plane may use besides its own state: the scheduler, role clients, a state folder."""

    scheduler: Scheduler
    clients: RoleClients
    state_dir: Path
    endpoint_url: Callable[[], str]
    time_scale: float = 1.0
    # The emulator's planes by service name, for what AWS services do internally and no API offers
    # (CodePipeline reading a CodeCommit archive).
    planes: dict[str, ControlPlane] = field(default_factory=dict)
    # The emulator's EventBridge delivery, for a service that is itself a rule's target (CodeStar
    # Notifications' managed rule): `event_delivery.serve_target(service, handler)` at construction.
    event_delivery: EventDelivery | None = None
    # Where a service keeps its EventBridge managed rules (CodeStar Notifications'): the EventBridge whose
    # delivery reaches `event_delivery`. Default: moto's (the embedded emulator); LocalStack's in the plugin.
    event_rules: EventRules = field(default_factory=_moto_event_rules)
    _shared: dict[str, Any] = field(default_factory=dict)
    _shared_lock: threading.Lock = field(default_factory=threading.Lock)

    def shared(self, key: str, factory: Callable[[], S]) -> S:
        """State several planes share, made once by the first to ask (the HTTPS Git credentials that
        IAM's plane issues and CodeCommit's git endpoint checks), whichever planes are registered."""
        with self._shared_lock:
            if key not in self._shared:
                self._shared[key] = factory()
            return self._shared[key]  # type: ignore[no-any-return]


class Store(Generic[S]):
    """Per (account, region) state, created on first use by `factory` (a dataclass)."""

    def __init__(self, factory: Callable[[], S]):
        self._factory = factory
        self._states: dict[tuple[str, str], S] = {}
        self._lock = threading.Lock()

    def get(self, account_id: str, region: str) -> S:
        key = (account_id, region)
        with self._lock:
            state = self._states.get(key)
            if state is None:
                state = self._states[key] = self._factory()
            return state

    def __getitem__(self, ctx: RequestContext) -> S:
        return self.get(ctx.account_id, ctx.region)

    def items(self) -> list[tuple[tuple[str, str], S]]:
        with self._lock:
            return list(self._states.items())

    def reset(self) -> None:
        with self._lock:
            self._states.clear()


@cache
def service_model(service_name: str) -> ServiceModel:
    return botocore_session().get_service_model(service_name)


class ControlPlane:
    service_name: ClassVar[str]
    # The SigV4 signing name, when the plane states it: the front door routes by it without loading the
    # botocore model at start (tests/emulator/test_shapes.py checks it against the model).
    signing: ClassVar[str | None] = None
    # A plane that answers only some operations of a service moto serves (IAM's service-specific
    # credentials): the front door hands it those, and every other operation of the service to moto.
    partial: ClassVar[bool] = False
    # The error code the service answers for input that fails its model's constraints. AWS services differ
    # (CodePipeline: ValidationException, CodeBuild: InvalidInputException); a plane overrides this.
    validation_error_code: ClassVar[str] = "ValidationException"

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.lock = threading.RLock()

    @classmethod
    def model(cls) -> ServiceModel:
        return service_model(cls.service_name)

    @classmethod
    def signing_name(cls) -> str:
        """The service name in the SigV4 credential scope, which the front door routes by."""
        return cls.signing or cls.model().signing_name or cls.service_name

    @classmethod
    def implemented_operations(cls) -> list[str]:
        return [name for name in cls.model().operation_names if callable(getattr(cls, name, None))]

    def tag_store(self, too_many: str, invalid: str, reserved: str | None = None) -> TagStore:
        """A TagStore (common/tags.py) answering this service's own error codes, by name:
        `self.tags = self.tag_store("TooManyTagsException", "InvalidTagsException")`."""
        errors = getattr(self, "errors", None)
        if errors is None:
            raise TypeError(f"{type(self).__name__} has no `errors = ModeledErrors(...)` for its tag errors")

        def raising(code: str) -> Callable[[str], Exception]:
            return lambda message: getattr(errors, code)(message)  # the model loads on first use

        return TagStore(
            TagErrors(
                too_many=raising(too_many),
                invalid=raising(invalid),
                reserved=raising(reserved) if reserved is not None else None,
            )
        )

    def validation_error(self, operation: str, report: str) -> ServiceException:
        """The error for params that fail ParamValidator; override to use per-field codes (CodeCommit)."""
        message = report.replace("\n", " ").strip()
        return ServiceException(message, code=self.validation_error_code, status=400)

    def handle(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        handler = getattr(self, ctx.operation, None)
        if ctx.operation not in self.model().operation_names or not callable(handler):
            raise NotImplementedFailure(
                f"The API action '{ctx.operation}' for service '{self.service_name}' is not "
                "implemented by the embedded AWS"
            )
        with self.lock:
            result = handler(ctx, params)
        return result or {}

    def reset(self) -> None:
        """Drop all state (every Store and TagStore attribute)."""
        for value in vars(self).values():
            if isinstance(value, Store | TagStore):
                value.reset()
