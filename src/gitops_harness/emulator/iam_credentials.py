"""IAM's service-specific credential operations (HTTPS Git credentials), which moto 5.2.5 does not implement.

The front door hands exactly these IAM actions here (every other IAM action stays with moto):
CreateServiceSpecificCredential, ListServiceSpecificCredentials, UpdateServiceSpecificCredential,
ResetServiceSpecificCredential, DeleteServiceSpecificCredential. State is the CodeCommit plane's
``CredentialStore``, the one the git endpoint authenticates against.

IAM speaks the ``query`` protocol: form-encoded ``Action=...&Version=...&Member=value`` requests and XML
answers ``<XResponse><XResult>...</XResult><ResponseMetadata/></XResponse>``. Both directions are driven by
botocore's IAM model (``parse_query`` / ``serialize_query_xml`` below), so the AWS CLI and boto3 read
what we answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import cache
from io import BytesIO
from typing import Any
from urllib.parse import parse_qsl
from xml.etree import ElementTree as ET

from botocore.model import OperationModel, Shape
from botocore.validate import ParamValidator
from werkzeug.wrappers import Request

from gitops_harness.emulator.codecommit.credentials import CredentialStore, IamError
from gitops_harness.emulator.controlplane import service_model
from gitops_harness.emulator.identity import Caller, credential_scope, resolve_caller

OPERATIONS = frozenset(
    {
        "CreateServiceSpecificCredential",
        "ListServiceSpecificCredentials",
        "UpdateServiceSpecificCredential",
        "ResetServiceSpecificCredential",
        "DeleteServiceSpecificCredential",
    }
)
StartResponse = Callable[..., Any]


class ServiceSpecificCredentialsApi:
    """A WSGI app answering the five IAM operations above from a ``CredentialStore``."""

    def __init__(self, store: CredentialStore) -> None:
        self.store = store

    @staticmethod
    def operation_of(environ: dict[str, Any]) -> str | None:
        """The IAM Action of a request if it is one of ours (the body is read and put back for moto)."""
        params = _form(environ)
        action = params.get("Action")
        return action if action in OPERATIONS else None

    @staticmethod
    def account_of(environ: dict[str, Any]) -> str:
        return _caller(environ).account_id

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request_id = str(uuid.uuid4())
        params = _form(environ)
        operation = service_model("iam").operation_model(params["Action"])
        try:
            request = parse_query(operation, params)
            report = ParamValidator().validate(request, operation.input_shape)
            if report.has_errors():
                raise IamError("ValidationError", report.generate_report().replace("\n", " "))
            caller = _caller(environ)
            result = self._dispatch(operation.name, caller.account_id, caller.arn, request)
            status, body = 200, serialize_query_xml(operation, result, request_id)
        except IamError as error:
            status, body = _status(error.code), serialize_query_error(error.code, error.message, request_id)
        start_response(
            f"{status} {'OK' if status == 200 else 'Error'}",
            [
                ("Content-Type", "text/xml"),
                ("Content-Length", str(len(body))),
                ("x-amzn-RequestId", request_id),
            ],
        )
        return [body]

    def _dispatch(
        self, operation: str, account: str, caller_arn: str, request: dict[str, Any]
    ) -> dict[str, Any]:
        user = request.get("UserName") or _user_of(caller_arn)
        if operation == "CreateServiceSpecificCredential":
            return {"ServiceSpecificCredential": self.store.create(account, user, request["ServiceName"])}
        if operation == "ListServiceSpecificCredentials":
            if request.get("AllUsers"):
                raise IamError(
                    "ValidationError", "AllUsers is not supported by the embedded AWS: pass UserName."
                )
            return {"ServiceSpecificCredentials": self.store.list(account, user, request.get("ServiceName"))}
        credential_id = request["ServiceSpecificCredentialId"]
        if operation == "UpdateServiceSpecificCredential":
            self.store.update_status(account, user, credential_id, request["Status"])
            return {}
        if operation == "ResetServiceSpecificCredential":
            return {"ServiceSpecificCredential": self.store.reset(account, user, credential_id)}
        self.store.delete(account, user, credential_id)
        return {}


def _caller(environ: dict[str, Any]) -> Caller:
    request = Request(environ)
    scope = credential_scope(request.headers, request.args)
    return resolve_caller(scope.access_key if scope else "")


def _user_of(caller_arn: str) -> str:
    # Without UserName, IAM acts on the calling user; a role or the root user has no such credentials.
    _, _, resource = caller_arn.partition(":user/")
    if not resource:
        raise IamError(
            "ValidationError", f"UserName is required: the caller {caller_arn} is not an IAM user."
        )
    return resource.rpartition("/")[2]


def _form(environ: dict[str, Any]) -> dict[str, str]:
    """Query-string and form-body parameters; the body stays readable for whoever serves the request."""
    params = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = BytesIO(body)
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


@cache
def _error_statuses() -> dict[str, int]:
    return {
        shape.metadata["error"]["code"]: shape.metadata["error"].get("httpStatusCode", 400)
        for shape in service_model("iam").error_shapes
        if "error" in shape.metadata
    }


def _status(code: str) -> int:
    return _error_statuses().get(code, 400)


# ---- the query protocol, from the model ---------------------------------------------------------------


def parse_query(operation: OperationModel, params: dict[str, str]) -> dict[str, Any]:
    """Flat query params -> boto3-style params for the operation's input shape (scalars and
    ``Name.member.N`` lists; unknown params are ignored as IAM does)."""
    shape = operation.input_shape
    if shape is None:
        return {}
    out: dict[str, Any] = {}
    for name, member in shape.members.items():
        wire = member.serialization.get("name", name)
        if member.type_name == "list":
            items = sorted(
                (int(key.rsplit(".", 1)[1]), value)
                for key, value in params.items()
                if key.startswith(f"{wire}.member.") and key.rsplit(".", 1)[1].isdigit()
            )
            if items:
                out[name] = [_scalar(member.member, value) for _, value in items]  # type: ignore[attr-defined]
        elif wire in params:
            out[name] = _scalar(member, params[wire])
    return out


def _scalar(shape: Shape, value: str) -> Any:
    kind = shape.type_name
    if kind in ("integer", "long"):
        try:
            return int(value)
        except ValueError:
            return value  # ParamValidator reports the wrong type
    if kind == "boolean":
        return {"true": True, "false": False}.get(value.lower(), value)
    return value


def serialize_query_xml(operation: OperationModel, result: dict[str, Any], request_id: str) -> bytes:
    """``<OpResponse xmlns=...><OpResult>...</OpResult><ResponseMetadata>...`` from the output shape."""
    namespace = service_model("iam").metadata["xmlNamespace"]
    root = ET.Element(f"{operation.name}Response", xmlns=namespace)
    shape = operation.output_shape
    if shape is not None:
        wrapper = ET.SubElement(root, shape.serialization.get("resultWrapper", f"{operation.name}Result"))
        _xml_members(wrapper, shape, result)
    metadata = ET.SubElement(root, "ResponseMetadata")
    ET.SubElement(metadata, "RequestId").text = request_id
    return ET.tostring(root, encoding="utf-8", xml_declaration=False)


def serialize_query_error(code: str, message: str, request_id: str) -> bytes:
    namespace = service_model("iam").metadata["xmlNamespace"]
    root = ET.Element("ErrorResponse", xmlns=namespace)
    error = ET.SubElement(root, "Error")
    ET.SubElement(error, "Type").text = "Sender"
    ET.SubElement(error, "Code").text = code
    ET.SubElement(error, "Message").text = message
    ET.SubElement(root, "RequestId").text = request_id
    return ET.tostring(root, encoding="utf-8")


def _xml_members(parent: ET.Element, shape: Shape, value: dict[str, Any]) -> None:
    for name, member in shape.members.items():  # type: ignore[attr-defined]
        item = value.get(name)
        if item is not None:
            _xml_value(ET.SubElement(parent, member.serialization.get("name", name)), member, item)


def _xml_value(element: ET.Element, shape: Shape, value: Any) -> None:
    kind = shape.type_name
    if kind == "structure":
        _xml_members(element, shape, value)
    elif kind == "list":
        for item in value:
            _xml_value(
                ET.SubElement(element, shape.member.serialization.get("name", "member")), shape.member, item
            )  # type: ignore[attr-defined]
    elif kind == "map":
        for key, item in value.items():
            entry = ET.SubElement(element, "entry")
            ET.SubElement(entry, "key").text = str(key)
            _xml_value(ET.SubElement(entry, "value"), shape.value, item)  # type: ignore[attr-defined]
    elif kind == "timestamp":
        moment = value if isinstance(value, datetime) else datetime.fromtimestamp(value)
        element.text = moment.isoformat().replace("+00:00", "Z")
    elif kind == "boolean":
        element.text = "true" if value else "false"
    else:
        element.text = str(value)
