"""What the front door refuses before any service sees a request, answered the way AWS answers it.

A malformed request must get a short 4xx in the service's own error format (XML for query services,
JSON for the rest) and a line in the request log, never werkzeug's HTML 500:
- a Content-Length that is not a non-negative integer (400);
- a body over the size limit (413), refused from its Content-Length, before it is read, and never echoed;
- a credential scope whose region is not an AWS region (AWS: "Credential should be scoped to a valid
  region"), checked against the regions botocore's endpoint data describes;
- a JSON body nested deeper than a parser recurses (400 SerializationException, not a RecursionError);
- an operation that the service's model does not have (IAM's GetCallerIdentity: 400 InvalidAction).
"""

from __future__ import annotations

import json
import re
from functools import cache
from io import BytesIO
from typing import Any

from gitops_harness.emulator.exceptions import SerializationException, ServiceException, botocore_session
from gitops_harness.emulator.protocol import WireResponse, plain_error, serialize_query_error

# AWS's APIs take a few MB at most (Lambda's 6 MB payload is the largest JSON body); S3 takes an object
# of up to 5 GB in one PUT, but this emulator holds bodies in memory, so it stops at 256 MB for S3.
MAX_REQUEST_BYTES = 16 * 1024 * 1024
MAX_S3_REQUEST_BYTES = 256 * 1024 * 1024
# Signing names whose botocore model has another name.
_MODEL_NAMES = {"monitoring": "cloudwatch", "states": "stepfunctions", "email": "ses", "es": "opensearch"}


class BadRequest(ServiceException):
    status = 400


class RequestEntityTooLarge(ServiceException):
    status = 413


class InvalidSignatureException(ServiceException):
    status = 403


class InvalidAction(ServiceException):
    status = 400


@cache
def _region_patterns() -> tuple[re.Pattern[str], ...]:
    """Every partition's regionRegex from botocore's endpoints.json (aws, aws-cn, aws-us-gov, ...)."""
    data = botocore_session().get_component("data_loader").load_data("endpoints")
    return tuple(re.compile(p["regionRegex"]) for p in data["partitions"] if p.get("regionRegex"))


def valid_region(region: str) -> bool:
    return (
        any(pattern.match(region) for pattern in _region_patterns())
        and re.fullmatch(r"[a-z0-9-]+", region) is not None
    )


def content_length(environ: dict[str, Any]) -> int:
    """The request's Content-Length (0 when absent); BadRequest if it is not a non-negative integer."""
    raw = environ.get("CONTENT_LENGTH") or ""
    if not raw.strip():
        return 0
    if not raw.strip().isdigit():
        raise BadRequest(
            f"Content-Length must be a non-negative integer, got {raw[:20]!r}", code="BadRequest"
        )
    return int(raw)


def _chunked(environ: dict[str, Any]) -> bool:
    return bool(environ.get("wsgi.input_terminated")) and "chunked" in environ.get(
        "HTTP_TRANSFER_ENCODING", ""
    )


def _buffer_chunked(environ: dict[str, Any], limit: int) -> int:
    """A signed request sent chunked (no Content-Length): read it one byte past the limit, no further, and
    put it back with its length, so the size check and every reader after it see a plain body."""
    body = environ["wsgi.input"].read(limit + 1)
    environ["wsgi.input"] = BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return len(body)


def refusal(environ: dict[str, Any], service: str | None, region: str | None) -> ServiceException | None:
    """Why the front door refuses this request before routing it, or None."""
    length = content_length(environ)
    limit = MAX_S3_REQUEST_BYTES if service == "s3" else MAX_REQUEST_BYTES
    if service is not None and not length and _chunked(environ):
        length = _buffer_chunked(environ, limit)
    if length > limit:
        return RequestEntityTooLarge(
            f"Request body of {length} bytes exceeds the embedded AWS's limit of {limit} bytes",
            code="RequestEntityTooLargeException",
        )
    if region is not None and not valid_region(region):
        return InvalidSignatureException(
            f"Credential should be scoped to a valid region, not '{region[:40]}'.",
            code="InvalidSignatureException",
        )
    return None


def check(environ: dict[str, Any], service: str | None, region: str | None) -> ServiceException | None:
    try:
        return refusal(environ, service, region)
    except ServiceException as error:
        return error


def json_too_deep(environ: dict[str, Any]) -> ServiceException | None:
    """For a JSON-protocol body: SerializationException if no parser could read it for its nesting depth.
    The body is put back for whoever answers."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-amz-json"):
        return None
    length = content_length(environ)  # a chunked body was given its length by refusal()
    if not length:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    try:
        json.loads(body)
    except RecursionError:
        return SerializationException("request body is nested too deeply to parse")
    except (ValueError, UnicodeDecodeError):
        return None  # the service's own parser says what is wrong with it
    return None


@cache
def _model(service: str) -> Any:
    try:
        return botocore_session().get_service_model(_MODEL_NAMES.get(service, service))
    except Exception:  # an unknown service: no model, so no opinion on its operations
        return None


def unknown_operation(service: str, operation: str) -> ServiceException | None:
    """InvalidAction when the request names an operation the service's model does not have."""
    model = _model(service)
    if model is None or operation in ("", "?") or operation in model.operation_names:
        return None
    version = model.metadata.get("apiVersion", "")
    if model.protocol in ("query", "ec2"):
        return InvalidAction(
            f"Could not find operation {operation[:80]} for version {version}", code="InvalidAction"
        )
    return InvalidAction(f"Operation {operation[:80]} is not supported.", code="UnknownOperationException")


def error_response(service: str | None, error: ServiceException, request_id: str) -> WireResponse:
    """The error in the service's wire format: XML for query services, JSON otherwise."""
    model = _model(service) if service else None
    if model is not None and model.protocol in ("query", "ec2") and "xmlNamespace" in model.metadata:
        body = serialize_query_error(model, error.code, error.message, request_id)
        return WireResponse(
            error.status or 400, {"x-amzn-RequestId": request_id, "Content-Type": "text/xml"}, body
        )
    return plain_error(error, request_id)
