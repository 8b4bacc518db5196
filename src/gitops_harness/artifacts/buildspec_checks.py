"""Which buildspec each build runs, and the buildspec rules on it (the wiring between validate.py and
buildspec_rules.py).

Without a template the directory's buildspec.yml is checked, and it must export imageDetail.json, the
taskdef and the AppSpec file when the directory is clearly a CodeDeployToECS source (taskdef and appspec
present). With a template each
CodeBuild action's project decides its buildspec (Source.BuildSpec: a path in the source, or inline).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gitops_harness.artifacts.buildspec_rules import BuildContext, check_buildspec
from gitops_harness.artifacts.codebuild_projects import (
    DEFAULT_BUILDSPEC,
    BuildProject,
    build_actions_with_projects,
    buildspec_names,
)
from gitops_harness.artifacts.documents import Document, parse_yaml
from gitops_harness.artifacts.pipeline_crosscheck import DeployAction, PipelineAction
from gitops_harness.errors import InputError
from gitops_harness.findings import Finding, Severity


def safe_relative(name: str) -> bool:
    """A path inside the directory (template-provided names must not reach outside it)."""
    return bool(name) and not name.startswith("/") and ".." not in posixpath.normpath(name).split("/")


def source_buildspec_names(template: dict | None) -> list[str]:
    return [n for n in buildspec_names(template) if safe_relative(n)]


@dataclass
class BuildspecChecks:
    """The buildspec documents chosen per build action, and the findings on them."""

    per_action: dict[str, Document]  # build action name -> the buildspec it runs
    findings: list[Finding]


def check_buildspecs(
    documents: Mapping[str, Document],
    template: dict | None,
    deploys: list[DeployAction],
    *,
    template_name: str,
    deploy_files: tuple[str, ...],
    build_output: bool,
    source_has: Callable[[str], bool],
    read_source: Callable[[str], str | None],
    texts: Mapping[str, str],
    display: Callable[[str], str],
) -> BuildspecChecks:
    if build_output:
        return BuildspecChecks({}, [])
    if template is None:
        doc = documents.get(DEFAULT_BUILDSPEC)
        if doc is None:
            return BuildspecChecks({}, [])
        ctx = BuildContext(
            deploys_ecs=bool(deploy_files),
            required_exports=deploy_files,
            source_has=source_has,
            read_source=read_source,
            text=texts.get(DEFAULT_BUILDSPEC),
        )
        return BuildspecChecks({}, check_buildspec(doc, ctx))

    findings: list[Finding] = []
    per_action: dict[str, Document] = {}
    for action, project in build_actions_with_projects(template):
        read = {a for d in deploys if action.runs_before(d.action) for _, a in d.files_read()}
        if not read & set(action.outputs):
            continue  # a build the deploy action reads nothing from (tests, scans)
        doc, text = _buildspec_of(project, documents, texts, template_name, findings, action, display)
        if doc is None:
            continue
        per_action[action.name] = doc
        image_reader = any(
            d.config.get("Image1ArtifactName") in action.outputs
            for d in deploys
            if action.runs_before(d.action)
        )
        ctx = BuildContext(
            deploys_ecs=image_reader,
            image=project.image if project else None,
            variables={k: v for k, v in (project.variables if project else {}).items() if isinstance(v, str)},
            source_has=source_has,
            read_source=read_source,
            text=text,
        )
        findings.extend(check_buildspec(doc, ctx))
    return BuildspecChecks(per_action, findings)


def _buildspec_of(
    project: BuildProject | None,
    documents: Mapping[str, Document],
    texts: Mapping[str, str],
    template_name: str,
    findings: list[Finding],
    action: PipelineAction,
    display: Callable[[str], str],
) -> tuple[Document | None, str | None]:
    if project is not None and project.inline_buildspec is not None:
        name = f"{template_name} ({project.logical_id} Source.BuildSpec)"
        try:
            return parse_yaml(name, project.inline_buildspec), project.inline_buildspec
        except InputError as exc:
            findings.append(Finding(name, "(inline)", "BS011", Severity.ERROR, str(exc).split(": ", 1)[-1]))
            return None, None
    path = project.buildspec_path if project is not None else DEFAULT_BUILDSPEC
    if path is None or not safe_relative(path):
        return None, None
    if path in documents:
        return documents[path], texts.get(path)
    line = f"line {action.line}" if action.line else action.name
    others = [n for n in documents if n.endswith((".yml", ".yaml")) and "buildspec" in n]
    findings.append(
        Finding(
            template_name,
            line,
            "BS000",
            Severity.ERROR,
            f"action '{action.name}': the project runs the buildspec {path} "
            f"({'Source.BuildSpec' if project and path != DEFAULT_BUILDSPEC else 'the default'}) but "
            f"{display(path)} does not exist"
            + (f"; the directory has {', '.join(others)}: set Source.BuildSpec or rename" if others else ""),
        )
    )
    return None, None
