"""The stand-in's local image store: an OCI image layout plus docker's bookkeeping (tags, RepoDigests).

Layout under the state directory ($DOCKER_STANDIN_HOME, else ~/.docker-standin):
  oci/oci-layout, oci/index.json, oci/blobs/sha256/<hex>   the OCI image layout (image-layout.md); each
                                                           index entry names its image with the
                                                           `io.containerd.image.name` annotation
  repodigests.json                                         image id -> ["<repo>@sha256:...", ...]
  config.json                                              registry logins (see registry_login.py)
Writers take an exclusive lock, and files are replaced atomically, so parallel builds can share it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gitops_harness.emulator.docker_standin.oci import MANIFEST_MEDIA_TYPE, Blob
from gitops_harness.emulator.docker_standin.reference import Reference, parse_reference

INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
NAME_ANNOTATION = "io.containerd.image.name"
TAG_ANNOTATION = "org.opencontainers.image.ref.name"


def default_home() -> Path:
    configured = os.environ.get("DOCKER_STANDIN_HOME")
    return Path(configured) if configured else Path.home() / ".docker-standin"


@dataclass(frozen=True)
class StoredImage:
    manifest_digest: str
    manifest: bytes
    config: bytes

    @property
    def id(self) -> str:
        """The image ID docker (classic store) shows: the digest of the config blob."""
        return Blob(self.config, "").digest

    @property
    def manifest_json(self) -> dict:
        return json.loads(self.manifest)

    @property
    def config_json(self) -> dict:
        return json.loads(self.config)


class ImageStore:
    def __init__(self, home: Path | None = None) -> None:
        self.home = home or default_home()
        self.layout = self.home / "oci"
        self.blobs = self.layout / "blobs" / "sha256"

    # -- files --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        self.blobs.mkdir(parents=True, exist_ok=True)
        with open(self.home / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write_atomic(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)

    def _read_json(self, path: Path, default: object) -> object:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return default

    def put_blob(self, data: bytes) -> str:
        blob = Blob(data, "")
        path = self.blobs / blob.digest.split(":", 1)[1]
        if not path.exists():  # content-addressed: an existing file already holds these bytes
            self._write_atomic(path, data)
        return blob.digest

    def get_blob(self, digest: str) -> bytes:
        return (self.blobs / digest.split(":", 1)[1]).read_bytes()

    def _index(self) -> dict:
        index = self._read_json(self.layout / "index.json", None)
        if index is None:
            index = {"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": []}
        return index  # type: ignore[return-value]

    def _save_index(self, index: dict) -> None:
        self._write_atomic(self.layout / "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        self._write_atomic(self.layout / "index.json", json.dumps(index, indent=2).encode())

    # -- images -------------------------------------------------------------------------------

    def _load(self, digest: str) -> StoredImage:
        manifest = self.get_blob(digest)
        config_digest = json.loads(manifest)["config"]["digest"]
        return StoredImage(digest, manifest, self.get_blob(config_digest))

    def add_image(self, manifest: Blob, names: list[Reference]) -> StoredImage:
        """Register a manifest whose blobs are already stored, under the given names (maybe none)."""
        with self.locked():
            index = self._index()
            if not names and not any(m["digest"] == manifest.digest for m in index["manifests"]):
                index["manifests"].append(manifest.descriptor())
            for ref in names:
                self._point(index, ref, manifest.descriptor())
            self._save_index(index)
        return self._load(manifest.digest)

    def tag(self, image: StoredImage, ref: Reference) -> None:
        descriptor = {
            "mediaType": MANIFEST_MEDIA_TYPE,
            "digest": image.manifest_digest,
            "size": len(image.manifest),
        }
        with self.locked():
            index = self._index()
            self._point(index, ref, descriptor)
            self._save_index(index)

    def _point(self, index: dict, ref: Reference, descriptor: dict) -> None:
        name = ref.tagged
        manifests = index["manifests"]
        previous = [m for m in manifests if m.get("annotations", {}).get(NAME_ANNOTATION) == name]
        manifests[:] = [
            m
            for m in manifests
            if m not in previous and not (m["digest"] == descriptor["digest"] and "annotations" not in m)
        ]
        for old in previous:
            # Like docker, an image that loses its last name stays in the store as <none>:<none>.
            if old["digest"] != descriptor["digest"] and not any(
                m["digest"] == old["digest"] for m in manifests
            ):
                manifests.append({k: v for k, v in old.items() if k != "annotations"})
        manifests.append(
            {**descriptor, "annotations": {NAME_ANNOTATION: name, TAG_ANNOTATION: ref.tag or "latest"}}
        )

    def entries(self) -> list[tuple[str | None, StoredImage]]:
        """(name or None, image) for every index entry, newest first."""
        index = self._index()
        return [
            (m.get("annotations", {}).get(NAME_ANNOTATION), self._load(m["digest"]))
            for m in reversed(index["manifests"])
        ]

    def names_of(self, image: StoredImage) -> list[str]:
        return sorted(name for name, img in self.entries() if name and img.id == image.id)

    def resolve(self, text: str) -> StoredImage | None:
        """Find an image by name[:tag], repo@digest, full ID or unambiguous ID prefix, as docker does."""
        entries = self.entries()
        bare = text.removeprefix("sha256:")
        if len(bare) >= 4 and all(c in "0123456789abcdef" for c in bare):
            by_id = {img.id: img for _, img in entries if img.id.removeprefix("sha256:").startswith(bare)}
            if len(by_id) == 1:
                return next(iter(by_id.values()))
        try:
            ref = parse_reference(text)
        except Exception:
            return None
        if ref.digest:
            for image_id, digests in self._repo_digests().items():
                if f"{ref.repository}@{ref.digest}" in digests:
                    return next((img for _, img in entries if img.id == image_id), None)
            return None
        return next((img for name, img in entries if name == ref.tagged), None)

    # -- RepoDigests --------------------------------------------------------------------------

    def _repo_digests(self) -> dict[str, list[str]]:
        return self._read_json(self.home / "repodigests.json", {})  # type: ignore[return-value]

    def repo_digests(self, image: StoredImage) -> list[str]:
        return list(self._repo_digests().get(image.id, []))

    def add_repo_digest(self, image: StoredImage, repository: str, digest: str) -> None:
        with self.locked():
            table = self._repo_digests()
            # One digest per repository per image, like docker: the newest push wins.
            kept = [d for d in table.get(image.id, []) if d.split("@", 1)[0] != repository]
            table[image.id] = sorted([*kept, f"{repository}@{digest}"])
            self._write_atomic(self.home / "repodigests.json", json.dumps(table, indent=2).encode())
