"""`docker login` for ECR: check the password against the emulated ECR and keep it in config.json.

`aws ecr get-login-password` prints the password half of GetAuthorizationToken's base64 `AWS:<password>`
token. The emulated ECR (moto) issues one deterministic token per registry, so the password is valid
exactly when it equals the one GetAuthorizationToken returns now for the host's account.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import botocore.exceptions

from gitops_harness.emulator.docker_standin import ecr
from gitops_harness.emulator.docker_standin.errors import DockerError
from gitops_harness.emulator.docker_standin.image_store import ImageStore


class RegistryLogin:
    """A login to one ECR registry host; its ECR client is made up front, before the password is known."""

    def __init__(self, host: str):
        self.host = host.removeprefix("https://").removeprefix("http://").rstrip("/")
        self.registry = ecr.registry_for(self.host)
        self.client = ecr.client(self.registry)

    def login(self, store: ImageStore, username: str, password: str) -> Path:
        refused = DockerError(
            f"Error response from daemon: login attempted to https://{self.host}/v2/ failed with status: "
            "400 Bad Request"
        )
        if username != "AWS":
            raise refused
        try:
            answer = ecr.call(self.client.get_authorization_token, registryIds=[self.registry.account])
        except botocore.exceptions.ClientError as exc:
            raise DockerError(f"Error response from daemon: {ecr.error_message(exc)}") from None
        issued = {
            base64.b64decode(item["authorizationToken"]).decode().partition(":")[2]
            for item in answer.get("authorizationData", [])
        }
        if password not in issued:
            raise refused
        with store.locked():
            path = store.home / "config.json"
            config = json.loads(path.read_text()) if path.exists() else {}
            auth = base64.b64encode(f"{username}:{password}".encode()).decode()
            config.setdefault("auths", {})[self.host] = {"auth": auth}
            path.write_text(json.dumps(config, indent=2))
            path.chmod(0o600)
        return path


def logged_in(store: ImageStore, host: str) -> bool:
    path = store.home / "config.json"
    if not path.exists():
        return False
    return host in json.loads(path.read_text()).get("auths", {})
