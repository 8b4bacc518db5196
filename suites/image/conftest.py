"""The image suite: the app's image, checked from its OCI config everywhere, and as a running container
with testinfra where a container engine answers.

The image: GITOPS_HARNESS_IMAGE names the one the build pushed (by digest, from imageDetail.json: the
nightly sets it); without it, the app's Dockerfile is built here with the embedded AWS's daemonless
docker stand-in, which writes the same OCI config a docker build would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from gitops_harness.config import HarnessConfig

IMAGE_ENV = "GITOPS_HARNESS_IMAGE"


@pytest.fixture(scope="session")
def container_port(harness_config: HarnessConfig) -> int:
    taskdef = json.loads((harness_config.app_dir / "taskdef.json").read_text())
    return int(taskdef["containerDefinitions"][0]["portMappings"][0]["containerPort"])


def _engine() -> str | None:
    """Why no container engine can run the image, or None when `docker info` answers."""
    docker = shutil.which("docker")
    if docker is None:
        return "no docker CLI on PATH"
    info = subprocess.run(
        [docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=30
    )
    if info.returncode != 0 or not info.stdout.strip():
        return f"no container engine answers (docker info: {info.stderr.strip().splitlines()[-1] if info.stderr.strip() else 'no server'})"
    return None


@pytest.fixture(scope="session")
def image_config(harness_config: HarnessConfig, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    pushed = os.environ.get(IMAGE_ENV)
    if pushed:
        reason = _engine()
        if reason:
            pytest.skip(f"{IMAGE_ENV}={pushed} needs a container engine to read its config: {reason}")
        subprocess.run(["docker", "pull", pushed], check=True, capture_output=True, timeout=600)
        inspected = json.loads(
            subprocess.run(
                ["docker", "image", "inspect", pushed], check=True, capture_output=True, text=True
            ).stdout
        )[0]
        return {"config": inspected["Config"]}
    from gitops_harness.emulator.docker_standin.builder import BuildRequest, build
    from gitops_harness.emulator.docker_standin.image_store import ImageStore
    from gitops_harness.emulator.docker_standin.progress import PlainProgress

    store = ImageStore(tmp_path_factory.mktemp("image-store"))
    app = harness_config.app_dir
    image = build(BuildRequest(context=app, dockerfile=app / "Dockerfile"), store, PlainProgress(None))
    return image.config_json


@pytest.fixture(scope="session")
def container(container_port: int) -> Iterator[str]:
    """A running container of the pushed image: its id (testinfra's docker:// backend)."""
    pushed = os.environ.get(IMAGE_ENV)
    if not pushed:
        pytest.skip(f"no pushed image to run: set {IMAGE_ENV} to the build's image (by digest)")
    reason = _engine()
    if reason:
        pytest.skip(reason)
    started = subprocess.run(
        ["docker", "run", "-d", "--rm", pushed],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    container_id = started.stdout.strip()
    try:
        yield container_id
    finally:
        subprocess.run(["docker", "rm", "-f", container_id], capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def host(container: str) -> Any:
    import testinfra

    return testinfra.get_host(f"docker://{container}")


@pytest.fixture(scope="session")
def expected_version() -> str | None:
    """The commit the build was started for (the nightly sets it); the image must report it."""
    return os.environ.get("GITOPS_HARNESS_IMAGE_COMMIT") or None
