"""`docker push` to ECR through the ECR API: blobs with InitiateLayerUpload / UploadLayerPart /
CompleteLayerUpload (skipping what BatchCheckLayerAvailability reports present), then PutImage with the
manifest's exact bytes, its media type and its digest, so the registry's imageDigest is sha256(manifest)."""

from __future__ import annotations

from typing import TextIO

import botocore.exceptions

from gitops_harness.emulator.docker_standin import ecr
from gitops_harness.emulator.docker_standin.errors import DockerError
from gitops_harness.emulator.docker_standin.image_store import ImageStore, StoredImage
from gitops_harness.emulator.docker_standin.reference import DEFAULT_TAG, EcrRegistry, parse_reference
from gitops_harness.emulator.docker_standin.registry_login import logged_in

FALLBACK_PART_SIZE = 10 * 1024 * 1024


def push(store: ImageStore, name: str, out: TextIO) -> str:
    ref = parse_reference(name)
    if ref.digest:
        raise DockerError(f"invalid reference format: cannot push a digest reference: {name}")
    image = store.resolve(ref.tagged)
    if image is None:
        raise DockerError(f"An image does not exist locally with the tag: {ref.repository}")
    registry = ecr.registry_for(ref.host)
    if not logged_in(store, registry.host):
        raise DockerError("no basic auth credentials")
    client = ecr.client(registry)
    tag = ref.tag or DEFAULT_TAG
    out.write(f"The push refers to repository [{ref.repository}]\n")
    out.flush()
    try:
        _upload_blobs(client, registry, ref.path, store, image, out)
        digest = _put_manifest(client, registry, ref.path, tag, image)
    except botocore.exceptions.ClientError as exc:
        raise _as_docker_error(exc, ref.path, tag) from None
    out.write(f"{tag}: digest: {digest} size: {len(image.manifest)}\n")
    store.add_repo_digest(image, ref.repository, digest)
    return digest


def _upload_blobs(
    client, registry: EcrRegistry, repo: str, store: ImageStore, image: StoredImage, out: TextIO
) -> None:
    manifest = image.manifest_json
    layers = [d["digest"] for d in manifest["layers"]]
    diff_ids = image.config_json["rootfs"]["diff_ids"]
    wanted = [manifest["config"]["digest"], *layers]
    answer = ecr.call(
        client.batch_check_layer_availability,
        registryId=registry.account,
        repositoryName=repo,
        layerDigests=wanted,
    )
    present = {
        la["layerDigest"] for la in answer.get("layers", []) if la.get("layerAvailability") == "AVAILABLE"
    }
    shown = dict(zip(layers, diff_ids, strict=True))
    # docker lists layers top-down and names them by the short form of their diff ID.
    for digest in [*reversed(layers), manifest["config"]["digest"]]:
        short = shown.get(digest, "").removeprefix("sha256:")[:12]
        if digest in present:
            if short:
                out.write(f"{short}: Layer already exists\n")
            continue
        _upload(client, registry, repo, store.get_blob(digest), digest)
        if short:
            out.write(f"{short}: Pushed\n")


def _upload(client, registry: EcrRegistry, repo: str, data: bytes, digest: str) -> None:
    ids = {"registryId": registry.account, "repositoryName": repo}
    started = ecr.call(client.initiate_layer_upload, **ids)
    upload_id = started["uploadId"]
    part_size = int(started.get("partSize") or FALLBACK_PART_SIZE)
    for first in range(0, len(data), part_size):
        chunk = data[first : first + part_size]
        ecr.call(
            client.upload_layer_part,
            **ids,
            uploadId=upload_id,
            partFirstByte=first,
            partLastByte=first + len(chunk) - 1,
            layerPartBlob=chunk,
        )
    done = ecr.call(client.complete_layer_upload, **ids, uploadId=upload_id, layerDigests=[digest])
    if done.get("layerDigest") != digest:
        raise DockerError(
            f"digest invalid: the registry computed {done.get('layerDigest')} for blob {digest}"
        )


def _put_manifest(client, registry: EcrRegistry, repo: str, tag: str, image: StoredImage) -> str:
    manifest = image.manifest.decode("ascii")  # canonical_json is ASCII: the JSON transport keeps every byte
    try:
        ecr.call(
            client.put_image,
            registryId=registry.account,
            repositoryName=repo,
            imageTag=tag,
            imageManifest=manifest,
            imageManifestMediaType=image.manifest_json["mediaType"],
            imageDigest=image.manifest_digest,
        )
    except botocore.exceptions.ClientError as exc:
        if ecr.error_code(exc) != "ImageAlreadyExistsException":
            raise
        # ECR refuses PutImage for a tag that already names this very manifest; docker push treats that
        # as done. The same code for a different image means the tag is taken in an immutable repository.
        existing = ecr.call(
            client.describe_images,
            registryId=registry.account,
            repositoryName=repo,
            imageIds=[{"imageTag": tag}],
        )
        if any(d["imageDigest"] == image.manifest_digest for d in existing.get("imageDetails", [])):
            return image.manifest_digest
        raise _immutable(repo, tag) from None
    return image.manifest_digest


def _immutable(repo: str, tag: str) -> DockerError:
    return DockerError(
        f"tag invalid: The image tag '{tag}' already exists in the '{repo}' repository and cannot be "
        "overwritten because the repository is immutable."
    )


def _as_docker_error(exc: botocore.exceptions.ClientError, repo: str, tag: str) -> DockerError:
    code, message = ecr.error_code(exc), ecr.error_message(exc)
    if code == "RepositoryNotFoundException":
        return DockerError(f"name unknown: {message}")
    if code == "ImageTagAlreadyExistsException":
        return _immutable(repo, tag)
    if code in ("AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException"):
        return DockerError(f"denied: {message}")
    if code in ("ImageDigestDoesNotMatchException", "LayerDigestException"):
        return DockerError(f"digest invalid: {message}")
    return DockerError(f"{code or 'error'}: {message}")
