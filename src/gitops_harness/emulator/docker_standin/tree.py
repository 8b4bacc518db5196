"""In-memory file trees: the build context (after .dockerignore) and the filesystem of each build stage.

A stage's filesystem holds only what the Dockerfile's COPY/ADD put there: the base image is not pulled
and RUN is not executed, so their files do not exist.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import stat
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from gitops_harness.emulator.docker_standin.dockerignore import IgnoreMatcher

FILE, DIR, SYMLINK = "file", "dir", "symlink"


@dataclass(frozen=True)
class Entry:
    """One filesystem object. `path` is posix, relative to the root, without a leading slash."""

    path: str
    kind: str
    mode: int  # permission bits only
    uid: int = 0
    gid: int = 0
    uname: str = ""
    gname: str = ""
    linkname: str = ""
    source: Path | None = None  # context file, read when the layer is written
    data: bytes | None = None  # content that has no file on disk (ADD of an archive member)

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        if self.source is None:
            return b""
        return self.source.read_bytes()

    def moved(self, path: str) -> Entry:
        return replace(self, path=path)


def clean(path: str) -> str:
    """Normalise to a root-relative posix path; `..` cannot climb above the root (Docker clamps it too)."""
    normalised = posixpath.normpath("/" + path.replace("\\", "/"))
    return normalised.lstrip("/")


class Tree:
    def __init__(self, entries: dict[str, Entry] | None = None) -> None:
        self.entries: dict[str, Entry] = dict(entries or {})

    def copy(self) -> Tree:
        return Tree(self.entries)

    @classmethod
    def from_directory(cls, root: Path, ignore: IgnoreMatcher) -> Tree:
        tree = cls()
        for dirpath, dirnames, filenames in os.walk(root):
            rel_dir = Path(dirpath).relative_to(root).as_posix()
            rel_dir = "" if rel_dir == "." else rel_dir
            kept_dirs = []
            for name in sorted(dirnames):
                rel = f"{rel_dir}/{name}" if rel_dir else name
                full = Path(dirpath, name)
                if full.is_symlink():
                    filenames.append(name)  # walk treats symlinks to dirs as dirs; Docker copies the link
                    continue
                # Without `!` patterns nothing below an ignored directory can come back: skip the walk.
                if ignore.ignored(rel) and not ignore.has_exclusions:
                    continue
                kept_dirs.append(name)
                tree._add_from_disk(full, rel, ignore)
            dirnames[:] = kept_dirs
            for name in sorted(filenames):
                rel = f"{rel_dir}/{name}" if rel_dir else name
                tree._add_from_disk(Path(dirpath, name), rel, ignore)
        # Directories kept only because a `!` pattern re-included something inside them stay; others go.
        for path in [p for p, e in tree.entries.items() if e.kind == DIR and ignore.ignored(p)]:
            if not any(q.startswith(path + "/") for q in tree.entries):
                del tree.entries[path]
        return tree

    def _add_from_disk(self, full: Path, rel: str, ignore: IgnoreMatcher) -> None:
        st = full.lstat()
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            if not ignore.ignored(rel):
                self.entries[rel] = Entry(rel, SYMLINK, 0o777, linkname=os.readlink(full))
        elif stat.S_ISDIR(st.st_mode):
            self.entries[rel] = Entry(rel, DIR, mode)
        elif stat.S_ISREG(st.st_mode) and not ignore.ignored(rel):
            self.entries[rel] = Entry(rel, FILE, mode, source=full)

    def get(self, path: str) -> Entry | None:
        path = clean(path)
        if path == "":
            return Entry("", DIR, 0o755)
        return self.entries.get(path)

    def glob(self, pattern: str) -> list[str]:
        """Paths matching a COPY source (Go filepath.Match wildcards per component); sorted."""
        pattern = clean(pattern)
        if not any(c in pattern for c in "*?["):
            return [pattern] if self.get(pattern) is not None else []
        depth = pattern.count("/") + 1
        return sorted(p for p in self.entries if p.count("/") + 1 == depth and _match_components(p, pattern))

    def below(self, directory: str) -> Iterator[Entry]:
        prefix = clean(directory)
        prefix = prefix + "/" if prefix else ""
        for path in sorted(self.entries):
            if path.startswith(prefix):
                yield self.entries[path]

    def apply(self, entries: list[Entry]) -> None:
        for entry in entries:
            self.entries[entry.path] = entry


def _match_components(path: str, pattern: str) -> bool:
    return all(
        fnmatch.fnmatchcase(part, pat) for part, pat in zip(path.split("/"), pattern.split("/"), strict=True)
    )
