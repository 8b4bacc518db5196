"""Cross-check the artifact files against the pipeline template that deploys them (--template).

The CodeDeployToECS action reads taskdef and appspec files from named input artifacts, fills the image
from imageDetail.json into the container image holding the Image1ContainerName placeholder, and the
deployment group routes traffic to target groups. Each of these joins can silently disagree.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any

from gitops_harness.artifacts.appspec import container_target
from gitops_harness.artifacts.documents import Document
from gitops_harness.artifacts.taskdef import images_with_placeholder
from gitops_harness.cfn_template import line_of, properties, resources_of_type
from gitops_harness.findings import Finding, Severity

DEFAULT_TASKDEF_PATH = "taskdef.json"
DEFAULT_APPSPEC_PATH = "appspec.yaml"  # the action's default: a build that writes appspec.yml must say so
IMAGE_DETAIL = "imageDetail.json"
_PLACEHOLDER = re.compile(r"<[A-Za-z0-9_]+>")


def _text(value: Any) -> str | None:
    """A configuration value that is a plain string; intrinsics (Ref, Sub, ...) cannot be checked here."""
    return str(value) if isinstance(value, str) else None


def _artifact_names(action: dict, key: str) -> list[str]:
    items = action.get(key)
    if not isinstance(items, list):
        return []
    return [str(a["Name"]) for a in items if isinstance(a, dict) and isinstance(a.get("Name"), str)]


@dataclass(frozen=True)
class PipelineAction:
    pipeline: str
    stage: int
    run_order: int
    name: str
    provider: str
    config: dict
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    line: int | None

    def runs_before(self, other: PipelineAction) -> bool:
        return self.pipeline == other.pipeline and (self.stage, self.run_order) < (
            other.stage,
            other.run_order,
        )


@dataclass(frozen=True)
class DeployAction:
    action: PipelineAction

    @property
    def config(self) -> dict:
        return self.action.config

    @property
    def taskdef_path(self) -> str:
        return _text(self.config.get("TaskDefinitionTemplatePath")) or DEFAULT_TASKDEF_PATH

    @property
    def appspec_path(self) -> str:
        return _text(self.config.get("AppSpecTemplatePath")) or DEFAULT_APPSPEC_PATH

    def files_read(self) -> list[tuple[str, str | None]]:
        """(path inside the artifact, artifact name) for each file the action reads."""
        reads = [
            (self.taskdef_path, _text(self.config.get("TaskDefinitionTemplateArtifact"))),
            (self.appspec_path, _text(self.config.get("AppSpecTemplateArtifact"))),
        ]
        if "Image1ArtifactName" in self.config:
            reads.append((IMAGE_DETAIL, _text(self.config.get("Image1ArtifactName"))))
        return reads


def pipeline_actions(template: dict) -> list[PipelineAction]:
    actions: list[PipelineAction] = []
    for logical_id, resource in resources_of_type(template, "AWS::CodePipeline::Pipeline"):
        stages = properties(resource).get("Stages")
        for s, stage in enumerate(stages if isinstance(stages, list) else []):
            stage_actions = stage.get("Actions") if isinstance(stage, dict) else None
            for action in stage_actions if isinstance(stage_actions, list) else []:
                if not isinstance(action, dict):
                    continue
                type_id = action.get("ActionTypeId") if isinstance(action.get("ActionTypeId"), dict) else {}
                run_order = action.get("RunOrder", 1)
                config = action.get("Configuration")
                actions.append(
                    PipelineAction(
                        pipeline=logical_id,
                        stage=s,
                        run_order=run_order if isinstance(run_order, int) else 1,
                        name=str(action.get("Name")),
                        provider=str(type_id.get("Provider")),
                        config=config if isinstance(config, dict) else {},
                        inputs=tuple(_artifact_names(action, "InputArtifacts")),
                        outputs=tuple(_artifact_names(action, "OutputArtifacts")),
                        line=line_of(action),
                    )
                )
    return actions


def deploy_actions(template: dict) -> list[DeployAction]:
    return [DeployAction(a) for a in pipeline_actions(template) if a.provider == "CodeDeployToECS"]


class CrossCheck:
    """Findings for one CodeDeployToECS action against the documents found in the artifact directory."""

    def __init__(
        self,
        template: dict,
        template_name: str,
        deploy: DeployAction,
        docs: dict[str, Document],
        present: set[str],
        buildspecs: dict[str, Document] | None = None,
    ) -> None:
        self.template, self.template_name, self.deploy = template, template_name, deploy
        self.docs, self.present = docs, present
        # build action name -> the buildspec its project runs (buildspec.yml when not given)
        self.buildspecs = buildspecs
        self.findings: list[Finding] = []

    def at_action(self, rule: str, severity: Severity, message: str) -> None:
        where = f"line {self.deploy.action.line}" if self.deploy.action.line else self.deploy.action.name
        self.findings.append(
            Finding(
                self.template_name, where, rule, severity, f"action '{self.deploy.action.name}': {message}"
            )
        )

    def run(self, taskdef: dict | None) -> list[Finding]:
        self._files_present()
        self._image_placeholder(taskdef)
        self._artifact_wiring()
        self._target_group_port()
        self._buildspec_exports()
        return self.findings

    def _files_present(self) -> None:
        appspec, taskdef = self.deploy.appspec_path, self.deploy.taskdef_path
        if appspec not in self.present:
            root, ext = posixpath.splitext(appspec)
            other = root + {".yaml": ".yml", ".yml": ".yaml"}.get(ext, ext)
            hint = (
                f"but the directory has {other}: set AppSpecTemplatePath: {other} (or rename the file)"
                if other != appspec and other in self.present
                else "but the directory has no such file"
            )
            self.at_action(
                "XC002", Severity.ERROR, f"the deploy action reads the AppSpec file {appspec} {hint}"
            )
        if taskdef not in self.present:
            self.at_action(
                "XC003",
                Severity.ERROR,
                f"the deploy action reads the task definition from {taskdef} but the directory has "
                "no such file; fix TaskDefinitionTemplatePath or add the file",
            )

    def _image_placeholder(self, taskdef: dict | None) -> None:
        doc = self.docs.get(self.deploy.taskdef_path)
        if taskdef is None or doc is None:
            return
        placeholder = _text(self.deploy.config.get("Image1ContainerName"))
        if placeholder is not None:
            if not images_with_placeholder(taskdef, placeholder):
                self.findings.append(
                    Finding(
                        doc.name,
                        "containerDefinitions",
                        "XC001",
                        Severity.ERROR,
                        f"Image1ContainerName is {placeholder} but no container image "
                        f"contains <{placeholder}>: the built image would not be deployed; "
                        f'set "image": "<{placeholder}>" on the app container',
                    )
                )
        elif "Image1ContainerName" not in self.deploy.config:
            for i, c in enumerate(taskdef.get("containerDefinitions") or []):
                image = c.get("image") if isinstance(c, dict) else None
                if isinstance(image, str) and _PLACEHOLDER.search(image):
                    self.findings.append(
                        Finding(
                            doc.name,
                            f"containerDefinitions[{i}].image",
                            "XC001",
                            Severity.ERROR,
                            f"image {image!r} has a placeholder but the deploy action sets "
                            "no Image1ContainerName, so it would be registered literally",
                        )
                    )

    def _artifact_wiring(self) -> None:
        config = self.deploy.config
        for key in (
            "ApplicationName",
            "DeploymentGroupName",
            "TaskDefinitionTemplateArtifact",
            "AppSpecTemplateArtifact",
        ):
            if key not in config:
                self.at_action("XC005", Severity.ERROR, f"Configuration.{key} is required by CodeDeployToECS")
        if "Image1ContainerName" in config and "Image1ArtifactName" not in config:
            self.at_action(
                "XC005",
                Severity.ERROR,
                "Image1ContainerName is set without Image1ArtifactName: the action has no imageDetail.json",
            )
        earlier = [a for a in pipeline_actions(self.template) if a.runs_before(self.deploy.action)]
        for key in ("TaskDefinitionTemplateArtifact", "AppSpecTemplateArtifact", "Image1ArtifactName"):
            artifact = _text(config.get(key))
            if artifact is None:
                continue
            if artifact not in self.deploy.action.inputs:
                self.at_action(
                    "XC005",
                    Severity.ERROR,
                    f"{key} is {artifact} but InputArtifacts are {list(self.deploy.action.inputs)}; "
                    f"add {artifact} to InputArtifacts",
                )
            if not any(artifact in a.outputs for a in earlier):
                self.at_action(
                    "XC006",
                    Severity.ERROR,
                    f"{key} is {artifact} but no earlier action outputs an artifact of that name",
                )

    def _target_group_port(self) -> None:
        appspec = self.docs.get(self.deploy.appspec_path)
        if appspec is None:
            return
        _, port = container_target(appspec.data)
        if not isinstance(port, int) or isinstance(port, bool):
            return
        for logical_id, resource in target_groups_of(self.template, self.deploy.config):
            tg_port = _resolve_int(self.template, properties(resource).get("Port"))
            if tg_port is not None and tg_port != port:
                line = line_of(resource)
                # With ip targets ECS registers the appspec's ContainerPort, so this only breaks health
                # checks that use the target group's port; it is still a sign of a stale template.
                self.findings.append(
                    Finding(
                        self.template_name,
                        f"line {line}" if line else logical_id,
                        "XC004",
                        Severity.WARNING,
                        f"target group {logical_id} uses port {tg_port} but the appspec ContainerPort is {port}; "
                        "make them agree",
                    )
                )

    def _buildspec_exports(self) -> None:
        builds = [a for a in pipeline_actions(self.template) if a.provider == "CodeBuild"]
        for path, artifact in self.deploy.files_read():
            producer = next((b for b in builds if artifact in b.outputs), None)
            if producer is None or artifact is None:
                continue
            buildspec = (
                self.buildspecs.get(producer.name)
                if self.buildspecs is not None
                else self.docs.get("buildspec.yml")
            )
            if buildspec is None:
                continue
            section = _artifact_section(buildspec.data, artifact, producer)
            if section is None:
                self.findings.append(
                    Finding(
                        buildspec.name,
                        "artifacts",
                        "XC007",
                        Severity.ERROR,
                        f"the build must export {path} in artifact {artifact} but the "
                        "buildspec has no matching artifacts section",
                    )
                )
            elif not exports(section, path):
                self.findings.append(
                    Finding(
                        buildspec.name,
                        "artifacts.files",
                        "XC007",
                        Severity.ERROR,
                        f"the deploy action reads {path} from artifact {artifact} but "
                        "artifacts.files does not put a file at that path; list it "
                        "(mind discard-paths and base-directory)",
                    )
                )


def _artifact_section(buildspec: Any, artifact: str, producer: PipelineAction) -> dict | None:
    artifacts = buildspec.get("artifacts") if isinstance(buildspec, dict) else None
    if not isinstance(artifacts, dict):
        return None
    if len(producer.outputs) == 1:
        return artifacts
    # Several outputs: CodeBuild maps each output artifact to the secondary artifact of the same name.
    secondary = artifacts.get("secondary-artifacts")
    section = secondary.get(artifact) if isinstance(secondary, dict) else None
    return section if isinstance(section, dict) else None


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def exports(section: dict, path: str) -> bool:
    """Whether a buildspec artifacts section puts a file at `path` inside the artifact.

    Patterns are relative to base-directory, and with discard-paths a file lands at the artifact's root
    under its base name; so a pattern exports `path` when it matches it (or, discarding paths, when its
    last segment matches a root-level `path`).
    """
    files = section.get("files")
    patterns = (
        [files]
        if isinstance(files, str)
        else [f for f in files or [] if isinstance(f, str)]
        if isinstance(files, list)
        else []
    )
    discard = section.get("discard-paths") in (True, "yes")
    for pattern in patterns:
        pattern = pattern.removeprefix("./")
        if discard:
            last = pattern.rsplit("/", 1)[-1]
            if "/" not in path and (last == "**" or _glob_regex(last).match(path)):
                return True
        elif _glob_regex(pattern).match(path):
            return True
    return False


def _resolve_int(template: dict, value: Any) -> int | None:
    if isinstance(value, dict) and set(value) == {"Ref"}:
        param = template.get("Parameters", {}).get(value["Ref"])
        value = param.get("Default") if isinstance(param, dict) else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _referenced_id(value: Any) -> str | None:
    """Logical id behind !GetAtt X.TargetGroupName / !Ref X, None for anything else."""
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref" and isinstance(arg, str):
            return arg
        if fn == "Fn::GetAtt":
            if isinstance(arg, list) and arg and isinstance(arg[0], str):
                return arg[0]
            if isinstance(arg, str):
                return arg.split(".", 1)[0]
    return None


def target_groups_of(template: dict, config: dict) -> list[tuple[str, dict]]:
    """Target groups of the action's deployment group; all target groups when references are indirect."""
    groups = dict(resources_of_type(template, "AWS::ElasticLoadBalancingV2::TargetGroup"))
    deployment_groups = dict(resources_of_type(template, "AWS::CodeDeploy::DeploymentGroup"))
    wanted = config.get("DeploymentGroupName")
    chosen = [
        dg
        for lid, dg in deployment_groups.items()
        if _referenced_id(wanted) == lid
        or (isinstance(wanted, str) and properties(dg).get("DeploymentGroupName") == wanted)
    ]
    referenced: list[str] = []
    for dg in chosen or deployment_groups.values():
        info = properties(dg).get("LoadBalancerInfo")
        pairs = info.get("TargetGroupPairInfoList") if isinstance(info, dict) else None
        for pair in pairs if isinstance(pairs, list) else []:
            tgs = pair.get("TargetGroups") if isinstance(pair, dict) else None
            for tg in tgs if isinstance(tgs, list) else []:
                name = tg.get("Name") if isinstance(tg, dict) else None
                lid = _referenced_id(name)
                if lid is None and isinstance(name, str):
                    lid = next((g for g, r in groups.items() if properties(r).get("Name") == name), None)
                if lid in groups and lid not in referenced:
                    referenced.append(lid)
    return [(lid, groups[lid]) for lid in referenced] if referenced else list(groups.items())
