"""AWS errors as exceptions named after their codes (LocalStack's convention).

    class RepositoryDoesNotExistException(ServiceException): ...      # code = class name
    raise RepositoryDoesNotExistException(f"{name} does not exist")

or, checked against the service model so a typo cannot invent an error code:

    errors = ModeledErrors("codecommit")
    raise errors.RepositoryDoesNotExistException("...")
"""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

import botocore.session


class ServiceException(Exception):
    """An AWS error response. `status` None means: the model's httpStatusCode for the code, else 400."""

    code: ClassVar[str] = "ServiceException"
    status: ClassVar[int | None] = None
    sender_fault: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:
            cls.code = cls.__name__

    def __init__(
        self, message: str = "", *, code: str | None = None, status: int | None = None, **fields: Any
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code  # type: ignore[misc]
        if status is not None:
            self.status = status  # type: ignore[misc]
        # extra members of the modeled error shape (e.g. CodeDeploy's none, S3-style "BucketName")
        self.fields = fields

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ValidationException(ServiceException):
    pass


class InternalFailure(ServiceException):
    status = 500
    sender_fault = False


class NotImplementedFailure(ServiceException):
    """An operation of a served service without a handler. LocalStack answers 501 InternalFailure too."""

    code = "InternalFailure"
    status = 501
    sender_fault = False


class SerializationException(ServiceException):
    pass


class UnknownOperationException(ServiceException):
    pass


class MissingAuthenticationTokenException(ServiceException):
    status = 403


@cache
def botocore_session() -> botocore.session.Session:
    """One botocore session for every model lookup: each new session costs ~70 ms of handler setup."""
    return botocore.session.get_session()


@cache
def _service_model(service_name: str) -> Any:
    return botocore_session().get_service_model(service_name)


def modeled_status(service_name: str, code: str) -> int | None:
    """The httpStatusCode the model declares for an error code, if any."""
    try:
        shape = _service_model(service_name).shape_for(code)
    except Exception:  # botocore raises NoShapeFoundError; unknown codes simply have no status
        return None
    return shape.metadata.get("error", {}).get("httpStatusCode")


class ModeledErrors:
    """Exception classes for the error shapes a service's model declares, created on first use."""

    def __init__(self, service_name: str):
        self._service_name = service_name  # the model loads on the first error asked for, not at import

    def __getattr__(self, code: str) -> type[ServiceException]:
        if code.startswith("_"):
            raise AttributeError(code)
        if code not in _error_codes(self._service_name):
            raise AttributeError(f"{self._service_name} declares no error {code!r}")
        return _modeled_class(self._service_name, code)


@cache
def _error_codes(service_name: str) -> frozenset[str]:
    return frozenset(shape.name for shape in _service_model(service_name).error_shapes)


@cache
def _modeled_class(service_name: str, code: str) -> type[ServiceException]:
    # cached so `except errors.X` matches what any other ModeledErrors instance raises
    return type(code, (ServiceException,), {"status": modeled_status(service_name, code)})
