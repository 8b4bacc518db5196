"""Image references (`[host[:port]/]path[:tag][@digest]`) with docker's defaults and ECR host parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitops_harness.emulator.docker_standin.errors import DockerError

DEFAULT_TAG = "latest"
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_ECR_HOST = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$"
)


@dataclass(frozen=True)
class Reference:
    host: str  # "" when the name has no registry part (docker.io implied)
    path: str
    tag: str | None
    digest: str | None

    @property
    def repository(self) -> str:
        """The name as docker shows it in REPOSITORY columns and RepoTags."""
        return f"{self.host}/{self.path}" if self.host else self.path

    @property
    def tagged(self) -> str:
        return f"{self.repository}:{self.tag or DEFAULT_TAG}"

    @property
    def qualified(self) -> str:
        """Fully qualified, as BuildKit prints it (`docker.io/library/app:latest`)."""
        if self.host:
            return self.tagged
        path = self.path if "/" in self.path else f"library/{self.path}"
        return f"docker.io/{path}:{self.tag or DEFAULT_TAG}"


def parse_reference(text: str) -> Reference:
    name, _, digest = text.partition("@")
    tag = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.match(tag):
            raise DockerError(f"invalid reference format: {text}")
    host = ""
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        host, name = first, rest
    if not name or not all(_COMPONENT.match(c) for c in name.split("/")):
        if name.lower() != name:
            raise DockerError(f"invalid reference format: repository name ({name}) must be lowercase")
        raise DockerError(f"invalid reference format: {text}")
    if digest and not re.fullmatch(r"sha256:[a-f0-9]{64}", digest):
        raise DockerError(f"invalid reference format: {text}")
    return Reference(host, name, tag, digest or None)


@dataclass(frozen=True)
class EcrRegistry:
    host: str
    account: str
    region: str


def ecr_registry(host: str) -> EcrRegistry | None:
    match = _ECR_HOST.match(host)
    if not match:
        return None
    return EcrRegistry(host, match["account"], match["region"])
