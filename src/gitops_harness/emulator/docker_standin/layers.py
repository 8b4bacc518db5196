"""Reproducible layer tarballs: the same files give the same bytes, so the same digests.

Entries are sorted by path, every timestamp is the fixed build epoch, owners are uid/gid 0 unless COPY
--chown said otherwise, there are no user/group names unless --chown gave names, and the gzip header
carries mtime 0 and no file name.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass

from gitops_harness.emulator.docker_standin.tree import DIR, FILE, SYMLINK, Entry

LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass(frozen=True)
class Layer:
    blob: bytes  # the gzip-compressed tar, as stored and pushed
    digest: str  # sha256 of blob: what manifests and registries name the layer by
    diff_id: str  # sha256 of the uncompressed tar: what the image config's rootfs lists
    uncompressed_size: int

    @property
    def size(self) -> int:
        return len(self.blob)


def build_epoch() -> int:
    """The timestamp written into layers and history; SOURCE_DATE_EPOCH wins, as in BuildKit."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "")
    return int(value) if value.isdigit() else 0


def build_layer(entries: Iterable[Entry], mtime: int) -> Layer:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(entries, key=lambda e: e.path):
            info = tarfile.TarInfo(entry.path + ("/" if entry.kind == DIR else ""))
            info.mode = entry.mode
            info.uid, info.gid = entry.uid, entry.gid
            info.uname, info.gname = entry.uname, entry.gname
            info.mtime = mtime
            if entry.kind == FILE:
                data = entry.read()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            elif entry.kind == DIR:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif entry.kind == SYMLINK:
                info.type = tarfile.SYMTYPE
                info.linkname = entry.linkname
                tar.addfile(info)
    tar_bytes = raw.getvalue()
    compressed = io.BytesIO()
    # filename="" and mtime=0 keep the gzip header free of anything that changes between builds.
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0, compresslevel=6) as gz:
        gz.write(tar_bytes)
    blob = compressed.getvalue()
    return Layer(
        blob=blob,
        digest="sha256:" + hashlib.sha256(blob).hexdigest(),
        diff_id="sha256:" + hashlib.sha256(tar_bytes).hexdigest(),
        uncompressed_size=len(tar_bytes),
    )


def read_layer(blob: bytes) -> list[tarfile.TarInfo]:
    """The members of a layer blob (used by `docker images` sizes and by tests)."""
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        return tar.getmembers()
