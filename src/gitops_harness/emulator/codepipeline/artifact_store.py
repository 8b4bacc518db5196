"""Pipeline artifacts: zip objects in the pipeline's S3 artifact bucket, put and read as the acting role.

Keys follow AWS: ``<pipeline name, 20 chars>/<artifact name, 20 chars>/<7 random chars>``. Objects are
encrypted SSE-KMS with the artifact store's EncryptionKey; without one AWS uses the aws/s3 key, which is
why a cross-account pipeline needs a customer-managed key.
"""

from __future__ import annotations

import io
import secrets
import string
import zipfile
from typing import Any

_ALPHABET = string.ascii_letters + string.digits


def artifact_key(pipeline_name: str, artifact_name: str) -> str:
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(7))
    return f"{pipeline_name[:20]}/{artifact_name[:20]}/{suffix}"


def put_artifact(
    s3: Any, store: dict[str, Any], pipeline_name: str, artifact_name: str, body: bytes
) -> dict[str, Any]:
    """Upload `body` and return its ArtifactDetail ({"name", "s3location": {"bucket", "key"}})."""
    bucket = store["location"]
    key = artifact_key(pipeline_name, artifact_name)
    encryption: dict[str, str] = {"ServerSideEncryption": "aws:kms"}
    key_id = (store.get("encryptionKey") or {}).get("id")
    if key_id:
        encryption["SSEKMSKeyId"] = key_id
    s3.put_object(Bucket=bucket, Key=key, Body=body, **encryption)
    return {"name": artifact_name, "s3location": {"bucket": bucket, "key": key}}


def get_artifact(s3: Any, detail: dict[str, Any]) -> bytes:
    location = detail["s3location"]
    return s3.get_object(Bucket=location["bucket"], Key=location["key"])["Body"].read()


def zip_members(body: bytes) -> dict[str, bytes]:
    """The files of an artifact zip, by their path inside it."""
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}


def make_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()
