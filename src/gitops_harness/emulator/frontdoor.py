"""The front door: one WSGI app that routes each request by the service in its SigV4 credential scope.

Services with a control plane of ours are answered by it; every other service goes to moto's own WSGI
dispatcher (the one moto's server mode runs) in the same process. The account a request acts in comes
from its access key (identity.py) and reaches moto through its per-request `x-moto-account-id` header,
so nothing process-wide changes between requests.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from functools import cache
from typing import Any
from urllib.parse import parse_qs, quote

from werkzeug.wrappers import Request, Response

from gitops_harness import __version__
from gitops_harness.emulator import request_guard
from gitops_harness.emulator.common.records import RecordLog
from gitops_harness.emulator.controlplane import ControlPlane, RequestContext
from gitops_harness.emulator.exceptions import (
    InternalFailure,
    MissingAuthenticationTokenException,
    NotImplementedFailure,
    ServiceException,
)
from gitops_harness.emulator.iam import enforce as enforce_iam
from gitops_harness.emulator.identity import (
    DEFAULT_ACCOUNT_ID,
    account_for_access_key,
    credential_scope,
    resolve_caller,
    sigv2_access_key,
)
from gitops_harness.emulator.operations import operation_name
from gitops_harness.emulator.protocol import ServiceProtocol, WireRequest, WireResponse, plain_error
from gitops_harness.emulator.shape_check import check_output

log = logging.getLogger("gitops_harness.emulator.requests")
PLANES_TIMEOUT = 120.0  # seconds a request for a plane waits for the planes loading in the background

HEALTH_PATHS = ("/_localstack/health", "/_emulator/health")
REQUESTS_PATH = "/_emulator/requests"
LISTENERS_PATH = "/_emulator/listeners"  # the ALB data plane's listener servers (elb_dataplane)
# moto backend module names -> the service names users know (LocalStack's health keys)
_SERVICE_ALIASES = {
    "awslambda": "lambda",
    "cognitoidp": "cognito-idp",
    "cognitoidentity": "cognito-identity",
    "applicationautoscaling": "application-autoscaling",
    "resourcegroupstaggingapi": "resourcegroupstaggingapi",
    "stepfunctions": "stepfunctions",
}
_MOTO_INTERNAL = {"moto_api", "moto_api._internal", "instance_metadata"}

StartResponse = Callable[..., Any]


@cache
def _moto_modules() -> frozenset[str]:
    import moto.backends as backends

    return frozenset(backends.list_of_moto_modules())


class FrontDoor:
    def __init__(
        self,
        planes: Sequence[ControlPlane],
        *,
        strict_shapes: bool = False,
        log_size: int = 2000,
        pending: Collection[str] = (),
        load_pending: Callable[[], None] | None = None,
    ):
        """`pending`: signing names of planes still loading (attach() brings them); their requests, unsigned
        requests and the health pages start loading them (`load_pending`) and wait; every other service is
        answered by moto at once."""
        from moto import __version__ as moto_version
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.planes = {plane.signing_name(): plane for plane in planes}
        self._pending = frozenset(pending)
        self._load_pending = load_pending
        self._ready = threading.Event()
        if not self._pending:
            self._ready.set()
        # Built on a service's first request: loading a botocore model costs ~0.1 s at cold start.
        self._protocols: dict[str, ServiceProtocol] = {}
        self._implemented: dict[str, frozenset[str]] = {}
        self._moto = DomainDispatcherApplication(create_backend_app)
        self._moto_version = moto_version
        self.strict_shapes = strict_shapes
        self.enforce_iam = True  # iam/enforcement.py before moto; False: moto's permissive IAM everywhere
        self.endpoint_url = ""
        self.listener_directory: Callable[[], list[dict[str, Any]]] = list  # set by the server
        # what runs here beyond the APIs ("lambda-invoke", "alb-data-plane"), set by the server and shown
        # in /_emulator/health for clients that cannot look inside (the aws target's rehearsal)
        self.features: set[str] = set()
        self.request_log = RecordLog("front-door request", maxlen=log_size)  # /_emulator/requests
        self._used: set[str] = set()
        self._lock = threading.Lock()

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The request log, oldest first (what /_emulator/requests answers)."""
        return self.request_log.records()

    def wait_for_request(self, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        """The first logged request matching `predicate`, waiting up to `timeout` seconds for it."""
        return self.request_log.wait_for(predicate, timeout)

    def attach(self, planes: Sequence[ControlPlane]) -> None:
        """The planes loaded in the background: from now on they answer their services."""
        with self._lock:
            self.planes.update({plane.signing_name(): plane for plane in planes})
        self._ready.set()

    def _await_planes(self) -> None:
        if self._load_pending is not None:
            self._load_pending()
        if not self._ready.wait(PLANES_TIMEOUT):
            raise RuntimeError(f"the control planes did not load within {PLANES_TIMEOUT:.0f}s")

    def _serves(self, plane: ControlPlane, service: str, environ: dict[str, Any]) -> bool:
        """A partial plane (IAM's credentials) answers only its operations; moto answers the rest."""
        return not plane.partial or operation_name(service, environ) in self._implemented_by(service)

    def _protocol(self, service: str) -> ServiceProtocol:
        with self._lock:
            protocol = self._protocols.get(service)
            if protocol is None:
                protocol = self._protocols[service] = ServiceProtocol(self.planes[service].model())
            return protocol

    def _implemented_by(self, service: str) -> frozenset[str]:
        with self._lock:
            found = self._implemented.get(service)
            if found is None:
                found = self._implemented[service] = frozenset(self.planes[service].implemented_operations())
            return found

    # ---- WSGI ------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in HEALTH_PATHS or path in (REQUESTS_PATH, LISTENERS_PATH):
            if not self._ready.is_set():
                self._await_planes()
            return self._introspection(path)(environ, start_response)
        request = Request(environ)
        scope = credential_scope(request.headers, request.args)
        refused = request_guard.check(
            environ, scope.service if scope else None, scope.region if scope else None
        )
        if refused is not None:  # before anything reads the body: it may be huge or have no length
            return self._refuse(refused, scope, environ, start_response)
        if not self._ready.is_set() and (scope is None or scope.service in self._pending):
            self._await_planes()  # git requests and our services need the planes; moto's do not
        extra = self._extra_route(scope.service if scope else None, environ)
        if extra is not None:
            return self._serve_extra(extra, environ, start_response)
        if scope is not None:
            plane = self.planes.get(scope.service)
            if plane is not None and self._serves(plane, scope.service, environ):
                return self._serve_plane(plane, scope, request, environ, start_response)
            return self._serve_moto(environ, start_response, scope.access_key, scope.service)
        return self._serve_unsigned(request, environ, start_response)

    def _refuse(
        self, error: ServiceException, scope: Any, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        started = time.monotonic()
        service = scope.service if scope else None
        response = request_guard.error_response(service, error, str(uuid.uuid4()))
        account = account_for_access_key(scope.access_key) if scope else "?"
        self._record(environ, service or "?", "?", account, response.status, "none", started)
        # the body is never read: close the connection rather than leave it unread on a kept-alive socket
        response.headers["Connection"] = "close"
        return _respond(response)(environ, start_response)

    # ---- our control planes ------------------------------------------------------------------------

    def _serve_plane(
        self,
        plane: ControlPlane,
        scope: Any,
        request: Request,
        environ: dict[str, Any],
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        protocol = self._protocol(scope.service)
        wire = protocol.protocols[0]
        operation = "?"
        account = "?"
        raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(request.path)
        wire_request = WireRequest(
            method=request.method,
            path=raw_uri.split("?", 1)[0],
            query=list(request.args.items(multi=True)),
            headers=request.headers,
            body=request.get_data(),
        )
        try:
            wire = protocol.wire_of(wire_request)
            parsed = protocol.parse(wire_request)
            operation = parsed.operation.name
            if operation not in self._implemented_by(scope.service):
                raise NotImplementedFailure(
                    f"The API action '{operation}' for service '{plane.service_name}' is not implemented "
                    "by the embedded AWS"
                )
            caller = resolve_caller(scope.access_key)
            account = caller.account_id
            report = protocol.validation_report(parsed.operation, parsed.params)
            if report:
                raise plane.validation_error(operation, report)
            ctx = RequestContext(
                service=plane.service_name,
                operation=operation,
                account_id=caller.account_id,
                region=scope.region,
                access_key=scope.access_key,
                caller_arn=caller.arn,
                request_id=request_id,
                endpoint_url=self.endpoint_url,
            )
            result = plane.handle(ctx, parsed.params)
            if self.strict_shapes:
                problems = check_output(plane.service_name, operation, result)
                if problems:
                    raise InternalFailure(
                        f"{plane.service_name}.{operation} answered outside its output "
                        f"shape: {'; '.join(problems[:5])}"
                    )
            response = protocol.serialize(parsed.operation, result, wire, request_id)
        except ServiceException as error:
            response = protocol.serialize_error(error, wire, request_id)
        except Exception as exc:  # a handler bug: answer like AWS does, keep the traceback in the log
            log.exception("%s.%s failed", plane.service_name, operation)
            response = protocol.serialize_error(
                InternalFailure(f"{type(exc).__name__}: {exc}"), wire, request_id
            )
        self._record(
            request.environ,
            scope.service,
            operation,
            account,
            response.status,
            "emulator",
            started,
        )
        return _respond(response)(environ, start_response)

    # ---- what planes serve besides their API (CodeCommit: git smart HTTP, IAM's Git credentials) ---------

    def _extra_route(self, service: str | None, environ: dict[str, Any]) -> Any:
        """(service, operation, account, wsgi app) from the first plane whose `extra_route` claims the
        request (`service` is None for unsigned requests), else None."""
        for plane in self.planes.values():
            route = getattr(plane, "extra_route", None)
            found = route(service, environ) if route is not None else None
            if found is not None:
                return found
        return None

    def _serve_extra(
        self, extra: tuple[str, str, str, Any], environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        started = time.monotonic()
        service, operation, account, app = extra
        status_seen: list[str] = []

        def recording_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            status_seen.append(status)
            return start_response(status, headers, exc_info)

        body = app(environ, recording_start_response)
        try:  # git does its work while the body streams: log once it has been sent
            yield from body
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            status = int(status_seen[0].split()[0]) if status_seen else 0
            self._record(environ, service, operation, account, status, "emulator", started)

    # ---- moto ------------------------------------------------------------------------------------

    def _serve_moto(
        self, environ: dict[str, Any], start_response: StartResponse, access_key: str | None, service: str
    ) -> Iterable[bytes]:
        started = time.monotonic()
        account = account_for_access_key(access_key) if access_key else DEFAULT_ACCOUNT_ID
        # Per request, never process-wide: moto reads the account from this header before the access key.
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = account
        verdict = enforce_iam(environ, service, access_key) if access_key and self.enforce_iam else None
        if verdict is not None and verdict.denial is not None:
            status = verdict.denial.status
            self._record(environ, service, verdict.operation, account, status, "iam", started)
            return _respond(verdict.denial)(environ, start_response)
        if verdict is not None and verdict.account:  # moto finds another account's KMS key only there
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = verdict.account
        operation = operation_name(service, environ)  # from the botocore model, for the request log
        refused = request_guard.unknown_operation(service, operation) or request_guard.json_too_deep(environ)
        if refused is not None:  # moto would answer these with an HTML 500 (KeyError, RecursionError)
            response = request_guard.error_response(service, refused, str(uuid.uuid4()))
            self._record(environ, service, operation, account, response.status, "none", started)
            return _respond(response)(environ, start_response)
        if service != "s3" and not environ.get("HTTP_AUTHORIZATION"):
            # A presigned URL carries its scope in the query; moto's dispatcher reads only the
            # Authorization header and would send it to S3. Name the service the way a header would.
            credential = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0]
            if credential:
                environ["HTTP_AUTHORIZATION"] = f"AWS4-HMAC-SHA256 Credential={credential}"
        if self._moto_backend(environ) is None:
            error = NotImplementedFailure(
                f"service '{service}' is not served by the embedded AWS: no control plane of ours and "
                f"none in moto {self._moto_version}"
            )
            response = plain_error(error, str(uuid.uuid4()))
            self._record(
                environ,
                service,
                operation,
                account,
                response.status,
                "none",
                started,
            )
            return _respond(response)(environ, start_response)
        with self._lock:
            self._used.add(service)
        seen: list[tuple[str, Any, Any]] = []

        def holding_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            seen.append((status, headers, exc_info))
            return lambda data: None  # moto (Flask) returns its body; it never writes

        try:
            result: Iterable[bytes] = self._moto(environ, holding_start_response)
        except Exception:  # moto raised through Flask: the server would answer its HTML 500 page
            log.exception("moto failed on %s.%s", service, operation)
            seen[:] = [("500 INTERNAL SERVER ERROR", [("Content-Type", "text/html")], None)]
            result = []
        status = int(seen[0][0].split()[0]) if seen else 0
        if status == 500 and any(
            k.lower() == "content-type" and v.startswith("text/html") for k, v in seen[0][1]
        ):  # moto failed (Flask's HTML page): answer the way AWS does; moto's log holds the traceback
            close = getattr(result, "close", None)
            if close is not None:
                close()
            error = InternalFailure(f"moto {self._moto_version} failed on {service}.{operation}")
            result = _respond(request_guard.error_response(service, error, str(uuid.uuid4())))(
                environ, start_response
            )
        elif seen:
            start_response(*seen[0])
        self._record(
            environ,
            service,
            operation,
            account,
            status,
            "moto",
            started,
        )
        return result

    def _moto_backend(self, environ: dict[str, Any]) -> str | None:
        """The moto backend that would serve this request, found the way moto's dispatcher finds it."""
        from moto import backend_index

        try:
            host = self._moto.infer_service_region_host(environ, environ.get("PATH_INFO", ""))
        except (KeyError, IndexError, ValueError):
            return None
        if host is None:  # no scope to go by (SigV2): moto's dispatcher falls back to S3, and so do we
            return "s3"
        if host in _moto_modules():
            return host
        for backend, pattern in backend_index.backend_url_patterns:
            if pattern.match(f"http://{host}"):
                return backend
        return None

    # ---- unsigned requests -------------------------------------------------------------------------

    def _serve_unsigned(
        self, request: Request, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        from moto.moto_server.werkzeug_app import UNSIGNED_ACTIONS, UNSIGNED_REQUESTS

        v2_key = sigv2_access_key(request.headers, request.args)
        if v2_key:  # SigV2 is S3's (old presigned URLs); moto's dispatcher defaults to S3 as well
            return self._serve_moto(environ, start_response, v2_key, "s3")
        target = request.headers.get("X-Amz-Target", "")
        if target.partition(".")[0] in UNSIGNED_REQUESTS:
            return self._serve_moto(
                environ, start_response, None, UNSIGNED_REQUESTS[target.partition(".")[0]][0]
            )
        action = self._moto.get_action_from_body(self._moto._get_body(environ))
        if action in UNSIGNED_ACTIONS:  # e.g. STS AssumeRoleWithWebIdentity: AWS takes these unsigned
            return self._serve_moto(environ, start_response, None, UNSIGNED_ACTIONS[action][0])
        error = MissingAuthenticationTokenException(
            "Missing Authentication Token: the embedded AWS routes requests by the SigV4 credential scope "
            "(Credential=<access key>/<date>/<region>/<service>/aws4_request); sign the request with any "
            "credentials (a 12-digit access key id names the account) or use a presigned URL"
        )
        response = plain_error(error, str(uuid.uuid4()))
        self._record(request.environ, "?", "?", "?", response.status, "none", time.monotonic())
        return _respond(response)(environ, start_response)

    # ---- health and the request log ----------------------------------------------------------------

    def moto_services(self) -> list[str]:
        from moto import backend_index

        names = {_SERVICE_ALIASES.get(name, name) for name, _ in backend_index.backend_url_patterns}
        return sorted(
            names - _MOTO_INTERNAL - {name for name, plane in self.planes.items() if not plane.partial}
        )

    def _introspection(self, path: str) -> Response:
        with self._lock:
            used = set(self._used)
        if path == "/_localstack/health":
            services = {name: "running" if name in used else "available" for name in self.moto_services()}
            services.update({name: "running" for name in self.planes})
            body: Any = {
                "services": dict(sorted(services.items())),
                "edition": "community",
                "version": f"gitops-harness-emulator {__version__} (moto {self._moto_version})",
            }
        elif path == "/_emulator/health":
            body = {
                "status": "running",
                "endpoint_url": self.endpoint_url,
                "version": __version__,
                "default_account": DEFAULT_ACCOUNT_ID,
                "features": sorted(self.features),
                "services": {
                    **{
                        name: {
                            "provider": "moto",
                            "moto_version": self._moto_version,
                            "state": "running" if name in used else "available",
                        }
                        for name in self.moto_services()
                    },
                    **{
                        name: {
                            # a partial plane answers its operations; moto the rest of the service
                            "provider": "moto+emulator" if plane.partial else "emulator",
                            "control_plane": type(plane).__qualname__,
                            "operations": plane.implemented_operations(),
                            "state": "running",
                        }
                        for name, plane in self.planes.items()
                    },
                },
            }
        elif path == LISTENERS_PATH:
            body = {"listeners": self.listener_directory()}
        else:
            body = {"requests": self.request_log.records()}
        return Response(json.dumps(body), 200, content_type="application/json")

    def _record(
        self,
        environ: dict[str, Any],
        service: str,
        operation: str,
        account: str,
        status: int,
        provider: str,
        started: float,
    ) -> None:
        entry = {
            "time": time.time(),
            "method": environ.get("REQUEST_METHOD", ""),
            "path": environ.get("PATH_INFO", "")[:200],
            # as CloudTrail records it: tells one client's calls from another's in the same account
            "userAgent": environ.get("HTTP_USER_AGENT", "")[:256],
            "service": service,
            "operation": operation,
            "account": account,
            "status": status,
            "provider": provider,
            "ms": round((time.monotonic() - started) * 1000, 1),
        }
        self.request_log.append(entry)
        log.debug(
            "%(method)s %(service)s %(operation)s account=%(account)s -> %(status)s (%(provider)s)", entry
        )


def _respond(response: WireResponse) -> Response:
    return Response(response.body, response.status, headers=list(response.headers.items()))
