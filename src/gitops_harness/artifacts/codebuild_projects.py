"""The CodeBuild projects of a pipeline template, and which buildspec each one runs.

A project's `Source.BuildSpec` decides the buildspec: empty means `buildspec.yml` at the source root, a
value without line breaks is a path inside the source (`buildspec.yaml`, `iac/build/buildspec-container.yaml`),
anything else is the buildspec itself (inline YAML). A pipeline Build action names its project by
`Configuration.ProjectName` (a name, `!Ref Project`, or a `!Sub` that renders the project's own Name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitops_harness.artifacts.pipeline_crosscheck import PipelineAction, pipeline_actions
from gitops_harness.cfn_template import line_of, properties, resources_of_type

DEFAULT_BUILDSPEC = "buildspec.yml"


@dataclass(frozen=True)
class BuildProject:
    logical_id: str
    name: Any  # the Name property as written (a string or an intrinsic)
    buildspec_path: str | None  # a path inside the source, or None when the buildspec is inline
    inline_buildspec: str | None
    inline_line: int | None  # template line of the BuildSpec value (inline buildspecs)
    image: str | None
    privileged: bool
    variables: dict[str, Any] = field(default_factory=dict)  # PLAINTEXT environment variables as written


def _is_inline(value: str) -> bool:
    return "\n" in value or value.lstrip().startswith(("version:", "{"))


def build_projects(template: dict) -> list[BuildProject]:
    projects: list[BuildProject] = []
    for logical_id, resource in resources_of_type(template, "AWS::CodeBuild::Project"):
        props = properties(resource)
        source = props.get("Source") if isinstance(props.get("Source"), dict) else {}
        spec = source.get("BuildSpec")
        path, inline = (DEFAULT_BUILDSPEC, None)
        if isinstance(spec, str) and spec.strip():
            path, inline = (None, spec) if _is_inline(spec) else (spec.strip().removeprefix("./"), None)
        elif spec is not None and not isinstance(spec, str):
            path = None  # an intrinsic (!Sub, !If): cannot be followed statically
        env = props.get("Environment") if isinstance(props.get("Environment"), dict) else {}
        variables: dict[str, Any] = {}
        for item in env.get("EnvironmentVariables") or []:
            plain = isinstance(item, dict) and item.get("Type", "PLAINTEXT") == "PLAINTEXT"
            if plain and isinstance(item.get("Name"), str):
                variables[item["Name"]] = item.get("Value")
        image = env.get("Image")
        projects.append(
            BuildProject(
                logical_id=logical_id,
                name=props.get("Name"),
                buildspec_path=path,
                inline_buildspec=inline,
                inline_line=line_of(source),
                image=image if isinstance(image, str) else None,
                privileged=env.get("PrivilegedMode") in (True, "true", "True"),
                variables=variables,
            )
        )
    return projects


def _same_name(action_value: Any, project: BuildProject) -> bool:
    if isinstance(action_value, dict) and len(action_value) == 1:
        ((fn, arg),) = action_value.items()
        if fn == "Ref":
            return arg == project.logical_id
        if fn == "Fn::Sub":
            return arg == project.name or (
                isinstance(project.name, dict) and project.name.get("Fn::Sub") == arg
            )
    return action_value == project.name


def project_of(action: PipelineAction, projects: list[BuildProject]) -> BuildProject | None:
    wanted = action.config.get("ProjectName")
    found = [p for p in projects if _same_name(wanted, p)]
    if not found and len(projects) == 1 and not isinstance(wanted, str):
        return projects[0]  # one project and an indirect reference: it is that one
    return found[0] if found else None


def build_actions_with_projects(template: dict) -> list[tuple[PipelineAction, BuildProject | None]]:
    projects = build_projects(template)
    return [(a, project_of(a, projects)) for a in pipeline_actions(template) if a.provider == "CodeBuild"]


def buildspec_names(template: dict | None) -> list[str]:
    """Paths of the buildspecs the template's projects read from their source (buildspec.yml by default)."""
    if template is None:
        return [DEFAULT_BUILDSPEC]
    names = [p.buildspec_path for p in build_projects(template) if p.buildspec_path]
    return list(dict.fromkeys(names)) or [DEFAULT_BUILDSPEC]
