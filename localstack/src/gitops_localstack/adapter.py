"""The one adapter from LocalStack's request context to the harness's control-plane handlers.

LocalStack has already routed, parsed (with botocore's model) and will serialize the request; what the
adapter adds is the harness's side of a plane's contract: botocore's ParamValidator (LocalStack's own
validation is off by default), the harness's RequestContext (account and region from LocalStack, the
caller from the access key as the embedded emulator resolves it), the plane's lock, and its errors
turned into LocalStack's. An operation the plane does not implement goes to moto (LocalStack's
call_moto), so the adapter never answers for something it does not serve.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.validate import ParamValidator

from gitops_localstack import runtime

log = logging.getLogger(__name__)
_validator = ParamValidator()


class PlaneProvider:
    """A LocalStack service provider whose dispatch table is the harness plane's operations."""

    def __init__(self, service: str):
        self.service = service  # LocalStack's api name; Service.for_provider reads it

    @property
    def plane(self) -> Any:
        return runtime.plane(self.service)

    def implemented(self) -> list[str]:
        return list(self.plane.implemented_operations())

    def dispatch_table(self) -> dict[str, Any]:
        model = self.plane.model()
        implemented = set(self.implemented())
        return {
            name: (self._serve if name in implemented else self._fallback) for name in model.operation_names
        }

    # -- handlers (LocalStack calls them with its RequestContext and the parsed request) -------------

    def _serve(self, context: Any, request: dict[str, Any]) -> dict[str, Any]:
        from localstack.aws.api import CommonServiceException

        from gitops_harness.emulator.controlplane import RequestContext
        from gitops_harness.emulator.exceptions import NotImplementedFailure, ServiceException
        from gitops_harness.emulator.identity import credential_scope, resolve_caller

        plane = self.plane
        operation = context.operation.name
        params = dict(request or {})
        scope = credential_scope(context.request.headers, context.request.args)
        access_key = scope.access_key if scope else context.account_id
        caller = resolve_caller(access_key)
        ctx = RequestContext(
            service=plane.service_name,
            operation=operation,
            account_id=context.account_id,
            region=context.region,
            access_key=access_key,
            caller_arn=caller.arn
            if caller.account_id == context.account_id
            else f"arn:aws:iam::{context.account_id}:root",
            request_id=context.request_id or "",
            endpoint_url=runtime.gateway_url(),
        )
        op_model = plane.model().operation_model(operation)
        try:
            if op_model.input_shape is not None:
                report = _validator.validate(params, op_model.input_shape)
                if report.has_errors():
                    raise plane.validation_error(operation, report.generate_report())
            return plane.handle(ctx, params)
        except NotImplementedFailure as exc:
            raise NotImplementedError(str(exc)) from None
        except ServiceException as exc:
            raise CommonServiceException(
                exc.code, exc.message, status_code=_status(plane, exc), sender_fault=exc.sender_fault
            ) from None

    def _fallback(self, context: Any, request: dict[str, Any]) -> Any:
        from localstack.services.moto import call_moto

        return call_moto(context)


def _status(plane: Any, exc: Any) -> int:
    """The error's HTTP status: its own, else the model's for that code, else 400 (as protocol.py does)."""
    if exc.status is not None:
        return int(exc.status)
    for shape in plane.model().error_shapes:
        if shape.name == exc.code or shape.metadata.get("error", {}).get("code") == exc.code:
            return int(shape.metadata.get("error", {}).get("httpStatusCode", 400))
    return 400
