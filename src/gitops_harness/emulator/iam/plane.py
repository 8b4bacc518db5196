"""IAM's service-specific credential operations (HTTPS Git credentials), which moto 5.2.5 does not
implement; every other IAM operation stays with moto (a partial plane, see ControlPlane.partial).

CreateServiceSpecificCredential, ListServiceSpecificCredentials, UpdateServiceSpecificCredential,
ResetServiceSpecificCredential and DeleteServiceSpecificCredential go through the protocol layer like
every plane's operations (IAM's query protocol, from the botocore model). The credentials are the
``CredentialStore`` CodeCommit's git endpoint authenticates against, shared through ``Runtime.shared``.
Without ``UserName`` an operation acts on the calling IAM user; ``AllUsers`` is not supported.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gitops_harness.emulator.codecommit.credentials import CREDENTIALS, CredentialStore, IamError
from gitops_harness.emulator.controlplane import ControlPlane, RequestContext, Runtime
from gitops_harness.emulator.exceptions import ServiceException


@contextmanager
def _iam_errors() -> Iterator[None]:
    """The store's errors carry IAM's wire codes (NoSuchEntity, LimitExceeded...): answer them as they are."""
    try:
        yield
    except IamError as error:
        raise ServiceException(error.message, code=error.code) from None


class IamServiceSpecificCredentials(ControlPlane):
    service_name = "iam"
    signing = "iam"
    partial = True
    validation_error_code = "ValidationError"

    def __init__(self, runtime: Runtime):
        super().__init__(runtime)
        self.credentials = runtime.shared(CREDENTIALS, CredentialStore)

    def CreateServiceSpecificCredential(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        with _iam_errors():
            created = self.credentials.create(
                ctx.account_id, self._user(ctx, request), request["ServiceName"]
            )
        return {"ServiceSpecificCredential": created}

    def ListServiceSpecificCredentials(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("AllUsers"):
            raise ServiceException(
                "AllUsers is not supported by the embedded AWS: pass UserName.", code="ValidationError"
            )
        with _iam_errors():
            found = self.credentials.list(
                ctx.account_id, self._user(ctx, request), request.get("ServiceName")
            )
        return {"ServiceSpecificCredentials": found}

    def UpdateServiceSpecificCredential(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        with _iam_errors():
            self.credentials.update_status(
                ctx.account_id,
                self._user(ctx, request),
                request["ServiceSpecificCredentialId"],
                request["Status"],
            )
        return {}

    def ResetServiceSpecificCredential(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        with _iam_errors():
            reset = self.credentials.reset(
                ctx.account_id, self._user(ctx, request), request["ServiceSpecificCredentialId"]
            )
        return {"ServiceSpecificCredential": reset}

    def DeleteServiceSpecificCredential(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        with _iam_errors():
            self.credentials.delete(
                ctx.account_id, self._user(ctx, request), request["ServiceSpecificCredentialId"]
            )
        return {}

    @staticmethod
    def _user(ctx: RequestContext, request: dict[str, Any]) -> str:
        # Without UserName, IAM acts on the calling user; a role or the root user has no such credentials.
        if request.get("UserName"):
            return str(request["UserName"])
        _, _, resource = ctx.caller_arn.partition(":user/")
        if not resource:
            raise ServiceException(
                f"UserName is required: the caller {ctx.caller_arn} is not an IAM user.",
                code="ValidationError",
            )
        return resource.rpartition("/")[2]
