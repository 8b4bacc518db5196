"""Where moto's Lambda meets the executor: the replacements emulator/moto_patches.py installs (group
"lambda", on the first request that can create or invoke a function), and the registry of executors they run functions with.

- `LambdaFunction.invoke` (every invocation path of moto: the Invoke API, EventBridge rules, S3
  notifications...) runs the function with the executor instead of moto's Docker container, ALWAYS:
  the embedded AWS never reaches a Docker daemon or an image registry.
- SNS delivers to a function through `invoke_for_service` (emulator/sns/delivery.py builds the event):
  asynchronous, as SNS invokes Lambda on AWS (a publish never waits for the function), answering the
  request id Lambda accepted the event under, or why Lambda refused it.

moto's state is module-global, so every EmbeddedAWS in the process shares these functions. Each
emulator registers its own executor (its endpoint, state folder and role clients) when it starts and
unregisters it when it stops; an invocation uses the most recently registered executor still registered.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

from moto.awslambda.exceptions import LambdaClientError

from gitops_harness.emulator.lambda_runtime.executor import (
    FunctionSpec,
    LambdaExecutor,
    LayerCode,
    UnrunnableFunction,
)

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_executors: list[LambdaExecutor] = []


def register(executor: LambdaExecutor) -> None:
    """From now on (until unregistered or another registers), functions run with `executor`."""
    with _lock:
        if executor not in _executors:
            _executors.append(executor)


def unregister(executor: LambdaExecutor) -> None:
    with _lock:
        if executor in _executors:
            _executors.remove(executor)


def _current_executor() -> LambdaExecutor:
    with _lock:
        if not _executors:
            raise UnrunnableFunction(
                "ServiceException", "no embedded AWS is running to run the function", 500
            )
        return _executors[-1]


def preparing_runtime_on_create(original: Any) -> Any:
    """moto_patches replacement for LambdaBackend.create_function: moto's, then the runtime warms up."""

    def create_function(self: Any, spec: dict[str, Any]) -> Any:
        function = original(self, spec)
        with _lock:
            executor = _executors[-1] if _executors else None
        if executor is not None:
            executor.prepare_runtime(function_spec(function))
        return function

    return create_function


def invoke_replacement(_original: Any) -> Any:
    """moto_patches replacement for LambdaFunction.invoke (moto's original is never called)."""
    return _invoke


def invoke_for_service(function: Any, event: bytes) -> str:
    """An AWS service (SNS) invoking `function` asynchronously, as Invoke with InvocationType Event: the
    request id of the accepted event. UnrunnableFunction when no emulator can run it (Lambda's 5xx)."""
    return _current_executor().invoke_async(function_spec(function), event)


def _invoke(self: Any, body: str | bytes | None, request_headers: Any, response_headers: Any) -> bytes:
    """moto's LambdaFunction.invoke, answered by the executor (headers as moto's Invoke response sends them)."""
    invocation_type = _header(request_headers, "X-Amz-Invocation-Type") or "RequestResponse"
    event = body.encode("utf-8") if isinstance(body, str) else (body or b"")
    if event.strip():
        try:
            json.loads(event)
        except ValueError as exc:  # Lambda refuses it before any function runs
            raise LambdaClientError(
                "InvalidRequestContentException", f"Could not parse request body into json: {exc}"
            ) from None
    try:
        executor = _current_executor()
        spec = function_spec(self)
        executor.check(spec)  # an Invoke call learns at once why the function cannot run
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            executor.invoke_async(spec, event)  # a refusal goes to the function's log group
            return b""
        result = executor.invoke(spec, event)
    except UnrunnableFunction as exc:
        error = LambdaClientError(exc.code, exc.message)
        error.code = exc.status
        raise error from None
    if result.function_error:
        response_headers["x-amz-function-error"] = result.function_error
    response_headers["x-amz-executed-version"] = result.executed_version
    response_headers["x-amz-log-result"] = base64.b64encode(result.log_tail).decode("ascii")
    return result.payload


def function_spec(function: Any) -> FunctionSpec:
    """A snapshot of moto's LambdaFunction (a version object for a qualified invocation)."""
    from moto.awslambda.utils import get_backend

    version = str(function.version)
    code = getattr(function, "code_bytes", b"") or b""
    backend = get_backend(function.account_id, function.region)
    layers = []
    for layer in function.layers or []:
        layer_version = backend.layers_versions_by_arn(layer["Arn"])
        if layer_version is not None:
            zipped = getattr(layer_version, "code_bytes", b"") or b""
            layers.append(LayerCode(layer["Arn"], hashlib.sha256(zipped).hexdigest(), zipped))
    return FunctionSpec(
        account=function.account_id,
        region=function.region,
        name=function.function_name,
        invoked_arn=function.function_arn,
        version=version,
        runtime=function.run_time,
        handler=function.handler,
        role=function.role,
        timeout=float(function.timeout or 3),
        memory_size=int(function.memory_size or 128),
        variables=dict(function.environment_vars or {}),
        package_type=function.package_type or "Zip",
        code_sha256=getattr(function, "code_digest", "") or hashlib.sha256(code).hexdigest(),
        code=code,
        layers=tuple(layers),
        maximum_retry_attempts=_maximum_retry_attempts(function),
    )


def _maximum_retry_attempts(function: Any) -> int:
    for config in getattr(function, "event_invoke_config", None) or []:
        if "MaximumRetryAttempts" in config.config:
            return int(config.config["MaximumRetryAttempts"])
    return 2


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    if not isinstance(headers, Mapping) and not hasattr(headers, "items"):
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if str(key).lower() == wanted:
            return str(value)
    return None
