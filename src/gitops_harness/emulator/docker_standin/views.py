"""What `docker inspect` and `docker images` show for a stored image, in docker's field names and units."""

from __future__ import annotations

import calendar
import gzip
import time

from gitops_harness.emulator.docker_standin.image_store import ImageStore, StoredImage
from gitops_harness.emulator.docker_standin.progress import human_bytes

# Keys docker always shows in .Config (null when unset), so templates behave as they do against docker.
_CONFIG_KEYS = (
    "User",
    "ExposedPorts",
    "Env",
    "Cmd",
    "Healthcheck",
    "Volumes",
    "WorkingDir",
    "Entrypoint",
    "OnBuild",
    "Labels",
)


def image_size(store: ImageStore, image: StoredImage) -> int:
    """docker's SIZE: the uncompressed size of the layers (the stand-in's layers only; no base image)."""
    return sum(len(gzip.decompress(store.get_blob(la["digest"]))) for la in image.manifest_json["layers"])


def inspect_object(store: ImageStore, image: StoredImage) -> dict[str, object]:
    config = image.config_json
    runtime = {
        key: config.get("config", {}).get(key, "" if key in ("User", "WorkingDir") else None)
        for key in _CONFIG_KEYS
    }
    runtime.update({k: v for k, v in config.get("config", {}).items() if k not in runtime})
    return {
        "Id": image.id,
        "RepoTags": store.names_of(image),
        "RepoDigests": store.repo_digests(image),
        "Parent": "",
        "Comment": "",
        "Created": config.get("created", ""),
        "DockerVersion": "",
        "Author": config.get("author", ""),
        "Config": runtime,
        "Architecture": config.get("architecture", ""),
        "Os": config.get("os", ""),
        "Size": image_size(store, image),
        "RootFS": {"Type": "layers", "Layers": list(config.get("rootfs", {}).get("diff_ids", []))},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        # Not docker's: where the stand-in keeps it, and the manifest digest it pushes.
        "StandIn": {"ManifestDigest": image.manifest_digest, "Layout": str(store.layout)},
    }


def images_table(store: ImageStore, repository: str | None, quiet: bool) -> list[str]:
    rows = []
    seen_ids: set[str] = set()
    for name, image in store.entries():
        repo, tag = ("<none>", "<none>") if name is None else name.rsplit(":", 1)
        if repository and repo != repository:
            continue
        if quiet:
            if image.id not in seen_ids:
                rows.append(image.id.removeprefix("sha256:")[:12])
            seen_ids.add(image.id)
            continue
        created = _ago(image.config_json.get("created", ""))
        rows.append(
            (repo, tag, image.id.removeprefix("sha256:")[:12], created, human_bytes(image_size(store, image)))
        )
    if quiet:
        return rows  # type: ignore[return-value]
    header = ("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(5)]
    return [
        "   ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]
    ]


def _ago(created: str) -> str:
    try:
        then = calendar.timegm(time.strptime(created, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return "N/A"
    seconds = max(0, int(time.time() - then))
    for unit, size in (
        ("years", 365 * 86400),
        ("months", 30 * 86400),
        ("weeks", 7 * 86400),
        ("days", 86400),
        ("hours", 3600),
        ("minutes", 60),
    ):
        if seconds >= 2 * size:
            return f"{seconds // size} {unit} ago"
    return (
        "About a minute ago"
        if seconds >= 60
        else "Less than a second ago"
        if seconds < 1
        else f"{seconds} seconds ago"
    )
