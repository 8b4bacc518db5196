"""`docker build` without a daemon: run a BuildPlan into layers, an OCI config and manifest, and store it.

The image holds only the layers the Dockerfile's COPY/ADD produce. The base image is named in the
history, in the manifest's `org.opencontainers.image.base.name` annotation, and nowhere else: it is not
pulled, so its files, ENV and user database are not part of the result. RUN is recorded, not executed.
"""

from __future__ import annotations

import io
import posixpath
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from gitops_harness.emulator.docker_standin import dockerfile as df
from gitops_harness.emulator.docker_standin.dockerignore import IgnoreMatcher
from gitops_harness.emulator.docker_standin.errors import BuildError
from gitops_harness.emulator.docker_standin.image_store import ImageStore, StoredImage
from gitops_harness.emulator.docker_standin.layers import Layer, build_epoch, build_layer
from gitops_harness.emulator.docker_standin.oci import HISTORY_NOTE, image_config, image_manifest, timestamp
from gitops_harness.emulator.docker_standin.progress import PlainProgress, human_bytes
from gitops_harness.emulator.docker_standin.reference import Reference, parse_reference
from gitops_harness.emulator.docker_standin.tree import DIR, FILE, SYMLINK, Entry, Tree, clean


@dataclass
class BuildRequest:
    context: Path
    dockerfile: Path
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    tags: list[Reference] = field(default_factory=list)
    platform: str = "linux/amd64"


@dataclass
class _StageResult:
    tree: Tree
    layers: list[Layer]
    history: list[dict[str, object]]
    base: str | None  # the external base image, if any


def build(request: BuildRequest, store: ImageStore, progress: PlainProgress) -> StoredImage:
    if not request.context.is_dir():
        raise BuildError(f"unable to prepare context: path {str(request.context)!r} not found")
    with progress.vertex(f"[internal] load build definition from {request.dockerfile.name}") as v:
        try:
            text = request.dockerfile.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BuildError(
                f"failed to read dockerfile: open {request.dockerfile.name}: no such file or directory"
            ) from None
        v.emit(f"transferring dockerfile: {human_bytes(len(text.encode()))} done")
        plan = df.evaluate(
            df.parse(text), request.build_args, request.target, request.labels, request.platform
        )
    stages = plan.required_stages()
    for base in sorted({s.base for s in stages if s.base_stage is None and s.base != "scratch"}):
        with progress.vertex(f"[internal] load metadata for {_qualified(base)}") as v:
            v.emit(
                "not pulled: the gitops-harness stand-in records the base image and adds no layers from it"
            )
    with progress.vertex("[internal] load .dockerignore") as v:
        ignore = IgnoreMatcher.from_context(request.context)
        v.emit(f"transferring context: {human_bytes(_size(request.context / '.dockerignore'))} done")
    context_tree: Tree | None = None
    if any(st.copy and st.copy.from_ref is None for s in stages for st in s.steps):
        with progress.vertex("[internal] load build context") as v:
            context_tree = Tree.from_directory(request.context, ignore)
            total = sum(_size(e.source) for e in context_tree.entries.values() if e.source)
            v.emit(f"transferring context: {human_bytes(total)} done")

    epoch = build_epoch()
    multi = len(plan.stages) > 1
    results: dict[int, _StageResult] = {}
    for stage in stages:
        results[stage.index] = _build_stage(plan, stage, results, context_tree, store, progress, epoch, multi)

    final = results[plan.target.index]
    with progress.vertex("exporting to image") as v:
        v.emit("exporting layers done")
        config = image_config(
            plan.target.config.to_oci(),
            [la.diff_id for la in final.layers],
            final.history,
            epoch,
            request.platform,
        )
        manifest = image_manifest(config, final.layers, _qualified(final.base) if final.base else None)
        store.put_blob(config.data)
        store.put_blob(manifest.data)
        v.emit(f"writing image {config.digest} done")
        image = store.add_image(manifest, request.tags)
        for ref in request.tags:
            v.emit(f"naming to {ref.qualified} done")
    if plan.unused_build_args:
        progress.warn(f"[Warning] One or more build-args {plan.unused_build_args} were not consumed")
    return image


def _build_stage(
    plan: df.BuildPlan,
    stage: df.Stage,
    results: dict[int, _StageResult],
    context_tree: Tree | None,
    store: ImageStore,
    progress: PlainProgress,
    epoch: int,
    multi: bool,
) -> _StageResult:
    if stage.base_stage is not None:
        parent = results[stage.base_stage]
        result = _StageResult(parent.tree.copy(), list(parent.layers), list(parent.history), parent.base)
    else:
        base = None if stage.base == "scratch" else stage.base
        result = _StageResult(Tree(), [], [], base)
    numbered = [st for st in stage.steps if st.keyword in df.PROGRESS_INSTRUCTIONS]
    prefix = f"{stage.label} " if multi else ""
    workdir = "/"
    for step in stage.steps:
        if step.keyword == "ARG":  # BuildKit keeps ARG out of the image history
            continue
        entry: dict[str, object] = {
            "created": timestamp(epoch),
            "created_by": step.created_by,
            "comment": df.HISTORY_COMMENT,
        }
        if step.keyword == "FROM" and stage.base_stage is None:
            entry["comment"] = f"{df.HISTORY_COMMENT}; {HISTORY_NOTE['FROM']}"
        if step.keyword == "RUN":
            entry["comment"] = f"{df.HISTORY_COMMENT}; {HISTORY_NOTE['RUN']}"
        if step.keyword not in df.PROGRESS_INSTRUCTIONS:
            entry["empty_layer"] = True
            result.history.append(entry)
            continue
        position = numbered.index(step) + 1
        shown = (
            f"FROM {_qualified(stage.base)}"
            if step.keyword == "FROM" and stage.base_stage is None
            else step.display
        )
        with progress.vertex(f"[{prefix}{position}/{len(numbered)}] {shown}") as v:
            if step.keyword == "RUN":
                v.emit(
                    "not executed: the gitops-harness docker stand-in records RUN in the image history only"
                )
            if step.keyword == "WORKDIR":
                workdir = step.created_by.split(" ", 1)[1]
                _ensure_dirs(result.tree, clean(workdir))
            if step.copy is None:
                if step.keyword != "FROM" or stage.base_stage is None:
                    entry["empty_layer"] = True
                    result.history.append(entry)
                continue
            source = _source_tree(plan, stage, step.copy, results, context_tree)
            entries = _copy_entries(step.copy, source, result.tree, step.line)
            layer = build_layer(entries, epoch)
            store.put_blob(layer.blob)
            result.tree.apply(entries)
            result.layers.append(layer)
            result.history.append(entry)
            v.emit(f"layer {layer.digest[:19]} {human_bytes(layer.size)} done")
    return result


def _source_tree(
    plan: df.BuildPlan,
    stage: df.Stage,
    spec: df.CopySpec,
    results: dict[int, _StageResult],
    context: Tree | None,
) -> Tree:
    if spec.from_ref is None:
        assert context is not None
        return context
    source = plan.find_stage(spec.from_ref, before=stage.index)
    if source is None:
        raise BuildError(
            f"failed to resolve source metadata for {_qualified(spec.from_ref)}: the gitops-harness stand-in "
            "does not pull images; COPY --from works with earlier build stages only"
        )
    return results[source.index].tree


def _copy_entries(spec: df.CopySpec, source: Tree, stage_tree: Tree, line: int) -> list[Entry]:
    matches: list[str] = []
    for src in spec.sources:
        if re.match(r"^[a-z][a-z0-9+.-]*://", src) or src.startswith("git@"):
            raise BuildError(
                f"ADD {src}: the gitops-harness stand-in has no network; add the file to the build context"
            )
        found = source.glob(src)
        if not found:
            note = (
                " (files that RUN would create do not exist: the stand-in does not execute RUN)"
                if spec.from_ref
                else ""
            )
            raise BuildError(
                f'failed to compute cache key: failed to calculate checksum of ref: "/{clean(src)}": not found{note}'
            )
        matches.extend(found)
    dest = clean(spec.dest)
    existing = stage_tree.get(dest)
    into_dir = spec.dest_is_dir or (existing is not None and existing.kind == DIR)
    if len(matches) > 1 and not into_dir:
        raise BuildError(
            f"dockerfile line {line}: When using {spec.keyword} with more than one source file, the destination must be a directory and end with a /"
        )
    owner = _owner(spec.chown, stage_tree)
    out: dict[str, Entry] = {}

    def put(entry: Entry, path: str) -> None:
        mode = spec.chmod if spec.chmod is not None and entry.kind != SYMLINK else entry.mode
        out[path] = Entry(
            path, entry.kind, mode, *owner, linkname=entry.linkname, source=entry.source, data=entry.data
        )

    for match in matches:
        entry = source.get(match)
        assert entry is not None
        if entry.kind == DIR:
            if dest:
                put(Entry(dest, DIR, entry.mode), dest)
            base = clean(match)
            for child in source.below(base):
                rel = child.path[len(base) + 1 :] if base else child.path
                put(child, posixpath.join(dest, rel) if dest else rel)
        elif spec.keyword == "ADD" and entry.kind == FILE and _is_archive(entry):
            for member in _archive_entries(entry):
                put(member, posixpath.join(dest, member.path) if dest else member.path)
        else:
            target = posixpath.join(dest, posixpath.basename(match)) if into_dir else dest
            put(entry, target)
    # Parent directories are part of the layer, as in BuildKit's diff; new ones are root-owned 0755.
    for path in list(out):
        parent = posixpath.dirname(path)
        while parent and parent not in out:
            out[parent] = stage_tree.get(parent) or Entry(parent, DIR, 0o755)
            parent = posixpath.dirname(parent)
    return list(out.values())


def _owner(chown: str | None, stage_tree: Tree) -> tuple[int, int, str, str]:
    """(uid, gid, uname, gname) for --chown. Names resolve through the stage's own /etc/passwd and
    /etc/group; the base image's are not available (not pulled), so unresolved names are kept as tar
    user/group names with ids 0."""
    if not chown:
        return 0, 0, "", ""
    user, _, group = chown.partition(":")
    group = group or user
    uid, uname = _lookup(user, stage_tree, "etc/passwd")
    gid, gname = _lookup(group, stage_tree, "etc/group")
    return uid, gid, uname, gname


def _lookup(name: str, stage_tree: Tree, db: str) -> tuple[int, str]:
    if name.isdigit():
        return int(name), ""
    entry = stage_tree.get(db)
    if entry is not None and entry.kind == FILE:
        for row in entry.read().decode("utf-8", "replace").splitlines():
            fields = row.split(":")
            if len(fields) > 2 and fields[0] == name and fields[2].isdigit():
                return int(fields[2]), name
    return 0, name


def _ensure_dirs(tree: Tree, path: str) -> None:
    parts = [p for p in path.split("/") if p]
    for i in range(1, len(parts) + 1):
        sub = "/".join(parts[:i])
        if tree.get(sub) is None:
            tree.apply([Entry(sub, DIR, 0o755)])


def _is_archive(entry: Entry) -> bool:
    try:
        with tarfile.open(fileobj=io.BytesIO(entry.read()), mode="r:*"):
            return True
    except tarfile.TarError:
        return False


def _archive_entries(entry: Entry) -> list[Entry]:
    """ADD extracts local tar archives (plain, gzip, bzip2, xz) into the destination."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(entry.read()), mode="r:*") as tar:
        for member in tar.getmembers():
            path = clean(member.name)
            if not path:
                continue
            if member.isdir():
                out.append(Entry(path, DIR, member.mode & 0o7777))
            elif member.issym():
                out.append(Entry(path, SYMLINK, 0o777, linkname=member.linkname))
            elif member.isfile():
                handle = tar.extractfile(member)
                out.append(Entry(path, FILE, member.mode & 0o7777, data=handle.read() if handle else b""))
    return out


def _qualified(name: str) -> str:
    try:
        return parse_reference(name).qualified
    except Exception:
        return name


def _size(path: Path | None) -> int:
    try:
        return path.stat().st_size if path else 0
    except OSError:
        return 0
