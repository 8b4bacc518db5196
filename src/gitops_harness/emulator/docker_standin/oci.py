"""OCI image documents: the image config and the image manifest, serialised to the exact bytes we digest.

The bytes written to the store, pushed to ECR and hashed are the same object: nothing re-serialises a
manifest after its digest is taken.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from gitops_harness.emulator.docker_standin.layers import LAYER_MEDIA_TYPE, Layer

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
BASE_NAME_ANNOTATION = "org.opencontainers.image.base.name"


@dataclass(frozen=True)
class Blob:
    data: bytes
    media_type: str

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    def descriptor(self) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}


def canonical_json(document: object) -> bytes:
    # Compact and ASCII-only, so the bytes survive any JSON transport (ECR's API) unchanged.
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def timestamp(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def image_config(
    runtime: dict[str, object],
    diff_ids: list[str],
    history: list[dict[str, object]],
    created: int,
    platform: str,
) -> Blob:
    os_name, _, arch = platform.partition("/")
    arch, _, variant = arch.partition("/")
    document: dict[str, object] = {
        "created": timestamp(created),
        "architecture": arch,
        "os": os_name,
    }
    if variant:
        document["variant"] = variant
    document.update(
        {"config": runtime, "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": history}
    )
    return Blob(canonical_json(document), CONFIG_MEDIA_TYPE)


def image_manifest(config: Blob, layers: list[Layer], base_name: str | None) -> Blob:
    document: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": config.descriptor(),
        "layers": [{"mediaType": LAYER_MEDIA_TYPE, "digest": la.digest, "size": la.size} for la in layers],
    }
    if base_name:
        # The OCI annotation for "built on this base": the base is recorded here and in history, not pulled.
        document["annotations"] = {BASE_NAME_ANNOTATION: base_name}
    return Blob(canonical_json(document), MANIFEST_MEDIA_TYPE)


# Why a history entry has no layer behind it, in words a person reading `docker history` understands.
HISTORY_NOTE = {
    "FROM": "base image recorded, not pulled, by the gitops-harness docker stand-in",
    "RUN": "not executed by the gitops-harness docker stand-in",
}
