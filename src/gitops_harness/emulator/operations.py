"""The AWS operation a request names, for any service (moto's included), from the botocore model.

The request log (`/_emulator/requests`) names every operation, so timelines and least-privilege IAM
policies can be derived from it. How a request names its operation depends on its protocol:
- json: the X-Amz-Target header (`AmazonSQS.SendMessage`);
- smithy-rpc-v2-cbor: the path (`/service/<target>/operation/<Operation>`);
- query / ec2: the `Action` parameter, in the query string or the form body;
- rest-json / rest-xml: the model's http method and requestUri (S3's virtual-hosted buckets are put back
  into the path first).

The body is read only for a form-encoded request without an Action in its query, and is put back so
the service that answers can read it. A request that names nothing the model knows reads "?".
"""

from __future__ import annotations

import re
from functools import cache
from io import BytesIO
from typing import Any
from urllib.parse import parse_qsl

from botocore.exceptions import UnknownServiceError

from gitops_harness.emulator.exceptions import botocore_session
from gitops_harness.emulator.protocol import build_routes, match_route

UNKNOWN = "?"
_CBOR_PATH_RE = re.compile(r"^/service/[^/]+/operation/([^/?]+)")
# Signing names whose botocore model has another name (the rest protocols need the model's routes).
_MODEL_NAMES = {"monitoring": "cloudwatch", "states": "stepfunctions", "email": "ses", "es": "opensearch"}
# A bucket in the host: <bucket>.s3[.-]<region>.amazonaws.com, <bucket>.s3.amazonaws.com, <bucket>.localhost
_S3_VIRTUAL_HOST_RE = re.compile(r"^(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.(?:s3[.-]|localhost$)")


def operation_name(service: str, environ: dict[str, Any]) -> str:
    """The operation of a WSGI request to `service` (its SigV4 signing name), or "?"."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rpartition(".")[2] or UNKNOWN
    path = environ.get("PATH_INFO", "")
    cbor = _CBOR_PATH_RE.match(path)
    if cbor is not None:
        return cbor.group(1)
    query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    action = dict(query).get("Action") or _form_action(environ)
    if action:
        return action
    headers = {
        key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
    }
    found = match_route(
        _routes(service), environ.get("REQUEST_METHOD", "GET"), _rest_path(service, environ), query, headers
    )
    return found[0].operation.name if found is not None else UNKNOWN


def _form_action(environ: dict[str, Any]) -> str | None:
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = BytesIO(body)  # put back for whoever answers
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)).get("Action")


def _rest_path(service: str, environ: dict[str, Any]) -> str:
    path = environ.get("PATH_INFO", "") or "/"
    if service == "s3":
        host = (environ.get("HTTP_HOST") or "").rsplit(":", 1)[0]
        match = _S3_VIRTUAL_HOST_RE.match(host)
        if match is not None:
            return f"/{match.group('bucket')}{path}"
    return path


@cache
def _routes(service: str) -> list[Any]:
    try:
        model = botocore_session().get_service_model(_MODEL_NAMES.get(service, service))
    except UnknownServiceError:
        return []
    protocols = model.metadata.get("protocols") or [model.protocol]
    if not any(p.startswith("rest-") for p in protocols):
        return []
    return build_routes(model)
