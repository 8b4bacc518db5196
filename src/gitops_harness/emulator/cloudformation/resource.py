"""The base of our CloudFormation resource models: each creates, updates and deletes its resource by
calling the service's API through the front door, as the stack's account.

moto's parser drives a model through classmethods (create_from_cloudformation_json, ...) and reads
`physical_resource_id` (Ref) and `get_cfn_attribute` (Fn::GetAtt); this class implements that
interface once, so a model only says how to call its API (`create`, `update`, `remove`).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from gitops_harness.emulator.clients import RoleClients


class ResourceFailure(Exception):
    """A resource could not be created/updated/deleted; the message becomes its ResourceStatusReason."""


# The emulator whose front door is serving the CloudFormation request: set per request (a context
# variable, not a process global) because several emulators in one process share moto's state but
# not our control planes.
_clients: contextvars.ContextVar[RoleClients | None] = contextvars.ContextVar("cfn_clients", default=None)
# that emulator's time scale (clock seconds per AWS second): custom resources wait their ServiceTimeout by it
_time_scale: contextvars.ContextVar[float] = contextvars.ContextVar("cfn_time_scale", default=1.0)


@contextmanager
def acting_through(clients: RoleClients, time_scale: float = 1.0) -> Iterator[None]:
    token = _clients.set(clients)
    scale_token = _time_scale.set(time_scale)
    try:
        yield
    finally:
        _time_scale.reset(scale_token)
        _clients.reset(token)


def clock_seconds(aws_seconds: float) -> float:
    """AWS seconds as clock seconds on the emulator serving this stack."""
    return aws_seconds * _time_scale.get()


def serving_endpoint() -> str | None:
    """The endpoint URL of the emulator serving this stack (None outside a request)."""
    clients = _clients.get()
    return None if clients is None else clients.endpoint_url


def client_for(service: str, account_id: str, region: str) -> Any:
    clients = _clients.get()
    if clients is None:
        raise ResourceFailure("resource models need the embedded AWS: no front door is serving this stack")
    return clients.for_account(service, account_id, region)


def handler_message(error: ClientError | BotoCoreError, service: str) -> str:
    """An API error as CloudFormation's resource handlers report it."""
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        message = info.get("Message", "")
        if message.lstrip().lower().startswith("<!doctype"):  # moto's page for an operation it lacks
            message = "internal error (the operation is probably not implemented by moto)"
        return (
            f'Resource handler returned message: "{message}" (Service: {service}, '
            f"Status Code: {status}, Error Code: {info.get('Code', '?')})"
        )
    return f'Resource handler returned message: "{error}" (Service: {service})'


@dataclass(frozen=True)
class Placement:
    """Where a resource is created: its stack, account and region, and the name CloudFormation would
    generate for it."""

    account_id: str
    region: str
    logical_id: str
    generated_name: str

    @property
    def partition(self) -> str:
        return "aws-cn" if self.region.startswith("cn-") else "aws"


class ApiResource:
    resource_type: ClassVar[str]
    service: ClassVar[str]  # boto3 client name
    attributes: ClassVar[frozenset[str]] = frozenset()  # Fn::GetAtt names
    name_property: ClassVar[str | None] = None  # property naming the resource, else a generated name

    def __init__(
        self, physical_id: str, attributes: dict[str, Any], properties: dict[str, Any], where: Placement
    ):
        self.physical_id = physical_id
        self.attribute_values = attributes
        self.properties = properties
        self.where = where
        # moto's parser sets and reads these two
        self.cf_resource_type = self.resource_type
        self.logical_resource_id = where.logical_id

    # ---- what a model implements -----------------------------------------------------------------

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        """Create the resource; return its physical id (what Ref returns) and its GetAtt values."""
        raise NotImplementedError

    def update(self, client: Any, properties: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """Update in place and return (physical id, attributes); None: the change needs a replacement."""
        return None

    def remove(self, client: Any) -> None:
        raise NotImplementedError

    @classmethod
    def resource_name(cls, properties: dict[str, Any], where: Placement) -> str:
        given = properties.get(cls.name_property) if cls.name_property else None
        return str(given) if given else where.generated_name

    # ---- moto's CloudFormationModel interface ---------------------------------------------------------

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.attributes

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name not in self.attributes or attribute_name not in self.attribute_values:
            raise UnformattedGetAttTemplateException()
        return self.attribute_values[attribute_name]

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> ApiResource:
        where = Placement(account_id, region_name, kwargs.get("LogicalId", ""), resource_name)
        properties = cloudformation_json.get("Properties") or {}
        physical_id, attributes = cls._call(
            lambda client: cls.create(client, properties, where), account_id, region_name
        )
        return cls(physical_id, attributes, properties, where)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: ApiResource,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> ApiResource:
        properties = cloudformation_json.get("Properties") or {}
        updated = cls._call(
            lambda client: original_resource.update(client, properties), account_id, region_name
        )
        if updated is not None:
            physical_id, attributes = updated
            return cls(physical_id, attributes, properties, original_resource.where)
        # replacement: the old one goes first, since a named resource cannot exist twice
        original_resource.delete(account_id, region_name)
        where = Placement(account_id, region_name, original_resource.where.logical_id, new_resource_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name, LogicalId=where.logical_id
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        raise ResourceFailure(f"{cls.resource_type} {resource_name}: delete needs the created resource")

    def delete(self, account_id: str, region_name: str) -> None:
        client = client_for(self.service, account_id, region_name)
        try:
            self.remove(client)
        except ClientError as error:
            # Gone already (deleted outside the stack, or with its parent): CloudFormation's handlers
            # count a resource that no longer exists as deleted.
            if not is_not_found(error):
                raise ResourceFailure(handler_message(error, self.service)) from None
        except BotoCoreError as error:
            raise ResourceFailure(handler_message(error, self.service)) from None

    @classmethod
    def _call(cls, action: Any, account_id: str, region: str) -> Any:
        client = client_for(cls.service, account_id, region)
        try:
            return action(client)
        except (ClientError, BotoCoreError) as error:
            raise ResourceFailure(handler_message(error, cls.service)) from None


def is_not_found(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    return "NotFound" in code or "DoesNotExist" in code or code in ("NoSuchEntity", "NoSuchBucketPolicy")


class UnsupportedResource(ApiResource):
    """A type neither moto nor our models create: the stack fails instead of skipping it."""

    service = "cloudformation"

    @classmethod
    def create(cls, client: Any, properties: dict[str, Any], where: Placement) -> tuple[str, dict[str, Any]]:
        raise ResourceFailure(f"Resource type {cls.resource_type} is not supported by the embedded AWS")

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True  # the failure belongs to the resource (CREATE_FAILED), not to template validation

    def remove(self, client: Any) -> None:
        pass


def unsupported(resource_type: str) -> type[ApiResource]:
    return type("UnsupportedResource", (UnsupportedResource,), {"resource_type": resource_type})


def with_runtime(
    app: Callable[..., Iterable[bytes]], clients: RoleClients, time_scale: float = 1.0
) -> Callable[..., Iterable[bytes]]:
    """The front door's WSGI app, with this emulator's clients and time scale as the models' runtime
    per request."""

    def serve(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        # moto builds its whole answer inside the call, so the context covers the stack's work
        with acting_through(clients, time_scale):
            return app(environ, start_response)

    return serve
