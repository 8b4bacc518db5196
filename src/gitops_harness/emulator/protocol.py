"""Request parsing and response serialization for our control planes, driven by botocore's service models.

Wire protocols (a response goes back in the protocol its request came in):
  json                X-Amz-Target "<targetPrefix>.<Operation>", JSON body (AWS CLI, older SDKs)
  smithy-rpc-v2-cbor  POST /service/<targetPrefix>/operation/<Operation>, CBOR body -- botocore >= 1.40
                      speaks this to codepipeline, codebuild and codedeploy by default
  rest-json           operation chosen by the model's http method + requestUri; params come from the
                      path, query string, headers and a JSON body (codestar-notifications)

Handlers see params keyed by member name, as boto3 takes them: timestamps as aware datetimes, blobs as
bytes. They return the same kind of dict; serialization keeps only the output shape's members.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, unquote
from xml.etree import ElementTree

from botocore.model import DenormalizedStructureBuilder, OperationModel, ServiceModel, Shape, StructureShape
from botocore.parsers import RpcV2CBORParser
from botocore.serialize import RpcV2CBORSerializer
from botocore.utils import parse_timestamp
from botocore.validate import ParamValidator

from gitops_harness.emulator.exceptions import (
    SerializationException,
    ServiceException,
    UnknownOperationException,
    modeled_status,
)

JSON = "json"
CBOR = "smithy-rpc-v2-cbor"
REST_JSON = "rest-json"
QUERY = "query"  # form-encoded Action=...&Member=value, XML answers (IAM)
SUPPORTED = (JSON, CBOR, REST_JSON, QUERY)

_CBOR_PATH_RE = re.compile(r"^/service/([^/]+)/operation/([^/]+)$")
_LABEL_RE = re.compile(r"\{([^}]+?)(\+?)\}")


@dataclass(frozen=True)
class WireRequest:
    method: str
    path: str  # percent-encoded, without the query string
    query: list[tuple[str, str]]
    headers: Mapping[str, str]  # case-insensitive (werkzeug Headers)
    body: bytes


@dataclass(frozen=True)
class ParsedRequest:
    operation: OperationModel
    params: dict[str, Any]
    wire: str


@dataclass
class WireResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class _Route:
    operation: OperationModel
    method: str
    regex: re.Pattern[str]
    labels: dict[str, str]  # regex group -> label name
    static_query: tuple[tuple[str, str | None], ...]
    specificity: int
    # required header members (lower case): S3's CopyObject is PutObject's route plus x-amz-copy-source
    required_headers: tuple[str, ...] = ()


class ServiceProtocol:
    """Parses and serializes one service's requests and responses (json / rpc-v2-cbor / rest-json)."""

    def __init__(self, model: ServiceModel):
        self.model = model
        protocols = list(model.metadata.get("protocols") or [model.protocol])
        self.protocols = [p for p in protocols if p in SUPPORTED]
        if not self.protocols:
            raise ValueError(f"{model.service_name}: protocols {protocols} are not supported by the emulator")
        self.target_prefix = model.metadata.get("targetPrefix")
        self._routes = build_routes(model) if REST_JSON in self.protocols else []
        self._validator = ParamValidator()

    # ---- requests -------------------------------------------------------------------------------

    def wire_of(self, request: WireRequest) -> str:
        if REST_JSON in self.protocols:
            return REST_JSON
        if QUERY in self.protocols:
            return QUERY
        if CBOR in self.protocols and request.path.startswith("/service/"):
            return CBOR
        if JSON in self.protocols and request.headers.get("X-Amz-Target"):
            return JSON
        raise UnknownOperationException(
            f"cannot tell the operation: {self.model.service_name} expects "
            + (
                "an X-Amz-Target header"
                if JSON in self.protocols
                else "POST /service/<target>/operation/<name>"
            )
        )

    def parse(self, request: WireRequest) -> ParsedRequest:
        wire = self.wire_of(request)
        if wire == JSON:
            operation = self._operation_from_target(request.headers.get("X-Amz-Target", ""))
            params = _decode(operation.input_shape, _json_body(request.body))
        elif wire == CBOR:
            operation = self._operation_from_cbor_path(request.path)
            params = _decode(operation.input_shape, _cbor_body(request.body))
        elif wire == QUERY:
            flat = query_params(request)
            operation = self._operation(flat.get("Action", ""))
            params = parse_query(operation, flat)
        else:
            operation, params = self._parse_rest_json(request)
        return ParsedRequest(operation, params if isinstance(params, dict) else {}, wire)

    def validation_report(self, operation: OperationModel, params: dict[str, Any]) -> str:
        """botocore's ParamValidator report for the params ('' when they are valid)."""
        if operation.input_shape is None:
            return ""
        report = self._validator.validate(params, operation.input_shape)
        return report.generate_report() if report.has_errors() else ""

    def _operation(self, name: str) -> OperationModel:
        if name not in self.model.operation_names:
            raise UnknownOperationException(f"{self.model.service_name} has no operation {name!r}")
        return self.model.operation_model(name)

    def _operation_from_target(self, target: str) -> OperationModel:
        prefix, _, name = target.partition(".")
        if prefix != self.target_prefix or not name:
            raise UnknownOperationException(
                f"X-Amz-Target {target!r} does not name a {self.model.service_name} operation "
                f"(expected {self.target_prefix}.<Operation>)"
            )
        return self._operation(name)

    def _operation_from_cbor_path(self, path: str) -> OperationModel:
        match = _CBOR_PATH_RE.match(path)
        if not match or match.group(1) != self.target_prefix:
            raise UnknownOperationException(
                f"path {path!r} does not name a {self.model.service_name} operation "
                f"(expected /service/{self.target_prefix}/operation/<Operation>)"
            )
        return self._operation(match.group(2))

    def _parse_rest_json(self, request: WireRequest) -> tuple[OperationModel, dict[str, Any]]:
        best = match_route(self._routes, request.method, request.path, request.query, request.headers)
        if best is None:
            raise UnknownOperationException(
                f"no {self.model.service_name} operation for {request.method} {request.path}", status=404
            )
        route, match = best
        operation = route.operation
        shape = operation.input_shape
        if shape is None:
            return operation, {}
        uri_values = {route.labels[group]: unquote(value) for group, value in match.groupdict().items()}
        params: dict[str, Any] = {}
        bound_query: set[str] = set()
        query_map_member: tuple[str, Shape] | None = None
        payload = shape.serialization.get("payload")
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire_name = member.serialization.get("name", name)
            if location == "uri" and wire_name in uri_values:
                params[name] = _from_string(member, uri_values[wire_name], REST_JSON)
            elif location == "querystring":
                if member.type_name == "map":
                    query_map_member = (name, member)
                    continue
                bound_query.add(wire_name)
                values = [value for key, value in request.query if key == wire_name]
                if not values:
                    continue
                if member.type_name == "list":
                    params[name] = [_from_string(member.member, value, REST_JSON) for value in values]
                else:
                    params[name] = _from_string(member, values[0], REST_JSON)
            elif location == "header":
                value = request.headers.get(wire_name)
                if value is None:
                    continue
                if member.type_name == "list":
                    params[name] = [
                        _from_string(member.member, item.strip(), "header") for item in value.split(",")
                    ]
                else:
                    params[name] = _from_string(member, value, "header")
            elif location == "headers":
                prefix = wire_name.lower()
                found = {
                    key[len(prefix) :]: value
                    for key, value in request.headers.items()
                    if key.lower().startswith(prefix)
                }
                if found:
                    params[name] = found
        if query_map_member is not None:
            name, member = query_map_member
            extra = {key: value for key, value in request.query if key not in bound_query}
            if extra:
                params[name] = extra
        if payload:
            member = shape.members[payload]
            if member.type_name in ("blob", "string"):
                if request.body:
                    params[payload] = request.body if member.type_name == "blob" else request.body.decode()
            elif request.body.strip():
                params[payload] = _decode(member, _json_body(request.body))
        elif request.body.strip():
            body = _decode(shape, _json_body(request.body))
            for name, value in body.items():
                if "location" not in shape.members[name].serialization:
                    params[name] = value
        return operation, params

    # ---- responses ------------------------------------------------------------------------------

    def serialize(
        self, operation: OperationModel, result: dict[str, Any] | None, wire: str, request_id: str
    ) -> WireResponse:
        shape = operation.output_shape
        result = result or {}
        headers = {"x-amzn-RequestId": request_id}
        if wire == JSON:
            headers["Content-Type"] = (
                f"application/x-amz-json-{self.model.metadata.get('jsonVersion', '1.0')}"
            )
            body = _encode(shape, result, JSON) if shape is not None else {}
            return WireResponse(200, headers, json.dumps(body).encode())
        if wire == CBOR:
            headers.update({"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"})
            return WireResponse(200, headers, _cbor_encode(shape, result))
        if wire == QUERY:
            headers["Content-Type"] = "text/xml"
            return WireResponse(200, headers, serialize_query_xml(self.model, operation, result, request_id))
        return self._serialize_rest_json(operation, shape, result, headers)

    def _serialize_rest_json(
        self,
        operation: OperationModel,
        shape: StructureShape | None,
        result: dict[str, Any],
        headers: dict[str, str],
    ) -> WireResponse:
        status = int(operation.http.get("responseCode", 200))
        if shape is None:
            return WireResponse(status, headers, b"")
        payload = shape.serialization.get("payload")
        body_values: dict[str, Any] = {}
        for name, member in shape.members.items():
            value = result.get(name)
            if value is None:
                continue
            location = member.serialization.get("location")
            wire_name = member.serialization.get("name", name)
            if location == "header":
                headers[wire_name] = _header_value(member, value)
            elif location == "headers":
                for key, item in value.items():
                    headers[f"{wire_name}{key}"] = str(item)
            elif location == "statusCode":
                status = int(value)
            elif name != payload:
                body_values[name] = value
        if payload:
            member = shape.members[payload]
            value = result.get(payload)
            if member.type_name == "blob":
                return WireResponse(status, headers, value or b"")
            if member.type_name == "string":
                return WireResponse(status, headers, (value or "").encode())
            headers["Content-Type"] = "application/json"
            encoded = _encode(member, value, REST_JSON) if value is not None else {}
            return WireResponse(status, headers, json.dumps(encoded).encode())
        headers["Content-Type"] = "application/json"
        return WireResponse(status, headers, json.dumps(_encode(shape, body_values, REST_JSON)).encode())

    def serialize_error(self, error: ServiceException, wire: str, request_id: str) -> WireResponse:
        if wire == QUERY:
            status = error.status or _query_error_statuses(self.model).get(error.code, 400)
            body = serialize_query_error(self.model, error.code, error.message, request_id)
            return WireResponse(status, {"x-amzn-RequestId": request_id, "Content-Type": "text/xml"}, body)
        status = error.status or modeled_status(self.model.service_name, error.code) or 400
        headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": error.code}
        fields = {key: value for key, value in error.fields.items() if value is not None}
        if wire == CBOR:
            headers.update({"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"})
            members = {"__type": error.code, "message": error.message}
            members.update({key: str(value) for key, value in fields.items()})
            builder = DenormalizedStructureBuilder().with_members(
                {key: {"type": "string"} for key in members}
            )
            return WireResponse(status, headers, _cbor_encode(builder.build_model(), members))
        body: dict[str, Any] = {"__type": error.code, "message": error.message}
        body.update(_encode_error_fields(self.model, error.code, fields, wire))
        if wire == REST_JSON:
            headers["Content-Type"] = "application/json"
        else:
            headers["Content-Type"] = (
                f"application/x-amz-json-{self.model.metadata.get('jsonVersion', '1.0')}"
            )
        return WireResponse(status, headers, json.dumps(body).encode())


# rest protocols: route by the model's http method and requestUri (also used to name moto's operations)
def build_routes(model: ServiceModel) -> list[_Route]:
    routes = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        uri = operation.http.get("requestUri", "/")
        path, _, query = uri.partition("?")
        labels: dict[str, str] = {}
        pattern = ""
        position = 0
        for index, match in enumerate(_LABEL_RE.finditer(path)):
            pattern += re.escape(path[position : match.start()])
            group = f"g{index}"
            labels[group] = match.group(1)
            pattern += f"(?P<{group}>.+)" if match.group(2) else f"(?P<{group}>[^/]+)"
            position = match.end()
        pattern += re.escape(path[position:])
        static_query = tuple(
            (key, value if sep else None)
            for key, sep, value in (item.partition("=") for item in query.split("&") if item)
        )
        literal = len(_LABEL_RE.sub("", path))
        shape = operation.input_shape
        required = set(shape.required_members) if shape is not None else set()
        headers = tuple(
            member.serialization.get("name", member_name).lower()
            for member_name, member in (shape.members.items() if shape is not None else ())
            if member_name in required and member.serialization.get("location") == "header"
        )
        routes.append(
            _Route(
                operation,
                operation.http.get("method", "POST").upper(),
                re.compile(f"^{pattern}/?$"),
                labels,
                static_query,
                literal * 10 + len(static_query) + len(headers),
                headers,
            )
        )
    return routes


def match_route(
    routes: list[_Route],
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: Mapping[str, str] | None = None,
) -> tuple[_Route, re.Match[str]] | None:
    """The most specific route for method + path (+ the query keys a requestUri requires, + the required
    header members when `headers` is given), if any."""
    query_keys = {key: value for key, value in query}
    header_names = {name.lower() for name, _ in headers.items()} if headers is not None else None
    best: tuple[_Route, re.Match[str]] | None = None
    for route in routes:
        if route.method != method.upper():
            continue
        match = route.regex.match(path)
        if not match:
            continue
        if any(
            key not in query_keys or (value is not None and query_keys[key] != value)
            for key, value in route.static_query
        ):
            continue
        if header_names is not None and not header_names.issuperset(route.required_headers):
            continue
        if best is None or route.specificity > best[0].specificity:
            best = (route, match)
    return best


# ---- the query protocol (IAM): form parameters in, XML out, both from the model ---------------------------


def query_params(request: WireRequest) -> dict[str, str]:
    """Query-string and form-body parameters of a query-protocol request."""
    params = dict(request.query)
    if request.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
        params.update(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def parse_query(operation: OperationModel, params: Mapping[str, str]) -> dict[str, Any]:
    """Flat query params -> boto3-style params for the operation's input shape (scalars and
    ``Name.member.N`` lists; unknown params are ignored, as AWS's query services do)."""
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
                out[name] = [_query_scalar(member.member, value) for _, value in items]  # type: ignore[attr-defined]
        elif wire in params:
            out[name] = _query_scalar(member, params[wire])
    return out


def _query_scalar(shape: Shape, value: str) -> Any:
    kind = shape.type_name
    if kind in ("integer", "long"):
        try:
            return int(value)
        except ValueError:
            return value  # ParamValidator reports the wrong type
    if kind == "boolean":
        return {"true": True, "false": False}.get(value.lower(), value)
    return value


def serialize_query_xml(
    model: ServiceModel, operation: OperationModel, result: dict[str, Any], request_id: str
) -> bytes:
    """``<OpResponse xmlns=...><OpResult>...</OpResult><ResponseMetadata>...`` from the output shape."""
    root = ElementTree.Element(f"{operation.name}Response", xmlns=model.metadata["xmlNamespace"])
    shape = operation.output_shape
    if shape is not None:
        wrapper = ElementTree.SubElement(
            root, shape.serialization.get("resultWrapper", f"{operation.name}Result")
        )
        _xml_members(wrapper, shape, result)
    metadata = ElementTree.SubElement(root, "ResponseMetadata")
    ElementTree.SubElement(metadata, "RequestId").text = request_id
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=False)


def serialize_query_error(model: ServiceModel, code: str, message: str, request_id: str) -> bytes:
    root = ElementTree.Element("ErrorResponse", xmlns=model.metadata["xmlNamespace"])
    error = ElementTree.SubElement(root, "Error")
    ElementTree.SubElement(error, "Type").text = "Sender"
    ElementTree.SubElement(error, "Code").text = code
    ElementTree.SubElement(error, "Message").text = message
    ElementTree.SubElement(root, "RequestId").text = request_id
    return ElementTree.tostring(root, encoding="utf-8")


def _query_error_statuses(model: ServiceModel) -> dict[str, int]:
    """Query services answer an error's wire code (IAM's NoSuchEntity), not its shape name."""
    return {
        shape.metadata["error"]["code"]: shape.metadata["error"].get("httpStatusCode", 400)
        for shape in model.error_shapes
        if "error" in shape.metadata
    }


def _xml_members(parent: ElementTree.Element, shape: Shape, value: dict[str, Any]) -> None:
    for name, member in shape.members.items():  # type: ignore[attr-defined]
        item = value.get(name)
        if item is not None:
            _xml_value(ElementTree.SubElement(parent, member.serialization.get("name", name)), member, item)


def _xml_value(element: ElementTree.Element, shape: Shape, value: Any) -> None:
    kind = shape.type_name
    if kind == "structure":
        _xml_members(element, shape, value)
    elif kind == "list":
        for item in value:
            child = ElementTree.SubElement(element, shape.member.serialization.get("name", "member"))  # type: ignore[attr-defined]
            _xml_value(child, shape.member, item)  # type: ignore[attr-defined]
    elif kind == "map":
        for key, item in value.items():
            entry = ElementTree.SubElement(element, "entry")
            ElementTree.SubElement(entry, "key").text = str(key)
            _xml_value(ElementTree.SubElement(entry, "value"), shape.value, item)  # type: ignore[attr-defined]
    elif kind == "timestamp":
        moment = value if isinstance(value, datetime) else datetime.fromtimestamp(value, UTC)
        element.text = moment.isoformat().replace("+00:00", "Z")
    elif kind == "boolean":
        element.text = "true" if value else "false"
    else:
        element.text = str(value)


def plain_error(error: ServiceException, request_id: str) -> WireResponse:
    """A JSON error for requests that reach no service's protocol (unsigned, unknown service)."""
    body = {"__type": error.code, "message": error.message}
    headers = {
        "x-amzn-RequestId": request_id,
        "x-amzn-ErrorType": error.code,
        "Content-Type": "application/x-amz-json-1.1",
    }
    return WireResponse(error.status or 400, headers, json.dumps(body).encode())


# ---- value conversion (wire <-> python, walking the shape) --------------------------------------


def _json_body(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SerializationException(f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise SerializationException("request body is nested too deeply to parse") from None
    if not isinstance(value, dict):
        raise SerializationException("request body must be a JSON object")
    return value


def _cbor_body(body: bytes) -> Any:
    if not body:
        return {}
    parser = RpcV2CBORParser()
    try:
        value = parser.parse_data_item(parser.get_peekable_stream_from_bytes(body))
    except Exception as exc:  # botocore raises ResponseParserError, or IndexError on truncated input
        raise SerializationException(f"request body is not valid CBOR: {exc}") from None
    if not isinstance(value, dict):
        raise SerializationException("request body must be a CBOR map")
    return value


def _wire_names(shape: StructureShape) -> dict[str, str]:
    return {member.serialization.get("name", name): name for name, member in shape.members.items()}


def _decode(shape: Shape | None, value: Any) -> Any:
    """A decoded JSON/CBOR value -> python params (unknown members dropped, as AWS's JSON services do)."""
    if shape is None or value is None:
        return value if shape is not None else {}
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        names = _wire_names(shape)  # type: ignore[arg-type]
        out = {}
        for key, item in value.items():
            name = names.get(key)
            if name is not None and item is not None:
                out[name] = _decode(shape.members[name], item)  # type: ignore[attr-defined]
        return out
    if kind == "list" and isinstance(value, list):
        return [_decode(shape.member, item) for item in value]  # type: ignore[attr-defined]
    if kind == "map" and isinstance(value, dict):
        return {key: _decode(shape.value, item) for key, item in value.items()}  # type: ignore[attr-defined]
    if kind == "timestamp":
        return _to_datetime(value)
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            raise SerializationException(f"blob value {value[:40]!r} is not valid base64") from None
    return value


def _to_datetime(value: Any) -> Any:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool):
        return value  # let the validator report the wrong type
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            parsed = parse_timestamp(value)
        except ValueError:
            raise SerializationException(f"timestamp {value!r} cannot be parsed") from None
        return parsed.astimezone(UTC)
    return value


def _from_string(shape: Shape, value: str, where: str) -> Any:
    """A path / query / header string -> the member's python type."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(value)
        if kind in ("float", "double"):
            return float(value)
        if kind == "boolean":
            if value.lower() not in ("true", "false"):
                raise ValueError(value)
            return value.lower() == "true"
        if kind == "timestamp":
            return _to_datetime(value)
        if kind == "blob":
            return base64.b64decode(value)
        if kind == "string" and shape.serialization.get("jsonvalue"):
            return json.loads(base64.b64decode(value)) if where == "header" else json.loads(value)
    except (ValueError, binascii.Error):
        raise SerializationException(f"{where} value {value!r} is not a valid {kind}") from None
    return value


def _epoch(value: Any) -> int | float:
    moment = _to_datetime(value)
    if not isinstance(moment, datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    seconds = moment.timestamp()
    return int(seconds) if seconds == int(seconds) else round(seconds, 3)


def _encode_timestamp(shape: Shape, value: Any, default: str) -> Any:
    fmt = shape.serialization.get("timestampFormat", default)
    if fmt == "iso8601":
        moment = _to_datetime(value)
        return moment.isoformat().replace("+00:00", "Z")
    if fmt == "rfc822":
        return formatdate(_epoch(value), usegmt=True)
    return _epoch(value)


def _encode(shape: Shape, value: Any, wire: str) -> Any:
    """Python value -> JSON-ready value for the json / rest-json body; members outside the shape dropped."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        out = {}
        for name, member in shape.members.items():  # type: ignore[attr-defined]
            item = value.get(name)
            if item is None or (wire == REST_JSON and "location" in member.serialization):
                continue
            out[member.serialization.get("name", name)] = _encode(member, item, wire)
        return out
    if kind == "list" and isinstance(value, list | tuple):
        return [_encode(shape.member, item, wire) for item in value]  # type: ignore[attr-defined]
    if kind == "map" and isinstance(value, dict):
        return {key: _encode(shape.value, item, wire) for key, item in value.items()}  # type: ignore[attr-defined]
    if kind == "timestamp":
        return _encode_timestamp(shape, value, "unixtimestamp")
    if kind == "blob":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode()
    if kind in ("float", "double") and isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def _normalize(shape: Shape, value: Any) -> Any:
    """Python value -> exactly the shape's members, None dropped (botocore's CBOR encoder needs that)."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {
            name: _normalize(member, value[name])
            for name, member in shape.members.items()  # type: ignore[attr-defined]
            if value.get(name) is not None
        }
    if kind == "list" and isinstance(value, list | tuple):
        return [_normalize(shape.member, item) for item in value]  # type: ignore[attr-defined]
    if kind == "map" and isinstance(value, dict):
        return {key: _normalize(shape.value, item) for key, item in value.items()}  # type: ignore[attr-defined]
    if kind == "timestamp":
        return _to_datetime(value)
    if kind == "blob" and isinstance(value, str):
        return value.encode()
    return value


def _cbor_encode(shape: Shape | None, value: dict[str, Any]) -> bytes:
    if shape is None:
        return b"\xa0"  # an empty CBOR map
    # botocore's own CBOR encoder (its request serializer), so our bytes are what botocore reads back.
    buffer = bytearray()
    RpcV2CBORSerializer()._serialize_data_item(buffer, _normalize(shape, value), shape)
    return bytes(buffer)


def _encode_error_fields(model: ServiceModel, code: str, fields: dict[str, Any], wire: str) -> dict[str, Any]:
    if not fields:
        return {}
    try:
        shape = model.shape_for(code)
    except Exception:  # botocore's NoShapeFoundError: an error code the model does not declare
        return {key: value for key, value in fields.items() if isinstance(value, str | int | float | bool)}
    return _encode(shape, fields, wire)


def _header_value(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "timestamp":
        return str(_encode_timestamp(shape, value, "rfc822"))
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "list":
        return ",".join(str(item) for item in value)
    if kind == "string" and shape.serialization.get("jsonvalue"):
        return base64.b64encode(json.dumps(value).encode()).decode()
    if kind == "blob":
        return base64.b64encode(value if isinstance(value, bytes) else str(value).encode()).decode()
    return str(value)
