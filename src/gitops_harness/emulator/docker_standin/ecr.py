"""The ECR API behind a registry host: `<account>.dkr.ecr.<region>.amazonaws.com` -> the ECR endpoint at
AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_ECR), called with the credentials in the environment (in CodeBuild,
the build's service role), registryId = the host's account."""

from __future__ import annotations

import os

import boto3
import botocore.exceptions
from botocore.config import Config

from gitops_harness.emulator.docker_standin.errors import DockerError
from gitops_harness.emulator.docker_standin.reference import EcrRegistry, ecr_registry


def registry_for(host: str) -> EcrRegistry:
    registry = ecr_registry(host)
    if registry is None:
        raise DockerError(
            f"denied: the gitops-harness docker stand-in talks only to ECR registries "
            f"(<account>.dkr.ecr.<region>.amazonaws.com), not {host or 'docker.io'}"
        )
    return registry


def client(registry: EcrRegistry):  # -> botocore ECR client
    # Refuse to fall through to the real AWS: the stand-in exists for the emulated ECR only.
    if not (os.environ.get("AWS_ENDPOINT_URL_ECR") or os.environ.get("AWS_ENDPOINT_URL")):
        raise DockerError(
            f'Error response from daemon: Get "https://{registry.host}/v2/": the gitops-harness docker '
            "stand-in needs AWS_ENDPOINT_URL (the emulated ECR) to reach this registry"
        )
    return boto3.client("ecr", region_name=registry.region, config=Config(retries={"max_attempts": 2}))


def call(operation, **kwargs):  # noqa: ANN001 - a bound botocore operation
    """Call an ECR operation; transport failures become one docker-like line."""
    try:
        return operation(**kwargs)
    except botocore.exceptions.NoCredentialsError:
        raise DockerError("no basic auth credentials (no AWS credentials in the environment)") from None
    except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError) as exc:
        raise DockerError(f"Error response from daemon: cannot reach the ECR API: {exc}") from None


def error_code(exc: botocore.exceptions.ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def error_message(exc: botocore.exceptions.ClientError) -> str:
    return exc.response.get("Error", {}).get("Message", "") or str(exc)
