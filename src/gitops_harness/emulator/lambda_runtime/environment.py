"""The environment a function's process gets: what Lambda sets, the function's variables, the role's
temporary credentials, the emulator's endpoint, and from the host only PATH, HOME and LANG."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

_FROM_HOST = ("PATH", "HOME", "LANG")


@dataclass(frozen=True)
class RoleSession:
    access_key: str
    secret_key: str
    session_token: str | None


def function_environment(
    *,
    variables: Mapping[str, str],
    function_name: str,
    function_version: str,
    memory_size: int,
    region: str,
    handler: str,
    runtime: str,
    task_root: str,
    log_group: str,
    log_stream: str,
    credentials: RoleSession,
    endpoint_url: str,
    host_environ: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    env = {name: host_environ[name] for name in _FROM_HOST if name in host_environ}
    env.update({str(name): str(value) for name, value in variables.items()})
    # Lambda's reserved variables win over the function's own (AWS refuses to set them at all)
    env.update(
        {
            "_HANDLER": handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": function_version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_size),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "LAMBDA_TASK_ROOT": task_root,
            "TZ": ":UTC",
            "AWS_ACCESS_KEY_ID": credentials.access_key,
            "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
            # boto3 (>= 1.28) sends every call here: the function acts on the emulator, not on AWS
            "AWS_ENDPOINT_URL": endpoint_url,
        }
    )
    if credentials.session_token:
        env["AWS_SESSION_TOKEN"] = credentials.session_token
    return env
