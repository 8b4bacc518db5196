"""UPLOAD_ARTIFACTS: select a build's output files the way CodeBuild does and package them.

Patterns are relative to the source directory (or to each matching base-directory); `**` matches
any number of directories, `*`, `?` and `[...]` match within one path segment, and a pattern that
names a directory takes everything under it. A pattern that matches nothing is skipped; an artifact
with no files at all fails the phase with CLIENT_ERROR "no matching artifact paths found".
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .buildspec import ArtifactSpec

# Fixed zip timestamps: the same files always make the same archive (and the same digest).
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class ArtifactError(Exception):
    """UPLOAD_ARTIFACTS failed; status_code/message go into the phase context."""

    status_code = "CLIENT_ERROR"

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(f"{self.status_code}: {message}")


@dataclass(frozen=True)
class ArtifactOutput:
    identifier: str | None  # None for the primary artifact
    name: str | None  # the buildspec's `name`, shell-expanded; None when not set
    directory: Path  # the selected files, laid out as they are in the archive
    zip_path: Path
    files: tuple[str, ...]  # archive paths, sorted


def _split(pattern: str) -> list[str]:
    path = pattern.strip()
    while path.startswith("./"):
        path = path[2:]
    return [seg for seg in path.split("/") if seg not in ("", ".")]


def _match(segments: list[str], parts: tuple[str, ...]) -> bool:
    if not segments:
        return not parts
    head, rest = segments[0], segments[1:]
    if head == "**":
        return any(_match(rest, parts[i:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], head) and _match(rest, parts[1:])


def _walk(root: Path) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """(files, directories) under root as path-part tuples, sorted."""
    files: list[tuple[str, ...]] = []
    dirs: list[tuple[str, ...]] = []
    for current, dirnames, filenames in os.walk(root):
        rel = Path(current).relative_to(root).parts
        dirnames.sort()
        dirs.extend(rel + (d,) for d in dirnames)
        files.extend(rel + (f,) for f in sorted(filenames))
    return files, dirs


def select_files(
    root: Path,
    patterns: tuple[str, ...],
    excludes: tuple[str, ...] = (),
    log: Callable[[str], None] = lambda _: None,
) -> list[tuple[str, ...]]:
    """Files under root matched by patterns, minus excludes (same syntax), in a stable order."""
    files, dirs = _walk(root)
    chosen: dict[tuple[str, ...], None] = {}
    for pattern in patterns:
        log(f"Expanding {pattern}")
        segments = _split(pattern)
        if not segments:
            hits = list(files)  # "." or "./" means everything
        else:
            hits = [f for f in files if _match(segments, f)]
            for d in dirs:
                if _match(segments, d):
                    hits.extend(f for f in files if f[: len(d)] == d)
        if not hits:
            log(f"Skipping invalid file path {pattern}")
        chosen.update(dict.fromkeys(hits))
    for pattern in excludes:
        segments = _split(pattern)
        excluded_dirs = [d for d in dirs if _match(segments, d)]
        for f in list(chosen):
            if _match(segments, f) or any(f[: len(d)] == d for d in excluded_dirs):
                del chosen[f]
    return list(chosen)


def collect(
    spec: ArtifactSpec,
    *,
    src_dir: Path,
    out_dir: Path,
    identifier: str | None,
    name: str | None,
    log: Callable[[str], None],
) -> ArtifactOutput:
    """Copy the files `spec` selects from src_dir into out_dir and zip them next to it."""
    bases = [src_dir]
    if spec.base_directory:
        log(f"Expanding base directory path: {spec.base_directory}")
        segments = _split(spec.base_directory)
        if segments:
            _, dirs = _walk(src_dir)
            bases = [src_dir.joinpath(*d) for d in dirs if _match(segments, d)]
        if not bases:
            raise ArtifactError(f"no matching base directory path found for {spec.base_directory}")
    log("Assembling file list")
    selected: dict[str, Path] = {}
    for base in bases:
        for parts in select_files(base, spec.files, spec.exclude_paths, log):
            # With discard-paths a later file of the same name replaces an earlier one, as in CodeBuild.
            selected[parts[-1] if spec.discard_paths else "/".join(parts)] = base.joinpath(*parts)
    if not selected:
        raise ArtifactError("no matching artifact paths found")
    log(f"Found {len(selected)} file(s)")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    zip_path = out_dir.with_suffix(".zip")
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for arc_name in sorted(selected):
            source = selected[arc_name]
            target = out_dir / PurePosixPath(arc_name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            info = zipfile.ZipInfo(arc_name, _ZIP_EPOCH)
            info.external_attr = (source.stat().st_mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, source.read_bytes())
    return ArtifactOutput(identifier, name, out_dir, zip_path, tuple(sorted(selected)))
