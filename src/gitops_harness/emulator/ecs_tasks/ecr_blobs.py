"""Keep the bytes of every layer pushed to the emulated ECR.

moto 5.2.5's CompleteLayerUpload computes the layer digest and then drops the bytes (it keeps the size
only), so nothing could read an image back. `keeping_blobs` wraps it (a PatchSpec of the "ecs_tasks"
group) to keep each blob on its repository, keyed by digest, as ECR's storage does: a task started from
an ECR image reads its config and layers from here.
"""

from __future__ import annotations

import hashlib
from typing import Any


def keeping_blobs(original: Any) -> Any:
    def complete_layer_upload(
        self: Any,
        repository_name: str,
        upload_id: str,
        layer_digests: list[str],
        registry_id: str | None = None,
    ) -> dict[str, Any]:
        repository = self._get_repository(repository_name, registry_id)
        upload = repository.uploads.get(upload_id)
        data = bytes(upload.layer_parts) if upload is not None else None
        answer = original(self, repository_name, upload_id, layer_digests, registry_id)
        if data is not None:
            blobs(repository)["sha256:" + hashlib.sha256(data).hexdigest()] = data
        return answer

    return complete_layer_upload


def blobs(repository: Any) -> dict[str, bytes]:
    """digest -> bytes of what was pushed to this moto repository."""
    return repository.__dict__.setdefault("_gitops_blobs", {})
