"""Keep the bytes of every layer pushed to the emulated ECR.

moto 5.2.5's CompleteLayerUpload computes the layer digest and then drops the bytes (it keeps the size
only), so nothing could read an image back. This wraps it to keep each blob on its repository, keyed by
digest, as ECR's storage does: a task started from an ECR image reads its config and layers from here.
"""

from __future__ import annotations

import hashlib
from typing import Any

from moto.ecr.models import ECRBackend

_original: Any = None


def _complete_layer_upload(
    self: ECRBackend,
    repository_name: str,
    upload_id: str,
    layer_digests: list[str],
    registry_id: str | None = None,
) -> dict[str, Any]:
    repository = self._get_repository(repository_name, registry_id)
    upload = repository.uploads.get(upload_id)
    data = bytes(upload.layer_parts) if upload is not None else None
    answer = _original(self, repository_name, upload_id, layer_digests, registry_id)
    if data is not None:
        blobs(repository)["sha256:" + hashlib.sha256(data).hexdigest()] = data
    return answer


def blobs(repository: Any) -> dict[str, bytes]:
    """digest -> bytes of what was pushed to this moto repository."""
    store = repository.__dict__.get("_gitops_blobs")
    if store is None:
        store = repository.__dict__.setdefault("_gitops_blobs", {})
    return store


def install() -> None:
    global _original
    if _original is None:
        _original = ECRBackend.complete_layer_upload
        ECRBackend.complete_layer_upload = _complete_layer_upload  # type: ignore[method-assign]


def uninstall() -> None:
    global _original
    if _original is not None:
        ECRBackend.complete_layer_upload = _original  # type: ignore[method-assign]
        _original = None
