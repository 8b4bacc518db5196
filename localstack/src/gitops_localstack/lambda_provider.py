"""An opt-in Lambda for a LocalStack whose own cannot run here (PROVIDER_OVERRIDE_LAMBDA=gitops).

LocalStack's Lambda runs functions in Docker containers with an init binary it downloads on the first
CreateFunction ("Installation of lambda-runtime ... failed" without network, and no Docker in host mode),
so the pipeline stack's chat notifier cannot even be created. This provider is the embedded emulator's
Lambda instead: LocalStack's moto (moto-ext) with the harness's "lambda" patch group (emulator/
moto_patches.py), so functions run as local processes of LocalStack's Python (lambda_runtime/), acting
through LocalStack's gateway with their role's credentials.

One difference from the embedded AWS: LocalStack's S3 is its own, not moto's, so a function's code in S3
(`Code.S3Bucket`/`S3Key`, UpdateFunctionCode's `S3Bucket`) is read from LocalStack's S3 as the calling
account and handed to moto as `ZipFile`.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from localstack.aws.skeleton import Skeleton
from localstack.aws.spec import load_service
from localstack.services.plugins import Service, ServiceLifecycleHook, aws_provider

ACTIVE: dict[str, str] = {}
_lock = threading.Lock()
_state: dict[str, Any] = {}
_errors: list[str] = []


def start() -> None:
    with _lock:
        if _state:
            return
        from gitops_harness.emulator import lambda_runtime, moto_patches
        from gitops_localstack import runtime

        rt = runtime.runtime()
        moto_patches.acquire("lambda")
        executor = lambda_runtime.LambdaExecutor(
            runtime.gateway_url, rt.state_dir / "lambda", rt.clients, rt.scheduler
        )
        lambda_runtime.register(executor)
        _state["executor"] = executor


def stop() -> None:
    with _lock:
        executor = _state.pop("executor", None)
        if executor is None:
            return
        from gitops_harness.emulator import lambda_runtime, moto_patches

        lambda_runtime.unregister(executor)
        executor.close()
        moto_patches.release("lambda")


def status() -> dict[str, Any]:
    with _lock:
        return {
            "runtime": "local-process" if "executor" in _state else None,
            **({"errors": list(_errors)} if _errors else {}),
        }


def _s3_code(context: Any, bucket: str, key: str, version: str | None) -> bytes:
    from localstack.aws.api import CommonServiceException

    from gitops_localstack import runtime

    s3 = runtime.runtime().clients.for_account("s3", context.account_id, context.region)
    try:
        found = s3.get_object(Bucket=bucket, Key=key, **({"VersionId": version} if version else {}))
    except Exception as exc:  # what Lambda answers for code it cannot read
        raise CommonServiceException(
            "InvalidParameterValueException",
            f"Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: {exc}",
        ) from None
    return bytes(found["Body"].read())


_FUNCTION_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:(\d{12}):function:")


def _in_arn_account(handler: Any) -> Any:
    """A function named by its ARN lives in the ARN's account, which is where Lambda looks for it.
    LocalStack's own services invoke with internal clients of its default account (SNS's publisher:
    `connect_to(region_name=...).lambda_.invoke(FunctionName=<the subscription's ARN>)`); moto would look
    in that default account and answer "Function not found", so moto is told the ARN's account."""

    def serve(context: Any, request: Any) -> Any:
        name = (request or {}).get("FunctionName") if isinstance(request, dict) else None
        found = _FUNCTION_ARN.match(name) if isinstance(name, str) else None
        if found and found.group(1) != context.account_id:
            context.account_id = found.group(1)
            context.request.headers.set("x-moto-account-id", found.group(1))  # what moto reads
        return handler(context, request)

    return serve


class LambdaProvider(ServiceLifecycleHook):
    service = "lambda"

    def on_after_init(self) -> None:
        try:
            start()
        except Exception as exc:  # LocalStack swallows it (call_safe): the health route shows it
            _errors.append(f"{type(exc).__name__}: {exc}")
            raise

    def dispatch_table(self) -> dict[str, Any]:
        from localstack.services.moto import call_moto, call_moto_with_request

        def to_moto(context: Any, _request: Any) -> Any:
            return call_moto(context)

        def create_function(context: Any, request: dict[str, Any]) -> Any:
            code = dict(request.get("Code") or {})
            if code.get("S3Bucket") and code.get("S3Key"):
                zipped = _s3_code(context, code["S3Bucket"], code["S3Key"], code.get("S3ObjectVersion"))
                request = {**request, "Code": {"ZipFile": zipped}}
                return call_moto_with_request(context, request)
            return call_moto(context)

        def update_function_code(context: Any, request: dict[str, Any]) -> Any:
            if request.get("S3Bucket") and request.get("S3Key"):
                zipped = _s3_code(
                    context, request["S3Bucket"], request["S3Key"], request.get("S3ObjectVersion")
                )
                rest = {k: v for k, v in request.items() if not k.startswith("S3")}
                return call_moto_with_request(context, {**rest, "ZipFile": zipped})
            return call_moto(context)

        table = {name: to_moto for name in load_service(self.service).operation_names}
        table["CreateFunction"] = create_function
        table["UpdateFunctionCode"] = update_function_code
        return {name: _in_arn_account(handler) for name, handler in table.items()}


@aws_provider(api="lambda", name="gitops")
def lambda_gitops() -> Service:
    provider = LambdaProvider()
    service = Service(
        name="lambda",
        skeleton=Skeleton(load_service("lambda"), provider.dispatch_table()),
        lifecycle_hook=provider,
    )
    service._provider = provider
    ACTIVE["lambda"] = "gitops"
    return service
