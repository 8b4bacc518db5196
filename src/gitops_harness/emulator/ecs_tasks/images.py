"""A task definition's image, read back from the emulated ECR: the OCI config and the layer blobs.

The docker stand-in pushes blobs with the ECR layer-upload API and the manifest with PutImage; the
manifest lives in moto's image, the blobs in ecr_blobs (moto itself drops them). The stand-in's local
OCI layout is not read: in CodeBuild it lives in the build's folder and is gone after the build.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from gitops_harness.emulator.docker_standin.errors import DockerError
from gitops_harness.emulator.docker_standin.reference import DEFAULT_TAG, ecr_registry, parse_reference
from gitops_harness.emulator.ecs_tasks import ecr_blobs


class ImageNotFound(Exception):
    """An emulated-ECR image that is not there; the message is ECS's CannotPullContainerError."""


@dataclass(frozen=True)
class ImageContent:
    reference: str
    digest: str
    config: dict  # the OCI image config's "config" object (Env, Cmd, Entrypoint, WorkingDir, ...)
    layers: tuple[bytes, ...]  # gzip'd tar blobs, bottom first

    def unpack(self, rootfs: Path) -> None:
        """Extract every layer in order into `rootfs` (whiteouts honoured, nothing outside rootfs)."""
        rootfs.mkdir(parents=True, exist_ok=True)
        for blob in self.layers:
            with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
                members = []
                for member in tar.getmembers():
                    path = PurePosixPath(member.name)
                    if path.name.startswith(".wh."):
                        _whiteout(rootfs, path)
                        continue
                    members.append(member)
                tar.extractall(rootfs, members=members, filter="data")


def _whiteout(rootfs: Path, marker: PurePosixPath) -> None:
    target = rootfs / marker.parent / marker.name.removeprefix(".wh.")
    if marker.name == ".wh..wh..opq":
        for child in (rootfs / marker.parent).glob("*"):
            _remove(child)
    elif target.exists() or target.is_symlink():
        _remove(target)


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def is_emulated_ecr(image: str) -> bool:
    host = image.partition("/")[0] if "/" in image else ""
    return ecr_registry(host) is not None


def load(image: str) -> ImageContent | None:
    """The image's content if `image` names the emulated ECR, None for any other registry.

    Raises ImageNotFound when it names the emulated ECR and the repository, tag or a blob is missing."""
    try:
        ref = parse_reference(image)
    except DockerError as exc:
        raise ImageNotFound(f"CannotPullContainerError: {exc}") from None
    registry = ecr_registry(ref.host)
    if registry is None:
        return None
    from moto.ecr.models import ecr_backends

    backend = ecr_backends[registry.account][registry.region]
    repository = backend.repositories.get(ref.path)
    if repository is None:
        raise ImageNotFound(
            f"CannotPullContainerError: pull image manifest has been retried 1 time(s): {image}: "
            f"repository {ref.path} does not exist in the emulated ECR of {registry.account}"
        )
    wanted_tag = ref.tag or (None if ref.digest else DEFAULT_TAG)
    found = None
    for candidate in repository.images:
        if (ref.digest and candidate.get_image_digest() == ref.digest) or (
            wanted_tag and wanted_tag in candidate.image_tags
        ):
            found = candidate
            break
    if found is None:
        raise ImageNotFound(
            f"CannotPullContainerError: pull image manifest has been retried 1 time(s): {image}: not found"
        )
    manifest = json.loads(found.image_manifest)
    stored = ecr_blobs.blobs(repository)
    digests = [manifest["config"]["digest"], *(layer["digest"] for layer in manifest.get("layers", []))]
    missing = [d for d in digests if d not in stored]
    if missing:
        raise ImageNotFound(
            f"CannotPullContainerError: {image}: blob {missing[0]} was not pushed through the layer-upload "
            "API of this emulator (pushed before it started?)"
        )
    config = json.loads(stored[digests[0]]).get("config", {})
    return ImageContent(image, found.get_image_digest(), config, tuple(stored[d] for d in digests[1:]))
