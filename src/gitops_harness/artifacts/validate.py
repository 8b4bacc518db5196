"""Validate one set of deployment artifacts: a directory, a downloaded build artifact, or loaded documents.

Which files must exist: taskdef.json and the AppSpec file always. imageDetail.json is written by the
build, so a source directory (one with buildspec.yml) may lack it; a build output (no buildspec.yml, or
build_output=True) must have it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gitops_harness.artifacts.appspec import check_appspec
from gitops_harness.artifacts.buildspec_checks import check_buildspecs, safe_relative, source_buildspec_names
from gitops_harness.artifacts.buildspec_rules import fill_placeholders, filled_placeholders
from gitops_harness.artifacts.documents import Document, parse_json, parse_json_or_yaml, parse_yaml
from gitops_harness.artifacts.image_detail import check_image_detail
from gitops_harness.artifacts.pipeline_crosscheck import IMAGE_DETAIL, CrossCheck, deploy_actions
from gitops_harness.artifacts.taskdef import MAX_CONTAINERS, check_taskdef
from gitops_harness.cfn_template import load_template
from gitops_harness.errors import InputError
from gitops_harness.findings import Finding, Severity

TASKDEF = "taskdef.json"
APPSPEC_NAMES = ("appspec.yaml", "appspec.yml")
BUILDSPEC = "buildspec.yml"
MISSING = "(missing)"
MAX_ARTIFACT_BYTES = 3 * 1024 * 1024  # CodeDeployToECS input artifacts are limited to 3 MB


MAX_SOURCE_BYTES = 256 * 1024  # scripts a buildspec runs are read this far


def _parser_for(name: str) -> Callable[[str, bytes | str], Document]:
    if name.endswith(".json") and "appspec" not in name.rsplit("/", 1)[-1]:
        return parse_json
    if name == BUILDSPEC or "buildspec" in name.rsplit("/", 1)[-1]:
        return parse_yaml
    return parse_json_or_yaml


def relevant_names(template: dict | None) -> list[str]:
    """Artifact-relative paths the validator reads: defaults plus whatever the deploy actions name."""
    names = [TASKDEF, *APPSPEC_NAMES, IMAGE_DETAIL, BUILDSPEC]
    for deploy in deploy_actions(template) if template is not None else []:
        names.extend(p for p in (deploy.taskdef_path, deploy.appspec_path) if p not in names)
    names.extend(n for n in source_buildspec_names(template) if n not in names)
    return names


def validate_directory(directory: str | Path, template: str | Path | None = None) -> list[Finding]:
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{directory}: not a directory; pass the directory holding taskdef.json and appspec")
    loaded = load_template(template) if template is not None else None
    files: dict[str, bytes] = {}
    for name in relevant_names(loaded):
        content = read_artifact(directory, name, template)
        if content is not None:
            files[name] = content
    return validate_files(
        files,
        loaded,
        template_name=str(template),
        display=lambda name: str(directory / name),
        source_has=lambda name: safe_relative(name) and (directory / name).is_file(),
        read_source=lambda name: _read_text(directory, name),
    )


def _read_text(directory: Path, name: str) -> str | None:
    """A script the buildspec runs, if it is a readable text file inside the directory."""
    if not safe_relative(name):
        return None
    try:
        with (directory / name).open("rb") as handle:
            raw = handle.read(MAX_SOURCE_BYTES)
        return raw.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def read_artifact(directory: Path, name: str, template: str | Path | None = None) -> bytes | None:
    """The bytes of one artifact file, None when it does not exist. Refuses (InputError) a name
    that leads outside the directory, a directory where a file belongs and a file over 3 MB."""
    path = directory / name
    inside = not Path(name).is_absolute() and ".." not in Path(name).parts
    try:
        inside = inside and path.resolve().is_relative_to(directory.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        inside = False
    if not inside:
        source = f"{template}: the deploy action's path" if template else "path"
        raise InputError(
            f"{source} {name!r} leads outside {directory}; name a file inside the input artifact"
        )
    if path.is_dir():
        raise InputError(f"{path}: is a directory; {name} must be a file")
    if not path.is_file():
        return None
    try:
        size = path.stat().st_size
        if size > MAX_ARTIFACT_BYTES:
            raise InputError(
                f"{path}: {size:,} bytes; CodeDeployToECS input artifacts are limited to 3 MB "
                f"({MAX_ARTIFACT_BYTES:,} bytes)"
            )
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None


def validate_files(
    files: Mapping[str, bytes | str],
    template: dict | None = None,
    *,
    template_name: str = "template",
    build_output: bool | None = None,
    display: Callable[[str], str] = str,
    source_has: Callable[[str], bool] | None = None,
    read_source: Callable[[str], str | None] | None = None,
) -> list[Finding]:
    """Validate artifact files given as name -> content (e.g. the members of a downloaded artifact zip)."""
    docs = {
        name: _parser_for(name)(display(name), files[name])
        for name in relevant_names(template)
        if name in files
    }
    texts = {name: _text_of(files[name]) for name in docs if "buildspec" in name}
    return validate_documents(
        docs,
        template,
        template_name=template_name,
        build_output=build_output,
        present=set(files),
        display=display,
        source_has=source_has or (lambda name: name in files),
        read_source=read_source or (lambda name: _text_of(files[name]) if name in files else None),
        texts={k: v for k, v in texts.items() if v is not None},
    )


def _text_of(raw: bytes | str) -> str | None:
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def validate_documents(
    docs: Mapping[str, Document | Any],
    template: dict | None = None,
    *,
    template_name: str = "template",
    build_output: bool | None = None,
    present: set[str] | None = None,
    display: Callable[[str], str] = str,
    source_has: Callable[[str], bool] | None = None,
    read_source: Callable[[str], str | None] | None = None,
    texts: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Validate already-loaded documents keyed by artifact path; plain values are accepted too
    (they get JSON-path locations only)."""
    documents = {n: d if isinstance(d, Document) else Document(display(n), d) for n, d in docs.items()}
    present = set(documents) if present is None else present | set(documents)
    if build_output is None:
        # A source directory has the buildspec its project runs (buildspec.yml unless the project says).
        build_output = not any(n in present for n in (BUILDSPEC, *source_buildspec_names(template)))
    actions = deploy_actions(template) if template is not None else []
    if template is not None and not actions:
        raise InputError(
            f"{template_name}: no pipeline action with Provider CodeDeployToECS; "
            "pass the template that defines the deploy stage"
        )

    findings: list[Finding] = []
    for doc in documents.values():
        findings.extend(
            Finding(
                doc.name,
                location,
                "DOC001",
                Severity.ERROR,
                f"key '{path[-1]}' appears more than once; only the last one is read",
            )
            for path, location in doc.duplicate_keys
        )

    taskdef_paths = [d.taskdef_path for d in actions] or [TASKDEF]
    appspec_paths = [d.appspec_path for d in actions] or [n for n in APPSPEC_NAMES if n in documents]
    taskdef_doc = next((documents[p] for p in taskdef_paths if p in documents), None)
    buildspecs = check_buildspecs(
        documents,
        template,
        actions,
        template_name=template_name,
        # A CodeDeployToECS source (taskdef and appspec here): the build must export them and imageDetail.json.
        deploy_files=(IMAGE_DETAIL, TASKDEF, *[p for p in appspec_paths if p in documents][:1])
        if taskdef_doc is not None and any(p in documents for p in appspec_paths)
        else (),
        build_output=build_output,
        source_has=source_has or (lambda name: name in present),
        read_source=read_source or (lambda _: None),
        texts=texts or {},
        display=display,
    )
    findings.extend(buildspecs.findings)
    taskdef = None
    if taskdef_doc is not None and not build_output:
        # Placeholders the build replaces itself (sed of <EXECUTION_ROLE> into the taskdef) count as filled.
        filled: set[str] = set()
        for buildspec in _buildspec_docs(documents, buildspecs.per_action):
            filled |= filled_placeholders(buildspec, taskdef_doc.name)
        if filled:
            taskdef_doc = Document(
                taskdef_doc.name,
                fill_placeholders(taskdef_doc.data, filled),
                taskdef_doc.lines,
                taskdef_doc.duplicate_keys,
            )
    if taskdef_doc is not None:
        # With a template the placeholder comes from Image1ContainerName (XC001), not the default.
        findings.extend(check_taskdef(taskdef_doc, None if actions else "IMAGE1_NAME"))
        taskdef = _unwrapped(taskdef_doc.data)
        if _too_many_containers(taskdef):  # TD023 said it once; the cross-checks would list them all
            taskdef = None
    elif not actions:
        findings.append(
            Finding(
                display(TASKDEF),
                MISSING,
                "TD000",
                Severity.ERROR,
                "taskdef.json is missing; the deploy action registers the task definition from it",
            )
        )
    for path in dict.fromkeys(appspec_paths):
        if path in documents:
            findings.extend(check_appspec(documents[path], taskdef))
    if not actions and not any(n in documents for n in APPSPEC_NAMES):
        findings.append(
            Finding(
                display(APPSPEC_NAMES[0]),
                MISSING,
                "AS000",
                Severity.ERROR,
                "no appspec.yaml or appspec.yml; CodeDeploy needs the AppSpec file",
            )
        )
    if IMAGE_DETAIL in documents:
        findings.extend(check_image_detail(documents[IMAGE_DETAIL]))
    elif build_output:
        findings.append(
            Finding(
                display(IMAGE_DETAIL),
                MISSING,
                "ID000",
                Severity.ERROR,
                "imageDetail.json is missing from the build output; the build must write "
                '{"ImageURI": ...} after pushing the image (a source directory has buildspec.yml)',
            )
        )
    for deploy in actions:
        findings.extend(
            CrossCheck(
                template,
                template_name,
                deploy,
                documents,
                present,
                # the buildspec each build action's project runs; a build output has none to check
                buildspecs=None if build_output else buildspecs.per_action,
            ).run(taskdef)
        )
    return sorted(set(findings))


def _buildspec_docs(documents: Mapping[str, Document], per_action: Mapping[str, Document]) -> list[Document]:
    found = list(per_action.values())
    if BUILDSPEC in documents:
        found.append(documents[BUILDSPEC])
    return found


def _too_many_containers(taskdef: dict | None) -> bool:
    containers = (taskdef or {}).get("containerDefinitions")
    return isinstance(containers, list) and len(containers) > MAX_CONTAINERS


def _unwrapped(data: Any) -> dict | None:
    if (
        isinstance(data, dict)
        and isinstance(data.get("taskDefinition"), dict)
        and "containerDefinitions" not in data
    ):
        return data["taskDefinition"]
    return data if isinstance(data, dict) else None
