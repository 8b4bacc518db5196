"""ECR's layer upload, which LocalStack 4.14's moto (moto-ext 5.1.21) answers "not yet implemented":
BatchCheckLayerAvailability, InitiateLayerUpload, UploadLayerPart and CompleteLayerUpload, what a
`docker push` calls before PutImage (the build's docker stand-in, emulator/docker_standin/registry_push.py).

The blobs go where the embedded AWS keeps them (`ecs_tasks.ecr_blobs.blobs(repository)` on moto's
repository, keyed by the sha256 of their bytes), so an ECS task started from the pushed image reads its
config and layers from there (ecs_tasks/images.py), and PutImage stays moto's. Uploads in progress are
kept here, per (account, region, repository, upload id), in memory like the rest of LocalStack's state.
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from typing import Any

OPERATIONS = (
    "BatchCheckLayerAvailability",
    "InitiateLayerUpload",
    "UploadLayerPart",
    "CompleteLayerUpload",
)
PART_SIZE = 10 * 1024 * 1024  # what ECR answers as partSize
LAYER_MEDIA_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")
_lock = threading.Lock()
_uploads: dict[tuple[str, str, str, str], bytearray] = {}


def _error(code: str, message: str) -> Exception:
    from localstack.aws.api import CommonServiceException

    return CommonServiceException(code, message)


def _repository(context: Any, request: dict[str, Any]) -> Any:
    """moto's repository, as the request names it (ECR's RepositoryNotFoundException otherwise)."""
    from moto.ecr.models import ecr_backends

    name = request["repositoryName"]
    registry = request.get("registryId") or context.account_id
    repository = ecr_backends[context.account_id][context.region].repositories.get(name)
    if repository is None or repository.registry_id != registry:
        raise _error(
            "RepositoryNotFoundException",
            f"The repository with name '{name}' does not exist in the registry with id '{registry}'",
        )
    return repository


def _blobs(repository: Any) -> dict[str, bytes]:
    from gitops_harness.emulator.ecs_tasks.ecr_blobs import blobs

    return blobs(repository)


def _key(context: Any, repository: Any, upload_id: str) -> tuple[str, str, str, str]:
    return (context.account_id, context.region, repository.name, upload_id)


def _ids(repository: Any, upload_id: str) -> dict[str, str]:
    return {"registryId": repository.registry_id, "repositoryName": repository.name, "uploadId": upload_id}


def batch_check_layer_availability(context: Any, request: dict[str, Any]) -> dict[str, Any]:
    repository = _repository(context, request)
    stored = _blobs(repository)
    layers, failures = [], []
    for digest in request.get("layerDigests") or []:
        if not _DIGEST.fullmatch(digest):
            failures.append(
                {
                    "layerDigest": digest,
                    "failureCode": "InvalidLayerDigest",
                    "failureReason": f"Invalid layer digest '{digest}'",
                }
            )
        elif digest in stored:
            layers.append(
                {
                    "layerDigest": digest,
                    "layerAvailability": "AVAILABLE",
                    "layerSize": len(stored[digest]),
                    "mediaType": LAYER_MEDIA_TYPE,
                }
            )
        else:
            failures.append(
                {
                    "layerDigest": digest,
                    "failureCode": "MissingLayerDigest",
                    "failureReason": f"Layer digest '{digest}' could not be found",
                }
            )
    return {"layers": layers, "failures": failures}


def initiate_layer_upload(context: Any, request: dict[str, Any]) -> dict[str, Any]:
    repository = _repository(context, request)
    upload_id = str(uuid.uuid4())
    with _lock:
        _uploads[_key(context, repository, upload_id)] = bytearray()
    return {"uploadId": upload_id, "partSize": PART_SIZE}


def _upload(context: Any, repository: Any, upload_id: str) -> bytearray:
    found = _uploads.get(_key(context, repository, upload_id))
    if found is None:
        raise _error(
            "UploadNotFoundException",
            f"Upload with id '{upload_id}' is not found in repository '{repository.name}' "
            f"in registry '{repository.registry_id}'",
        )
    return found


def upload_layer_part(context: Any, request: dict[str, Any]) -> dict[str, Any]:
    repository = _repository(context, request)
    upload_id = request["uploadId"]
    with _lock:
        data = _upload(context, repository, upload_id)
        # parts arrive in order: one that does not start where the last ended would change the digest
        if int(request["partFirstByte"]) != len(data):
            raise _error(
                "InvalidLayerPartException",
                f"The part first byte {request['partFirstByte']} does not follow the last byte received "
                f"({len(data) - 1}) of upload '{upload_id}'",
            )
        data += bytes(request.get("layerPartBlob") or b"")
        last = len(data) - 1
    return {**_ids(repository, upload_id), "lastByteReceived": last}


def complete_layer_upload(context: Any, request: dict[str, Any]) -> dict[str, Any]:
    repository = _repository(context, request)
    upload_id = request["uploadId"]
    with _lock:
        data = bytes(_upload(context, repository, upload_id))
        digest = "sha256:" + hashlib.sha256(data).hexdigest()  # ECR computes it from the bytes
        wanted = list(request.get("layerDigests") or [])
        if wanted and digest not in wanted:
            raise _error(
                "InvalidLayerException",
                f"The layer digest {wanted[0]} does not match the uploaded content ({digest})",
            )
        if digest in _blobs(repository):
            raise _error(
                "LayerAlreadyExistsException",
                f"The layer {digest} already exists in repository '{repository.name}'",
            )
        _blobs(repository)[digest] = data
        del _uploads[_key(context, repository, upload_id)]
    return {**_ids(repository, upload_id), "layerDigest": digest}


HANDLERS = {
    "BatchCheckLayerAvailability": batch_check_layer_availability,
    "InitiateLayerUpload": initiate_layer_upload,
    "UploadLayerPart": upload_layer_part,
    "CompleteLayerUpload": complete_layer_upload,
}
